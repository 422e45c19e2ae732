#!/usr/bin/env bash
# sd_notify protocol against a real weightsd: the test owns the NOTIFY_SOCKET (a Unix datagram
# socket, like systemd's) and asserts what the daemon sends, in order: READY=1 with a one-line
# STATUS only once the control socket answers; WATCHDOG=1 pings at WATCHDOG_USEC/2 from the event
# loop; SIGHUP -> RELOADING=1 (+MONOTONIC_USEC) ... READY=1; SIGTERM -> STOPPING=1 and exit 0.
# Also: no pings when WATCHDOG_PID names another process; STATUS=failed without READY when the
# daemon cannot start; journald-style "<N>" priority lines (no timestamp) when JOURNAL_STREAM
# names its stderr.
# Env: WEIGHTSD, WEIGHTSCTL, NOTIFY_LISTEN (set by ctest).
set -euo pipefail

: "${WEIGHTSD:?set WEIGHTSD to the weightsd binary}"
: "${WEIGHTSCTL:?set WEIGHTSCTL to the weightsctl binary}"
: "${NOTIFY_LISTEN:?set NOTIFY_LISTEN to the weights_notify_listen helper}"

# Short base path: a Unix socket address holds at most 107 bytes.
work=$(mktemp -d /tmp/wntf-XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# weightsd_check_exposure and the private network profile (this test's own wait_until and
# fail, defined below, replace the harness's).
HARNESS_DIR=$work
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$work"/*.out "$work"/*.log; do
    [[ -f "$f" ]] && sed "s|^|  $(basename "$f"): |" "$f" >&2
  done
  exit 1
}
pass() { echo "ok: $*"; }

