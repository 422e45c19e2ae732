#!/usr/bin/env bash
# Feeds over HTTP(S) from a real nginx on loopback: a daemon subscribes over http://, picks up
# new releases on `feed refresh` and on its own interval, and refuses a tampered file, a 500
# and a stopped server precisely while keeping what it trusted. Then https:// with a CA the
# test generates (SSL_CERT_FILE), a daemon that does not trust it, and a feed whose primary
# location fails over to an https mirror, and a feed whose timestamp expires goes stale but keeps
# serving its verified release.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x $NGINX ]]; then
  echo "SKIP: nginx is not installed (scripts/install-deps --test)"
  exit 125
fi

model=http-org/tiny
"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" 1 http >/dev/null
# nginx serves $T/served, a symlink swapped atomically to a full copy of the publisher's public
# dir, so a periodic refresh never sees a half-written (or half-tampered) feed.
snap=0
serve() { # [TAMPER-COMMAND...]: copy public/, optionally change the copy, swap it in
  snap=$((snap + 1))
  cp -a "$T/pub/public" "$T/snap$snap"
  if (($# > 0)); then (cd "$T/snap$snap" && "$@"); fi
  ln -sfn "$T/snap$snap" "$T/served.new" && mv -T "$T/served.new" "$T/served"
}
publish() { # REVISION
  "$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision "$1" --license mit \
    --publish >/dev/null
  serve
}
publish r1
root=$T/pub/public/metadata/1.root.json

# A CA and a server certificate for 127.0.0.1 (and nothing else).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
  -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile "$T/srv.ext" -out "$T/srv.pem" 2>/dev/null

# nginx with its own prefix; /feed/ serves the publisher's public dir, /missing/ is empty and
# $T/ngx/fail500 switches /feed/ to HTTP 500.
mkdir -p "$T/ngx/tmp" "$T/empty"
nginx_pid=
start_nginx() {
  local tries
  for tries in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 20000))
    tls_port=$((port + 20000))
    cat >"$T/ngx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/ngx/nginx.pid;
error_log $T/ngx/error.log;
$( ((EUID == 0)) && echo "user root;")
events { worker_connections 64; }
http {
  access_log $T/ngx/access.log;
  client_body_temp_path $T/ngx/tmp/body;
  proxy_temp_path $T/ngx/tmp/proxy;
  fastcgi_temp_path $T/ngx/tmp/fastcgi;
  uwsgi_temp_path $T/ngx/tmp/uwsgi;
  scgi_temp_path $T/ngx/tmp/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$port;
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $T/srv.pem;
    ssl_certificate_key $T/srv.key;
    location /feed/ {
      if (-f $T/ngx/fail500) { return 500; }
      alias $T/served/;
    }
    location /missing/ { alias $T/empty/; }
    location /short/ { alias $T/pub2/public/; }
  }
}
EOF
    "$NGINX" -p "$T/ngx" -c "$T/ngx/nginx.conf" -e "$T/ngx/error.log" 2>>"$T/ngx/start.log" &
    nginx_pid=$!
    local deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)); do
      if curl -sf -o /dev/null "http://127.0.0.1:$port/feed/metadata/timestamp.json"; then
        return 0
      fi
      kill -0 "$nginx_pid" 2>/dev/null || break # port taken: try another
      sleep 0.1
    done
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  done
  echo "FAIL: nginx did not start" >&2
  cat "$T/ngx/error.log" "$T/ngx/start.log" >&2 || true
  exit 1
}
stop_nginx() {
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
}
trap 'stop_nginx; stop_all_daemons' EXIT
start_nginx
url=http://127.0.0.1:$port/feed
tls_url=https://127.0.0.1:$tls_port/feed

cat >"$T/weightsd.toml" <<EOF
[feeds]
refresh_interval = "3s"
retry_interval = "1s"
http_timeout = "5s"
EOF
start_daemon 1 --config "$T/weightsd.toml"

feed_field() { # N JQ-FILTER
  ctl "$1" --json feed status demo | jq -r "$2"
}

# --- subscribe over http:// --------------------------------------------------------------------
expect_ok "daemon subscribes to the feed over http" ctl 1 --json feed add demo "$url" --root "$root"
[[ $(jq -r '.result + " " + (.releases|tostring)' <<<"$LAST_OUT") == "updated 1" ]] &&
  pass "first refresh over http trusts 1 release" || fail "feed add: $LAST_OUT"
expect_ok "the daemon seeds r1 with manifest and torrent read over http" \
  ctl 1 --json seed "$T/w" --feed demo --model "$model" --revision r1
[[ $(jq -r .state <<<"$LAST_OUT") == complete ]] && pass "seeded release is complete" ||
  fail "seed: $LAST_OUT"

# Release manifests fetched from nginx (its access log is written per request).
manifest_gets() { grep -c "\.$1\.release\.json" "$T/ngx/access.log" || true; }
r1_gets=$(manifest_gets r1)
((r1_gets >= 1)) && pass "the first refresh fetched r1's manifest" || fail "r1 never fetched"
publish r2
expect_ok "feed refresh picks up r2" ctl 1 --json feed refresh demo
[[ $(jq -r .releases <<<"$LAST_OUT") == 2 ]] && pass "2 releases after refresh" ||
  fail "refresh: $LAST_OUT"
# r1's target entry is unchanged and its manifest is in the daemon's cache: not fetched again.
[[ $(manifest_gets r1) == "$r1_gets" && $(manifest_gets r2) -ge 1 ]] &&
  pass "the refresh fetched r2's manifest and not the unchanged r1's again" ||
  fail "manifest fetches: r1 $(manifest_gets r1) (was $r1_gets), r2 $(manifest_gets r2)"

