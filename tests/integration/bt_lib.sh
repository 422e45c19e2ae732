# Helpers for tests that drive other BitTorrent programs (sourced after lib.sh and daemon_lib.sh):
# a published release with a tracker in its manifest, info-hashes of .torrent files, and
# cleanup of every process the test starts (bt_pids). The programs themselves (opentracker,
# qBittorrent, Transmission) start through tests/lib/harness.sh. Every process listens on
# loopback (or inside a network namespace the test owns).

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
  stop_all_daemons # and harness_stop_all
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
