#!/usr/bin/env bash
# `weightsctl release add --from-hf` against the hub double (tests/lib/hub_double.py): real git
# repositories over Debian's git http-backend behind nginx + fcgiwrap, the hub's API and resolve
# generated from them, LFS files behind signed, expiring URLs on a CDN at another address (the
# double's own answers are checked first: the hub's redirects, headers and errors). The import
# takes its file list, sizes and hashes from the commit's git objects only: the manifest
# lists exactly the commit's files with the pointers' SHA-256s; each way a hub can lie (an extra
# file in the API, other LFS bytes, another pointer, another small file) is refused naming the
# file with nothing staged or published; a dead git endpoint fails the import instead of falling
# back to the API; a gated repository's token reaches the API and git, never the CDN; expired and
# cut CDN transfers resume on fresh URLs from the hub. The hub's refusals (X-Error-Code: a missing
# repository's 401 RepoNotFound, RevisionNotFound, GatedRepo; 410 and 451) each give their own
# error and exit code, and a branch's trust note is a field of the --json output.
source "$(dirname "$0")/lib.sh"
source "$WEIGHTS_SOURCE_DIR/tests/lib/harness.sh"

require_tools nginx fcgiwrap git
now=2026-06-01T00:00:00Z
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py
shard=model-00001-of-00002.safetensors

src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 1
mkdir -p "$src/sub" && echo '{"note": "nested"}' >"$src/sub/extra.json"
hub=$T/hub
declare -A commit
build() { # build NAME [--tamper MODE]
  commit[$1]=$(python3 "$double" build "$hub" "test-org/$1" "$src" --page-size 3 "${@:2}")
}
build tiny
build extra --tamper extra-file
build lfs --tamper lfs-bytes
build pointer --tamper pointer
build small --tamper small-file
build git404 --tamper git-404
build git500
build expiring --tamper expiring
build gated --gated hf_test_token
build taken-down --refuse 410
build barred --refuse 451
start_hub_double "$hub" \
  'location ~ "^/test-org/git500(\.git)?/(info/refs|git-upload-pack)$" { return 500; }'
hub_log=$NGINX_LOG  # the hub's nginx access log (git requests included)

add() { # add FEED DIR REPO@REV [ARGS...]
  "$W" --json release add "$2" --from-hf "$3" --endpoint "$HUB_URL" --feed "$1" --now "$now" \
    "${@:4}"
}
staged() { "$W" --json release list --feed "$1" | jq -r '.[].model'; }

# --- the double answers as the hub does --------------------------------------------------------
oid=$(sha256sum "$src/$shard" | cut -c1-64)
size=$(stat -c %s "$src/$shard")
blob=$(git -C "$hub/git/test-org/tiny.git" rev-parse "${commit[tiny]}:config.json")
h=$(curl -sI "$HUB_URL/test-org/tiny/resolve/main/$shard" | tr -d '\r')
grep -q "^HTTP/1.1 302" <<<"$h" && grep -qi "^x-linked-etag: \"$oid\"$" <<<"$h" &&
  grep -qi "^x-linked-size: $size$" <<<"$h" && grep -qi "^x-repo-commit: ${commit[tiny]}$" <<<"$h" &&
  grep -qi "^location: $HUB_CDN_URL/cdn/test-org/tiny/$oid?Expires=[0-9]*&Signature=" <<<"$h" &&
  pass "an LFS file resolves to a signed CDN URL on another host, with the hub's headers" ||
  fail "LFS resolve: $h"
h=$(curl -sI "$HUB_URL/test-org/tiny/resolve/main/config.json" | tr -d '\r')
grep -q "^HTTP/1.1 307" <<<"$h" && grep -qi "^etag: \"$blob\"$" <<<"$h" &&
  grep -qi "^location: /api/resolve-cache/models/test-org/tiny/${commit[tiny]}/config.json?" <<<"$h" &&
  curl -sfL "$HUB_URL/test-org/tiny/resolve/main/config.json" | cmp -s - "$src/config.json" &&
  pass "a small file by branch is a relative 307 to resolve-cache, ETag the git blob id" ||
  fail "small resolve: $h"
h=$(curl -si "$HUB_URL/test-org/tiny/resolve/main/nope.json" | tr -d '\r')
grep -q "^HTTP/1.1 404" <<<"$h" && grep -qi "^x-error-code: EntryNotFound$" <<<"$h" &&
  grep -qi "^x-repo-commit: ${commit[tiny]}$" <<<"$h" &&
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/api/models/test-org/nope/revision/main") == 401 ]] &&
  pass "errors carry X-Error-Code (EntryNotFound 404 with X-Repo-Commit, RepoNotFound 401)" ||
  fail "errors: $h"
GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git -c protocol.version=2 ls-remote "$HUB_URL/test-org/tiny.git" 2>&1 | grep -q "^${commit[tiny]}	refs/heads/main$" &&
  pass "git smart HTTP (protocol v2) at ORG/NAME.git lists the real commit" || fail "ls-remote"

# --- an honest hub, by branch: the commit's files and nothing else -------------------------
expect_ok "feed init" "$W" feed init "$T/pub" --now "$now"
add_with_token() { HF_TOKEN=hf_test_token add "$@"; }
expect_ok "release add --from-hf ORG/NAME@main from the hub double" \
  add_with_token "$T/pub" "$T/dl" test-org/tiny@main
out=$LAST_OUT
manifest_json=$(sed -n '/^{/,$p' <<<"$out")
jq -e --arg c "${commit[tiny]}" '.trusted_hub_for.repo == "test-org/tiny" and
    .trusted_hub_for.revision == "main" and .trusted_hub_for.commit == $c and
    (.trusted_hub_for.note | test("is commit \($c): the hub said so, and this one step trusted it"))' \
  <<<"$manifest_json" >/dev/null && [[ ${out:0:1} == "{" ]] &&
  pass "--json: resolving a branch says which commit it pinned and that it trusted the hub, in the JSON (trusted_hub_for), nothing on stderr" ||
  fail "no trust note in the JSON: $out"
rc=0
HF_TOKEN=hf_test_token "$W" release add "$T/dl" --from-hf test-org/tiny@main --endpoint "$HUB_URL" \
  --feed "$T/pub" --now "$now" --replace >"$T/human.out" 2>"$T/human.err" || rc=$?
[[ $rc == 0 ]] &&
  grep -q "test-org/tiny@main is commit ${commit[tiny]}: the hub said so, and this one step trusted it" "$T/human.err" &&
  ! grep -q "trusted" "$T/human.out" &&
  pass "human output: the trust note goes to stderr" ||
  fail "human trust note (exit $rc): $(cat "$T/human.out" "$T/human.err")"

[[ $(jq -r .revision <<<"$manifest_json") == "${commit[tiny]}" ]] &&
  pass "the release's revision is the real commit id" || fail "revision: $manifest_json"
grep -q "GET /test-org/tiny/info/refs?service=git-upload-pack" "$hub_log" &&
  grep -q "POST /test-org/tiny/git-upload-pack" "$hub_log" &&
  pass "the import fetched the commit over git smart HTTP" ||
  fail "no git requests: $(cat "$hub_log")"
m=$(grep -l '"model": "test-org/tiny"' $(grep -rl '"weights-release/v1"' "$T/pub/public/targets") | head -1)
python3 - "$m" "$hub/git/test-org/tiny.git" "${commit[tiny]}" <<'PY' &&
import hashlib, json, subprocess, sys
manifest, bare, commit = sys.argv[1:]
git = lambda *a: subprocess.run(["git", "-C", bare, *a], check=True, capture_output=True).stdout
want = {}
for line in git("ls-tree", "-r", "-z", commit).split(b"\0"):
    if not line:
        continue
    meta, path = line.split(b"\t", 1)
    oid = meta.split()[2].decode()
    blob = git("cat-file", "blob", oid)
    if blob.startswith(b"version https://git-lfs.github.com/spec/v1\n"):
        f = dict(l.split(" ", 1) for l in blob.decode().splitlines())
        want[path.decode()] = (int(f["size"]), f["oid"].removeprefix("sha256:"), None)
    else:
        want[path.decode()] = (len(blob), hashlib.sha256(blob).hexdigest(), oid)
m = json.load(open(manifest))
got = {f["path"]: (f["length"], f["sha256"], f.get("git_oid")) for f in m["files"]}
assert got == want, (got, want)
assert any(v[2] is None for v in want.values()) and ".gitattributes" in want
PY
  pass "the manifest lists exactly the commit's files: pointer SHA-256s for LFS files, blob ids for small ones" ||
  fail "manifest differs from the commit: $(cat "$m")"
for f in $(cd "$src" && find . -type f | sed 's|^\./||'); do
  cmp -s "$src/$f" "$T/dl/$f" || fail "downloaded $f differs from the source"
done
if grep "$HUB_CDN_URL\|127.0.0.2" "$HUB_REQUESTS" | grep -q "auth=yes"; then
  fail "the token reached the CDN: $(cat "$HUB_REQUESTS")"
else
  pass "the token is not sent to the CDN"
fi

