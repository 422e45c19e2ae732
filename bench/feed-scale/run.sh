#!/usr/bin/env bash
# Feed scale: a publisher feed of N tiny releases and one subscribing weightsd. Measures, in one
# run:
#   - generating the feed (bench_feed_gen: add_release() in one process, CHUNK releases per
#     scratch repo, merged; see bench/lib/feed_gen.cpp for why) and publishing it;
#   - the subscriber: `feed add` (verifies root and runs the first full refresh: timestamp,
#     snapshot, targets of N releases, every release manifest it needs), RSS before/after;
#     `feed refresh` with nothing new; then 3 times: the publisher adds one release with
#     `weightsctl release add` (a new process on the N-release feed) and `feed publish`, and
#     the subscriber runs `feed refresh` (the incremental refresh; goal < 1 s);
#   - `weightsctl feed list` and `weightsctl --json feed show`-style listing time.
# Usage: bench/feed-scale/run.sh     (N = FEED_RELEASES, default 10000; FEED_GEN_CHUNK, default 25;
#        FEED_CACHE=DIR to keep/reuse the generated feed; FEED_BINS=256 for a feed with hashed
#        bins, docs/manifest-format.md §4.5; bench/feed-scale/bins.sh compares the two alone)
# The feed is served from a local directory (file location), so the times are the daemon's own
# work (parsing, signature checks, SQLite), not HTTP.
# Plot: docs/bench/feed-scale.png with gnuplot-nox.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$src/bench/lib.sh"
N=${FEED_RELEASES:-10000}
CHUNK=${FEED_GEN_CHUNK:-25}
GEN=${BENCH_FEED_GEN:-$src/build/bench/bench_feed_gen}
[[ -x $GEN ]] || { echo "not found: $GEN (cmake --build build --target bench_feed_gen)" >&2; exit 1; }
time_cmd() { local t=$(now); "$@" >/dev/null; fsub "$(now)" "$t"; }
# The API through curl: weightsctl gives up after 30 s, and a full refresh of a large feed can
# take longer (see docs/benchmarks.md).
api() { # METHOD PATH [BODY]
  curl -sf --max-time 1800 --unix-socket "$work/sub/ctl.sock" -X "$1" \
    ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "http://weightsd$2"
}
# Refreshes run on the daemon's workers: `POST /v1/feeds` and `.../refresh` answer at once with
# a ticket. refresh_s METHOD PATH [BODY] prints the seconds until the feed's refresh.completed
# reaches that ticket (polled every 50 ms, so up to +0.05 s), and fails unless it ended as `updated`
# or `up_to_date`. While the first refresh runs, it also times one `weightsctl --json list`
# (whether the API stays responsive; printed to $work/during.s).
refresh_s() {
  local t0 ticket j deadline=$((SECONDS + 1800)) probed=""
  t0=$(now)
  ticket=$(api "$@" | jq -e .ticket) || { echo "no ticket from $2" >&2; return 1; }
  while :; do
    j=$(api GET /v1/feeds/bench)
    (($(jq .refresh.completed <<<"$j") >= ticket)) && break
    if [[ -z $probed && -n ${PROBE_DURING:-} ]]; then
      probed=1
      time_cmd ctl_of sub --json list >"$work/during.s"
      jq -r '.refresh.running' <<<"$(api GET /v1/feeds/bench)" >"$work/during.running"
    fi
    ((SECONDS < deadline)) || { echo "refresh $ticket did not complete" >&2; return 1; }
    sleep 0.05
  done
  fsub "$(now)" "$t0"
  case $(jq -r .refresh.last.result <<<"$j") in
    updated | up_to_date) ;;
    *) echo "refresh $ticket: $(jq -c .refresh.last <<<"$j")" >&2; return 1 ;;
  esac
}

log "feed of $N releases (config.json each) in $work, chunks of $CHUNK"
# FEED_CACHE=DIR keeps the generated feed in DIR/N (and reuses it on the next run with the same
# N): generating 10,000 releases takes minutes, and the subscriber's numbers do not depend on it.
cache=${FEED_CACHE:+$FEED_CACHE/$N${FEED_BINS:+-bins$FEED_BINS}}
if [[ -n $cache && -f $cache/gen.times ]]; then
  log "reusing the feed generated in $cache"
  cp -a "$cache/pub" "$cache/rel" "$cache/gen.times" "$cache/gen.seconds" "$work/"
  gen_s=$(cat "$work/gen.seconds")
else
  "$W" feed init "$work/pub" ${FEED_BINS:+--bins "$FEED_BINS"} >/dev/null
  t0=$(now)
  $FAST "$GEN" "$work/pub" "$work/rel" 1 "$N" 0 stage "$CHUNK" >"$work/gen.times"
  gen_s=$(fsub "$(now)" "$t0")
  if [[ -n $cache ]]; then
    rm -rf "$cache" && mkdir -p "$cache"
    echo "$gen_s" >"$cache/gen.seconds"
    cp -a "$work/pub" "$work/rel" "$work/gen.times" "$cache/"
  fi
