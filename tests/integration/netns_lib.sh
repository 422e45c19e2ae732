# Two network namespaces joined by a veth pair (harness.sh netns_pair), created by the test and
# deleted when it exits (sourced after bt_lib.sh); daemon_lib.sh's start_daemon_ns runs
# weightsd inside them.
#   NS_A: 198.18.0.1 and 198.18.0.3 (and whatever the test adds), NS_B: 198.18.0.2.

netns_setup() {
  NS_A=wtA$$
  NS_B=wtB$$
  if ! netns_pair "$NS_A" "$NS_B" 198.18.0.3; then
    echo "SKIP: $NETNS_ERROR" >&2
    exit 125
  fi
}
