# Shared helpers for integration tests (sourced). Each test gets its own temp dir, removed on
# exit, and fails loudly with the command and its output.
set -euo pipefail

: "${WEIGHTSCTL:?WEIGHTSCTL must point at the weightsctl binary}"
: "${WEIGHTS_SOURCE_DIR:?WEIGHTS_SOURCE_DIR must point at the source tree}"
W=$WEIGHTSCTL
T=$(mktemp -d -t weights-it-XXXXXX)
trap 'rm -rf "$T"' EXIT

failures=0
passes=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; passes=$((passes + 1)); }

# require_tools TOOL... : skip the test (exit 125, ctest's SKIP_RETURN_CODE) unless every tool is on
# PATH or in /usr/sbin (nginx and fcgiwrap live there).
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] ||
      { echo "skip: $tool not installed (scripts/install-deps --test)"; exit 125; }
  done
}

# permissive_card DIR : a README.md model card under the MIT licence (nothing to accept; the
# licence gate is license_accept_test.sh's subject).
permissive_card() { printf -- '---\nlicense: mit\n---\n# Test model\n' >"$1/README.md"; }

# pin_key REPO COMMIT: the DHT rendezvous key of huggingface REPO@COMMIT
# (docs/pinned-releases.md §4), 40 hex.
pin_key() { printf 'weightsd-pin/1\nhuggingface\n%s\n%s\n' "$1" "$2" | sha1sum | cut -d' ' -f1; }

# pin_catalog_file FILE FAMILY REPO COMMIT: a catalog family file with one entry, REPO pinned at
# COMMIT (variant "base", licence mit, not gated), REPO being its id.
pin_catalog_file() {
  mkdir -p "$(dirname "$1")"
  cat >"$1" <<TOML
schema = 1
family = "$2"
default = "base"

[[model]]
id = "$3"
variant = "base"
upstream = "huggingface"
repo = "$3"
commit = "$4"
license = "mit"
gated = false

[[model.source]]
url = "https://example.invalid/pins.md"
confidence = "high"
TOML
}

# expect_ok NAME CMD... : the command exits 0.
expect_ok() {
  local name=$1; shift
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [[ $rc -eq 0 ]]; then pass "$name"; else fail "$name: exit $rc: $out"; fi
  LAST_OUT=$out
}

# expect_fail NAME EXIT_CODE PATTERN CMD... : the command exits EXIT_CODE and its output
# matches the (grep -E) PATTERN.
expect_fail() {
  local name=$1 code=$2 pattern=$3; shift 3
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [[ $rc -ne $code ]]; then
    fail "$name: expected exit $code, got $rc: $out"
  elif ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$name: output does not match /$pattern/: $out"
  else
    pass "$name"
  fi
  LAST_OUT=$out
}

finish() {
  echo "$passes passed, $failures failed"
  [[ $failures -eq 0 ]]
}

# feed_with_release MODEL REV SHARD_MIB SEED : a publisher's feed in $T/pub with one published
# release MODEL@REV (license mit) of make-weights.sh files (SHARD_MIB, seeded by SEED) written
# to $T/w; sets root to the feed's root of trust.
feed_with_release() {
  local model=$1 rev=$2 shard_mib=$3 seed=$4
  "$W" feed init "$T/pub" >/dev/null
  bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" "$shard_mib" "$seed"
  "$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision "$rev" --license mit \
    --publish >/dev/null
  root=$T/pub/public/metadata/1.root.json
}
