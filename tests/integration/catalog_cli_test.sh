#!/usr/bin/env bash
# weightsctl catalog list|show|search|validate against the shipped catalog and test catalogs:
# the default variant of a family alias, --json, layering with --catalog-dir (a later directory
# overrides an earlier one), and bad input: a syntax error, a short and a non-hex commit id, an
# unknown key, one alias defined twice with different targets, an unknown alias — each a clear
# error naming file and line with the documented exit code; a broken file never hides the rest.
# Env: WEIGHTSCTL, WEIGHTS_SOURCE_DIR (set by ctest).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "FAIL: jq is required (scripts/install-deps --test)" >&2; exit 1; }

shipped=$WEIGHTS_SOURCE_DIR/manifests/catalog
# The user's own catalog directory must not leak into the test: point XDG at the temp dir.
export XDG_CONFIG_HOME=$T/config HOME=$T
C=("$W" catalog --catalog-dir "$shipped")

# --- the shipped catalog --------------------------------------------------------------------------
expect_ok "validate the shipped catalog" "$W" catalog validate "$shipped"/*.toml
grep -qE "^valid: [0-9]+ file\(s\), [0-9]+ entries$" <<<"$LAST_OUT" || fail "validate summary: $LAST_OUT"
# Without --catalog-dir, a binary in the build tree reads the source tree's catalog.
expect_ok "default paths find the shipped catalog" "$W" catalog show gpt-oss
grep -q "defined at: .*manifests/catalog/gpt-oss.toml:[0-9]* (shipped catalog)" <<<"$LAST_OUT" ||
  fail "default paths: $LAST_OUT"

out=$("${C[@]}" --json list) || fail "list --json"
for family in gemma-4 gpt-oss deepseek olmo mimo qwen llama mistral; do
  jq -e --arg f "$family" '[.entries[] | select(.family == $f and .default)] | length == 1' \
    <<<"$out" >/dev/null || fail "list: family $family has no single default entry"
done
jq -e '.problems == [] and ([.entries[] | select(.commit | test("^[0-9a-f]{40}$") | not)] == [])' \
  <<<"$out" >/dev/null || fail "list: problems or a bad commit"
pass "list --json: every family has one default, every commit is 40 hex"

expect_ok "show a family alias" "${C[@]}" show gemma-4
grep -q "^google/gemma-4-31B-it$" <<<"$LAST_OUT" || fail "gemma-4 is not gemma-4-31B-it: $LAST_OUT"
grep -q "commit:     842da3794eaa0b77d5f08bae87a17459d91ff475" <<<"$LAST_OUT" || fail "commit: $LAST_OUT"
grep -q "(the default variant of \`gemma-4\`)" <<<"$LAST_OUT" || fail "default not said: $LAST_OUT"
out=$("${C[@]}" --json show GPT-OSS:120B) || fail "show gpt-oss:120b (case-insensitive)"
jq -e '.id == "openai/gpt-oss-120b" and .commit == "b5c939de8f754692c1647ca79fbf85e8c1e70f8a"
       and .sources[0].confidence == "high" and .gated == false' <<<"$out" >/dev/null ||
  fail "show --json gpt-oss:120b: $out"
out=$("${C[@]}" --json show google/gemma-4-E4B-it) || fail "show by id"
jq -e '.files | length == 7 and (.[0].size == 15992595884)' <<<"$out" >/dev/null ||
  fail "show by id: files: $out"
pass "show: family alias, variant alias, id; --json"

expect_fail "unknown alias: not found, hint search" 66 \
  "error: no catalog entry named 'gemma-5'.*|hint: try \`weightsctl catalog search gemma-5\`" \
  "${C[@]}" show gemma-5
grep -q "hint: try \`weightsctl catalog search gemma-5\`" <<<"$LAST_OUT" || fail "no search hint: $LAST_OUT"
out=$("${C[@]}" --json show gemma-5 2>/dev/null) && fail "show gemma-5 --json succeeded"
jq -e '.error.code == "not_found"' <<<"$out" >/dev/null || fail "--json error: $out"

expect_ok "search" "${C[@]}" search QWEN3
grep -q "Qwen/Qwen3-0.6B" <<<"$LAST_OUT" || fail "search QWEN3: $LAST_OUT"
if grep -q "Qwen2.5" <<<"$LAST_OUT"; then fail "search QWEN3 matched Qwen2.5: $LAST_OUT"; fi
out=$("${C[@]}" --json search no-such-model) || fail "search without a match exits 0"
jq -e '.entries == []' <<<"$out" >/dev/null || fail "search without a match: $out"

# --- bad input ------------------------------------------------------------------------------------
good=$T/good
mkdir -p "$good"
cat >"$good/tiny.toml" <<'EOF'
schema = 1
family = "tiny"
default = "1b"

[[model]]
id = "example-org/Tiny-1B"
variant = "1b"
upstream = "huggingface"
repo = "example-org/Tiny-1B"
commit = "0123456789abcdef0123456789abcdef01234567"
license = "Apache-2.0"
gated = false

[[model.source]]
url = "https://example.org/tiny/pins.txt"
confidence = "high"
EOF
expect_ok "validate a good file" "$W" catalog validate "$good/tiny.toml"

# bad_file NAME SED-EXPRESSION: a copy of tiny.toml changed by the sed expression.
bad_file() {
  sed "$2" "$good/tiny.toml" >"$T/$1.toml"
  echo "$T/$1.toml"
}
f=$(bad_file syntax 's/^variant = "1b"/variant = "1b/')
expect_fail "syntax error: file and line, exit 65" 65 "error: $f:7: " "$W" catalog validate "$f"
f=$(bad_file short 's/^commit = .*/commit = "01234567"/')
expect_fail "short commit id" 65 \
  "error: $f:10: model\[0\]\.commit: '01234567' is not a full commit id" "$W" catalog validate "$f"
