#!/usr/bin/env bash
# `weightsctl release add --from-hf` against the hub double (tests/lib/hub_double.py: real git
# repositories over git http-backend, the hub's API and resolve) behind a real nginx on loopback,
# with the LFS files on a "CDN" on a second port over TLS: a release is imported and every file
# checked against the commit's git objects; an interrupted download resumes with a Range request;
# the token goes to the hub only, never to the CDN; a gated (401), a deleted (404) and a tampered
# repository are refused, the tampered one before anything is staged; the import (API, git and
# CDN) goes through http_proxy/https_proxy (a real tinyproxy, CONNECT for the https CDN) and
# fails when the proxy is down. Also --from-hf-cache. (hf_import_git_test.sh: the tamper modes,
# a dead git endpoint and expiring CDN URLs.)
source "$(dirname "$0")/lib.sh"
source "$WEIGHTS_SOURCE_DIR/tests/lib/harness.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || { echo "skip: nginx not installed (scripts/install-deps --test)"; exit 125; }
command -v fcgiwrap >/dev/null || [[ -x /usr/sbin/fcgiwrap ]] ||
  { echo "skip: fcgiwrap not installed (scripts/install-deps --test)"; exit 125; }

now=2026-06-01T00:00:00Z

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hub_port=$(free_port)
cdn_port=$(free_port)
hub=http://127.0.0.1:$hub_port
# The "CDN" speaks TLS, like the hub's: a certificate for localhost that only this test trusts.
cdn=https://localhost:$cdn_port
mkdir -p "$T/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" 2>/dev/null
export SSL_CERT_FILE=$T/tls/cert.pem

# The repository: safetensors shards (LFS) and small JSON files (git blobs), one in a subfolder.
src=$T/src
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$src" 1
mkdir -p "$src/sub" && echo '{"note": "nested"}' >"$src/sub/extra.json"
replica=$T/replica
double=$WEIGHTS_SOURCE_DIR/tests/lib/hub_double.py
sha=$(python3 "$double" build "$replica" test-org/tiny "$src")
sha_t=$(python3 "$double" build "$replica" test-org/tampered "$src" --tamper lfs-bytes)
# A gated repository needs the token on the API, resolve and git.
python3 "$double" build "$replica" gated-org/tiny "$src" --gated hf_test_token >/dev/null

start_fcgiwrap
mkdir -p "$T/nginx/logs"
# As root, nginx's workers would run as www-data, which cannot read this test's 0700 temp dir.
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root root;"
cat >"$T/nginx/nginx.conf" <<EOF
$user_line
daemon on;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  log_format auth '\$status \$request_method \$request_uri range=\$http_range auth=\$http_authorization';
  server {
    listen 127.0.0.1:$hub_port;
    access_log $T/nginx/logs/hub.log auth;
    location /api/models/gone-org/ { return 404 '{"error":"Repository not found"}'; }
    $(hub_double_locations "$replica" "$cdn")
  }
  server {
    listen 127.0.0.1:$cdn_port ssl;
    ssl_certificate $T/tls/cert.pem;
    ssl_certificate_key $T/tls/key.pem;
    access_log $T/nginx/logs/cdn.log auth;
    $(hub_double_cdn_locations "$replica")
  }
}
EOF
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/logs/error.log"
trap '[[ -f $T/nginx/nginx.pid ]] && kill "$(cat "$T/nginx/nginx.pid")"; harness_stop_all; rm -rf "$T"' EXIT
wait_for_port() {
  local deadline=$((SECONDS + 10))
  until curl -s -o /dev/null "$1"; do
    ((SECONDS < deadline)) || { echo "nginx did not start"; cat "$T/nginx/logs/error.log"; exit 1; }
    sleep 0.1
  done
}
wait_for_port "$hub/api/models/test-org/tiny/revision/main"

expect_ok "feed init" "$W" feed init "$T/pub" --now "$now"

# --- interrupted download resumes ---------------------------------------------------------
shard=model-00001-of-00002.safetensors
mkdir -p "$T/dl"
head -c 300000 "$src/$shard" >"$T/dl/$shard.part"
expect_ok "release add --from-hf imports the repository" env HF_TOKEN=hf_test_token \
  "$W" --json release add "$T/dl" --from-hf test-org/tiny@main --endpoint "$hub" \
  --feed "$T/pub" --now "$now"
out=$(sed -n '/^{/,$p' <<<"$LAST_OUT")  # the JSON on stdout, after the trust note on stderr
[[ $(jq -r .revision <<<"$out") == "$sha" ]] && pass "revision is the resolved commit" ||
  fail "revision: $out"
[[ $(jq -r .model <<<"$out") == test-org/tiny ]] && pass "model defaults to the repo id" ||
  fail "model: $out"
[[ $(jq -r '.files | length' <<<"$out") == 8 ]] && pass "8 files imported (.gitattributes too)" ||
  fail "files: $out"
for f in $(cd "$src" && find . -type f | sed 's|^\./||'); do
  cmp -s "$src/$f" "$T/dl/$f" || fail "downloaded $f differs from the source"
