#!/usr/bin/env bash
# The only seeder of a release is killed (SIGKILL) and restarted on the same address many times
# while a fetcher downloads from it. A restarted seeder must cost the fetcher no bytes it already
# received (no fallback to the v1 companion that fetches again what the hybrid has) and no long
# stall (the fetcher dials the seeder again within seconds, not after libtorrent's one-minute
# reconnect back-off). Seeded and reproducible (SEEDER_SEED); SEEDER_RESTARTS sets the count.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

seed=${SEEDER_SEED:-16}
restarts=${SEEDER_RESTARTS:-16}
shard_mib=${SEEDER_SHARD_MIB:-32}
RANDOM=$seed

model=restart-org/seeder
rev=5eed001
feed_with_release "$model" "$rev" "$shard_mib" "seeder$seed"
total=$(du -cb "$T"/w/* | tail -1 | cut -f1)
# Spread the release over ~2 s per restart, so that every restart lands mid-fetch.
rate=$((total / (restarts * 2)))
start_seeder_and_fetcher "$model" "$rev" "$rate"
port=$(ctl 1 --json status | jq -r .listen_port)
(cd "$T/w" && sha256sum -- * | sort -k2) >"$T/expected"

# The seeder again, on the address and port the fetcher knows.
restart_seeder() {
  kill_daemon 1 KILL
  "$WEIGHTSD" --state-dir "$T/d1/state" --socket "$T/d1/ctl.sock" --listen "127.0.0.2:$port" \
    --config "$T/slow.toml" >>"$T/d1/log" 2>&1 &
  local pid=$!
  disown "$pid"
  daemon_pids+=("$pid")
  echo "$pid" >"$T/d1/pid"
  wait_until "the seeder to listen again" 30 ctl 1 status && weightsd_check_exposure "$T/d1/ctl.sock"
}

# Progress probe: records the longest time the fetcher's downloaded bytes stood still.
downloaded() { ctl 2 --json show "$model@$rev" | jq -r '"\(.state) \(.downloaded_bytes)"'; }
last_bytes=0
last_change=$(date +%s%N)
max_stall_ms=0
probe() {
  local s b now
  read -r s b < <(downloaded) || return 0
  now=$(date +%s%N)
  if [[ $s == complete ]]; then
    last_change=$now
    return 0
  fi
  if ((b > last_bytes)); then
    last_bytes=$b
    last_change=$now
  fi
  local stalled=$(((now - last_change) / 1000000))
  ((stalled > max_stall_ms)) && max_stall_ms=$stalled
  return 0
}

expect_ok "daemon 2 starts the fetch" ctl 2 fetch "$model@$rev" --peer "127.0.0.2:$port" \
  --no-wait
# The restarts begin once the fetcher is downloading from the seeder: `fetch --no-wait` answers
# while the release is still resolving (its torrents are fetched on a worker), and a hybrid that
# has never reached a seed treats a dead swarm as one a v1-only swarm may replace (3 s, see
# daemon/engine/v1_companion.hpp) -- a different rule from the one this test checks.
receiving() {
  local s b
  read -r s b < <(downloaded) || return 1
  [[ $s == complete ]] || ((b > 0))
}
wait_until "the fetcher to receive its first bytes" 30 receiving || fail "the fetch never started"
t0=$SECONDS
for ((i = 1; i <= restarts; i++)); do
  # Each seeder life: 1-3 s of serving, probing the fetcher's progress meanwhile.
  ms=$((1000 + RANDOM % 2001))
  end=$(($(date +%s%N) + ms * 1000000))
  while (($(date +%s%N) < end)); do
    probe
    sleep 0.1
  done
  restart_seeder || {
    fail "restart $i: the seeder does not start again"
    break
  }
  echo "restart $i after ${ms} ms: fetcher at $(downloaded)"
done
echo "$restarts seeder restarts in $((SECONDS - t0)) s"
until [[ $(downloaded) == complete* ]] || ((SECONDS - t0 > 300)); do
  probe
  sleep 0.1
done
r=$(ctl 2 --json show "$model@$rev")
[[ $(jq -r .state <<<"$r") == complete ]] && pass "the fetch completes" ||
  fail "the fetch did not complete: $(jq -c '{state, downloaded_bytes, error}' <<<"$r")"
view=$(jq -r .path <<<"$r")
expect_view_matches "$view" "$T/expected"

# The fetcher was never restarted: its payload counter is what it received in all.
got=$(jq -r .downloaded_bytes <<<"$r")
ratio=$(awk -v u="$got" -v t="$total" 'BEGIN { printf "%.3f", u / t }')
echo "fetcher downloaded $got bytes for a $total-byte release (${ratio}x) over $restarts" \
  "seeder restarts; longest stall ${max_stall_ms} ms"
[[ $got -le $((total * 11 / 10)) ]] && pass "seeder restarts cost no bytes already received" ||
  fail "the fetcher downloaded ${ratio}x the release over $restarts seeder restarts"
[[ $max_stall_ms -le 10000 ]] && pass "no stall longer than 10 s (longest ${max_stall_ms} ms)" ||
  fail "the fetch stood still for ${max_stall_ms} ms"

[[ $failures -eq 0 ]] || show_logs
finish