f=$(bad_file nonhex 's/^commit = "0/commit = "g/')
expect_fail "non-hex commit id" 65 "error: $f:10: model\[0\]\.commit: 'g123" "$W" catalog validate "$f"
f=$(bad_file unknown 's/^gated = false/gated = false\nmirror = "x"/')
expect_fail "unknown key" 65 "error: $f:13: model\[0\]\.mirror: unknown key" "$W" catalog validate "$f"
grep -q "hint: valid keys here: id, variant" <<<"$LAST_OUT" || fail "unknown key: no hint: $LAST_OUT"
f=$(bad_file badid 's/^id = .*/id = "Tiny-1B"/')
expect_fail "bad model id" 65 "error: $f:6: model\[0\]\.id: 'Tiny-1B' is not a model id" \
  "$W" catalog validate "$f"
# One alias, two targets: another file gives "tiny-latest" to another model.
sed -e 's/^family = "tiny"/family = "tiny2"/' -e 's/^variant = "1b"/variant = "1b"\naliases = ["tiny-latest"]/' \
  -e 's/example-org\/Tiny-1B/example-org\/Tiny-2B/' "$good/tiny.toml" >"$T/a.toml"
sed -e 's/^family = "tiny"/family = "tiny3"/' -e 's/^variant = "1b"/variant = "1b"\naliases = ["tiny-latest"]/' \
  -e 's/example-org\/Tiny-1B/example-org\/Tiny-3B/' "$good/tiny.toml" >"$T/b.toml"
expect_fail "one alias, two targets" 65 \
  "error: $T/b.toml:5: alias 'tiny-latest' names example-org/Tiny-3B but $T/a.toml:5 defines it as example-org/Tiny-2B" \
  "$W" catalog validate "$T/a.toml" "$T/b.toml"
expect_fail "validate a missing file" 66 "error: $T/none.toml" "$W" catalog validate "$T/none.toml"

# --- a broken file is reported and skipped; the rest still loads ----------------------------------
dir=$T/dir
mkdir -p "$dir"
cp "$good/tiny.toml" "$dir/tiny.toml"
cp "$T/syntax.toml" "$dir/broken.toml"
out=$("$W" catalog --catalog-dir "$dir" show tiny 2>"$T/err") || fail "show with a broken file beside"
grep -q "^example-org/Tiny-1B$" <<<"$out" || fail "show tiny: $out"
grep -q "^weightsctl: warning: $dir/broken.toml:7: .*; file skipped$" "$T/err" ||
  fail "the broken file is not reported: $(cat "$T/err")"
out=$("$W" --json catalog --catalog-dir "$dir" list 2>/dev/null) || fail "list with a broken file"
jq -e '(.entries | length == 1) and (.problems | length == 1) and .problems[0].code == "parse_error"' \
  <<<"$out" >/dev/null || fail "list --json with a broken file: $out"
expect_fail "validate the directory" 65 "$dir/broken.toml:7:" "$W" catalog --catalog-dir "$dir" validate
pass "a broken file is reported (warning, file:line) and skipped; list and show still work"

# --- layers: a later directory overrides by id, and the family alias ------------------------------
over=$T/over
mkdir -p "$over"
sed -e 's/^commit = .*/commit = "89abcdef0123456789abcdef0123456789abcdef"/' "$good/tiny.toml" >"$over/tiny.toml"
out=$("$W" --json catalog --catalog-dir "$dir" --catalog-dir "$over" show tiny 2>/dev/null) ||
  fail "show with two layers"
jq -e '.commit == "89abcdef0123456789abcdef0123456789abcdef"' <<<"$out" >/dev/null ||
  fail "the later directory does not override: $out"
# The user layer ($XDG_CONFIG_HOME/weightsd/catalog.d) overrides the shipped one.
mkdir -p "$XDG_CONFIG_HOME/weightsd/catalog.d"
sed -e 's/^id = .*/id = "example-org\/Big"/' -e 's/^repo = .*/repo = "example-org\/Big"/' \
  -e 's/^family = "tiny"/family = "gemma-4"/' -e 's/^default = "1b"/default = "mine"/' \
  -e 's/^variant = "1b"/variant = "mine"/' "$good/tiny.toml" >"$XDG_CONFIG_HOME/weightsd/catalog.d/mine.toml"
out=$("$W" --json catalog show gemma-4) || fail "show gemma-4 with a user layer"
jq -e '.id == "example-org/Big" and .layer == "user"' <<<"$out" >/dev/null ||
  fail "the user layer does not override the family alias: $out"
out=$("$W" --json catalog show gemma-4:31b-it) || fail "the shipped variant alias is still there"
jq -e '.layer == "shipped"' <<<"$out" >/dev/null || fail "gemma-4:31b-it: $out"
pass "layers: later directories override by id; the user layer takes a family alias"

finish
