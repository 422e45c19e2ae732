#!/usr/bin/env bash
# One publisher daemon seeds a release from its own files; two more daemons fetch it at the same
# time over loopback. Every file must match the signed SHA-256, appear in a complete view, and be
# stored once per daemon (hard links, not copies).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

model=swarm-org/tiny-llm
rev=5eed001

# Publisher: a feed with one release of ~24 MiB in six files.
"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 16 swarm
"$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision "$rev" --alias tiny-llm \
  --license apache-2.0 --publish >/dev/null
root=$T/pub/public/metadata/1.root.json

for n in 1 2 3; do start_daemon "$n"; done
for n in 1 2 3; do
  expect_ok "daemon $n subscribes to the feed" ctl "$n" feed add demo "$T/pub/public" --root "$root"
done
expect_ok "the feed lists the release" ctl 2 --json feed status demo
[[ $(jq -r .releases <<<"$LAST_OUT") == 1 ]] && pass "feed status counts 1 release" ||
  fail "feed status: $LAST_OUT"

expect_ok "publisher daemon seeds from its own files" ctl 1 --json seed "$T/w" --feed demo \
  --model "$model" --revision "$rev"
[[ $(jq -r .state <<<"$LAST_OUT") == complete ]] && pass "seeded release is complete" ||
  fail "seed: $LAST_OUT"
seeder=$(peer_of 1)

# Two fetchers at once.
ctl 2 --json fetch tiny-llm --peer "$seeder" >"$T/f2.json" 2>"$T/f2.err" &
f2=$!
ctl 3 --json fetch "$model@$rev" --peer "$seeder" --dest "$T/dest3" >"$T/f3.json" 2>"$T/f3.err" &
f3=$!
rc2=0 rc3=0
wait "$f2" || rc2=$?
wait "$f3" || rc3=$?
[[ $rc2 -eq 0 ]] && pass "daemon 2 fetched by alias" || fail "daemon 2 fetch exit $rc2: $(cat "$T/f2.err")"
[[ $rc3 -eq 0 ]] && pass "daemon 3 fetched by id@revision" || fail "daemon 3 fetch exit $rc3: $(cat "$T/f3.err")"

for n in 2 3; do
  r=$(ctl "$n" --json status "$model@$rev")
  view=$(jq -r .path <<<"$r")
  [[ $(jq -r .state <<<"$r") == complete ]] && pass "daemon $n: release complete" ||
    fail "daemon $n state: $r"
  if (cd "$T/w" && sha256sum -- *) >"$T/expected" && (cd "$view" && sha256sum -- *) >"$T/got$n" &&
    cmp -s "$T/expected" "$T/got$n"; then
    pass "daemon $n: every file's SHA-256 matches the source"
  else
    fail "daemon $n: files differ from the source (view $view)"
  fi
  # Each file is stored once: the view entry and the store entry are the same inode.
  links_ok=1
  for f in "$view"/*; do
    [[ $(stat -c %h "$f") -ge 2 ]] || links_ok=0
  done
  store_files=$(find "$T/d$n/state/store" -type f | wc -l)
  [[ $links_ok -eq 1 && $store_files -eq 6 ]] && pass "daemon $n: 6 files stored once, hard-linked" ||
    fail "daemon $n: store holds $store_files files, links_ok=$links_ok"
done

# --dest: the verified files also appear in a directory of the user's choosing, as hard links.
if (cd "$T/dest3" && sha256sum -- *) >"$T/got-dest" && cmp -s "$T/expected" "$T/got-dest"; then
  pass "fetch --dest placed every verified file"
else
  fail "fetch --dest: files differ or are missing in $T/dest3"
fi
[[ $(stat -c %h "$T/dest3/config.json") -ge 3 ]] && pass "--dest files are hard links, not copies" ||
  fail "--dest file link count $(stat -c %h "$T/dest3/config.json")"

# Payload counters come from libtorrent's periodic status updates, so they may lag completion.
publisher_uploaded() {
  uploaded=$(ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes)
  [[ $uploaded -gt 0 ]]
}
wait_until "the publisher's upload counter" 30 publisher_uploaded && pass "the publisher uploaded ($uploaded bytes)" ||
  fail "publisher uploaded nothing"

# Scrub: a byte flipped on disk under daemon 2 is found, quarantined and repaired from its peers
# (fellow seeds it had disconnected from while it was complete).
shard=model-00001-of-00002.safetensors
good=$(sha256sum <"$T/w/$shard" | cut -d' ' -f1)
v2=$(ctl 2 --json status "$model@$rev" | jq -r .path)
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(4096); b = f.read(1); f.seek(4096); f.write(bytes([b[0] ^ 0xFF]))' "$v2/$shard"
[[ $(sha256sum <"$v2/$shard" | cut -d' ' -f1) != "$good" ]] && pass "a stored byte of daemon 2 was flipped" ||
  fail "the flip did not change the file"
expect_ok "daemon 2 scrubs the release" ctl 2 scrub "$model@$rev"
repaired() {
  local p
  p=$(ctl 2 --json status "$model@$rev" | jq -r 'select(.state == "complete") | .path')
  [[ -n $p && $(sha256sum <"$p/$shard" | cut -d' ' -f1) == "$good" ]]
}
if wait_until "the scrub to repair the file from the swarm" 90 repaired; then
  pass "scrub found the damage and the file was repaired from a peer"
else
  fail "not repaired: $(ctl 2 --json status "$model@$rev" | jq -c '{state, error}')"
fi
grep -q "scrub: file $shard is damaged on disk" "$T/d2/log" && pass "the scrub reported the damaged file" ||
  fail "no scrub report in daemon 2's log"
[[ -n $(ls "$T/d2/state/quarantine") ]] && pass "the damaged copy is kept in quarantine/" ||
  fail "nothing in quarantine/"

[[ $failures -eq 0 ]] || show_logs
finish
