#!/usr/bin/env bash
# Follow policy under a disk budget that fits one release: a download that falls out of the
# follow's --latest while still running stops reserving room (it is evicted, which cancels it)
# instead of keeping the newest release out; and a follow refused for lack of room is retried
# as soon as room frees (an unpin), not a minute later; a follow's download from a web seed
# killed (-9) mid-way resumes from what is on disk. nginx serves the feed and, slowly
# (limit_rate), the web seed, so that the first download is still running when it is replaced.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

command -v nginx >/dev/null || { echo "SKIP: nginx is not installed (scripts/install-deps --test)"; exit 125; }

model=follow-org/tiny
"$W" feed init "$T/pub" >/dev/null
root=$T/pub/public/metadata/1.root.json

# nginx on a free loopback port: /feed/ is the publisher's public dir, /seed/ the web seed, slowly.
mkdir -p "$T/ws"
start_feed_nginx 127.0.0.1 "$T/pub/public" "$T/ws" "limit_rate 256k;"

publish() { # REV SEED
  bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w-$1" 4 "$2"
  mkdir -p "$T/ws/$1" && cp "$T/w-$1"/* "$T/ws/$1/"
  "$W" release add "$T/w-$1" --feed "$T/pub" --model "$model" --revision "$1" \
    --license apache-2.0 --web-seed "$NGINX_URL/seed/" --publish >/dev/null
}
# ~6 MiB releases, a 9 MiB budget: one release at a time.
cat >"$T/node.toml" <<CONF
[limits]
max_disk = "9MiB"
min_free_disk = 0
[feeds]
refresh_interval = "1s"
CONF
publish r1 follow-one
start_daemon 1 --config "$T/node.toml"
expect_ok "node subscribes to the feed" ctl 1 feed add community "$NGINX_URL/feed" \
  --root "$root"
expect_ok "node follows the model's newest release" ctl 1 follow community --model 'follow-org/*' \
  --latest 1

state_is() { [[ $(ctl 1 --json status "$1" 2>/dev/null | jq -r .state) == "$2" ]]; }
absent() { ! ctl 1 --json list | jq -e --arg id "$1" '.releases[] | select(.id == $id)' >/dev/null; }
downloading() { state_is "$model@r1" downloading; }
expect_ok "r1 is being mirrored (slowly)" wait_until "r1 downloading" 60 downloading

# r2 replaces r1 in the follow while r1 is still downloading.
publish r2 follow-two
state_is "$model@r1" complete && fail "r1 finished before r2 was published: the web seed is too fast"
r2_mirroring() { ! absent "$model@r2"; }
if wait_until "r2 to be mirrored instead of refused" 30 r2_mirroring; then
  pass "r2 is mirrored: r1 fell out of --latest 1 and stopped reserving room"
else
  fail "r2 not mirrored: $(ctl 1 --json follows | jq -c '.follows[0]')"
fi
absent "$model@r1" && pass "r1 (no longer followed, still downloading) was evicted" ||
  fail "r1 still there: $(ctl 1 --json status "$model@r1" | jq -c '{state, held}')"
# kill -9 while r2 comes from the web seed: the restart resumes from what is on disk (logged)
# and the web seed serves about one copy of r2 in all.
r2_bytes() { ctl 1 --json status "$model@r2" 2>/dev/null | jq -r '.downloaded_bytes // 0'; }
past_1mib() { (($(r2_bytes) > 1048576)); }
expect_ok "r2 downloads 1 MiB from the web seed" wait_until "r2 progress" 60 past_1mib
kill_daemon 1 KILL
start_daemon 1 --config "$T/node.toml"
expect_ok "r2 completes after a kill -9" wait_until "r2 complete" 120 state_is "$model@r2" complete
grep -q "$model@r2: resuming the download with" "$T/d1/log" &&
  pass "the restart resumed r2 from the pieces on disk: $(grep -o 'resuming the download with.*' "$T/d1/log" | tail -1)" ||
  fail "no 'resuming the download' line for r2"
r2_size=$(du -cb "$T"/w-r2/* | tail -1 | cut -f1)
served=$(awk '$5 ~ "^/seed/r2/" { n += $3 } END { print n + 0 }' "$NGINX_LOG")
((served <= r2_size * 11 / 10 + 1048576)) &&
  pass "the web seed served $served bytes for the $r2_size-byte r2" ||
  fail "the web seed served $served bytes for the $r2_size-byte r2"

# r2 pinned: r3 cannot fit and is refused; once r2 is unpinned r3 is mirrored within seconds.
expect_ok "pin r2" ctl 1 pin "$model@r2"
publish r3 follow-three
refused() { ctl 1 --json follows | jq -e '.follows[0].refused[] | select(.id | endswith("@r3"))' >/dev/null; }
expect_ok "r3 is refused while r2 is pinned" wait_until "r3 refused" 30 refused
expect_ok "unpin r2" ctl 1 unpin "$model@r2"
t0=$SECONDS
r3_mirroring() { ! absent "$model@r3"; }
if wait_until "r3 to be retried" 20 r3_mirroring; then
  pass "r3 was retried $((SECONDS - t0)) s after the unpin"
else
  fail "r3 not retried within 20 s of the unpin: $(ctl 1 --json follows | jq -c '.follows[0]')"
fi

[[ $failures -eq 0 ]] || show_logs
finish
