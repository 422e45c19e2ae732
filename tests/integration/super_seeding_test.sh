#!/usr/bin/env bash
# A publisher with `[network] super_seeding = "published"` seeds a release; three daemons fetch
# it at once, each told of the publisher and of each other. BEP 16 offers each fetcher pieces
# the others lack, so every copy is complete and verified while the publisher uploads about one
# copy (plain seeding on loopback uploads 1.7-3x here: docs/benchmarks.md, fan-out).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

model=super-org/tiny-llm
rev=5uper01
"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 16 superseed
"$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision "$rev" --license apache-2.0 \
  --publish >/dev/null
root=$T/pub/public/metadata/1.root.json
printf '[network]\nsuper_seeding = "published"\n' >"$T/publisher.toml"

start_daemon 1 --config "$T/publisher.toml"
for n in 2 3 4; do start_daemon "$n"; done
for n in 1 2 3 4; do ctl "$n" feed add demo "$T/pub/public" --root "$root" >/dev/null; done
expect_ok "the publisher seeds from its own files" ctl 1 seed "$T/w" --feed demo --model "$model" \
  --revision "$rev"
cfg=$("$WEIGHTSD" --config "$T/publisher.toml" --state-dir "$T/check" --check-config)
grep -qE "^super_seeding = ['\"]published['\"]" <<<"$cfg" && pass "--check-config shows super_seeding" ||
  fail "--check-config lacks super_seeding = \"published\": $cfg"

peers=()
for n in 1 2 3 4; do peers+=("$(peer_of "$n")"); done
for n in 2 3 4; do
  args=()
  for m in 1 2 3 4; do ((m == n)) || args+=(--peer "${peers[m - 1]}"); done
  expect_ok "daemon $n starts fetching" ctl "$n" fetch "$model@$rev" --no-wait "${args[@]}"
done
all_complete() {
  local n
  for n in 2 3 4; do
    [[ $(ctl "$n" --json show "$model@$rev" | jq -r .state) == complete ]] || return 1
  done
}
if wait_until "all three fetchers complete" 120 all_complete; then
  pass "all three fetchers completed"
else
  show_logs
  fail "not all fetchers completed"
fi
(cd "$T/w" && sha256sum -- *) >"$T/expected"
for n in 2 3 4; do
  view=$(ctl "$n" --json show "$model@$rev" | jq -r .path)
  if (cd "$view" && sha256sum -- *) | cmp -s "$T/expected" -; then
    pass "daemon $n: every file matches the source"
  else
    fail "daemon $n: files differ from the source"
  fi
done

# Counters come from libtorrent's periodic status: wait until the publisher's settles.
total=$(ctl 1 --json show "$model@$rev" | jq -r .total_length)
settled() {
  local a b
  a=$(ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes)
  sleep 0.6
  b=$(ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes)
  [[ $a == "$b" ]]
}
wait_until "the publisher's upload counter to settle" 20 settled || fail "upload counter kept moving"
up=$(ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes)
if ((up > 0 && up * 2 <= total * 3)); then
  pass "the publisher uploaded $up bytes for 3 copies of $total (<= 1.5x)"
else
  show_logs
  fail "the publisher uploaded $up bytes for 3 copies of $total (> 1.5x or nothing)"
fi
finish
