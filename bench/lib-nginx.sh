# bench_nginx for bench scripts (sourced): needs $work (a temp dir) and an array bench_pids whose
# processes the script kills on exit.
# bench_nginx DOCROOT IP : a private nginx (own prefix, 1 worker, sendfile) serving DOCROOT on
# IP:<free port>; sets NGINX_URL, NGINX_LOG (remote address, status, body bytes, request).
bench_nginx() {
  local docroot=$1 ip=$2 port prefix pid try bin
  bin=$(command -v nginx || echo /usr/sbin/nginx)
  [[ -x $bin ]] || { echo "nginx not installed (bench/install-deps)" >&2; return 1; }
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    ss -Hltn "src $ip:$port" | grep -q . && continue
    prefix=$work/nginx-$port
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
  default_type application/octet-stream;
  sendfile on;
  server { listen $ip:$port; root $docroot; }
}
CONF
    "$bin" -p "$prefix" -c "$prefix/nginx.conf" >"$prefix/logs/stderr" 2>&1 &
    pid=$!
    bench_pids+=("$pid")
    disown "$pid"
    local deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
      if ss -Hltn "src $ip:$port" | grep -q .; then
        NGINX_URL=http://$ip:$port
        NGINX_LOG=$prefix/logs/access.log
        return 0
      fi
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  echo "nginx did not start: $(cat "$prefix/logs/stderr" "$prefix/logs/error.log" 2>/dev/null)" >&2
  return 1
}
