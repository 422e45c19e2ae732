#!/usr/bin/env bash
# Control API against a real weightsd on a temp state dir and socket: status over weightsctl,
# HTTP errors (404, 400, 405, 413), raw garbage, 20 concurrent clients, socket mode 0660, a second
# daemon refused, SIGHUP reload (valid and invalid), stale socket after kill -9, SIGTERM cleanup.
# Env: WEIGHTSD, WEIGHTSCTL, UNIX_SEND (set by ctest). Exit 125 = skipped (curl missing).
set -euo pipefail

: "${WEIGHTSD:?set WEIGHTSD to the weightsd binary}"
: "${WEIGHTSCTL:?set WEIGHTSCTL to the weightsctl binary}"
: "${UNIX_SEND:?set UNIX_SEND to the weights_unix_send helper}"
if ! command -v curl >/dev/null 2>&1; then
  echo "SKIP: curl is not installed (needed to send raw HTTP requests)"
  exit 125
fi

# Short base path: a Unix socket address holds at most 107 bytes.
work=$(mktemp -d /tmp/wapi-XXXXXX)
state="$work/state"
sock="$work/c.sock"
conf="$work/weightsd.toml"
log="$work/daemon.log"
daemon_pids=()

cleanup() {
  local p
  for p in "${daemon_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${daemon_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# weightsd_check_exposure and the private network profile (this test's own wait_until and
# fail, defined below, replace the harness's).
HARNESS_DIR=$work
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

fail() {
  echo "FAIL: $*" >&2
  if [[ -f "$log" ]]; then sed 's/^/  weightsd: /' "$log" >&2; fi
  exit 1
}
pass() { echo "ok: $*"; }

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds or the deadline passes.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# gone PID: the process has exited (a zombie not yet reaped counts as exited).
gone() {
  ! kill -0 "$1" 2>/dev/null || [[ "$(ps -o stat= -p "$1" 2>/dev/null)" == Z* ]]
}

# wait_exit PID SECONDS: waits for a daemon to exit within the deadline; sets exit_rc.
wait_exit() {
  wait_until "$2" gone "$1" || return 1
  exit_rc=0
  wait "$1" || exit_rc=$?
}

status_ok() { "$WEIGHTSCTL" --socket "$sock" status --json >/dev/null 2>&1; }

# start_daemon LOGFILE ARGS...: starts weightsd on 127.0.0.1 in the background, sets $dpid; 1
# unless it answers on $sock within 10 s and listens on loopback only.
start_daemon() {
  local out=$1
  shift
  "$WEIGHTSD" --user --config "$conf" --listen 127.0.0.1:0 "$@" 2>>"$out" &
  dpid=$!
  daemon_pids+=("$dpid")
  wait_until 10 status_ok && weightsd_check_exposure "$sock"
}

# curl_code METHOD PATH [curl args...]: prints the HTTP status, body goes to $work/body.
curl_code() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 10 --unix-socket "$sock" -X "$method" -o "$work/body" \
    -w '%{http_code}' "$@" "http://weightsd$path"
}

printf 'log_level = "info"\n' >"$conf"

# --- startup ---------------------------------------------------------------------------------
"$WEIGHTSD" --user --config "$conf" --state-dir "$state" --socket "$sock" --check-config \
  >"$work/effective.toml" || fail "--check-config rejected a valid config"
grep -q "control_socket = '$sock'" "$work/effective.toml" ||
  fail "--check-config does not show the effective socket: $(cat "$work/effective.toml")"
printf 'bogus_key = 1\n' >"$work/bad.toml"
rc=0
"$WEIGHTSD" --user --config "$work/bad.toml" --check-config 2>"$work/bad.err" || rc=$?
[[ $rc -eq 78 ]] || fail "--check-config on a bad file exited $rc, want 78"
grep -q "bad.toml:1: bogus_key: unknown key" "$work/bad.err" ||
  fail "unclear config error: $(cat "$work/bad.err")"
pass "--check-config validates (0 / 78)"

start_daemon "$log" --state-dir "$state" --socket "$sock" ||
  fail "weightsd did not answer on $sock within 10s (or is not on loopback only)"
main_pid=$dpid
pass "daemon up"

mode=$(stat -c '%a' "$sock")
[[ "$mode" == "660" ]] || fail "socket mode is $mode, want 660"
state_mode=$(stat -c '%a' "$state")
[[ "$state_mode" == "750" ]] || fail "state dir mode is $state_mode, want 750"
[[ "$(tr -d '\n' <"$state/lock")" == "$main_pid" ]] || fail "lock file does not hold the pid"
pass "socket 0660, state dir 0750, lock holds pid"