publish r3
wait_until "the interval refresh to pick up r3" 20 \
  bash -c "[[ \$(\"$W\" --socket $T/d1/ctl.sock --json feed status demo | jq -r .releases) == 3 ]]" &&
  pass "the interval refresh picked up r3" || fail "no interval refresh: $(ctl 1 feed status demo)"
targets_before=$(feed_field 1 .roles.targets.version)

# --- refusals keep the trusted state -------------------------------------------------------------
# A tampered release manifest: one byte longer than the targets metadata pins.
"$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision r4 --license mit \
  --publish >/dev/null
tamper() { find targets -name '*.r4.release.json' -exec sh -c 'printf " " >>"$1"' _ {} \; ; }
serve tamper
expect_fail "a tampered manifest is refused" 75 "length_mismatch|longer than the [0-9]+ bytes pinned" \
  ctl 1 feed refresh demo
[[ $(feed_field 1 '.last_refusal.code') == length_mismatch ]] &&
  pass "status names the tampered manifest (length_mismatch)" ||
  fail "status after tamper: $(ctl 1 --json feed status demo)"
[[ $(feed_field 1 '.releases') == 3 && $(feed_field 1 .roles.targets.version) == "$targets_before" ]] &&
  pass "trusted state unchanged after the tampered manifest" || fail "state changed: $(ctl 1 feed status demo)"

touch "$T/ngx/fail500"
expect_fail "a 500 is refused" 69 "HTTP 500 Internal Server Error" ctl 1 feed refresh demo
expect_ok "feed status after the 500" ctl 1 feed status demo
# The first request of a refresh asks for the next root version; only a 404 ends that chain.
grep -qE "last refusal: .* unavailable: feed demo: root v2: http://127.0.0.1:$port/feed/metadata/2.root.json: HTTP 500 Internal Server Error" <<<"$LAST_OUT" &&
  pass "status shows the 500 as the last refusal" || fail "status: $LAST_OUT"
[[ $(feed_field 1 '.refresh.consecutive_failures') -ge 1 ]] && pass "failures are counted for back-off" ||
  fail "no failure count: $(ctl 1 --json feed status demo)"
rm -f "$T/ngx/fail500"
serve

expect_ok "the repaired feed refreshes" ctl 1 --json feed refresh demo
[[ $(jq -r .releases <<<"$LAST_OUT") == 4 ]] && pass "4 releases after the repair" ||
  fail "after repair: $LAST_OUT"

# --- https, CA from SSL_CERT_FILE, mirror rotation --------------------------------------------
SSL_CERT_FILE=$T/ca.pem start_daemon 2
expect_ok "daemon 2 subscribes over https with the test CA" ctl 2 --json feed add demo "$tls_url" \
  --root "$root"
[[ $(jq -r '.result + " " + (.releases|tostring)' <<<"$LAST_OUT") == "updated 4" ]] &&
  pass "https refresh trusts 4 releases" || fail "https add: $LAST_OUT"
expect_ok "daemon 2 follows a feed whose primary fails, via an https mirror" \
  ctl 2 --json feed add mirrored "http://127.0.0.1:$port/missing/" --mirror "$tls_url" --root "$root"
[[ $(jq -r '.result + " " + .refresh.location + " " + .mirrors[0]' <<<"$LAST_OUT") == "updated $tls_url $tls_url" ]] &&
  pass "mirror rotation: the refresh came from the mirror" || fail "mirror: $LAST_OUT"

# --- a feed whose timestamp expires while nothing fresher is served: stale, keeps its releases --
"$W" feed init "$T/pub2" --timestamp-expiry 3s >/dev/null
"$W" release add "$T/w" --feed "$T/pub2" --model short-org/tiny --revision s1 --license mit \
  --publish >/dev/null
expect_ok "daemon 2 subscribes to a feed with a 3 s timestamp" ctl 2 --json feed add short \
  "http://127.0.0.1:$port/short" --root "$T/pub2/public/metadata/1.root.json"
[[ $(jq -r '.result + " " + (.releases|tostring)' <<<"$LAST_OUT") == "updated 1" ]] &&
  pass "short feed trusted" || fail "short feed: $LAST_OUT"
wait_until "the short feed to go stale" 15 \
  bash -c "\"$W\" --socket $T/d2/ctl.sock feed status short | grep -q 'STALE since'" &&
  pass "status says STALE since T" || fail "not stale: $(ctl 2 feed status short)"
expect_fail "refreshing a frozen feed is refused as stale" 75 "feed is stale since" \
  ctl 2 feed refresh short
[[ $(ctl 2 --json feed status short | jq -r '.releases') == 1 ]] &&
  pass "a stale feed keeps serving its verified release" || fail "stale: $(ctl 2 feed status short)"
expect_ok "a stale feed's verified release can still be seeded" ctl 2 --json seed "$T/w" \
  --feed short --model short-org/tiny --revision s1

start_daemon 3
expect_ok "daemon 3 adds the https feed without the CA" ctl 3 --json feed add demo "$tls_url" \
  --root "$root"
[[ $(jq -r .last_refusal.message <<<"$LAST_OUT") == *"TLS certificate verification failed for 127.0.0.1"* ]] &&
  pass "an untrusted certificate is refused" || fail "tls: $LAST_OUT"

# --- the server goes away ------------------------------------------------------------------------
stop_nginx
expect_fail "a stopped server is refused" 69 "cannot connect to 127.0.0.1:$port" ctl 1 feed refresh demo
[[ $(feed_field 1 '.releases') == 4 && $(feed_field 1 '.last_refusal.code') == unavailable ]] &&
  pass "trusted state kept while the server is down" || fail "down: $(ctl 1 feed status demo)"
expect_ok "releases still resolve from the trusted state" ctl 1 --json status "$model@r1"

finish
