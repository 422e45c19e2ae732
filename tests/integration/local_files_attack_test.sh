#!/usr/bin/env bash
# Local files taken and written by descriptor (threat-model.md, "Local files"): a seed directory
# holding links (absolute, relative, dangling, to someone else's file, an HF snapshot's
# ../../blobs/X), a hard link to someone else's inode, a FIFO or an over-long sparse file, and an
# HF cache with planted links or a wrong blob of the right size. Each is refused or replaced, and
# nothing outside the state dir changes (a checksummed sentinel tree owned by another uid).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then
  echo "SKIP: needs root and setpriv to make files owned by another uid" >&2
  exit 125
fi
other() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 0755 "$T"

model=attack-org/tiny
rev=cccccccccccccccccccccccccccccccccccccccc
id=$model@$rev
"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/src" 1 attack
mkdir -p "$T/src/sub" && echo '{"nested": true}' >"$T/src/sub/extra.json"
"$W" release add "$T/src" --feed "$T/pub" --model "$model" --revision "$rev" --license mit \
  --upstream-repo up-org/Attack-Model --publish >/dev/null
root=$T/pub/public/metadata/1.root.json
shard=model-00001-of-00002.safetensors

# The sentinel: another user's files, including exact copies of the release's files (so a link to
# them would pass the content check), and a directory the cache attacks point into.
mkdir -p "$T/outside/snaps" "$T/outside/refs" "$T/outside/blobs" "$T/outside/repo"
cp "$T/src/config.json" "$T/outside/config.json"
cp "$T/src/$shard" "$T/outside/$shard"
echo "do not touch" >"$T/outside/refs/main"
chown -R 65534:65534 "$T/outside"
chmod -R u+rwX,go+rX "$T/outside"
sentinel() {
  (cd "$T/outside" && find . -printf '%p %y %s %i %U %m\n' | sort && find . -type f -print0 |
    sort -z | xargs -0 sha256sum)
}
before=$(sentinel)
assert_outside_unchanged() { # CASE
  if [[ $(sentinel) == "$before" ]]; then
    pass "$1: nothing outside the state dir changed"
  else
    fail "$1: the sentinel tree changed: $(diff <(echo "$before") <(sentinel) | head -5)"
  fi
}
state=$T/d1/state
no_links_in_state() { # CASE
  local links
  links=$(find "$state" -type l 2>/dev/null | head -3)
  [[ -z $links ]] && pass "$1: no link in the store, staging or views" ||
    fail "$1: links in the state dir: $links"
}

start_daemon 1
ctl 1 feed add demo "$T/pub/public" --root "$root" >/dev/null

# seed_case NAME DIR PATTERN: seeding DIR fails fast (no hashing of the rest, no hang) with an
# error matching PATTERN; then the release is forgotten with its files.
seed_refused() {
  local name=$1 dir=$2 pattern=$3 out rc=0
  out=$(timeout 20 "$W" --socket "$T/d1/ctl.sock" seed "$dir" --feed demo --model "$model" \
    --revision "$rev" 2>&1) || rc=$?
  if [[ $rc -ne 0 && $rc -ne 124 ]] && grep -qE -- "$pattern" <<<"$out"; then
    pass "$name: refused ($(head -c 160 <<<"$out" | tr '\n' ' '))"
  else
    fail "$name: expected a refusal matching /$pattern/, got exit $rc: $out"
  fi
  no_links_in_state "$name"
  assert_outside_unchanged "$name"
  ctl 1 remove "$id" --delete-files >/dev/null 2>&1 || true
}
fresh() { # DIR: a regular copy of the release's files
  rm -rf "$1"
  cp -r "$T/src" "$1"
}

fresh "$T/s_abs"
rm "$T/s_abs/config.json" && ln -s "$T/outside/config.json" "$T/s_abs/config.json"
seed_refused "absolute link to another user's file" "$T/s_abs" "config\.json.*symbolic link"

fresh "$T/s_rel"
rm "$T/s_rel/$shard" && ln -s "../outside/$shard" "$T/s_rel/$shard"
seed_refused "relative link" "$T/s_rel" "$shard.*symbolic link"

fresh "$T/s_dangling"
rm "$T/s_dangling/config.json" && ln -s "nowhere/config.json" "$T/s_dangling/config.json"
seed_refused "dangling link" "$T/s_dangling" "config\.json.*symbolic link"

