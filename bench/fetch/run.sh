#!/usr/bin/env bash
# Fetch throughput, side by side in one run, each into a fresh destination, on loopback only:
#   1. weightsd: a publisher daemon (127.0.0.2) seeds a release, a second daemon (127.0.0.3)
#      runs `weightsctl fetch NAME --peer ...`; wall time from the request to `complete` (which
#      includes the final per-file SHA-256 pass), CPU time (utime+stime from /proc/PID/stat,
#      before/after) and peak RSS (VmHWM) of the fetching weightsd.
#   2. aria2c (127.0.0.4) fetching the release's v1 companion torrent from the same weightsd
#      seeder. aria2c takes no peer on the command line, so a fake tracker (socat on 127.0.0.5,
#      a static non-compact announce reply naming the seeder) tells it where the seeder is.
#   2b. qBittorrent-nox 4.5.2 (127.0.0.7) fetching the hybrid from the same seeder (peer added
#      through its WebUI API).
#   2c. Transmission 3.00 fetching the v1 companion from a second weightsd seeder of the same
#      files, between two network namespaces (Transmission ignores 127/8 peers), via a fake
#      tracker in the seeder's namespace.
#   2d. curl from nginx (127.0.0.8, sendfile): every file over plain HTTP, one after the other
#      (what a hub download is, without any verification); the copy is checked afterwards.
#   3. The floor: the same bytes read from the page cache, sent through a loopback TCP socket,
#      written to a file and SHA-256-hashed once (socat | tee | openssl dgst), plus its parts
#      measured alone (openssl dgst of the files; socat over loopback into /dev/null).
# Usage: bench/fetch/run.sh [SIZE_MIB]   (default 2048; the release is 2 shards of 2/3 and 1/3)
# Plot: docs/bench/fetch.png (MiB/s per tool) with gnuplot-nox (bench/install-deps).
# Binaries: $WEIGHTSD / $WEIGHTSCTL, default build/daemon/weightsd and build/cli/weightsctl.
# Installs aria2 and socat with apt-get if missing (skips aria2c with a reason if that fails);
# qBittorrent and Transmission come from scripts/install-deps --test (skipped with a reason if
# absent; Transmission also needs the privilege to create network namespaces).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
size_mib=${1:-2048}
command -v openssl >/dev/null || { echo "missing tool: openssl" >&2; exit 1; }