done
grep -q "GET /test-org/tiny/resolve/$sha/$shard range=bytes=300000-" "$T/nginx/logs/hub.log" &&
  grep -q "^206 GET /cdn/.* range=bytes=300000-" "$T/nginx/logs/cdn.log" &&
  pass "the partial download resumed with a Range request (206 from the CDN)" ||
  fail "no resumed range request: $(cat "$T/nginx/logs/hub.log" "$T/nginx/logs/cdn.log")"
grep -q "auth=Bearer hf_test_token" "$T/nginx/logs/hub.log" &&
  pass "HF_TOKEN is sent to the hub as a Bearer token" || fail "no token at the hub"
if grep -q "auth=Bearer" "$T/nginx/logs/cdn.log"; then
  fail "the token leaked to the CDN: $(cat "$T/nginx/logs/cdn.log")"
else
  pass "the token is not sent to the CDN (another origin)"
fi
# --- proxies ---------------------------------------------------------------------------------
# The import honours http_proxy (the hub here is plain http: absolute-form requests) and
# https_proxy (the CDN is https: CONNECT) through a real proxy; a proxy that is down fails the
# import instead of being bypassed.
expect_fail "a proxy that is down fails the import instead of being bypassed" 69 \
  "cannot connect to proxy 127.0.0.1:1" \
  env -u no_proxy -u NO_PROXY http_proxy=http://127.0.0.1:1 "$W" release add "$T/noproxy" \
  --from-hf test-org/tiny --endpoint "$hub" --feed "$T/pub" --now "$now"
TINYPROXY=$(command -v tinyproxy || true)
if [[ -z $TINYPROXY ]]; then
  echo "skip: tinyproxy not installed (scripts/install-deps --test): import through a proxy"
else
  proxy=http://127.0.0.1:$(free_port)
  cat >"$T/tinyproxy.conf" <<EOF
Port ${proxy##*:}
Listen 127.0.0.1
Timeout 30
MaxClients 16
Allow 127.0.0.1
ConnectPort $cdn_port
LogFile "$T/tinyproxy.log"
LogLevel Connect
EOF
  "$TINYPROXY" -d -c "$T/tinyproxy.conf" >"$T/tinyproxy.out" 2>&1 &
  proxy_pid=$!
  trap 'kill "$proxy_pid" 2>/dev/null; [[ -f $T/nginx/nginx.pid ]] && kill "$(cat "$T/nginx/nginx.pid")"; harness_stop_all; rm -rf "$T"' EXIT
  deadline=$((SECONDS + 10))
  until curl -s -o /dev/null -x "$proxy" "$hub/api/models/test-org/tiny/revision/main"; do
    ((SECONDS < deadline)) || { fail "tinyproxy did not start: $(cat "$T/tinyproxy.out")"; break; }
    sleep 0.1
  done
  expect_ok "feed init (proxy run)" "$W" feed init "$T/pub-proxy" --now "$now"
  expect_ok "release add --from-hf through http_proxy and https_proxy (tinyproxy)" \
    env -u no_proxy -u NO_PROXY http_proxy="$proxy" https_proxy="$proxy" \
    "$W" release add "$T/viaproxy" --from-hf test-org/tiny --endpoint "$hub" \
    --feed "$T/pub-proxy" --now "$now"
  grep -q "CONNECT localhost:$cdn_port" "$T/tinyproxy.log" &&
    pass "the https CDN was reached with CONNECT through https_proxy" ||
    fail "no CONNECT in the proxy log: $(cat "$T/tinyproxy.log")"
  grep -q "GET $hub/api/models/test-org/tiny/revision/main" "$T/tinyproxy.log" &&
    pass "the plain-http hub API was reached through http_proxy" ||
    fail "no hub request in the proxy log: $(cat "$T/tinyproxy.log")"
  grep -q "POST $hub/test-org/tiny/git-upload-pack" "$T/tinyproxy.log" &&
    pass "the git fetch of the pinned commit went through http_proxy" ||
    fail "no git request in the proxy log: $(cat "$T/tinyproxy.log")"
  for f in $(cd "$src" && find . -type f | sed 's|^\./||'); do
    cmp -s "$src/$f" "$T/viaproxy/$f" || fail "$f downloaded through the proxy differs"
  done
fi

# The CDN's certificate is checked: without the test's trust anchor the download is refused.
expect_fail "an untrusted TLS certificate is refused" 74 "TLS certificate verification failed" \
  env -u SSL_CERT_FILE SSL_CERT_DIR=/nonexistent "$W" release add "$T/untrusted" \
  --from-hf test-org/tiny --endpoint "$hub" --feed "$T/pub" --now "$now"
# The staged manifest (targets are stored under consistent, hash-prefixed names).
m=$(grep -l '"model": "test-org/tiny"' $(grep -rl '"weights-release/v1"' "$T/pub/public/targets") | head -1)
# The manifest names LFS files by SHA-256 only and small files also by their git blob id.
python3 - "$m" "$T/dl" <<'EOF' && pass "manifest git_oid set exactly for non-LFS files" || fail "manifest oids: $(cat "$m")"
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
for f in m["files"]:
    data = open(sys.argv[2] + "/" + f["path"], "rb").read()
    assert f["sha256"] == hashlib.sha256(data).hexdigest(), f
    if f["path"].endswith(".safetensors"):
        assert "git_oid" not in f, f
    else:
        assert f["git_oid"] == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), f
