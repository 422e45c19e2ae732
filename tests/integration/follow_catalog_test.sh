#!/usr/bin/env bash
# `weightsctl follow catalog`: a seed node mirrors the model catalog's commit-pinned releases from
# the hub double (tests/lib/hub_double.py: real git smart HTTP and resolve URLs behind nginx). A
# test catalog names three repositories of the double; `catalog pin --all --write` records every
# file's size (what --max-size needs). `follow catalog --max-size 4MiB` fetches and seeds the
# small one (every file checked against its commit), lists the large one as skipped for its
# size without a byte of it requested, and lists the one under a licence that needs accepting as
# refused until a follow with --accept-license takes it (the acceptance then recorded). The feed
# name "catalog" is reserved, and catalog follows survive a restart.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN
export HF_HUB_CACHE=$T/hf-cache # never the user's cache

# small: two 1 MiB shards (~2 MiB); big: two 4 MiB shards (~8 MiB); gated: small's files under a
# licence that needs accepting.
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/src-small" 1 small
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/src-big" 4 big
hub=$T/hub
declare -A commit
commit[small]=$(python3 "$double" build "$hub" test-org/small "$T/src-small" --license mit)
commit[big]=$(python3 "$double" build "$hub" test-org/big "$T/src-big" --license mit)
commit[gated]=$(python3 "$double" build "$hub" test-org/gated "$T/src-small" --license llama3.1)
start_hub_double "$hub"

mkdir -p "$T/catalog"
{
  printf 'schema = 1\nfamily = "followtest"\ndefault = "small"\n'
  for name in small big gated; do
    license=mit gated=false
    [[ $name != gated ]] || license=llama3.1 gated=true
    printf '\n[[model]]\nid = "test-org/%s"\nvariant = "%s"\nupstream = "huggingface"\n' "$name" "$name"
    printf 'repo = "test-org/%s"\ncommit = "%s"\nlicense = "%s"\ngated = %s\n' \
      "$name" "${commit[$name]}" "$license" "$gated"
    printf '\n[[model.source]]\nurl = "https://example.invalid/pins.md"\nconfidence = "high"\n'
  done
} >"$T/catalog/followtest.toml"
expect_ok "catalog pin --all --write records every file's size" \
  "$W" catalog --catalog-dir "$T/catalog" pin --all --write --endpoint "$HUB_URL"
[[ $(grep -c '^files_complete = true' "$T/catalog/followtest.toml") == 3 ]] &&
  pass "every entry lists its complete file list" || fail "$(cat "$T/catalog/followtest.toml")"

printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$HUB_URL" "$T/catalog" >"$T/d1.toml"
start_daemon 1 --config "$T/d1.toml"

# --- the name "catalog" means the catalog, never a feed -------------------------------------------
mkdir -p "$T/nofeed" && echo '{}' >"$T/nofeed/root.json"
expect_fail "a feed cannot be named catalog" 64 'reserved' ctl 1 feed add catalog "$T/nofeed" \
  --root "$T/nofeed/root.json"
expect_fail "--accept-license is for the catalog only" 64 'accept-license' \
  ctl 1 follow somefeed --accept-license

# --- follow catalog --max-size 4MiB -----------------------------------------------------------
id() { echo "test-org/$1@${commit[$1]}"; }
expect_ok "follow catalog --max-size 4MiB" ctl 1 --json follow catalog --max-size 4MiB
[[ $(jq -r '.source + " " + .feed + " " + (.max_size | tostring)' <<<"$LAST_OUT") == \
  "catalog catalog 4194304" ]] && pass "the follow is the catalog's" || fail "follow: $LAST_OUT"

state_of() { ctl 1 --json show "$1" 2>/dev/null | jq -r '.state + " " + (.seeding | tostring)'; }
wait_until "the small release to be complete and seeding" 120 \
  bash -c "[[ \$('$W' --socket '$T/d1/ctl.sock' --json show '$(id small)' 2>/dev/null |
             jq -r '.state + \" \" + (.seeding | tostring)') == 'complete true' ]]" &&
  pass "the small entry is mirrored and seeded" ||
  { fail "small: $(state_of "$(id small)")"; show_logs; }
