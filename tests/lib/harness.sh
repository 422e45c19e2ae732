# The one shell library of tests/integration and bench/ (sourced): waits with a deadline, free
# ports, network namespaces, and the programs both drive next to weightsd: nginx, opentracker,
# qBittorrent-nox and Transmission; git http-backend (via fcgiwrap) and the Hugging Face Hub
# double. Everything listens on loopback or inside namespaces the script creates.
#
# Needs HARNESS_DIR, a directory the sourcing script owns (default: the test's $T; bench/ sets
# its $work). Every process started here is recorded in harness_pids and killed by
# harness_stop_all, which also runs harness_cleanup_hooks (e.g. deleting namespaces). It runs
# before whatever EXIT trap the script had when it sourced this file; a script that sets its
# own EXIT trap afterwards calls harness_stop_all from it.

harness_pids=()
harness_cleanup_hooks=()
harness_stop_all() {
  local p h
  for p in "${harness_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  local deadline=$((SECONDS + 10))
  for p in "${harness_pids[@]}"; do
    while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  done
  harness_pids=()
  for h in "${harness_cleanup_hooks[@]}"; do eval "$h" || true; done
  harness_cleanup_hooks=()
}
_harness_prev_trap=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
# shellcheck disable=SC2064
trap "harness_stop_all; ${_harness_prev_trap:-true}" EXIT

harness_dir() { echo "${HARNESS_DIR:-${T:?HARNESS_DIR or T must name a directory the script owns}}"; }

# ---- waits ----------------------------------------------------------------------------------

# wait_for SECONDS CMD... : polls CMD (output discarded) every HARNESS_POLL seconds (default
# 0.1) until it succeeds; returns 1 once SECONDS have passed.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep "${HARNESS_POLL:-0.1}"
  done
}

# wait_until DESCRIPTION SECONDS CMD... : wait_for that says what it was waiting for
# ("FAIL: timed out ...", on stderr) when it gives up.
wait_until() {
  local what=$1 seconds=$2
  shift 2
  if ! wait_for "$seconds" "$@"; then
    echo "FAIL: timed out after ${seconds}s waiting for: $what" >&2
    return 1
  fi
}

# ---- weightsd ------------------------------------------------------------------------------

# Every weightsd a test, a benchmark or the demo starts stays off the public network: it listens
# on explicit 127.x addresses (its --listen) or inside a network namespace the script created,
# and runs the private network profile (no DHT bootstrap routers, no LSD, UPnP or NAT-PMP),
# exported here to every process the sourcing script starts. weightsd_check_exposure checks a
# running daemon once it answers, weightsd_check_config the effective configuration before a
# start; tests/integration/weightsd_start_lint_test.sh fails when a script starts weightsd
# without the former. A test that needs a DHT turns it on in its own config with bootstrap
# nodes or dht_nodes of its own on 127.x (hub_gone_dht_test.sh).
export WEIGHTSD_NETWORK_PROFILE=private

# _weightsd_exposure_problems NETNS : reads "listen ADDR", "bootstrap HOST:PORT" and "dht|lsd|
# upnp|natpmp on|off" lines; prints one line per way they reach beyond loopback. Listen
# addresses are not limited inside NETNS (a namespace with no route off the machine).
_weightsd_exposure_problems() {
  local netns=$1 key value dht=off bootstrap=()
  while read -r key value; do
    case $key in
      listen)
        [[ -n $netns || $value =~ ^(127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\]):[0-9]+$ ]] ||
          echo "listens on $value outside a namespace" ;;
      bootstrap | node) bootstrap+=("$value") ;;
      dht) dht=$value ;;
      lsd | upnp | natpmp) [[ $value == off ]] || echo "$key is $value" ;;
    esac
  done
  [[ $dht == on ]] || return 0
  for value in "${bootstrap[@]}"; do
    [[ $value =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+$ ]] ||
      echo "DHT bootstrap node or node $value is not on 127.x (a public router or a DNS name)"
  done
}

# _weightsd_exposure_verdict WHAT PROBLEMS : 0 when PROBLEMS is empty, else FAIL naming each.
_weightsd_exposure_verdict() {
  [[ -n $2 ]] || return 0
  echo "FAIL: $1 is exposed beyond loopback:" >&2
  sed 's/^/  /' <<<"$2" >&2
  return 1
}

