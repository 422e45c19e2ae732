#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in their own build dir, replays every crash kept in
# tests/fuzz/regressions/<name>/ and runs each target for a bounded time (the CI run; long
# campaigns are scripts/fuzz). Exits non-zero if any target crashes, leaks, times out, fails a
# regression input or fails to build.
#
#   tests/fuzz/run-fuzz.sh [target...]      (default: every tests/fuzz/<name>_fuzz.cpp)
#
# Environment: FUZZ_BUILD_DIR (default <repo>/build-fuzz), FUZZ_SECONDS per target (default 10),
# FUZZ_JOBS build parallelism (default 2), FUZZ_ARGS extra libFuzzer flags.
# New inputs found go to $FUZZ_BUILD_DIR/corpus/<name>; crash reproducers to
# $FUZZ_BUILD_DIR/artifacts/<name>/ (rerun one with: fuzz_<name> <file>).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
seconds=${FUZZ_SECONDS:-10}
jobs=${FUZZ_JOBS:-2}

if ! command -v clang++ >/dev/null; then
  echo "run-fuzz.sh: clang++ not found (libFuzzer needs clang)" >&2
  exit 2
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in "$here"/*_fuzz.cpp; do
    name=$(basename "$f" _fuzz.cpp)
    targets+=("$name")
  done
fi

cmake -S "$src" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWEIGHTS_FUZZ=ON -DWEIGHTS_TESTS=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}"

failed=()
for name in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$name"
  work="$build/corpus/$name"
  artifacts="$build/artifacts/$name"
  mkdir -p "$work" "$artifacts"
  seeds=()
  [ -d "$here/corpus/$name" ] && seeds+=("$here/corpus/$name")
  flags=(-rss_limit_mb=2048 -timeout=10)
  [ -f "$here/dict/$name.dict" ] && flags+=(-dict="$here/dict/$name.dict")
  regressions=("$here/regressions/$name"/*)
  if [ -e "${regressions[0]}" ]; then
    echo "== fuzz_$name: replaying ${#regressions[@]} regression input(s)"
    if ! "$bin" "${flags[@]}" -runs=1 "${regressions[@]}" >"$artifacts/replay.log" 2>&1; then
      cat "$artifacts/replay.log" >&2
      failed+=("$name(regression)")
      continue
    fi
  fi
  echo "== fuzz_$name for ${seconds}s"
  # The first corpus dir receives new inputs; the checked-in seeds are only read.
  # shellcheck disable=SC2086
  if ! "$bin" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$work" "${seeds[@]}"; then
    failed+=("$name")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "run-fuzz.sh: FAILED: ${failed[*]} (reproducers in $build/artifacts/)" >&2
  exit 1
fi
echo "run-fuzz.sh: all targets ran ${seconds}s without failures"
