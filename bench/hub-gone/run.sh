#!/usr/bin/env bash
# Fetching a pinned release with the hub down vs up (issue #17; docs/pinned-releases.md §4a–§4c),
# in one run, on loopback only:
#   - the Hugging Face Hub double (tests/lib/hub_double.py: nginx + git http-backend + CDN on
#     127.0.0.1/127.0.0.2) serves test-org/hubbench, a model of SIZE_MIB of random bytes (two
#     safetensors shards, a 4 MiB tokenizer.json stored in git, small JSON files, a model card),
#     and test-org/fresh-K (HUBBENCH_FRESH_MIB each, default 16) for the findability rounds;
#   - a private DHT of five daemons A..E, each on its own 127.0.4k.1 (its own /24) with a port
#     chosen first, each told the others as [network] dht_nodes, no bootstrap router, LSD off
#     (as tests/integration/hub_gone_dht_test.sh); A and B import test-org/hubbench from the hub
#     (pinned fetch) and announce the pin's rendezvous key;
#   - every measured fetch is `weightsctl fetch ALIAS --no-wait` on a fresh daemon that is
#     already in the DHT, then `weightsctl --json show` polled at most 10 times a second:
#     first byte = the first poll with downloaded_bytes > 0, or with the holders' uploaded_bytes
#     grown (libtorrent's counters are updated every 0.5 s), complete = state `complete` (every file hashed against the pin, view built);
#     CPU = utime + stime of the fetching daemon over the fetch. Daemon logs are stamped with
#     the wall clock as lines arrive (weightsd's own stamps have 1 s resolution).
#   (a1) hub up, catalog entry without info_hash_v2: files from the hub's resolve URLs alone;
#   (a2) hub up, catalog entry with info_hash_v2: the swarm (A, B) and the hub as web seed;
#   (b)  the hub's nginx killed: the git fetch fails, the key is looked up in the DHT, A's or B's
#        pin exchange hands over the offer and the commit's objects (checked against the pin),
#        the swarm is joined with no web seed. Also from the log: hub failure -> first peer to
#        ask (DHT lookup) -> objects verified (pin exchange) -> first byte (swarm join, metadata);
#   (c)  findability, HUBBENCH_ROUNDS times (default 3): a fresh node L-K, whose hub endpoint is
#        a dead port on loopback (the hub down for it alone), waits in the DHT; A or B imports
#        test-org/fresh-K from the live hub; the moment its show says complete, L-K fetches
#        fresh-K: completion -> L-K's first byte (and -> the holder's announce, -> L-K's
#        verified objects, -> complete). Each round is a new commit, so its only holder is the
#        node that just completed it.
# A fetch that fails is recorded (failures.txt, printed at the end) and tried again on another
# fresh node, HUBBENCH_TRIES times (default 3).
# HUBBENCH_KEEP_LOOKUP=1 leaves each round's L-K running (no dead node in the DHT's routing
# tables during (c); its key is that round's alone, so it changes no later round).
# Each fresh node is killed after its round (it would seed and announce otherwise, and change
# the next round's swarm). Every copy is compared with the source (sha256sum) after its round.
# Usage: bench/hub-gone/run.sh [SIZE_MIB]   (default 1024)
# Binaries: $WEIGHTSD / $WEIGHTSCTL, default build/daemon/weightsd and build/cli/weightsctl.
# Needs nginx, fcgiwrap, git, curl, python3 (scripts/install-deps --test), jq, bc, openssl.
# Plot: docs/bench/hub-gone.png with gnuplot-nox when installed (bench/install-deps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
size_mib=${1:-1024}
ROUNDS=${HUBBENCH_ROUNDS:-3}
FRESH_MIB=${HUBBENCH_FRESH_MIB:-16}
((size_mib >= 16)) || { echo "SIZE_MIB must be at least 16" >&2; exit 1; }
for tool in nginx fcgiwrap git curl python3 openssl; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] ||
    { echo "missing tool: $tool (scripts/install-deps --test)" >&2; exit 1; }
done

# $work, cleanup, log/now/fsub, cpu_s, plot (bench/lib.sh); wait_for, free_port, the hub double
# (tests/lib/harness.sh, through it).
HARNESS_POLL=0.1
source "$src/bench/lib.sh"
double=$src/tests/lib/hub_double.py

