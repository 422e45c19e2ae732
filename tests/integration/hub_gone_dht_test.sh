#!/usr/bin/env bash
# Fetching with the hub gone (docs/pinned-releases.md §4c): a private DHT of five daemons, each
# on its own 127.0.k.1 (its own /24) with a port chosen first, each told the others as
# [network] dht_nodes and no bootstrap router. A and B import test-org/swarm@<commit> from the
# hub double and announce its rendezvous key with their pin exchange's port; C and D only route.
# The double is stopped. F, fresh, with only a catalog entry (no info_hash_v2), fetches it by
# alias: its git fetch fails, it looks the pin's key up in the DHT, takes an offer and the
# commit's git objects from a peer, checks them against the pin, joins the offered swarm (its
# metadata checked against the pin) with no web seed, and gets every file from peers; every file
# is checked against the commit's git objects. F's first two pin exchanges ([network]
# pin_exchange_peers) are hostile: one offers another commit's objects under the pin, the other
# the right objects with another release's info-hash (A seeds that swarm, so its metadata arrives
# and has the wrong shape). Both are named in `show` and the fetch goes on from the honest nodes.
# F's view and its Hugging Face cache snapshot are then exactly the commit's tree.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq curl
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py

src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 4
permissive_card "$src"
other=$T/other
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$other" 1 other
permissive_card "$other"
hub=$T/hub
declare -A commit
commit[swarm]=$(python3 "$double" build "$hub" test-org/swarm "$src" --lfs-threshold 1048576)
commit[other]=$(python3 "$double" build "$hub" test-org/other "$other" --lfs-threshold 1048576)
start_hub_double "$hub"
hub_pid=$NGINX_PID
id=test-org/swarm@${commit[swarm]}
key=$(pin_key test-org/swarm "${commit[swarm]}")
other_key=$(pin_key test-org/other "${commit[other]}")

# --- five nodes, 127.0.11.1 .. 127.0.15.1, ports chosen first; each knows the others ----------------
names=(A B C D F)
declare -A ip port
for i in 0 1 2 3 4; do
  n=${names[$i]}
  ip[$n]=127.0.$((11 + i)).1
  port[$n]=$(free_port "${ip[$n]}")
done
pin_catalog_file "$T/catalog/swarm.toml" swarm-test test-org/swarm "${commit[swarm]}"
# Hostile pin exchanges, F's first two: an offer for the pin with test-org/other's objects, and
# one with the right objects and test-org/other's info-hash.
evil_port=$(free_port 127.0.16.1)
evil2_port=$(free_port 127.0.17.1)
config() { # NODE [EXTRA TOML for [network]]
  local n=$1 others=() m
  for m in "${names[@]}"; do [[ $m == "$n" ]] || others+=("\"${ip[$m]}:${port[$m]}\""); done
  printf '[network]\nprofile = "private"\ndht = "on"\ndht_bootstrap_nodes = []\n'
  printf 'dht_nodes = [%s]\n' "$(IFS=,; echo "${others[*]}")"
  printf '%s\n' "${2:-}"
  printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$HUB_URL" "$T/catalog"
}
node_no() { case $1 in A) echo 1 ;; B) echo 2 ;; C) echo 3 ;; D) echo 4 ;; F) echo 5 ;; esac; }
for n in A B C D F; do
  extra=""
  [[ $n == F ]] &&
    extra="pin_exchange_peers = [\"127.0.16.1:$evil_port\", \"127.0.17.1:$evil2_port\"]"
  config "$n" "$extra" >"$T/$n.toml"
  START_PORT=${port[$n]} start_daemon_ns "$(node_no "$n")" "" "${ip[$n]}" \
    --config "$T/$n.toml" || { fail "node $n did not start"; show_logs; finish; }
done
for n in A B C D F; do
  [[ $(ctl "$(node_no "$n")" --json status | jq -r .listen_port) == "${port[$n]}" ]] ||
    fail "node $n listens on $(ctl "$(node_no "$n")" --json status | jq -r .listen_port), not ${port[$n]}"
