#!/usr/bin/env bash
# `weightsctl fetch NAME --hf-cache [DIR]`: a fetched release is laid out as a Hugging Face cache
# (models--org--name/{blobs,snapshots/<commit>,refs}) with blobs hard-linked from the store
# and named as the hub names them; an independent reader (below, implementing huggingface_hub's
# scan_cache_dir rules) accepts it. Two releases sharing files are stored once (one inode).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

model=cache-org/tiny
rev_a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1
rev_b=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2

"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/a" 1 cache
mkdir -p "$T/a/sub" && echo '{"nested": true}' >"$T/a/sub/extra.json"
cp -r "$T/a" "$T/b" && echo "second release" >"$T/b/README.md"
"$W" release add "$T/a" --feed "$T/pub" --model "$model" --revision "$rev_a" --license mit \
  --upstream-repo up-org/Tiny-Model >/dev/null
"$W" release add "$T/b" --feed "$T/pub" --model "$model" --revision "$rev_b" --license mit \
  --upstream-repo up-org/Tiny-Model --publish >/dev/null
root=$T/pub/public/metadata/1.root.json

for n in 1 2; do
  start_daemon "$n"
  ctl "$n" feed add demo "$T/pub/public" --root "$root" >/dev/null
done
expect_ok "daemon 1 seeds release A" ctl 1 seed "$T/a" --feed demo --model "$model" --revision "$rev_a"
expect_ok "daemon 1 seeds release B" ctl 1 seed "$T/b" --feed demo --model "$model" --revision "$rev_b"
seeder=$(peer_of 1)

hub=$T/hub
expect_ok "fetch A --hf-cache DIR" ctl 2 --json fetch "$model@$rev_a" --peer "$seeder" \
  --hf-cache "$hub"
[[ $(jq -r .path <<<"$LAST_OUT") == "$hub/models--up-org--Tiny-Model/snapshots/$rev_a" ]] &&
  pass "fetch reports the snapshot path (upstream repo, commit)" || fail "fetch: $LAST_OUT"
# Default location: $HF_HOME/hub (the CLI's environment decides, as for huggingface_hub).
expect_ok "fetch B --hf-cache (default dir from HF_HOME)" env HF_HOME="$T/hfhome" \
  "$W" --socket "$T/d2/ctl.sock" --json fetch "$model@$rev_b" --peer "$seeder" --hf-cache
[[ -L $T/hfhome/hub/models--up-org--Tiny-Model/snapshots/$rev_b/README.md ]] &&
  pass "default cache dir is \$HF_HOME/hub" || fail "no snapshot under HF_HOME: $LAST_OUT"
repo=$hub/models--up-org--Tiny-Model
# A commit fetched by its id moves no ref (as huggingface_hub); one fetched by the model's name
# (its current release, B) moves refs/main (docs/huggingface.md, "Refs").
[[ ! -e $repo/refs/main ]] && pass "a commit fetched by its id moves no ref" ||
  fail "refs/main after fetching $rev_a by id: $(cat "$repo/refs/main")"
expect_ok "fetch the model by name into the first cache too" ctl 2 fetch "$model" --hf-cache "$hub"
[[ $(cat "$repo/refs/main") == "$rev_b" ]] && pass "refs/main names the current release" ||
  fail "refs/main: $(cat "$repo/refs/main")"

# Blobs are the store's inodes (no second copy), and shared files are one inode everywhere.
shard=model-00001-of-00002.safetensors
sha=$(sha256sum "$T/a/$shard" | cut -d' ' -f1)
store_file=$T/d2/state/store/sha256/${sha:0:2}/$sha
view_a=$(ctl 2 --json show "$model@$rev_a" | jq -r .path)
view_b=$(ctl 2 --json show "$model@$rev_b" | jq -r .path)
ino() { stat -c %i "$1"; }
[[ $(ino "$repo/blobs/$sha") == $(ino "$store_file") ]] &&
  pass "the LFS-style blob is named by SHA-256 and hard-linked to the store" ||
  fail "blob $sha is not the store's inode"
if [[ $(ino "$view_a/$shard") == $(ino "$view_b/$shard") &&
  $(ino "$view_a/config.json") == $(ino "$view_b/config.json") &&
  $(ino "$view_a/$shard") == $(ino "$store_file") ]]; then
  pass "two releases sharing files use one inode per file (cross-release dedupe)"
