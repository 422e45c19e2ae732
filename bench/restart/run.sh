#!/usr/bin/env bash
# Restart at scale: one node seeds N tiny releases of one publisher feed, is stopped with
# SIGTERM and started again. Measures, in one run:
#   - generating the feed: add_release() per release in one process (bench_feed_gen) and
#     `weightsctl release add` per release on a sample of 10 more once the feed holds N;
#   - the first seeding: N `POST /v1/seed` (one curl, keep-alive) until all N are complete and
#     seeding; RSS of weightsd before the feed, with the feed, and seeding N (per release);
#   - resume data: bytes per release in <state>/resume/;
#   - `weightsctl list` (human and --json) wall time with N releases;
#   - SIGTERM to exit; restart to "all N seeding": polling `weightsctl --json status` every 50 ms
#     (releases_loading), and once none is loading `--json list` until all N are complete and
#     seeding (a list of N releases costs the daemon O(N), so polling it every 50 ms made the
#     measurement itself grow as N^2); whether any list saw a release in state verifying (libtorrent
#     checking or our SHA-256 pass), the bytes
#     the restarted daemon read (/proc/PID/io rchar, page cache included) against the payload
#     bytes (a re-check would read them all), RSS after the restart; SIGTERM again (idle: no
#     resume file should be rewritten).
# Usage: bench/restart/run.sh            (N = RESTART_RELEASES, default 1000;
#                                         file size RESTART_FILE_KIB, default 64 (sparse))
# Plot: docs/bench/restart.png (releases seeding vs seconds since exec), with gnuplot-nox.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$src/bench/lib.sh"
source "$src/bench/lib-releases.sh"
N=${RESTART_RELEASES:-1000}
KIB=${RESTART_FILE_KIB:-64}
GEN=${BENCH_FEED_GEN:-$src/build/bench/bench_feed_gen}
[[ -x $GEN ]] || { echo "not found: $GEN (cmake --build build --target bench_feed_gen)" >&2; exit 1; }
command -v curl >/dev/null || { echo "missing tool: curl" >&2; exit 1; }

