#!/usr/bin/env bash
# `weightsctl release pin-torrent` (docs/pinned-releases.md): the published test vector, which
# the doc's Python reference and a feed's `release add` of the full commit reach too; one real
# git commit laid out four ways (its worktree with .git, a `git archive` extracted under another
# umask, a Hub cache snapshot of symlinks into blobs/, an `hf download --local-dir` directory
# with the client's .cache/) gives one byte-identical .torrent named after the commit; an extra
# file gives another torrent; bad input is refused with the documented exit codes.
# Env: WEIGHTSCTL, WEIGHTS_SOURCE_DIR (set by ctest).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "FAIL: jq is required (scripts/install-deps --test)" >&2; exit 1; }

pin() { # OUT DIR ARGS... : pin-torrent DIR --json -o OUT, JSON in $LAST_OUT
  local out=$1 dir=$2; shift 2
  expect_ok "pin-torrent $dir" "$W" --json release pin-torrent "$dir" -o "$out" "$@"
}
v2_of() { jq -r .v2_infohash <<<"$LAST_OUT"; }

# --- the test vector of docs/pinned-releases.md §3.7 ---------------------------------------------
mkdir -p "$T/vector/a"
printf 'hello\n' >"$T/vector/README.md"
printf 'x' >"$T/vector/a-b.txt"
head -c 16385 /dev/zero | tr '\0' a >"$T/vector/a.txt"
: >"$T/vector/a/c.bin"
pin "$T/vector.torrent" "$T/vector" --repo Org/Name --commit 0123456789ABCDEF0123456789abcdef01234567
jq -e '.v2_infohash == "08edbc1caa6efa30de2604ecd4fefe10eb51679c5ac0d90a6186d43fe4b3023f"
       and .v1_infohash == "5d496bec15adce56e6a13ec4d7f97dcba3b65d97"
       and .companion_v1_infohash == "fcd48afdeea6a88c218458881398f6e456a521b5"
       and .repo == "org/name" and .commit == "0123456789abcdef0123456789abcdef01234567"
       and .rule == "weightsd-pinned-torrent/1"' <<<"$LAST_OUT" >/dev/null ||
  fail "test vector: $LAST_OUT"
[[ $(sha256sum <"$T/vector.torrent" | cut -d' ' -f1) == \
  cfdae50a6f709094809c576072f3d72f1a9353b8c6607dd04e1043875e705a3e ]] ||
  fail "test vector: the .torrent's bytes differ from the documented SHA-256"
pass "the documented test vector"

# The doc's Python reference implementation of the rule, run as printed, gives the same values.
awk '/^```python$/ { on = 1; next } /^```$/ { on = 0 } on' \
  "$WEIGHTS_SOURCE_DIR/docs/pinned-releases.md" >"$T/reference.py"
