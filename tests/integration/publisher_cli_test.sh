#!/usr/bin/env bash
# The publisher and verifier commands end to end: a feed is created, a release added and
# published, and `feed verify` accepts it; each tampered variant of the feed is refused with a
# specific message and exit 75, and leaves the client's trusted state as it was.
source "$(dirname "$0")/lib.sh"

now=2026-06-01T00:00:00Z
later=2026-06-01T06:00:00Z
pub=$T/pub
state=$T/state

# --- keys --------------------------------------------------------------------------------
expect_ok "key generate writes a key" "$W" key generate --out "$T/k1.pem"
mode=$(stat -c %a "$T/k1.pem")
[[ $mode == 600 ]] && pass "private key file has mode 0600" || fail "key mode is $mode"
expect_fail "key generate refuses to overwrite" 73 "refusing to overwrite" "$W" key generate --out "$T/k1.pem"
expect_fail "key show refuses a non-key file" 65 "." "$W" key show "$WEIGHTS_SOURCE_DIR/README.md"

# --- publisher ---------------------------------------------------------------------------
expect_ok "feed init generates keys" "$W" feed init "$pub" --now "$now"
expect_fail "feed init refuses an existing feed" 73 "." "$W" feed init "$pub" --now "$now"
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 2
expect_ok "release add stages a release" "$W" release add "$T/w" --feed "$pub" \
  --model test-org/tiny --revision rev1 --alias tiny --license mit --now "$now"
expect_fail "release add refuses a duplicate model@revision" 73 "already in the feed" \
  "$W" release add "$T/w" --feed "$pub" --model test-org/tiny --revision rev1 --license mit
expect_fail "release add refuses an invalid model id" 64 "invalid model id" \
  "$W" release add "$T/w" --feed "$pub" --model ../evil --revision rev2 --license mit
expect_fail "release add refuses a revision with a slash" 64 "invalid revision" \
  "$W" release add "$T/w" --feed "$pub" --model test-org/tiny --revision a/b --license mit
mkdir -p "$T/badw" && cp "$T/w/config.json" "$T/badw/" && ln -s /etc "$T/badw/etc-link"
expect_fail "release add refuses a link to a directory" 64 "not a regular file" \
  "$W" release add "$T/badw" --feed "$pub" --model test-org/bad --revision r --license mit
expect_ok "feed publish signs the staged release" "$W" feed publish "$pub" --now "$now"

root=$pub/public/metadata/1.root.json
mirror=$T/mirror
cp -r "$pub/public" "$mirror"
cp -r "$pub/public" "$T/p1"
expect_ok "feed verify trusts the fresh feed" "$W" --json feed verify --root "$root" \
  --state "$state" --now "$now" --name m "$mirror"
[[ $(jq -r '.releases[0].model' <<<"$LAST_OUT") == test-org/tiny ]] &&
  pass "verify reports the release" || fail "verify output lacks the release: $LAST_OUT"
[[ $(jq -r '.releases[0].files' <<<"$LAST_OUT") == 6 ]] &&
  pass "verify reports 6 files" || fail "file count wrong: $LAST_OUT"
expect_ok "a second verify is up to date" "$W" --json feed verify --state "$state" --now "$now" \
  --name m "$mirror"
[[ $(jq -r .result <<<"$LAST_OUT") == up_to_date ]] && pass "result is up_to_date" ||
  fail "second verify: $LAST_OUT"

# The trusted state, straight from the database (what a refusal must not change).
trusted_state() {
  sqlite3 "$state/state.sqlite" \
    "SELECT feed, role, version, hex(bytes) FROM trusted_metadata ORDER BY 1, 2;
     SELECT feed, path, sha256, release_seq FROM trusted_targets ORDER BY 1, 2;
     SELECT * FROM model_release_seq ORDER BY 1, 2;" | sha256sum
}

# The publisher makes publication P2 (a second release); the client still trusts P1. Each
# variant serves a tampered P2 from the mirror.
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w2" 2 second-release
expect_ok "release add --publish a second release" "$W" release add "$T/w2" --feed "$pub" \
  --model test-org/tiny --revision rev2 --license mit --publish --now "$later"
