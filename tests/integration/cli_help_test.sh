#!/usr/bin/env bash
# CLI experience of weightsctl and weightsd: every command's --help exits 0, names the program
# (not the path it ran from) and shows an example; usage errors exit 64; an unreachable daemon
# gives exit 69, the socket and the rule that chose it, and a hint; --json errors are JSON on
# stdout; colour only on a terminal and never with NO_COLOR; socket discovery in user mode
# ($XDG_RUNTIME_DIR) and via $WEIGHTSD_SOCKET, each named by `status`.
# Env: WEIGHTSD, WEIGHTSCTL (set by ctest).
set -euo pipefail

: "${WEIGHTSD:?set WEIGHTSD to the weightsd binary}"
: "${WEIGHTSCTL:?set WEIGHTSCTL to the weightsctl binary}"
W=$WEIGHTSCTL
work=$(mktemp -d /tmp/wcli-XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
HARNESS_DIR=$work
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh" # weightsd_check_exposure
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
unset WEIGHTSD_SOCKET NO_COLOR

# --- help everywhere --------------------------------------------------------------------------------
subcommands_of() {
  "$W" "$@" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } on && !/^  / { on = 0 }'
}
checked=0
check_help() { # ARGS...
  local out rc=0
  out=$("$W" "$@" --help 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || fail "weightsctl $* --help exited $rc"
  grep -q "^Usage: weightsctl" <<<"$out" || fail "weightsctl $* --help: usage does not say weightsctl"
  grep -qE "Examples?( \([^)]*\))?:$" <<<"$out" || fail "weightsctl $* --help has no example"
  if [[ $# -gt 0 ]]; then
    grep -q "Global options: --json" <<<"$out" || fail "weightsctl $* --help: no global options line"
  else
    grep -q "^Exit codes:" <<<"$out" || fail "weightsctl --help lacks the exit codes"
  fi
  checked=$((checked + 1))
  local sub
  for sub in $(subcommands_of "$@"); do check_help "$@" "$sub"; done
}
check_help
((checked >= 28)) || fail "only $checked commands found"
pass "all $checked weightsctl commands: --help exits 0 with an example"

out=$("$WEIGHTSD" --help) || fail "weightsd --help exited $?"
grep -q '^Usage: weightsd' <<<"$out" && grep -q '^Examples:' <<<"$out" && grep -q '^Exit codes' <<<"$out" ||
  fail "weightsd --help lacks usage/examples/exit codes"
rc=0; "$WEIGHTSD" --no-such-flag >/dev/null 2>&1 || rc=$?
[[ $rc -eq 64 ]] || fail "weightsd usage error exited $rc, want 64"
rc=0; "$W" no-such-command >/dev/null 2>&1 || rc=$?
[[ $rc -eq 64 ]] || fail "weightsctl usage error exited $rc, want 64"
pass "weightsd --help; usage errors exit 64"

# --- errors: exit code, socket named with its source, hint, JSON --------------------------------------
rc=0
"$W" --socket "$work/none.sock" status >"$work/out" 2>"$work/err" || rc=$?
[[ $rc -eq 69 ]] || fail "unreachable daemon exited $rc, want 69"
grep -q "^weightsctl: error: cannot reach weightsd at $work/none.sock.*(socket chosen by --socket)" "$work/err" ||
  fail "error does not name the socket and its source: $(cat "$work/err")"
grep -q '^hint: is weightsd running? try `systemctl status weightsd`' "$work/err" ||
  fail "no hint: $(cat "$work/err")"
if grep -q $'\e' "$work/err"; then fail "colour escape on a non-terminal"; fi
rc=0
"$W" --json --socket "$work/none.sock" status >"$work/out" 2>/dev/null || rc=$?
[[ $rc -eq 69 ]] || fail "--json: exit $rc"
jq -e '.error.code == "unavailable" and (.error.message | length > 0) and (.error.hint | length > 0)' \
  "$work/out" >/dev/null || fail "--json error is not {error:{code,message,hint}}: $(cat "$work/out")"
pass "unreachable: exit 69, socket and its source, hint; --json error object"

# Colour on a terminal (script(1) gives a pty), never with NO_COLOR.
if command -v script >/dev/null 2>&1; then
  script -qec "'$W' --socket '$work/none.sock' status" /dev/null >"$work/tty" 2>&1 || true
  grep -q $'\e\\[1;31merror:' "$work/tty" || fail "no colour on a terminal: $(cat -v "$work/tty")"
  NO_COLOR=1 script -qec "'$W' --socket '$work/none.sock' status" /dev/null >"$work/tty" 2>&1 || true
  if grep -q $'\e\\[' "$work/tty"; then fail "colour despite NO_COLOR: $(cat -v "$work/tty")"; fi
  grep -q 'error: cannot reach' "$work/tty" || fail "no error text under NO_COLOR: $(cat -v "$work/tty")"
  pass "colour on a terminal only, none with NO_COLOR"
fi

# --- socket discovery --------------------------------------------------------------------------------
mkdir -p "$work/run/weightsd"
"$WEIGHTSD" --state-dir "$work/state" --socket "$work/run/weightsd/control.sock" \
  --listen 127.0.0.1:0 >"$work/daemon.log" 2>&1 &
daemon_pid=$!
deadline=$((SECONDS + 30))
until "$W" --socket "$work/run/weightsd/control.sock" status >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { cat "$work/daemon.log" >&2; fail "daemon did not start"; }
  sleep 0.05
done
weightsd_check_exposure "$work/run/weightsd/control.sock" || fail "the daemon is not on loopback only"
out=$(XDG_RUNTIME_DIR=$work/run "$W" status) || fail "user-mode discovery failed"
grep -q "socket:    $work/run/weightsd/control.sock (user default)" <<<"$out" ||
  fail "status does not name the user default: $out"
out=$(XDG_RUNTIME_DIR=$work/elsewhere WEIGHTSD_SOCKET=$work/run/weightsd/control.sock "$W" status) ||
  fail "WEIGHTSD_SOCKET discovery failed"
grep -q "(WEIGHTSD_SOCKET)" <<<"$out" || fail "status does not name WEIGHTSD_SOCKET: $out"
if [[ ! -S /run/weightsd/control.sock ]]; then
  rc=0
  XDG_RUNTIME_DIR=$work/elsewhere "$W" status >/dev/null 2>"$work/err" || rc=$?
  [[ $rc -eq 69 ]] && grep -q "/run/weightsd/control.sock.*(socket chosen by system default)" "$work/err" ||
    fail "no system default fallback: $(cat "$work/err")"
fi
pass "socket discovery: user default, WEIGHTSD_SOCKET, system default, each named"
