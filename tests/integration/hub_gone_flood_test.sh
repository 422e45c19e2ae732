#!/usr/bin/env bash
# Fetching with the hub gone while the pin's DHT key is flooded with bogus peers
# (docs/pinned-releases.md §4c, docs/threat-model.md "The DHT rendezvous"). A private DHT of three
# daemons, each on its own 127.0.k.1 with a port chosen first, each told the others as
# [network] dht_nodes: A imports test-org/swarm@<commit> from the hub double and announces its
# key; C only routes; F is fresh, with a catalog entry for the pin (no info_hash_v2) and no
# configured pin exchange. A scripted DHT node (tests/lib/dht_flood.py) announces that key and
# the key of a pin nobody holds (test-org/ghost@<commit>) to every node with 105 bogus endpoints
# from three addresses: 35 closed ports, 35 tarpits (accept, never answer), 35 garbage pin
# exchanges (not JSON, another commit's offer, objects that do not match, 503, an offer over
# 4 KiB, a redirect, objects that trickle in, a closed connection). The hub is stopped.
#  1. F fetches the pin by alias: it finds A among the bogus endpoints through the DHT alone,
#     every file checks against the commit, `show` names bogus peers (at most 16), and the fetch
#     ends well within the search's bound.
#  2. F fetches the ghost pin: only bogus endpoints answer, so the fetch fails once the 90 s
#     search is over (plus one ask's deadline), naming the first 16 rejected peers and how many
#     more there were.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq curl python3
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py

src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 4
permissive_card "$src"
hub=$T/hub
commit=$(python3 "$double" build "$hub" test-org/swarm "$src" --lfs-threshold 1048576)
start_hub_double "$hub"
hub_pid=$NGINX_PID
id=test-org/swarm@$commit
key=$(pin_key test-org/swarm "$commit")
ghost_commit=$(printf 'ghost' | sha1sum | cut -d' ' -f1)
ghost=test-org/ghost@$ghost_commit
ghost_key=$(pin_key test-org/ghost "$ghost_commit")

# --- three nodes, 127.0.41.1 .. 127.0.43.1, ports chosen first; each knows the others -------------
names=(A C F)
declare -A ip port no
for i in 0 1 2; do
  n=${names[$i]}
  no[$n]=$((i + 1))
  ip[$n]=127.0.$((41 + i)).1
  port[$n]=$(free_port "${ip[$n]}")
done
pin_catalog_file "$T/catalog/swarm.toml" swarm-test test-org/swarm "$commit"
for n in "${names[@]}"; do
  others=()
  for m in "${names[@]}"; do [[ $m == "$n" ]] || others+=("\"${ip[$m]}:${port[$m]}\""); done
  {
    printf '[network]\nprofile = "private"\ndht = "on"\ndht_bootstrap_nodes = []\n'
    printf 'dht_nodes = [%s]\n' "$(IFS=,; echo "${others[*]}")"
    printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$HUB_URL" "$T/catalog"
  } >"$T/$n.toml"
  START_PORT=${port[$n]} start_daemon_ns "${no[$n]}" "" "${ip[$n]}" --config "$T/$n.toml" ||
    { fail "node $n did not start"; show_logs; finish; }
done
has_dht_nodes() { (($(ctl "${no[$1]}" --json status | jq -r .dht_nodes) > 0)); }
for n in "${names[@]}"; do
  wait_until "node $n to have DHT nodes" 60 has_dht_nodes "$n" ||
    { fail "node $n: no DHT nodes"; show_logs; }
done

# --- A imports the commit from the hub and announces its key ----------------------------------------
expect_ok "A imports $id from the hub" ctl 1 --json fetch "$id"
a_px=$(ctl 1 --json status | jq -r .pin_exchange_port)
wait_until "A to offer the pin" 10 curl -sf "http://${ip[A]}:$a_px/weightsd-pin/1/$key" -o /dev/null ||
  fail "A does not offer the pin"
wait_until "A to announce the key" 30 grep -q "announcing held pins" "$T/d1/log" ||
  fail "A never announced"

# --- the flood: 105 bogus endpoints under both keys, stored by every node --------------------------
nodes=()
for n in "${names[@]}"; do nodes+=(--node "${ip[$n]}:${port[$n]}"); done
python3 "$WEIGHTS_SOURCE_DIR/tests/lib/dht_flood.py" "${nodes[@]}" \
  --pin test-org/swarm "$commit" --pin test-org/ghost "$ghost_commit" \
  --closed 127.0.44.1:35 --tarpit 127.0.45.1:35 --garbage 127.0.46.1:35 \
  --status "$T/flood.status" 2>"$T/flood.log" &
harness_pids+=("$!")
wait_until "the flood of the pin's key" 60 grep -q "announced test-org/swarm 105" "$T/flood.status" &&
  pass "105 bogus endpoints announced under the pin's key" ||
  { fail "flood: $(cat "$T/flood.log")"; finish; }