done
dht_nodes() { ctl "$(node_no "$1")" --json status | jq -r .dht_nodes; }
has_dht_nodes() { (($(dht_nodes "$1") > 0)); }
for n in A B C D F; do
  wait_until "node $n to have DHT nodes" 60 has_dht_nodes "$n" &&
    pass "node $n has $(dht_nodes "$n") nodes in its DHT routing table" ||
    { fail "node $n: no DHT nodes"; show_logs; }
done

# --- A and B import the commit from the hub; they announce its key -----------------------------------
for n in A B; do
  expect_ok "node $n imports $id from the hub" ctl "$(node_no "$n")" --json fetch "$id"
done
expect_ok "A imports test-org/other too" ctl 1 --json fetch "test-org/other@${commit[other]}"
v2=$(ctl 1 --json show "$id" | jq -r .v2_infohash)
a_px=$(ctl 1 --json status | jq -r .pin_exchange_port)
((a_px > 0)) && pass "A's pin exchange listens on port $a_px" || fail "A: no pin exchange port"
wait_until "A to offer the pin" 10 curl -sf "http://${ip[A]}:$a_px/weightsd-pin/1/$key" -o /dev/null
offer=$(curl -sf "http://${ip[A]}:$a_px/weightsd-pin/1/$key") &&
  [[ $(jq -r '.commit + " " + .info_hash_v2' <<<"$offer") == "${commit[swarm]} $v2" ]] &&
  pass "A's pin exchange offers the commit's swarm" || fail "A's offer: $offer"
wait_until "A to announce the key" 30 grep -q "announcing held pins" "$T/d1/log" ||
  fail "A never announced"

# The hostile exchange: the honest offer's fields, test-org/other's objects.
# (A's pin exchange sees a release once the 2 s policy tick after it completed has run.)
wait_until "A to serve test-org/other's objects" 10 \
  curl -sf "http://${ip[A]}:$a_px/weightsd-pin/1/$other_key/objects" -o "$T/other.bundle" ||
  fail "A serves no objects for test-org/other"
curl -sf "http://${ip[A]}:$a_px/weightsd-pin/1/$key/objects" -o "$T/swarm.bundle" ||
  fail "A serves no objects for test-org/swarm"
other_v2=$(ctl 1 --json show "test-org/other@${commit[other]}" | jq -r .v2_infohash)
# evil.py IP PORT OFFER BUNDLE [INFO_HASH_V2]: serves OFFER with BUNDLE's size and SHA-256 (and
# INFO_HASH_V2 if given) and BUNDLE as its objects.
cat >"$T/evil.py" <<'PY'
import hashlib, http.server, json, sys
offer = json.loads(open(sys.argv[3]).read())
objects = open(sys.argv[4], "rb").read()
if len(sys.argv) > 5:
    offer["info_hash_v2"] = sys.argv[5]
offer["objects_sha256"] = hashlib.sha256(objects).hexdigest()
offer["objects_size"] = len(objects)
body = json.dumps(offer, separators=(",", ":"), sort_keys=True).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data, kind = (objects, "application/octet-stream") if self.path.endswith("/objects") else (body, "application/json")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
PY
printf '%s' "$offer" >"$T/offer.json"
python3 "$T/evil.py" 127.0.16.1 "$evil_port" "$T/offer.json" "$T/other.bundle" 2>"$T/evil.log" &
evil_pid=$!
harness_pids+=("$evil_pid")
python3 "$T/evil.py" 127.0.17.1 "$evil2_port" "$T/offer.json" "$T/swarm.bundle" "$other_v2" \
  2>"$T/evil2.log" &
harness_pids+=("$!")
wait_until "the hostile exchanges to listen" 10 \
  bash -c "ss -Hltn 'src 127.0.16.1:$evil_port' | grep -q . && ss -Hltn 'src 127.0.17.1:$evil2_port' | grep -q ." ||
  fail "hostile exchanges"

# --- the hub goes away --------------------------------------------------------------------------------
kill -9 "$hub_pid"
wait_until "the hub to stop" 10 bash -c "! kill -0 $hub_pid 2>/dev/null" || fail "hub still up"
! curl -sf "$HUB_URL/" >/dev/null 2>&1 && pass "the hub is unreachable" || fail "the hub answers"