# --- the feed ------------------------------------------------------------------------------
log "feed of $N releases (config.json + ${KIB} KiB sparse weights.bin each) in $work"
bench_feed "$work/pub"
t0=$(now)
$FAST "$GEN" "$work/pub" "$work/rel" 1 "$N" "$KIB" publish 25 >"$work/gen.times"
gen_s=$(fsub "$(now)" "$t0")
gen_first=$(awk -v n="$N" '$1 <= 100 { s += $2; c++ } END { printf "%.4f", s / c }' "$work/gen.times")
gen_last=$(awk -v n="$N" '$1 > n - 100 { s += $2; c++ } END { printf "%.4f", s / c }' "$work/gen.times")
log "CLI sample: 10 x weightsctl release add on top of $N"
cp -a "$work/pub" "$work/pub-cli"
bench_tiny_releases "$work/pub-cli" $((N + 1)) $((N + 10)) "$KIB"
cli_add=$(add_time_mean $((N + 1)) $((N + 10)))
rm -rf "$work/pub-cli"
root=$work/pub/public/metadata/1.root.json
payload=$(du -cb --apparent-size "$work"/rel/*/* | tail -n1 | cut -f1)

# --- first start and seeding ---------------------------------------------------------------
bench_daemon node 127.0.0.2
pid=$(pid_of node)
rss_empty=$(rss_kib "$pid")
ctl_of node feed add bench "$work/pub/public" --root "$root" >/dev/null
rss_feed=$(rss_kib "$pid")
log "seeding $N releases (one curl, keep-alive)"
seed_requests_curl "$work/node/ctl.sock" bench "$work" "$N" >"$work/seed.curl"
count_seeding() { # NAME -> "seeding verifying total loading"
  ctl_of "$1" --json list |
    jq -r '.releases | [ (map(select(.state == "complete" and .seeding)) | length),
             (map(select(.state == "verifying")) | length), length,
             (map(select(.state == "loading")) | length) ] | @tsv'
}
all_seeding() { read -r s _ _ _ < <(count_seeding node) && ((s == N)); }
t0=$(now)
curl -s -K "$work/seed.curl" >"$work/seed.codes"
t_req=$(fsub "$(now)" "$t0")
bad=$(grep -vc '^202$' "$work/seed.codes" || true)
((bad == 0)) || { echo "$bad seed requests did not answer 202: $(sort "$work/seed.codes" | uniq -c)" >&2; exit 1; }
wait_for 600 all_seeding || { echo "not all $N seeding after 600 s: $(count_seeding node)" >&2; exit 1; }
t_seed=$(fsub "$(now)" "$t0")
rss_seeding=$(rss_kib "$pid")
anon_seeding=$(anon_kib "$pid")
hwm_seeding=$(hwm_kib "$pid")
# Let the periodic save write resume data for everything, then measure list.
sleep 1
time_cmd() { local t=$(now); "$@" >/dev/null; fsub "$(now)" "$t"; }
list_h=$(time_cmd ctl_of node list)
list_j=$(time_cmd ctl_of node --json list)
list_j2=$(time_cmd ctl_of node --json list)

# --- restart -------------------------------------------------------------------------------
log "SIGTERM"
stop_s=$(stop_daemon node TERM)
resume_files=$(find "$work/node/state" -path '*/resume/*.resume' | wc -l)
resume_bytes=$(find "$work/node/state" -path '*/resume/*.resume' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
db_bytes=$(find "$work/node/state" -maxdepth 2 -name 'state.sqlite*' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
log "restart"
echo "0 0 0 0" >"$work/restart.timeline" # until the API answers, nothing is reported
loading_now() { # -> "releases loading" from GET /v1/status
  ctl_of node --json status | jq -r '"\(.releases) \(.releases_loading)"'
}
# Polls the restarted node until all N seed (sets t_answer, first_loading, ready, seen_verifying,
# list_polls; appends to restart.timeline).
wait_all_seeding() {
  seen_verifying=0
  t_answer=""
  first_loading=""
  ready=""
  deadline=$((SECONDS + 300))
  list_polls=0
  while ((SECONDS < deadline)); do
    if st=$(loading_now 2>/dev/null); then
      t=$(fsub "$(now)" "$t0")
      read -r total l <<<"$st"
      [[ -n $t_answer ]] || { t_answer=$t; first_loading=$l; }
      # Loaded (torrent added) is not yet seeding: the timeline's seeding column counts the loaded
      # ones; the final list below says whether they all seed.
      echo "$t $((total - l)) 0 $l" >>"$work/restart.timeline"
      if ((l == 0)) && out=$(count_seeding node 2>/dev/null); then
        list_polls=$((list_polls + 1))
        t=$(fsub "$(now)" "$t0")
        read -r s v total l <<<"$out"
        echo "$t $s $v $l" >>"$work/restart.timeline"
        seen_verifying=$((seen_verifying + v))
        if ((s == N)); then ready=$t; break; fi
      fi
    fi
    sleep 0.05
  done
}
t0=$(now)
"$D" --state-dir "$work/node/state" --socket "$work/node/ctl.sock" --listen 127.0.0.2:0 \
  >>"$work/node.log" 2>&1 &
pid=$!
bench_pids+=("$pid")
echo "$pid" >"$work/node.pid"
disown "$pid"
wait_all_seeding
[[ -n $ready ]] || { echo "not all seeding 300 s after the restart: $(count_seeding node)" >&2; tail "$work/node.log" >&2; exit 1; }
weightsd_check_exposure "$work/node/ctl.sock" || exit 1
rchar=$(io_rchar "$pid")
read_bytes=$(io_read_bytes "$pid")
rss_restart=$(rss_kib "$pid")
sleep 2
rss_restart2=$(rss_kib "$pid")
cpu_restart=$(cpu_s "$pid")
checking_log=$(grep -ci 'checking\|recheck' "$work/node.log" || true)
# An idle stop after the restart: nothing changed, so no resume file should be written.
touch "$work/stop2.mark"
stop2_s=$(stop_daemon node TERM)
rewritten=$(find "$work/node/state" -path '*/resume/*.resume' -newer "$work/stop2.mark" | wc -l)

# --- report --------------------------------------------------------------------------------
mib() { printf '%.1f' "$(echo "$1 / 1024" | bc -l)"; }
per_rel_kib() { printf '%.1f' "$(echo "($1 - $2) / $N" | bc -l)"; }
machine_line
echo "releases: $N (each config.json + ${KIB} KiB sparse weights.bin, 2 files; payload $payload bytes)"
printf 'feed generation: add_release() %.1f s in total; per release %.1f ms (first 100), %.1f ms (last 100)\n' \
  "$gen_s" "$(echo "$gen_first * 1000" | bc -l)" "$(echo "$gen_last * 1000" | bc -l)"
printf '  `weightsctl release add` (new process, feed of %d): %.0f ms per release (mean of 10)\n' "$N" \
  "$(echo "$cli_add * 1000" | bc -l)"
printf 'first seeding: %d seed requests answered in %.2f s; all seeding after %.2f s (%.1f ms per release)\n' \
  "$N" "$t_req" "$t_seed" "$(echo "$t_seed * 1000 / $N" | bc -l)"
printf 'RSS: empty %s MiB, with the feed %s MiB, seeding %d: %s MiB (anon %s MiB, peak %s MiB) = %s KiB per release\n' \
  "$(mib "$rss_empty")" "$(mib "$rss_feed")" "$N" "$(mib "$rss_seeding")" "$(mib "$anon_seeding")" \
  "$(mib "$hwm_seeding")" "$(per_rel_kib "$rss_seeding" "$rss_feed")"
printf 'resume data: %d files, %d bytes = %.0f bytes per release; SQLite db files %d bytes\n' \
  "$resume_files" "$resume_bytes" "$(echo "$resume_bytes / $N" | bc -l)" "$db_bytes"
printf '`weightsctl list` with %d releases: %.3f s; `--json list`: %.3f s, %.3f s\n' "$N" "$list_h" "$list_j" "$list_j2"
printf 'SIGTERM to exit: %.2f s\n' "$stop_s"
printf 'restart: API answers after %.2f s (%d releases still loading), all %d seeding after %.2f s (goal < 5 s); ratio restart / first seeding %.2fx\n' \
  "$t_answer" "$first_loading" "$N" "$ready" "$(echo "$ready / $t_seed" | bc -l)"
printf '  lists (after none was loading) that saw a release verifying: %d of %d; log lines mentioning checking: %d\n' \
  "$seen_verifying" "$list_polls" "$checking_log"
printf '  bytes read by the restarted daemon: rchar %d (%.3fx the payload), from storage %d\n' \
  "$rchar" "$(echo "$rchar / $payload" | bc -l)" "$read_bytes"
printf '  RSS at ready %s MiB, 2 s later %s MiB = %s KiB per release; CPU %.2f s until then\n' \
  "$(mib "$rss_restart")" "$(mib "$rss_restart2")" "$(per_rel_kib "$rss_restart2" "$rss_empty")" "$cpu_restart"
printf 'SIGTERM after the restart (nothing changed): %.2f s, %d resume files rewritten\n' "$stop2_s" "$rewritten"

plot "$src/docs/bench/restart.png" "
set title 'weightsd restart with $N seeded releases (load avg at start: $load_start)'
set xlabel 'seconds since exec'
set ylabel 'releases'
set key left top
set grid
set xrange [0:*]
set yrange [0:*]
plot '$work/restart.timeline' using 1:2 with steps lw 2 title 'loaded, then complete and seeding (0 until the API answers)', \
     '' using 1:4 with steps title 'loading (torrent being added)', \
     '' using 1:3 with steps title 'verifying'"
