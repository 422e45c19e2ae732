#!/usr/bin/env bash
# Restart of a node seeding many releases. The daemon lists every known release at once (state
# `loading`) and adds their torrents asynchronously while the control API answers; complete
# releases come back from their .torrent and resume data without a re-check (the "slim
# restart"). Asserts, for a node seeding 400 tiny releases (feed from bench_feed_gen, seeded
# with one curl on a keep-alive connection):
#   - restarted, its first API answer already lists all 400 (none lost), only as `loading` or
#     `complete`, and not all of them seeding yet (the API answers while releases load; a
#     start-up that adds every torrent before opening the socket fails this);
#   - every poll until then sees only `loading`/`complete`, never `verifying` or `failed`; all
#     400 end up complete and seeding with every byte verified, and the log shows no re-check
#     (libtorrent's or our SHA-256 pass, which ends in "complete, view at");
#   - a SIGTERM after such a restart rewrites no resume file (nothing changed);
#   - killed with SIGKILL while its releases load, the next start still seeds all without a
#     re-check.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

count=400
gen=${BENCH_FEED_GEN:-}
if [[ ! -x $gen ]]; then echo "SKIP: bench_feed_gen not built ($gen)"; exit 125; fi
if ! command -v curl >/dev/null; then echo "SKIP: curl not installed (scripts/install-deps --test)"; exit 125; fi

"$W" feed init "$T/pub" >/dev/null
# 4 KiB sparse weights.bin per release, unique head; one publish at the end. The feed is
# synthetic: generated without fsync when eatmydata is there (the daemon never runs under it).
fast=()
if command -v eatmydata >/dev/null; then fast=(eatmydata); fi
# eatmydata preloads a library: an ASan build (scripts/test --sanitize) refuses to start then
# unless told that the runtime need not come first.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
  "${fast[@]}" "$gen" "$T/pub" "$T/rel" 1 "$count" 4 publish 25 >/dev/null || fail "bench_feed_gen failed"

echo "[${SECONDS}s] feed of $count releases generated"
start_daemon 1
expect_ok "daemon subscribes to the feed" ctl 1 feed add many "$T/pub/public" \
  --root "$T/pub/public/metadata/1.root.json"
seed_requests_curl "$T/d1/ctl.sock" many "$T" "$count" >"$T/seed.curl"
curl -s -K "$T/seed.curl" >"$T/seed.codes"
bad=$(grep -vc '^202$' "$T/seed.codes" || true)
[[ $bad -eq 0 ]] || fail "$bad seed requests did not answer 202: $(sort "$T/seed.codes" | uniq -c)"

# counts: "seeding loading complete other total" from one `--json list`, or nothing.
counts() {
  local out
  out=$(ctl 1 --json list 2>/dev/null) || return 1
  jq -r '.releases | [
    (map(select(.state == "complete" and .seeding)) | length),
    (map(select(.state == "loading")) | length),
    (map(select(.state == "complete")) | length),
    (map(select(.state != "loading" and .state != "complete")) | length),
    length ] | @tsv' <<<"$out"
}
all_seeding() { read -r s _ _ _ _ < <(counts) && [[ $s -eq $count ]]; }
expect_ok "all $count releases seed before the restart" wait_until "$count seeding" 120 all_seeding
echo "[${SECONDS}s] $count releases seeding"

# no_recheck_since LOG_LINES OUT WHAT : the daemon log after line LOG_LINES (saved to OUT) shows
# no re-check or re-hash (libtorrent's or our SHA-256 pass, which ends in "complete, view at").
no_recheck_since() {
  local pattern="ignoring resume data|complete, view at|checking|recheck|refused"
  tail -n "+$(($1 + 1))" "$T/d1/log" >"$2"
  if grep -qiE "$pattern" "$2"; then
    fail "$3 re-checked: $(grep -iE "$pattern" "$2" | head -5)"
  else
    pass "no re-check or re-hash: $3"
  fi
}