# --- the models -----------------------------------------------------------------------------
# random NAME BYTES : BYTES of AES-CTR keystream under a random key (incompressible; written once).
random_bytes() {
  (set +o pipefail
    openssl enc -aes-128-ctr -K "$(openssl rand -hex 16)" -iv "$(openssl rand -hex 16)" -nosalt \
      </dev/zero 2>/dev/null | head -c "$1")
}
card() { printf -- '---\nlicense: mit\n---\n# Benchmark model\n' >"$1/README.md"; }
make_model() { # DIR MIB : two shards (5/8, 3/8 minus the tokenizer), a 4 MiB tokenizer, JSON
  local dir=$1 mib=$2 tok=$((4 * 1048576))
  ((mib > 8)) || tok=65536
  mkdir -p "$dir"
  local s1=$((mib * 1048576 * 5 / 8))
  local s2=$((mib * 1048576 - s1 - tok))
  random_bytes "$s1" >"$dir/model-00001-of-00002.safetensors"
  random_bytes "$s2" >"$dir/model-00002-of-00002.safetensors"
  # A tokenizer in git, not LFS (below the double's 10 MiB threshold): it travels in the bundle.
  random_bytes $((tok * 3 / 4)) | base64 -w 0 | head -c "$tok" >"$dir/tokenizer.json"
  printf '{"architectures": ["BenchForCausalLM"], "model_type": "bench", "seed": "%s"}\n' \
    "$(openssl rand -hex 8)" >"$dir/config.json"
  printf '{"bos_token_id": 1, "eos_token_id": 2}\n' >"$dir/generation_config.json"
  printf '{"metadata": {"total_size": %d}}\n' $((s1 + s2)) >"$dir/model.safetensors.index.json"
  card "$dir"
}
log "generating the ${size_mib} MiB model (random bytes) and $ROUNDS fresh ${FRESH_MIB} MiB ones in $work"
make_model "$work/model" "$size_mib"
bytes=$(du -cb "$work"/model/* | tail -n1 | cut -f1)
nfiles=$(find "$work/model" -type f | wc -l)
(cd "$work/model" && sha256sum -- *) >"$work/model.sha256"
hub=$work/hub
declare -A commit
log "building the hub double's repositories (git, LFS pointers, CDN copies)"
commit[hubbench]=$(python3 "$double" build "$hub" test-org/hubbench "$work/model")
for ((k = 1; k <= ROUNDS; k++)); do
  make_model "$work/fresh-$k" "$FRESH_MIB"
  (cd "$work/fresh-$k" && sha256sum -- *) >"$work/fresh-$k.sha256"
  commit[fresh-$k]=$(python3 "$double" build "$hub" "test-org/fresh-$k" "$work/fresh-$k")
done
start_hub_double "$hub"
hub_pid=$NGINX_PID
key_of() { # REPO COMMIT : the pin's rendezvous key (pinned-releases.md §4)
  printf 'weightsd-pin/1\nhuggingface\n%s\n%s\n' "$1" "$2" | sha1sum | cut -d' ' -f1
}
id=test-org/hubbench@${commit[hubbench]}
key=$(key_of test-org/hubbench "${commit[hubbench]}")

# catalog_entry FAMILY REPO COMMIT [INFO_HASH_V2] : one catalog file's text.
catalog_entry() {
  printf 'schema = 1\nfamily = "%s"\ndefault = "base"\n\n[[model]]\nid = "%s"\nvariant = "base"\n' "$1" "$2"
  printf 'upstream = "huggingface"\nrepo = "%s"\ncommit = "%s"\nlicense = "mit"\ngated = false\n' "$2" "$3"
  [[ -z ${4:-} ]] || printf 'info_hash_v2 = "%s"\n' "$4"
  printf '\n[[model.source]]\nurl = "https://example.invalid/pins.md"\nconfidence = "high"\n'
}
mkdir -p "$work/catalog" "$work/catalog-ih"
catalog_entry hubbench test-org/hubbench "${commit[hubbench]}" >"$work/catalog/hubbench.toml"
for ((k = 1; k <= ROUNDS; k++)); do
  catalog_entry "fresh-$k" "test-org/fresh-$k" "${commit[fresh-$k]}" >"$work/catalog/fresh-$k.toml"
done

# --- daemons --------------------------------------------------------------------------------
# Five DHT nodes on 127.0.41.1 .. 127.0.45.1 (a /24 each), ports chosen first; fresh nodes on
# 127.0.5x.1 list the five as dht_nodes.
dht_names=(A B C D E)
declare -A ip port
for i in 0 1 2 3 4; do
  n=${dht_names[$i]}
  ip[$n]=127.0.$((41 + i)).1
  port[$n]=$(free_port "${ip[$n]}")
done
dead_hub=http://127.0.49.1:$(free_port 127.0.49.1) # nothing listens there: a hub that is down
# config NAME ENDPOINT CATALOG_DIR [TOP-LEVEL TOML] : the node's weightsd.toml on stdout.
config() {
  local n=$1 others=() m
  [[ -z ${4:-} ]] || printf '%s\n' "$4"
  for m in "${dht_names[@]}"; do [[ $m == "$n" ]] || others+=("\"${ip[$m]}:${port[$m]}\""); done
  printf '[network]\nprofile = "private"\ndht = "on"\ndht_bootstrap_nodes = []\nlsd = "off"\n'
  printf 'dht_nodes = [%s]\n' "$(IFS=,; echo "${others[*]}")"
  printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$2" "$3"
}
# Appends the wall-clock time (seconds since the epoch, µs) to every line it reads.
stamp() { while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
# node NAME IP PORT CONFIG : weightsd on IP:PORT (0: ephemeral) with its state in $work/NAME,
# its log stamped in $work/NAME.log; waits until it answers and checks it is on loopback only.
node() {
  local name=$1 addr=$2:$3 conf=$4 d=$work/$1
  mkdir -p "$d"
  weightsd_check_config "$D" "" --state-dir "$d/state" --socket "$d/ctl.sock" --listen "$addr" \
    --config "$conf" || exit 1
  "$D" --state-dir "$d/state" --socket "$d/ctl.sock" --listen "$addr" --config "$conf" \
    > >(stamp >>"$work/$name.log") 2>&1 &
  local pid=$!
  bench_pids+=("$pid")
  echo "$pid" >"$work/$name.pid"
  disown "$pid"
  if ! wait_for 60 ctl_of "$name" status; then
    echo "$name did not start:" >&2
    tail -n 30 "$work/$name.log" >&2
    exit 1
  fi
  weightsd_check_exposure "$d/ctl.sock" || exit 1
}
has_dht_nodes() { (($(ctl_of "$1" --json status | jq -r .dht_nodes) > 0)); }
in_dht() { wait_until "$1 to have DHT nodes" 60 has_dht_nodes "$1" || exit 1; }
# fresh NAME IP ENDPOINT CATALOG_DIR : a node that holds nothing, in the DHT.
fresh() {
  config "$1" "$3" "$4" >"$work/$1.toml"
  node "$1" "$2" 0 "$work/$1.toml"
  in_dht "$1"
}
kill_node() { stop_daemon "$1" KILL >/dev/null; rm -rf "${work:?}/$1/state"; }

log "five DHT nodes on 127.0.41.1 .. 127.0.45.1"
for n in "${dht_names[@]}"; do
  extra=""
  # The holders log their announces (debug: "DHT: announcing KEY with port P").
  [[ $n == A || $n == B ]] && extra='log_level = "debug"'
  config "$n" "$HUB_URL" "$work/catalog" "$extra" >"$work/$n.toml"
  node "$n" "${ip[$n]}" "${port[$n]}" "$work/$n.toml"
done
for n in "${dht_names[@]}"; do in_dht "$n"; done

# --- measuring a fetch ----------------------------------------------------------------------
# stamp_of NAME PATTERN : the wall-clock stamp of NAME's first log line matching PATTERN (ERE).
stamp_of() { grep -E -m1 -- "$2" "$work/$1.log" | cut -d' ' -f1; }
# fetch_watch NAME ALIAS ID : starts `fetch ALIAS --no-wait` on NAME and polls `show ID` (at most
# 10 Hz) until complete (900 s at most). Sets T0 (request), T_FIRST (first poll with
# downloaded_bytes > 0, or, with HOLDERS (node names) set, with their uploaded_bytes of ID above
# what they were before the request: the fetcher's downloaded_bytes stays 0 until complete on
# the swarm path), T_DONE, CPU (seconds of NAME's daemon over the fetch), SRC (bytes from
# peers / web seeds as show reports them); 1 with FETCH_ERROR set when it failed or timed out.
fetch_watch() {
  local name=$1 alias=$2 rid=$3 pid c0 st dl deadline=$((SECONDS + 900)) t up0=0
  pid=$(pid_of "$name")
  ((${#HOLDERS[@]} == 0)) || up0=$(holders_uploaded "$rid")
  T_FIRST=""
  T_DONE=""
  c0=$(cpu_s "$pid")
  T0=$EPOCHREALTIME
  ctl_of "$name" fetch "$alias" --no-wait >/dev/null
  while ((SECONDS < deadline)); do
    t=$EPOCHREALTIME
    read -r st dl < <(ctl_of "$name" --json show "$rid" 2>/dev/null |
      jq -r '"\(.state) \(.downloaded_bytes // 0)"' 2>/dev/null || echo "none 0") || true
    [[ -n $T_FIRST || ${dl:-0} -le 0 ]] || T_FIRST=$t
    [[ -n $T_FIRST || ${#HOLDERS[@]} -eq 0 ]] || (($(holders_uploaded "$rid") <= up0)) ||
      T_FIRST=$t
    case $st in
      complete) T_DONE=$t; break ;;
      failed)
        FETCH_ERROR=$(ctl_of "$name" --json show "$rid" | jq -r '.error | "\(.code): \(.message)"')
        log "$name: $rid failed after $(fsub "$t" "$T0") s: $FETCH_ERROR"
        return 1 ;;
    esac
    sleep 0.1
  done
  [[ -n $T_DONE ]] || { FETCH_ERROR="not complete after 900 s"; return 1; }
  CPU=$(fsub "$(cpu_s "$pid")" "$c0")
  [[ -n $T_FIRST ]] || T_FIRST=$T_DONE # every byte arrived between two counter updates
  SRC=$(ctl_of "$name" --json show "$rid" |
    jq -r '"\(.downloaded_from_peers // 0) \(.downloaded_from_web_seeds // 0)"')
}
HOLDERS=()
holders_uploaded() { # ID : the sum of uploaded_bytes of ID over HOLDERS
  local h sum=0
  for h in "${HOLDERS[@]}"; do
    sum=$((sum + $(ctl_of "$h" --json show "$1" | jq -r '.uploaded_bytes // 0')))
  done
  echo "$sum"
}
verify_copy() { # NAME ID SHA256_LIST
  local view
  view=$(ctl_of "$1" --json show "$2" | jq -r .path)
  (cd "$view" && sha256sum --quiet -c "$3") >/dev/null ||
    { echo "$1: the fetched files of $2 differ from the source" >&2; exit 1; }
}
# The announce of KEY by NAME (its debug log), from line FROM on.
announced_after() { tail -n "+$3" "$work/$1.log" | grep -q "DHT: announcing $2 with port"; }

# --- the holders ----------------------------------------------------------------------------
for n in A B; do
  log "holder $n imports $id from the hub"
  ctl_of "$n" fetch "$id" >/dev/null
  verify_copy "$n" "$id" "$work/model.sha256"
done
v2=$(ctl_of A --json show "$id" | jq -r .v2_infohash)
[[ $(ctl_of B --json show "$id" | jq -r .v2_infohash) == "$v2" ]] ||
  { echo "A and B hold different torrents of one commit" >&2; exit 1; }
for n in A B; do
  wait_until "$n to announce the pin" 60 announced_after "$n" "$key" 1 || exit 1
done
catalog_entry hubbench test-org/hubbench "${commit[hubbench]}" "$v2" >"$work/catalog-ih/hubbench.toml"

# --- (c) findability of a newly completed release -------------------------------------------
# Rows: K holder holder_fetch_s announce_s verified_s first_byte_s complete_s (from the holder's
# completion, as seen by polling its show).
: >"$work/find.dat"
for ((k = 1; k <= ROUNDS; k++)); do
  holder=A
  ((k % 2)) || holder=B
  L=L$k
  fid=test-org/fresh-$k@${commit[fresh-$k]}
  fkey=$(key_of "test-org/fresh-$k" "${commit[fresh-$k]}")
  fresh "$L" "127.0.$((50 + k)).1" "$dead_hub" "$work/catalog"
  log "round $k: $holder imports $fid from the hub; then $L (its hub down) fetches it"
  from_line=$(($(wc -l <"$work/$holder.log") + 1))
  h0=$EPOCHREALTIME
  ctl_of "$holder" fetch "$fid" --no-wait >/dev/null
  holder_done() { [[ $(ctl_of "$holder" --json show "$fid" | jq -r .state) == complete ]]; }
  wait_until "$holder to complete $fid" 300 holder_done || exit 1
  tc=$EPOCHREALTIME
  HOLDERS=("$holder")
  if ! fetch_watch "$L" "fresh-$k" "$fid"; then
    echo "(c) round $k: $L: $FETCH_ERROR" >>"$work/failures.txt"
    kill_node "$L"
    continue
  fi
  verify_copy "$L" "$fid" "$work/fresh-$k.sha256"
  ta=$(tail -n "+$from_line" "$work/$holder.log" | grep -m1 "DHT: announcing $fkey with port" |
    cut -d' ' -f1 || true)
  tv=$(stamp_of "$L" "answered with commit ${commit[fresh-$k]}'s objects \(verified\)")
  [[ -n $tv ]] || { echo "$L: no verified pin exchange in its log" >&2; exit 1; }
  echo "$k $holder $(fsub "$tc" "$h0") $(fsub "${ta:-$tc}" "$tc") $(fsub "$tv" "$tc")" \
    "$(fsub "$T_FIRST" "$tc") $(fsub "$T_DONE" "$tc")" >>"$work/find.dat"
  [[ -n ${HUBBENCH_KEEP_LOOKUP:-} ]] || kill_node "$L"
done

# --- (a) the hub up, (b) the hub down -------------------------------------------------------
# measure TAG NAME IP ENDPOINT CATALOG_DIR : up to HUBBENCH_TRIES (default 3) fresh nodes NAME1,
# NAME2, ... fetch hubbench in turn until one completes; appends "TAG first_byte_s complete_s
# cpu_s from_peers from_web_seeds" to fetch.dat, each failure to failures.txt; sets MEASURED
# (the node that completed, left running) or returns 1.
TRIES=${HUBBENCH_TRIES:-3}
: >"$work/fetch.dat"
: >>"$work/failures.txt"
measure() {
  local tag=$1 try n
  MEASURED=""
  for ((try = 1; try <= TRIES; try++)); do
    n=$2$try
    fresh "$n" "$3" "$4" "$5"
    log "($tag) $n fetches hubbench (try $try)"
    if fetch_watch "$n" hubbench "$id"; then
      echo "$tag $(fsub "$T_FIRST" "$T0") $(fsub "$T_DONE" "$T0") $CPU $SRC" >>"$work/fetch.dat"
      verify_copy "$n" "$id" "$work/model.sha256"
      MEASURED=$n
      return 0
    fi
    echo "($tag) $n, try $try, after $(fsub "$EPOCHREALTIME" "$T0") s: $FETCH_ERROR" >>"$work/failures.txt"
    kill_node "$n"
  done
  return 1
}
HOLDERS=(A B)
log "(a1) hub up, catalog without info_hash_v2"
measure a1 U 127.0.46.1 "$HUB_URL" "$work/catalog" && kill_node "$MEASURED"
log "(a2) hub up, catalog with info_hash_v2"
measure a2 V 127.0.47.1 "$HUB_URL" "$work/catalog-ih" && kill_node "$MEASURED"
log "(b) the hub's nginx killed"
kill -9 "$hub_pid"
wait_until "the hub to stop" 10 bash -c "! kill -0 $hub_pid 2>/dev/null" || exit 1
! curl -sf -m 5 "$HUB_URL/" >/dev/null 2>&1 || { echo "the hub still answers" >&2; exit 1; }
measure b G 127.0.48.1 "$HUB_URL" "$work/catalog" || true
G=$MEASURED
bundle=$(stat -c %s "$work/A/state/torrents/$v2.git-objects" 2>/dev/null || echo "?")
if [[ -n $G ]]; then
  t_gone=$(stamp_of "$G" "looking commit ${commit[hubbench]} up in the DHT")
  t_ask=$(stamp_of "$G" "asking peer .* for commit ${commit[hubbench]}")
  t_ok=$(stamp_of "$G" "answered with commit ${commit[hubbench]}'s objects \(verified\)")
  t_meta=$(stamp_of "$G" "the swarm's metadata has the pinned torrent's shape")
  [[ -n $t_gone && -n $t_ask && -n $t_ok && -n $t_meta ]] ||
    { echo "$G's log lacks the hub-gone steps:" >&2; tail -n 30 "$work/$G.log" >&2; exit 1; }
  holder_used=$(grep -E -m1 "answered with commit ${commit[hubbench]}'s objects" "$work/$G.log" |
    sed -E 's/.*peer ([0-9.:]+) answered.*/\1/')
  rejected=$(ctl_of "$G" --json show "$id" | jq -r '.upstream.rejected_peers // [] | length')
fi

# --- report ---------------------------------------------------------------------------------
machine_line
printf 'model: %d files, %d bytes (%.0f MiB, random), commit %s; git object bundle %s bytes\n' \
  "$nfiles" "$bytes" "$(echo "$bytes / 1048576" | bc -l)" "${commit[hubbench]}" "$bundle"
mib=$(echo "$bytes / 1048576" | bc -l)
printf '%-52s %9s %9s %7s %7s %9s %9s\n' "fetch of hubbench by a fresh node (s from request)" \
  "1st byte" complete "MiB/s" "CPU s" "peers MiB" "web MiB"
declare -A fb done_ cpu
while read -r tag f c u p w; do
  fb[$tag]=$f
  done_[$tag]=$c
  cpu[$tag]=$u
  case $tag in
    a1) label="(a1) hub up, hub's resolve URLs alone" ;;
    a2) label="(a2) hub up, swarm (A, B) + hub web seed" ;;
    b) label="(b) hub down: DHT + pin exchange, peers only" ;;
  esac
  printf '%-52s %9.2f %9.2f %7.0f %7.2f %9.0f %9.0f\n' "$label" "$f" "$c" \
    "$(echo "$mib / $c" | bc -l)" "$u" "$(echo "$p / 1048576" | bc -l)" \
    "$(echo "$w / 1048576" | bc -l)"