cp -r "$pub/public" "$T/p2"
variant() { rm -rf "$mirror" && cp -r "$T/p2" "$mirror"; }
latest() { ls "$mirror/metadata/"*."$1".json | sort -V | tail -n1; }
refused() { # NAME PATTERN [EXIT]: the mirror is refused with EXIT (default 75: verification
  # failed; 65: malformed or oversized data; 66: a file missing) and PATTERN; state unchanged
  local before after
  before=$(trusted_state)
  expect_fail "$1" "${3:-75}" "$2" "$W" feed verify --state "$state" --now "$later" --name m "$mirror"
  after=$(trusted_state)
  [[ $after == "$before" ]] && pass "$1: trusted state unchanged" ||
    fail "$1: trusted state changed"
}
flip_payload() { # changes one base64 character in the signed payload of envelope $1
  local f=$1 payload c repl
  payload=$(jq -r .payload "$f")
  c=${payload:20:1}
  repl=A; [[ $c == A ]] && repl=B
  jq --arg p "${payload:0:20}${repl}${payload:21}" '.payload = $p' "$f" >"$f.tmp"
  mv "$f.tmp" "$f"
}
resign_as() { # re-signs envelope $1's payload with key file $2 (valid signature, wrong key)
  local f=$1 key=$2 type payload sig
  type=$(jq -r .payloadType "$f")
  payload=$(jq -r .payload "$f" | base64 -d)
  sig=$(printf 'DSSEv1 %d %s %d %s' "${#type}" "$type" "$(printf '%s' "$payload" | wc -c)" \
    "$payload" >"$T/pae"; openssl pkeyutl -sign -inkey "$key" -rawin -in "$T/pae" | base64 -w0)
  jq --arg s "$sig" '.signatures = [{"keyid": "x", "sig": $s}]' "$f" >"$f.tmp"
  mv "$f.tmp" "$f"
}
keyfile() { ls "$pub"/keys/"$1"-*.pem | head -n1; }

variant
sed -i 's/"mit"/"gpl"/' "$(find "$mirror/targets" -name '*.rev2.release.json')"
refused "altered release manifest" "pinned|sha256"

variant
m2=$(find "$mirror/targets" -name '*.rev2.release.json')
head -c 100 "$m2" >"$m2.tmp" && mv "$m2.tmp" "$m2"
refused "truncated release manifest" "pinned|bytes|sha256"

variant
rm "$(find "$mirror/targets" -name '*.rev2.release.json')"
refused "missing release manifest" "no such file" 66

variant
flip_payload "$(latest targets)"
refused "bit flip in the targets payload" "sha256|hash|length|pinned"

variant
flip_payload "$mirror/metadata/timestamp.json"
refused "bit flip in the timestamp payload" "signature|threshold|parse"

variant
jq '.signatures = []' "$mirror/metadata/timestamp.json" >"$T/x" && mv "$T/x" "$mirror/metadata/timestamp.json"
refused "unsigned timestamp" "threshold|signature"

variant
resign_as "$mirror/metadata/timestamp.json" "$(keyfile snapshot)"
refused "timestamp signed with the snapshot key" "threshold|signature"

variant
jq '.payloadType = "application/vnd.in-toto+json"' "$mirror/metadata/timestamp.json" >"$T/x"
mv "$T/x" "$mirror/metadata/timestamp.json"
refused "payloadType swapped" "payload ?[tT]ype|threshold|signature"

variant
sig=$(jq -c '.signatures[0]' "$mirror/metadata/timestamp.json")
jq --argjson s "$sig" '.signatures += [$s, $s]' "$mirror/metadata/timestamp.json" >"$T/x"
mv "$T/x" "$mirror/metadata/timestamp.json"
resign_as "$(latest snapshot)" "$(keyfile timestamp)"
refused "snapshot signed by the timestamp key" "snapshot|sha256|threshold"

variant
n=$(basename "$(latest snapshot)" .snapshot.json)
cp "$T/p2/metadata/$((n - 1)).snapshot.json" "$mirror/metadata/$n.snapshot.json"
refused "older snapshot under the new name (mix and match)" "snapshot|sha256|length"

variant
head -c 3000000 /dev/zero | tr '\0' ' ' >"$mirror/metadata/timestamp.json"
refused "oversized timestamp" "exceeds the limit of 16384" 65

variant
{ printf '{"payloadType":"application/vnd.tuf+json","payload":"e30=","signatures":['
  for i in $(seq 1 40); do printf '['; done; for i in $(seq 1 40); do printf ']'; done
  printf ']}'; } >"$mirror/metadata/timestamp.json"
refused "deeply nested timestamp" "nested deeper" 65

variant
refused_before=$(trusted_state)
expect_ok "the honest P2 is accepted" "$W" feed verify --state "$state" --now "$later" --name m "$mirror"
[[ $(trusted_state) != "$refused_before" ]] && pass "accepting P2 changed the trusted state" ||
  fail "accepting P2 did not change the state"

# Rollback: P1 served again after the client saw P2.
rm -rf "$mirror" && cp -r "$T/p1" "$mirror"
refused "the previous publication replayed" "older|rollback"

# Freeze: the current publication, checked after its timestamp expired.
rm -rf "$mirror" && cp -r "$T/p2" "$mirror"
before=$(trusted_state)
expect_fail "expired timestamp is refused" 75 "expired" "$W" feed verify --state "$state" \
  --now 2026-06-03T00:00:00Z --name m "$mirror"
[[ $(trusted_state) == "$before" ]] && pass "expired: trusted state unchanged" ||
  fail "expired: trusted state changed"

