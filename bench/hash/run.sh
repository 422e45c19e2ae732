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

now() { date +%s.%N; }
mib=$((2 * size_mib))

t0=$(now)
openssl dgst -sha256 "$a" "$b" >/dev/null
t1=$(now)
openssl_s=$(echo "$t1 - $t0" | bc -l)

ours1=$("$bench" --threads 1 "$a" "$b")
ours2=$("$bench" --threads 2 "$a" "$b")
field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/" <<<"$2"; }
ours1_s=$(field seconds "$ours1")
ours2_s=$(field seconds "$ours2")

rate() { printf '%.1f' "$(echo "$mib / $1" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
  "sha_ni: $(grep -q sha_ni /proc/cpuinfo && echo yes || echo no), $(openssl version)"
echo "data: 2 files x ${size_mib} MiB, page-cached; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %8.3f s  %8s MiB/s\n' "openssl dgst -sha256 (sequential)" "$openssl_s" "$(rate "$openssl_s")"
printf '%-34s %8.3f s  %8s MiB/s  %sx openssl\n' "weightsd hasher, 1 thread" "$ours1_s" \
  "$(rate "$ours1_s")" "$(ratio "$openssl_s" "$ours1_s")"
printf '%-34s %8.3f s  %8s MiB/s  %sx openssl, %sx 1 thread\n' "weightsd hasher, 2 threads" \
  "$ours2_s" "$(rate "$ours2_s")" "$(ratio "$openssl_s" "$ours2_s")" "$(ratio "$ours1_s" "$ours2_s")"
echo "raw: $ours1"
echo "raw: $ours2"
