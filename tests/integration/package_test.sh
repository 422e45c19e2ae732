#!/usr/bin/env bash
# Packaging: `cpack -G DEB` from the build tree makes a .deb whose Depends come from
# dpkg-shlibdeps; it is extracted into an empty root (dpkg -x; shared libraries from the host)
# where `weightsd --version`, `weightsctl --help` and `weightsd --check-config` of the shipped
# default config run. The shipped unit passes `systemd-analyze verify` and rates "OK" or better
# in `systemd-analyze security --offline`; systemd-sysusers/-tmpfiles create the user and state
# dir inside the root; the man pages and completions are there and work. `cmake --install`
# (DESTDIR) lays out the same files and keeps an administrator's edited config.
# Env: WEIGHTSD (its build tree is reused), WEIGHTS_SOURCE_DIR.
set -euo pipefail

: "${WEIGHTSD:?set WEIGHTSD to the weightsd binary}"
: "${WEIGHTS_SOURCE_DIR:?}"
build=$(cd "$(dirname "$WEIGHTSD")/.." && pwd)
for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed"
    exit 125
  fi
done
[[ -f $build/CPackConfig.cmake ]] || { echo "FAIL: no CPackConfig.cmake in $build" >&2; exit 1; }

work=$(mktemp -d -t weights-pkg-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# --- build the .deb (cpack only runs the install scripts: the build tree is reused) ---------------
start=$SECONDS
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$work"/pkg/weightsd_*.deb)
pass "cpack built $(basename "$deb") in $((SECONDS - start)) s ($(du -k "$deb" | cut -f1) KiB)"

info=$(dpkg-deb --info "$deb")
depends=$(dpkg-deb --field "$deb" Depends)
dep_names=$(tr ',' '\n' <<<"$depends" | awk '{ print $1 }')
for lib in libc6 libstdc++6 libtorrent-rasterbar2.0 libssl3 libsqlite3-0 libsystemd0 libfmt9; do
  grep -qxF -- "$lib" <<<"$dep_names" ||
    fail "Depends lacks $lib (shlibdeps): $depends"
done
[[ $depends == *"("*">="* ]] || fail "Depends has no versions (not from shlibdeps?): $depends"
[[ $(dpkg-deb --field "$deb" Architecture) == "$(dpkg --print-architecture)" ]] ||
  fail "wrong Architecture"
grep -q 'conffiles' <<<"$info" || fail "no conffiles in the control archive"
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work" ./conffiles ./postinst ./prerm ./postrm
grep -qx /etc/weightsd/weightsd.toml "$work/conffiles" || fail "weightsd.toml is not a conffile"
for s in postinst prerm postrm; do sh -n "$work/$s" || fail "$s: syntax error"; done
pass "Depends from shlibdeps: $depends"

# --- extract into an empty root and run from there --------------------------------------------------
root=$work/root
dpkg -x "$deb" "$root"
expected=(
  usr/bin/weightsd usr/bin/weightsctl
  usr/lib/systemd/system/weightsd.service usr/lib/systemd/user/weightsd.service
  usr/lib/sysusers.d/weightsd.conf
  usr/lib/tmpfiles.d/weightsd.conf etc/weightsd/weightsd.toml
  usr/share/man/man8/weightsd.8.gz usr/share/man/man1/weightsctl.1.gz
  usr/share/bash-completion/completions/weightsctl usr/share/zsh/vendor-completions/_weightsctl
  usr/share/fish/vendor_completions.d/weightsctl.fish
  usr/share/bash-completion/completions/weightsd usr/share/zsh/vendor-completions/_weightsd
  usr/share/fish/vendor_completions.d/weightsd.fish
  usr/share/doc/weightsd/README.md usr/share/doc/weightsd/operator-guide.md
  usr/share/doc/weightsd/user-guide.md usr/share/doc/weightsd/publisher-guide.md
  usr/share/doc/weightsd/protocol.md usr/share/doc/weightsd/catalog.md
)
# The shipped catalog: every manifests/catalog/*.toml, installed as share/weightsd/catalog.
for f in "$WEIGHTS_SOURCE_DIR"/manifests/catalog/*.toml; do
  expected+=("usr/share/weightsd/catalog/$(basename "$f")")
done
for f in "${expected[@]}"; do [[ -f $root/$f ]] || fail "package lacks /$f"; done
if readelf -S "$root/usr/bin/weightsd" | grep debug_info >/dev/null; then fail "binaries not stripped"; fi
pass "package holds binaries, unit, sysusers, tmpfiles, config, man pages, completions, docs"

out=$("$root/usr/bin/weightsd" --version) || fail "weightsd --version failed"
[[ $out =~ ^weightsd\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "weightsd --version: $out"
help=$("$root/usr/bin/weightsctl" --help) || fail "weightsctl --help failed"
grep -q 'Exit codes' <<<"$help" || fail "weightsctl --help lacks the exit codes"
# weightsctl finds the shipped catalog next to its binary (<bin>/../share/weightsd/catalog).
show=$(env -u XDG_CONFIG_HOME HOME="$work" "$root/usr/bin/weightsctl" catalog show gemma-4) ||
  fail "catalog show gemma-4 from the extracted root failed"
grep -q "defined at: $root/usr/share/weightsd/catalog/gemma-4.toml:[0-9]* (shipped catalog)" <<<"$show" ||
  fail "catalog show does not read the installed catalog: $show"
pass "from the extracted root: $out; weightsctl --help; the installed catalog"

# The shipped config is all comments: --check-config accepts it and yields the defaults.
with=$("$root/usr/bin/weightsd" --system --config "$root/etc/weightsd/weightsd.toml" --check-config) ||
  fail "the default config does not pass --check-config"
: >"$work/empty.toml"
without=$(env -u WEIGHTSD_CONFIG "$root/usr/bin/weightsd" --system --config "$work/empty.toml" --check-config)
[[ $(tail -n +2 <<<"$with") == "$(tail -n +2 <<<"$without")" ]] ||
  fail "the default config differs from the built-in defaults"
# Every key of the effective config appears (commented) in the shipped file.
keys=$(grep -oE '^[a-z_]+ =' <<<"$with" | cut -d' ' -f1)
for k in $keys; do
  grep -qE "^#$k = " "$root/etc/weightsd/weightsd.toml" || fail "default config does not document $k"
done
pass "default config passes --check-config, equals the defaults, documents all $(wc -w <<<"$keys") keys"

# --- systemd: unit, users, directories ---------------------------------------------------------------
unit=$root/usr/lib/systemd/system/weightsd.service
grep -qx 'ExecStart=/usr/bin/weightsd --system' "$unit" || fail "unit ExecStart: $(grep ExecStart "$unit")"
# verify needs the binary where ExecStart says: check a copy pointing into the extracted root.
mkdir -p "$work/units"
mkdir -p "$work/units/user"
sed "s|/usr/bin/weightsd|$root/usr/bin/weightsd|" "$unit" >"$work/units/weightsd.service"
user_unit=$root/usr/lib/systemd/user/weightsd.service
grep -qx 'ExecStart=/usr/bin/weightsd --user' "$user_unit" || fail "user unit ExecStart"
sed "s|/usr/bin/weightsd|$root/usr/bin/weightsd|" "$user_unit" >"$work/units/user/weightsd.service"
# (--user verify needs a user manager; the system-scope check still parses every directive.)
for u in "$work/units/weightsd.service" "$work/units/user/weightsd.service"; do
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$u" >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log" >&2; fail "systemd-analyze verify $u"; }
  [[ ! -s $work/verify.log ]] || { cat "$work/verify.log" >&2; fail "systemd-analyze verify warned"; }
done
security=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1 | tail -n 1)
[[ $security =~ exposure\ level\ for\ weightsd.service:\ ([0-9.]+)\ (SAFE|OK) ]] ||
  fail "security rating is worse than OK: $security"
pass "systemd-analyze verify clean; security: ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"

systemd-sysusers --root="$root" >/dev/null 2>&1 || fail "systemd-sysusers --root failed"
grep -qE '^weightsd:x:[0-9]+:[0-9]+:weightsd model mirror:/var/lib/weightsd:/usr/sbin/nologin$' \
  "$root/etc/passwd" || fail "sysusers: no weightsd user: $(cat "$root/etc/passwd" 2>/dev/null)"
uid=$(awk -F: '$1 == "weightsd" { print $3 }' "$root/etc/passwd")
((uid < 1000)) || fail "weightsd is not a system user (uid $uid)"
systemd-tmpfiles --root="$root" --create weightsd.conf >/dev/null 2>&1 ||
  fail "systemd-tmpfiles --root failed"
[[ $(stat -c '%a %u' "$root/var/lib/weightsd") == "750 $uid" ]] ||
  fail "tmpfiles: /var/lib/weightsd is $(stat -c '%a %u' "$root/var/lib/weightsd")"
pass "sysusers: system user weightsd (uid $uid); tmpfiles: /var/lib/weightsd 0750"

# --- man pages and completions ----------------------------------------------------------------------
zcat "$root/usr/share/man/man8/weightsd.8.gz" >"$work/weightsd.8"
zcat "$root/usr/share/man/man1/weightsctl.1.gz" >"$work/weightsctl.1"
man8=$work/weightsd.8
man1=$work/weightsctl.1
grep -q '^\.TH WEIGHTSD "8"' "$man8" || fail "weightsd.8 has no .TH header"
grep -q 'check\\-config' "$man8" || fail "weightsd.8 lacks --check-config (not from --help?)"
grep -q '^\.SH SIGNALS' "$man8" || fail "weightsd.8 lacks the SIGNALS section"
grep -q '^\.SS "weightsctl feed add"' "$man1" || fail "weightsctl.1 lacks nested commands"
grep -q '^\.SS "weightsctl completion"' "$man1" || fail "weightsctl.1 lacks the completion command"
grep -q '^\.SS "weightsctl catalog validate"' "$man1" || fail "weightsctl.1 lacks catalog validate"
if command -v groff >/dev/null 2>&1; then
  groff -man -Tutf8 -ww -z "$man1" 2>"$work/groff.log" && [[ ! -s $work/groff.log ]] ||
    fail "groff warnings in weightsctl.1: $(head -5 "$work/groff.log")"
fi
pass "man pages from --help (weightsd.8, weightsctl.1 with every subcommand)"

bash_completion=$root/usr/share/bash-completion/completions/weightsctl
complete_words() { # words... (the last is the one being completed)
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _weightsctl
           printf "%s\n" "${COMPREPLY[@]}"' _ "$bash_completion" "$@"
}
[[ $(complete_words weightsctl fe) == $'feed\nfetch' ]] || fail "bash: 'fe' -> $(complete_words weightsctl fe)"
[[ $(complete_words weightsctl --socket /x feed a) == add ]] ||
  fail "bash: 'feed a' after --socket VALUE -> $(complete_words weightsctl --socket /x feed a)"
[[ $(complete_words weightsctl key generate --o) == --out ]] || fail "bash: option completion"
# A flag takes no value: the word after --json is still a command.
[[ $(complete_words weightsctl --json feed a) == add ]] ||
  fail "bash: 'feed a' after --json -> $(complete_words weightsctl --json feed a)"
got=$(bash -c 'source "$1"; COMP_WORDS=(weightsd --log-); COMP_CWORD=1; _weightsd
               printf "%s\n" "${COMPREPLY[@]}"' _ "$root/usr/share/bash-completion/completions/weightsd")
[[ $got == --log-level ]] || fail "bash: weightsd --log- -> $got"
shells=bash
zsh_completion=$root/usr/share/zsh/vendor-completions/_weightsctl
if command -v zsh >/dev/null 2>&1; then
  zsh -n "$zsh_completion" || fail "zsh syntax"
  # compadd/_files stubbed: print the candidates the function offers.
  zsh_complete() { # CURRENT words...
    zsh -c 'compadd() { shift; print -l -- "$@" }; _files() { print FILES }
            CURRENT=$1; shift 2; words=("$@"); source "$0"' "$zsh_completion" "$@"
  }
  [[ $(zsh_complete 5 -- weightsctl --socket /x feed a | grep '^a') == add ]] ||
    fail "zsh: 'feed a' after --socket VALUE"
  [[ $(zsh_complete 5 -- weightsctl key generate --out '') == FILES ]] || fail "zsh: --out VALUE"
  shells+=", zsh"
fi
fish_completion=$root/usr/share/fish/vendor_completions.d/weightsctl.fish
if command -v fish >/dev/null 2>&1; then
  fish -n "$fish_completion" || fail "fish syntax"
  got=$(fish -c "source '$fish_completion'; complete -C 'weightsctl --socket /x feed a'" | cut -f1)
  [[ $got == add ]] || fail "fish: 'feed a' after --socket VALUE -> $got"
  shells+=", fish"
fi
pass "completions ($shells) offer commands, nested commands and options"

# --- cmake --install: same layout, an edited config is kept ------------------------------------------
dest=$work/destdir
DESTDIR=$dest cmake --install "$build" --prefix /usr >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "cmake --install"; }
for f in "${expected[@]}"; do [[ -f $dest/$f ]] || fail "cmake --install lacks /$f"; done
echo 'log_level = "debug"' >>"$dest/etc/weightsd/weightsd.toml"
DESTDIR=$dest cmake --install "$build" --prefix /usr >"$work/install2.log" 2>&1 || fail "reinstall"
grep -q '^log_level = "debug"' "$dest/etc/weightsd/weightsd.toml" || fail "reinstall overwrote the config"
cmp -s "$dest/etc/weightsd/weightsd.toml.default" "$WEIGHTS_SOURCE_DIR/config/weightsd.toml" ||
  fail "reinstall did not write weightsd.toml.default"
pass "cmake --install lays out the same files; a reinstall keeps the edited config"
