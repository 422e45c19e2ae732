#!/usr/bin/env bash
# The upstream watch on the hub double: a node fetches ORG/NAME@<commit> (as pinned_fetch_test.sh
# does) with `[upstream] check_interval = "1s"`; the double is switched to refuse 451 (with an
# X-Error-Code), then 404, then back to serving, and `show --json`, `list` and /metrics report
# each answer with its time within a deadline; a refusal survives a daemon restart (its `since`
# unchanged) and raises the release's seeding priority; the double stopped is `unreachable`, not
# a refusal.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

require_tools nginx fcgiwrap git jq curl
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py

src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 1
# A permissive model card: nothing to accept (license_accept_test.sh covers that).
printf -- '---\nlicense: mit\n---\n# Test model\n' >"$src/README.md"
hub=$T/hub
commit=$(python3 "$double" build "$hub" test-org/watched "$src")
state=$hub/repos/test-org/watched/hub.json
start_hub_double "$hub"
hub_pid=$NGINX_PID

# answer STATUS [CODE] : the double refuses every request for the repository with STATUS (0:
# serves it again), with X-Error-Code CODE when given. The state file is read on each request.
answer() {
  jq --argjson s "$1" --arg c "${2:-}" '.refuse = $s | .refuse_code = $c' "$state" >"$state.new" &&
    mv "$state.new" "$state"
}

cat >"$T/node.toml" <<CONF
[upstream]
check_interval = "1s"
[metrics]
listen = "127.0.0.1:0"
CONF
HF_ENDPOINT=$HUB_URL start_daemon 1 --config "$T/node.toml"
id=test-org/watched@$commit
expect_ok "fetch $id" ctl 1 --json fetch "$id"

metrics_url() { grep -o 'metrics at http://[^/ ]*' "$T/d1/log" | tail -1 | sed 's|.*at ||'; }
metric() { # metric SERIES : the value of one exact series line, or nothing
  curl -sf "$(metrics_url)/metrics" | awk -v s="$1" 'index($0, s " ") == 1 { print $2 }'
}
hub_field() { ctl 1 --json show "$id" | jq -r ".hub_status.$1 | select(. != null)"; }
# wait_hub STATE [HTTP_STATUS] : show --json reports that answer within 20 s.
wait_hub() {
  wait_until "hub_status $*" 20 bash -c "
    got=\$('$W' --socket '$T/d1/ctl.sock' --json show '$id' |
          jq -r '[.hub_status.state, (.hub_status.http_status // \"\")] | map(tostring) | join(\" \")')
    [[ \$got == '$1 ${2:-}' ]]"
}
recent() { # recent TIME SINCE_EPOCH : TIME (RFC 3339) is not before SINCE_EPOCH - 1
  (($(date -u -d "$1" +%s) >= $2 - 1))
}

# --- the hub serves it ----------------------------------------------------------------------------
wait_hub serving && pass "show says the hub serves the commit" || fail "$(ctl 1 --json show "$id")"
grep -q "GET /api/models/test-org/watched/revision/$commit" "$NGINX_LOG" &&
  pass "the watch asked the hub's API for the commit" || fail "no revision request"
[[ $(hub_field seeding_priority) == false ]] && pass "no seeding priority while served" ||
  fail "priority: $(ctl 1 --json show "$id")"

# --- 451 with the hub's error code ----------------------------------------------------------------
switched=$(date -u +%s)
answer 451 UnavailableForLegalReasons
wait_hub refused 451 && pass "show reports the 451 within the deadline" ||
  fail "$(ctl 1 --json show "$id")"
show=$(ctl 1 --json show "$id")
[[ $(jq -r .hub_status.error_code <<<"$show") == UnavailableForLegalReasons ]] &&
  pass "the hub's X-Error-Code is recorded" || fail "error_code: $show"
recent "$(jq -r .hub_status.since <<<"$show")" "$switched" &&
  recent "$(jq -r .hub_status.checked <<<"$show")" "$switched" &&
  pass "since and checked are the times of the refusal" || fail "times: $show"
[[ $(jq -r '.hub_status.seeding_priority' <<<"$show") == true ]] &&
  pass "a refused release is seeded first" || fail "priority: $show"
