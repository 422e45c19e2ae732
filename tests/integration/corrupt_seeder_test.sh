#!/usr/bin/env bash
# A dishonest peer serves corrupted data: the fetcher must detect the bad pieces (Merkle check),
# ban the peer, finish from the honest peer, and end with exactly the signed bytes.
#
# Daemon 1 is honest. Daemon 2 seeds its own copy of the files, is stopped cleanly (its resume
# data says "complete"), has bytes of its staging copy overwritten in place, and is restarted:
# the slim restart does not re-hash, so it serves the tampered pieces. Daemon 1 is rate-limited
# so that daemon 3 gets most pieces from daemon 2 rather than ignoring it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

model=corrupt-org/tiny
rev=c0ffee1

feed_with_release "$model" "$rev" 8 corrupt
# Daemon 2's files must share no inode with daemon 1's (seeding hard-links the source files).
cp -r "$T/w" "$T/w2"

printf '[limits]\nupload_rate = %d\n' $((2 * 1024 * 1024)) >"$T/slow.toml"
start_daemon 1 --config "$T/slow.toml"
start_daemon 2
start_daemon 3
for n in 1 2 3; do
  expect_ok "daemon $n subscribes to the feed" ctl "$n" feed add demo "$T/pub/public" --root "$root"
done
expect_ok "daemon 1 seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" \
  --revision "$rev"
expect_ok "daemon 2 seeds its own copy" ctl 2 seed "$T/w2" --feed demo --model "$model" \
  --revision "$rev"

kill_daemon 2 TERM
shard=$(find "$T/d2/state/staging" -name 'model-00001-of-00002.safetensors' -type f)
[[ -n $shard && $(stat -c %i "$shard") != $(stat -c %i "$T/w/model-00001-of-00002.safetensors") ]] &&
  pass "daemon 2's staging shard is its own file" || fail "staging shard: '$shard'"
# Overwrite 6 MiB from offset 1 MiB (every piece in that range turns bad), keeping the size.
size_before=$(stat -c %s "$shard")
head -c $((6 * 1024 * 1024)) /dev/zero | tr '\0' '\377' |
  dd of="$shard" bs=1M seek=1 conv=notrunc status=none
[[ $(stat -c %s "$shard") == "$size_before" ]] || fail "tampering changed the size"
cmp -s "$shard" "$T/w/model-00001-of-00002.safetensors" && fail "shard not tampered" ||
  pass "daemon 2's shard is tampered"
start_daemon 2

expect_ok "daemon 3 fetches from the honest and the dishonest peer" timeout 100 \
  "$W" --socket "$T/d3/ctl.sock" --json fetch "$model@$rev" --peer "$(peer_of 2)" \
  --peer "$(peer_of 1)"

r=$(ctl 3 --json show "$model@$rev")
echo "daemon 3: hash_failures $(jq .hash_failures <<<"$r"), banned_peers $(jq .banned_peers <<<"$r")," \
  "downloaded $(jq .downloaded_bytes <<<"$r") of $(jq .total_length <<<"$r") bytes"
[[ $(jq -r .state <<<"$r") == complete ]] && pass "the release is complete" || fail "state: $r"
[[ $(jq -r .hash_failures <<<"$r") -ge 1 || $(jq -r .banned_peers <<<"$r") -ge 1 ]] &&
  pass "the fetcher detected the corrupted pieces" || fail "no hash failure or ban: $r"
grep "banned peer" "$T/d3/log" | sed 's/^/  /'
grep -q "banned peer.*127\.0\.0\.2" "$T/d3/log" && fail "the honest peer (127.0.0.2) was banned" ||
  pass "the honest peer was not banned"
view=$(jq -r .path <<<"$r")
if [[ $view != null ]] && (cd "$T/w" && sha256sum -- *) >"$T/expected" &&
  (cd "$view" && sha256sum -- *) >"$T/got" && cmp -s "$T/expected" "$T/got"; then
  pass "every file's SHA-256 matches the signed release"
else
  fail "the fetched files differ from the release (view $view)"
fi
# Payload counters come from periodic status updates, so they may lag the fetch.
d2_uploaded() {
  up2=$(ctl 2 --json show "$model@$rev" | jq -r .uploaded_bytes)
  [[ $up2 -gt 0 ]]
}
wait_until "daemon 2's upload counter" 30 d2_uploaded && pass "the dishonest peer did serve data ($up2 bytes)" ||
  fail "daemon 2 uploaded nothing: the test did not exercise a corrupt peer"

[[ $failures -eq 0 ]] || show_logs
finish
