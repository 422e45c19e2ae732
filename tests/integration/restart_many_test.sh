#!/usr/bin/env bash
# A daemon seeding 200 releases is stopped cleanly (SIGTERM) and restarted: every release must be
# complete and seeding again within a deadline, without re-hashing anything (the "slim restart":
# resume data says the files are complete, so libtorrent skips its check and our SHA-256 pass
# does not run again). Prints the time to ready and the daemon's RSS so they can be recorded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

count=200
ready_deadline=30

# One feed with 200 tiny releases (two small files each, distinct bytes so no two releases share
# a store entry), signed once at the end.
"$W" feed init "$T/pub" >/dev/null
for i in $(seq 1 "$count"); do
  d=$T/w/$i
  mkdir -p "$d"
  printf '{"model_type": "tiny", "index": %d}\n' "$i" >"$d/config.json"
  head -c 4096 /dev/urandom >"$d/weights.bin"
  "$W" release add "$d" --feed "$T/pub" --model "many-org/m$i" --revision r1 --license mit \
    --threads 1 >/dev/null
done
"$W" feed publish "$T/pub" >/dev/null

start_daemon 1
expect_ok "daemon subscribes to the feed" ctl 1 feed add many "$T/pub/public" \
  --root "$T/pub/public/metadata/1.root.json"
echo "published $count releases in ${SECONDS}s"
# Four seed requests at a time: each waits for its own SHA-256 pass.
seq 1 "$count" | xargs -P 4 -I{} "$W" --socket "$T/d1/ctl.sock" --json seed "$T/w/{}" \
  --feed many --model "many-org/m{}" --revision r1 >/dev/null || fail "some seed request failed"
echo "seeding $count releases after ${SECONDS}s"

# all_seeding: every one of the $count releases is complete and seeding.
all_seeding() {
  local n
  n=$(ctl 1 --json list | jq '[.releases[] | select(.state == "complete" and .seeding)] | length')
  [[ $n -eq $count ]]
}
expect_ok "all $count releases seed before the restart" wait_until "$count releases seeding" 60 \
  all_seeding

kill_daemon 1 TERM
pid=$(cat "$T/d1/pid")
kill -0 "$pid" 2>/dev/null && fail "daemon did not exit on SIGTERM" || pass "daemon exited on SIGTERM"
log_lines_before=$(wc -l <"$T/d1/log")

t0=$(date +%s.%N)
start_daemon 1
if wait_until "$count releases seeding after restart" "$ready_deadline" all_seeding; then
  pass "all $count releases are complete and seeding after the restart"
else
  fail "not all releases seeding within ${ready_deadline}s: $(ctl 1 --json list |
    jq -c '[.releases[] | .state] | group_by(.) | map({(.[0]): length}) | add')"
fi
t1=$(date +%s.%N)
pid=$(cat "$T/d1/pid")
rss=$(awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status")
printf 'restart of %d seeding releases: ready in %.2f s, RSS %s\n' "$count" \
  "$(echo "$t1 - $t0" | bc -l)" "$rss"

# No re-hash. The engine has no check counter, so use what it logs: every release loads from
# valid resume data (an "ignoring resume data" warning means libtorrent re-checks that torrent's
# files), and none goes through our SHA-256 pass again (which ends in "complete, view at").
tail -n "+$((log_lines_before + 1))" "$T/d1/log" >"$T/restart.log"
grep -q "$count release(s) loaded" "$T/restart.log" && pass "the restart loaded $count releases" ||
  fail "restart log: $(head -5 "$T/restart.log")"
if grep -qiE "ignoring resume data|complete, view at|checking|recheck" "$T/restart.log"; then
  fail "the restart re-hashed: $(grep -iE "ignoring resume|complete, view|checking|recheck" \
    "$T/restart.log" | head -5)"
else
  pass "no release was re-checked or re-hashed on restart"
fi
verified=$(ctl 1 --json list | jq '[.releases[] | select(.verified_length == .wanted_length)] | length')
[[ $verified -eq $count ]] && pass "every release still counts all its bytes verified" ||
  fail "$verified of $count releases fully verified"

[[ $failures -eq 0 ]] || show_logs
finish