# weightsd_check_exposure SOCKET [NETNS] : 0 when the weightsd at SOCKET reports (GET
# /v1/status, "network") only 127.x or [::1] listen interfaces (any inside NETNS), DHT
# bootstrap nodes on 127.x only, and LSD, UPnP and NAT-PMP off; otherwise "FAIL: ..." naming
# each problem, and 1. Uses $W (or $WEIGHTSCTL).
weightsd_check_exposure() {
  local sock=$1 netns=${2:-} status facts
  if ! status=$("${W:-${WEIGHTSCTL:?}}" --socket "$sock" --json status 2>&1); then
    echo "FAIL: weightsd at $sock: no status: $status" >&2
    return 1
  fi
  if ! facts=$(jq -r '.network // error("the status has no network field")
      | def o: if . then "on" else "off" end;
        (.listen_interfaces[] | "listen \(.)"), (.dht_bootstrap_nodes[] | "bootstrap \(.)"),
        (.dht_nodes[]? | "node \(.)"),
        "dht \(.dht | o)", "lsd \(.lsd | o)", "upnp \(.upnp | o)", "natpmp \(.natpmp | o)"' \
      <<<"$status" 2>&1); then
    echo "FAIL: weightsd at $sock: unreadable status ($facts): $status" >&2
    return 1
  fi
  _weightsd_exposure_verdict "weightsd at $sock" "$(_weightsd_exposure_problems "$netns" <<<"$facts")"
}

# weightsd_check_config BINARY NETNS WEIGHTSD_ARGS... : the same rules applied before a start,
# to what `BINARY WEIGHTSD_ARGS... --check-config` prints, so a daemon that would reach beyond
# loopback is never started.
weightsd_check_config() {
  local bin=$1 netns=$2 cfg key
  shift 2
  if ! cfg=$("$bin" "$@" --check-config 2>&1); then
    echo "FAIL: weightsd $* --check-config: $cfg" >&2
    return 1
  fi
  _weightsd_exposure_verdict "weightsd $*" "$(
    {
      sed -n "s/^listen_interfaces = \[\(.*\)\]$/\1/p" <<<"$cfg" | tr ',' '\n' | tr -d " '" |
        sed '/^$/d; s/^/listen /'
      sed -n "s/^dht_bootstrap_nodes = \[\(.*\)\]$/\1/p" <<<"$cfg" | tr ',' '\n' | tr -d " '" |
        sed '/^$/d; s/^/bootstrap /'
      sed -n "s/^dht_nodes = \[\(.*\)\]$/\1/p" <<<"$cfg" | tr ',' '\n' | tr -d " '" |
        sed '/^$/d; s/^/node /'
      for key in dht lsd upnp natpmp; do
        sed -n "s/^$key = '\(.*\)'$/$key \1/p" <<<"$cfg"
      done
    } | _weightsd_exposure_problems "$netns"
  )"
}

# seed_requests_curl SOCKET FEED BASE COUNT : a curl config (curl -K) of COUNT seed requests on
# one keep-alive connection to weightsd's SOCKET: release bench/m<i>@r<i> of FEED from the
# directory BASE/rel/<i>, i = 1..COUNT (the feeds bench_feed_gen writes). Each request writes
# its HTTP status on a line.
seed_requests_curl() {
  local sock=$1 feed=$2 base=$3 count=$4 i
  for ((i = 1; i <= count; i++)); do
    ((i == 1)) || echo next
    printf 'unix-socket = "%s"\nurl = "http://weightsd/v1/seed"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{\\"feed\\":\\"%s\\",\\"model\\":\\"bench/m%d\\",\\"revision\\":\\"r%d\\",\\"dir\\":\\"%s/rel/%d\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
      "$sock" "$feed" "$i" "$i" "$base" "$i"
  done
}

# ---- ports and namespaces -------------------------------------------------------------------

