#!/usr/bin/env bash
# Catalog files carried by a signed feed (docs/catalog.md "Catalog files from feeds"): a publisher
# signs catalog/x.toml (alias x -> test-org/m@commit1) into a feed with hashed bins, served by a
# real nginx; a follower installs it as layer feed:acme and `fetch x` pins commit1 from the hub
# double. The publisher moves x to commit2 while the hub is down: after a refresh x resolves to
# commit2 with no hub, and the fetch goes for commit2's pin. A catalog file changed on the mirror
# after signing is refused in the feed's status and the previous layer stays; a repaired mirror
# is picked up again. An invalid catalog file signed by a (flat) feed's publisher is refused,
# and removing a feed removes its layer.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py

# --- the hub double with test-org/m at commit1 ------------------------------------------------------
src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 1 >/dev/null
permissive_card "$src"
hub=$T/hub
commit1=$(python3 "$double" build "$hub" test-org/m "$src")
start_hub_double "$hub"
hub_pid=$NGINX_PID

# --- the publisher: a feed with 4 hashed bins, carrying catalog/x.toml ------------------------------
catalog_file() { # COMMIT [DESCRIPTION]: the family file of alias x
  cat <<TOML
schema = 1
family = "x"
default = "base"
description = "${2:-test family}"

[[model]]
id = "test-org/m"
variant = "base"
upstream = "huggingface"
repo = "test-org/m"
commit = "$1"
license = "mit"
gated = false

[[model.source]]
url = "https://example.invalid/pins.md"
confidence = "high"
TOML
}
mkdir -p "$T/cat"
"$W" feed init "$T/pub" --bins 4 >/dev/null
catalog_file "$commit1" >"$T/cat/x.toml"
expect_ok "the publisher signs catalog/x.toml into a feed with bins" \
  "$W" --json feed catalog add "$T/pub" "$T/cat/x.toml" --publish
[[ $(jq -r '.added[0].path' <<<"$LAST_OUT") == catalog/x.toml ]] &&
  pass "the target path is catalog/<family>.toml" || fail "add: $LAST_OUT"
