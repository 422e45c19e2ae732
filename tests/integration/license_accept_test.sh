#!/usr/bin/env bash
# Licences and gating of releases from the upstream, on the hub double: a commit whose model card
# says `license: llama3.1` with an `extra_gated_prompt` is refused before any file is downloaded
# (exit 76, the message naming the licence, its URL and the files in the release) until the user
# accepts; the acceptance is recorded by the node for the repository and licence, so another
# commit of that repository under that licence is not asked again, also after a restart; an
# apache-2.0 card needs nothing; a catalog entry with `gated = true` refuses the request itself
# (nothing is asked of the hub) until accepted. HF_TOKEN goes to the hub only, never to its CDN.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq
# weightsctl asks on a terminal: every command here reads no terminal but the one `script` makes.
exec </dev/null
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py
hub=$T/hub
token=hf_license_test_token

# make_src DIR CARD : make-weights.sh files plus README.md with CARD as its front matter.
make_src() {
  bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$1" 1
  printf -- '---\n%s\n---\n# A test model\n' "$2" >"$1/README.md"
}
make_src "$T/llama" $'license: llama3.1\nlicense_link: https://llama.example.invalid/LICENSE\nextra_gated_prompt: "You agree to the Llama 3.1 Community License"\nextra_gated_fields:\n  Name: text'
echo "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT" >"$T/llama/LICENSE"
echo "Llama 3.1 Acceptable Use Policy" >"$T/llama/USE_POLICY.md"
make_src "$T/apache" 'license: apache-2.0'
make_src "$T/gated" 'license: apache-2.0'
llama1=$(python3 "$double" build "$hub" test-org/llama "$T/llama")
apache=$(python3 "$double" build "$hub" test-org/apache "$T/apache" --license apache-2.0)
gated=$(python3 "$double" build "$hub" test-org/gated "$T/gated" --gated "$token")
start_hub_double "$hub"

mkdir -p "$T/catalog"
cat >"$T/catalog/gated.toml" <<TOML
schema = 1
family = "gated-test"
default = "base"

[[model]]
id = "test-org/gated"
variant = "base"
upstream = "huggingface"
repo = "test-org/gated"
commit = "$gated"
license = "apache-2.0"
license_url = "https://www.apache.org/licenses/LICENSE-2.0"
gated = true

[[model.source]]
url = "https://example.invalid/pins.md"
confidence = "high"
TOML
printf '[upstream]\nendpoint = "%s"\n[catalog]\ndirs = ["%s"]\n' "$HUB_URL" "$T/catalog" >"$T/d1.toml"
HF_TOKEN=$token start_daemon 1 --config "$T/d1.toml"

resolves() { grep -c "resolve/$1" "$HUB_REQUESTS" || true; }

# --- a gated model card: refused after the pin, before any file -----------------------------------
id=test-org/llama@$llama1
expect_fail "llama3.1 without acceptance: exit 76" 76 'licence llama3\.1' ctl 1 fetch "$id"
for want in 'https://llama\.example\.invalid/LICENSE' 'LICENSE, USE_POLICY\.md' 'gated' \
  '--accept-license'; do
  grep -qE -- "$want" <<<"$LAST_OUT" && pass "the refusal shows $want" ||
    fail "the refusal lacks $want: $LAST_OUT"
done
[[ $(resolves "$llama1") == 0 ]] && pass "no file of the refused release was requested" ||
  fail "files requested: $(grep "resolve/$llama1" "$HUB_REQUESTS")"
wait_until "the refused release's staging to be gone" 10 \
  bash -c "[[ ! -e '$T/d1/state/upstream/$llama1' ]]" && pass "nothing staged" || fail "staged"
show=$(ctl 1 --json show "$id")
[[ $(jq -r '.state + " " + .error.code' <<<"$show") == "failed license_not_accepted" ]] &&
  pass "show: failed, license_not_accepted" || fail "show: $show"
[[ $(jq -r '.upstream.license | "\(.id) \(.source) \(.gated) \(.needs_acceptance) \(.accepted_at)"' \
  <<<"$show") == "llama3.1 model_card true true null" ]] &&
  pass "show: the model card's terms, not accepted" || fail "licence: $show"
expect_fail "--json: exit 76 too" 76 'license_not_accepted|llama3\.1' ctl 1 --json fetch "$id"

# --- accepted: recorded, fetched -------------------------------------------------------------------
expect_ok "llama3.1 with --accept-license" ctl 1 --json fetch "$id" --accept-license
show=$(ctl 1 --json show "$id")
[[ $(jq -r .state <<<"$show") == complete ]] && pass "complete once accepted" || fail "$show"
accepted=$(jq -r .upstream.license.accepted_at <<<"$show")
[[ $accepted =~ ^20[0-9][0-9]- ]] && pass "show says when it was accepted ($accepted)" ||
  fail "accepted_at: $show"
expect_ok "show (human)" ctl 1 show "$id"
grep -q "licence accepted $accepted" <<<"$LAST_OUT" && pass "show (human) says when" ||
  fail "show: $LAST_OUT"