# in_ns NETNS CMD... : runs CMD in NETNS, or here if NETNS is empty.
in_ns() {
  local ns=$1
  shift
  if [[ -n $ns ]]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# listening IP PORT [NETNS] : something listens on IP:PORT (TCP).
listening() { in_ns "${3:-}" ss -Hltn "src $1:$2" | grep . >/dev/null; }

# free_port IP [NETNS] : a TCP port nobody listens on at IP now (the caller binds it right away
# and retries on a race).
free_port() {
  local ip=$1 port
  while :; do
    port=$((20000 + RANDOM % 30000))
    listening "$ip" "$port" "${2:-}" 2>/dev/null || break
  done
  echo "$port"
}

# netns_pair NS_A NS_B [EXTRA_A_ADDRESS...] : two network namespaces joined by a veth pair,
# deleted by harness_stop_all. NS_A has 198.18.0.1 (and the extra addresses, /24), NS_B
# 198.18.0.2: the RFC 2544 benchmarking range, which exists only inside them, so nothing leaves
# the machine. For clients that refuse 127.0.0.0/8 peers (Transmission treats them as
# "martian"). Returns 1 with the reason in NETNS_ERROR when namespaces cannot be created.
netns_pair() {
  local a=$1 b=$2 va=${1}v vb=${2}v addr
  shift 2
  if ! NETNS_ERROR=$(ip netns add "$a" 2>&1); then
    NETNS_ERROR="cannot create a network namespace: $NETNS_ERROR"
    return 1
  fi
  harness_cleanup_hooks+=("ip netns del $a 2>/dev/null")
  ip netns add "$b"
  harness_cleanup_hooks+=("ip netns del $b 2>/dev/null")
  ip link add "$va" netns "$a" type veth peer name "$vb" netns "$b"
  ip -n "$a" link set lo up
  ip -n "$b" link set lo up
  for addr in 198.18.0.1 "$@"; do ip -n "$a" addr add "$addr/24" dev "$va"; done
  ip -n "$b" addr add 198.18.0.2/24 dev "$vb"
  ip -n "$a" link set "$va" up
  ip -n "$b" link set "$vb" up
  # IPv4 addresses are usable as soon as the link is up on both ends.
  wait_until "the veth pair to come up" 10 bash -c \
    "ip -n $a -br link show $va | grep -qw UP && ip -n $b -br link show $vb | grep -qw UP"
}

# ---- nginx ----------------------------------------------------------------------------------

# start_nginx DOCROOT IP [EXTRA_LOCATION_DIRECTIVES] : a private nginx serving DOCROOT on
# IP:<free port>, with its own prefix, config, pid file and logs under
# $HARNESS_DIR/nginx-<port>; sets NGINX_URL (http://IP:PORT), NGINX_LOG (access log: remote
# address, status, body bytes sent, request) and NGINX_PID.
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
  local ip=$1 server=$2 try port prefix pid bin
  bin=$(command -v nginx || echo /usr/sbin/nginx)
  [[ -x $bin ]] || { echo "FAIL: nginx is not installed" >&2; return 1; }
  for try in 1 2 3 4 5; do
    port=$(free_port "$ip")
    prefix=$(harness_dir)/nginx-$port
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
    harness_pids+=("$pid")
    disown "$pid"
    if harness_wait_listening "$pid" "$ip" "$port" ""; then
      NGINX_URL=http://$ip:$port
      NGINX_LOG=$prefix/logs/access.log
      NGINX_PID=$pid
      return 0
    fi
    kill -9 "$pid" 2>/dev/null || true
  done
  echo "FAIL: nginx did not start: $(cat "$prefix/logs/stderr" "$prefix/logs/error.log" 2>/dev/null)" >&2
  return 1
}

# nginx_bytes_to IP : body bytes nginx sent to IP with status 200/206.
nginx_bytes_to() {
  awk -v ip="$1" '$1 == ip && ($2 == 200 || $2 == 206) { s += $3 } END { print s + 0 }' "$NGINX_LOG"
}

# harness_wait_listening PID IP PORT NETNS : waits (10 s) until PID listens on IP:PORT; 1 if it
# exits or the time runs out first.
harness_wait_listening() {
  local pid=$1 ip=$2 port=$3 ns=$4 deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
    listening "$ip" "$port" "$ns" && return 0
    sleep 0.1
  done
  return 1
}

# ---- opentracker ----------------------------------------------------------------------------

