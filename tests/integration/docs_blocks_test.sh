#!/usr/bin/env bash
# Runs every command block marked runnable (a fence opened with "```sh runnable") in README.md
# and docs/*.md, so the documented commands keep working. Per document: a fresh empty directory
# (the cwd) with the repository's manifests/ and scripts/ linked in, weightsctl and weightsd on
# PATH, HOME and the XDG directories inside it, and a weightsd on 127.0.0.1 whose socket is
# $WEIGHTSD_SOCKET. The blocks of one document run in order, each in its own
# `bash -euo pipefail`: files carry over, shell variables do not. The convention is documented
# in docs/writing-docs.md.
# Env: WEIGHTSD, WEIGHTSCTL, WEIGHTS_SOURCE_DIR (set by ctest).
set -euo pipefail

: "${WEIGHTSD:?set WEIGHTSD to the weightsd binary}"
: "${WEIGHTSCTL:?set WEIGHTSCTL to the weightsctl binary}"
: "${WEIGHTS_SOURCE_DIR:?}"
src=$WEIGHTS_SOURCE_DIR

# Short base path: the daemon's socket lives under it.
work=$(mktemp -d /tmp/wdoc-XXXXXX)
daemon_pid=
cleanup() {
  [[ -n $daemon_pid ]] && kill -KILL "$daemon_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# weightsd_check_exposure; every weightsd here, a block's too, runs the private network profile.
HARNESS_DIR=$work
source "$src/tests/lib/harness.sh"
mkdir -p "$work/bin"
ln -s "$(realpath "$WEIGHTSCTL")" "$work/bin/weightsctl"
ln -s "$(realpath "$WEIGHTSD")" "$work/bin/weightsd"

failures=0
blocks=0
# extract FILE OUTDIR: writes OUTDIR/NNN.sh per runnable block, first line "# FILE:LINE".
extract() {
  awk -v file="$1" -v out="$2" '
    /^```sh runnable[ \t]*$/ { n++; name = sprintf("%s/%03d.sh", out, n); print "# " file ":" NR + 1 > name; on = 1; next }
    on && /^```[ \t]*$/ { on = 0; close(name); next }
    on { print > name }
    END { if (on) { print "unterminated runnable block in " file > "/dev/stderr"; exit 1 } }
  ' "$src/$1"
}

stop_daemon() {
  if [[ -n $daemon_pid ]]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=
  fi
}

docs=(README.md)
for f in "$src"/docs/*.md; do docs+=("docs/$(basename "$f")"); done
for doc in "${docs[@]}"; do
  d=$work/$(tr '/.' '__' <<<"$doc")
  mkdir -p "$d/blocks" "$d/cwd"
  extract "$doc" "$d/blocks"
  shopt -s nullglob
  scripts=("$d"/blocks/*.sh)
  shopt -u nullglob
  ((${#scripts[@]} > 0)) || continue
  ln -s "$src/manifests" "$d/cwd/manifests"
  ln -s "$src/scripts" "$d/cwd/scripts"
  env_vars=(
    PATH="$work/bin:$PATH" HOME="$d/home" XDG_CONFIG_HOME="$d/home/.config"
    XDG_STATE_HOME="$d/home/.local/state" XDG_RUNTIME_DIR="$d/run" WEIGHTSD_SOCKET="$d/ctl.sock"
    NO_COLOR=1
  )
  mkdir -p "$d/home" "$d/run"
  "$WEIGHTSD" --state-dir "$d/daemon-state" --socket "$d/ctl.sock" --listen 127.0.0.1:0 \
    >"$d/daemon.log" 2>&1 &
  daemon_pid=$!
  deadline=$((SECONDS + 30))
  until "$WEIGHTSCTL" --socket "$d/ctl.sock" status >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || ! kill -0 "$daemon_pid" 2>/dev/null; then
      cat "$d/daemon.log" >&2
      echo "FAIL: test daemon for $doc did not start" >&2
      exit 1
    fi
    sleep 0.05
  done
  weightsd_check_exposure "$d/ctl.sock" || exit 1
  for s in "${scripts[@]}"; do
    blocks=$((blocks + 1))
    where=$(head -n 1 "$s" | cut -c3-)
    rc=0
    (cd "$d/cwd" && env "${env_vars[@]}" timeout 120 bash -euo pipefail "$s") >"$s.out" 2>&1 || rc=$?
    if [[ $rc -eq 0 ]]; then
      echo "ok: $where"
    else
      failures=$((failures + 1))
      echo "FAIL: $where exited $rc" >&2
      sed 's/^/  | /' "$s" >&2
      echo "  output:" >&2
      sed 's/^/  > /' "$s.out" >&2
    fi
  done
  stop_daemon
done
echo "$blocks runnable blocks, $failures failed"
((blocks > 0)) || { echo "FAIL: no runnable blocks found" >&2; exit 1; }
((failures == 0))
