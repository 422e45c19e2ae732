#!/usr/bin/env bash
# Every weightsd that a test, a benchmark or the demo starts must be checked to stay off the
# public network (tests/lib/harness.sh weightsd_check_exposure: 127.x listen addresses, no
# public DHT bootstrap node, LSD/UPnP/NAT-PMP off). This lint finds each place in tests/,
# bench/ and scripts/ that starts weightsd and fails unless the check follows it within
# $window lines, or the line before the start says "# weightsd: exits before listening" (a run
# that must fail at start-up: a bad config, a taken state dir), or when a runnable block of the
# docs starts a daemon. It also fails when the harness no longer exports the private network
# profile, and runs the harness's two checks against canned inputs they must refuse.
#
# A start is a command line (continuation lines joined) that names the daemon binary ($WEIGHTSD,
# or $D in bench/ and scripts/demo) followed by a daemon option (--state-dir, --socket,
# --config, --listen, --user, --system) and is not a one-shot run (--check-config, --help,
# --version, --completion) or the harness's weightsd_check_config.
# Env: WEIGHTS_SOURCE_DIR (set by ctest).
set -euo pipefail
: "${WEIGHTS_SOURCE_DIR:?}"
cd "$WEIGHTS_SOURCE_DIR"
window=25

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

grep -qx 'export WEIGHTSD_NETWORK_PROFILE=private' tests/lib/harness.sh ||
  fail "tests/lib/harness.sh does not export WEIGHTSD_NETWORK_PROFILE=private"

# Shell scripts: *.sh, and extension-less files whose first line names bash or sh.
scripts=()
while IFS= read -r -d '' f; do
  case $f in
    *.sh) scripts+=("$f") ;;
    *.*) ;;
    *) head -n1 "$f" | grep -qE '^#!.*\b(ba)?sh\b' && scripts+=("$f") ;;
  esac
done < <(find tests bench scripts -type f -print0 | sort -z)

