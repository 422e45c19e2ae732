# Two network namespaces joined by a veth pair, created by the test and deleted when it exits
# (sourced after bt_lib.sh). For clients that refuse 127.0.0.0/8 peers (Transmission 3 treats
# them as "martian"): addresses come from 198.18.0.0/24 (RFC 2544 benchmarking range), which
# exists only inside these namespaces, so nothing can leave the machine.
#   NS_A: 198.18.0.1 and 198.18.0.3 (and whatever the test adds), NS_B: 198.18.0.2.

netns_setup() {
  NS_A=wtA$$
  NS_B=wtB$$
  if ! ip netns add "$NS_A" 2>"$T/netns.err"; then
    echo "SKIP: cannot create a network namespace: $(cat "$T/netns.err")" >&2
    exit 125
  fi
  bt_cleanup_hooks+=("ip netns del $NS_A 2>/dev/null")
  ip netns add "$NS_B"
  bt_cleanup_hooks+=("ip netns del $NS_B 2>/dev/null")
  ip link add "va$$" netns "$NS_A" type veth peer name "vb$$" netns "$NS_B"
  ip -n "$NS_A" link set lo up
  ip -n "$NS_B" link set lo up
  ip -n "$NS_A" addr add 198.18.0.1/24 dev "va$$"
  ip -n "$NS_A" addr add 198.18.0.3/24 dev "va$$"
  ip -n "$NS_B" addr add 198.18.0.2/24 dev "vb$$"
  ip -n "$NS_A" link set "va$$" up
  ip -n "$NS_B" link set "vb$$" up
  # IPv4 addresses are usable as soon as the link is up on both ends.
  wait_until "the veth pair to come up" 10 bash -c \
    "ip -n $NS_A -br link show va$$ | grep -qw UP && ip -n $NS_B -br link show vb$$ | grep -qw UP"
}

# start_daemon_ns N NETNS IP [weightsd flags...] : like start_daemon, inside NETNS on IP:0.
# The control socket is a file, so weightsctl reaches it from outside the namespace.
start_daemon_ns() {
  local n=$1 ns=$2 ip=$3
  shift 3
  local d=$T/d$n
  mkdir -p "$d"
  ip netns exec "$ns" "$WEIGHTSD" --state-dir "$d/state" --socket "$d/ctl.sock" \
    --listen "$ip:0" "$@" >>"$d/log" 2>&1 &
  local pid=$!
  disown "$pid"
  daemon_pids+=("$pid")
  echo "$pid" >"$d/pid"
  if ! wait_until "daemon $n to listen" 30 ctl "$n" status; then
    cat "$d/log" >&2
    return 1
  fi
}