# start_opentracker IP [NETNS] : opentracker on IP:<free port> (TCP only), whitelist mode as
# Debian builds it; sets TRACKER_URL, TRACKER_STATS, TRACKER_DIR, TRACKER_PID. The whitelist
# starts empty: tracker_allow.
start_opentracker() {
  local ip=$1 ns=${2:-} try port pid
  TRACKER_NS=$ns
  TRACKER_DIR=$(harness_dir)/opentracker
  mkdir -p "$TRACKER_DIR"
  chmod 755 "$TRACKER_DIR"
  : >"$TRACKER_DIR/whitelist.txt"
  chmod 644 "$TRACKER_DIR/whitelist.txt"
  # As root it chroots into -d and drops to an unprivileged user (it refuses to keep running as
  # root); otherwise it only changes into -d. Either way "whitelist.txt" is relative to -d.
  local user=_opentracker useropt=()
  id "$user" >/dev/null 2>&1 || user=nobody
  [[ $(id -u) -ne 0 ]] || useropt=(-u "$user")
  for try in 1 2 3 4 5; do
    port=$(free_port "$ip" "$ns")
    # (No function in between: $! must be opentracker itself, which gets the SIGHUPs.)
    local pre=()
    [[ -z $ns ]] || pre=(ip netns exec "$ns")
    "${pre[@]}" opentracker -i "$ip" -p "$port" -d "$TRACKER_DIR" "${useropt[@]}" \
      -w whitelist.txt >"$TRACKER_DIR.log" 2>&1 &
    pid=$!
    harness_pids+=("$pid")
    TRACKER_PID=$pid
    if harness_wait_listening "$pid" "$ip" "$port" "$ns"; then
      TRACKER_URL="http://$ip:$port/announce"
      TRACKER_STATS="http://$ip:$port/stats"
      return 0
    fi
    kill -9 "$pid" 2>/dev/null || true
  done
  echo "FAIL: opentracker did not start: $(cat "$TRACKER_DIR.log")" >&2
  return 1
}

# tracker_allow HEX... : whitelists info-hashes (40 hex; a 64-hex v2 hash is truncated to its
# first 20 bytes, as libtorrent announces it) and makes opentracker reload the list.
tracker_allow() {
  local h
  for h in "$@"; do echo "${h:0:40}" >>"$TRACKER_DIR/whitelist.txt"; done
  kill -HUP "$TRACKER_PID"
}

# tracker_probe HEX : opentracker's bencoded answer to an announce for HEX with event=stopped
# (so the probe leaves no peer behind).
tracker_probe() {
  local enc
  enc=$(sed 's/../%&/g' <<<"${1:0:40}")
  in_ns "${TRACKER_NS:-}" curl -sf "${TRACKER_URL}?info_hash=$enc&peer_id=-PROBE-0123456789abc&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1"
}
tracker_allowed() { tracker_probe "$1" | grep -v "not authorized" >/dev/null; }
# tracker_wait_allowed HEX : waits until opentracker has reloaded its whitelist with HEX.
tracker_wait_allowed() { wait_until "opentracker to whitelist $1" 10 tracker_allowed "$1"; }

# tracker_seeders HEX : how many seeders opentracker lists for HEX (from an event=stopped probe).
tracker_seeders() { tracker_probe "$1" | sed -n 's/.*8:completei\([0-9]*\)e.*/\1/p'; }
has_seeders() { [[ $(tracker_seeders "$1") -ge ${2:-1} ]]; }
# tracker_peers HEX : seeders + leechers opentracker lists for HEX.
tracker_peers() {
  local a
  a=$(tracker_probe "$1")
  echo $(($(sed -n 's/.*8:completei\([0-9]*\)e.*/\1/p' <<<"$a") + $(sed -n 's/.*10:incompletei\([0-9]*\)e.*/\1/p' <<<"$a")))
}

# ---- qBittorrent-nox ------------------------------------------------------------------------

