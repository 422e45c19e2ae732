#!/usr/bin/env bash
# Fan-out: one origin weightsd seeds a release (127.0.0.2); N fetching weightsd daemons, each
# on its own 127.0.0.(10+j), fetch it at the same time. Each fetcher is given the origin and
# every other fetcher as peers (`fetch --peer ...`, what a tracker or DHT would tell them).
# Measured per N (FANOUT_NS, default "1 2 4 8"), in one run:
#   - wall time from the first fetch request until all N are `complete` (every file SHA-256
#     verified and the view built);
#   - origin egress = bytes the origin uploaded during the round (uploaded_bytes of
#     `weightsctl --json show`, hybrid + v1 companion) / release size. Goal at N = 8: <= 1.5;
#   - the same N with plain HTTP: N parallel curl processes downloading every file from one
#     nginx (127.0.0.3, sendfile), egress from nginx's access log.
# Each N runs against three origins: `[network] super_seeding = "published"` (BEP 16), default
# settings (plain seeding), and super-seeding with `[limits] upload_rate = FANOUT_ORIGIN_RATE`
# (default 32MiB), as an origin's uplink is.
# Then origin loss (FANOUT_LOSS_N fetchers, default 4, the rate-limited origin): the origin
# is killed (SIGKILL) once it has uploaded FANOUT_LOSS_AT (default 1.0) times the release; do
# the fetchers finish from each other (within 120 s)? Their mean progress at the kill is shown.
# Usage: bench/fanout/run.sh      (FANOUT_SIZE_MIB, default 1024; 256 for a quicker run)
# Every fetched copy is compared with the source (sha256sum) after its round.
# Plot: docs/bench/fanout.png (wall time and origin egress vs N) with gnuplot-nox.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$src/bench/lib.sh"
SIZE=${FANOUT_SIZE_MIB:-1024}
NS=${FANOUT_NS:-"1 2 4 8"}
LOSS_N=${FANOUT_LOSS_N:-4}
LOSS_AT=${FANOUT_LOSS_AT:-1.0}
RATE=${FANOUT_ORIGIN_RATE:-32MiB} # the second series: origin with [limits] upload_rate
command -v curl >/dev/null || { echo "missing tool: curl" >&2; exit 1; }

