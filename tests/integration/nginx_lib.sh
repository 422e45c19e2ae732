# A private nginx for tests and benchmarks (sourced; self-contained). start_nginx DOCROOT IP
# [EXTRA_LOCATION_DIRECTIVES] serves DOCROOT on IP:<free port> with its own prefix, config, pid
# file and logs under $NGINX_BASE_DIR/nginx-<port> (default: the test's $T); sets NGINX_URL
# (http://IP:PORT), NGINX_LOG (access log: remote address, status, body bytes sent, request) and
# NGINX_PID. Stopped (by pid) when the script exits. bench/ sources it too (NGINX_BASE_DIR=$work).

nginx_pids=()
nginx_stop_all() {
  local p
  for p in "${nginx_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
# Runs before whatever EXIT trap the test already had (e.g. removing $T).
_nginx_prev_trap=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
# shellcheck disable=SC2064
trap "nginx_stop_all; ${_nginx_prev_trap:-true}" EXIT

# start_nginx DOCROOT IP [EXTRA_LOCATION_DIRECTIVES] : see above.
start_nginx() {
  nginx_with_server "$2" "root $1;
    location / { ${3:-} }"
}

# start_feed_nginx IP FEED_DIR SEED_DIR [SEED_DIRECTIVES] : as start_nginx, serving a publisher's
# public dir FEED_DIR at /feed/ and a web seed SEED_DIR at /seed/ (BEP 19: base URL + torrent
# name + path), SEED_DIRECTIVES (e.g. limit_rate) applying to /seed/ only.
start_feed_nginx() {
  nginx_with_server "$1" "location /feed/ { alias $2/; }
    location /seed/ { alias $3/; ${4:-} }"
}

# nginx_with_server IP SERVER_DIRECTIVES : what start_nginx does, with SERVER_DIRECTIVES (roots and
# locations) as the body of its one server block after the listen line.
nginx_with_server() {
  local ip=$1 server=$2 try port prefix pid
  local bin
  bin=$(command -v nginx || echo /usr/sbin/nginx)
  [[ -x $bin ]] || { echo "FAIL: nginx is not installed" >&2; return 1; }
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    ss -Hltn "src $ip:$port" | grep -q . && continue
    prefix=${NGINX_BASE_DIR:-$T}/nginx-$port
    mkdir -p "$prefix/logs" "$prefix/tmp"
    cat >"$prefix/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
user root;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 256; }
http {
  log_format t '\$remote_addr \$status \$body_bytes_sent "\$request"';
  access_log $prefix/logs/access.log t;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  types { application/octet-stream safetensors; application/json json; }
  default_type application/octet-stream;
  sendfile on;
  server {
    listen $ip:$port;
    $server
  }
}
CONF
    "$bin" -p "$prefix" -c "$prefix/nginx.conf" >"$prefix/logs/stderr" 2>&1 &
    pid=$!
    nginx_pids+=("$pid")
    disown "$pid"
    local deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
      if ss -Hltn "src $ip:$port" | grep -q .; then
        NGINX_URL=http://$ip:$port
        NGINX_LOG=$prefix/logs/access.log
        NGINX_PID=$pid
        return 0
      fi
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  echo "FAIL: nginx did not start: $(cat "$prefix/logs/stderr" "$prefix/logs/error.log" 2>/dev/null)" >&2
  return 1
}

# nginx_bytes_to IP : body bytes nginx sent to IP with status 200/206.
nginx_bytes_to() {
  awk -v ip="$1" '$1 == ip && ($2 == 200 || $2 == 206) { s += $3 } END { print s + 0 }' "$NGINX_LOG"
}