fi
gen_mean=$(awk '{ s += $2; c++ } END { printf "%.4f", s / c }' "$work/gen.times")
pub_s=$(time_cmd "$W" feed publish "$work/pub")
targets_bytes=$(stat -c %s "$(ls -v "$work"/pub/public/metadata/*.targets.json | tail -n1)")
root=$work/pub/public/metadata/1.root.json

bench_daemon sub 127.0.0.2
pid=$(pid_of sub)
rss0=$(rss_kib "$pid")
cpu0=$(cpu_s "$pid")
log "subscriber: feed add (first refresh of $N releases)"
body=$(jq -n --arg loc "$work/pub/public" --rawfile root "$root" '{name: "bench", location: $loc, root: $root}')
full_s=$(PROBE_DURING=1 refresh_s POST /v1/feeds "$body")
cpu_full=$(fsub "$(cpu_s "$pid")" "$cpu0")
rss_full=$(rss_kib "$pid")
hwm_full=$(hwm_kib "$pid")
nrel=$(api GET /v1/feeds/bench | jq .releases)
same_s=$(refresh_s POST /v1/feeds/bench/refresh)
list_s=$(time_cmd ctl_of sub --json feed list)
fetch_s=$(time_cmd api POST /v1/fetch '{"name": "bench/m1", "include": ["config.json"]}')
db_bytes=$(find "$work/sub/state" -maxdepth 2 -name 'state.sqlite*' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')

: >"$work/incr.dat"
for k in 1 2 3; do
  i=$((N + k))
  d=$work/rel/$i
  mkdir -p "$d"
  printf '{"bench_release": %d}\n' "$i" >"$d/config.json"
  add_s=$(time_cmd "$W" release add "$d" --feed "$work/pub" --model "bench/m$i" --revision "r$i" \
    --license apache-2.0 --threads 1)
  p_s=$(time_cmd "$W" feed publish "$work/pub")
  c0=$(cpu_s "$pid")
  r_s=$(refresh_s POST /v1/feeds/bench/refresh)
  c_s=$(fsub "$(cpu_s "$pid")" "$c0")
  echo "$k $add_s $p_s $r_s $c_s" >>"$work/incr.dat"
done
nrel2=$(api GET /v1/feeds/bench | jq .releases)
rss_end=$(rss_kib "$pid")
resolve_s=$(time_cmd ctl_of sub --json feed list)

# --- report --------------------------------------------------------------------------------
mib() { printf '%.1f' "$(echo "$1 / 1024" | bc -l)"; }
machine_line
printf 'feed: %d releases (one config.json each); targets.json %d bytes\n' "$N" "$targets_bytes"
printf 'generation: %.1f s for %d add_release() calls (%.2f ms each, chunks of %d); feed publish %.2f s\n' \
  "$gen_s" "$N" "$(echo "$gen_mean * 1000" | bc -l)" "$CHUNK" "$pub_s"
printf 'subscriber: feed add + full refresh %.2f s (CPU %.2f s), releases listed: %s\n' "$full_s" \
  "$cpu_full" "${nrel:-?}"
printf '  RSS before %s MiB, after %s MiB (peak %s MiB) = %.2f KiB per release; SQLite %d bytes\n' \
  "$(mib "$rss0")" "$(mib "$rss_full")" "$(mib "$hwm_full")" "$(echo "($rss_full - $rss0) / $N" | bc -l)" "$db_bytes"
printf '  `weightsctl --json list` issued during the first refresh: %.3f s (refresh still running: %s)\n' \
  "$(cat "$work/during.s" 2>/dev/null || echo 0)" "$(cat "$work/during.running" 2>/dev/null || echo '?')"
printf '  refresh with nothing new: %.3f s (%.3fx the full refresh); `--json feed list`: %.3f s;\n' \
  "$same_s" "$(echo "$same_s / $full_s" | bc -l)" "$list_s"
printf '  POST /v1/fetch resolving bench/m1 among %d releases: %.3f s\n' "$N" "$fetch_s"
echo "one more release, 3 times (publisher: release add + feed publish on the $N-release feed; subscriber: feed refresh):"
printf '  %-4s %14s %14s %14s %14s %10s\n' "#" "release add s" "feed publish s" "refresh s" "refresh CPU s" "/full"
while read -r k a p r c; do
  printf '  %-4s %14.3f %14.3f %14.3f %14.3f %9.3fx\n' "$k" "$a" "$p" "$r" "$c" "$(echo "$r / $full_s" | bc -l)"
done <"$work/incr.dat"
printf 'releases listed after: %s; RSS at the end %s MiB\n' "${nrel2:-?}" "$(mib "$rss_end")"

{
  echo "\"full refresh (feed add)\" $full_s"
  echo "\"refresh, nothing new\" $same_s"
  awk '{ printf "\"incremental %d\" %s\n", $1, $4 }' "$work/incr.dat"
} >"$work/bars.dat"
plot "$src/docs/bench/feed-scale.png" "
set title 'subscriber refresh times, feed of $N releases (load avg at start: $load_start)'
set ylabel 'seconds'
set style fill solid 0.6
set boxwidth 0.6
set grid ytics
set yrange [0:*]
set xtics rotate by -20
plot '$work/bars.dat' using 0:2:xtic(1) with boxes notitle, '' using 0:2:(sprintf('%.2f', \$2)) with labels offset 0,1 notitle"
