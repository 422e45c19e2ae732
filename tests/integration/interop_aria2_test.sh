#!/usr/bin/env bash
# Interop with aria2 1.36 (v1-only; it mis-hashes hybrids, so it uses the v1 companion torrent),
# peers found through a real tracker (opentracker) named in the signed manifest:
#   1. weightsd seeds a release; aria2c downloads the companion from it and gets the same bytes.
#   2. weightsd stops; aria2c seeds what it downloaded; a fresh weightsd fetches the release from
#      that v1-only swarm and ends with every file SHA-256-verified against the manifest.
#   3. The same with a second, lying aria2c seeder (damaged copy, served unverified).
#   4. A partial selection (--include) fetched through the companion.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
source "$(dirname "$0")/bt_lib.sh"
need_cmds aria2c opentracker curl jq ss

model=interop-org/aria-llm
rev=a71a2c0
start_opentracker 127.0.0.9
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 2 aria-interop
publish_release "$T/w" "$model" "$rev" --tracker "$TRACKER_URL" --piece-length 262144
tracker_allow "$V1_HASH" "$V2_HASH" "$COMPANION_HASH"
tracker_wait_allowed "$COMPANION_HASH"

aria_common=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false
  --enable-peer-exchange=false --disable-ipv6=true --summary-interval=0 --console-log-level=warn
  --auto-save-interval=0 --bt-save-metadata=false --save-session-interval=0
  --interface=127.0.0.7 --bt-tracker-connect-timeout=5 --bt-tracker-timeout=5)

# 1. weightsd -> aria2c
start_daemon 1
ctl 1 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"
wait_until "the seeder to seed the v1 companion" 30 \
  bash -c "[[ \$('$W' --socket '$T/d1/ctl.sock' --json show '$model@$rev' | jq -r .v1_seeding) == true ]]"
rc=0
timeout 90 aria2c "${aria_common[@]}" --listen-port="$(free_port 127.0.0.7)" --seed-time=0 \
  --dir="$T/aria" --log="$T/aria-leech.log" --log-level=notice "$V1TORRENT" >"$T/aria-leech.out" 2>&1 ||
  rc=$?
[[ $rc -eq 0 ]] && pass "aria2c downloaded the v1 companion from weightsd" ||
  fail "aria2c exit $rc: $(tail -n 5 "$T/aria-leech.out")"
same_files "$T/w" "$T/aria/$rev" && pass "aria2c's files equal the published ones" ||
  fail "aria2c's files differ"
seeder_uploaded() {
  up=$(release_field 1 "$model@$rev" .uploaded_bytes)
  [[ $up -gt 0 ]]
}
wait_until "the seeder's upload counter" 30 seeder_uploaded && pass "the weightsd seeder uploaded $up bytes" || fail "seeder uploaded nothing"
kill_daemon 1 9

# 2. aria2c (seeding the companion only) -> weightsd
aport=$(free_port 127.0.0.7)
start_honest_aria2() { # seeds the companion from what it downloaded, on 127.0.0.7:$aport
  aria2c "${aria_common[@]}" --listen-port="$aport" --seed-ratio=0.0 --check-integrity=true \
    --bt-hash-check-seed=true --dir="$T/aria" --log="$T/aria-seed.log" --log-level=info \
    "$V1TORRENT" >>"$T/aria-seed.out" 2>&1 &
  honest_pid=$!
  bt_pids+=("$honest_pid")
}
start_honest_aria2
wait_until "aria2c to listen" 20 listening 127.0.0.7 "$aport"
# weightsd 1 announced too (and is gone): wait for a second seeder, aria2c.
wait_until "aria2c to announce itself as a seeder" 30 has_seeders "$COMPANION_HASH" 2

start_daemon 2
ctl 2 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd starts fetching (no --peer: the tracker finds aria2c)" \
  ctl 2 fetch "$model@$rev" --no-wait
if wait_until "weightsd to verify every file fetched from aria2c" 60 every_file_verified 2 "$model@$rev"; then
  pass "weightsd fetched from a v1-only swarm and verified every file"
else
  fail "fetch from aria2c did not complete: $(ctl 2 --json show "$model@$rev" | jq -c '{state,error,peers,v1_downloading,files:[.files[]|{path,state,done_bytes}]}')"
fi
grep -q "downloading through the v1 companion" "$T/d2/log" &&
  pass "the daemon switched to the companion when the hybrid swarm made no progress" ||
  fail "no switch to the v1 companion in the log"
grep -q "verify: every stored file matches the manifest" "$T/d2/log" &&
  pass "a final SHA-256 pass over every file ran before the release was complete" ||
  fail "no final verification pass in the log"
view=$(release_field 2 "$model@$rev" .path)
same_files "$T/w" "$view" && pass "the view's files equal the published ones" ||
  fail "view files differ ($view)"
total=$(release_field 2 "$model@$rev" .total_length)
downloaded_all() {
  got=$(release_field 2 "$model@$rev" .downloaded_bytes)
  [[ $got -ge $total ]]
}
wait_until "the download counter to reach the release's length" 30 downloaded_all && pass "downloaded $got of $total bytes (all from aria2c: the weightsd seeder is gone)" ||
  fail "downloaded_bytes $got < $total"
if wait_until "the fetched release to seed the hybrid and the companion" 20 bash -c \
  "'$W' --socket '$T/d2/ctl.sock' --json show '$model@$rev' | jq -e '.seeding and .v1_seeding and (.v1_downloading | not)'"; then
  pass "after completion: hybrid seeding, companion seeding, no v1 download"