done <"$work/fetch.dat"
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
for a in a1 a2; do
  [[ -n ${fb[b]:-} && -n ${fb[$a]:-} ]] || continue
  printf 'ratios hub down / %s: first byte %sx, complete %sx, CPU %sx\n' "$a" \
    "$(ratio "${fb[b]}" "${fb[$a]}")" "$(ratio "${done_[b]}" "${done_[$a]}")" \
    "$(ratio "${cpu[b]}" "${cpu[$a]}")"
done
[[ -z $G ]] || printf '(b) s from the request: hub failure seen %.3f, first peer to ask %.3f, objects verified %.3f, swarm metadata checked %.3f; holder %s; %s peers rejected\n' \
  "$(fsub "$t_gone" "$T0")" "$(fsub "$t_ask" "$T0")" "$(fsub "$t_ok" "$T0")" \
  "$(fsub "$t_meta" "$T0")" "$holder_used" "$rejected"
[[ -z $G ]] || printf '(b) DHT lookup %.3f s (hub failure -> first peer), pin exchange %.3f s (-> objects verified), swarm join %.3f s (-> metadata checked)\n' \
  "$(fsub "$t_ask" "$t_gone")" "$(fsub "$t_ok" "$t_ask")" "$(fsub "$t_meta" "$t_ok")"
