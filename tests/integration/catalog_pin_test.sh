#!/usr/bin/env bash
# `weightsctl catalog pin` and `catalog check` against the hub double (tests/lib/hub_double.py:
# real git repositories over Debian's git http-backend behind nginx + fcgiwrap, and the hub's
# API), with a test catalog directory naming the double's repositories. pin fills each file's
# size, SHA-256 and git blob id from the commit's git objects (compared here with sha256sum and
# git hash-object of the source files) and the pinned torrent's info-hash from the files at hand;
# --write edits the entry in place, keeping every comment, and a second run changes nothing.
# check passes on a good entry, names the file of a tampered entry or one whose recorded digest
# is wrong, reports a commit the hub does not have, and reports the API's gated flag and licence
# as hints only.
source "$(dirname "$0")/lib.sh"
source "$WEIGHTS_SOURCE_DIR/tests/lib/harness.sh"

require_tools nginx fcgiwrap git jq
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN
export HF_HUB_CACHE=$T/hf-cache  # never the user's cache

src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 1
mkdir -p "$src/sub" && echo '{"note": "nested"}' >"$src/sub/extra.json"
hub=$T/hub
commit=$(python3 "$double" build "$hub" test-org/tiny "$src" --license mit)
commit_other=$(python3 "$double" build "$hub" test-org/other "$src" --license apache-2.0)
commit_gated=$(python3 "$double" build "$hub" test-org/gated "$src" --license mit --gated hf_gated_token)
start_hub_double "$hub"
export HF_ENDPOINT=$HUB_URL
bare=$hub/git/test-org/tiny.git

# entry FILE ID VARIANT COMMIT [KEYS...] : appends a [[model]] entry to a catalog file.
entry() {
  local file=$1 id=$2 variant=$3 c=$4
  shift 4
  {
    printf '\n# %s, as the double serves it.\n[[model]]\nid = "%s"\nvariant = "%s"\n' "$id" "$id" "$variant"
    printf 'upstream = "huggingface"\nrepo = "%s"\ncommit = "%s"\n' "$id" "$c"
    printf '%s\n' "$@"
    printf '\n[[model.source]]\nurl = "https://example.org/pins"  # a test source\nconfidence = "high"\n'
  } >>"$file"
}
catalog_head() { # catalog_head FILE DEFAULT
  printf '# A test catalog naming the hub double'"'"'s repositories.\nschema = 1\nfamily = "tiny"\ndefault = "%s"\n' "$2" >"$1"
}
mkdir -p "$T/cat"
catalog_head "$T/cat/tiny.toml" base
entry "$T/cat/tiny.toml" test-org/tiny base "$commit" 'license = "mit"' 'gated = false'
entry "$T/cat/tiny.toml" test-org/other other "$commit_other" 'license = "apache-2.0"' 'gated = false'
cp "$T/cat/tiny.toml" "$T/original.toml"
C=("$W" catalog --catalog-dir "$T/cat")

# --- pin prints the fields: sizes and digests of the source files ---------------------------
expect_ok "catalog pin NAME prints the pinned fields" "${C[@]}" pin tiny
grep -q '^files_complete = true$' <<<"$LAST_OUT" && grep -q '^\[\[model.files\]\]$' <<<"$LAST_OUT" &&
  pass "the output is TOML to paste" || fail "not TOML: $LAST_OUT"
grep -q "info_hash_v2 not computed: the files are not at hand" <<<"$LAST_OUT" &&
  pass "without the files, pin says why it has no info-hash" || fail "no info-hash note: $LAST_OUT"
cmp -s "$T/original.toml" "$T/cat/tiny.toml" && pass "without --write the catalog file is untouched" ||
  fail "the catalog file changed"
"$W" --json catalog --catalog-dir "$T/cat" pin tiny >"$T/pin.json" || fail "pin --json: exit $?"
python3 - "$T/pin.json" "$src" "$bare" "$commit" <<'PY' &&
import hashlib, json, os, subprocess, sys
report, src, bare, commit = sys.argv[1:]
e = json.load(open(report))["entries"][0]
assert e["commit"] == commit and e["files_complete"] is True, e
got = {f["path"]: f for f in e["files"]}
want = set()
for dirpath, _, names in os.walk(src):
    for n in names:
        full = os.path.join(dirpath, n)
        rel = os.path.relpath(full, src)
        data = open(full, "rb").read()
        want.add(rel)
        f = got[rel]
        assert f["size"] == len(data), (rel, f)
        assert f["sha256"] == hashlib.sha256(data).hexdigest(), (rel, f)
        if rel.endswith(".safetensors"):
            assert "git_sha1" not in f, ("an LFS file has no git blob id", f)
        else:
            blob = subprocess.run(["git", "hash-object", full], check=True,
                                  capture_output=True, text=True).stdout.strip()
            assert f["git_sha1"] == blob, (rel, f, blob)