else
  fail "after completion: $(ctl 2 --json show "$model@$rev" | jq -c '{seeding,v1_seeding,v1_downloading}')"
fi
[[ $(release_field 2 "$model@$rev" .hash_failures) == 0 ]] && pass "no piece failed its hash" ||
  fail "hash failures: $(release_field 2 "$model@$rev" .hash_failures)"

# 3. A lying v1 peer: a second aria2c seeds a copy with one byte flipped in every piece of the
# big shard, without checking it (--bt-seed-unverified). A fresh weightsd first has only the liar
# (daemon 2 and the honest aria2c stop): its pieces must fail libtorrent's check. Then the honest
# aria2c comes back and is added as a peer: the fetch must end with every file SHA-256-verified.
kill_daemon 2 9
kill -9 "$honest_pid"
shard=model-00001-of-00002.safetensors
cp -r "$T/aria" "$T/aria-bad"
for k in 0 1 2 3 4 5 6 7; do
  printf '\xff' | dd of="$T/aria-bad/$rev/$shard" bs=1 seek=$((k * 262144 + 999)) conv=notrunc status=none
done
bad_common=("${aria_common[@]/--interface=127.0.0.7/--interface=127.0.0.8}")
bport=$(free_port 127.0.0.8)
aria2c "${bad_common[@]}" --listen-port="$bport" --seed-ratio=0.0 --bt-seed-unverified=true \
  --dir="$T/aria-bad" --log="$T/aria-bad.log" --log-level=notice "$V1TORRENT" >"$T/aria-bad.out" 2>&1 &
bt_pids+=($!)
wait_until "the lying aria2c to listen" 20 listening 127.0.0.8 "$bport"
start_daemon 3
ctl 3 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd fetches from a lying v1 seeder" ctl 3 fetch "$model@$rev" --no-wait \
  --peer "127.0.0.8:$bport"
hash_failed() { [[ $(release_field 3 "$model@$rev" .hash_failures) -ge 1 ]]; }
# The companion starts requesting only after the hybrid stalls (v1_stall), then the liar must
# unchoke it: generous under sanitizers on a loaded machine.
if wait_until "a piece from the liar to fail its hash" 60 hash_failed; then
  pass "pieces from the lying peer failed libtorrent's check ($(release_field 3 "$model@$rev" .hash_failures))"
else
  echo "--- daemon 3 log (tail):" >&2
  tail -n 30 "$T/d3/log" >&2
  echo "--- lying aria2c log (tail):" >&2
  tail -n 30 "$T/aria-bad.log" >&2
  fail "no hash failure from the lying peer: $(ctl 3 --json show "$model@$rev" | jq -c '{state,peers,v1_downloading,downloaded_bytes}')"
fi
[[ $(release_field 3 "$model@$rev" .state) != complete ]] && pass "not complete from the liar alone" ||
  fail "complete from the liar alone"
wait_until "the honest aria2c to be gone" 10 bash -c "! kill -0 $honest_pid"
start_honest_aria2
wait_until "the honest aria2c to listen again" 20 listening 127.0.0.7 "$aport"
expect_ok "add the honest seeder as a peer" ctl 3 fetch "$model@$rev" --no-wait --peer "127.0.0.7:$aport"
if wait_until "weightsd to verify every file despite the lying peer" 60 every_file_verified 3 "$model@$rev"; then
  pass "complete and verified despite a peer sending bad pieces"
else
  fail "with a lying peer: $(ctl 3 --json show "$model@$rev" | jq -c '{state,error,peers,hash_failures,banned_peers}')"
fi
same_files "$T/w" "$(release_field 3 "$model@$rev" .path)" && pass "with a lying peer: files equal the published ones" ||
  fail "with a lying peer: view files differ"

# 4. A partial selection (--include) through the companion: only the JSON files, from the honest
# aria2c alone (daemon 3 stops).
kill_daemon 3 9
start_daemon 4
ctl 4 feed add demo "$T/pub/public" --root "$ROOT" >/dev/null
expect_ok "weightsd fetches only the JSON files from aria2c" ctl 4 fetch "$model@$rev" --no-wait \
  --include '*.json' --peer "127.0.0.7:$aport"
if wait_until "the partial fetch to complete" 60 every_wanted_verified 4 "$model@$rev"; then
  pass "partial fetch through the companion complete"
else
  fail "partial fetch: $(ctl 4 --json show "$model@$rev" | jq -c '{state,error,v1_downloading,files:[.files[]|{path,wanted,state}]}')"
fi
j=$(ctl 4 --json show "$model@$rev")
[[ $(jq '[.files[] | select(.wanted) | .path] | all(endswith(".json"))' <<<"$j") == true &&
  $(jq '[.files[] | select(.wanted | not) | .state] | all(. == "pending")' <<<"$j") == true ]] &&
  pass "partial: only the selected files were verified" || fail "partial: $(jq -c '.files' <<<"$j")"
for f in config.json tokenizer.json; do
  cmp -s "$T/w/$f" "$(jq -r .path <<<"$j")/$f" || fail "partial: $f differs"
done
grep -q "downloading through the v1 companion" "$T/d4/log" && pass "partial: fetched through the companion" ||
  fail "partial: no switch to the companion in the log"
[[ $(jq -r .v1_seeding <<<"$j") == false ]] && pass "partial: the companion is not seeded" ||
  fail "partial: v1_seeding $(jq -r .v1_seeding <<<"$j")"

[[ $failures -eq 0 ]] || { show_logs; tail -n 20 "$T/aria-seed.log" >&2; }
finish
