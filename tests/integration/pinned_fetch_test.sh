#!/usr/bin/env bash
# `weightsctl fetch ORG/NAME@<commit>` on a fresh node with an empty config and no feed: the
# daemon pins the commit's tree from the hub double's git repository (real git smart HTTP through
# git http-backend), downloads every file from the hub's resolve URLs (expiring CDN redirects),
# checks each against the pin, builds the pinned torrent and seeds it. Every file of the view and
# of the Hugging Face cache is checked against the commit's git objects; a second node that
# imports the same commit on its own gets the same v2 info-hash; each way the double can lie is
# refused naming the file, with nothing complete and the staging directory gone; `fetch
# ORG/NAME` pins the branch the hub names and says it trusted the hub for that step.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py

src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 1
mkdir -p "$src/sub" && echo '{"note": "nested"}' >"$src/sub/extra.json"
# A permissive model card: nothing to accept (license_accept_test.sh covers the rest).
printf -- '---\nlicense: mit\n---\n# Test model\n' >"$src/README.md"
hub=$T/hub
declare -A commit
build() { # build NAME [--tamper MODE]
  commit[$1]=$(python3 "$double" build "$hub" "test-org/$1" "$src" --page-size 3 "${@:2}")
}
build tiny
build lfs --tamper lfs-bytes
build pointer --tamper pointer
build small --tamper small-file
build git404 --tamper git-404
build expiring --tamper expiring
build branchy
build aliased
start_hub_double "$hub"

# check_tree DIR NAME : DIR holds exactly the files of test-org/NAME's commit, each with the
# content the commit's git objects name (a small file's blob, an LFS pointer's SHA-256 and size).
check_tree() {
  python3 "$WEIGHTS_SOURCE_DIR/tests/lib/check_commit_tree.py" "$1" "$hub/git/test-org/$2.git" "${commit[$2]}"
}

# --- a fresh node, empty config, no feed: fetch by commit -----------------------------------------
HF_ENDPOINT=$HUB_URL start_daemon 1
id=test-org/tiny@${commit[tiny]}
expect_ok "fetch $id with no feed" ctl 1 --json fetch "$id" --hf-cache "$T/hf"
show=$(ctl 1 --json show "$id")
[[ $(jq -r .state <<<"$show") == complete ]] && pass "the release is complete" ||
  fail "state: $show"
[[ $(jq -r '.origin + " " + .feed' <<<"$show") == "upstream upstream:huggingface" ]] &&
  pass "show says it came from the upstream" || fail "origin/feed: $show"
[[ $(jq -r '.upstream | .pinned_by + " " + .commit + " " + .repo' <<<"$show") == \
  "commit ${commit[tiny]} test-org/tiny" ]] && pass "show says it was pinned by commit" ||
  fail "upstream: $show"
[[ $(jq -r .seeding <<<"$show") == true ]] && pass "the node seeds it" || fail "seeding: $show"
check_tree "$(jq -r .path <<<"$show")" tiny && pass "every file of the view matches the commit" ||
  fail "view"
snap=$T/hf/models--test-org--tiny/snapshots/${commit[tiny]}
check_tree "$snap" tiny && pass "every file of the Hugging Face snapshot matches the commit" ||
  fail "hf cache"
grep -q "POST /test-org/tiny/git-upload-pack" "$NGINX_LOG" &&
  pass "the daemon fetched the commit over git smart HTTP" || fail "no git request"
grep -q "pinned by the commit's git objects" "$T/d1/log" && pass "the log says how it was pinned" ||
  fail "log: $(tail -n 20 "$T/d1/log")"
[[ -z $(ls -A "$T/d1/state/upstream" 2>/dev/null) ]] && pass "nothing stays in upstream staging" ||
  fail "staging left: $(ls -R "$T/d1/state/upstream")"
v2=$(jq -r .v2_infohash <<<"$show")
expect_ok "pin-torrent of the view" "$W" --json release pin-torrent "$(jq -r .path <<<"$show")" \
  -o "$T/check.torrent" --repo test-org/tiny --commit "${commit[tiny]}"
[[ $(jq -r .v2_infohash <<<"$LAST_OUT") == "$v2" ]] &&
  pass "the node's torrent is the pinned-torrent rule's" || fail "pin-torrent: $LAST_OUT vs $v2"

# The commit's git object bundle, kept for the pin exchange (docs/pinned-releases.md §4b): the
# header, then records whose SHA-1s include the commit's id.
python3 - "$T/d1/state/torrents/$v2.git-objects" "${commit[tiny]}" <<'PY' &&
import hashlib, sys
data = open(sys.argv[1], "rb").read()
header = b"weightsd-git-objects 1\n"
assert data.startswith(header), data[:40]
ids, pos = set(), len(header)
while pos < len(data):
    nul = data.index(b"\0", pos)
    size = int(data[pos:nul].split(b" ")[1])
    ids.add(hashlib.sha1(data[pos:nul + 1 + size]).hexdigest())
    pos = nul + 1 + size
assert sys.argv[2] in ids, "no commit object"
PY
  pass "the commit's git object bundle is kept with the torrents" || fail "git objects bundle"

grep -rqF --include='*.torrent' "$HUB_URL/test-org/tiny/resolve/" "$T/d1/state" &&
  pass "the torrent carries the hub's resolve base as web seed (BEP 19)" || fail "no web seed"

# --- a second node, endpoint from its config, imports the same commit on its own -------------------
# A test catalog: one good family file naming test-org/aliased, one broken file.
mkdir -p "$T/catalog"
cat >"$T/catalog/aliased.toml" <<TOML
schema = 1
family = "aliased-test"
default = "base"