assert set(got) == want | {".gitattributes"}, (sorted(got), sorted(want))
assert e["info_hash_v2"] is None and e["written"] is None
PY
  pass "every file's size, SHA-256 and git blob id are those of the source files (sha256sum, git hash-object)" ||
  fail "pinned fields differ from the source files: $(cat "$T/pin.json")"

# --- the info-hash, from --files DIR or the HF cache's snapshot -----------------------------
files=$T/files
cp -r "$src" "$files"
git --git-dir="$bare" show "$commit:.gitattributes" >"$files/.gitattributes"
want_ih=$("$W" --json release pin-torrent "$files" --repo test-org/tiny --commit "$commit" | jq -r .v2_infohash)
got_ih=$("$W" --json catalog --catalog-dir "$T/cat" pin tiny --files "$files" | jq -r '.entries[0].info_hash_v2')
[[ $got_ih == "$want_ih" && $got_ih =~ ^[0-9a-f]{64}$ ]] &&
  pass "pin --files computes the pinned torrent's v2 info-hash (that of release pin-torrent)" ||
  fail "info-hash $got_ih, want $want_ih"
echo tampered >>"$T/files/config.json"
expect_fail "pin --files refuses files that are not the commit's" 75 "config.json" \
  "${C[@]}" pin tiny --files "$files"
git --git-dir="$bare" show "$commit:config.json" >"$files/config.json"
snapshot=$HF_HUB_CACHE/models--test-org--tiny/snapshots/$commit
mkdir -p "$(dirname "$snapshot")" && cp -r "$files" "$snapshot"
out=$("$W" --json catalog --catalog-dir "$T/cat" pin tiny)
[[ $(jq -r '.entries[0].info_hash_v2' <<<"$out") == "$want_ih" &&
  $(jq -r '.entries[0].info_hash_from' <<<"$out") == "$snapshot" ]] &&
  pass "pin finds the files in the Hugging Face cache's snapshot of the commit" ||
  fail "cache snapshot not used: $out"

# --- --write: in place, comments kept, idempotent -------------------------------------------
expect_ok "catalog pin --write" "${C[@]}" pin tiny --write
grep -q "test-org/tiny: wrote .* and info_hash_v2 into $T/cat/tiny.toml" <<<"$LAST_OUT" &&
  pass "pin --write says what it wrote where" || fail "pin --write said: $LAST_OUT"
if diff "$T/original.toml" "$T/cat/tiny.toml" | grep -q '^<'; then
  fail "--write removed or changed lines: $(diff "$T/original.toml" "$T/cat/tiny.toml")"
else
  pass "--write only adds lines: every comment and every other byte is kept"
fi
grep -q '^url = "https://example.org/pins"  # a test source$' "$T/cat/tiny.toml" &&
  grep -q "^# A test catalog naming the hub double's repositories.$" "$T/cat/tiny.toml" &&
  pass "the comments are still there" || fail "comments lost: $(cat "$T/cat/tiny.toml")"
show=$("$W" --json catalog --catalog-dir "$T/cat" show tiny)
jq -e --slurpfile p "$T/pin.json" --arg ih "$want_ih" \
  '.files_complete and .info_hash_v2 == $ih and .files == $p[0].entries[0].files' <<<"$show" >/dev/null &&
  pass "the written entry reads back with the pinned files and info-hash" || fail "read back: $show"
jq -e '.files == []' <<<"$("$W" --json catalog --catalog-dir "$T/cat" show test-org/other)" >/dev/null &&
  pass "the other entry is unchanged" || fail "the other entry changed"
cp "$T/cat/tiny.toml" "$T/pinned.toml"
expect_ok "catalog pin --write again" "${C[@]}" pin tiny --write
grep -q "already has every pinned field" <<<"$LAST_OUT" && cmp -s "$T/pinned.toml" "$T/cat/tiny.toml" &&
  pass "--write is idempotent: the second run changes nothing" || fail "second --write: $LAST_OUT"
expect_ok "the written catalog validates" "${C[@]}" validate

# --- check ----------------------------------------------------------------------------------
expect_ok "catalog check on a pinned entry" "${C[@]}" check tiny
grep -q "^ok  *test-org/tiny " <<<"$LAST_OUT" && pass "check reports the entry as ok" ||
  fail "check said: $LAST_OUT"
expect_ok "catalog check with no name checks every entry" "${C[@]}" check
grep -q "2 entries checked against $HUB_URL: 2 match, 0 differ" <<<"$LAST_OUT" &&
  pass "check with no name checks both entries" || fail "check said: $LAST_OUT"

