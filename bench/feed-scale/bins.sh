#!/usr/bin/env bash
# Flat feed vs hashed bins through the trust core, one process, one run (bench_feed_bins):
# a publisher feed of N releases (three targets each, like `release add`), a client's first
# refresh through the real StateStore, then ROUNDS times one more release (publish timed) and
# the incremental refresh (timed: load, verify, commit, reload), with the files and bytes it
# fetched. No daemon and no HTTP: the client's own work.
# Usage: bench/feed-scale/bins.sh   (FEED_RELEASES, default 10000; FEED_BINS, default
#        "0 256 1024", 0 = flat; ROUNDS, default 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$src/bench/lib.sh"
N=${FEED_RELEASES:-10000}
BINS=${FEED_BINS:-0 256 1024}
ROUNDS=${ROUNDS:-3}
BIN=${BENCH_FEED_BINS:-$src/build/bench/bench_feed_bins}
[[ -x $BIN ]] || { echo "not found: $BIN (cmake --build build --target bench_feed_bins)" >&2; exit 1; }
log "feed of $N releases, variants: $BINS (0 = flat), $ROUNDS incremental rounds, in $work"
# shellcheck disable=SC2086
$FAST "$BIN" "$work" "$N" "$ROUNDS" $BINS >"$work/out.txt"
machine_line
printf '%-10s %5s %10s %10s %6s %12s %8s %8s\n' variant round publish_s refresh_s files bytes fetched kept
awk '$2 ~ /^[0-9]+$/ { printf "%-10s %5s %10.3f %10.3f %6s %12s %8s %8s  %s %s %s %s %s %s %s %s\n",
  $1, ($2 == 0 ? "full" : $2), $3, $4, $5, $6, $7, $8, $10, $11, $12, $13, $14, $15, $16, $17 }' "$work/out.txt"