show=$(ctl 1 --json show "$(id small)")
[[ $(jq -r '.upstream.pinned_by + " " + .upstream.commit' <<<"$show") == \
  "catalog ${commit[small]}" ]] && pass "fetched as the catalog entry names it" ||
  fail "upstream: $show"
python3 "$WEIGHTS_SOURCE_DIR/tests/lib/check_commit_tree.py" "$(jq -r .path <<<"$show")" \
  "$hub/git/test-org/small.git" "${commit[small]}" &&
  pass "every file of the mirrored release matches the commit" || fail "view"

follows=$(ctl 1 --json follows)
f='.follows[0]'
jq -e --arg id "$(id small)" "$f.mirroring | index(\$id) != null" <<<"$follows" >/dev/null &&
  pass "follows lists the small one as mirrored" || fail "mirroring: $follows"
jq -e --arg id "$(id big)" "$f.skipped[] | select(.id == \$id) | .reason |
  test(\"larger than follow [0-9]+'s max size\")" <<<"$follows" >/dev/null &&
  pass "the big one is skipped for its size, with the reason" || fail "skipped: $follows"
jq -e --arg id "$(id gated)" "$f.refused[] | select(.id == \$id) | .reason |
  test(\"licence llama3.1 not accepted\")" <<<"$follows" >/dev/null &&
  pass "the gated one is refused: its licence was not accepted" || fail "refused: $follows"
ctl 1 follows | grep -q "skipped $(id big): .*max size" &&
  pass "weightsctl follows shows the skip" || fail "$(ctl 1 follows)"
! grep -q "resolve/${commit[big]}" "$HUB_REQUESTS" &&
  pass "no byte of the big release was requested" || fail "the big release was downloaded"
! grep -q "resolve/${commit[gated]}" "$HUB_REQUESTS" &&
  pass "no byte of the refused release was requested" || fail "the gated release was downloaded"
[[ $(ctl 1 --json show "$(id gated)" 2>/dev/null | jq -r .state) != complete ]] &&
  pass "the refused release is not here" || fail "gated release present"

# --- a follow with --accept-license takes the gated one and records the acceptance -------------
expect_ok "follow catalog --alias followtest:gated --accept-license" \
  ctl 1 --json follow catalog --alias 'followtest:g*' --accept-license
[[ $(jq -r .accept_license <<<"$LAST_OUT") == true ]] && pass "the follow accepts licences" ||
  fail "accept_license: $LAST_OUT"
wait_until "the gated release to be complete" 120 \
  bash -c "[[ \$('$W' --socket '$T/d1/ctl.sock' --json show '$(id gated)' 2>/dev/null |
             jq -r .state) == complete ]]" &&
  pass "the gated entry is mirrored once a follow accepts its licence" ||
  { fail "gated: $(state_of "$(id gated)")"; show_logs; }
[[ $(ctl 1 --json show "$(id gated)" | jq -r '.upstream.license.accepted_at != null') == true ]] &&
  pass "the acceptance is recorded on the release" ||
  fail "licence: $(ctl 1 --json show "$(id gated)" | jq -c .upstream.license)"

# --- restart: the follows are kept, nothing is fetched again ------------------------------------
before=$(grep -c "resolve/" "$HUB_REQUESTS" || true)
kill_daemon 1 TERM
start_daemon 1 --config "$T/d1.toml"
follows=$(ctl 1 --json follows)
[[ $(jq -r '[.follows[] | .source + ":" + (.accept_license | tostring)] | join(" ")' \
  <<<"$follows") == "catalog:false catalog:true" ]] && pass "catalog follows survive a restart" ||
  fail "after restart: $follows"
wait_until "both releases to be complete after the restart" 60 \
  bash -c "for i in '$(id small)' '$(id gated)'; do
             [[ \$('$W' --socket '$T/d1/ctl.sock' --json show \"\$i\" | jq -r .state) == complete ]] || exit 1
           done" && pass "both releases are back" || fail "after restart"
[[ $(grep -c "resolve/" "$HUB_REQUESTS" || true) == "$before" ]] &&
  pass "nothing was downloaded again" || fail "downloaded again after the restart"

expect_ok "unfollow" ctl 1 unfollow 1
finish
