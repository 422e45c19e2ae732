# Helpers for tests that drive other BitTorrent programs (sourced after lib.sh and daemon_lib.sh):
# a real tracker (opentracker, Debian package), a published release with a tracker in its
# manifest, info-hashes of .torrent files, and cleanup of every process the test starts.
# Every process listens on loopback (or inside a network namespace the test owns).

bt_pids=()
bt_cleanup_hooks=() # run after every process is gone (e.g. deleting network namespaces)
bt_cleanup() {
  local p h
  for p in "${bt_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${daemon_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${bt_pids[@]}" "${daemon_pids[@]}"; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  done
  for h in "${bt_cleanup_hooks[@]}"; do eval "$h" || true; done
  stop_all_daemons
}
trap bt_cleanup EXIT

# need_cmds CMD... : skip the test (exit 125) with the package to install if one is missing.
need_cmds() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  if ((${#missing[@]})); then
    echo "SKIP: missing ${missing[*]} (scripts/install-deps --test installs them)" >&2
    exit 125
  fi
}

# free_port IP : a TCP port nobody listens on at IP now (the caller binds it right away and
# retries on a race).
free_port() { # IP [NETNS]
  local ip=$1 port
  while :; do
    port=$((20000 + RANDOM % 30000))
    in_ns "${2:-}" ss -Hltn "src $ip:$port" 2>/dev/null | grep -q . || break
  done
  echo "$port"
}

# listening IP PORT [NETNS] : something listens on IP:PORT (TCP).
listening() { ${3:+ip netns exec "$3"} ss -Hltn "src $1:$2" | grep -q .; }

# in_ns NETNS CMD... : runs CMD in NETNS, or here if NETNS is empty.
in_ns() {
  local ns=$1
  shift
  if [[ -n $ns ]]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# start_opentracker IP [NETNS] : opentracker on IP:<free port> (TCP only), whitelist mode as
# Debian builds it; sets TRACKER_URL, TRACKER_DIR. The whitelist starts empty: tracker_allow.
start_opentracker() {
  local ip=$1 ns=${2:-} try port
  TRACKER_NS=$ns
  TRACKER_DIR=$T/opentracker
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
      -w whitelist.txt >"$T/opentracker.log" 2>&1 &
    local pid=$!
    bt_pids+=("$pid")
    TRACKER_PID=$pid
    local deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
      if listening "$ip" "$port" "$ns"; then
        TRACKER_URL="http://$ip:$port/announce"
        TRACKER_STATS="http://$ip:$port/stats"
        return 0
      fi
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  echo "FAIL: opentracker did not start: $(cat "$T/opentracker.log")" >&2
  return 1
}

# tracker_allow HEX... : whitelists info-hashes (40 hex; a 64-hex v2 hash is truncated to its
# first 20 bytes, as libtorrent announces it) and makes opentracker reload the list.
tracker_allow() {
  local h
  for h in "$@"; do echo "${h:0:40}" >>"$TRACKER_DIR/whitelist.txt"; done
  kill -HUP "$TRACKER_PID"
}

# infohash_v1 TORRENT : the v1 info-hash of a v1-only .torrent, as an independent client reads it.
infohash_v1() {
  if command -v transmission-show >/dev/null; then
    transmission-show "$1" | awk '/^ *Hash:/ { print $2; exit }'
  else
    aria2c -S "$1" | awk '/^Info Hash:/ { print $3; exit }'
  fi
}

# publish_release DIR MODEL REV [release add flags...] : feed in $T/pub with one release of the
# files in DIR; sets ROOT, MANIFEST (path of the published manifest), HYBRID, V1TORRENT,
# V1_HASH (hybrid's v1), V2_HASH, COMPANION_HASH.
publish_release() {
  local dir=$1 model=$2 rev=$3
  shift 3
  [[ -d $T/pub ]] || "$W" feed init "$T/pub" >/dev/null
  "$W" release add "$dir" --feed "$T/pub" --model "$model" --revision "$rev" \
    --license apache-2.0 --publish "$@" >/dev/null
  ROOT=$T/pub/public/metadata/1.root.json
  MANIFEST=$(find "$T/pub/public/targets" -name "*.$rev.release.json" | head -n1)
  HYBRID=$(find "$T/pub/public/targets" -name "*.$rev.torrent" | head -n1)
  V1TORRENT=$(find "$T/pub/public/targets" -name "*.$rev.v1.torrent" | head -n1)
  V1_HASH=$(jq -r .torrent.v1_infohash "$MANIFEST")
  V2_HASH=$(jq -r .torrent.v2_infohash "$MANIFEST")
  COMPANION_HASH=$(infohash_v1 "$V1TORRENT")
}

# same_files SRC DIR : every file of SRC (flat) is in DIR with the same SHA-256.
same_files() {
  (cd "$1" && sha256sum -- *) | (cd "$2" && sha256sum --quiet -c -) >/dev/null 2>&1
}

# release_field N ID JQ : a field of `weightsctl show` on daemon N.
release_field() { ctl "$1" --json show "$2" | jq -r "$3"; }

# every_file_verified N ID : the release is complete and every file is verified.
every_file_verified() {
  local j
  j=$(ctl "$1" --json show "$2") || return 1
  [[ $(jq -r .state <<<"$j") == complete ]] &&
    [[ $(jq '[.files[] | select(.state != "verified")] | length' <<<"$j") == 0 ]]
}

# every_wanted_verified N ID : complete, and every wanted file is verified.
every_wanted_verified() {
  local j
  j=$(ctl "$1" --json show "$2") || return 1
  [[ $(jq -r .state <<<"$j") == complete ]] &&
    [[ $(jq '[.files[] | select(.wanted and .state != "verified")] | length' <<<"$j") == 0 ]]
}

# tracker_probe HEX : opentracker's bencoded answer to an announce for HEX with event=stopped
# (so the probe leaves no peer behind).
tracker_probe() {
  local enc
  enc=$(sed 's/../%&/g' <<<"${1:0:40}")
  in_ns "${TRACKER_NS:-}" curl -sf "${TRACKER_URL}?info_hash=$enc&peer_id=-PROBE-0123456789abc&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1"
}
tracker_allowed() { tracker_probe "$1" | grep -qv "not authorized"; }
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
