#!/usr/bin/env bash
# Builds weightsd.8.gz and weightsctl.1.gz with help2man from the programs' own --help/--version, so
# the man pages always match the binaries. weightsctl's page gets a COMMANDS section holding
# every (nested) subcommand's --help, found by walking the "Subcommands:" lists.
# Usage: gen-man.sh HELP2MAN WEIGHTSD WEIGHTSCTL INCLUDE_DIR OUT_DIR
set -euo pipefail
help2man=$1 weightsd=$2 weightsctl=$3 inc=$4 out=$5
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Reproducible dates (help2man honours SOURCE_DATE_EPOCH).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$inc" log -1 --format=%ct 2>/dev/null || date +%s)}
export NO_COLOR=1

# roff-safe literal text: backslashes escaped, lines starting with . or ' protected.
roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

# subcommands_of ARGS...: names listed under "Subcommands:" in `weightsctl ARGS --help`.
subcommands_of() {
  "$weightsctl" "$@" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } on && !/^  / { on = 0 }'
}

walk() { # ARGS... : emits a .SS block per command, depth first
  local sub
  for sub in $(subcommands_of "$@"); do
    printf '.SS "weightsctl %s"\n.nf\n' "$* $sub" | sed 's/  */ /g; s/" /"/'
    "$weightsctl" "$@" "$sub" --help | roff
    printf '.fi\n'
    walk "$@" "$sub"
  done
}

{
  cat "$inc/weightsctl.h2m"
  printf '\n[COMMANDS]\nEach command accepts --help; the text below is that output.\n'
  walk
} >"$tmp/weightsctl.h2m"

"$help2man" --no-info --section=1 --no-discard-stderr \
  --name="publish, verify, fetch and seed open-weight model releases" \
  --include="$tmp/weightsctl.h2m" --output="$out/weightsctl.1" "$weightsctl"
"$help2man" --no-info --section=8 --no-discard-stderr \
  --name="daemon that keeps open-weight model releases available, verified" \
  --include="$inc/weightsd.h2m" --output="$out/weightsd.8" "$weightsd"
# Installed compressed, as Debian does (-n: no name or time stamp, so the build is reproducible).
gzip -9nf "$out/weightsctl.1" "$out/weightsd.8"