# start_qbittorrent PROFILE IP [EXTRA_SESSION_SETTINGS] : qbittorrent-nox with its profile in
# PROFILE (downloads in PROFILE/dl, output in PROFILE/out): legal notice accepted, DHT, LSD,
# PeX and UPnP off, TCP only, peers and WebUI on IP (free ports), the WebUI without
# authentication from loopback. EXTRA_SESSION_SETTINGS are more [BitTorrent] lines. Waits (30 s)
# for the WebUI; sets QB_API (http://IP:PORT/api/v2) and QB_PID.
start_qbittorrent() {
  local profile=$1 ip=$2 extra=${3:-} qport wport
  qport=$(free_port "$ip")
  wport=$(free_port "$ip")
  mkdir -p "$profile/qBittorrent/config" "$profile/dl"
  cat >"$profile/qBittorrent/config/qBittorrent.conf" <<CONF
[LegalNotice]
Accepted=true

[BitTorrent]
Session\DHTEnabled=false
Session\LSDEnabled=false
Session\PeXEnabled=false
Session\BTProtocol=TCP
Session\Port=$qport
Session\InterfaceAddress=$ip
Session\DefaultSavePath=$profile/dl
Session\GlobalMaxRatio=-1
$extra

[Preferences]
Connection\UPnP=false
WebUI\Address=$ip
WebUI\Port=$wport
WebUI\LocalHostAuth=false
WebUI\AuthSubnetWhitelistEnabled=true
WebUI\AuthSubnetWhitelist=127.0.0.0/8
WebUI\CSRFProtection=false
WebUI\HostHeaderValidation=false
CONF
  qbittorrent-nox --profile="$profile" >"$profile/out" 2>&1 &
  QB_PID=$!
  harness_pids+=("$QB_PID")
  disown "$QB_PID"
  QB_API=http://$ip:$wport/api/v2
  wait_until "qBittorrent's WebUI" 30 curl -sf "$QB_API/app/version"
}

# ---- Transmission ---------------------------------------------------------------------------

# start_transmission NETNS DIR IP [EXTRA_SETTINGS_JSON] : transmission-daemon in NETNS with its
# config in DIR (downloads in DIR/dl, log DIR/log), peers on IP:51413, RPC on the namespace's
# own 127.0.0.1:9091; DHT, LPD, PEX, uTP and port mapping off, no seed ratio or idle limit.
# EXTRA_SETTINGS_JSON: more settings.json members ("key": value, ...). Waits (20 s) for the
# RPC; sets TR_PID; tr_remote talks to it.
start_transmission() {
  local ns=$1 dir=$2 ip=$3 extra=${4:+, $4}
  mkdir -p "$dir/dl"
  cat >"$dir/settings.json" <<JSON
{"pex-enabled": false, "dht-enabled": false, "lpd-enabled": false, "utp-enabled": false,
 "port-forwarding-enabled": false, "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
 "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false$extra}
JSON
  TR_NS=$ns
  ip netns exec "$ns" transmission-daemon -f -g "$dir" -w "$dir/dl" -T -r 127.0.0.1 -p 9091 \
    -i "$ip" -P 51413 -O -Y --no-utp -M -e "$dir/log" >"$dir/out" 2>&1 &
  TR_PID=$!
  harness_pids+=("$TR_PID")
  disown "$TR_PID"
  wait_until "transmission-daemon's RPC" 20 tr_remote -l
}
tr_remote() { ip netns exec "$TR_NS" transmission-remote 127.0.0.1:9091 "$@"; }

# ---- git smart HTTP and the Hugging Face Hub double ---------------------------------------

# start_fcgiwrap : one fcgiwrap for this script, on a unix socket in $HARNESS_DIR (no system
# service); sets FCGI_SOCK. Does nothing when it already runs. One process, no preforked
# children (-c), so that harness_stop_all leaves nothing behind; it serves requests in turn.
start_fcgiwrap() {
  [[ -n ${FCGI_SOCK:-} && -S $FCGI_SOCK ]] && return 0
  local bin sock pid
  bin=$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)
  [[ -x $bin ]] || { echo "FAIL: fcgiwrap is not installed (scripts/install-deps --test)" >&2; return 1; }
  sock=$(harness_dir)/fcgiwrap.sock
  rm -f "$sock"
  "$bin" -s "unix:$sock" >"$(harness_dir)/fcgiwrap.log" 2>&1 &
  pid=$!
  harness_pids+=("$pid")
  disown "$pid"
  wait_until "fcgiwrap's socket" 10 test -S "$sock" || return 1
  FCGI_SOCK=$sock
}