[[ $(jq -r .state <<<"$show") == complete ]] && pass "the release stays complete and served" ||
  fail "state: $show"
expect_ok "list" ctl 1 list
grep -q "hub: 451 since $(date -u +%F)" <<<"$LAST_OUT" && pass "list marks the refusal" ||
  fail "list: $LAST_OUT"
expect_ok "show" ctl 1 show "$id"
grep -q "hub: refused HTTP 451 (UnavailableForLegalReasons) since" <<<"$LAST_OUT" &&
  pass "show names the status and the code" || fail "show: $LAST_OUT"
wait_until "the 451 in /metrics" 10 bash -c \
  "curl -sf '$(metrics_url)/metrics' | grep -qx 'weightsd_upstream_refused_releases{status=\"451\"} 1'" &&
  pass "metrics count the release as refused with 451" ||
  fail "metrics: $(curl -sf "$(metrics_url)/metrics" | grep upstream)"
[[ $(metric "weightsd_release_upstream_state{release=\"$id\",state=\"refused\",http_status=\"451\"}") == 1 ]] &&
  pass "metrics carry the release's state" ||
  fail "metrics: $(curl -sf "$(metrics_url)/metrics" | grep upstream)"
grep -q "the hub refuses its upstream commit (HTTP 451, UnavailableForLegalReasons)" "$T/d1/log" &&
  pass "the log says so" || fail "log: $(tail -n 20 "$T/d1/log")"

# --- a restart keeps it ----------------------------------------------------------------------------
since=$(hub_field since)
kill_daemon 1 TERM
HF_ENDPOINT=$HUB_URL start_daemon 1 --config "$T/node.toml"
wait_until "the release after a restart" 30 bash -c \
  "'$W' --socket '$T/d1/ctl.sock' --json show '$id' | jq -e '.hub_status.state == \"refused\"' >/dev/null" &&
  pass "the refusal is back after a restart" || fail "after restart: $(ctl 1 --json show "$id")"
[[ $(hub_field since) == "$since" ]] && pass "its since is the first refusal's, not the restart's" ||
  fail "since $(hub_field since), was $since"

# --- 404, then serving again -----------------------------------------------------------------------
answer 404
wait_hub refused 404 && pass "show reports the 404" || fail "$(ctl 1 --json show "$id")"
[[ -z $(hub_field error_code) ]] && pass "no code when the hub sent none" ||
  fail "error_code: $(hub_field error_code)"
[[ $(hub_field since) != "$since" ]] && pass "another status starts a new since" ||
  fail "since unchanged: $since"
answer 0
wait_hub serving && pass "show reports the hub serving again" || fail "$(ctl 1 --json show "$id")"
[[ $(hub_field seeding_priority) == false ]] && pass "the priority is gone" ||
  fail "priority: $(ctl 1 --json show "$id")"
expect_ok "list" ctl 1 list
! grep -q "hub:" <<<"$LAST_OUT" && pass "list marks nothing while the hub serves it" ||
  fail "list: $LAST_OUT"

# --- the hub gone: no answer is not a refusal ------------------------------------------------------
kill -9 "$hub_pid"
wait_hub unreachable && pass "a stopped hub is unreachable" || fail "$(ctl 1 --json show "$id")"
show=$(ctl 1 --json show "$id")
[[ $(jq -r '.hub_status | [.answer, (.http_status // "none"), .seeding_priority] | map(tostring) | join(" ")' \
  <<<"$show") == "serving none false" ]] &&
  pass "unreachable is not a refusal: the last answer (serving) stays, no priority" ||
  fail "unreachable: $show"
[[ -n $(jq -r '.hub_status.error // empty' <<<"$show") ]] && pass "show says what failed" ||
  fail "no error: $show"
[[ $(metric 'weightsd_upstream_unreachable_releases') == 1 &&
  $(metric 'weightsd_upstream_refused_releases{status="451"}') == 0 &&
  $(metric 'weightsd_upstream_refused_releases{status="404"}') == 0 ]] &&
  pass "metrics: unreachable, no refusal" ||
  fail "metrics: $(curl -sf "$(metrics_url)/metrics" | grep upstream)"

finish