model=bench-org/fanout-llm
rev=fan0ut01
shard=$((SIZE * 2 / 3))
log "release of ~$SIZE MiB (make-weights.sh, shard $shard MiB) in $work"
bash "$src/scripts/lib/make-weights.sh" "$work/w" "$shard" fanout-bench
bytes=$(du -cb "$work"/w/* | tail -n1 | cut -f1)
"$W" feed init "$work/pub" >/dev/null
"$W" release add "$work/w" --feed "$work/pub" --model "$model" --revision "$rev" \
  --alias fanout-llm --license apache-2.0 --publish >/dev/null
root=$work/pub/public/metadata/1.root.json
(cd "$work/w" && sha256sum -- *) >"$work/w.sha256"
cat "$work"/w/* >/dev/null # page cache

uploaded() { ctl_of "$1" --json show "$model@$rev" | jq -r .uploaded_bytes; }
# Payload a fetcher has downloaded / release size (downloaded_bytes; files[].done_bytes was
# seen to stay low until files complete, so the kill landed at the end).
progress() { ctl_of "$1" --json show "$model@$rev" | jq -r '.downloaded_bytes / .total_length'; }
state_of() { ctl_of "$1" --json show "$model@$rev" 2>/dev/null | jq -r .state; }
verify_copy() { # NAME
  local view
  view=$(ctl_of "$1" --json show "$model@$rev" | jq -r .path)
  (cd "$view" && sha256sum --quiet -c "$work/w.sha256") >/dev/null ||
    { echo "$1: fetched files differ from the source" >&2; exit 1; }
}

# start_origin NAME [weightsd flags...] : the seeding origin on 127.0.0.2 (sets origin).
start_origin() {
  origin=$1
  shift
  bench_daemon "$origin" 127.0.0.2 "$@"
  ctl_of "$origin" feed add bench "$work/pub/public" --root "$root" >/dev/null
  ctl_of "$origin" seed "$work/w" --feed bench --model "$model" --revision "$rev" >/dev/null
  wait_for 120 bash -c "[[ \$('$W' --socket '$work/$origin/ctl.sock' --json show '$model@$rev' | jq -r .state) == complete ]]" ||
    { echo "$origin never completed seeding" >&2; exit 1; }
  origin_peer=$(peer_of "$origin" 127.0.0.2)
}

fetchers=()
fetcher_peers=()
start_fetchers() { # TAG N : N fresh fetchers TAG-1..TAG-N on 127.0.0.11..
  local j name
  fetchers=()
  fetcher_peers=()
  for ((j = 1; j <= $2; j++)); do
    name=$1-$j
    bench_daemon "$name" "127.0.0.$((10 + j))"
    ctl_of "$name" feed add bench "$work/pub/public" --root "$root" >/dev/null
    fetchers+=("$name")
    fetcher_peers+=("$(peer_of "$name" "127.0.0.$((10 + j))")")
  done
}
fetch_all() { # starts `fetch --no-wait` on every fetcher with the origin + all others as peers
  local j k peers
  for ((j = 0; j < ${#fetchers[@]}; j++)); do
    peers=(--peer "$origin_peer")
    for ((k = 0; k < ${#fetchers[@]}; k++)); do
      ((k == j)) || peers+=(--peer "${fetcher_peers[k]}")
    done
    ctl_of "${fetchers[j]}" fetch fanout-llm --no-wait "${peers[@]}" >/dev/null
  done
}
all_complete() {
  local f
  for f in "${fetchers[@]}"; do [[ $(state_of "$f") == complete ]] || return 1; done
}
stop_fetchers() {
  local f
  for f in "${fetchers[@]}"; do stop_daemon "$f" KILL >/dev/null; rm -rf "${work:?}/$f"; done
  fetchers=()
}

# bt_rounds MODE : one round per N against the running origin; appends "MODE N wall egress".
bt_rounds() {
  local n u0 t0 wall f
  for n in $NS; do
    log "N=$n: weightsd, origin $1"
    start_fetchers "$1$n" "$n"
    u0=$(uploaded "$origin")
    t0=$(now)
    fetch_all
    wait_for 900 all_complete || { echo "N=$n ($1): not all complete after 900 s" >&2; exit 1; }
    wall=$(fsub "$(now)" "$t0")
    # The counters come from libtorrent's state updates (every 500 ms): wait until the origin's
    # uploaded_bytes no longer changes before reading it.
    local u1 u2
    u1=$(uploaded "$origin")
    while sleep 0.6 && u2=$(uploaded "$origin") && ((u2 != u1)); do u1=$u2; done
    echo "$1 $n $wall $(fdiv "$((u1 - u0))" "$bytes")" >>"$work/bt.dat"
    for f in "${fetchers[@]}"; do verify_copy "$f"; done
    stop_fetchers
  done
}

: >"$work/bt.dat"
: >"$work/http.dat"
printf '[network]\nsuper_seeding = "published"\n' >"$work/super.toml"
start_origin origin-super --config "$work/super.toml"
bt_rounds super
stop_daemon origin-super KILL >/dev/null
start_origin origin-plain
bt_rounds plain
stop_daemon origin-plain KILL >/dev/null
printf '[network]\nsuper_seeding = "published"\n[limits]\nupload_rate = "%s"\n' "$RATE" >"$work/limited.toml"
start_origin origin-limited --config "$work/limited.toml"
bt_rounds limited

start_nginx "$work/w" 127.0.0.3
for n in $NS; do
  log "N=$n: HTTP (nginx, $n curl)"
  : >"$NGINX_LOG"
  t0=$(now)
  cpids=()
  for ((j = 1; j <= n; j++)); do
    mkdir -p "$work/http-$j"
    (cd "$work/http-$j" && for f in "$work"/w/*; do
      curl -sf --interface "127.0.0.$((10 + j))" -o "$(basename "$f")" "$NGINX_URL/$(basename "$f")"
    done) &
    cpids+=($!)
  done
  for p in "${cpids[@]}"; do wait "$p"; done
  http_wall=$(fsub "$(now)" "$t0")
  sent=$(awk '($2 == 200 || $2 == 206) { s += $3 } END { printf "%.0f\n", s }' "$NGINX_LOG")
  for ((j = 1; j <= n; j++)); do
    (cd "$work/http-$j" && sha256sum --quiet -c "$work/w.sha256") >/dev/null ||
      { echo "HTTP copy $j differs" >&2; exit 1; }
    rm -rf "$work/http-$j"
  done
  echo "$n $http_wall $(fdiv "$sent" "$bytes")" >>"$work/http.dat"
done
series() { awk -v m="$1" '$1 == m { print $2, $3, $4 }' "$work/bt.dat" | sort -k1,1; }
join <(series super) <(series plain) | join - <(series limited) |
  join - <(sort -k1,1 "$work/http.dat") | sort -n >"$work/fanout.dat"
# fanout.dat: N super_wall super_egress plain_wall plain_egress limited_wall limited_egress
#             http_wall http_egress

# --- origin loss ---------------------------------------------------------------------------
log "origin loss: $LOSS_N fetchers, origin (upload $RATE/s) killed once it uploaded ${LOSS_AT}x"
start_fetchers loss "$LOSS_N"
u_start=$(uploaded "$origin")
t0=$(now)
fetch_all
mean_progress() {
  local f s=0
  for f in "${fetchers[@]}"; do s=$(echo "$s + $(progress "$f")" | bc -l); done
  echo "$s / ${#fetchers[@]}" | bc -l
}
# One API call per poll (the origin's counter), so the kill lands close to the mark.
sent_enough() { (($(echo "$(uploaded "$origin") - $u_start >= $LOSS_AT * $bytes" | bc -l))); }
loss_result=""
if wait_for 900 sent_enough; then
  kill_at=$(fsub "$(now)" "$t0")
  u_kill=$(($(uploaded "$origin") - u_start))
  p_kill=$(mean_progress)
  stop_daemon "$origin" KILL >/dev/null
  t1=$(now)
  if wait_for 120 all_complete; then
    loss_after=$(fsub "$(now)" "$t1")
    for f in "${fetchers[@]}"; do verify_copy "$f"; done
    loss_result=$(printf 'origin killed after %.2f s at mean progress %.0f %% (it had uploaded %.2fx the release); all %d finished from each other %.2f s later, copies verified' \
      "$kill_at" "$(echo "$p_kill * 100" | bc -l)" "$(fdiv "$u_kill" "$bytes")" "$LOSS_N" "$loss_after")
  else
    states=""
    for f in "${fetchers[@]}"; do states+="$f: $(state_of "$f") $(printf '%.0f%%' "$(echo "$(progress "$f") * 100" | bc -l)"); "; done
    loss_result=$(printf 'origin killed after %.2f s at mean progress %.0f %% (uploaded %.2fx); NOT all finished within 120 s: %s' \
      "$kill_at" "$(echo "$p_kill * 100" | bc -l)" "$(fdiv "$u_kill" "$bytes")" "$states")
  fi
else
  loss_result="the origin never uploaded ${LOSS_AT}x the release"
fi

# --- report --------------------------------------------------------------------------------
machine_line
printf 'release: %d bytes (%.0f MiB, make-weights.sh layout: 2 safetensors shards + 4 small files)\n' \
  "$bytes" "$(echo "$bytes / 1048576" | bc -l)"
printf '%-3s | %-24s | %-24s | %-24s | %-20s | %s\n' "" "super_seeding=published" "default (plain seeding)" "super-seeding, $RATE/s" "HTTP (nginx + N curl)" "wall / HTTP wall"
printf '%-3s | %8s %15s | %8s %15s | %8s %15s | %8s %11s | %8s %8s\n' "N" "wall s" "origin egress" "wall s" "origin egress" "wall s" "origin egress" "wall s" "egress" "super" "plain"
while read -r n sw se pw pe lw le hw he; do
  printf '%-3s | %8.2f %14.2fx | %8.2f %14.2fx | %8.2f %14.2fx | %8.2f %10.2fx | %7.2fx %7.2fx\n' \
    "$n" "$sw" "$se" "$pw" "$pe" "$lw" "$le" "$hw" "$he" "$(echo "$sw / $hw" | bc -l)" "$(echo "$pw / $hw" | bc -l)"
done <"$work/fanout.dat"
echo "weightsd: until every fetcher is complete (SHA-256 verified, view built); egress = origin uploaded_bytes delta / size"
echo "HTTP: N curl processes, every file, from one nginx (sendfile); egress = body bytes in nginx's access log / size"
echo "origin loss ($LOSS_N fetchers): $loss_result"

plot "$src/docs/bench/fanout.png" "
set title 'fan-out of a $SIZE MiB release (load avg at start: $load_start)'
set xlabel 'fetching daemons N'
set ylabel 'seconds until all N hold verified copies'
set y2label 'origin egress (x release size)'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set logscale x 2
set key left top
set grid
plot '$work/fanout.dat' using 1:2 with linespoints title 'weightsd, super-seeding origin: time', \
     '' using 1:4 with linespoints title 'weightsd, default origin: time', \
     '' using 1:6 with linespoints title 'weightsd, super-seeding origin at $RATE/s: time', \
     '' using 1:8 with linespoints title 'HTTP (nginx + curl): time', \
     '' using 1:3 axes x1y2 with linespoints dashtype 2 title 'super-seeding: origin egress', \
     '' using 1:5 axes x1y2 with linespoints dashtype 2 title 'default: origin egress', \
     '' using 1:7 axes x1y2 with linespoints dashtype 2 title 'super-seeding at $RATE/s: egress', \
     '' using 1:9 axes x1y2 with linespoints dashtype 2 title 'HTTP: nginx egress'"
