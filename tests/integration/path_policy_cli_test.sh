#!/usr/bin/env bash
# `weightsctl feed verify --path-policy portable` (docs/manifest-format.md §7.2): a feed whose
# release names a file Windows cannot create, or a file name not in NFC, verifies under the
# standard policy and is refused (exit 65, naming the path and the rule) under the portable one,
# leaving the client state as it was. The daemon's `[trust] path_policy = "portable"` refuses the
# same feed at its first refresh; a daemon with the default policy trusts it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

now=2026-06-01T00:00:00Z

# make_feed DIR FILE... : a feed with one release made of the given (empty-ish) files.
make_feed() {
  local pub=$1 w=$1.src
  shift
  mkdir -p "$w"
  local f
  for f in "$@"; do printf 'content of %s\n' "$f" >"$w/$f"; done
  "$W" feed init "$pub" --now "$now" >/dev/null
  "$W" release add "$w" --feed "$pub" --model test-org/names --revision r1 --license mit \
    --now "$now" >/dev/null
  "$W" feed publish "$pub" --now "$now" >/dev/null
}

trusted_releases() { # STATE
  sqlite3 "$1/state.sqlite" "SELECT count(*) FROM trusted_targets" 2>/dev/null || echo 0
}

# 1. A Windows-reserved device name.
make_feed "$T/win" config.json nul.txt
root=$T/win/public/metadata/1.root.json
expect_fail "portable: a reserved device name is refused" 65 \
  'nul\.txt.*Windows-reserved device name' \
  "$W" feed verify --root "$root" --state "$T/s1" --now "$now" --path-policy portable \
  "$T/win/public"
[[ $(trusted_releases "$T/s1") == 0 ]] && pass "the refusal trusted nothing" ||
  fail "targets trusted after a refusal"
expect_ok "standard: the same feed verifies" "$W" feed verify --root "$root" --state "$T/s2" \
  --now "$now" "$T/win/public"
expect_ok "standard is the default and can be named" "$W" feed verify --state "$T/s2" \
  --now "$now" --path-policy standard "$T/win/public"

# 2. A decomposed name: "cafe" + U+0301 COMBINING ACUTE ACCENT (NFC is "caf" + U+00E9).
make_feed "$T/nfd" config.json $'cafe\xcc\x81.txt'
root=$T/nfd/public/metadata/1.root.json
expect_fail "portable: a name not in NFC is refused, naming its NFC form" 65 \
  'not in Unicode Normalization Form C \(NFC is .*caf\\xc3\\xa9\.txt' \
  "$W" feed verify --root "$root" --state "$T/s3" --now "$now" --path-policy portable \
  "$T/nfd/public"
expect_ok "standard: the decomposed name verifies" "$W" feed verify --root "$root" \
  --state "$T/s4" --now "$now" "$T/nfd/public"

# 3. A portable release passes the portable policy.
make_feed "$T/ok" config.json $'caf\xc3\xa9.txt' model.safetensors
expect_ok "portable: NFC names Windows can create verify" "$W" feed verify \
  --root "$T/ok/public/metadata/1.root.json" --state "$T/s5" --now "$now" \
  --path-policy portable "$T/ok/public"

# 4. An unknown policy is a usage error.
expect_fail "an unknown policy is a usage error" 64 "path-policy" \
  "$W" feed verify --state "$T/s5" --now "$now" --path-policy windows "$T/ok/public"

# 5. The daemon's config key (the daemon refreshes at its own clock: a feed published now).
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
make_feed "$T/dwin" config.json nul.txt
root=$T/dwin/public/metadata/1.root.json
printf '[trust]\npath_policy = "portable"\n' >"$T/portable.toml"
start_daemon 1 --config "$T/portable.toml"
start_daemon 2
ctl 1 feed add win "$T/dwin/public" --root "$root" >/dev/null 2>&1 || true
status1=$(ctl 1 --json feed status win)
[[ $(jq -r .result <<<"$status1") == refused &&
  $(jq -r .last_refusal.code <<<"$status1") == path_policy &&
  $(jq -r .last_refusal.message <<<"$status1") == *'nul.txt'*Windows-reserved* ]] &&
  pass "a daemon with path_policy = portable refuses the feed, naming the path and rule" ||
  fail "portable daemon: $status1"
expect_ok "a daemon with the default policy subscribes" ctl 2 feed add win "$T/dwin/public" \
  --root "$root"
status2=$(ctl 2 --json feed status win)
[[ $(jq -r .result <<<"$status2") == updated && $(jq -r .releases <<<"$status2") == 1 ]] &&
  pass "the default daemon trusts the release" || fail "default daemon: $status2"
finish