out=$("$WEIGHTSCTL" --socket "$sock" status --json)
grep -q '"protocol_version": 1' <<<"$out" || fail "status --json: $out"
grep -q "\"pid\": $main_pid" <<<"$out" || fail "status --json has the wrong pid: $out"
grep -q "\"state_dir\": \"$state\"" <<<"$out" || fail "status --json state_dir: $out"
"$WEIGHTSCTL" --socket "$sock" status | grep "is running" >/dev/null || fail "human status output"
WEIGHTSD_SOCKET="$sock" "$WEIGHTSCTL" status --json >/dev/null || fail "WEIGHTSD_SOCKET ignored"
pass "weightsctl status (human, --json, WEIGHTSD_SOCKET)"

rc=0
"$WEIGHTSCTL" --socket "$work/none.sock" status 2>"$work/ctl.err" || rc=$?
[[ $rc -eq 69 ]] || fail "status against a missing socket exited $rc, want 69"
grep -q "cannot reach weightsd at $work/none.sock" "$work/ctl.err" || fail "$(cat "$work/ctl.err")"
grep -q "hint: is weightsd running?" "$work/ctl.err" || fail "no hint: $(cat "$work/ctl.err")"
pass "unreachable daemon: exit 69 with path and hint"

# --- HTTP errors -----------------------------------------------------------------------------
code=$(curl_code GET /nope)
[[ $code == 404 ]] || fail "GET /nope: $code"
grep -q '"code":"not_found"' "$work/body" || fail "404 body: $(cat "$work/body")"
code=$(curl_code GET /v1/nope)
[[ $code == 404 ]] || fail "GET /v1/nope: $code"
grep -q '"code":"not_found"' "$work/body" || fail "404 body: $(cat "$work/body")"
pass "unknown routes: 404 JSON"

code=$(curl_code POST /v1/status -H 'Content-Type: application/json' -d '{}')
[[ $code == 405 ]] || fail "POST /v1/status: $code"
pass "wrong method: 405"

code=$(curl_code PUT /v1/log_level -H 'Content-Type: application/json' -d '{"log_level": ')
[[ $code == 400 ]] || fail "malformed JSON: $code"
grep -q '"code":"parse_error"' "$work/body" || fail "400 body: $(cat "$work/body")"
grep -q 'request body: ' "$work/body" || fail "400 message: $(cat "$work/body")"
code=$(curl_code PUT /v1/log_level -H 'Content-Type: application/json' -d '{"log_level":"info"}')
[[ $code == 200 ]] || fail "valid PUT /v1/log_level: $code $(cat "$work/body")"
pass "malformed JSON: 400 parse_error; valid JSON accepted"

head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$work/big"
code=$(curl_code PUT /v1/log_level -H 'Content-Type: application/json' --data-binary @"$work/big")
[[ $code == 413 ]] || fail "oversized body: $code"
grep -q '"code":"too_large"' "$work/body" || fail "413 body: $(cat "$work/body")"
code=$(curl_code PUT /v1/log_level -H 'Content-Type: application/json' -H 'Expect:' \
  --data-binary @"$work/big")
[[ $code == 413 ]] || fail "oversized body without Expect: $code"
pass "oversized body: 413 (with and without Expect: 100-continue)"

code=$(curl_code GET /v1/status --http1.0)
[[ $code == 400 ]] || fail "HTTP/1.0: $code"
pass "HTTP/1.0: 400"

printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n' | "$UNIX_SEND" "$sock" \
  >"$work/raw" || fail "raw connect failed"
head -c 12 "$work/raw" | grep -q '^HTTP/1.1 400' || fail "garbage got: $(head -c 200 "$work/raw")"
head -c 100000 /dev/urandom | "$UNIX_SEND" "$sock" >/dev/null || true
printf 'GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$(head -c 20000 /dev/zero |
  tr '\0' a)" | "$UNIX_SEND" "$sock" >"$work/raw"
head -c 12 "$work/raw" | grep -q '^HTTP/1.1 431' || fail "huge header got: $(head -c 200 "$work/raw")"
printf 'GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  "$UNIX_SEND" "$sock" >"$work/raw"
[[ $(grep -c '^HTTP/1.1 200' "$work/raw") -eq 2 ]] || fail "keep-alive: $(cat "$work/raw")"
kill -0 "$main_pid" || fail "daemon died on garbage input"
status_ok || fail "daemon stopped answering after garbage input"
pass "garbage, random bytes, huge header (431), pipelined keep-alive: answered, no crash"

