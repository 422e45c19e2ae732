#!/usr/bin/env bash
# The start-up warning for an old libtorrent on a node remote peers can reach
# (docs/threat-model.md "libtorrent"): a daemon listening on 0.0.0.0 logs it when the loaded
# libtorrent is older than 2.0.14; a daemon on a loopback address never does. The public
# listener runs in a network namespace the test creates, which has only its own loopback, so
# nothing is reachable from outside the machine and nothing leaves it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"
source "$(dirname "$0")/bt_lib.sh"
source "$(dirname "$0")/netns_lib.sh"
need_cmds ip pkg-config

# Debian's loader resolves the same library the headers came from: compare with its version.
lt_version=$(pkg-config --modversion libtorrent-rasterbar)
older=$(printf '%s\n%s\n' "$lt_version" 2.0.14 | sort -V | head -n1)
if [[ $lt_version != 2.0.14 && $older == "$lt_version" ]]; then expect_warning=1; else expect_warning=0; fi
pattern="libtorrent [0-9.]+ is older than 2\.0\.14"

netns_setup
start_daemon_ns 1 "$NS_A" 0.0.0.0
start_daemon 2
# Both daemons answer status, so the session (and the check before it) has started.
if ((expect_warning)); then
  if grep -qE "$pattern.*non-loopback address" "$T/d1/log"; then
    pass "a daemon on 0.0.0.0 with libtorrent $lt_version logs the warning"
  else
    fail "no warning in the log of a daemon on 0.0.0.0: $(cat "$T/d1/log")"
  fi
else
  if grep -qE "$pattern" "$T/d1/log"; then
    fail "libtorrent $lt_version is recent enough, yet warned: $(cat "$T/d1/log")"
  else
    pass "libtorrent $lt_version is recent enough: no warning"
  fi
fi
if grep -qE "$pattern" "$T/d2/log"; then
  fail "a daemon on 127.0.0.3 only warned: $(cat "$T/d2/log")"
else
  pass "a daemon on a loopback address does not warn"
fi
finish