kill -9 "$hub_pid"
wait_until "the hub to stop" 10 bash -c "! kill -0 $hub_pid 2>/dev/null" || fail "hub still up"
! curl -sf "$HUB_URL/" >/dev/null 2>&1 && pass "the hub is unreachable" || fail "the hub answers"

# --- 1. F finds A among the flood ----------------------------------------------------------------------
start=$SECONDS
expect_ok "F fetches swarm-test with the hub gone and the key flooded" \
  ctl 3 --json fetch swarm-test
took=$((SECONDS - start))
# Generous: the search itself gives up after 90 s; on loopback this takes seconds.
((took <= 120)) && pass "F's fetch took ${took} s (bound: 120 s)" || fail "F's fetch took ${took} s"
got=$(ctl 3 --json show "$id") || { fail "F does not answer"; show_logs; finish; }
[[ $(jq -r .state <<<"$got") == complete ]] && pass "F's release is complete" ||
  { fail "F: $got"; show_logs; }
python3 "$WEIGHTS_SOURCE_DIR/tests/lib/check_commit_tree.py" "$(jq -r .path <<<"$got")" \
  "$hub/git/test-org/swarm.git" "$commit" && pass "every file F has matches the commit" ||
  fail "F's view"
grep -qE "peer ${ip[A]//./\\.}:$a_px answered with commit $commit's objects \(verified\)" \
  "$T/d3/log" && pass "A's objects, found through the DHT, were verified" ||
  fail "A was not the verified peer: $(grep -E 'answered|rejected|peer' "$T/d3/log" | tail -n 5)"
rejected=$(jq -r '.upstream.rejected_peers // [] | .[]' <<<"$got")
shown=$(grep -c . <<<"$rejected" || true)
((shown >= 1 && shown <= 16)) && pass "show names $shown rejected peers (at most 16)" ||
  fail "rejected: $(jq -c .upstream <<<"$got")"
bogus=$(grep -cE '^peer 127\.0\.4[456]\.1:[0-9]+: ' <<<"$rejected" || true)
[[ $bogus == "$shown" ]] && pass "every peer named is a bogus one ($(head -n 1 <<<"$rejected"))" ||
  fail "rejected: $rejected"
flooded=$(grep -cE "peer 127\.0\.4[456]\.1:" "$T/d3/log" || true)
((flooded > 0)) && pass "F asked bogus endpoints it found only through the DHT ($flooded log lines)" ||
  fail "F never saw the flood"
human=$(ctl 3 show "$id") # (not piped into grep -q: pipefail and SIGPIPE)
grep -qE "rejected peer 127\.0\.4[456]\.1:" <<<"$human" && pass "weightsctl show prints them" ||
  fail "show: $human"

# --- 2. a pin only the flood answers for: a bounded failure that names the peers ---------------------
wait_until "the flood of the ghost pin's key" 60 grep -q "announced test-org/ghost 105" \
  "$T/flood.status" || fail "flood of the ghost key: $(cat "$T/flood.log")"
start=$SECONDS
expect_ok "F starts fetching $ghost" ctl 3 --json fetch "$ghost" --accept-license --no-wait
ghost_state() { ctl 3 --json show "$ghost" | jq -r .state; }
ghost_failed() { [[ $(ghost_state) == failed ]]; }
wait_until "the ghost fetch to fail" 180 ghost_failed || fail "ghost: $(ctl 3 --json show "$ghost")"
took=$((SECONDS - start))
# 90 s of search, then at most one ask's deadline (a tarpit's 5 s; a trickle's 10 s).
((took >= 80 && took <= 130)) && pass "the ghost fetch failed after ${took} s (bound: 130 s)" ||
  fail "the ghost fetch failed after ${took} s"
got=$(ctl 3 --json show "$ghost")
[[ $(jq -r '.upstream.rejected_peers | length' <<<"$got") == 16 ]] &&
  (($(jq -r '.upstream.rejected_peers_more // 0' <<<"$got") > 0)) &&
  pass "show names 16 rejected peers and $(jq -r .upstream.rejected_peers_more <<<"$got") more" ||
  fail "ghost rejected: $(jq -c .upstream <<<"$got")"
message=$(jq -r .error.message <<<"$got")
grep -qE "no peer under the pin's DHT key $ghost_key served commit $ghost_commit within 90 s \([0-9]+ endpoints found, [0-9]+ asked\); rejected: .*; and [0-9]+ more$" \
  <<<"$message" && pass "the error names the key, the bound and the count (${message:0:160}…)" ||
  fail "ghost error: $message"
human=$(ctl 3 show "$ghost")
grep -qE "^  rejected [0-9]+ more peers$" <<<"$human" && pass "weightsctl show prints the count" ||
  fail "show: $human"

finish