# --- concurrency -----------------------------------------------------------------------------
client_pids=()
for i in $(seq 1 20); do
  curl -sS --max-time 20 --unix-socket "$sock" -o "$work/c$i.body" -w '%{http_code}' \
    http://weightsd/v1/status >"$work/c$i.code" 2>"$work/c$i.err" &
  client_pids+=($!)
done
for p in "${client_pids[@]}"; do wait "$p" || true; done
for i in $(seq 1 20); do
  [[ "$(cat "$work/c$i.code")" == 200 ]] || fail "client $i: $(cat "$work/c$i.code" "$work/c$i.err")"
  grep -q '"protocol_version":1' "$work/c$i.body" || fail "client $i body"
done
pass "20 concurrent clients all answered"

# --- a second daemon is refused ---------------------------------------------------------------
rc=0
# weightsd: exits before listening (the state dir is locked)
"$WEIGHTSD" --user --config "$conf" --listen 127.0.0.1:0 --state-dir "$state" --socket "$work/other.sock" \
  2>"$work/second.err" || rc=$?
[[ $rc -eq 75 ]] || fail "second daemon on the same state dir exited $rc, want 75"
grep -q "state dir $state is in use by another weightsd (pid $main_pid)" "$work/second.err" ||
  fail "unclear refusal: $(cat "$work/second.err")"
rc=0
# weightsd: exits before listening (the socket is live)
"$WEIGHTSD" --user --config "$conf" --listen 127.0.0.1:0 --state-dir "$work/state2" --socket "$sock" \
  2>"$work/third.err" || rc=$?
[[ $rc -eq 75 ]] || fail "second daemon on the same socket exited $rc, want 75"
grep -q "already listening on $sock" "$work/third.err" || fail "$(cat "$work/third.err")"
[[ -S "$sock" ]] || fail "the refused daemon removed the live socket"
status_ok || fail "first daemon disturbed by the refused ones"
pass "second daemon refused (same state dir / same socket), first one unaffected"

# --- SIGHUP reload ----------------------------------------------------------------------------
printf 'log_level = "debug"\n' >"$conf"
kill -HUP "$main_pid"
wait_until 10 grep -q "config reloaded: log_level: 'info' -> 'debug'" "$log" ||
  fail "SIGHUP did not reload log_level"
printf 'log_level = "debug"\n[network]\ndhtt = "on"\n' >"$conf"
kill -HUP "$main_pid"
wait_until 10 grep -q "config reload failed, keeping the running configuration" "$log" ||
  fail "invalid config on SIGHUP not reported"
grep -q "network.dhtt: unknown key" "$log" || fail "reload error does not name the key"
status_ok || fail "daemon stopped answering after an invalid reload"
printf 'log_level = "info"\n' >"$conf"
pass "SIGHUP reload: change logged; invalid config logged and kept running"

# --- SIGTERM ----------------------------------------------------------------------------------
kill -TERM "$main_pid"
wait_exit "$main_pid" 10 || fail "weightsd did not exit within 10s of SIGTERM"
[[ $exit_rc -eq 0 ]] || fail "SIGTERM exit code $exit_rc, want 0"
[[ ! -e "$sock" ]] || fail "socket file left behind after SIGTERM"
grep -q "received SIGTERM, shutting down" "$log" || fail "no shutdown log line"
pass "SIGTERM: exit 0, socket removed"

# --- stale socket after kill -9 -----------------------------------------------------------------
start_daemon "$log" --state-dir "$state" --socket "$sock" || fail "restart did not come up"
crashed=$dpid
kill -KILL "$crashed"
wait "$crashed" 2>/dev/null || true
[[ -S "$sock" ]] || fail "expected a stale socket after kill -9"
start_daemon "$log" --state-dir "$state" --socket "$sock" ||
  fail "daemon did not start over a stale socket"
restarted=$dpid
grep -q "removing stale socket $sock" "$log" || fail "stale socket removal not logged"
kill -INT "$restarted"
wait_exit "$restarted" 10 || fail "weightsd did not exit within 10s of SIGINT"
[[ $exit_rc -eq 0 ]] || fail "SIGINT exit code $exit_rc"
[[ ! -e "$sock" ]] || fail "socket left behind after SIGINT"
pass "stale socket after kill -9 replaced; SIGINT clean"

echo "PASS: control API"