# --- root rotation ------------------------------------------------------------------------
expect_ok "generate a new timestamp key" "$W" key generate --out "$T/ts2.pem"
expect_ok "rotate the timestamp key" "$W" feed rotate-root "$pub" --timestamp-key "$T/ts2.pem" \
  --now "$later"
rm -rf "$mirror" && cp -r "$pub/public" "$mirror"
expect_ok "client follows the rotation" "$W" --json feed verify --state "$state" --now "$later" \
  --name m "$mirror"
[[ $(jq -r '.roles.root.version' <<<"$LAST_OUT") == 2 ]] && pass "client trusts root v2" ||
  fail "root version after rotation: $LAST_OUT"

# A root signed by only one of the three root keys (threshold 2) cannot even be produced.
one_root_key=$(ls "$pub"/keys/root-*.pem | head -n1)
mkdir -p "$T/pub-one" && cp -r "$pub/repo.json" "$pub/public" "$T/pub-one/"
expect_fail "rotate-root with one of three root keys is refused" 75 "1 of the required 2" \
  "$W" feed rotate-root "$T/pub-one" --root-threshold 1 --sign-with "$one_root_key" --now "$later"

# --- hashed bins ----------------------------------------------------------------------------
bpub=$T/bpub
bstate=$T/bstate
expect_fail "feed init refuses a bin count that is not a power of two" 64 "power of two" \
  "$W" feed init "$T/bad-bins" --bins 24 --now "$now"
expect_ok "feed init with 16 hashed bins" "$W" feed init "$bpub" --bins 16 --now "$now"
compgen -G "$bpub/keys/bins-*.pem" >/dev/null && pass "a bins key was generated" ||
  fail "no bins key in $bpub/keys"
expect_ok "release add into a feed with bins" "$W" release add "$T/w" --feed "$bpub" \
  --model test-org/tiny --revision rev1 --license mit --now "$now"
expect_ok "feed publish signs the bins" "$W" feed publish "$bpub" --now "$now"
expect_ok "feed verify trusts the feed with bins" "$W" --json feed verify \
  --root "$bpub/public/metadata/1.root.json" --state "$bstate" --now "$now" "$bpub/public"
[[ $(jq -r '.releases[0].model' <<<"$LAST_OUT") == test-org/tiny ]] &&
  pass "the release is resolved through its bin" || fail "verify with bins: $LAST_OUT"
expect_ok "a second release into the feed with bins" "$W" release add "$T/w" --feed "$bpub" \
  --model test-org/tiny --revision rev2 --license mit --now "$now"
expect_ok "and its publish" "$W" feed publish "$bpub" --now "$now"
n_targets=$(compgen -G "$bpub/public/metadata/*.targets.json" | wc -l)
n_new_bins=$(compgen -G "$bpub/public/metadata/2.bins-*.json" | wc -l)
[[ $n_targets == 1 && $n_new_bins -ge 1 && $n_new_bins -le 3 ]] &&
  pass "a release re-signs its bins only ($n_new_bins), not targets.json" ||
  fail "after a second release: $n_targets targets.json, $n_new_bins bins at v2"
expect_ok "feed verify picks up the second release" "$W" --json feed verify --state "$bstate" \
  --now "$now" "$bpub/public"
[[ $(jq '.releases | length' <<<"$LAST_OUT") == 2 ]] && pass "both releases are trusted" ||
  fail "verify after the second release: $LAST_OUT"
# A bin whose signatures were stripped no longer matches its snapshot pin.
bin=$(cd "$bpub/public/metadata" && ls 2.bins-*.json | head -n1)
cp -r "$bpub/public" "$T/bmirror"
python3 - "$T/bmirror/metadata/$bin" <<'PY'
import json, sys
env = json.load(open(sys.argv[1]))
env["signatures"] = []  # unsigned: no key at all
json.dump(env, open(sys.argv[1], "w"))
PY
expect_fail "a tampered bin is refused" 75 "pinned" "$W" feed verify --state "$T/bstate2" \
  --root "$bpub/public/metadata/1.root.json" --now "$now" "$T/bmirror"

# A flat feed becomes one with bins; its client follows.
expect_ok "generate a bins key" "$W" key generate --out "$T/bins.pem"
expect_ok "feed publish --bins converts the flat feed" "$W" feed publish "$pub" --bins 4 \
  --bins-key "$T/bins.pem" --key "$T/ts2.pem" --now "$later"
expect_fail "a second conversion is refused" 64 "already has 4 bins" "$W" feed publish "$pub" \
  --bins 4 --bins-key "$T/bins.pem" --key "$T/ts2.pem" --now "$later"
rm -rf "$mirror" && cp -r "$pub/public" "$mirror"
expect_ok "the client follows the conversion" "$W" --json feed verify --state "$state" \
  --now "$later" --name m "$mirror"
[[ $(jq '.releases | length' <<<"$LAST_OUT") -ge 1 ]] && pass "releases kept across the conversion" ||
  fail "after the conversion: $LAST_OUT"

finish
