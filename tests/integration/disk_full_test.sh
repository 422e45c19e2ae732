#!/usr/bin/env bash
# A full disk pauses a fetch with a clear no_space error, loses nothing it verified, and the
# fetch resumes by itself once space returns. The fetching daemon's state dir is a small tmpfs
# in a mount namespace the test creates (root only); the test fills it mid-download.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

if [[ $(id -u) -ne 0 ]] || ! unshare -m true 2>/dev/null; then
  echo "SKIP: needs root and mount namespaces (unshare -m)"
  exit 125
fi

model=disk-org/tiny
rev=r1
feed_with_release "$model" "$rev" 4 disk-full
total=$(du -cb "$T"/w/* | tail -1 | cut -f1)

start_daemon 1
expect_ok "seeder subscribes" ctl 1 feed add demo "$T/pub/public" --root "$root"
expect_ok "seeder seeds" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"
seeder=$(peer_of 1)

# Daemon 2 in its own mount namespace, state on a 24 MiB tmpfs, download throttled so the test
# can fill the disk before the fetch completes.
cat >"$T/d2.toml" <<CONF
[limits]
download_rate = "1MiB"
min_free_disk = 0
[metrics]
listen = "off"
CONF
mkdir -p "$T/d2/state"
unshare -m --propagation private bash -c '
  mount -t tmpfs -o size=24m tmpfs "$1" && shift && exec "$@"' _ "$T/d2/state" \
  "$WEIGHTSD" --state-dir "$T/d2/state" --socket "$T/d2/ctl.sock" --listen 127.0.0.3:0 \
  --config "$T/d2.toml" >>"$T/d2/log" 2>&1 &
d2=$!
daemon_pids+=("$d2")
echo "$d2" >"$T/d2/pid"
wait_until "daemon 2 to listen" 30 ctl 2 status || { cat "$T/d2/log"; exit 1; }
weightsd_check_exposure "$T/d2/ctl.sock" || exit 1
in_ns() { nsenter -t "$d2" -m -- "$@"; }
in_ns findmnt "$T/d2/state" >/dev/null && pass "daemon 2's state dir is its own tmpfs" ||
  fail "no tmpfs in the namespace"

expect_ok "daemon 2 subscribes" ctl 2 feed add demo "$T/pub/public" --root "$root"
expect_ok "daemon 2 starts the fetch" ctl 2 fetch "$model" --peer "$seeder" --no-wait
progress() { (($(ctl 2 --json status "$model@$rev" | jq .downloaded_bytes) > 1048576)); }
wait_until "the download to start" 30 progress || fail "no progress: $(ctl 2 --json status "$model@$rev")"

# Fill the filesystem: the next writes fail with ENOSPC.
in_ns sh -c "dd if=/dev/zero of='$T/d2/state/filler' bs=1M status=none 2>/dev/null; sync" || true
paused() { [[ $(ctl 2 --json status "$model@$rev" | jq -r '.error.code') == no_space ]]; }
if wait_until "the fetch to pause on the full disk" 60 paused; then
  pass "fetch paused: $(ctl 2 --json status "$model@$rev" | jq -r '.state + ": " + .error.message')"
else
  tail -20 "$T/d2/log" >&2
  fail "no no_space error: $(ctl 2 --json status "$model@$rev")"
fi
[[ $(ctl 2 --json status "$model@$rev" | jq -r .path) == null ]] && pass "nothing half-written is exposed" ||
  fail "a view exists while paused"

# Space returns: the fetch resumes by itself and completes, every byte verified.
in_ns rm -f "$T/d2/state/filler"
done_() { [[ $(ctl 2 --json status "$model@$rev" | jq -r .state) == complete ]]; }
if wait_until "the fetch to resume and complete" 90 done_; then
  pass "fetch resumed and completed once space returned"
else
  tail -20 "$T/d2/log" >&2
  fail "not complete: $(ctl 2 --json status "$model@$rev")"
fi
view=$(ctl 2 --json status "$model@$rev" | jq -r .path)
# The tmpfs is only visible inside the daemon's mount namespace.
if (cd "$T/w" && sha256sum -- *) >"$T/expected" && in_ns sh -c "cd '$view' && sha256sum -- *" >"$T/got" &&
  cmp -s "$T/expected" "$T/got"; then
  pass "every file's SHA-256 matches"
else
  fail "files differ"
fi
down=$(ctl 2 --json status "$model@$rev" | jq .downloaded_bytes)
((down < total * 3 / 2)) && pass "verified pieces were not downloaded again ($down of $total bytes)" ||
  fail "downloaded $down bytes for a $total-byte release"

finish
