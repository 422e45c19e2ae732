#!/usr/bin/env bash
# kill -9 the fetching daemon mid-download and restart it: the fetch completes, what was already
# downloaded and verified is not downloaded again, and a half-written release is never exposed
# (no view path, no views/ directory) at any point before completion.
#
# The seeder is rate-limited (its [limits] upload_rate, which the daemon applies to loopback
# peers too) so the download lasts long enough to be killed in the middle.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

model=resume-org/tiny
rev=4e5e7a1
rate=$((4 * 1024 * 1024))

feed_with_release "$model" "$rev" 24 resume # ~36 MiB

start_seeder_and_fetcher "$model" "$rev" "$rate"
total=$(ctl 1 --json show "$model@$rev" | jq -r .total_length)
view_dir=$T/d2/state/views/$model/$rev

# not_exposed_and_past BYTES: records (in $T/exposed, checked at the end) any moment daemon 2
# exposes the release before it is complete; succeeds once it has downloaded BYTES in this
# session or the release is complete.
not_exposed_and_past() {
  local r had_view=0
  # Look at the views/ directory before asking for the state: the release may complete (and get
  # its view) between the two looks, but never lose "complete" again.
  [[ -e $view_dir ]] && had_view=1
  r=$(ctl 2 --json show "$model@$rev") || return 1
  [[ $(jq -r .state <<<"$r") == complete ]] && return 0
  if [[ $had_view == 1 || $(jq -r .path <<<"$r") != null ]]; then
    echo "exposed while $(jq -r .state <<<"$r"): path $(jq -r .path <<<"$r"), verified" \
      "$(jq -r .verified_length <<<"$r"), view dir: $(ls -A "$view_dir" 2>&1 | tr '\n' ' ')" \
      >>"$T/exposed"
  fi
  [[ $(jq -r .downloaded_bytes <<<"$r") -ge $1 ]]
}

t0=$SECONDS
expect_ok "daemon 2 starts the fetch" ctl 2 fetch "$model@$rev" --peer "$(peer_of 1)" --no-wait
expect_ok "daemon 2 downloads 40% of the release" wait_until "40% downloaded" 60 \
  not_exposed_and_past $((total * 40 / 100))
r=$(ctl 2 --json show "$model@$rev")
before=$(jq -r .downloaded_bytes <<<"$r")
echo "before the kill ($((SECONDS - t0))s): downloaded $before of $total bytes"
[[ $(jq -r .state <<<"$r") != complete && $before -lt $((total * 90 / 100)) ]] &&
  pass "the download is still in progress (rate limit holds on loopback)" ||
  fail "the download was not slowed down: $before of $total bytes, state $(jq -r .state <<<"$r")"

kill_daemon 2 KILL
[[ ! -e $view_dir ]] && pass "no view after the kill" || fail "a view exists after the kill"

start_daemon 2
expect_ok "the restarted daemon still knows the release" \
  not_exposed_and_past 0
# downloaded_bytes counts from the last saved resume data, which a kill -9 may have lost, so
# wait for the state rather than for a byte count.
expect_ok "the fetch completes after the restart" wait_until "fetch complete" 60 \
  not_exposed_and_past $((total * 100))
[[ ! -s $T/exposed ]] && pass "nothing was exposed before completion" ||
  fail "half-written release exposed: $(head -3 "$T/exposed")"

r=$(ctl 2 --json show "$model@$rev")
after=$(jq -r .downloaded_bytes <<<"$r")
# Daemon 1 is the only source, so it uploaded at least the whole release; its counter is
# refreshed from periodic status updates and may lag a moment behind.
seeder_uploaded() { ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes; }
expect_ok "the seeder's upload counter reaches the release size" wait_until "seeder counter" 15 \
  bash -c "[[ \$('$W' --socket '$T/d1/ctl.sock' --json show '$model@$rev' | jq .uploaded_bytes) -ge $total ]]"
uploaded=$(seeder_uploaded)
echo "after completion: daemon 2 downloaded $after bytes, daemon 1 uploaded $uploaded bytes," \
  "release $total bytes"
# The seeder's counter survives the fetcher's kill -9, so it is the honest measure of how much
# went over the wire in both sessions.
# Sent twice = uploaded - total. A restart that threw away the first session's pieces would
# resend all $before bytes; allow half of that for blocks in flight or unflushed at the kill.
resent=$((uploaded - total))
echo "sent twice: $resent bytes of the $before downloaded before the kill"
[[ $resent -lt $((before / 2)) && $uploaded -lt $((total * 3 / 2)) ]] &&
  pass "verified pieces were not downloaded again" ||
  fail "the seeder uploaded $uploaded bytes for a $total-byte release ($before before the kill)"
[[ $after -lt $((total * 3 / 2)) ]] && pass "the fetcher's counter agrees" ||
  fail "daemon 2 downloaded $after bytes for a $total-byte release"
view=$(jq -r .path <<<"$r")
(cd "$T/w" && sha256sum -- * | sort -k2) >"$T/expected"
expect_view_matches "$view" "$T/expected"

[[ $failures -eq 0 ]] || show_logs
finish
