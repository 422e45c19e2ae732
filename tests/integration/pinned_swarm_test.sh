#!/usr/bin/env bash
# One swarm per upstream commit: nodes A and B each import test-org/swarm@<commit> from the hub
# double on their own (HTTP path), get the same v2 info-hash and seed it. Node C, fresh, with
# an empty config and only a test catalog whose entry carries that `info_hash_v2`, fetches by
# alias with --peer A and B while the hub is up: after the git pin it joins the swarm by
# info-hash (metadata checked against the pin first) with the hub's resolve base as web seed.
# A, B (upload limits) and C's hub (nginx limit_rate on the hub and its CDN) are throttled so
# that all three must contribute, and `show --json` must say bytes came from each. Every file
# is then checked against the commit's git objects. A catalog entry whose info_hash_v2 is
# another commit's torrent (seeded by A) is refused naming the difference, nothing complete; one
# whose swarm no peer holds falls back to the hub after 30 s without metadata.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py

# 16 MiB + 8 MiB shards (LFS files: threshold 1 MiB) and small files: 24 MiB and more.
# A permissive model card in each repository: nothing to accept (license_accept_test.sh covers that).
src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 16
permissive_card "$src"
other=$T/other
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$other" 1 other
permissive_card "$other"
hub=$T/hub
declare -A commit
commit[swarm]=$(python3 "$double" build "$hub" test-org/swarm "$src" --lfs-threshold 1048576)
commit[other]=$(python3 "$double" build "$hub" test-org/other "$other" --lfs-threshold 1048576)
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/wrong" 1 wrong
permissive_card "$T/wrong"
commit[wrong]=$(python3 "$double" build "$hub" test-org/wrong "$T/wrong" --lfs-threshold 1048576)
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/lonely" 1 lonely
permissive_card "$T/lonely"
commit[lonely]=$(python3 "$double" build "$hub" test-org/lonely "$T/lonely")
start_hub_double "$hub"
fast_hub=$HUB_URL
# C's hub: the same repositories, its hub and CDN at 1 MiB/s per connection.
rate=1m
nginx_with_server 127.0.0.2 "limit_rate $rate;
    $(hub_double_cdn_locations "$hub")" || exit 1
slow_cdn_log=$NGINX_LOG
nginx_with_server 127.0.0.1 "limit_rate $rate;
    $(hub_double_locations "$hub" "$NGINX_URL")" || exit 1
slow_hub=$NGINX_URL
slow_hub_log=$NGINX_LOG

# check_tree DIR NAME : DIR holds exactly the files of test-org/NAME's commit, each with the
# content the commit's git objects name (a small file's blob, an LFS pointer's SHA-256 and size).
check_tree() {
  python3 "$WEIGHTS_SOURCE_DIR/tests/lib/check_commit_tree.py" "$1" "$hub/git/test-org/$2.git" "${commit[$2]}"
}

# --- A and B import the same commit on their own, from the hub, and seed it ------------------------
id=test-org/swarm@${commit[swarm]}
# 1.5 MiB/s up each (loopback peers obey it too).
printf '[limits]\nupload_rate = 1572864\n[upstream]\nendpoint = "%s"\n' "$fast_hub" >"$T/seeder.toml"
for n in 1 2; do
  start_daemon "$n" --config "$T/seeder.toml"
  expect_ok "node $n imports $id from the hub" ctl "$n" --json fetch "$id"
done
v2=$(ctl 1 --json show "$id" | jq -r .v2_infohash)
[[ $v2 =~ ^[0-9a-f]{64}$ && $(ctl 2 --json show "$id" | jq -r .v2_infohash) == "$v2" ]] &&
  pass "A and B share one v2 info-hash ($v2)" || fail "v2: $v2 vs $(ctl 2 --json show "$id")"
for n in 1 2; do
  [[ $(ctl "$n" --json show "$id" | jq -r '.state + " " + (.seeding | tostring)') == \
    "complete true" ]] && pass "node $n seeds it" || fail "node $n: $(ctl "$n" --json show "$id")"
done
expect_ok "A imports test-org/other too" ctl 1 --json fetch "test-org/other@${commit[other]}"
other_v2=$(jq -r .v2_infohash <<<"$LAST_OUT")

# --- C: a fresh node, only a test catalog, fetches by alias from A, B and the hub at once ---------
mkdir -p "$T/catalog"
entry() { # ALIAS REPO COMMIT V2
  cat <<TOML
schema = 1
family = "$1"
default = "base"

[[model]]
id = "$2"
variant = "base"
upstream = "huggingface"
repo = "$2"
commit = "$3"
license = "mit"
gated = false
info_hash_v2 = "$4"

[[model.source]]
url = "https://example.invalid/pins.md"
confidence = "high"
TOML
}
entry swarm-test test-org/swarm "${commit[swarm]}" "$v2" >"$T/catalog/swarm.toml"
entry wrong-test test-org/wrong "${commit[wrong]}" "$other_v2" >"$T/catalog/wrong.toml"
# A swarm nobody holds (an info-hash no torrent has).
nobody_v2=$(printf 'no such torrent' | sha256sum | cut -d' ' -f1)
entry lonely-test test-org/lonely "${commit[lonely]}" "$nobody_v2" >"$T/catalog/lonely.toml"
printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$slow_hub" "$T/catalog" >"$T/c.toml"
start_daemon 3 --config "$T/c.toml"
a=$(peer_of 1)
b=$(peer_of 2)
expect_ok "C fetches swarm-test with --peer A and B" ctl 3 --json fetch swarm-test --peer "$a" \
  --peer "$b"
