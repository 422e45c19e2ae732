#!/usr/bin/env bash
# Interop with Transmission 3.00 (transmission-daemon; v1-only, cannot parse hybrids, so it uses
# the v1 companion). Transmission never dials 127.0.0.0/8 peers, so this runs between two network
# namespaces the test creates (weightsd + opentracker in one, Transmission in the other):
#   1. weightsd seeds; Transmission downloads the companion, finding weightsd via the tracker.
#   2. weightsd stops; Transmission seeds; a fresh weightsd fetches the release from that
#      v1-only swarm and ends with every file SHA-256-verified against the manifest.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
source "$(dirname "$0")/bt_lib.sh"
source "$(dirname "$0")/netns_lib.sh"
need_cmds transmission-daemon transmission-remote opentracker curl jq ss ip

netns_setup
model=interop-org/tr-llm
rev=7a2a5300
start_opentracker 198.18.0.1 "$NS_A"
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 2 tr-interop
publish_release "$T/w" "$model" "$rev" --tracker "$TRACKER_URL" --piece-length 262144
tracker_allow "$V1_HASH" "$V2_HASH" "$COMPANION_HASH"
tracker_wait_allowed "$COMPANION_HASH"

# Transmission in NS_B (tests/lib/harness.sh): RPC on NS_B's own loopback, peers on 198.18.0.2.
start_transmission "$NS_B" "$T/tr" 198.18.0.2 '"start-added-torrents": true, "message-level": 2'
tr_done() { tr_remote -t all -i | grep "Percent Done: 100%" >/dev/null; }

# 1. weightsd -> Transmission
start_daemon_ns 1 "$NS_A" 198.18.0.1
ctl 1 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"
wait_until "the seeder to seed the v1 companion" 30 \
  bash -c "[[ \$('$W' --socket '$T/d1/ctl.sock' --json show '$model@$rev' | jq -r .v1_seeding) == true ]]"
wait_until "weightsd to announce the companion" 30 has_seeders "$COMPANION_HASH" 1
expect_ok "Transmission accepts the v1 companion" tr_remote -a "$V1TORRENT"
if wait_until "Transmission to download the companion from weightsd" 60 tr_done; then
  pass "Transmission downloaded the v1 companion from weightsd"
else
  fail "Transmission: $(tr_remote -t all -i | grep -E 'State|Percent|Error|Peers' | tr '\n' ' ')"
fi
same_files "$T/w" "$T/tr/dl/$rev" && pass "Transmission's files equal the published ones" ||
  fail "Transmission's files differ"
kill_daemon 1 9

# 2. Transmission (seeding the companion only) -> weightsd
start_daemon_ns 2 "$NS_A" 198.18.0.3
ctl 2 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd starts fetching (no --peer: the tracker finds Transmission)" \
  ctl 2 fetch "$model@$rev" --no-wait
if wait_until "weightsd to verify every file fetched from Transmission" 90 every_file_verified 2 "$model@$rev"; then
  pass "weightsd fetched from a Transmission-only swarm and verified every file"
else
  fail "fetch from Transmission did not complete: $(ctl 2 --json show "$model@$rev" | jq -c '{state,error,peers,v1_downloading,files:[.files[]|{path,state,done_bytes}]}')"
fi
view=$(release_field 2 "$model@$rev" .path)
same_files "$T/w" "$view" && pass "the view's files equal the published ones" ||
  fail "view files differ ($view)"
up=$(tr_remote -t all -i | sed -n 's/^ *Uploaded: *//p')
[[ -n $up && $up != None ]] && pass "Transmission uploaded ($up)" || fail "Transmission uploaded nothing"

[[ $failures -eq 0 ]] || { show_logs; tail -n 30 "$T/tr/log" >&2; }
finish