else
  fail "shared files are stored twice"
fi
n_store=$(find "$T/d2/state/store" -type f | wc -l)
# A has 7 files, B adds README.md: 8 distinct contents.
[[ $n_store -eq 8 ]] && pass "the store holds 8 distinct contents for 15 release files" ||
  fail "store has $n_store files"

# Independent reader (test-only): huggingface_hub's scan_cache_dir rules (repo folder naming,
# snapshots/ with one folder per commit, every snapshot file resolving into blobs/, refs naming
# existing snapshots) plus a local_files_only lookup (refs/main -> snapshot -> file), and each
# blob name checked against its content (git blob SHA-1 for small files, SHA-256 for the rest).
python3 - "$hub" "$T/a" "$T/b" "$rev_a" "$rev_b" <<'EOF' && pass "independent HF cache reader accepts the layout" || fail "HF cache layout rejected"
import hashlib, os, sys
cache, src_a, src_b, rev_a, rev_b = sys.argv[1:]
repos = [d for d in os.listdir(cache) if not d.startswith(".")]
assert repos == ["models--up-org--Tiny-Model"], repos
repo = os.path.join(cache, repos[0])
rtype, _, name = repos[0].partition("--")
assert rtype == "models" and name.replace("--", "/") == "up-org/Tiny-Model"
snapshots = os.path.join(repo, "snapshots")
revisions = sorted(os.listdir(snapshots))
assert revisions == [rev_a, rev_b], revisions
blobs_dir = os.path.realpath(os.path.join(repo, "blobs"))
for rev in revisions:
    root = os.path.join(snapshots, rev)
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            assert os.path.islink(p), p
            blob = os.path.realpath(p)
            assert os.path.dirname(blob) == blobs_dir and os.path.isfile(blob), (p, blob)
            data = open(blob, "rb").read()
            n = os.path.basename(blob)
            if len(n) == 64:
                assert hashlib.sha256(data).hexdigest() == n, p
            else:
                assert len(n) == 40 and hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == n, p
for ref in os.listdir(os.path.join(repo, "refs")):
    commit = open(os.path.join(repo, "refs", ref)).read()
    assert commit in revisions, (ref, commit)
# local_files_only: refs/main -> snapshot -> file, compared with the published bytes.
commit = open(os.path.join(repo, "refs", "main")).read()
for rel in ["config.json", "sub/extra.json", "model-00001-of-00002.safetensors", "README.md"]:
    got = open(os.path.join(snapshots, commit, rel), "rb").read()
    assert got == open(os.path.join(src_b, rel), "rb").read(), rel
for rel in os.listdir(src_a):
    if os.path.isfile(os.path.join(src_a, rel)):
        assert open(os.path.join(snapshots, rev_a, rel), "rb").read() == open(os.path.join(src_a, rel), "rb").read()
EOF

# Small files are named by their git blob id, as the hub's cache names them.
oid=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0"%len(d)+d).hexdigest())' "$T/a/config.json")
[[ $(readlink "$repo/snapshots/$rev_a/config.json") == "../../blobs/$oid" ]] &&
  pass "config.json links to ../../blobs/<git blob id>" ||
  fail "config.json -> $(readlink "$repo/snapshots/$rev_a/config.json")"
[[ $(readlink "$repo/snapshots/$rev_a/sub/extra.json") == ../../../blobs/* ]] &&
  pass "nested files link one level further up" || fail "nested link wrong"

# A cache the daemon cannot write: the release stays complete, the error is reported.
mkdir -p "$T/ro" && chmod 0555 "$T/ro"
if [[ $(id -u) -ne 0 ]]; then
  expect_fail "an unwritable cache dir is reported" 74 "Hugging Face cache was not written" \
    ctl 2 fetch "$model@$rev_a" --hf-cache "$T/ro"
fi
out=$(curl -s --unix-socket "$T/d2/ctl.sock" -H 'Content-Type: application/json' \
  -d "{\"name\":\"$model\",\"hf_cache\":\"relative/dir\"}" http://weightsd/v1/fetch)
[[ $(jq -r .error.code <<<"$out") == schema_error ]] && pass "relative hf_cache is a schema_error" ||
  fail "relative hf_cache: $out"

finish