# starts FILE : "LINE" per start (the first line of its command), "LINE exempt" when the line
# before carries the marker, "LINE checked" when a check follows within the window.
starts() {
  awk -v window="$window" '
    { line[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        if (line[i] ~ /^[ \t]*#/) continue
        cmd = line[i]; last = i
        while (cmd ~ /\\$/ && last < NR) { sub(/\\$/, "", cmd); last++; cmd = cmd " " line[last] }
        bin = "(\\$\\{?WEIGHTSD\\}?|\"\\$D\"|\\$D)\"?"
        opt = "--(state-dir|socket|config|listen|user|system)"
        if (cmd !~ (bin "[ \t]+(.*[ \t])?" opt) || cmd ~ /--(check-config|help|version|completion)/ ||
            cmd ~ /weightsd_check_config/) {
          i = last; continue
        }
        state = ""
        if (i > 1 && line[i - 1] ~ /# weightsd: exits before listening/) state = " exempt"
        for (j = last + 1; j <= last + window && j <= NR && state == ""; j++)
          if (line[j] ~ /weightsd_check_exposure/ && line[j] !~ /^[ \t]*#/) state = " checked"
        print i state
        i = last
      }
    }' "$1"
}

found=0
for f in "${scripts[@]}"; do
  [[ $f == tests/integration/weightsd_start_lint_test.sh ]] && continue
  while read -r n state; do
    found=$((found + 1))
    case $state in
      checked | exempt) ;;
      *) fail "$f:$n starts weightsd without weightsd_check_exposure in the next $window lines" ;;
    esac
  done < <(starts "$f")
done
echo "$found places start weightsd"

# Runnable blocks in the docs (docs_blocks_test.sh runs them) start no daemon of their own: a
# `weightsd` command there may only be a one-shot run.
docs_starts=$(for doc in README.md docs/*.md; do
  awk -v doc="$doc" '
    /^```sh runnable[ \t]*$/ { on = 1; next }
    on && /^```[ \t]*$/ { on = 0; next }
    on && /(^|[;&|(`$][ \t]*|^[ \t]*)weightsd([ \t]|$)/ && !/--(check-config|help|version|completion)/ {
      print doc ":" NR ": " $0
    }' "$doc"
done)
while IFS= read -r l; do
  [[ -z $l ]] || fail "a runnable block starts weightsd: $l"
done <<<"$docs_starts"
# The lint must see the harness's own start (tests/integration/daemon_lib.sh), or it is blind.
((found >= 10)) || fail "only $found starts found: the pattern no longer matches"
starts tests/integration/daemon_lib.sh | grep -q . || fail "daemon_lib.sh's start is not found"

# Self-test on known lines: a start, a one-shot run, a marked start.
t=$(mktemp)
trap 'rm -f "$t" "$t.ctl" "$t.err"' EXIT
printf '%s\n' '"$WEIGHTSD" --state-dir x \' '  --listen 127.0.0.2:0 &' 'wait' \
  '"$WEIGHTSD" --config c --check-config' '# weightsd: exits before listening' \
  'NOTIFY_SOCKET=s "$WEIGHTSD" --config bad.toml' 'ip netns exec ns "$D" --socket s &' >"$t"
[[ $(starts "$t" | tr '\n' ' ') == "1 6 exempt 7 " ]] || fail "self-test: $(starts "$t" | tr '\n' ' ')"

# The check itself, against canned status bodies (a stand-in weightsctl prints $STATUS).
printf '#!/bin/sh\nprintf "%%s" "$STATUS"\n' >"$t.ctl"
chmod +x "$t.ctl"
HARNESS_DIR=$(dirname "$t")
source tests/lib/harness.sh
W=$t.ctl
[[ $WEIGHTSD_NETWORK_PROFILE == private ]] || fail "the harness does not export the private profile"
net() { # NETWORK_JSON -> a status body
  echo "{\"listen_port\": 1, \"network\": $1}"
}
private='{"profile":"private","listen_interfaces":["127.0.0.2:0"],"dht":false,"dht_bootstrap_nodes":[],"lsd":false,"upnp":false,"natpmp":false}'
check() { STATUS=$1 weightsd_check_exposure sock "${2:-}" 2>"$t.err"; }
check "$(net "$private")" || fail "a loopback-only daemon was refused: $(cat "$t.err")"
check "$(net "$(jq -c '.dht = true | .dht_bootstrap_nodes = ["127.0.1.1:6881"]' <<<"$private")")" ||
  fail "a private DHT on 127.x was refused: $(cat "$t.err")"
check "$(net "$(jq -c '.listen_interfaces = ["0.0.0.0:0"]' <<<"$private")")" ns1 ||
  fail "0.0.0.0 inside a namespace was refused: $(cat "$t.err")"
for bad in '.listen_interfaces = ["0.0.0.0:6881"]' '.listen_interfaces += ["[::]:0"]' \
  '.listen_interfaces = ["eth0:6881"]' '.dht = true | .dht_bootstrap_nodes = ["dht.libtorrent.org:25401"]' \
  '.dht = true | .dht_bootstrap_nodes = ["10.0.0.1:6881"]' '.lsd = true' '.upnp = true' '.natpmp = true'; do
  if check "$(net "$(jq -c "$bad" <<<"$private")")"; then
    fail "weightsd_check_exposure accepted $bad"
  elif ! grep -q "exposed beyond loopback" "$t.err"; then
    fail "no reason given for $bad: $(cat "$t.err")"
  fi
done
check '{"listen_port": 1}' && fail "a status without the network field was accepted"

# The check before a start, against canned --check-config output (a stand-in weightsd).
printf '#!/bin/sh\nprintf "%%s\\n" "$CONFIG"\n' >"$t.ctl"
cfg_private="[network]
listen_interfaces = ['127.0.0.2:0']
dht = 'off'
dht_bootstrap_nodes = ['dht.libtorrent.org:25401']
lsd = 'off'
upnp = 'off'
natpmp = 'off'"
precheck() { CONFIG=$1 weightsd_check_config "$t.ctl" "${2:-}" --listen x 2>"$t.err"; }
precheck "$cfg_private" || fail "a private config was refused: $(cat "$t.err")"
precheck "${cfg_private/127.0.0.2:0/0.0.0.0:0}" ns1 || fail "0.0.0.0 in a namespace was refused"
for bad in "${cfg_private/dht = \'off\'/dht = \'on\'}" "${cfg_private/lsd = \'off\'/lsd = \'on\'}" \
  "${cfg_private/127.0.0.2:0/127.0.0.2:0\', \'[::]:0}" "${cfg_private/natpmp = \'off\'/natpmp = \'on\'}"; do
  if precheck "$bad"; then
    fail "weightsd_check_config accepted: $bad"
  elif ! grep -q "exposed beyond loopback" "$t.err"; then
    fail "no reason given for: $bad: $(cat "$t.err")"
  fi
done

((failures == 0)) && echo "ok: every weightsd start is checked; the check refuses exposed daemons"
((failures == 0))