listed_in=
for f in "$T"/pub/public/metadata/*.bins-*.json; do
  if jq -r .payload "$f" | base64 -d |
    jq -e '.signed.targets["catalog/x.toml"] // .targets["catalog/x.toml"] | .custom == {"kind": "catalog"} and (.length > 0) and (.hashes.sha256 | length == 64)' \
      >/dev/null 2>&1; then
    listed_in=$f
  fi
done
[[ -n $listed_in ]] && pass "a bin lists it with length, sha256 and kind catalog ($(basename "$listed_in"))" ||
  fail "no bin lists catalog/x.toml: $(ls "$T"/pub/public/metadata)"
printf 'schema = 1\nfamily = "bad"\n' >"$T/cat/bad.toml"
expect_fail "the publisher refuses an invalid catalog file" 65 "bad.toml" \
  "$W" feed catalog add "$T/pub" "$T/cat/bad.toml"

# nginx serves $T/served, a link swapped to a full copy of public/ (optionally tampered with).
snap=0
serve() { # [COMMAND...] run in the copy
  snap=$((snap + 1))
  cp -a "$T/pub/public" "$T/snap$snap"
  if (($# > 0)); then (cd "$T/snap$snap" && "$@"); fi
  ln -sfn "$T/snap$snap" "$T/served.new" && mv -T "$T/served.new" "$T/served"
}
serve
nginx_with_server 127.0.0.1 "location /feed/ { alias $T/served/; }
    location /flat/ { alias $T/flat/public/; }"
feed_url=$NGINX_URL/feed
flat_url=$NGINX_URL/flat

# --- the follower ----------------------------------------------------------------------------------
printf '[upstream]\nendpoint = "%s"\n[feeds]\nrefresh_interval = "1h"\n' "$HUB_URL" >"$T/d1.toml"
start_daemon 1 --config "$T/d1.toml"
expect_ok "the follower adds the feed" ctl 1 --json feed add acme "$feed_url" \
  --root "$T/pub/public/metadata/1.root.json"
[[ $(jq -r '.catalog | .layer + " " + (.files | join(",")) + " " + (.error | tostring)' <<<"$LAST_OUT") == \
  "feed:acme catalog/x.toml null" ]] && pass "the feed's catalog layer is installed" ||
  fail "catalog: $LAST_OUT"
v_first=$(jq -r .catalog.snapshot_version <<<"$LAST_OUT")
layer=$T/d1/state/feed-catalog/acme/current
grep -q "$commit1" "$layer/x.toml" && pass "the layer holds the signed file" || fail "layer: $(ls -la "$T/d1/state/feed-catalog/acme")"

expect_ok "fetch x resolves through the feed's layer and fetches commit1 from the hub" \
  ctl 1 --json fetch x
got=$(ctl 1 --json show "test-org/m@$commit1")
[[ $(jq -r '[.state, .upstream.pinned_by, .upstream.alias, .upstream.catalog_layer] | join(" ")' <<<"$got") == \
  "complete catalog x feed:acme" ]] && pass "show: pinned by the catalog, alias x, layer feed:acme" ||
  fail "show: $got"
ctl 1 show "test-org/m@$commit1" | grep -q "catalog layer feed:acme" &&
  pass "weightsctl show prints the layer" || fail "show: $(ctl 1 show "test-org/m@$commit1")"

# --- commit2, announced by the feed while the hub is down ------------------------------------------
echo "second release" >"$src/NOTES.md"
commit2=$(python3 "$double" build "$hub" test-org/m "$src")
[[ $commit2 != "$commit1" ]] || fail "the double made the same commit twice"
kill -9 "$hub_pid"
wait_until "the hub to stop" 10 bash -c "! kill -0 $hub_pid 2>/dev/null" || fail "hub still up"
! curl -sf "$HUB_URL/" >/dev/null 2>&1 && pass "the hub is unreachable" || fail "the hub answers"

catalog_file "$commit2" >"$T/cat/x.toml"
"$W" feed catalog add "$T/pub" "$T/cat/x.toml" --publish >/dev/null
serve
expect_ok "the follower refreshes the feed" ctl 1 --json feed refresh acme
st=$(ctl 1 --json feed status acme)
v_second=$(jq -r .catalog.snapshot_version <<<"$st")
((v_second > v_first)) && [[ $(jq -r .catalog.error <<<"$st") == null ]] &&
  pass "the layer moved to snapshot v$v_second with the metadata" || fail "status: $st"
grep -q "$commit2" "$layer/x.toml" && pass "the layer now names commit2" || fail "layer: $(cat "$layer/x.toml")"
expect_ok "fetch x with the hub down starts" ctl 1 --json fetch x --no-wait
[[ $(jq -r .id <<<"$LAST_OUT") == "test-org/m@$commit2" ]] &&
  pass "x resolves to commit2 with no hub" || fail "fetch: $LAST_OUT"
got=$(ctl 1 --json show "test-org/m@$commit2")
[[ $(jq -r '[.upstream.commit, .upstream.pinned_by, .upstream.catalog_layer] | join(" ")' <<<"$got") == \
  "$commit2 catalog feed:acme" ]] && pass "the fetch attempt goes for commit2's pin" ||
  fail "show: $got"
grep -q "x: the catalog names test-org/m@$commit2" "$T/d1/log" &&
  pass "the log says which commit the catalog named" || fail "log: $(grep -n "catalog" "$T/d1/log" | tail -n 5)"

# --- a catalog file changed on the mirror after signing --------------------------------------------
catalog_file "$commit1" "moved back" >"$T/cat/x.toml"
"$W" feed catalog add "$T/pub" "$T/cat/x.toml" --publish >/dev/null
signed=$(sha256sum "$T/cat/x.toml" | cut -d' ' -f1)
serve sed -i 's/moved back/moved b4ck/' "targets/catalog/$signed.x.toml"
expect_ok "the refresh itself succeeds (the metadata verifies)" ctl 1 --json feed refresh acme
st=$(ctl 1 --json feed status acme)
[[ $(jq -r .catalog.error.code <<<"$st") == hash_mismatch ]] &&
  grep -q "catalog/x.toml" <<<"$(jq -r .catalog.error.message <<<"$st")" &&
  pass "feed status names the tampered catalog file (hash_mismatch)" || fail "status: $st"
[[ $(jq -r .catalog.snapshot_version <<<"$st") == "$v_second" ]] && grep -q "$commit2" "$layer/x.toml" &&
  pass "the previous layer stays (x still means commit2)" || fail "layer changed: $st"
ctl 1 feed status acme | grep -q "catalog error: hash_mismatch" &&
  pass "weightsctl feed status prints the catalog error" || fail "status: $(ctl 1 feed status acme)"
serve
expect_ok "a refresh from the repaired mirror" ctl 1 --json feed refresh acme
st=$(ctl 1 --json feed status acme)
[[ $(jq -r .catalog.error <<<"$st") == null ]] && grep -q "$commit1" "$layer/x.toml" &&
  pass "the repaired file is installed (the metadata was already up to date)" || fail "status: $st"

# --- an invalid catalog file signed by the publisher (a flat feed) ---------------------------------
"$W" feed init "$T/flat" >/dev/null
catalog_file "$commit1" | sed "s/family = \"x\"/family = \"y\"/" >"$T/cat/y.toml"
"$W" feed catalog add "$T/flat" "$T/cat/y.toml" --publish >/dev/null
# Bypass the publisher's check: other bytes under the same listing, then a plain publish signs them.
printf 'schema = 1\nfamily = "y"\ndefault = "base"\n\n[[model]]\nid = "test-org/m"\nvariant = "base"\nupstream = "huggingface"\nrepo = "test-org/m"\ncommit = "abc123"\nlicense = "mit"\n\n[[model.source]]\nurl = "https://example.invalid/"\nconfidence = "high"\n' >"$T/bad-y.toml"
sha=$(sha256sum "$T/bad-y.toml" | cut -d' ' -f1)
len=$(stat -c %s "$T/bad-y.toml")
cp "$T/bad-y.toml" "$T/flat/public/targets/catalog/$sha.y.toml"
jq --arg s "$sha" --argjson l "$len" \
  '.targets["catalog/y.toml"].hashes.sha256 = $s | .targets["catalog/y.toml"].length = $l' \
  "$T/flat/repo.json" >"$T/repo.json.new" && mv "$T/repo.json.new" "$T/flat/repo.json"
"$W" feed publish "$T/flat" >/dev/null
expect_ok "the follower adds the flat feed" ctl 1 --json feed add flat "$flat_url" \
  --root "$T/flat/public/metadata/1.root.json"
[[ $(jq -r '.catalog.error.code + " " + (.catalog.snapshot_version | tostring)' <<<"$LAST_OUT") == "schema_error null" ]] &&
  grep -q "catalog/y.toml:[0-9]*: model\[0\].commit: 'abc123' is not a full commit id" <<<"$(jq -r .catalog.error.message <<<"$LAST_OUT")" &&
  pass "the signed invalid file is refused with a clear error, nothing installed" ||
  fail "flat: $LAST_OUT"
expect_fail "y resolves to nothing" 66 "no catalog entry named 'y'" ctl 1 fetch y --no-wait

# --- removing a feed removes its layer --------------------------------------------------------------
expect_ok "the follower removes the feed" ctl 1 feed remove acme
[[ ! -e $T/d1/state/feed-catalog/acme ]] && pass "its layer is gone" || fail "layer left"
expect_fail "x no longer resolves" 66 "no catalog entry named 'x'" ctl 1 fetch x --no-wait

finish