need=()
command -v aria2c >/dev/null || need+=(aria2)
command -v socat >/dev/null || need+=(socat)
if ((${#need[@]})); then
  echo "installing ${need[*]} (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2 || true
fi
command -v socat >/dev/null || { echo "socat is required (apt-get install socat)" >&2; exit 1; }

# Binaries, $work, cleanup, log/now/fsub, bench_daemon, cpu_s/hwm_kib, plot (bench/lib.sh);
# wait_for, nginx, qBittorrent, Transmission, network namespaces (tests/lib/harness.sh, through
# it). Completion is polled every 0.2 s (the wall times below include up to that).
HARNESS_POLL=0.2
source "$src/bench/lib.sh"

# --- the release --------------------------------------------------------------------------
model=bench-org/fetch-llm
rev=benc4f37
shard=$((size_mib * 2 / 3))
log "creating a release of ~${size_mib} MiB (make-weights.sh, shard $shard MiB) in $work"
bash "$src/scripts/lib/make-weights.sh" "$work/w" "$shard" fetch-bench
bytes=$(du -cb "$work"/w/* | tail -n1 | cut -f1)
mib=$(echo "$bytes / 1048576" | bc -l)
nfiles=$(ls "$work/w" | wc -l)
"$W" feed init "$work/pub" >/dev/null
"$W" release add "$work/w" --feed "$work/pub" --model "$model" --revision "$rev" \
  --alias fetch-llm --license apache-2.0 --publish >/dev/null
root=$work/pub/public/metadata/1.root.json
v1torrent=$(find "$work/pub/public/targets" -name "*.$rev.v1.torrent" | head -n1)

# --- daemons ------------------------------------------------------------------------------
start_daemon() { # NAME IP : bench_daemon, subscribed to the feed
  bench_daemon "$1" "$2"
  ctl_of "$1" feed add bench "$work/pub/public" --root "$root" >/dev/null
}
P=("$W" --socket "$work/seeder/ctl.sock")
F=("$W" --socket "$work/fetcher/ctl.sock")
start_daemon seeder 127.0.0.2
log "seeder: seed from the release's own files"
"${P[@]}" seed "$work/w" --feed bench --model "$model" --revision "$rev" >/dev/null
port=$("${P[@]}" --json status | jq -r .listen_port)
seeder_peer=127.0.0.2:$port
start_daemon fetcher 127.0.0.3
fpid=$(pid_of fetcher)

cat "$work"/w/* >/dev/null # warm the page cache for the seeder's reads
cat "$work"/w/* >/dev/null

# 1. weightsd -> weightsd
log "weightsd: fetch --peer $seeder_peer"
c0=$(cpu_s "$fpid")
t0=$(now)
"${F[@]}" fetch fetch-llm --peer "$seeder_peer" >"$work/fetch.out"
t1=$(now)
c1=$(cpu_s "$fpid")
W_wd=$(fsub "$t1" "$t0")
C_wd=$(fsub "$c1" "$c0")
R_wd=$(hwm_kib "$fpid")
rss_split=$(awk '/^Rss(Anon|File):/ { printf "%s %.0f MiB  ", $1, $2 / 1024 }' "/proc/$fpid/status")
view=$("${F[@]}" --json show "$model@$rev" | jq -r .path)
state=$("${F[@]}" --json show "$model@$rev" | jq -r .state)
[[ $state == complete ]] || { echo "weightsd fetch ended in state $state" >&2; exit 1; }
if ! (cd "$work/w" && sha256sum -- *) | (cd "$view" && sha256sum --quiet -c -) >/dev/null; then
  echo "weightsd: fetched files differ from the source" >&2
  exit 1
fi
# Stop the fetcher so it does not take part in the aria2c swarm (it would seed too).
kill -9 "$fpid" 2>/dev/null || true

# 2. aria2c <- weightsd seeder (v1 companion torrent)
aria_skip=""
if ! command -v aria2c >/dev/null; then
  aria_skip="aria2c not installed (apt-get install aria2 failed)"
elif [[ -z $v1torrent ]]; then
  aria_skip="no *.$rev.v1.torrent in the feed's public/targets"
else
  deadline=$((SECONDS + 60))
  until [[ $("${P[@]}" --json show "$model@$rev" | jq -r .v1_seeding) == true ]]; do
    if ((SECONDS >= deadline)); then aria_skip="seeder never reported v1_seeding=true"; break; fi
    sleep 0.2
  done
fi
if [[ -z $aria_skip ]]; then
  # Fake tracker: every announce gets the weightsd seeder as the only peer (non-compact list).
  reply="d8:intervali1800e5:peersld2:ip9:127.0.0.24:porti${port}eeee"
  printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' \
    "${#reply}" "$reply" >"$work/tracker.reply"
  printf '#!/bin/sh\n# reads the request head, then answers\nsed -u %s >/dev/null\ncat %s\n' \
    "'/^\r\?\$/q'" "'$work/tracker.reply'" >"$work/tracker.sh"
  chmod +x "$work/tracker.sh"
  tport=$((27500 + RANDOM % 400))
  socat TCP-LISTEN:$tport,bind=127.0.0.5,reuseaddr,fork EXEC:"$work/tracker.sh" \
    2>"$work/tracker.log" &
  bench_pids+=($!)
  for _ in $(seq 50); do
    ss -Hltn | grep -q "127.0.0.5:$tport " && break
    sleep 0.1
  done
  ss -Hltn | grep -q "127.0.0.5:$tport " || tport=""
  if [[ -z $tport ]]; then
    aria_skip="fake tracker (socat) did not start"
  else
    mkdir -p "$work/aria"
    log "aria2c: v1 companion torrent, tracker 127.0.0.5:$tport -> seeder $seeder_peer"
    set +e
    /usr/bin/time -f '%e %U %S %M' -o "$work/aria.time" timeout 900 aria2c \
      --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
      --disable-ipv6=true --summary-interval=0 --console-log-level=warn --log-level=notice \
      --log="$work/aria.log" --auto-save-interval=0 --bt-save-metadata=false \
      --save-session-interval=0 --allow-overwrite=false --seed-time=0 --check-integrity=false \
      --file-allocation=falloc --interface=127.0.0.4 --listen-port=27412 \
      --bt-tracker="http://127.0.0.5:$tport/announce" --dir="$work/aria" "$v1torrent" \
      >"$work/aria.out" 2>&1
    arc=$?
    set -e
    if [[ $arc -ne 0 ]]; then
      aria_skip="aria2c exit $arc: $(tail -n 3 "$work/aria.out" | tr '\n' ' ')"
    else
      read -r W_ar u s R_ar <"$work/aria.time"
      C_ar=$(echo "$u + $s" | bc -l)
      got=$(find "$work/aria" -type f -name '*.safetensors' | head -n1)
      adir=$(dirname "$got")
      if ! (cd "$work/w" && sha256sum -- *) | (cd "$adir" && sha256sum --quiet -c -) >/dev/null; then
        aria_skip="aria2c finished but its files differ from the source"
      fi
    fi
  fi
fi

# 2b. qBittorrent-nox (libtorrent 2.0.8, hybrid, v2) <- weightsd seeder, on loopback. The peer is
# given through the WebUI API (torrents/addPeers); DHT/LSD/PeX/UPnP off, TCP only, default disk
# I/O (mmap, as shipped). Wall time from the add request to progress 1 (polled every 0.2 s);
# CPU and VmHWM of the qbittorrent-nox process (whose life includes start-up).
qb_skip=""
command -v qbittorrent-nox >/dev/null || qb_skip="qbittorrent-nox not installed (scripts/install-deps --test)"
hybrid=$(find "$work/pub/public/targets" -name "*.$rev.torrent" | head -n1)
if [[ -z $qb_skip ]]; then
  qip=127.0.0.7
  start_qbittorrent "$work/qb" $qip 2>/dev/null ||
    qb_skip="qBittorrent WebUI did not start: $(tail -n 2 "$work/qb/out" | tr '\n' ' ')"
  qpid=${QB_PID:-}
  if [[ -z $qb_skip ]]; then
    api=$QB_API
    qb_done() { [[ $(curl -sf "$api/torrents/info" | jq -r '.[0].progress') == 1 ]]; }
    log "qBittorrent: hybrid torrent, peer $seeder_peer"
    c0=$(cpu_s "$qpid")
    t0=$(now)
    curl -sf -F "torrents=@$hybrid" -F "savepath=$work/qb/dl" "$api/torrents/add" >/dev/null
    wait_for 10 bash -c "curl -sf '$api/torrents/info' | jq -e 'length == 1'" || true
    qhash=$(curl -sf "$api/torrents/info" | jq -r '.[0].hash')
    curl -sf --data "hashes=$qhash&peers=$seeder_peer" "$api/torrents/addPeers" >/dev/null ||
      log "qBittorrent: torrents/addPeers failed"
    if wait_for 900 qb_done; then
      t1=$(now)
      c1=$(cpu_s "$qpid")
      W_qb=$(fsub "$t1" "$t0")
      C_qb=$(fsub "$c1" "$c0")
      R_qb=$(hwm_kib "$qpid")
      same=$( (cd "$work/w" && sha256sum -- *) | (cd "$work/qb/dl/$rev" && sha256sum --quiet -c -) >/dev/null 2>&1 && echo y || echo n)
      [[ $same == y ]] || qb_skip="qBittorrent finished but its files differ from the source"
    else
      qb_skip="qBittorrent did not finish in 900 s"
    fi
  fi
  [[ -z $qpid ]] || kill -9 "$qpid" 2>/dev/null || true
  rm -rf "$work/qb/dl"
fi

# 2c. Transmission 3.00 <- weightsd seeder (v1 companion). Transmission never dials 127/8 peers,
# so this pair runs between two network namespaces joined by a veth pair (198.18.0.0/24, RFC
# 2544 addresses that exist only there): a second weightsd seeder (same files, page-cached) in
# one, transmission-daemon in the other, and a socat fake tracker (in the seeder's namespace)
# naming the seeder. Wall time from `transmission-remote -s` to "Percent Done: 100%" (polled
# every 0.2 s), CPU and VmHWM of transmission-daemon.
tr_skip=""
command -v transmission-daemon >/dev/null || tr_skip="transmission-daemon not installed (scripts/install-deps --test)"
nsA=wfbA$$
nsB=wfbB$$
if [[ -z $tr_skip ]] && ! netns_pair "$nsA" "$nsB"; then
  tr_skip="$NETNS_ERROR (needs CAP_SYS_ADMIN)"
fi
if [[ -z $tr_skip ]]; then
  mkdir -p "$work/nsseed"
  ip netns exec "$nsA" "$D" --state-dir "$work/nsseed/state" --socket "$work/nsseed/ctl.sock" \
    --listen 198.18.0.1:0 >"$work/nsseed.log" 2>&1 &
  bench_pids+=($!)
  disown $!
  S=("$W" --socket "$work/nsseed/ctl.sock")
  wait_for 30 "${S[@]}" status || tr_skip="weightsd in the namespace did not start"
fi
[[ -n $tr_skip ]] || weightsd_check_exposure "$work/nsseed/ctl.sock" "$nsA" || exit 1
if [[ -z $tr_skip ]]; then
  "${S[@]}" feed add bench "$work/pub/public" --root "$root" >/dev/null
  "${S[@]}" seed "$work/w" --feed bench --model "$model" --revision "$rev" >/dev/null
  wait_for 120 bash -c "[[ \$('$W' --socket '$work/nsseed/ctl.sock' --json show '$model@$rev' | jq -r .v1_seeding) == true ]]" ||
    tr_skip="the namespace seeder never reported v1_seeding=true"
fi
if [[ -z $tr_skip ]]; then
  nsport=$("${S[@]}" --json status | jq -r .listen_port)
  reply="d8:intervali1800e5:peersld2:ip10:198.18.0.14:porti${nsport}eeee"
  printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' \
    "${#reply}" "$reply" >"$work/nstracker.reply"
  printf '#!/bin/sh\nsed -u %s >/dev/null\ncat %s\n' "'/^\r\?\$/q'" "'$work/nstracker.reply'" \
    >"$work/nstracker.sh"
  chmod +x "$work/nstracker.sh"
  ip netns exec "$nsA" socat TCP-LISTEN:6969,bind=198.18.0.1,reuseaddr,fork \
    EXEC:"$work/nstracker.sh" 2>"$work/nstracker.log" &
  bench_pids+=($!)
  start_transmission "$nsB" "$work/tr" 198.18.0.2 '"message-level": 1' 2>/dev/null ||
    tr_skip="transmission-daemon RPC did not start"
  tpid=${TR_PID:-}
  if [[ -z $tr_skip ]]; then
    tr_remote -a "$v1torrent" --start-paused >/dev/null
    tr_remote -t 1 -td "http://198.18.0.1:6969/announce" >/dev/null
    tr_done() { tr_remote -t 1 -i | grep "Percent Done: 100%" >/dev/null; }
    log "Transmission: v1 companion, namespaces, seeder 198.18.0.1:$nsport"
    c0=$(cpu_s "$tpid")
    t0=$(now)
    tr_remote -t 1 -s >/dev/null
    if wait_for 1800 tr_done; then
      t1=$(now)
      c1=$(cpu_s "$tpid")
      W_tr=$(fsub "$t1" "$t0")
      C_tr=$(fsub "$c1" "$c0")
      R_tr=$(hwm_kib "$tpid")
      (cd "$work/w" && sha256sum -- *) | (cd "$work/tr/dl/$rev" && sha256sum --quiet -c -) >/dev/null 2>&1 ||
        tr_skip="Transmission finished but its files differ from the source"
    else
      tr_skip="Transmission did not finish in 1800 s"
    fi
  fi
  [[ -z $tpid ]] || kill -9 "$tpid" 2>/dev/null || true
  rm -rf "$work/tr/dl"
fi

# 2d. curl from nginx: the same files over HTTP, page cache -> sendfile -> curl -> file.
curl_skip=""
if ! command -v curl >/dev/null; then
  curl_skip="curl not installed"
elif ! start_nginx "$work/w" 127.0.0.8 2>"$work/nginx.err"; then
  curl_skip="nginx did not start: $(head -c 300 "$work/nginx.err") (bench/install-deps)"
else
  log "curl from nginx (sendfile), every file in turn"
  mkdir -p "$work/curl"
  cat "$work"/w/* >/dev/null
  out=$(/usr/bin/time -f '%e %U %S %M' bash -c "
    cd '$work/curl' && for f in '$work'/w/*; do
      curl -sf --interface 127.0.0.9 -o \"\$(basename \"\$f\")\" '$NGINX_URL'/\"\$(basename \"\$f\")\" || exit 1
    done" 2>&1 | tail -n1)
  read -r W_cu u s R_cu <<<"$out"
  C_cu=$(echo "$u + $s" | bc -l)
  (cd "$work/w" && sha256sum -- *) >"$work/w.sha256"
  (cd "$work/curl" && sha256sum --quiet -c "$work/w.sha256") >/dev/null 2>&1 ||
    curl_skip="curl's copy differs from the source"
  rm -rf "$work/curl"
fi

# 3. The floor: loopback TCP + write + one SHA-256, and its parts alone.
cat "$work"/w/* >/dev/null
floor() { # floor NAME SINK-PIPELINE : times sender + receiver together
  local name=$1 sink=$2 fport=$((27420 + RANDOM % 500)) out
  out=$(/usr/bin/time -f '%e %U %S %M' bash -c "
    socat -u -b 1048576 TCP-LISTEN:$fport,bind=127.0.0.6,reuseaddr - | $sink &
    r=\$!
    for _ in \$(seq 100); do ss -Hltn | grep -q '127.0.0.6:$fport ' && break; sleep 0.05; done
    cat '$work'/w/* | socat -u -b 1048576 - TCP:127.0.0.6:$fport
    wait \$r" 2>&1 >"$work/floor.$name" | tail -n1)
  read -r wall u s rss <<<"$out"
  printf -v "W_$name" '%s' "$wall"
  printf -v "C_$name" '%s' "$(echo "$u + $s" | bc -l)"
  printf -v "R_$name" '%s' "$rss"
}
log "floor: socat | tee file | openssl dgst -sha256"
floor fl "tee '$work/floor.bin' | openssl dgst -sha256"
rm -f "$work/floor.bin"
log "floor parts: socat to /dev/null, socat to a file; openssl dgst -sha256 of the files"
floor tcp "cat >/dev/null"
floor tcpfile "socat -u -b 1048576 - CREATE:'$work/floor.bin'"
rm -f "$work/floor.bin"
out=$(/usr/bin/time -f '%e %U %S %M' openssl dgst -sha256 "$work"/w/* 2>&1 >/dev/null | tail -n1)
read -r W_hash u s R_hash <<<"$out"
C_hash=$(echo "$u + $s" | bc -l)
# The floor is the faster of the one-pass pipeline (tee reads 8 KiB at a time) and the two
# passes run one after the other (TCP -> file with 1 MiB buffers, then hash the files).
W_two=$(echo "$W_tcpfile + $W_hash" | bc -l)
C_two=$(echo "$C_tcpfile + $C_hash" | bc -l)
R_two=$(( R_tcpfile > R_hash ? R_tcpfile : R_hash ))
W_pipe=$W_fl
if (($(echo "$W_two < $W_fl" | bc -l))); then
  floor_is="two passes (TCP -> file, then openssl dgst)"
  W_fl=$W_two
else
  floor_is="the one-pass pipeline"
fi

# --- report -------------------------------------------------------------------------------
rate() { printf '%.0f' "$(echo "$mib / $1" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
machine_line
printf 'data: %d files, %d bytes (%.0f MiB) in %s\n' "$nfiles" "$bytes" "$mib" "${TMPDIR:-/var/tmp}"
printf '%-44s %8s %7s %7s %9s %12s %10s\n' "" "wall s" "MiB/s" "CPU s" "RSS MiB" "wall/weightsd" \
  "wall/floor"
row() { # LABEL WALL CPU RSS_KIB
  printf '%-44s %8.2f %7s %7.2f %9.0f %12sx %9sx\n' "$1" "$2" "$(rate "$2")" "$3" \
    "$(echo "$4 / 1024" | bc -l)" "$(ratio "$2" "$W_wd")" "$(ratio "$2" "$W_fl")"
}
row "weightsd -> weightsd fetch (to complete)" "$W_wd" "$C_wd" "$R_wd"
if [[ -z $aria_skip ]]; then
  row "weightsd seeder -> aria2c (v1 companion)" "$W_ar" "$C_ar" "$R_ar"
else
  echo "aria2c: skipped: $aria_skip"
fi
if [[ -z $qb_skip ]]; then
  row "weightsd seeder -> qBittorrent (hybrid)" "$W_qb" "$C_qb" "$R_qb"
else
  echo "qBittorrent: skipped: $qb_skip"
fi
if [[ -z $tr_skip ]]; then
  row "weightsd seeder -> Transmission (v1, netns)" "$W_tr" "$C_tr" "$R_tr"
else
  echo "Transmission: skipped: $tr_skip"
fi
if [[ -z $curl_skip ]]; then
  row "curl from nginx (HTTP, sendfile; no check)" "$W_cu" "$C_cu" "$R_cu"
else
  echo "curl from nginx: skipped: $curl_skip"
fi
row "socat TCP | tee file | openssl sha256" "$W_pipe" "$C_fl" "$R_fl"
row "socat TCP -> file, then openssl sha256" "$W_two" "$C_two" "$R_two"
row "  part: socat TCP -> /dev/null" "$W_tcp" "$C_tcp" "$R_tcp"
row "  part: socat TCP -> file (-b 1M)" "$W_tcpfile" "$C_tcpfile" "$R_tcpfile"
row "  part: openssl dgst -sha256 (page cache)" "$W_hash" "$C_hash" "$R_hash"
echo "weightsd: CPU and RSS of the fetching daemon only (VmHWM over its life); aria2c and the" \
  "floor: /usr/bin/time of the process (floor: sum over its pipeline, RSS = largest process)."
echo "floor (wall/floor column) = $floor_is; fetching weightsd at complete: $rss_split"
echo "aria2c checks SHA-1 per piece only (no final SHA-256 pass); weightsd's time includes one."
echo "qBittorrent, Transmission: CPU and VmHWM of the client process (its whole life, incl." \
  "start-up); qBittorrent with its default (mmap) disk I/O; Transmission over a veth pair."

# --- plot ---------------------------------------------------------------------------------
{
  echo "\"weightsd\" $(rate "$W_wd")"
  [[ -n $aria_skip ]] || echo "\"aria2c\" $(rate "$W_ar")"
  [[ -n $qb_skip ]] || echo "\"qBittorrent\" $(rate "$W_qb")"
  [[ -n $tr_skip ]] || echo "\"Transmission\" $(rate "$W_tr")"
  [[ -n $curl_skip ]] || echo "\"curl from nginx\" $(rate "$W_cu")"
  echo "\"floor\" $(rate "$W_fl")"
} >"$work/fetch.dat"
plot_bars "$src/docs/bench/fetch.png" \
  "fetch of a ${size_mib} MiB release over loopback, one run (load avg at start: $load_start)" \
  'MiB/s until verified files (floor: TCP + write + one SHA-256)' "$work/fetch.dat"