# edit_file PATH KEY VALUE : in the [[model.files]] table of PATH, replaces KEY's value.
edit_file() {
  python3 - "$T/cat/tiny.toml" "$@" <<'PY'
import re, sys
catalog, path, key, value = sys.argv[1:]
text = open(catalog).read()
block = re.search(r'\[\[model\.files\]\]\npath = "%s"\n(?:[a-z0-9_]+ = .*\n)*' % re.escape(path), text)
old = block.group(0)
new = re.sub(r'^%s = .*$' % key, '%s = %s' % (key, value), old, flags=re.M)
assert new != old
open(catalog, "w").write(text.replace(old, new))
PY
}
edit_file config.json sha256 "\"$(printf 0%.0s {1..64})\""
expect_fail "check names the file whose recorded digest is wrong" 75 \
  "config.json: the entry records SHA-256 0{64}, commit ${commit:0:12} pins" "${C[@]}" check tiny
grep -q "^DIFFERS  *test-org/tiny" <<<"$LAST_OUT" && pass "the entry is reported as DIFFERS" ||
  fail "no DIFFERS line: $LAST_OUT"
expect_fail "pin refuses an entry the commit contradicts" 75 "config.json: the entry records SHA-256" \
  "${C[@]}" pin tiny --write
cp "$T/pinned.toml" "$T/cat/tiny.toml"
edit_file model-00001-of-00002.safetensors size 12345
rc=0
"$W" --json catalog --catalog-dir "$T/cat" check >"$T/check.json" 2>"$T/check.err" || rc=$?
[[ $rc -eq 75 ]] && jq -e '.error.code == "length_mismatch" and .differ == 1 and
  ([.entries[] | select(.status == "differs") | .differences[].subject] == ["model-00001-of-00002.safetensors"]) and
  ([.entries[] | select(.id == "test-org/other") | .status] == ["ok"])' "$T/check.json" >/dev/null &&
  pass "check --json: one document with the error and every entry's status, naming the tampered file" ||
  fail "check --json (exit $rc): $(cat "$T/check.json" "$T/check.err")"
cp "$T/pinned.toml" "$T/cat/tiny.toml"

mkdir -p "$T/cat2"
catalog_head "$T/cat2/t.toml" gone
entry "$T/cat2/t.toml" test-org/tiny gone "$(printf a%.0s {1..40})" 'license = "mit"' 'gated = false'
expect_fail "check reports a commit the hub does not have" 66 "commit a{40}: not served by the hub's git repository" \
  "$W" catalog --catalog-dir "$T/cat2" check tiny:gone

catalog_head "$T/cat2/t.toml" hinted
entry "$T/cat2/t.toml" test-org/tiny hinted "$commit" 'license = "apache-2.0"' 'gated = true'
expect_ok "check: the API's gated flag and licence do not fail the check" \
  "$W" catalog --catalog-dir "$T/cat2" check tiny:hinted
grep -q "hint (the hub's API, not authenticated): gated: the entry says true, the hub's API says false" <<<"$LAST_OUT" &&
  grep -q "hint (the hub's API, not authenticated): license: the entry says apache-2.0, the hub's API says mit" <<<"$LAST_OUT" &&
  pass "check reports the gated flag and licence as hints" || fail "no hints: $LAST_OUT"
[[ $("$W" --json catalog --catalog-dir "$T/cat2" check tiny:hinted | jq -r '.entries[0].status') == hints ]] &&
  pass "--json: the entry's status is hints" || fail "status is not hints"

grep -q "auth=yes" "$HUB_REQUESTS" && fail "a token was sent: $(cat "$HUB_REQUESTS")" ||
  pass "no token is sent when none is given"

# --- a gated repository: not verified without HF_TOKEN, verified with it ----------------------
catalog_head "$T/cat2/t.toml" gated
entry "$T/cat2/t.toml" test-org/gated gated "$commit_gated" 'license = "mit"' 'gated = true'
rc=0
"$W" --json catalog --catalog-dir "$T/cat2" check tiny:gated >"$T/gated.json" 2>"$T/gated.err" || rc=$?
[[ $rc -ne 0 && $rc -ne 75 && $rc -ne 66 ]] &&
  jq -e '.entries[0].status == "unverified" and .unverified == 1 and .differ == 0' "$T/gated.json" >/dev/null &&
  pass "check without HF_TOKEN: a gated entry is unverified (exit $rc), not reported as differing" ||
  fail "gated without token (exit $rc): $(cat "$T/gated.json" "$T/gated.err")"
HF_TOKEN=hf_gated_token expect_ok "check with HF_TOKEN verifies a gated entry" \
  "$W" catalog --catalog-dir "$T/cat2" check tiny:gated
grep -q "^ok  *test-org/gated " <<<"$LAST_OUT" &&
  pass "the gated entry is ok, the API's gated flag agreeing with the entry's" || fail "check said: $LAST_OUT"
HF_TOKEN=hf_gated_token expect_ok "pin with HF_TOKEN pins a gated entry" \
  "$W" catalog --catalog-dir "$T/cat2" pin tiny:gated --write
jq -e '.files_complete and (.files | length) == 8' \
  <<<"$("$W" --json catalog --catalog-dir "$T/cat2" show tiny:gated)" >/dev/null &&
  pass "the gated entry's files were written" || fail "gated entry not pinned"
finish
