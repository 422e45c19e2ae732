#!/usr/bin/env bash
# Interop with rtorrent 0.9.8 / libtorrent 0.13.8 (v1 protocol only, but it reads hybrids: it
# joins the hybrid's v1 info-hash swarm), peers found through opentracker:
#   1. weightsd seeds; rtorrent downloads the hybrid torrent from it (v1 pieces).
#   2. weightsd stops; rtorrent keeps seeding; a fresh weightsd fetches from it: the hybrid's v1
#      swarm. libtorrent checks the SHA-1 pieces and the v2 Merkle tree of every piece, and every
#      file is SHA-256-verified against the manifest.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
source "$(dirname "$0")/bt_lib.sh"
need_cmds rtorrent opentracker curl jq ss

model=interop-org/rt-llm
rev=27077e00
rip=127.0.0.11
start_opentracker 127.0.0.9
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 2 rt-interop
publish_release "$T/w" "$model" "$rev" --tracker "$TRACKER_URL" --piece-length 262144
tracker_allow "$V1_HASH" "$V2_HASH" "$COMPANION_HASH"
tracker_wait_allowed "$V1_HASH"

# 1. weightsd -> rtorrent
start_daemon 1
ctl 1 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"
wait_until "weightsd to announce the hybrid's v1 info-hash" 30 has_seeders "$V1_HASH" 1

rport=$(free_port $rip)
mkdir -p "$T/rt/dl" "$T/rt/session"
cat >"$T/rt/rtorrent.rc" <<RC
directory.default.set = $T/rt/dl
session.path.set = $T/rt/session
network.port_range.set = $rport-$rport
network.port_random.set = no
network.bind_address.set = $rip
dht.mode.set = disable
protocol.pex.set = no
trackers.use_udp.set = no
system.daemon.set = true
method.set_key = event.download.finished, test_done, "execute.nothrow=touch,$T/rt/done"
log.open_file = "main", $T/rt/log
log.add_output = "info", "main"
RC
rtorrent -n -o "import=$T/rt/rtorrent.rc" "$HYBRID" >"$T/rt/out" 2>&1 &
bt_pids+=($!)
if wait_until "rtorrent to download the hybrid from weightsd" 60 test -e "$T/rt/done"; then
  pass "rtorrent downloaded the hybrid torrent from weightsd"
else
  fail "rtorrent did not finish: $(tail -n 5 "$T/rt/log")"
fi
same_files "$T/w" "$T/rt/dl/$rev" && pass "rtorrent's files equal the published ones" ||
  fail "rtorrent's files differ"
kill_daemon 1 9

# 2. rtorrent (seeding the hybrid, v1 protocol) -> weightsd
echo "tracker for the hybrid's v1 info-hash: $(tracker_seeders "$V1_HASH") seeder(s), $(tracker_peers "$V1_HASH") peer(s)"
start_daemon 2
ctl 2 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd starts fetching (no --peer: the tracker finds rtorrent)" \
  ctl 2 fetch "$model@$rev" --no-wait
if wait_until "weightsd to verify every file fetched from rtorrent" 60 every_file_verified 2 "$model@$rev"; then
  pass "weightsd fetched from an rtorrent-only swarm and verified every file"
else
  fail "fetch from rtorrent did not complete: $(ctl 2 --json show "$model@$rev" | jq -c '{state,error,peers,files:[.files[]|{path,state,done_bytes}]}')"
fi
! grep -q "through the v1 companion" "$T/d2/log" &&
  pass "fetched through the hybrid itself (its v1 info-hash swarm), not the companion" ||
  fail "the daemon fell back to the v1 companion"
same_files "$T/w" "$(release_field 2 "$model@$rev" .path)" && pass "the view's files equal the published ones" ||
  fail "view files differ"
[[ $(release_field 2 "$model@$rev" .hash_failures) == 0 ]] && pass "no piece failed its hash" ||
  fail "hash failures: $(release_field 2 "$model@$rev" .hash_failures)"

[[ $failures -eq 0 ]] || { show_logs; tail -n 20 "$T/rt/log" >&2; }
finish