# --- F, fresh, fetches by alias from the DHT's peers ----------------------------------------------------
expect_ok "F fetches swarm-test with the hub gone" ctl 5 --json fetch swarm-test --hf-cache "$T/hf"
got=$(ctl 5 --json show "$id") || { fail "F does not answer"; show_logs; finish; }
[[ $(jq -r '.state + " " + .v2_infohash' <<<"$got") == "complete $v2" ]] &&
  pass "F's release is complete with the swarm's info-hash" || { fail "F: $got"; show_logs; }
python3 "$WEIGHTS_SOURCE_DIR/tests/lib/check_commit_tree.py" "$(jq -r .path <<<"$got")" \
  "$hub/git/test-org/swarm.git" "${commit[swarm]}" && pass "every file F has matches the commit" ||
  fail "F's view"
python3 "$WEIGHTS_SOURCE_DIR/tests/lib/check_commit_tree.py" \
  "$T/hf/models--test-org--swarm/snapshots/${commit[swarm]}" "$hub/git/test-org/swarm.git" \
  "${commit[swarm]}" && pass "every file of F's Hugging Face snapshot matches the commit" ||
  fail "F's HF cache"
grep -q "looking commit ${commit[swarm]} up in the DHT (key $key)" "$T/d5/log" &&
  pass "F looked the pin's key up in the DHT" || fail "log: $(tail -n 30 "$T/d5/log")"
grep -qE "peer 127\.0\.1[12]\.1:[0-9]+ answered with commit ${commit[swarm]}'s objects \(verified\)" \
  "$T/d5/log" && pass "A's or B's objects, found through the DHT, were verified against the pin" ||
  fail "no verified holder logged"
grep -q "peer 127.0.16.1:$evil_port:" "$T/d5/log" && pass "the hostile exchange was asked first" ||
  fail "the hostile exchange was not asked"
# (Per-source bytes are sampled every 0.5 s: a 6 MiB loopback transfer may finish between two
# samples, so only the absence of a web seed is checked.)
grep -q "joining swarm $v2 (1 peers given, web seed none)" "$T/d5/log" &&
  [[ $(jq -r '[.sources[]? | select(.kind == "web_seed")] | length' <<<"$got") == 0 ]] &&
  pass "F joined the swarm with no web seed" ||
  fail "sources: $(jq -c '{sources, downloaded_from_peers}' <<<"$got")"
rejected=$(jq -r '.upstream.rejected_peers // [] | join("\n")' <<<"$got")
grep -q "^peer 127.0.16.1:$evil_port: objects are not commit ${commit[swarm]}'s" <<<"$rejected" &&
  pass "show names the hostile peer ($(head -n 1 <<<"$rejected"))" || fail "rejected: $got"
grep -q "^peer 127.0.17.1:$evil2_port: the metadata of its info-hash $other_v2 is not commit ${commit[swarm]}'s torrent" \
  <<<"$rejected" && pass "show names the peer that offered another swarm" || fail "rejected: $rejected"
ctl 5 show "$id" | grep -q "127.0.16.1:$evil_port" && pass "weightsctl show prints them" ||
  fail "show: $(ctl 5 show "$id")"
wait_until "F to seed it" 10 bash -c \
  "[[ \$('$W' --socket '$T/d5/ctl.sock' --json show '$id' | jq -r .seeding) == true ]]" &&
  pass "F seeds it" || fail "F does not seed"
# F serves the pin in turn (it kept the objects it verified).
f_px=$(ctl 5 --json status | jq -r .pin_exchange_port)
wait_until "F to offer the pin" 10 curl -sf "http://${ip[F]}:$f_px/weightsd-pin/1/$key" -o /dev/null &&
  [[ $(curl -sf "http://${ip[F]}:$f_px/weightsd-pin/1/$key/objects" | sha256sum | cut -d' ' -f1) == \
    $(jq -r .objects_sha256 <<<"$offer") ]] &&
  pass "F serves the commit's objects in turn" || fail "F's pin exchange"

finish