echo "(c) findability of a new ${FRESH_MIB} MiB release, s from the holder's completion (its show):"
printf '%-6s %-7s %13s %10s %13s %11s %9s\n' round holder "holder fetch" announce "L verified" \
  "L 1st byte" "L done"
while read -r k h hf an ve f1 co; do
  printf '%-6s %-7s %13.2f %10.2f %13.2f %11.2f %9.2f\n' "$k" "$h" "$hf" "$an" "$ve" "$f1" "$co"
done <"$work/find.dat"
awk '{ a += $4; v += $5; f += $6; n++ } END { if (n) printf "(c) mean over %d rounds: announce %.2f s, L verified %.2f s, L first byte %.2f s\n", n, a / n, v / n, f / n }' \
  "$work/find.dat"
if [[ -s $work/failures.txt ]]; then
  echo "failed fetches ($(wc -l <"$work/failures.txt")):"
  cat "$work/failures.txt"
fi
echo "first byte: first poll (<= 10 Hz) with downloaded_bytes > 0 (counters refresh every 0.5 s);" \
  "complete: every file hashed against the pin and the view built; CPU: the fetching daemon."

awk '{ print "\"" $1 "\"", $2, $3 }' "$work/fetch.dat" >"$work/plot.dat"
plot "$src/docs/bench/hub-gone.png" "
set title 'fetch of a ${size_mib} MiB pinned release, hub up vs down (load avg at start: $load_start)'
set ylabel 'seconds from the fetch request'
set style data histogram
set style histogram clustered
set style fill solid 0.6 border -1
set yrange [0:*]
set grid ytics
set key left top
plot '$work/plot.dat' using 2:xtic(1) title 'first byte' lc rgb '#4477aa', \
     '' using 3 title 'complete' lc rgb '#ee6677'"
