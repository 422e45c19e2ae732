#!/usr/bin/env bash
# A feed location that stalls while serving a release's .torrent must not stall the daemon: the
# torrents are fetched on a worker thread, so while the download hangs for longer than the
# systemd watchdog interval, WATCHDOG=1 pings keep arriving (WATCHDOG_USEC=200000: one every
# 100 ms) and `weightsctl status` answers within a second. The fetch itself answers at once
# (release `resolving`), then goes on from the feed's second location (daemon 1) or fails with
# the transfer's error when there is none (daemon 2), which keeps answering too.
# A real nginx on loopback serves the publisher's feed twice: /stall/ sends .torrent bodies at
# 1 byte/s (the HTTP client gives up after feeds.http_timeout = 3 s), /feed/ normally.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
: "${NOTIFY_LISTEN:?NOTIFY_LISTEN must point at the weights_notify_listen helper}"

if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  echo "SKIP: nginx is not installed (scripts/install-deps --test)"
  exit 125
fi

model=stall-org/tiny
feed_with_release "$model" r1 1 stall >/dev/null
mkdir -p "$T/srv"
ln -s "$T/pub/public" "$T/srv/stall"
ln -s "$T/pub/public" "$T/srv/feed"
nginx_with_server 127.0.0.1 "root $T/srv;
    location / { }
    location ~ ^/stall/.*\\.torrent\$ { limit_rate 1; }"
printf '[feeds]\nhttp_timeout = "3s"\n[metrics]\nlisten = "off"\n' >"$T/feeds.toml"

now_ms() { date +%s%3N; }
pings() { grep -c '^WATCHDOG=1$' "$T/notify.out" || true; }
state_of() { # N -> the release's state ("" while the daemon does not answer within 1 s)
  timeout 1 "$W" --socket "$T/d$1/ctl.sock" --json show "$model@r1" 2>/dev/null | jq -r .state
}

# Daemon 1 under a watchdog: the stalling location first, a working mirror second.
"$NOTIFY_LISTEN" "$T/notify.sock" 600000 >"$T/notify.out" &
listener=$!
wait_until "the notify listener to bind" 10 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 start_daemon 1 --config "$T/feeds.toml"
wait_until "WATCHDOG=1 pings" 10 bash -c "grep -q '^WATCHDOG=1$' '$T/notify.out'"
expect_ok "daemon 1 subscribes: stalling location, working mirror" \
  ctl 1 feed add demo "$NGINX_URL/stall/" --mirror "$NGINX_URL/feed/" --root "$root"

started=$(now_ms)
pings_before=$(pings)
expect_ok "fetch answers at once while the torrent download stalls" \
  timeout 2 "$W" --socket "$T/d1/ctl.sock" --json fetch "$model" --no-wait
[[ $(jq -r .state <<<"$LAST_OUT") == resolving ]] ||
  fail "fetch did not answer with the release resolving: $LAST_OUT"

# While the release resolves: status answers within 1 s every time, and no second passes
# without a watchdog ping.
last_count=$(pings)
last_change=$(now_ms)
worst_gap=0
checks=0
deadline=$((SECONDS + 60))
while [[ $(state_of 1) == resolving ]] && ((SECONDS < deadline)); do
  timeout 1 "$W" --socket "$T/d1/ctl.sock" status >/dev/null ||
    { fail "status did not answer within 1 s during the stall"; break; }
  checks=$((checks + 1))
  count=$(pings)
  t=$(now_ms)
  if ((count > last_count)); then
    last_count=$count
    last_change=$t
  elif ((t - last_change > worst_gap)); then
    worst_gap=$((t - last_change))
  fi
  ((t - last_change < 1000)) || { fail "no WATCHDOG=1 ping for $((t - last_change)) ms"; break; }
  sleep 0.1 # polling interval, not synchronisation: the loop waits on the state above
done
resolving_ms=$(($(now_ms) - started))
pinged=$(($(pings) - pings_before))
echo "resolving for $resolving_ms ms: $checks status checks answered, $pinged pings," \
  "longest gap between pings seen $worst_gap ms"
