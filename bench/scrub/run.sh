#!/usr/bin/env bash
# Scrub throughput: a daemon seeding one release (make-weights.sh layout, SCRUB_SIZE_MIB, default
# 2048) re-hashes its stored files on `weightsctl scrub RELEASE`, against `openssl dgst -sha256`
# over the same page-cached files in the same run. Two scrubs:
#   - unthrottled (`[scrub] rate` far above the disk): the scrubber's own hashing throughput,
#     one file at a time on one pool thread like openssl; ratio = openssl time / scrub time
#     (goal: >= 0.9, the hashing benchmark's goal);
#   - at the default `[scrub] rate` (64 MiB/s; SCRUB_RATE): the throttle holds, i.e. the
#     achieved rate is at most the configured one and close to it.
# openssl and the unthrottled scrub run SCRUB_REPEAT times (default 3); the fastest of each counts.
# Usage: bench/scrub/run.sh        Plot: docs/bench/scrub.png (gnuplot-nox).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$src/bench/lib.sh"
SIZE=${SCRUB_SIZE_MIB:-2048}
RATE=${SCRUB_RATE:-64MiB}
for t in openssl; do command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }; done

model=bench-org/scrub-llm
rev=5crub001
shard=$((SIZE * 2 / 3))
log "release of ~$SIZE MiB (make-weights.sh, shard $shard MiB) in $work"
bash "$src/scripts/lib/make-weights.sh" "$work/w" "$shard" scrub-bench
bytes=$(du -cb "$work"/w/* | tail -n1 | cut -f1)
"$W" feed init "$work/pub" >/dev/null
"$W" release add "$work/w" --feed "$work/pub" --model "$model" --revision "$rev" --license apache-2.0 --publish >/dev/null
root=$work/pub/public/metadata/1.root.json

# scrub_min NAME CONFIG REPEAT : a daemon seeding the release with CONFIG runs `weightsctl scrub`
# REPEAT times (page-cached files, as for openssl); prints the fastest in seconds. A scrub ends
# when the daemon logs that every stored file matches (grep on its log: cheap, no API process
# taking CPU from the scrub on 2 cores).
scrub_min() {
  local name=$1 config=$2 repeat=$3 best="" t0 t dur k passes
  bench_daemon "$name" 127.0.0.2 --config "$config"
  ctl_of "$name" feed add bench "$work/pub/public" --root "$root" >/dev/null
  ctl_of "$name" seed "$work/w" --feed bench --model "$model" --revision "$rev" >/dev/null
  wait_for 120 bash -c "[[ \$('$W' --socket '$work/$name/ctl.sock' --json show '$model@$rev' | jq -r .state) == complete ]]" ||
    { echo "$name never completed seeding" >&2; exit 1; }
  passes() { grep -c "scrub: every stored file matches" "$work/$name.log" || true; }
  for ((k = 0; k < repeat; k++)); do
    cat "$work"/w/* >/dev/null
    local before
    before=$(passes)
    t0=$(now)
    ctl_of "$name" scrub "$model@$rev" >/dev/null
    local deadline=$((SECONDS + 3600))
    until (($(passes) > before)); do
      ((SECONDS < deadline)) || { echo "$name: scrub did not finish" >&2; exit 1; }
      grep -q "scrub:.*quarantine\|damaged" "$work/$name.log" &&
        { echo "$name: the scrub found damage in intact files" >&2; exit 1; }
      sleep 0.02
    done
    dur=$(fsub "$(now)" "$t0")
    if [[ -z $best ]] || (($(echo "$dur < $best" | bc -l))); then best=$dur; fi
  done
  stop_daemon "$name" TERM >/dev/null
  echo "$best"
}

printf '[scrub]\nrate = "1TiB"\n[metrics]\nlisten = "off"\n' >"$work/fast.toml"
printf '[scrub]\nrate = "%s"\n[metrics]\nlisten = "off"\n' "$RATE" >"$work/slow.toml"
rate_bytes=$(numfmt --from=iec "${RATE%iB}")

REPEAT=${SCRUB_REPEAT:-3}
ossl=""
for ((k = 0; k < REPEAT; k++)); do
  log "openssl dgst -sha256 (page-cached), run $((k + 1))/$REPEAT"
  cat "$work"/w/* >/dev/null
  t0=$(now)
  openssl dgst -sha256 "$work"/w/* >/dev/null
  t=$(fsub "$(now)" "$t0")
  if [[ -z $ossl ]] || (($(echo "$t < $ossl" | bc -l))); then ossl=$t; fi
done
log "scrub, unthrottled ($REPEAT runs)"
fast=$(scrub_min scrub-fast "$work/fast.toml" "$REPEAT")
log "scrub at $RATE/s"
slow=$(scrub_min scrub-slow "$work/slow.toml" 1)
mib() { echo "$bytes / 1048576 / $1" | bc -l; }
machine_line
printf 'release: %d bytes (%.0f MiB, %d files)\n' "$bytes" "$(echo "$bytes / 1048576" | bc -l)" "$(ls "$work/w" | wc -l)"
printf '%-38s %9s %12s\n' "" "seconds" "MiB/s"
printf '%-38s %9.2f %12.1f\n' "openssl dgst -sha256" "$ossl" "$(mib "$ossl")"
printf '%-38s %9.2f %12.1f\n' "weightsctl scrub (unthrottled)" "$fast" "$(mib "$fast")"
printf '%-38s %9.2f %12.1f\n' "weightsctl scrub ([scrub] rate $RATE)" "$slow" "$(mib "$slow")"
printf 'scrub throughput / openssl: %.2fx (goal >= 0.9)\n' "$(echo "$ossl / $fast" | bc -l)"
printf 'throttled scrub: %.1f MiB/s achieved for %.1f MiB/s configured (%.2fx)\n' \
  "$(mib "$slow")" "$(echo "$rate_bytes / 1048576" | bc -l)" "$(echo "$bytes / $slow / $rate_bytes" | bc -l)"

printf '"openssl dgst -sha256" %s\n"scrub, unthrottled" %s\n"scrub, rate %s" %s\n' \
  "$(mib "$ossl")" "$(mib "$fast")" "$RATE" "$(mib "$slow")" >"$work/scrub.dat"
plot_bars "$src/docs/bench/scrub.png" \
  "SHA-256 re-hash of a $SIZE MiB release, page-cached (load avg at start: $load_start)" \
  'MiB/s' "$work/scrub.dat"