# restart_and_watch LABEL: starts daemon 1 and polls `--json list` from the exec until all are
# seeding. Sets first_answer ("seeding loading complete other total" of the first answer),
# bad_states (polls with a release neither loading nor complete) and ready (1 once all seed).
restart_and_watch() {
  local t0 out s l c o n
  first_answer="" bad_states=0 ready=0
  t0=$SECONDS
  "$WEIGHTSD" --state-dir "$T/d1/state" --socket "$T/d1/ctl.sock" --listen 127.0.0.2:0 \
    >>"$T/d1/log" 2>&1 &
  echo $! >"$T/d1/pid"
  disown $!
  daemon_pids+=("$(cat "$T/d1/pid")")
  while ((SECONDS - t0 < 60)); do
    if out=$(counts) && [[ -n $out ]]; then
      if [[ -z $first_answer ]]; then
        first_answer=$out
        weightsd_check_exposure "$T/d1/ctl.sock" || exit 1
      fi
      read -r s l c o n <<<"$out"
      ((o == 0)) || bad_states=$((bad_states + 1))
      if ((s == count)); then
        ready=1
        return
      fi
    fi
    sleep 0.02
  done
}

kill_daemon 1 TERM
echo "[${SECONDS}s] stopped (SIGTERM)"
log_lines=$(wc -l <"$T/d1/log")
restart_and_watch first
echo "[${SECONDS}s] restarted"
echo "first answer after the restart (seeding loading complete other total): $first_answer"
read -r s l c o n <<<"$first_answer"
[[ $n -eq $count ]] && pass "the first answer lists all $count releases" ||
  fail "the first answer lists $n of $count releases"
# Deterministic form of "the API answers while releases load": the socket is up (logged) before
# the last torrent is added. The first answer's counts above show it too, timing permitting.
restart_log=$(tail -n +"$((log_lines + 1))" "$T/d1/log")
listen_line=$(grep -n "listening on" <<<"$restart_log" | head -n1 | cut -d: -f1)
loaded_line=$(grep -n "release(s) loaded" <<<"$restart_log" | head -n1 | cut -d: -f1)
if [[ -n $listen_line && -n $loaded_line ]] && ((listen_line < loaded_line)); then
  pass "the API was up before all releases were loaded (first answer: $s seeding, $l loading)"
else
  fail "the socket opened only after every release was loaded (log lines $listen_line/$loaded_line)"
fi
[[ $bad_states -eq 0 ]] && pass "no poll saw a state other than loading/complete" ||
  fail "$bad_states poll(s) saw releases neither loading nor complete"
[[ $ready -eq 1 ]] && pass "all $count releases complete and seeding after the restart" ||
  fail "not all seeding 60 s after the restart: $(counts)"
no_recheck_since "$log_lines" "$T/restart1.log" "the restart"
grep -q "$count release(s) loaded" "$T/restart1.log" && pass "the restart loaded $count releases" ||
  fail "restart log: $(head -5 "$T/restart1.log")"
verified=$(ctl 1 --json list | jq '[.releases[] | select(.verified_length == .wanted_length)] | length')
[[ $verified -eq $count ]] && pass "every release still counts all its bytes verified" ||
  fail "$verified of $count releases fully verified"

# Nothing changed since the restart: stopping writes no resume file.
touch "$T/mark"
kill_daemon 1 TERM
echo "[${SECONDS}s] stopped again (SIGTERM)"
written=$(find "$T/d1/state" -name '*.resume' -newer "$T/mark" | wc -l)
[[ $written -eq 0 ]] && pass "SIGTERM after an idle restart rewrote no resume file" ||
  fail "SIGTERM rewrote $written resume files though nothing changed"

# SIGKILL while releases load (or right after): the next start still needs no re-check.
"$WEIGHTSD" --state-dir "$T/d1/state" --socket "$T/d1/ctl.sock" --listen 127.0.0.2:0 \
  >>"$T/d1/log" 2>&1 &
echo $! >"$T/d1/pid"
disown $!
daemon_pids+=("$(cat "$T/d1/pid")")
wait_until "the API answers" 30 ctl 1 status >/dev/null || fail "no answer after the restart"
weightsd_check_exposure "$T/d1/ctl.sock" || exit 1
kill_daemon 1 KILL
echo "[${SECONDS}s] killed (SIGKILL)"
log_lines=$(wc -l <"$T/d1/log")
restart_and_watch after-kill
echo "[${SECONDS}s] restarted after SIGKILL"
[[ $ready -eq 1 ]] && pass "all $count seeding after a SIGKILL during loading" ||
  fail "not all seeding after a SIGKILL during loading: $(counts)"
[[ $bad_states -eq 0 ]] || fail "$bad_states poll(s) after the SIGKILL saw other states"
no_recheck_since "$log_lines" "$T/restart2.log" "the start after SIGKILL during loading"

[[ $failures -eq 0 ]] || show_logs
finish
