#!/usr/bin/env bash
# A feed whose validly signed torrent target does not describe the release manifest (here: the
# torrent has an extra file) must be refused before any payload is requested: the release shows
# state failed with wrong_target, nothing was downloaded, and no view exists. Two cases:
#  - rev1: the torrent's info-hash is not the one the manifest pins;
#  - rev2: the manifest pins the torrent's info-hash but lists other files (the file-set check).
#
# Built with the publisher tools only: two publisher dirs release the SAME model@revisions with
# different file sets; feed A's working state (repo.json, unsigned) is then pointed at feed B's
# torrents (and, for rev2, at a manifest edited to pin B's info-hashes) and re-published, so the
# signatures are valid but the torrent and manifest disagree.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

model=mismatch-org/tiny

bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/wa" 1 mismatch
cp -r "$T/wa" "$T/wb"
echo "an extra file only the torrent lists" >"$T/wb/extra.txt"

for f in a b; do
  "$W" feed init "$T/pub$f" >/dev/null
  for rev in rev1 rev2; do
    "$W" release add "$T/w$f" --feed "$T/pub$f" --model "$model" --revision "$rev" \
      --license mit >/dev/null
  done
  "$W" feed publish "$T/pub$f" >/dev/null
done

target_sha() { jq -r --arg p "$2" '.targets[$p].hashes.sha256' "$1/repo.json"; }
# retarget PUBDIR PATH FILE: list FILE's bytes (already under public/targets) as target PATH.
retarget() {
  local sha len
  sha=$(sha256sum "$3" | cut -c1-64)
  len=$(stat -c %s "$3")
  jq --arg p "$2" --arg s "$sha" --argjson l "$len" \
    '.targets[$p].hashes.sha256 = $s | .targets[$p].length = $l' "$1/repo.json" >"$T/repo.json"
  mv "$T/repo.json" "$1/repo.json"
}
tdir=public/targets/models/$model
for rev in rev1 rev2; do
  b_sha=$(target_sha "$T/pubb" "models/$model/$rev.torrent")
  [[ $(target_sha "$T/puba" "models/$model/$rev.torrent") != "$b_sha" ]] &&
    pass "$rev: the two torrents differ" || fail "$rev: torrents are identical"
  cp "$T/pubb/$tdir/$b_sha.$rev.torrent" "$T/puba/$tdir/"
  retarget "$T/puba" "models/$model/$rev.torrent" "$T/puba/$tdir/$b_sha.$rev.torrent"
done
# rev2's manifest (A's file list) now pins B's info-hashes, so only the file-set check can object.
a_man=$T/puba/$tdir/$(target_sha "$T/puba" "models/$model/rev2.release.json").rev2.release.json
b_man=$T/pubb/$tdir/$(target_sha "$T/pubb" "models/$model/rev2.release.json").rev2.release.json
jq -c --argjson t "$(jq .torrent "$b_man")" '.torrent = $t' "$a_man" >"$T/rev2.release.json"
cp "$T/rev2.release.json" "$T/puba/$tdir/edited.rev2.release.json"
retarget "$T/puba" "models/$model/rev2.release.json" "$T/puba/$tdir/edited.rev2.release.json"
man_sha=$(sha256sum "$T/rev2.release.json" | cut -c1-64)
mv "$T/puba/$tdir/edited.rev2.release.json" "$T/puba/$tdir/$man_sha.rev2.release.json"
expect_ok "feed A re-publishes with feed B's torrents" "$W" feed publish "$T/puba"

for n in 1 2; do start_daemon "$n"; done
# Daemon 1 is an honest seeder of feed B's releases (same info-hashes as the swapped torrents),
# so payload would be available if the fetcher ever asked for it.
expect_ok "daemon 1 subscribes to feed B" ctl 1 feed add b "$T/pubb/public" \
  --root "$T/pubb/public/metadata/1.root.json"
for rev in rev1 rev2; do
  expect_ok "daemon 1 seeds feed B's $rev" ctl 1 --json seed "$T/wb" --feed b --model "$model" \
    --revision "$rev"
done
expect_ok "daemon 2 subscribes to the tampered feed A (signatures are valid)" ctl 2 feed add a \
  "$T/puba/public" --root "$T/puba/public/metadata/1.root.json"

seeder=$(peer_of 1)
for rev in rev1 rev2; do
  expect_fail "$rev: fetch is refused with wrong_target" 75 "wrong_target" \
    ctl 2 --json fetch "$model@$rev" --peer "$seeder"
  r=$(ctl 2 --json show "$model@$rev")
  echo "$rev: refused with $(jq -c .error <<<"$r")"
  [[ $(jq -r .state <<<"$r") == failed ]] && pass "$rev: release state is failed" ||
    fail "$rev: state: $r"
  [[ $(jq -r .error.code <<<"$r") == wrong_target ]] && pass "$rev: error code is wrong_target" ||
    fail "$rev: error: $(jq -c .error <<<"$r")"
  [[ $(jq -r .downloaded_bytes <<<"$r") == 0 ]] && pass "$rev: no payload was downloaded" ||
    fail "$rev: downloaded_bytes: $(jq -r .downloaded_bytes <<<"$r")"
  [[ $(jq -r .path <<<"$r") == null && ! -e $T/d2/state/views/$model/$rev ]] &&
    pass "$rev: no view" || fail "$rev: a view exists: $(jq -r .path <<<"$r")"
  uploaded=$(ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes)
  [[ $uploaded == 0 ]] && pass "$rev: the seeder uploaded nothing" ||
    fail "$rev: seeder uploaded $uploaded bytes"
done
r=$(ctl 2 --json show "$model@rev2")
grep -qi "extra.txt\|file" <<<"$(jq -r .error.message <<<"$r")" &&
  pass "rev2: the error names the file-set difference" || fail "rev2: error: $(jq -c .error <<<"$r")"

[[ $failures -eq 0 ]] || show_logs
finish