# git_http_backend_locations GIT_ROOT [REPO_REGEX] [DIRECTIVES] : an nginx location serving the
# bare repositories GIT_ROOT/ORG/NAME.git over git smart HTTP (Debian's git http-backend through
# fcgiwrap, the client's Git-Protocol header passed on, so protocol v2 works) at /ORG/NAME and
# /ORG/NAME.git, for ORG/NAME matching REPO_REGEX (default: any); DIRECTIVES go first inside
# it (e.g. an `if` that answers 401 without a token). Needs start_fcgiwrap. Read-only: only
# info/refs and git-upload-pack are routed.
git_http_backend_locations() {
  cat <<CONF
location ~ "^/(?<git_repo>${2:-[^/]+/[^/]+?})(\\.git)?/(?<git_op>info/refs|git-upload-pack)\$" {
      ${3:-}
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:$FCGI_SOCK;
      fastcgi_param SCRIPT_FILENAME $(git --exec-path)/git-http-backend;
      fastcgi_param GIT_PROJECT_ROOT $1;
      fastcgi_param GIT_HTTP_EXPORT_ALL 1;
      fastcgi_param PATH_INFO /\$git_repo.git/\$git_op;
      fastcgi_param PATH /usr/bin:/bin;
      fastcgi_buffering off;
      client_max_body_size 16m;
    }
CONF
}

# start_git_http_backend IP GIT_ROOT [EXTRA_SERVER_DIRECTIVES] : nginx on IP:<free port> serving
# GIT_ROOT as git_http_backend_locations does; EXTRA_SERVER_DIRECTIVES come first (a regex
# location there takes precedence, e.g. one that answers 500). Sets GIT_HTTP_URL and NGINX_*.
start_git_http_backend() {
  start_fcgiwrap || return 1
  nginx_with_server "$1" "${3:-}
    $(git_http_backend_locations "$2")" || return 1
  GIT_HTTP_URL=$NGINX_URL
}

# hub_double_locations ROOT CDN_URL : the nginx locations of the Hugging Face Hub double
# (tests/lib/hub_double.py, run through fcgiwrap) for the repositories built into ROOT
# (`hub_double.py build`): API, resolve and git smart HTTP at /ORG/NAME, a gated repository
# wanting its token on all three, LFS files redirected to signed URLs on CDN_URL. Needs
# start_fcgiwrap.
hub_double_locations() {
  local root=$1 cdn=$2
  # Bytes handed to nginx with X-Accel-Redirect keep the double's headers.
  cat <<CONF
$(git_http_backend_locations "$root/git" "" "auth_request /_git_auth;")
    location = /_git_auth {
      internal;
      $(_hub_double_fastcgi "$root")
      fastcgi_param HUB_DOUBLE_GIT_AUTH 1;
      fastcgi_pass_request_body off;
    }
    location /_raw/ {
      internal;
      alias $root/raw/;
      etag off;
      add_header ETag \$upstream_http_etag;
      add_header X-Repo-Commit \$upstream_http_x_repo_commit;
    }
    location / {
      $(_hub_double_fastcgi "$root")
      fastcgi_param HUB_DOUBLE_CDN $cdn;
    }
CONF
}

# hub_double_cdn_locations ROOT : the nginx locations of the double's CDN (signed URLs that
# expire or are used up; the bytes with Range). Needs start_fcgiwrap.
hub_double_cdn_locations() {
  cat <<CONF
location /cdn/ { $(_hub_double_fastcgi "$1") }
    location /_cdn/ { internal; alias $1/cdn/; }
CONF
}

_hub_double_fastcgi() {
  cat <<CONF
include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:$FCGI_SOCK;
      fastcgi_param SCRIPT_FILENAME $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/hub_double.py;
      fastcgi_param HUB_DOUBLE_ROOT $1;
      fastcgi_param HUB_DOUBLE_ORIGIN \$scheme://\$http_host;
      fastcgi_param PATH /usr/bin:/bin;
CONF
}

# start_hub_double ROOT [EXTRA_HUB_DIRECTIVES] : the hub double (hub_double_locations) on
# 127.0.0.1 and its CDN on 127.0.0.2 (another host); EXTRA_HUB_DIRECTIVES come first in the
# hub's server (a regex location there takes precedence). Sets HUB_URL, HUB_CDN_URL and
# HUB_REQUESTS (the double's request log: "STATUS METHOD ORIGIN/URI range=... auth=yes|no" per
# API, resolve, git authorization and CDN request).
start_hub_double() {
  local root=$1 extra=${2:-}
  start_fcgiwrap || return 1
  nginx_with_server 127.0.0.2 "$(hub_double_cdn_locations "$root")" || return 1
  HUB_CDN_URL=$NGINX_URL
  nginx_with_server 127.0.0.1 "$extra
    $(hub_double_locations "$root" "$HUB_CDN_URL")" || return 1
  HUB_URL=$NGINX_URL
  HUB_REQUESTS=$root/requests.log
}