before=$failures
# The stall must really have outlasted the watchdog interval, or this test proves nothing.
((resolving_ms >= 2500)) || fail "the release resolved in $resolving_ms ms: the mirror did not stall"
((checks >= 5)) || fail "only $checks status checks during the stall"
# At least half the nominal rate (one per 100 ms) over the whole stall.
((pinged * 200 >= resolving_ms)) || fail "only $pinged WATCHDOG=1 pings in $resolving_ms ms"
grep -qE '^127\.0\.0\.[0-9]+ [0-9]+ [0-9]+ "GET /stall/.*\.torrent' "$NGINX_LOG" ||
  fail "no .torrent request to the stalling location: $(cat "$NGINX_LOG")"
((failures > before)) ||
  pass "during a $resolving_ms ms torrent stall: status answered ($checks checks), $pinged pings"

wait_until "the release to leave resolving" 30 bash -c "[[ \$(timeout 1 '$W' --socket '$T/d1/ctl.sock' --json show '$model@r1' | jq -r .state) != resolving ]]"
st=$(ctl 1 --json show "$model@r1")
[[ $(jq -r '.state + " " + (.error|tostring)' <<<"$st") == "downloading null" ]] &&
  pass "the torrents came from the second location; the release downloads" ||
  fail "after the stall, the release is not downloading without error: $st"

# Removing a release while its torrent download hangs: gone at once, and when the transfer
# ends (from the mirror, after the stall) nothing comes back, not even the .torrent files.
expect_ok "daemon 1: remove the release" ctl 1 remove "$model@r1" --delete-files
expect_ok "daemon 1: fetch it again (stalls again)" \
  timeout 2 "$W" --socket "$T/d1/ctl.sock" fetch "$model" --no-wait
expect_ok "daemon 1: a release resolving is removed at once" \
  timeout 2 "$W" --socket "$T/d1/ctl.sock" remove "$model@r1"
wait_until "the dropped transfer to end" 30 grep -q 'removed while its torrents were fetched' "$T/d1/log"
expect_ok "daemon 1 answers after the transfer ended" timeout 1 "$W" --socket "$T/d1/ctl.sock" status
[[ $(ctl 1 --json list | jq '.releases | length') == 0 ]] &&
  pass "the removed release did not come back" || fail "releases after removal: $(ctl 1 --json list)"
if compgen -G "$T/d1/state/torrents/*.torrent" >/dev/null; then
  fail "torrent files left behind: $(ls "$T/d1/state/torrents")"
else
  pass "no torrent file left behind"
fi

# Daemon 2: only the stalling location. The fetch fails with the transfer's error; the daemon
# keeps answering.
start_daemon 2 --config "$T/feeds.toml"
expect_ok "daemon 2 subscribes: only the stalling location (manifests do not stall)" \
  ctl 2 feed add demo "$NGINX_URL/stall/" --root "$root"
expect_ok "daemon 2: fetch answers at once" \
  timeout 2 "$W" --socket "$T/d2/ctl.sock" fetch "$model" --no-wait
wait_until "daemon 2's release to fail" 60 bash -c "[[ \$(timeout 1 '$W' --socket '$T/d2/ctl.sock' --json show '$model@r1' | jq -r .state) == failed ]]"
st=$(ctl 2 --json show "$model@r1")
grep -qiE 'torrent' <<<"$(jq -r .error.message <<<"$st")" &&
  pass "daemon 2: the release failed with the torrent download's error: $(jq -r .error.message <<<"$st")" ||
  fail "daemon 2: unexpected error: $st"
expect_ok "daemon 2 still answers" timeout 1 "$W" --socket "$T/d2/ctl.sock" status
# A later fetch starts over (the failed attempt is replaced) and answers at once again.
expect_ok "daemon 2: a second fetch starts over at once" \
  timeout 2 "$W" --socket "$T/d2/ctl.sock" --json fetch "$model" --no-wait
[[ $(jq -r .state <<<"$LAST_OUT") == resolving ]] || fail "second fetch not resolving: $LAST_OUT"

# Shutdown while a download hangs: the daemon exits promptly and cleanly.
expect_ok "daemon 2: fetch again" timeout 2 "$W" --socket "$T/d2/ctl.sock" fetch "$model" --no-wait
pid2=$(cat "$T/d2/pid")
kill -TERM "$pid2"
wait_until "daemon 2 to exit on SIGTERM during the stall" 10 bash -c "! kill -0 $pid2"
pass "daemon 2 exited on SIGTERM while its torrent download stalled"

kill "$listener" 2>/dev/null || true
((failures == 0)) || show_logs
finish