fresh "$T/s_subdir"
mv "$T/s_subdir/sub" "$T/outside-sub" && ln -s "$T/outside-sub" "$T/s_subdir/sub"
seed_refused "linked subdirectory" "$T/s_subdir" "sub.*symbolic link"

# An HF cache snapshot as huggingface_hub lays it out: every file a ../../blobs/X link.
hf=$T/hfsrc/models--up-org--Attack-Model
mkdir -p "$hf/blobs" "$hf/snapshots/$rev/sub"
(cd "$T/src" && find . -type f) | while read -r f; do
  f=${f#./}
  sha=$(sha256sum "$T/src/$f" | cut -d' ' -f1)
  cp "$T/src/$f" "$hf/blobs/$sha"
  up=../..
  [[ $f == */* ]] && up=../../..
  ln -s "$up/blobs/$sha" "$hf/snapshots/$rev/$f"
done
seed_refused "HF snapshot directory of relative links" "$hf/snapshots/$rev" "symbolic link"

# A hard link to another user's inode: the content matches, so it is seeded, but from a copy;
# the owner rewriting their file later changes nothing the daemon serves.
fresh "$T/s_hard"
rm "$T/s_hard/$shard" && ln "$T/outside/$shard" "$T/s_hard/$shard"
before=$(sentinel)
expect_ok "hard link to another user's file: seeded (content matches)" \
  timeout 60 "$W" --socket "$T/d1/ctl.sock" seed "$T/s_hard" --feed demo --model "$model" \
  --revision "$rev"
sha=$(sha256sum "$T/src/$shard" | cut -d' ' -f1)
store_file=$state/store/sha256/${sha:0:2}/$sha
if [[ -f $store_file && $(stat -c %i "$store_file") != $(stat -c %i "$T/outside/$shard") ]]; then
  pass "hard link to another user's file: the store holds a copy, not their inode"
else
  fail "hard link to another user's file: store entry $(stat -c '%i %U' "$store_file" 2>&1)" \
    "is the foreign inode $(stat -c %i "$T/outside/$shard")"
fi
assert_outside_unchanged "hard link to another user's file"
other sh -c "printf tampered | dd of='$T/outside/$shard' conv=notrunc status=none"
before=$(sentinel)
[[ $(sha256sum <"$store_file" | cut -d' ' -f1) == "$sha" ]] &&
  pass "hard link: the owner rewriting their file does not change the stored bytes" ||
  fail "hard link: the owner changed verified bytes in the store"
view=$(ctl 1 --json show "$id" | jq -r .path)
[[ $(sha256sum <"$view/$shard" | cut -d' ' -f1) == "$sha" ]] &&
  pass "hard link: the view serves the verified bytes" || fail "hard link: view changed"

# ---- HF cache materialisation into a cache with planted links and blobs --------------------
# (The release is complete on daemon 1 now; `fetch --hf-cache` lays it out from the store.)
hub_refused() { # NAME HUB PLANT: fetch --hf-cache HUB after PLANT is refused
  local name=$1 hub=$2 out rc=0
  out=$(timeout 30 "$W" --socket "$T/d1/ctl.sock" fetch "$id" --hf-cache "$hub" 2>&1) || rc=$?
  if [[ $rc -ne 0 && $rc -ne 124 ]] && grep -qE "symbolic link|refusing to follow" <<<"$out"; then
    pass "$name: refused"
  else
    fail "$name: expected a refusal, got exit $rc: $out"
  fi
  assert_outside_unchanged "$name"
}
repo_name=models--up-org--Attack-Model
for part in snapshots refs blobs; do
  hub=$T/hub_$part
  mkdir -p "$hub/$repo_name"
  ln -s "$T/outside/${part/snapshots/snaps}" "$hub/$repo_name/$part"
  hub_refused "HF cache with a planted $part link" "$hub"
done
mkdir -p "$T/hub_repo" && ln -s "$T/outside/repo" "$T/hub_repo/$repo_name"
hub_refused "HF cache whose repo folder is a planted link" "$T/hub_repo"
mkdir -p "$T/hub_rev/$repo_name/snapshots"
ln -s "$T/outside/snaps" "$T/hub_rev/$repo_name/snapshots/$rev"
hub_refused "HF cache whose snapshot folder is a planted link" "$T/hub_rev"

# A planted blob of the right size but other bytes (another user's), a snapshot entry and
# refs/main planted as links to files outside: all replaced, nothing written through them.
hub=$T/hub_blob
mkdir -p "$hub/$repo_name/blobs" "$hub/$repo_name/snapshots/$rev" "$hub/$repo_name/refs"
head -c "$(stat -c %s "$T/src/$shard")" /dev/zero >"$hub/$repo_name/blobs/$sha"
chown 65534:65534 "$hub/$repo_name/blobs/$sha"
ln -s "$T/outside/config.json" "$hub/$repo_name/snapshots/$rev/config.json"
ln -s "$T/outside/refs/main" "$hub/$repo_name/refs/main"
# By the model's name, so refs/main is written (a fetch by commit id moves no ref).
expect_ok "HF cache with a planted wrong blob of the right size" \
  timeout 30 "$W" --socket "$T/d1/ctl.sock" fetch "$model" --hf-cache "$hub"
blob=$hub/$repo_name/blobs/$sha
[[ $(sha256sum <"$blob" | cut -d' ' -f1) == "$sha" && $(stat -c %i "$blob") == $(stat -c %i "$store_file") ]] &&
  pass "the planted blob was replaced by the store's inode" ||
  fail "the planted blob survived ($(sha256sum <"$blob"))"
[[ ! -L $hub/$repo_name/refs/main && $(cat "$hub/$repo_name/refs/main") == "$rev" ]] &&
  pass "a planted refs/main link was replaced" || fail "refs/main: $(ls -l "$hub/$repo_name/refs")"
[[ $(readlink "$hub/$repo_name/snapshots/$rev/config.json") == ../../blobs/* ]] &&
  pass "a planted snapshot link was replaced" || fail "snapshot link not replaced"
assert_outside_unchanged "HF cache with planted blob and links"

# ---- verify / scrub never write through a link in the store -------------------------------
# A store entry swapped for a link (as an older daemon could leave it) is treated as damage:
# quarantined without following it, and the re-download lands in a file of the daemon's own.
rm -f "$store_file" && ln -s "$T/outside/$shard" "$store_file"
before=$(sentinel)
ctl 1 verify "$id" >/dev/null 2>&1 || true
grep -q "verify: file $shard is damaged on disk: .* is a symbolic link" "$T/d1/log" &&
  pass "verify reports a linked store entry as damage, without following it" ||
  { fail "verify did not report the linked store entry"; show_logs; }
wait_until "the release to be complete again" 30 \
  sh -c "[ \"\$('$W' --socket '$T/d1/ctl.sock' --json show '$id' | jq -r .state)\" = complete ]" ||
  fail "not complete after the damaged entry: $(ctl 1 --json show "$id" | jq -c '{state,error}')"
[[ -f $store_file && ! -L $store_file && $(sha256sum <"$store_file" | cut -d' ' -f1) == "$sha" ]] &&
  pass "the store entry is the daemon's own verified file again" ||
  fail "store entry after verify: $(ls -l "$store_file" 2>&1)"
assert_outside_unchanged "verify with a linked store entry"
no_links_in_state "verify with a linked store entry"

ctl 1 remove "$id" --delete-files >/dev/null 2>&1 || true

# ---- over-long sparse file: refused on its length, before hashing -------------------------
fresh "$T/s_sparse"
rm "$T/s_sparse/$shard" && truncate -s 8G "$T/s_sparse/$shard"
start=$SECONDS
seed_refused "8 GiB sparse file" "$T/s_sparse" "$shard.*bytes"
((SECONDS - start < 10)) && pass "the sparse file was refused in $((SECONDS - start)) s" ||
  fail "refusing the sparse file took $((SECONDS - start)) s"

# ---- FIFO: refused at once; SIGTERM still stops the daemon --------------------------------
fresh "$T/s_fifo"
rm "$T/s_fifo/config.json" && mkfifo "$T/s_fifo/config.json"
seed_refused "FIFO in the seed directory" "$T/s_fifo" "config\.json.*FIFO"
pid=$(cat "$T/d1/pid")
kill -TERM "$pid"
wait_until "weightsd to exit on SIGTERM" 20 sh -c "! kill -0 $pid" &&
  pass "SIGTERM stops the daemon after a FIFO seed" || fail "weightsd ignored SIGTERM"

finish