[[model]]
id = "test-org/aliased"
variant = "base"
upstream = "huggingface"
repo = "test-org/aliased"
commit = "${commit[aliased]}"
license = "mit"
gated = false

[[model.source]]
url = "https://example.invalid/pins.md"
confidence = "high"
TOML
printf 'schema = 1\nfamily = "broken\n' >"$T/catalog/broken.toml"
printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$HUB_URL" "$T/catalog" >"$T/d2.toml"
start_daemon 2 --config "$T/d2.toml"
expect_ok "second node fetches $id" ctl 2 --json fetch "$id"
[[ $(ctl 2 --json show "$id" | jq -r .v2_infohash) == "$v2" ]] &&
  pass "two nodes importing the same commit share one v2 info-hash" ||
  fail "v2: $(ctl 2 --json show "$id")"

# --- by alias, through the catalog ----------------------------------------------------------------
grep -q "catalog: .*broken.toml" "$T/d2/log" && pass "a broken catalog file is logged, the daemon runs" ||
  fail "no catalog problem logged: $(head -n 20 "$T/d2/log")"
expect_ok "fetch aliased-test (catalog alias)" ctl 2 --json fetch aliased-test
got=$(ctl 2 --json show "test-org/aliased@${commit[aliased]}")
[[ $(jq -r '.state + " " + .upstream.pinned_by + " " + .upstream.alias' <<<"$got") == \
  "complete catalog aliased-test" ]] && pass "the alias fetched the catalog's commit" ||
  fail "alias: $got"
check_tree "$(jq -r .path <<<"$got")" aliased && pass "every file of the aliased release matches" ||
  fail "aliased view"
expect_fail "an unknown alias" 66 'weightsctl catalog search' ctl 2 fetch no-such-model

# --- restart: the release is back, complete and seeding, without downloading again ---------------
before=$(grep -c "resolve/${commit[tiny]}" "$HUB_REQUESTS" || true)
kill_daemon 1 TERM
HF_ENDPOINT=$HUB_URL start_daemon 1
wait_until "the release to be complete after a restart" 30 \
  bash -c "[[ \$('$W' --socket '$T/d1/ctl.sock' --json show '$id' | jq -r .state) == complete ]]" ||
  { fail "after a restart: $(ctl 1 --json show "$id")"; show_logs; }
[[ $(grep -c "resolve/${commit[tiny]}" "$HUB_REQUESTS" || true) == "$before" ]] &&
  pass "a restart resumes from the store, not from the hub" || fail "downloaded again"

# --- expiring CDN URLs and cut transfers: resumed on fresh URLs ---------------------------------
expect_ok "fetch through expiring CDN URLs" ctl 1 --json fetch "test-org/expiring@${commit[expiring]}"
[[ $(jq -r .state <<<"$LAST_OUT") == complete ]] && pass "expiring: complete" || fail "$LAST_OUT"

# --- a dishonest hub: refused naming the file, nothing complete, staging cleaned ------------------
for m in lfs pointer small; do
  out=$(ctl 1 --json fetch "test-org/$m@${commit[$m]}" 2>&1) || true
  state=$(ctl 1 --json show "test-org/$m@${commit[$m]}" | jq -r .state)
  msg=$(ctl 1 --json show "test-org/$m@${commit[$m]}" | jq -r .error.message)
  [[ $state == failed ]] && pass "$m: the release failed" || fail "$m: state $state: $out"
  grep -qE '\.(safetensors|json)' <<<"$msg" && pass "$m: the error names the file ($msg)" ||
    fail "$m: error does not name a file: $msg"
  [[ ! -d $T/d1/state/views/test-org/$m ]] && pass "$m: no view" || fail "$m: a view exists"
  wait_until "$m: staging removed" 10 bash -c "[[ ! -e '$T/d1/state/upstream/${commit[$m]}' ]]" &&
    pass "$m: the staging directory is gone" || fail "$m: staging left"
done
out=$(ctl 1 --json fetch "test-org/git404@${commit[git404]}" 2>&1) || true
[[ $(ctl 1 --json show "test-org/git404@${commit[git404]}" | jq -r .state) == failed ]] &&
  pass "git-404: no git repository, no release (the API is never trusted instead)" ||
  fail "git404: $out"

# --- bad input ------------------------------------------------------------------------------------
expect_fail "a short commit id" 64 '40 hex' ctl 1 fetch "test-org/tiny@${commit[tiny]:0:12}"

# --- by branch: the hub names the commit, and says so --------------------------------------------
expect_ok "fetch test-org/branchy (no commit)" ctl 2 --json fetch test-org/branchy
got=$(ctl 2 --json show "test-org/branchy@${commit[branchy]}")
[[ $(jq -r '.state + " " + .upstream.pinned_by + " " + .upstream.branch' <<<"$got") == \
  "complete branch main" ]] && pass "a branch fetch pins the commit the hub named" ||
  fail "branch: $got"
grep -q "branch main is commit ${commit[branchy]}: the hub said so, and this one step trusted it" \
  "$T/d2/log" && pass "the log says the hub was trusted for the branch" ||
  fail "log: $(tail -n 20 "$T/d2/log")"
expect_ok "fetch test-org/branchy again (human output)" ctl 2 fetch test-org/branchy
grep -q "branch main was commit ${commit[branchy]}: the hub said so, and this one step trusted it" \
  <<<"$LAST_OUT" && pass "fetch says the hub was trusted for the branch" || fail "output: $LAST_OUT"
expect_ok "fetch $id again (human output)" ctl 1 fetch "$id"
grep -q "every file checked against commit ${commit[tiny]}" <<<"$LAST_OUT" &&
  pass "fetch says every file was checked against the commit" || fail "output: $LAST_OUT"

finish
