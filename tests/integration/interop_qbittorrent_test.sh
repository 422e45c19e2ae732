#!/usr/bin/env bash
# Interop with qBittorrent-nox 4.5.2 (libtorrent 2.0.8, reads hybrids: it gets the hybrid .torrent
# and speaks v2 with weightsd), driven through its WebUI API, peers found through opentracker:
#   1. weightsd seeds; qBittorrent downloads the hybrid from it.
#   2. weightsd stops; qBittorrent seeds; a fresh weightsd fetches from it and verifies every
#      file against the manifest.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
source "$(dirname "$0")/bt_lib.sh"
need_cmds qbittorrent-nox opentracker curl jq ss

model=interop-org/qb-llm
rev=9b175e00
qip=127.0.0.12
start_opentracker 127.0.0.9
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 2 qb-interop
publish_release "$T/w" "$model" "$rev" --tracker "$TRACKER_URL" --piece-length 262144
tracker_allow "$V1_HASH" "$V2_HASH" "$COMPANION_HASH"
tracker_wait_allowed "$V1_HASH"

# qBittorrent (tests/lib/harness.sh): its own address, WebUI without authentication on
# loopback; POSIX disk I/O.
start_qbittorrent "$T/qb" $qip 'Session\AnonymousModeEnabled=false
Session\DiskIOType=Posix'
api=$QB_API
qb_info() { curl -sf "$api/torrents/info"; }
qb_done() { [[ $(qb_info | jq -r '.[0].progress') == 1 ]]; }

# 1. weightsd -> qBittorrent
start_daemon 1
ctl 1 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"
wait_until "weightsd to announce the hybrid" 30 has_seeders "$V1_HASH" 1
expect_ok "qBittorrent accepts the hybrid torrent" \
  curl -sf -F "torrents=@$HYBRID" -F "savepath=$T/qb/dl" "$api/torrents/add"
if wait_until "qBittorrent to download the hybrid from weightsd" 60 qb_done; then
  pass "qBittorrent downloaded the hybrid from weightsd"
else
  fail "qBittorrent: $(qb_info | jq -c '.[0] | {state,progress,num_seeds,tracker}')"
fi
same_files "$T/w" "$T/qb/dl/$rev" && pass "qBittorrent's files equal the published ones" ||
  fail "qBittorrent's files differ"
hash=$(qb_info | jq -r '.[0].infohash_v2')
[[ $hash == "$V2_HASH" ]] && pass "qBittorrent sees the manifest's v2 info-hash" ||
  fail "qBittorrent infohash_v2 $hash, manifest $V2_HASH"
kill_daemon 1 9

# 2. qBittorrent (seeding) -> weightsd
start_daemon 2
ctl 2 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd starts fetching (no --peer: the tracker finds qBittorrent)" \
  ctl 2 fetch "$model@$rev" --no-wait
if wait_until "weightsd to verify every file fetched from qBittorrent" 60 every_file_verified 2 "$model@$rev"; then
  pass "weightsd fetched from a qBittorrent-only swarm and verified every file"
else
  fail "fetch from qBittorrent did not complete: $(ctl 2 --json show "$model@$rev" | jq -c '{state,error,peers,files:[.files[]|{path,state,done_bytes}]}')"
fi
same_files "$T/w" "$(release_field 2 "$model@$rev" .path)" && pass "the view's files equal the published ones" ||
  fail "view files differ"
qb_uploaded() { [[ $(qb_info | jq -r '.[0].uploaded') -gt 0 ]]; }
if wait_until "qBittorrent's upload counter" 10 qb_uploaded; then
  pass "qBittorrent uploaded $(qb_info | jq -r '.[0].uploaded') bytes"
else
  fail "qBittorrent uploaded nothing"
fi

[[ $failures -eq 0 ]] || { show_logs; tail -n 20 "$T/qb/qBittorrent/data/logs/qbittorrent.log" >&2 2>/dev/null || true; }
finish