grep -q "accepted licence llama3.1 for test-org/llama" "$T/d1/log" &&
  pass "the log records the acceptance" || fail "log: $(tail -n 20 "$T/d1/log")"

# --- another commit of the same repository and licence: not asked again ------------------------
echo '{"note": "second commit"}' >"$T/llama/extra.json"
llama2=$(python3 "$double" build "$hub" test-org/llama "$T/llama")
expect_ok "a second commit of test-org/llama needs no new acceptance" \
  ctl 1 --json fetch "test-org/llama@$llama2"
[[ $(jq -r '.state + " " + .upstream.license.accepted_at' <<<"$LAST_OUT") == \
  "complete $accepted" ]] && pass "the first acceptance admitted it" || fail "$LAST_OUT"

# --- a permissive card: nothing to accept -----------------------------------------------------------
expect_ok "apache-2.0 needs no acceptance" ctl 1 --json fetch "test-org/apache@$apache"
[[ $(jq -r '.state + " " + (.upstream.license | "\(.id) \(.needs_acceptance) \(.accepted_at)")' \
  <<<"$LAST_OUT") == "complete apache-2.0 false null" ]] && pass "apache-2.0: complete, no acceptance" ||
  fail "$LAST_OUT"

# --- a catalog entry with gated = true: the request itself is refused -----------------------------
expect_fail "gated catalog entry without acceptance: exit 76" 76 \
  'gated-test: licence apache-2\.0.*gated upstream.*gated\.toml' ctl 1 fetch gated-test
grep -q "test-org/gated" "$HUB_REQUESTS" && fail "the hub was asked: $(grep test-org/gated "$HUB_REQUESTS")" ||
  pass "nothing was asked of the hub for it"
expect_ok "gated-test with --accept-license" ctl 1 --json fetch gated-test --accept-license
[[ $(jq -r '.state + " " + .upstream.license.source' <<<"$LAST_OUT") == "complete catalog" ]] &&
  pass "the gated release is complete" || fail "$LAST_OUT"
hub_lines=$(grep -F " $HUB_URL/" "$HUB_REQUESTS" | grep -F "test-org/gated" || true)
cdn_lines=$(grep -F " $HUB_CDN_URL/" "$HUB_REQUESTS" | grep -F "test-org/gated" || true)
[[ -n $hub_lines && -z $(grep 'auth=no' <<<"$hub_lines") ]] &&
  pass "HF_TOKEN went with every request to the hub" || fail "hub: $hub_lines"
[[ -n $cdn_lines && -z $(grep 'auth=yes' <<<"$cdn_lines") ]] &&
  pass "HF_TOKEN never went to the CDN" || fail "cdn: $cdn_lines"
grep -qE 'POST|PUT|DELETE' <(grep -F " $HUB_URL/api/" "$HUB_REQUESTS") &&
  fail "the node wrote to the hub's API" || pass "the node only read from the hub's API"

# --- on a terminal: the prompt (util-linux `script` gives weightsctl a pseudo-terminal) ----------
if command -v script >/dev/null; then
  make_src "$T/gemma" 'license: gemma'
  gemma=$(python3 "$double" build "$hub" test-org/gemma "$T/gemma")
  prompt() { # ANSWER : fetch test-org/gemma on a terminal, answering ANSWER
    printf '%s\n' "$1" | script -qec "'$W' --socket '$T/d1/ctl.sock' fetch test-org/gemma@$gemma" \
      /dev/null 2>&1
  }
  rc=0
  out=$(prompt n) || rc=$?
  [[ $rc == 76 ]] && grep -q 'Accept this licence' <<<"$out" &&
    pass "the prompt answered n: exit 76" || fail "prompt n: exit $rc: $out"
  rc=0
  out=$(prompt y) || rc=$?
  [[ $rc == 0 ]] && pass "the prompt answered y: fetched" || fail "prompt y: exit $rc: $out"
  [[ $(ctl 1 --json show "test-org/gemma@$gemma" | jq -r '.state + " " + .upstream.license.id') == \
    "complete gemma" ]] && pass "accepted at the prompt, recorded and complete" ||
    fail "gemma: $(ctl 1 --json show "test-org/gemma@$gemma")"
else
  echo "note: no script(1): the prompt is not exercised"
fi

# --- after a restart the acceptance still holds ------------------------------------------------------
kill_daemon 1 TERM
HF_TOKEN=$token start_daemon 1 --config "$T/d1.toml"
echo '{"note": "third commit"}' >"$T/llama/extra.json"
llama3=$(python3 "$double" build "$hub" test-org/llama "$T/llama")
expect_ok "after a restart, a third commit needs no new acceptance" \
  ctl 1 --json fetch "test-org/llama@$llama3"
[[ $(jq -r '.state + " " + .upstream.license.accepted_at' <<<"$LAST_OUT") == \
  "complete $accepted" ]] && pass "the acceptance survived the restart" || fail "$LAST_OUT"

finish
