#!/usr/bin/env bash
# A community seed node started with only a config file follows a feed and mirrors new releases
# by itself, within its disk budget: nginx serves the feed and the release files (the web seed
# a publisher lists in the manifest); nobody runs `fetch` on the node. A newer release pushes
# the budget over the limit and the older, now unfollowed, release is evicted; a release that
# cannot fit because everything else is pinned is refused with the reason. The node's /metrics
# parses as Prometheus text (promtool) and reports it all.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

command -v nginx >/dev/null || { echo "SKIP: nginx is not installed (scripts/install-deps --test)"; exit 125; }

model=seed-org/tiny
"$W" feed init "$T/pub" >/dev/null
root=$T/pub/public/metadata/1.root.json

# nginx on a free loopback port: /feed/ is the publisher's public dir, /seed/ the web seed.
mkdir -p "$T/ws"
start_feed_nginx 127.0.0.1 "$T/pub/public" "$T/ws"

publish() { # REV SEED
  bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w-$1" 2 "$2"
  mkdir -p "$T/ws/$1" && cp "$T/w-$1"/* "$T/ws/$1/"
  "$W" release add "$T/w-$1" --feed "$T/pub" --model "$model" --revision "$1" \
    --license apache-2.0 --web-seed "$NGINX_URL/seed/" --publish >/dev/null
}
publish r1 seed-one

# The node: a config file only. ~4 MiB releases, a 6 MiB budget: one release fits at a time.
cat >"$T/node.toml" <<CONF
[limits]
max_disk = "6MiB"
min_free_disk = 0
[feeds]
refresh_interval = "1s"
[metrics]
listen = "127.0.0.1:0"
CONF
start_daemon 1 --config "$T/node.toml"
metrics=$(grep -o 'metrics at http://[^/ ]*' "$T/d1/log" | head -1 | sed 's|.*http://||')
[[ -n $metrics ]] && pass "metrics endpoint announced: $metrics" || fail "no metrics line in the log"

feed_location=$NGINX_URL/feed
expect_ok "node subscribes to the feed" ctl 1 feed add community "$feed_location" --root "$root"
expect_ok "node follows the model's newest release" ctl 1 --json follow community --model 'seed-org/*' --latest 1

state_is() { [[ $(ctl 1 --json status "$1" 2>/dev/null | jq -r .state) == "$2" ]]; }
absent() { ! ctl 1 --json list | jq -e --arg id "$1" '.releases[] | select(.id == $id)' >/dev/null; }
if wait_until "the followed release to be mirrored" 90 state_is "$model@r1" complete; then
  pass "r1 mirrored without a fetch command (from the web seed)"
else
  show_logs
  fail "r1: $(ctl 1 --json status "$model@r1" 2>&1)"
fi
view=$(ctl 1 --json status "$model@r1" | jq -r .path)
if (cd "$T/w-r1" && sha256sum -- *) >"$T/expected" && (cd "$view" && sha256sum -- *) >"$T/got" &&
  cmp -s "$T/expected" "$T/got"; then
  pass "r1: every file's SHA-256 matches"
else
  fail "r1: files differ"
fi

# A new release of the model: r1 falls out of --latest 1; r2 needs r1's room.
publish r2 seed-two
if wait_until "r2 to be mirrored" 90 state_is "$model@r2" complete; then
  pass "r2 mirrored within the refresh interval, no command"
else
  show_logs
  fail "r2: $(ctl 1 --json status "$model@r2" 2>&1)"
fi
absent "$model@r1" && pass "r1 was evicted to stay within the budget" || fail "r1 still held: $(ctl 1 --json list)"
grep -q "$model@r1: evicted" "$T/d1/log" && pass "the eviction is logged" || fail "no eviction log line"
reserved=$(ctl 1 --json status | jq .disk.reserved)
((reserved <= 6 * 1024 * 1024)) && pass "reserved $reserved bytes <= budget" || fail "reserved $reserved > budget"

# Pinned r2 cannot be evicted: r3 does not fit and is refused, with the reason.
expect_ok "pin r2" ctl 1 pin "$model@r2"
publish r3 seed-three
refused() { ctl 1 --json follows | jq -e '.follows[0].refused[] | select(.reason | test("disk budget"))' >/dev/null; }
if wait_until "r3 to be refused for lack of room" 30 refused; then
  pass "r3 refused: $(ctl 1 --json follows | jq -r '.follows[0].refused[0].reason')"
else
  fail "r3 not refused: $(ctl 1 --json follows)"
fi
state_is "$model@r2" complete && pass "r2 still complete after the refusal" || fail "r2 changed"

# Scrub: a byte flipped on disk under the node is found, quarantined and repaired from the
# web seed, without a fetch command.
r2view=$(ctl 1 --json status "$model@r2" | jq -r .path)
victim=$r2view/model-00001-of-00002.safetensors
[[ -f $victim ]] || victim=$(find "$r2view" -name '*.safetensors' | head -1)
good=$(sha256sum <"$T/w-r2/$(basename "$victim")" | cut -d' ' -f1)
printf '\xff' | dd of="$victim" bs=1 seek=1000 conv=notrunc status=none
[[ $(sha256sum <"$victim" | cut -d' ' -f1) != "$good" ]] && pass "a stored byte was flipped" || fail "flip failed"
expect_ok "scrub now" ctl 1 scrub "$model@r2"
mismatch_logged() { grep -q "scrub: file .* is damaged on disk" "$T/d1/log"; }
wait_until "the scrub to find the damage" 60 mismatch_logged && pass "scrub reported the damaged file" ||
  fail "no scrub report: $(tail -5 "$T/d1/log")"
repaired() {
  state_is "$model@r2" complete &&
    [[ $(sha256sum <"$(ctl 1 --json status "$model@r2" | jq -r .path)/$(basename "$victim")" | cut -d' ' -f1) == "$good" ]]
}
if wait_until "the damaged file to be repaired" 90 repaired; then
  pass "the damaged file was re-downloaded and verified"
else
  show_logs
  fail "not repaired: $(ctl 1 --json status "$model@r2")"
fi
[[ -n $(ls "$T/d1/state/quarantine" 2>/dev/null) ]] && pass "the damaged copy is kept in quarantine/" ||
  fail "quarantine is empty"

# Metrics: valid Prometheus text, with the eviction and the node's state.
curl -sf "http://$metrics/metrics" >"$T/metrics.txt" || fail "GET /metrics failed"
if command -v promtool >/dev/null; then
  if promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then
    pass "promtool accepts /metrics"
  else
    fail "promtool: $(cat "$T/promtool.out")"
  fi
else
  echo "note: promtool not installed; parsing /metrics with python only"
fi
python3 - "$T/metrics.txt" <<'PY' && pass "metrics parse and report evictions/refusals/seeding" || fail "metrics content: $(head -c 3000 "$T/metrics.txt")"
import re, sys
text = open(sys.argv[1]).read()
line = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (\S+)$')
samples = {}
for l in text.splitlines():
    if l.startswith('#'):
        assert l.startswith('# HELP ') or l.startswith('# TYPE '), l
        continue
    m = line.match(l)
    assert m, l
    float(m.group(7).replace('Inf', 'inf'))
    samples[m.group(1) + (m.group(2) or '')] = float(m.group(7))
assert samples['weightsd_evictions_total'] >= 1, samples
assert samples['weightsd_no_space_refusals_total'] >= 1, samples
assert samples['weightsd_release_seeding{release="seed-org/tiny@r2"}'] == 1, samples
assert samples['weightsd_disk_budget_bytes'] == 6 * 1024 * 1024
assert samples['weightsd_feed_stale{feed="community"}'] == 0
assert samples['weightsd_scrub_mismatches_total'] == 1, samples
assert samples['weightsd_scrub_files_total'] >= 1, samples
PY
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$metrics/nope")
[[ $code == 404 ]] && pass "metrics server: unknown path is 404" || fail "unknown path gave $code"

finish
