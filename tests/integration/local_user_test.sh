#!/usr/bin/env bash
# A hostile local user on a node whose weightsd runs as root with a socket other users may reach:
# the daemon reads and writes only what that user could itself, its refusals reveal no digest,
# length or existence, the state dir is off limits, one uid cannot hold every control connection,
# undecodable path segments are 400, bundle feed names are checked like feed names, and log lines
# carry no raw control characters. The user is played with setpriv (tests run as root).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then
  echo "skipped: needs root and setpriv to act as other users" >&2
  exit 125
fi
alice=42101
bob=42102
# Binaries and the temp dir must be reachable by the other uids.
chmod 0755 "$T"
PY=/usr/bin/python3
as_user() { # UID CMD...
  local u=$1
  shift
  setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
}
actl() { as_user "$alice" "$W" --socket "$T/d1/ctl.sock" "$@"; }
http_code() { # UID PATH -> HTTP status of GET PATH over the socket
  as_user "$1" curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/d1/ctl.sock" \
    "http://weightsd$2"
}
tree_sum() { # DIR -> one line summarising every name, mode, owner and content under DIR
  (cd "$1" && find . -printf '%p %m %u %s\n' | sort && find . -type f -exec sha256sum {} + | sort) |
    sha256sum
}

model=local-org/tiny
rev=1a2b3c4d
"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 2 local
"$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision "$rev" --license mit \
  --publish >/dev/null
root=$T/pub/public/metadata/1.root.json
chmod -R a+rX "$T/pub" "$T/w"
digests=$(cd "$T/w" && sha256sum -- * | cut -d' ' -f1)
lengths=$(cd "$T/w" && stat -c %s -- * | sort -u | awk '$1 >= 1000')

start_daemon 1 --log-level debug
chmod 0666 "$T/d1/ctl.sock"
ctl 1 feed add demo "$T/pub/public" --root "$root" >/dev/null
[[ $(actl --json status | jq -r .pid) -gt 0 ]] && pass "another uid reaches the control socket" ||
  fail "alice cannot talk to the daemon"

no_digest() { # NAME OUTPUT: OUTPUT names no digest or length of the published files
  local d l
  for d in $digests; do
    if grep -q "$d" <<<"$2"; then
      fail "$1: the refusal reveals a digest: $2"
      return
    fi
  done
  for l in $lengths; do
    if grep -qw "$l" <<<"$2"; then
      fail "$1: the refusal reveals a length: $2"
      return
    fi
  done
  pass "$1: no digest or length in the refusal"
}

