#!/usr/bin/env bash
# Hashing throughput: `openssl dgst -sha256` (one SHA-256 pass) versus weightsd's hasher (plain
# SHA-256 + BEP 52 16 KiB-block merkle leaves + git oid for small files) on the same page-cached
# files, single-threaded and with 2 threads on 2 files.
#   bench/hash/run.sh [HASH_BENCH_BINARY] [SIZE_MIB_PER_FILE]
# Default binary: build/bench/hash_bench; default size: 1024 MiB per file (2 files).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-$here/../../build/bench/hash_bench}
size_mib=${2:-1024}
[[ -x $bench ]] || { echo "hash_bench not found at $bench (build target hash_bench)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/weights-hash-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
a=$work/a.bin
b=$work/b.bin
echo "creating 2 x ${size_mib} MiB of random data in $work" >&2
openssl rand -out "$a" $((size_mib * 1024 * 1024))
openssl rand -out "$b" $((size_mib * 1024 * 1024))
cat "$a" "$b" >/dev/null  # warm the page cache
cat "$a" "$b" >/dev/null

mib=$((2 * size_mib))
# Each measurement: wall seconds and CPU seconds (user+sys). On a shared machine CPU time is the
# steadier comparison; wall time is what a user sees.
measure() {  # measure NAME CMD... -> sets W_<NAME> and C_<NAME>
  local name=$1 out
  shift
  out=$(/usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >"$work/out.$name" && cat "$work/time")
  read -r wall user sys <<<"$out"
  printf -v "W_$name" '%s' "$wall"
  printf -v "C_$name" '%s' "$(echo "$user + $sys" | bc -l)"
}
measure openssl openssl dgst -sha256 "$a" "$b"
measure one "$bench" --threads 1 "$a" "$b"
measure two "$bench" --threads 2 "$a" "$b"
# One file on two threads: the plain SHA-256 and the block leaves run in parallel (pipeline).
measure openssl1 openssl dgst -sha256 "$a"
measure one1 "$bench" --threads 1 "$a"
measure pipe1 "$bench" --threads 2 "$a"

rate() { printf '%.1f' "$(echo "$mib / $1" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "sha_ni: $(grep -q sha_ni /proc/cpuinfo && echo yes || echo no), $(openssl version | cut -d' ' -f1-2)"
echo "data: 2 files x ${size_mib} MiB, page-cached; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-30s %8s %10s %8s %12s %8s\n' "" "wall s" "MiB/s" "cpu s" "MiB/cpu-s" "speed"
row() {  # row LABEL NAME
  local w c
  w=$(eval echo "\$W_$2")
  c=$(eval echo "\$C_$2")
  printf '%-30s %8.2f %10s %8.2f %12s %7sx\n' "$1" "$w" "$(rate "$w")" "$c" "$(rate "$c")" \
    "$(ratio "$W_openssl" "$w")"
}
row "openssl dgst -sha256" openssl
row "weightsd hasher, 1 thread" one
row "weightsd hasher, 2 threads" two
echo "speed = openssl wall / wall; 2 threads vs 1 thread: $(ratio "$W_one" "$W_two")x wall"
half=$((size_mib))
printf 'one file (%s MiB): openssl %.2f s, 1 thread %.2f s (%sx), 2-thread pipeline %.2f s (%sx)\n' \
  "$half" "$W_openssl1" "$W_one1" "$(ratio "$W_openssl1" "$W_one1")" "$W_pipe1" \
  "$(ratio "$W_openssl1" "$W_pipe1")"
echo "raw: $(cat "$work/out.one")"
echo "raw: $(cat "$work/out.two")"
