#!/usr/bin/env bash
# The Hugging Face cache `weightsctl fetch --hf-cache` writes, read back by Hugging Face's own
# reader: @huggingface/hub's scanCacheDir (tests/npm, version pinned by its lockfile, installed by
# scripts/install-deps --test) must list every snapshot with its revision, refs, files and sizes;
# hf_cache_check.py compares that with the sources and checks what the scanner does not read
# (files in sub-folders such as original/, refs resolving offline). And the refs rule
# (docs/huggingface.md, "Refs"): refs/main moves only to a complete snapshot of a fetch that
# named no revision; an older commit fetched explicitly or an --include subset moves no ref; a
# revision that is not a commit id gets refs/<name>.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

if ! command -v node >/dev/null; then
  echo "SKIP: node is not installed (scripts/install-deps --test installs nodejs and the reader)"
  exit 125
fi
npm_dir=$WEIGHTS_SOURCE_DIR/tests/npm
if [[ ! -f $npm_dir/node_modules/@huggingface/hub/package.json ]]; then
  fail "@huggingface/hub is not installed in $npm_dir: run scripts/install-deps --test"
  finish || exit 1
fi
scan() { # CACHE_DIR OUT_JSON
  node "$npm_dir/scan-hf-cache.mjs" "$1" >"$2"
}
check() { # NAME SPEC_JSON : the scanner's view of $hub and the files, against SPEC_JSON
  local name=$1 out
  scan "$hub" "$T/scan.json" || { fail "$name: the scanner failed"; return; }
  if out=$(python3 "$(dirname "$0")/hf_cache_check.py" "$T/scan.json" "$hub" "$2" 2>&1); then
    pass "$name"
  else
    fail "$name: $out (scanner: $(cat "$T/scan.json"))"
  fi
}

tiny=cache-org/tiny
part=cache-org/part
rev_b=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2 # older commit
rev_a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1 # the model's current release
rev_p=cccccccccccccccccccccccccccccccccccccccc
tag=v1.0

# Releases in the layout of a real repo, with files in a sub-folder (original/) the scanner
# does not read.
make_release() { # DIR SEED
  bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$1" 1 "$2"
  mkdir -p "$1/original"
  printf '{"dim": 64, "seed": "%s"}\n' "$2" >"$1/original/params.json"
  head -c 70000 "$1/model-00001-of-00002.safetensors" >"$1/original/consolidated.00.pth"
}
make_release "$T/b" cache-b
make_release "$T/t" cache-t
make_release "$T/a" cache-a
make_release "$T/p" cache-p
"$W" feed init "$T/pub" >/dev/null
# Published in this order: the current release of $tiny is rev_a (highest release_seq).
for r in "b $rev_b" "t $tag" "a $rev_a"; do
  set -- $r
  "$W" release add "$T/$1" --feed "$T/pub" --model "$tiny" --revision "$2" --license mit \
    --upstream-repo up-org/Tiny-Model >/dev/null
done
"$W" release add "$T/p" --feed "$T/pub" --model "$part" --revision "$rev_p" --license mit \
  --upstream-repo up-org/Part-Model --publish >/dev/null
root=$T/pub/public/metadata/1.root.json

for n in 1 2; do
  start_daemon "$n"
  ctl "$n" feed add demo "$T/pub/public" --root "$root" >/dev/null
done
for r in "b $tiny $rev_b" "t $tiny $tag" "a $tiny $rev_a" "p $part $rev_p"; do
  set -- $r
  expect_ok "daemon 1 seeds $2@$3" ctl 1 seed "$T/$1" --feed demo --model "$2" --revision "$3"
done
seeder=$(peer_of 1)
hub=$T/hub
tiny_dir=$hub/models--up-org--Tiny-Model
ref() { cat "$1/refs/$2" 2>/dev/null || echo "<no refs/$2>"; }

expect_ok "fetch $tiny (no revision) --hf-cache" ctl 2 --json fetch "$tiny" --peer "$seeder" \
  --hf-cache "$hub"
[[ $(jq -r .path <<<"$LAST_OUT") == "$tiny_dir/snapshots/$rev_a" ]] &&
  pass "a fetch naming no revision materialises the current release" || fail "fetch: $LAST_OUT"
[[ $(ref "$tiny_dir" main) == "$rev_a" ]] && pass "refs/main names the current release" ||
  fail "refs/main: $(ref "$tiny_dir" main)"

expect_ok "fetch the older commit explicitly" ctl 2 fetch "$tiny@$rev_b" --peer "$seeder" \
  --hf-cache "$hub"
[[ -d $tiny_dir/snapshots/$rev_b && $(ref "$tiny_dir" main) == "$rev_a" ]] &&
  pass "an older commit fetched explicitly gets its snapshot, refs/main stays" ||
  fail "after fetching $rev_b: refs/main $(ref "$tiny_dir" main)"

expect_ok "fetch a named revision" ctl 2 --json fetch "$tiny@$tag" --peer "$seeder" \
  --hf-cache "$hub"
[[ $(jq -r .path <<<"$LAST_OUT") == "$tiny_dir/snapshots/$tag" && $(ref "$tiny_dir" "$tag") == "$tag" &&
  $(ref "$tiny_dir" main) == "$rev_a" ]] &&
  pass "a revision that is not a commit id gets refs/$tag; refs/main stays" ||
  fail "named revision: path $(jq -r .path <<<"$LAST_OUT"), refs/$tag $(ref "$tiny_dir" "$tag")"

expect_ok "fetch $part --include '*.json' (partial)" ctl 2 fetch "$part" --include '*.json' \
  --peer "$seeder" --hf-cache "$hub"
[[ -z $(ls "$hub/models--up-org--Part-Model/refs") ]] && pass "a partial snapshot moves no ref" ||
  fail "refs after a partial fetch: $(ls "$hub/models--up-org--Part-Model/refs")"

cat >"$T/spec1.json" <<EOF
{"up-org/Tiny-Model": {
   "$rev_a": {"src": "$T/a", "refs": ["main"]},
   "$rev_b": {"src": "$T/b", "refs": []},
   "$tag": {"src": "$T/t", "refs": ["$tag"]}},
 "up-org/Part-Model": {
   "$rev_p": {"src": "$T/p", "refs": [], "include": ["*.json"]}}}
EOF
check "the scanner lists every snapshot with its refs, files and sizes" "$T/spec1.json"

# Widening the partial release to every file completes its snapshot: now refs/main moves.
expect_ok "fetch $part again without --include" ctl 2 fetch "$part" --peer "$seeder" \
  --hf-cache "$hub"
sed -e "s|\"refs\": \[\], \"include\": \[\"\*.json\"\]|\"refs\": [\"main\"]|" "$T/spec1.json" \
  >"$T/spec2.json"
grep -q '"src": "'"$T"'/p", "refs": \["main"\]}' "$T/spec2.json" || fail "spec2 not rewritten"
check "the completed snapshot has every file and refs/main" "$T/spec2.json"

# The reader's own checks fail on a layout that is wrong (the test can fail).
mv "$tiny_dir/refs/main" "$T/main.saved"
printf '%s' "$rev_b" >"$tiny_dir/refs/main"
if python3 "$(dirname "$0")/hf_cache_check.py" <(node "$npm_dir/scan-hf-cache.mjs" "$hub") "$hub" \
  "$T/spec2.json" >/dev/null; then
  fail "a refs/main naming the older commit went unnoticed"
else
  pass "a refs/main naming the older commit is caught"
fi
mv "$T/main.saved" "$tiny_dir/refs/main"

finish
