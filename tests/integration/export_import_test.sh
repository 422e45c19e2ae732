#!/usr/bin/env bash
# Air-gapped transfer: `weightsctl export` writes a complete release with its torrents and the
# feed metadata as verified; `weightsctl import DIR --root ROOT.json` on another node (which has
# never seen the feed) verifies the signatures against the trust root, hashes every file, stores
# and seeds it. Tampered files, tampered metadata and a foreign trust root are refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

model=gap-org/tiny
rev=0a1b2c3d

"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 1 gap
"$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision "$rev" --license mit \
  --publish >/dev/null
root=$T/pub/public/metadata/1.root.json

for n in 1 2 3; do start_daemon "$n"; done
ctl 1 feed add demo "$T/pub/public" --root "$root" >/dev/null
expect_ok "daemon 1 seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"

usb=$T/usb
expect_ok "export writes the bundle" ctl 1 --json export "$model@$rev" "$usb"
[[ -f $usb/weights-export.json && -f $usb/metadata/1.root.json && -f $usb/metadata/timestamp.json ]] &&
  pass "bundle has weights-export.json and the feed metadata" || fail "bundle: $(find "$usb" | head -30)"
[[ $(find "$usb/targets" -type f | wc -l) -ge 2 ]] && pass "bundle has the manifest and torrents" ||
  fail "targets: $(find "$usb/targets")"
(cd "$T/w" && sha256sum -- *) >"$T/expected"
(cd "$usb/files" && sha256sum -- *) >"$T/got-usb"
cmp -s "$T/expected" "$T/got-usb" && pass "bundle files equal the published files" ||
  fail "bundle files differ"
expect_fail "export refuses a non-empty directory" 73 "not empty" ctl 1 export "$model@$rev" "$usb"
expect_fail "export of an unknown release is not_found" 66 "no release" \
  ctl 1 export nope/none@x "$T/usb-none"

# The other machine: no feed, no peers. Copies (not links) of the bundle, as from removable media.
cp -r "$usb" "$T/usb-copy"
expect_ok "import verifies and seeds on a node that never saw the feed" \
  ctl 2 --json import "$T/usb-copy" --root "$root"
r=$(ctl 2 --json show "$model@$rev")
[[ $(jq -r .state <<<"$r") == complete && $(jq -r .seeding <<<"$r") == true ]] &&
  pass "imported release is complete and seeding" || fail "after import: $r"
view=$(jq -r .path <<<"$r")
(cd "$view" && sha256sum -- *) >"$T/got-2"
cmp -s "$T/expected" "$T/got-2" && pass "imported view matches the published files" ||
  fail "imported files differ"
[[ $(ctl 2 --json feed status demo | jq -r .result) == updated ]] &&
  pass "the bundle verified as a TUF feed (result updated)" || fail "feed status"

# Refusals on node 3: a foreign trust root, tampered metadata, a tampered file.
"$W" feed init "$T/other" >/dev/null
expect_fail "a foreign trust root is refused" 75 "did not verify" \
  ctl 3 import "$T/usb-copy" --root "$T/other/public/metadata/1.root.json" --feed foreign
cp -r "$usb" "$T/usb-meta"
python3 - "$T/usb-meta/metadata/timestamp.json" <<'EOF'
import json, sys
p = sys.argv[1]; env = json.load(open(p))
env["signatures"][0]["sig"] = ("A" if env["signatures"][0]["sig"][0] != "A" else "B") + env["signatures"][0]["sig"][1:]
json.dump(env, open(p, "w"))
EOF
expect_fail "tampered metadata (a timestamp signature) is refused" 75 "did not verify" \
  ctl 3 import "$T/usb-meta" --root "$root" --feed tampered-meta
cp -r "$usb" "$T/usb-file"
printf 'X' | dd of="$T/usb-file/files/config.json" bs=1 count=1 conv=notrunc status=none
expect_fail "a tampered file is refused before it is stored or seeded" 75 "hash_mismatch|differs" \
  ctl 3 import "$T/usb-file" --root "$root" --feed tampered-file
sha_cfg=$(sha256sum "$T/usb-file/files/config.json" | cut -d' ' -f1)
[[ ! -e $T/d3/state/store/sha256/${sha_cfg:0:2}/$sha_cfg ]] &&
  pass "the tampered bytes never entered the store" || fail "tampered content stored"

# Seeding afterwards: node 3 (feed verified from the tampered-file bundle) fetches the release
# from node 2, which only ever had the bundle.
ctl 3 remove "$model@$rev" --delete-files >/dev/null 2>&1 || true
expect_ok "a node fetches the imported release from the importing node" \
  ctl 3 fetch "$model@$rev" --peer "$(peer_of 2)"

finish