wait_until() { # SECONDS CMD...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}
has() { grep -qE -- "$2" "$1" 2>/dev/null; }
count() { grep -cE -- "$2" "$1" 2>/dev/null || true; }
# line_of FILE PATTERN [AFTER]: number of the first line matching PATTERN after line AFTER.
line_of() {
  awk -v pat="$2" -v after="${3:-0}" 'NR > after && $0 ~ pat { print NR; exit }' "$1"
}

# start NAME [env assignments...] -- [weightsd flags...]: runs weightsd under `env` with
# NOTIFY_SOCKET=$work/NAME.sock; WATCHDOG_PID=self means the daemon's own pid (set via exec).
start() {
  local name=$1
  shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  "$NOTIFY_LISTEN" "$work/$name.sock" 60000 >"$work/$name.out" &
  pids+=($!)
  listener_pid=$!
  wait_until 10 test -S "$work/$name.sock" || fail "$name: notify listener did not bind"
  : >"$work/$name.log"
  local journal
  journal=$(stat -c '%d:%i' "$work/$name.log")
  env NOTIFY_SOCKET="$work/$name.sock" JOURNAL_STREAM="$journal" "${envs[@]}" \
    bash -c 'if [[ ${WATCHDOG_PID:-} == self ]]; then export WATCHDOG_PID=$$; fi; exec "$@"' \
    weightsd "$WEIGHTSD" --state-dir "$work/$name.state" --socket "$work/$name.ctl" \
    --listen 127.0.0.1:0 --log-level debug "$@" 2>>"$work/$name.log" &
  daemon_pid=$!
  pids+=("$daemon_pid")
  wait_until 30 answers "$work/$name.ctl" || fail "$name: the control socket did not answer"
  weightsd_check_exposure "$work/$name.ctl" || fail "$name: not on loopback only"
}
answers() { "$WEIGHTSCTL" --socket "$1" status >/dev/null 2>&1; }

gone() { ! kill -0 "$1" 2>/dev/null || [[ "$(ps -o stat= -p "$1" 2>/dev/null)" == Z* ]]; }

# --- 1: the full lifecycle with the watchdog on --------------------------------------------------
start a WATCHDOG_USEC=200000 WATCHDOG_PID=self --
a_pid=$daemon_pid
a_listener=$listener_pid
wait_until 30 has "$work/a.out" '^READY=1' || fail "no READY=1 within 30 s"
# READY promises a working control socket: no retry here.
"$WEIGHTSCTL" --socket "$work/a.ctl" status >/dev/null || fail "READY sent before the socket answered"
ready_line=$(line_of "$work/a.out" '^READY=1')
first=$(head -n 1 "$work/a.out")
[[ $ready_line == 1 ]] || fail "READY=1 is not the first message: $first"
[[ $first =~ STATUS=ready:\ 0\ releases,\ 0\ feeds,.*control\ socket\ $work/a.ctl ]] ||
  fail "READY's STATUS is not the one-line summary: $first"
pass "READY=1 with a STATUS summary, first message, socket already answering"

wait_until 10 bash -c "[[ \$(grep -c '^WATCHDOG=1$' '$work/a.out') -ge 5 ]]" ||
  fail "fewer than 5 WATCHDOG=1 pings within 10 s (WATCHDOG_USEC=200000)"
has "$work/a.log" 'systemd watchdog: pinging every 100 ms' || fail "watchdog period is not USEC/2"
pass "WATCHDOG=1 pings at half of WATCHDOG_USEC"

port_known() {
  port=$("$WEIGHTSCTL" --socket "$work/a.ctl" --json status | jq -r .listen_port) && ((port > 0))
}
wait_until 30 port_known || fail "no BitTorrent listen port"
before=$(wc -l <"$work/a.out")
kill -HUP "$a_pid"
wait_until 10 bash -c "tail -n +$((before + 1)) '$work/a.out' | grep -q '^READY=1'" ||
  fail "no READY=1 after SIGHUP"
reload=$(line_of "$work/a.out" '^RELOADING=1' "$before")
ready2=$(line_of "$work/a.out" '^READY=1' "$before")
[[ -n $reload && $reload -lt $ready2 ]] || fail "SIGHUP: RELOADING=1 does not precede READY=1"
sed -n "${reload}p" "$work/a.out" | grep -qE 'MONOTONIC_USEC=[0-9]+' ||
  fail "RELOADING=1 without MONOTONIC_USEC"
sed -n "${ready2}p" "$work/a.out" | grep -q "STATUS=ready: .*, BitTorrent port $port; " ||
  fail "READY after reload does not report the listen port $port: $(sed -n "${ready2}p" "$work/a.out")"
pass "SIGHUP: RELOADING=1 (with MONOTONIC_USEC) then READY=1 with a fresh STATUS"

kill -TERM "$a_pid"
wait_until 30 gone "$a_pid" || fail "weightsd did not exit after SIGTERM"
rc=0
wait "$a_pid" || rc=$?
[[ $rc -eq 0 ]] || fail "weightsd exited $rc after SIGTERM"
wait "$a_listener" || fail "the listener saw no STOPPING=1"
stop=$(line_of "$work/a.out" '^STOPPING=1')
[[ $stop == "$(wc -l <"$work/a.out")" ]] || fail "messages after STOPPING=1"
pass "SIGTERM: STOPPING=1 is the last message, exit 0"

# Order over the whole run: READY < WATCHDOG... < RELOADING < READY < STOPPING.
order=$(grep -oE '^(READY|RELOADING|STOPPING)=1' "$work/a.out" | tr '\n' ' ')
[[ $order == "READY=1 RELOADING=1 READY=1 STOPPING=1 " ]] || fail "unexpected order: $order"
pass "order: $order"

# Under JOURNAL_STREAM: syslog priority prefixes, no timestamps (journald adds its own).
has "$work/a.log" '^<6>weightsd .* listening on ' || fail "no <6> info line in the journal stream"
has "$work/a.log" '^<7>systemd watchdog' || fail "no <7> debug line in the journal stream"
if has "$work/a.log" '^[0-9]{4}-[0-9]{2}-'; then fail "timestamps in journal output"; fi
if has "$work/a.log" '^[^<]'; then fail "a journal line without a priority prefix"; fi
pass "journal stream: <N> priority prefixes, no duplicate timestamps"

# --- 2: WATCHDOG_PID naming another process: no pings --------------------------------------------
start b WATCHDOG_USEC=20000 WATCHDOG_PID=1 --
b_pid=$daemon_pid
wait_until 30 has "$work/b.out" '^READY=1' || fail "b: no READY=1"
"$WEIGHTSCTL" --socket "$work/b.ctl" status >/dev/null || fail "b: status failed"
kill -HUP "$b_pid"
wait_until 10 bash -c "[[ \$(grep -c '^READY=1' '$work/b.out') -ge 2 ]]" || fail "b: no reload"
kill -TERM "$b_pid"
wait_until 30 gone "$b_pid" || fail "b: did not exit"
if has "$work/b.out" '^WATCHDOG=1'; then fail "pings although WATCHDOG_PID is another process"; fi
if has "$work/b.log" 'systemd watchdog'; then fail "b: watchdog enabled for WATCHDOG_PID=1"; fi
pass "WATCHDOG_PID of another process: watchdog off"

# --- 3: a daemon that cannot start says why and never READY ---------------------------------------
start c --
c_pid=$daemon_pid
wait_until 30 has "$work/c.out" '^READY=1' || fail "c: no READY=1"
"$NOTIFY_LISTEN" "$work/d.sock" 60000 >"$work/d.out" &
pids+=($!)
wait_until 10 test -S "$work/d.sock" || fail "d: listener did not bind"
rc=0
# weightsd: exits before listening (the state dir is locked)
NOTIFY_SOCKET="$work/d.sock" "$WEIGHTSD" --state-dir "$work/c.state" --socket "$work/d.ctl" \
  --listen 127.0.0.1:0 2>"$work/d.log" || rc=$?
[[ $rc -eq 75 ]] || fail "second daemon on the same state dir exited $rc, want 75"
wait_until 10 has "$work/d.out" '^STATUS=failed: state dir .* in use' ||
  fail "no STATUS=failed from the refused daemon"
if has "$work/d.out" 'READY=1'; then fail "refused daemon sent READY=1"; fi
kill -TERM "$c_pid"
wait_until 30 gone "$c_pid" || fail "c: did not exit"
pass "startup failure: STATUS=failed: ..., no READY, exit 75"

# An invalid config file: STATUS=failed names file, line and key; exit 78.
"$NOTIFY_LISTEN" "$work/e.sock" 60000 >"$work/e.out" &
pids+=($!)
wait_until 10 test -S "$work/e.sock" || fail "e: listener did not bind"
printf 'log_levle = "debug"\n' >"$work/bad.toml"
rc=0
# weightsd: exits before listening (an invalid config)
NOTIFY_SOCKET="$work/e.sock" "$WEIGHTSD" --config "$work/bad.toml" --state-dir "$work/e.state" \
  --socket "$work/e.ctl" 2>"$work/e.log" || rc=$?
[[ $rc -eq 78 ]] || fail "invalid config exited $rc, want 78"
wait_until 10 has "$work/e.out" "^STATUS=failed: $work/bad.toml:1: log_levle: unknown key" ||
  fail "no STATUS=failed for the invalid config"
pass "invalid config: STATUS=failed with file:line: key, exit 78"