# --- seed (read) ------------------------------------------------------------------------------
mkdir -m 0700 "$T/private"
cp "$T/w"/* "$T/private/"
expect_fail "seeding from a directory the user cannot read is refused" 77 "permission denied" \
  actl seed "$T/private" --feed demo --model "$model" --revision "$rev"
no_digest "unreadable seed dir" "$LAST_OUT"
expect_fail "the same refusal for a directory that does not exist in there" 77 "permission denied" \
  actl seed "$T/private/nothing" --feed demo --model "$model" --revision "$rev"
expect_fail "the release was not created" 66 "" ctl 1 show "$model@$rev"

mkdir "$T/partly"
cp "$T/w"/* "$T/partly/"
chmod 0755 "$T/partly"
chmod 0644 "$T/partly"/*
victim=$(cd "$T/partly" && ls | head -1)
chmod 0600 "$T/partly/$victim"
expect_fail "seeding a file the user cannot read is refused" 77 "permission denied" \
  actl seed "$T/partly" --feed demo --model "$model" --revision "$rev"
no_digest "one unreadable file" "$LAST_OUT"

expect_fail "seeding from inside the daemon's state dir is refused" 77 "state directory|permission denied" \
  actl seed "$T/d1/state" --feed demo --model "$model" --revision "$rev"

expect_ok "root seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" --revision "$rev"

# --- export / hf_cache (write) ----------------------------------------------------------------
mkdir -p "$T/rootdir/sub"
echo sentinel >"$T/rootdir/sub/keep"
before=$(tree_sum "$T/rootdir")
state_before=$(find "$T/d1/state" -maxdepth 1 | sort)
expect_fail "export into a directory the user cannot write is refused" 77 "permission denied" \
  actl export "$model@$rev" "$T/rootdir/out"
expect_fail "export into an existing directory the user cannot write is refused" 77 "permission denied" \
  actl export "$model@$rev" "$T/rootdir/sub"
expect_fail "an HF cache in a directory the user cannot write is refused" 77 "permission denied" \
  actl fetch "$model@$rev" --hf-cache "$T/rootdir/hub"
expect_fail "export into the state dir is refused" 77 "state directory|permission denied" \
  actl export "$model@$rev" "$T/d1/state/out"
[[ $(tree_sum "$T/rootdir") == "$before" ]] && pass "nothing was written into the root-owned tree" ||
  fail "the root-owned tree changed: $(find "$T/rootdir")"
[[ $(find "$T/d1/state" -maxdepth 1 | sort) == "$state_before" ]] &&
  pass "nothing new at the top of the state dir" || fail "state dir changed"
mkdir "$T/alice"
chown "$alice:$alice" "$T/alice"
expect_ok "export into the user's own directory works" actl export "$model@$rev" "$T/alice/out"

# --- control connections per uid ---------------------------------------------------------------
# alice opens 64 connections (the global limit) and keeps them idle; bob must still be served.
# Not through as_user: $! must be the process holding the sockets, to kill it.
setpriv --reuid="$alice" --regid="$alice" --clear-groups -- \
  "$PY" - "$T/d1/ctl.sock" "$T/alice/held" <<'EOF' &
import socket, sys, time
socks = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    socks.append(s)
open(sys.argv[2] + ".tmp", "w").write("64\n")
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(20)
EOF
holder=$!
wait_until "alice's 64 idle connections" 20 test -f "$T/alice/held"
# Connections are accepted in order: once alice's next one is refused, hers are all counted.
alice_refused() { [[ $(http_code "$alice" /v1/status) == 503 ]]; }
wait_until "alice to be at a connection limit" 20 alice_refused &&
  pass "the uid holding idle connections is refused more (503)" || fail "alice never refused"
code=$(http_code "$bob" /v1/status)
[[ $code == 200 ]] && pass "another uid is served while one uid holds 64 idle connections" ||
  fail "bob got HTTP $code while alice held her connections"
code=$(http_code 0 /v1/status)
[[ $code == 200 ]] && pass "root is served too" || fail "root got HTTP $code"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
alice_served() { [[ $(http_code "$alice" /v1/status) == 200 ]]; }
wait_until "alice's slots to come back" 20 alice_served && pass "closed connections free the uid's slots"

# --- undecodable path segments -----------------------------------------------------------------
for p in /v1/feeds/%FF /v1/releases/org%2F%C0%AFx%40r /v1/feeds/%E2%82 /v1/feeds/a%0Ab; do
  code=$(http_code "$alice" "$p")
  [[ $code == 400 || $code == 404 ]] && pass "GET $p is $code" || fail "GET $p is $code"
done

# --- bundle feed names -------------------------------------------------------------------------
expect_ok "root exports a bundle" ctl 1 export "$model@$rev" "$T/usb"
for bad in '../../evil' $'two\nlines'; do
  b=$T/usb-$RANDOM
  cp -r "$T/usb" "$b"
  jq --arg f "$bad" '.feed = $f' "$T/usb/weights-export.json" >"$b/weights-export.json"
  expect_fail "a bundle whose feed name is $(printf %q "$bad") is refused" 64 "feed name" \
    ctl 1 import "$b" --root "$root"
done
[[ $(ctl 1 --json feed list | jq '[.feeds[].name] | length') -eq 1 ]] &&
  pass "no feed was added by the refused bundles" || fail "feeds: $(ctl 1 --json feed list)"
# The user imports a bundle only from where they can read it.
# (weights-export.json and files/ readable, the signed metadata not.)
cp -r "$T/usb" "$T/hidden-meta"
chmod -R a+rX "$T/hidden-meta"
chmod 0700 "$T/hidden-meta/metadata"
expect_fail "importing a bundle whose metadata the user cannot read is refused" 77 \
  "permission denied" actl import "$T/hidden-meta" --root "$root" --feed alice-hidden
cp -r "$T/usb" "$T/alice/usb"
chown -R "$alice:$alice" "$T/alice/usb"
cp "$root" "$T/alice/root.json"
chmod 0644 "$T/alice/root.json"
expect_ok "the user imports a bundle of their own" \
  actl import "$T/alice/usb" --root "$T/alice/root.json" --feed alice-feed

# --- log lines ---------------------------------------------------------------------------------
# A feed location with control characters is logged when its refresh fails.
body=$(jq -n --rawfile r "$root" \
  '{name: "ctl-chars", location: "/nonexistent/a\nFAKE: forged line\u001b[2J\u0007", root: $r}')
curl -s --unix-socket "$T/d1/ctl.sock" -H 'content-type: application/json' -d "$body" \
  http://weightsd/v1/feeds >/dev/null
wait_until "the hostile location to be logged" 20 grep -q 'FAKE: forged line' "$T/d1/log"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/d1/log"; then
  fail "the log has raw control characters: $(LC_ALL=C grep -n $'[\x01-\x08\x0b-\x1f\x7f]' "$T/d1/log" | cat -v | head -5)"
else
  pass "the log has no raw control characters"
fi
if grep -q '^FAKE: forged line' "$T/d1/log"; then
  fail "a forged log line starts a line"
else
  pass "the hostile text stays inside its log line"
fi

finish