# --- by commit id: nothing is trusted but the pin --------------------------------------------
expect_ok "feed init (pinned)" "$W" feed init "$T/pub-pin" --now "$now"
expect_ok "release add --from-hf ORG/NAME@<commit>" add "$T/pub-pin" "$T/dl-pin" \
  "test-org/tiny@${commit[tiny]}"
jq -e '.trusted_hub_for == null' <<<"$LAST_OUT" >/dev/null &&
  ! grep -q "trusted it" <<<"$LAST_OUT" && pass "a commit pin has no trust note (trusted_hub_for null)" ||
  fail "a commit pin claims to trust the hub: $LAST_OUT"

# --- a gated repository: the token on the API, resolve and git -------------------------------
expect_fail "a gated repository without a token is refused: accept the licence, then HF_TOKEN" 77 \
  "test-org/gated is a gated repository: .*\(HTTP 401, GatedRepo\)" \
  env -u HF_TOKEN "$W" release add "$T/dl-gated" --from-hf test-org/gated --endpoint "$HUB_URL" \
  --feed "$T/pub-pin" --now "$now"
grep -q "^hint: accept the licence at $HUB_URL/test-org/gated with your own account, then set HF_TOKEN.*never accepts a licence on your behalf" \
  <<<"$LAST_OUT" && pass "the gated hint: the licence on the hub with the user's own account, then HF_TOKEN" ||
  fail "gated hint: $LAST_OUT"
grep -q "hf_test_token" <<<"$LAST_OUT" && fail "an error shows a token: $LAST_OUT" ||
  pass "no token in the error"
[[ $(curl -s -o /dev/null -w '%{http_code}' \
  "$HUB_URL/test-org/gated.git/info/refs?service=git-upload-pack") == 401 ]] &&
  pass "the gated repository's git endpoint answers 401 without the token" || fail "git not gated"
expect_ok "the gated repository imports with HF_TOKEN" \
  add_with_token "$T/pub-pin" "$T/dl-gated" "test-org/gated@${commit[gated]}"
grep -q "^204 POST $HUB_URL/test-org/gated/git-upload-pack range= auth=yes" "$HUB_REQUESTS" &&
  pass "the token went to the hub's git endpoint" || fail "git auth: $(grep gated "$HUB_REQUESTS")"

# --- the hub's refusals, each told apart ---------------------------------------------------------
hub_refuses() { # hub_refuses NAME EXIT PATTERN REPO@REV [ENV...]
  expect_fail "$1" "$2" "$3" env -u HF_TOKEN "${@:5}" "$W" release add "$T/dl-refused" \
    --from-hf "$4" --endpoint "$HUB_URL" --feed "$T/pub-pin" --now "$now"
}
hub_refuses "a missing repository (401 RepoNotFound) is not found, not gated" 66 \
  "missing-org/none@main .*repository missing-org/none not found: it does not exist, or it is private and this request carried no token \(HTTP 401, RepoNotFound\)" \
  missing-org/none@main
grep -qi "gated" <<<"$LAST_OUT" && fail "a missing repository is called gated: $LAST_OUT" ||
  pass "a missing repository is not called gated"
hub_refuses "a missing repository with a token says the token's account cannot see it" 66 \
  "repository missing-org/none not found: .*the account of HF_TOKEN cannot see it" \
  missing-org/none@main HF_TOKEN=hf_other_token
grep -q "hf_other_token" <<<"$LAST_OUT" && fail "an error shows the token: $LAST_OUT" ||
  pass "the token is not in the error"
rc=0
"$W" --json release add "$T/dl-refused" --from-hf missing-org/none@main --endpoint "$HUB_URL" \
  --feed "$T/pub-pin" --now "$now" >"$T/missing.json" 2>/dev/null || rc=$?
[[ $rc == 66 ]] && jq -e '.error.code == "not_found" and (.error.hint | test("check ORG/NAME"))' \
  "$T/missing.json" >/dev/null && pass "--json: a missing repository is error code not_found" ||
  fail "missing repository as JSON (exit $rc): $(cat "$T/missing.json")"
hub_refuses "an unknown revision (404 RevisionNotFound) is named" 66 \
  "test-org/tiny has no revision 'no-such-branch' \(branch, tag or commit\) \(HTTP 404, RevisionNotFound\)" \
  test-org/tiny@no-such-branch
hub_refuses "410 from the hub: gone" 66 "HTTP 410: gone: the hub no longer serves it" \
  test-org/taken-down@main
grep -q "^hint: .*peers that hold it.*mirror" <<<"$LAST_OUT" && pass "410: the hint names peers and mirrors" ||
  fail "410 hint: $LAST_OUT"