expect_ok "the doc's Python reference runs" python3 "$T/reference.py"
[[ $LAST_OUT == "08edbc1caa6efa30de2604ecd4fefe10eb51679c5ac0d90a6186d43fe4b3023f
5d496bec15adce56e6a13ec4d7f97dcba3b65d97
cfdae50a6f709094809c576072f3d72f1a9353b8c6607dd04e1043875e705a3e
fcd48afdeea6a88c218458881398f6e456a521b5" ]] || fail "the doc's Python reference printed: $LAST_OUT"

# A feed release named by the full commit is the same torrent (docs/pinned-releases.md §3.4).
expect_ok "feed init" "$W" feed init "$T/pub"
expect_ok "release add of the vector" "$W" --json release add "$T/vector" --feed "$T/pub" \
  --model org/name --revision 0123456789abcdef0123456789abcdef01234567 --license mit
[[ $(v2_of) == 08edbc1caa6efa30de2604ecd4fefe10eb51679c5ac0d90a6186d43fe4b3023f ]] ||
  fail "a feed release of the full commit has another v2 info-hash: $LAST_OUT"

# --- one real commit, four layouts ---------------------------------------------------------------
repo=$T/repo
git init -q "$repo"
mkdir -p "$repo/original"
printf '*.safetensors filter=lfs diff=lfs merge=lfs -text\n' >"$repo/.gitattributes"
printf '{"hidden_size": 8}\n' >"$repo/config.json"
printf '# tiny\n' >"$repo/README.md"
head -c 3000000 /dev/urandom >"$repo/model.safetensors"
head -c 20000 /dev/urandom >"$repo/original/params.bin"
: >"$repo/empty.txt"
git -C "$repo" add -A
git -C "$repo" -c user.name=t -c user.email=t@example.invalid commit -qm one
commit=$(git -C "$repo" rev-parse HEAD)

pin "$T/worktree.torrent" "$repo" --repo org/tiny --commit "$commit"
base=$(v2_of)
jq -e --arg c "$commit" '.files == 6 and .commit == $c and .skipped == [".git/"]' <<<"$LAST_OUT" >/dev/null ||
  fail "worktree: .git was counted or the commit is wrong: $LAST_OUT"

mkdir "$T/archive"
(umask 077 && git -C "$repo" archive HEAD | tar -x -C "$T/archive")
touch -d '2001-01-01' "$T/archive/config.json"
chmod +x "$T/archive/README.md"
pin "$T/archive.torrent" "$T/archive" --repo ORG/Tiny --commit "${commit^^}"
[[ $(v2_of) == "$base" ]] || fail "archive under umask 077: v2 $(v2_of), worktree $base"

snap=$T/hub/models--org--tiny/snapshots/$commit
mkdir -p "$snap/original" "$T/hub/models--org--tiny/blobs"
for f in .gitattributes config.json README.md model.safetensors original/params.bin empty.txt; do
  blob=$(sha256sum <"$repo/$f" | cut -d' ' -f1)
  cp "$repo/$f" "$T/hub/models--org--tiny/blobs/$blob"
  up=../..
  [[ $f == */* ]] && up=../../..
  ln -s "$up/blobs/$blob" "$snap/$f"
done
pin "$T/snapshot.torrent" "$snap" --repo org/tiny --commit "$commit"
[[ $(v2_of) == "$base" ]] || fail "cache snapshot: v2 $(v2_of), worktree $base"

cp -r "$T/archive" "$T/localdir"
mkdir -p "$T/localdir/.cache/huggingface/download"
printf 'etag\n' >"$T/localdir/.cache/huggingface/download/config.json.metadata"
pin "$T/localdir.torrent" "$T/localdir" --repo org/tiny --commit "$commit"
[[ $(v2_of) == "$base" ]] || fail "--local-dir with .cache/huggingface: v2 $(v2_of), worktree $base"

for layout in archive snapshot localdir; do
  cmp -s "$T/worktree.torrent" "$T/$layout.torrent" || fail "$layout: .torrent bytes differ"
done
pass "worktree, archive, cache snapshot and --local-dir give one .torrent"

# Another repository with the same commit (a mirror, a rename): same torrent, other DHT key.
key=$(jq -r .rendezvous_key <<<"$LAST_OUT")
pin "$T/mirror.torrent" "$T/archive" --repo mirror/tiny --commit "$commit"
[[ $(v2_of) == "$base" && $(jq -r .rendezvous_key <<<"$LAST_OUT") != "$key" ]] ||
  fail "mirror: $LAST_OUT"
pass "the repository is in the rendezvous key, not in the torrent"

printf 'stray\n' >"$T/archive/notes.txt"
pin "$T/extra.torrent" "$T/archive" --repo org/tiny --commit "$commit"
[[ $(v2_of) != "$base" ]] || fail "an extra file did not change the torrent"
pass "an extra file gives another torrent"

# --- bad input -----------------------------------------------------------------------------------
expect_fail "a short commit id" 64 'full 40-hex commit id' \
  "$W" release pin-torrent "$repo" --repo org/tiny --commit "${commit:0:12}"
expect_fail "a repo without org" 64 'expected "org/name"' \
  "$W" release pin-torrent "$repo" --repo tiny --commit "$commit"
ln -s "$repo/original" "$T/archive/linked"
expect_fail "a symlink to a directory" 64 'linked: a symbolic link to something that is not a regular' \
  "$W" release pin-torrent "$T/archive" --repo org/tiny --commit "$commit"
expect_fail "a missing directory" 66 'nowhere: not a directory' \
  "$W" release pin-torrent "$T/nowhere" --repo org/tiny --commit "$commit"

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
