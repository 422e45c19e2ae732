#!/usr/bin/env bash
# HTTP web seeds (BEP 19) from the signed manifest, served by a private nginx on loopback.
# Multi-file layout: URL + torrent name (= revision) + "/" + path, so the mirror holds
# <docroot>/mirror/<revision>/<path>.
#   1. Empty swarm: the fetch completes from the web seed alone, every file SHA-256-verified;
#      nginx saw range requests for real files only (never .pad/).
#   2. Mixed, with a damaged mirror: one byte in each piece of the big shard is flipped on the
#      mirror, and a rate-limited weightsd seeder is in the swarm. Pieces come from both; damaged
#      pieces fail their hash and come again from the peer, and the result is still verified.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
source "$(dirname "$0")/bt_lib.sh"
need_cmds nginx jq ss curl

model=webseed-org/ws-llm
rev=3e65eed0
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 2 webseed
mkdir -p "$T/www/mirror/$rev"
cp "$T/w"/* "$T/www/mirror/$rev/"
# 1 MiB/s per connection, so that in part 2 the web seed does not finish before the peer has
# contributed.
start_nginx "$T/www" 127.0.0.10 "limit_rate 1m;"
publish_release "$T/w" "$model" "$rev" --web-seed "$NGINX_URL/mirror/" --piece-length 262144
shard=model-00001-of-00002.safetensors
curl -sf -r 0-15 -o /dev/null "$NGINX_URL/mirror/$rev/$shard" && pass "the mirror answers range requests" ||
  fail "nginx does not serve $NGINX_URL/mirror/$rev/$shard"

# 1. Web seed only (no peers, no tracker, DHT/LSD off).
start_daemon 2
ctl 2 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "fetch starts with an empty swarm" ctl 2 fetch "$model@$rev" --no-wait
if wait_until "the fetch to complete from the web seed" 60 every_file_verified 2 "$model@$rev"; then
  pass "fetched from the web seed alone; every file verified"
else
  fail "web-seed fetch: $(ctl 2 --json show "$model@$rev" | jq -c '{state,error,files:[.files[]|{path,state,done_bytes}]}')"
fi
same_files "$T/w" "$(release_field 2 "$model@$rev" .path)" && pass "the view's files equal the published ones" ||
  fail "view files differ"
sent=$(nginx_bytes_to 127.0.0.3)
total=$(release_field 2 "$model@$rev" .total_length)
[[ $sent -ge $total ]] && pass "nginx sent $sent bytes (release: $total)" || fail "nginx sent only $sent of $total bytes"
grep -q " 206 " "$NGINX_LOG" && pass "the web seed was read with range requests (206)" ||
  fail "no 206 in $NGINX_LOG"
grep -q "/mirror/$rev/$shard " "$NGINX_LOG" && pass "URL layout: web seed + revision + / + path" ||
  fail "no request for /mirror/$rev/$shard: $(head -n 5 "$NGINX_LOG")"
! grep -q "\.pad" "$NGINX_LOG" && pass "pad files were never requested" || fail "nginx saw .pad requests"

# 2. Mixed: damaged mirror + a rate-limited seeder. Flip one byte in every 256 KiB piece of the
# 2 MiB shard, on the mirror's copy only, so whichever of its pieces the web seed delivers fails.
for k in 0 1 2 3 4 5 6 7; do
  printf '\xff' | dd of="$T/www/mirror/$rev/$shard" bs=1 seek=$((k * 262144 + 1000)) conv=notrunc status=none
done
cmp -s "$T/w/$shard" "$T/www/mirror/$rev/$shard" && fail "the mirror copy is not damaged"
printf '[limits]\nupload_rate = %d\n' $((1024 * 1024)) >"$T/slow.toml"
start_daemon 1 --config "$T/slow.toml"
ctl 1 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "a rate-limited seeder" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"
start_daemon 3
ctl 3 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "fetch from the seeder and the damaged web seed" ctl 3 fetch "$model@$rev" --no-wait --peer "$(peer_of 1)"
if wait_until "the mixed fetch to complete" 60 every_file_verified 3 "$model@$rev"; then
  pass "mixed fetch complete; every file verified"
else
  fail "mixed fetch: $(ctl 3 --json show "$model@$rev" | jq -c '{state,error,peers,hash_failures,files:[.files[]|{path,state,done_bytes}]}')"
fi
same_files "$T/w" "$(release_field 3 "$model@$rev" .path)" && pass "mixed: files equal the published ones" ||
  fail "mixed: view files differ"
# Both sources sent at least a piece (256 KiB); the seeder's counters lag by up to 0.5 s.
piece=262144
from_http=$(nginx_bytes_to 127.0.0.4)
seeder_sent() { [[ $(release_field 1 "$model@$rev" .uploaded_bytes) -ge $piece ]]; }
wait_until "the seeder's upload counter" 5 seeder_sent || true
from_peer=$(release_field 1 "$model@$rev" .uploaded_bytes)
[[ $from_http -ge $piece ]] && pass "mixed: the web seed sent $from_http bytes" ||
  fail "mixed: the web seed sent only $from_http bytes"
[[ $from_peer -ge $piece ]] && pass "mixed: the seeder uploaded $from_peer bytes" ||
  fail "mixed: the seeder uploaded only $from_peer bytes"
hf=$(release_field 3 "$model@$rev" .hash_failures)
[[ $hf -ge 1 ]] && pass "damaged web-seed pieces failed their hash ($hf) and came again from the peer" ||
  fail "no hash failure recorded (the damaged piece may have come from the seeder first: http $from_http, peer $from_peer)"

[[ $failures -eq 0 ]] || { show_logs; tail -n 20 "$NGINX_LOG" >&2; }
finish