got=$(ctl 3 --json show "$id")
[[ $(jq -r '.state + " " + .upstream.pinned_by + " " + .v2_infohash' <<<"$got") == \
  "complete catalog $v2" ]] && pass "C's release is complete, with the swarm's info-hash" ||
  { fail "C: $got"; show_logs; }
check_tree "$(jq -r .path <<<"$got")" swarm && pass "every file C has matches the commit" ||
  fail "C's view"
grep -q "joining swarm $v2" "$T/d3/log" && pass "C joined the swarm by info-hash" ||
  fail "log: $(tail -n 20 "$T/d3/log")"
grep -q "metadata has the pinned torrent's shape" "$T/d3/log" &&
  pass "the metadata was checked against the pin" || fail "no metadata check logged"
from() { jq -r --arg k "$1" --arg a "$2" \
  '[.sources[]? | select(.kind == $k and (.address | startswith($a))) | .downloaded_bytes] | add // 0' \
  <<<"$got"; }
from_a=$(from peer 127.0.0.2)
from_b=$(from peer 127.0.0.3)
from_web=$(from web_seed "")
echo "sources: $(jq -c '{sources, downloaded_from_peers, downloaded_from_web_seeds}' <<<"$got")"
((from_a > 0)) && pass "bytes came from A ($from_a)" || fail "nothing from A: $got"
((from_b > 0)) && pass "bytes came from B ($from_b)" || fail "nothing from B: $got"
((from_web > 0)) && pass "bytes came from the hub's web seed ($from_web)" ||
  fail "nothing from the web seed: $got"
[[ $(jq -r '.downloaded_from_peers' <<<"$got") == $((from_a + from_b)) &&
  $(jq -r '.downloaded_from_web_seeds' <<<"$got") == "$from_web" ]] &&
  pass "the totals add up the sources" || fail "totals: $got"
grep -qE '"GET /test-org/swarm/resolve/'"${commit[swarm]}"'/' "$slow_hub_log" &&
  pass "the web seed asked the hub's resolve URLs of the commit" || fail "no resolve request"
ctl 3 show "$id" | grep -q "from peers .* / from the hub (web seeds)" &&
  pass "show says how much came from peers and from the hub" || fail "show: $(ctl 3 show "$id")"
[[ -z $(ls -A "$T/d3/state/upstream" 2>/dev/null) ]] && pass "nothing stays in upstream staging" ||
  fail "staging left: $(ls -R "$T/d3/state/upstream")"
wait_until "C to seed it" 10 bash -c \
  "[[ \$('$W' --socket '$T/d3/ctl.sock' --json show '$id' | jq -r .seeding) == true ]]" &&
  pass "C seeds it" || fail "C does not seed"

# --- a catalog entry naming another commit's torrent: refused, nothing complete --------------------
wid=test-org/wrong@${commit[wrong]}
out=$(ctl 3 --json fetch wrong-test --peer "$a" 2>&1) || true
got=$(ctl 3 --json show "$wid")
[[ $(jq -r .state <<<"$got") == failed ]] && pass "the wrong info-hash fails the release" ||
  fail "wrong: $got $out"
msg=$(jq -r .error.message <<<"$got")
[[ $(jq -r .error.code <<<"$got") == wrong_target && $msg == *"not the pinned torrent of commit ${commit[wrong]}"* ]] &&
  pass "the error says the swarm's torrent is not the commit's ($msg)" || fail "error: $got"
[[ ! -d $T/d3/state/views/test-org/wrong ]] && pass "no view of the refused release" ||
  fail "a view exists"
wait_until "the refused release's staging to go" 10 \
  bash -c "[[ ! -e '$T/d3/state/upstream/${commit[wrong]}' ]]" &&
  pass "its staging directory is gone" || fail "staging left"

# --- a swarm no peer holds: after 30 s without metadata, the files come from the hub alone --------
lid=test-org/lonely@${commit[lonely]}
expect_ok "C fetches lonely-test (nobody holds its swarm)" ctl 3 --json fetch lonely-test
got=$(ctl 3 --json show "$lid")
[[ $(jq -r .state <<<"$got") == complete ]] &&
  pass "with no peer the fetch falls back to the hub and completes" || fail "lonely: $got"
grep -q "no peer gave the metadata of swarm $nobody_v2" "$T/d3/log" &&
  pass "the log says why it went to the hub alone" || fail "no fallback logged"
check_tree "$(jq -r .path <<<"$got")" lonely && pass "every file of the fallback matches" ||
  fail "fallback view"

finish