hub_refuses "451 from the hub: legally barred" 69 "HTTP 451: the hub is legally barred" \
  test-org/barred@main
grep -q "^hint: waiting will not change that: .*peers that hold it.*HF_ENDPOINT" <<<"$LAST_OUT" &&
  pass "451: the hint names peers and mirrors" || fail "451 hint: $LAST_OUT"
grep -q "try again later" <<<"$LAST_OUT" && fail "451 suggests waiting: $LAST_OUT" ||
  pass "451 does not suggest waiting"
[[ -z $(find "$T/dl-refused" -type f 2>/dev/null) ]] && pass "a refused import downloads nothing" ||
  fail "files downloaded: $(find "$T/dl-refused" -type f)"

# --- a lying hub: refused naming the file, nothing staged or published -------------------------
expect_ok "feed init (tamper)" "$W" feed init "$T/pub-t" --now "$now"
refused() { # refused NAME EXIT PATTERN
  expect_fail "$1" "$2" "$3" add "$T/pub-t" "$T/dl-$1" "test-org/$1@main"
  if staged "$T/pub-t" | grep -q . || grep -rqs "test-org/$1" "$T/pub-t/public"; then
    fail "$1: something was staged or published: $(staged "$T/pub-t")"
  else
    pass "$1: nothing staged or published"
  fi
}
refused extra 75 "refused before downloading: extra/notes.txt: listed by the hub's API but not a file of commit ${commit[extra]:0:12}"
[[ ! -e $T/dl-extra/extra/notes.txt ]] && pass "the extra file was never downloaded" ||
  fail "extra file downloaded"
refused lfs 75 "refused before signing \(file removed\): $shard: SHA-256 [0-9a-f]{64} differs from [0-9a-f]{64} pinned by commit"
[[ ! -e $T/dl-lfs/$shard ]] && pass "the tampered LFS download was removed" || fail "kept $shard"
refused pointer 75 "refused before downloading: $shard: the hub's API lists LFS oid [0-9a-f]{64}, the pointer in commit ${commit[pointer]:0:12} pins SHA-256"
refused small 75 "refused before signing \(file removed\): config.json: SHA-256 [0-9a-f]{64} differs from"

# --- the git endpoint dead: the import fails, no fallback to the API's listing -----------------
refused git404 69 "test-org/git404@${commit[git404]:0:12}: git fetch from $HUB_URL/test-org/git404 failed: .*not found"
grep -q "never from its API alone" <<<"$LAST_OUT" &&
  pass "the dead-git error says the API listing is no fallback" || fail "hint: $LAST_OUT"
refused git500 69 "test-org/git500@${commit[git500]:0:12}: git fetch from $HUB_URL/test-org/git500 failed: .*500"
[[ -z $(find "$T/dl-git404" "$T/dl-git500" -type f 2>/dev/null) ]] && pass "with git dead, nothing was downloaded" || fail "files downloaded without a pin"

# --- signed CDN URLs that expire or are cut: re-resolved, resumed with Range -------------------
expect_ok "feed init (expiring)" "$W" feed init "$T/pub-x" --now "$now"
expect_ok "release add with expiring, single-use CDN URLs and a cut transfer" \
  add "$T/pub-x" "$T/dl-x" test-org/expiring@main
cmp -s "$src/$shard" "$T/dl-x/$shard" && pass "the resumed LFS file is complete" ||
  fail "$shard differs after the resume"
cdn_lines=$(grep " $HUB_CDN_URL/cdn/test-org/expiring/$oid?" "$HUB_REQUESTS" || true)
python3 - "$size" 3<<<"$cdn_lines" <<'PY' &&
import re, sys
size = int(sys.argv[1])
lines = [l.split() for l in open(3).read().splitlines()]
status = [l[0] for l in lines]
assert status == ["403", "200-cut", "200"], status
sigs = [re.search(r"Signature=(\w+)", l[2]).group(1) for l in lines]
assert len(set(sigs)) == 3, sigs
assert lines[2][3] == f"range=bytes={size // 2}-", lines[2]
PY
  pass "expired URL refused (403), cut transfer resumed with Range on a fresh URL, no URL used twice" ||
  fail "CDN requests for $shard: $cdn_lines"
resolves=$(grep -c " GET $HUB_URL/test-org/expiring/resolve/${commit[expiring]}/$shard " "$HUB_REQUESTS")
[[ $resolves == 3 ]] && pass "each CDN attempt started with a fresh resolve at the hub" ||
  fail "$resolves resolve requests for $shard"

finish
