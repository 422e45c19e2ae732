#!/usr/bin/env bash
# A hub-down fetch from two holders at once (issue #17's benchmark failure, libtorrent error 217
# "v1 and v2 hashes do not describe the same data"; docs/pinned-releases.md §4c): a private DHT of
# three daemons on 127.0.2k.1 (ports chosen first, each told the others as [network] dht_nodes).
# A and B import test-org/two@<commit> (two 24 MiB shards: multi-piece files whose piece layers
# F has to ask its peers for) from the hub double; the double is stopped; F, fresh, fetches it by
# alias from the DHT's peers. The fetch must complete with every file matching the commit. In
# libtorrent 2.0.8 a piece layer arriving while a piece that passed its SHA-1 check is still
# being written stops the torrent with that error; the engine rechecks (hash_recheck.hpp), so
# such a run completes too and the recheck shows in hash_failures and the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq curl
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py

src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 24 two-holders
permissive_card "$src"
hub=$T/hub
commit=$(python3 "$double" build "$hub" test-org/two "$src" --lfs-threshold 1048576)
start_hub_double "$hub"
hub_pid=$NGINX_PID
id=test-org/two@$commit

names=(A B F)
declare -A ip port
for i in 0 1 2; do
  n=${names[$i]}
  ip[$n]=127.0.$((21 + i)).1
  port[$n]=$(free_port "${ip[$n]}")
done
pin_catalog_file "$T/catalog/two.toml" two-holders test-org/two "$commit"
config() { # NODE
  local n=$1 others=() m
  for m in "${names[@]}"; do [[ $m == "$n" ]] || others+=("\"${ip[$m]}:${port[$m]}\""); done
  printf '[network]\nprofile = "private"\ndht = "on"\ndht_bootstrap_nodes = []\nlsd = "off"\n'
  printf 'dht_nodes = [%s]\n' "$(IFS=,; echo "${others[*]}")"
  printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$HUB_URL" "$T/catalog"
}
node_no() { case $1 in A) echo 1 ;; B) echo 2 ;; F) echo 3 ;; esac; }
for n in A B F; do
  config "$n" >"$T/$n.toml"
  START_PORT=${port[$n]} start_daemon_ns "$(node_no "$n")" "" "${ip[$n]}" \
    --config "$T/$n.toml" || { fail "node $n did not start"; show_logs; finish; }
done
dht_nodes() { ctl "$(node_no "$1")" --json status | jq -r .dht_nodes; }
has_dht_nodes() { (($(dht_nodes "$1") > 0)); }
for n in A B F; do
  wait_until "node $n to have DHT nodes" 60 has_dht_nodes "$n" ||
    { fail "node $n: no DHT nodes"; show_logs; }
done

# --- A and B hold the commit and announce its key ------------------------------------------------
for n in A B; do
  expect_ok "node $n imports $id from the hub" ctl "$(node_no "$n")" --json fetch "$id"
done
v2=$(ctl 1 --json show "$id" | jq -r .v2_infohash)
for n in A B; do
  wait_until "$n to announce the pin" 30 grep -q "announcing held pins" "$T/d$(node_no "$n")/log" ||
    fail "$n never announced"
done

kill -9 "$hub_pid"
wait_until "the hub to stop" 10 bash -c "! kill -0 $hub_pid 2>/dev/null" || fail "hub still up"

# --- F fetches from the two holders ---------------------------------------------------------------
expect_ok "F fetches two-holders with the hub gone" ctl 3 --json fetch two-holders
got=$(ctl 3 --json show "$id") || { fail "F does not answer"; show_logs; finish; }
[[ $(jq -r '.state + " " + .v2_infohash' <<<"$got") == "complete $v2" ]] &&
  pass "F's release is complete with the holders' info-hash" || { fail "F: $got"; show_logs; }
python3 "$WEIGHTS_SOURCE_DIR/tests/lib/check_commit_tree.py" "$(jq -r .path <<<"$got")" \
  "$hub/git/test-org/two.git" "$commit" && pass "every file F has matches the commit" ||
  fail "F's view"
grep -q "joining swarm $v2 (1 peers given, web seed none)" "$T/d3/log" &&
  pass "F joined the holders' swarm with no web seed" || fail "log: $(tail -n 30 "$T/d3/log")"
# Which holders sent bytes, and whether libtorrent stopped the torrent on the way (then the
# engine rechecked it; more than max_inconsistent_rechecks would have failed the fetch above).
uploads=""
for n in A B; do
  uploads+="$n $(ctl "$(node_no "$n")" --json show "$id" | jq -r .uploaded_bytes) bytes; "
done
rechecks=$(grep -c "rechecking the files and resuming" "$T/d3/log" || true)
echo "info: holders' uploads: ${uploads}F's rechecks after inconsistent hashes: $rechecks"
! grep -q "fetch $id: .*v1 and v2 hashes" "$T/d3/log" &&
  pass "no inconsistent-hashes error failed F's fetch" || fail "log: $(grep "v1 and v2" "$T/d3/log")"

finish
