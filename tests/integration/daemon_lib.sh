# Helpers for tests that run real weightsd processes on loopback (sourced after lib.sh).
# Daemon N listens on 127.0.0.(N+1) with an ephemeral port; its state, socket and log live in
# $T/dN. Every daemon runs the private network profile (no DHT routers, no LSD); its effective
# config is checked before it starts and its status once it answers (harness.sh
# weightsd_check_config, weightsd_check_exposure: loopback only, or the test fails), and it is
# killed when the test exits.
: "${WEIGHTSD:?WEIGHTSD must point at the weightsd binary}"

# Waits, nginx, opentracker, qBittorrent, Transmission, namespaces: shared with bench/.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

daemon_pids=()
stop_all_daemons() {
  local p
  for p in "${daemon_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  harness_stop_all
  rm -rf "$T"
}
trap stop_all_daemons EXIT

start_daemon() { # N [extra weightsd flags...]
  local n=$1
  shift
  start_daemon_ns "$n" "" "127.0.0.$((n + 1))" "$@"
}

# start_daemon_ns N NETNS IP [weightsd flags...] : daemon N listening on IP:0 (IP:$START_PORT
# when set: a port chosen before the start), inside NETNS (netns_lib.sh) unless NETNS is empty.
# The control socket is a file, so weightsctl reaches it from outside the namespace.
start_daemon_ns() {
  local n=$1 ns=$2 ip=$3:${START_PORT:-0}
  shift 3
  local d=$T/d$n pre=()
  [[ -z $ns ]] || pre=(ip netns exec "$ns") # exec'd: $! stays weightsd's pid
  mkdir -p "$d"
  weightsd_check_config "$WEIGHTSD" "$ns" --state-dir "$d/state" --socket "$d/ctl.sock" \
    --listen "$ip" "$@" || return 1
  "${pre[@]}" "$WEIGHTSD" --state-dir "$d/state" --socket "$d/ctl.sock" --listen "$ip" \
    "$@" >>"$d/log" 2>&1 &
  local pid=$!
  disown "$pid"
  daemon_pids+=("$pid")
  echo "$pid" >"$d/pid"
  if ! wait_until "daemon $n to listen" 30 ctl "$n" status; then
    echo "--- daemon $n log:" >&2
    cat "$d/log" >&2
    return 1
  fi
  weightsd_check_exposure "$d/ctl.sock" "$ns"
}

kill_daemon() { # N SIGNAL
  local pid
  pid=$(cat "$T/d$1/pid")
  kill "-$2" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
}

ctl() { # N weightsctl-args...
  local n=$1
  shift
  "$W" --socket "$T/d$n/ctl.sock" "$@"
}

peer_of() { # N -> "127.0.0.(N+1):PORT"
  echo "127.0.0.$(($1 + 1)):$(ctl "$1" --json status | jq -r .listen_port)"
}

show_logs() {
  local d
  for d in "$T"/d*; do
    echo "--- $(basename "$d") log (tail):" >&2
    tail -n 40 "$d/log" >&2 || true
  done
}

# start_seeder_and_fetcher MODEL REV UPLOAD_RATE : daemon 1 seeds $T/w as MODEL@REV with its
# upload limited to UPLOAD_RATE bytes/s ($T/slow.toml, which loopback peers obey too) and daemon
# 2 is up to fetch it; both subscribe to the feed in $T/pub (root of trust $root) as "demo".
start_seeder_and_fetcher() {
  local model=$1 rev=$2 rate=$3 n
  printf '[limits]\nupload_rate = %d\n' "$rate" >"$T/slow.toml"
  start_daemon 1 --config "$T/slow.toml"
  start_daemon 2
  for n in 1 2; do
    expect_ok "daemon $n subscribes to the feed" ctl "$n" feed add demo "$T/pub/public" --root "$root"
  done
  expect_ok "daemon 1 seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" \
    --revision "$rev"
}

# expect_view_matches VIEW EXPECTED : passes when the files in VIEW (a release's view path;
# "null" when it has none) have the SHA-256 sums listed in EXPECTED (`sha256sum -- *`, sorted by
# name); fails otherwise.
expect_view_matches() {
  local view=$1 expected=$2
  if [[ $view != null ]] && (cd "$view" && sha256sum -- * | sort -k2) >"$T/got" &&
    cmp -s "$expected" "$T/got"; then
    pass "every file's SHA-256 matches the source"
  else
    fail "the fetched files differ from the source (view $view)"
  fi
}
