#!/usr/bin/env bash
# The unit's sandbox fits what weightsd really does. Two daemons run unprivileged (as nobody,
# like User=weightsd) under strace while one seeds a release and the other fetches and verifies
# it over loopback, reloads (SIGHUP) and stops (SIGTERM). Every system call they make must be
# allowed by the unit's SystemCallFilter= (@system-service minus @privileged, as expanded by
# this machine's systemd-analyze), and every socket family in its RestrictAddressFamilies=.
# (This cannot start the unit itself: no systemd runs as PID 1 here.)
# Env: WEIGHTSD, WEIGHTSCTL, WEIGHTS_SOURCE_DIR (set by ctest). Exit 125 = skipped.
set -euo pipefail

: "${WEIGHTSD:?set WEIGHTSD to the weightsd binary}"
: "${WEIGHTSCTL:?set WEIGHTSCTL to the weightsctl binary}"
: "${WEIGHTS_SOURCE_DIR:?}"
for tool in strace setpriv systemd-analyze jq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed"
    exit 125
  fi
done
if [[ $(ldd "$WEIGHTSD") =~ lib(asan|ubsan|tsan) ]]; then
  echo "SKIP: sanitizer build (its runtime makes system calls weightsd itself does not)"
  exit 125
fi
if ! strace -f -qq -o /dev/null true 2>/dev/null; then
  echo "SKIP: ptrace is not permitted here"
  exit 125
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root to run the daemons as another user"
  exit 125
fi
W=$WEIGHTSCTL
unit=$WEIGHTS_SOURCE_DIR/systemd/weightsd.service.in
work=$(mktemp -d /tmp/wsys-XXXXXX)
chmod 0755 "$work"
spids=()
cleanup() {
  local p c
  for p in "${spids[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null); do kill -KILL "$c" 2>/dev/null || true; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for p in "${spids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
HARNESS_DIR=$work
source "$WEIGHTS_SOURCE_DIR/tests/lib/harness.sh" # wait_for

# --- what the unit allows ---------------------------------------------------------------------------
expand() { # GROUP: its system calls, nested groups expanded
  local x
  systemd-analyze syscall-filter "$1" | sed -n '2,$p' | grep -vE '^\s*(#|$)' | tr -d ' ' |
    while read -r x; do if [[ $x == @* ]]; then expand "$x"; else echo "$x"; fi; done
}
grep -qx 'SystemCallFilter=@system-service' "$unit" && grep -qx 'SystemCallFilter=~@privileged' "$unit" ||
  fail "the unit's SystemCallFilter= changed: update this test"
expand @system-service | sort -u >"$work/allow"
expand @privileged | sort -u >"$work/deny"
[[ $(wc -l <"$work/allow") -gt 100 ]] || fail "could not expand @system-service"
families=$(sed -n 's/^RestrictAddressFamilies=//p' "$unit")

# --- a real seed + fetch, traced ---------------------------------------------------------------------
k=$WEIGHTS_SOURCE_DIR/manifests/demo/keys
"$W" feed init "$work/pub" --root-key "$k/root-1.pem" --root-key "$k/root-2.pem" \
  --root-key "$k/root-3.pem" --root-threshold 2 --targets-key "$k/targets-1.pem" \
  --snapshot-key "$k/snapshot-1.pem" --timestamp-key "$k/timestamp-1.pem" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$work/weights" 2
"$W" release add "$work/weights" --feed "$work/pub" --model test/sandbox --revision r1 \
  --alias sandbox --license apache-2.0 --publish --key "$k/targets-1.pem" \
  --key "$k/snapshot-1.pem" --key "$k/timestamp-1.pem" >/dev/null
chmod -R a+rX "$work/pub" "$work/weights"

start() { # NAME IP
  install -d -o 65534 -g 65534 -m 0755 "$work/$1"
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    strace -f -qq -o "$work/$1/trace" "$WEIGHTSD" --state-dir "$work/$1/state" \
    --socket "$work/$1/ctl.sock" --listen "$2:0" >"$work/$1.log" 2>&1 &
  spids+=($!)
  echo $! >"$work/$1.spid"
  wait_for 30 "$W" --socket "$work/$1/ctl.sock" status ||
    { cat "$work/$1.log" >&2; fail "$1 did not start under strace as nobody"; }
  weightsd_check_exposure "$work/$1/ctl.sock" || fail "$1 is not on loopback only"
}
daemon_pid() { pgrep -P "$(cat "$work/$1.spid")"; }
start p 127.0.0.2
start u 127.0.0.3
for n in p u; do
  "$W" --socket "$work/$n/ctl.sock" feed add demo "$work/pub/public" \
    --root "$work/pub/public/metadata/1.root.json" >/dev/null
done
"$W" --socket "$work/p/ctl.sock" seed "$work/weights" --feed demo --model test/sandbox \
  --revision r1 >/dev/null || fail "seed as nobody"
port=$("$W" --socket "$work/p/ctl.sock" --json status | jq -r .listen_port)
((port > 0)) || fail "no listen port"
"$W" --socket "$work/u/ctl.sock" fetch sandbox --peer "127.0.0.2:$port" >/dev/null ||
  fail "fetch as nobody"
"$W" --socket "$work/u/ctl.sock" verify test/sandbox@r1 >/dev/null || fail "verify as nobody"
before=$(grep -c 'config reloaded' "$work/u.log" || true)
kill -HUP "$(daemon_pid u)"
wait_for 10 bash -c "[[ \$(grep -c 'config reloaded' '$work/u.log') -gt $before ]]" || fail "reload"
for n in p u; do kill -TERM "$(daemon_pid "$n")"; done
for n in p u; do
  rc=0
  wait "$(cat "$work/$n.spid")" || rc=$?
  [[ $rc -eq 0 ]] || { cat "$work/$n.log" >&2; fail "$n exited $rc"; }
done
spids=()
pass "seed, fetch, verify, reload and stop as an unprivileged user under strace"

# --- compare ----------------------------------------------------------------------------------------
# The first execve is strace starting weightsd; everything after it is weightsd.
sed -nE 's/^[0-9]+ +(<\.\.\. )?([a-z_0-9]+)[( ].*/\2/p' "$work"/p/trace "$work"/u/trace |
  sort -u >"$work/used"
(($(wc -l <"$work/used") > 30)) || fail "trace looks empty"
outside=$(comm -23 "$work/used" "$work/allow" | tr '\n' ' ')
[[ -z $outside ]] || fail "system calls outside @system-service: $outside"
privileged=$(comm -12 "$work/used" "$work/deny" | tr '\n' ' ')
[[ -z $privileged ]] || fail "system calls in @privileged (EPERM under the unit): $privileged"
pass "$(wc -l <"$work/used") distinct system calls, all in @system-service, none in @privileged"

used_families=$(grep -ohE 'socket\((AF_[A-Z0-9]+|PF_[A-Z0-9]+)' "$work"/p/trace "$work"/u/trace |
  sed 's/socket(//' | sort -u | tr '\n' ' ')
for f in $used_families; do
  [[ " $families " == *" $f "* ]] || fail "socket family $f is not in RestrictAddressFamilies=$families"
done
[[ $used_families == *AF_NETLINK* ]] || echo "note: no AF_NETLINK socket seen (libtorrent changed?)"
pass "socket families used ($used_families) are all in RestrictAddressFamilies"