assert m["upstream"] == {"kind": "huggingface", "repo": "test-org/tiny"}, m["upstream"]
assert m["license"] == "mit"
EOF

# --- refusals -------------------------------------------------------------------------------
expect_fail "a gated repository without a token is refused" 77 "gated repository: .*GatedRepo" \
  env -u HF_TOKEN "$W" release add "$T/g" --from-hf gated-org/tiny --endpoint "$hub" \
  --feed "$T/pub" --now "$now"
grep -q "HF_TOKEN" <<<"$LAST_OUT" && pass "the gated error hints at HF_TOKEN" || fail "$LAST_OUT"
expect_ok "the gated repository imports with the token (on the API and on git)" \
  env HF_TOKEN=hf_test_token \
  "$W" release add "$T/g" --from-hf gated-org/tiny --endpoint "$hub" --feed "$T/pub" --now "$now"
grep -q "^200 GET /gated-org/tiny/info/refs?service=git-upload-pack range=- auth=Bearer hf_test_token" \
  "$T/nginx/logs/hub.log" && pass "HF_TOKEN reaches the hub's git endpoint, which needs it" ||
  fail "no authorized git request: $(grep gated-org "$T/nginx/logs/hub.log")"
expect_fail "a deleted repository is refused" 66 "HTTP 404" \
  "$W" release add "$T/gone" --from-hf gone-org/tiny --endpoint "$hub" --feed "$T/pub" --now "$now"
before=$("$W" --json release list --feed "$T/pub" | jq -c '[.[].model] | sort')
expect_fail "a tampered LFS file is refused before signing" 75 \
  "refused before signing.*$shard: SHA-256 .* differs from .* pinned by commit ${sha_t:0:12}" \
  "$W" release add "$T/tam" --from-hf test-org/tampered --endpoint "$hub" --feed "$T/pub" \
  --now "$now"
after=$("$W" --json release list --feed "$T/pub" | jq -c '[.[].model] | sort')
[[ $before == "$after" && $after != *tampered* ]] && pass "nothing of the tampered repo is staged" ||
  fail "staged releases changed: $before -> $after"
[[ ! -e $T/tam/$shard ]] && pass "the tampered download was removed" || fail "bad file kept"
expect_fail "an unreachable endpoint is an error, not a hang" 69 "cannot connect|timed out" \
  "$W" release add "$T/x" --from-hf test-org/tiny --endpoint "http://127.0.0.1:1" \
  --feed "$T/pub" --now "$now"

# --- --from-hf-cache ---------------------------------------------------------------------------
# The cache layout huggingface_hub writes: blobs named by hash, snapshot entries linking to them.
cache=$T/hub-cache/models--cache-org--tiny
mkdir -p "$cache/blobs" "$cache/refs" "$cache/snapshots/$sha/sub"
python3 - "$src" "$cache" "$sha" <<'EOF'
import hashlib, os, sys
src, cache, sha = sys.argv[1:]
for dirpath, _, names in os.walk(src):
    for n in names:
        full = os.path.join(dirpath, n); rel = os.path.relpath(full, src)
        data = open(full, "rb").read()
        name = (hashlib.sha256(data).hexdigest() if rel.endswith(".safetensors")
                else hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
        open(os.path.join(cache, "blobs", name), "wb").write(data)
        link = os.path.join(cache, "snapshots", sha, rel)
        os.symlink(os.path.relpath(os.path.join(cache, "blobs", name), os.path.dirname(link)), link)
open(os.path.join(cache, "refs", "main"), "w").write(sha)
EOF
expect_ok "release add --from-hf-cache imports a cached snapshot" "$W" --json release add \
  --from-hf-cache "$cache" --license apache-2.0 --feed "$T/pub" --now "$now"
[[ $(jq -r .model <<<"$LAST_OUT")@$(jq -r .revision <<<"$LAST_OUT") == "cache-org/tiny@$sha" ]] &&
  pass "cache import takes model and revision from the cache" || fail "cache import: $LAST_OUT"
# Corrupt one blob (same size): refused, naming the file.
blob=$(readlink -f "$cache/snapshots/$sha/config.json")
printf 'X' | dd of="$blob" bs=1 count=1 conv=notrunc status=none
expect_fail "a corrupt cache blob is refused" 75 "config.json: git blob id .* differs from its blob name" \
  "$W" release add --from-hf-cache "$cache/snapshots/$sha" --license mit --feed "$T/pub" \
  --model cache-org/tiny2 --now "$now"

finish
