#!/usr/bin/env bash
# A real tracker (opentracker, Debian's whitelist build) on loopback, named in the signed
# manifest: weightsd announces what it seeds and finds peers through it alone (no --peer; DHT,
# LSD and PEX are off by default).
#   - the seeder announces the hybrid under its v1 info-hash and its truncated v2 info-hash, and
#     the v1 companion under the companion's info-hash;
#   - two fetchers find the seeder (and each other) through the tracker and verify every file;
#   - once complete, the fetchers are listed as seeders too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
source "$(dirname "$0")/bt_lib.sh"
need_cmds opentracker curl jq ss

model=tracker-org/tr-llm
rev=07ac6e12
start_opentracker 127.0.0.9
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 3 tracker
publish_release "$T/w" "$model" "$rev" --tracker "$TRACKER_URL"
[[ $(jq -r '.torrent.trackers[0]' "$MANIFEST") == "$TRACKER_URL" ]] &&
  pass "the signed manifest names the tracker" || fail "manifest trackers: $(jq -c .torrent "$MANIFEST")"
tracker_allow "$V1_HASH" "$V2_HASH" "$COMPANION_HASH"
tracker_wait_allowed "$COMPANION_HASH"

start_daemon 1
ctl 1 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"
if wait_until "the seeder's announces" 30 bash -c \
  "$(declare -f in_ns tracker_probe tracker_seeders has_seeders); TRACKER_URL=$TRACKER_URL;
   has_seeders $V1_HASH && has_seeders $V2_HASH && has_seeders $COMPANION_HASH"; then
  pass "announced: hybrid v1 + truncated v2 info-hash, and the companion"
else
  fail "tracker seeders: v1 $(tracker_seeders "$V1_HASH") v2 $(tracker_seeders "$V2_HASH") companion $(tracker_seeders "$COMPANION_HASH")"
fi

for n in 2 3; do
  start_daemon "$n"
  ctl "$n" feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
  expect_ok "daemon $n starts fetching without --peer" ctl "$n" fetch "$model@$rev" --no-wait
done
for n in 2 3; do
  if wait_until "daemon $n to complete through the tracker" 60 every_file_verified "$n" "$model@$rev"; then
    pass "daemon $n found peers through the tracker and verified every file"
  else
    fail "daemon $n: $(ctl "$n" --json show "$model@$rev" | jq -c '{state,error,peers}')"
  fi
  same_files "$T/w" "$(release_field "$n" "$model@$rev" .path)" && pass "daemon $n: files equal the published ones" ||
    fail "daemon $n: view files differ"
done
if wait_until "the fetchers to announce themselves as seeders" 30 has_seeders "$V1_HASH" 3; then
  pass "the tracker lists 3 seeders of the hybrid"
else
  fail "the tracker lists $(tracker_seeders "$V1_HASH") seeders of the hybrid"
fi

[[ $failures -eq 0 ]] || { show_logs; cat "$T/opentracker.log" >&2; }
finish
