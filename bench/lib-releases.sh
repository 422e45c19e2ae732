# Generates a publisher feed of many tiny releases (sourced after bench/lib.sh).
# bench_tiny_releases PUB FIRST LAST FILE_KIB : adds releases bench/m<i>@r<i> for i in FIRST..LAST,
# each one directory $work/rel/<i> with a unique config.json and, when FILE_KIB > 0, a sparse
# weights.bin of FILE_KIB KiB whose first bytes are unique (so no two releases share content).
# One `weightsctl release add` per release (no --publish); prints "SECONDS_TOTAL" of the adds and
# appends "<i> <seconds>" per release to $work/release-add.times. Publish afterwards.
bench_tiny_releases() {
  local pub=$1 first=$2 last=$3 kib=$4 i d t0 t1 total=0
  for ((i = first; i <= last; i++)); do
    d=$work/rel/$i
    mkdir -p "$d"
    printf '{"bench_release": %d}\n' "$i" >"$d/config.json"
    if ((kib > 0)); then
      printf 'weights-bench-%08d' "$i" >"$d/weights.bin"
      truncate -s "${kib}K" "$d/weights.bin"
    fi
    t0=$(now)
    "$W" release add "$d" --feed "$pub" --model "bench/m$i" --revision "r$i" \
      --license apache-2.0 --threads 1 >/dev/null
    t1=$(now)
    echo "$i $(fsub "$t1" "$t0")" >>"$work/release-add.times"
  done
}
# Mean seconds per `release add` over the releases numbered FROM..TO in release-add.times.
add_time_mean() {
  awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b { s += $2; n++ } END { printf "%.3f", n ? s / n : 0 }' \
    "$work/release-add.times"
}
