#!/usr/bin/env bash
# Crash loop: SIGKILL the fetching daemon at many random points of a fetch (start-up, loading and
# the restart's scan of partial files and feed refreshes included) and restart it each time. After every kill and
# restart: the release database passes PRAGMA integrity_check (a copy taken right after the
# kill), the feed's trusted versions never go backwards, verified bytes never go backwards,
# and nothing unverified is visible (no view, no `complete`) before every file is verified. At
# the end the release is complete and byte-identical to the source, and the only seeder sent at
# most 1.1x the release plus a few pieces per kill (a restart must not fetch again what is on
# disk, whether or not a resume file was written before the kill).
#
# Seeded and reproducible: the lives come from $RANDOM seeded with CRASH_SEED. Sizes and counts
# can be raised for a soak (scripts/crash-soak): CRASH_SHARD_MIB (release ~1.5x that), CRASH_KILLS,
# CRASH_LIFE_MIN_MS / CRASH_LIFE_MAX_MS, CRASH_RATE (seeder upload limit, bytes/s; default: the
# release spread over the kills so that every life downloads part of it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

seed=${CRASH_SEED:-14}
shard_mib=${CRASH_SHARD_MIB:-48}
kills=${CRASH_KILLS:-20}
life_min=${CRASH_LIFE_MIN_MS:-300}
life_max=${CRASH_LIFE_MAX_MS:-3000}
RANDOM=$seed

model=crash-org/loop
rev=c0ffee1
"$W" feed init "$T/pub" >/dev/null
bash "$WEIGHTS_SOURCE_DIR/scripts/lib/make-weights.sh" "$T/w" "$shard_mib" "crash$seed"
"$W" release add "$T/w" --feed "$T/pub" --model "$model" --revision "$rev" --license mit \
  --publish >/dev/null
root=$T/pub/public/metadata/1.root.json
total=$(du -cb "$T"/w/* | tail -1 | cut -f1)
mean_life_ms=$(((life_min + life_max) / 2))
# The release over ~80% of the lives' total time: the fetch is still running at the last kill.
rate=${CRASH_RATE:-$((total * 1000 * 10 / (kills * mean_life_ms * 8)))}
echo "seed $seed: release $total bytes, $kills kills, lives ${life_min}-${life_max} ms," \
  "seeder limited to $rate B/s"

printf '[limits]\nupload_rate = %d\n' "$rate" >"$T/slow.toml"
start_daemon 1 --config "$T/slow.toml"
start_daemon 2
for n in 1 2; do
  expect_ok "daemon $n subscribes to the feed" ctl "$n" feed add demo "$T/pub/public" --root "$root"
done
expect_ok "daemon 1 seeds the release" ctl 1 seed "$T/w" --feed demo --model "$model" \
  --revision "$rev"
piece=$(grep -rhoE '"piece_length": *[0-9]+' "$T/pub" | head -1 | grep -oE '[0-9]+$')
piece=${piece:-1048576}
view_dir=$T/d2/state/views/$model/$rev
(cd "$T/w" && sha256sum -- * | sort -k2) >"$T/expected"

# The fetcher's trusted metadata versions, one "role version" line each (compared across lives).
trusted_versions() {
  ctl 2 --json feed status demo | jq -r '.roles | to_entries[] | "\(.key) \(.value.version)"' |
    sort
}

# check_visible LIFE: nothing unverified is visible; verified bytes never go backwards.
last_verified=0
check_visible() {
  local r state path verified had_view=0
  [[ -e $view_dir ]] && had_view=1
  r=$(ctl 2 --json show "$model@$rev") || {
    fail "life $1: show failed"
    return
  }
  state=$(jq -r .state <<<"$r")
  path=$(jq -r .path <<<"$r")
  verified=$(jq -r '.verified_length // 0' <<<"$r")
  if [[ $state == complete ]]; then
    complete_seen=1
    [[ $verified -ge $total ]] || fail "life $1: complete with $verified of $total bytes verified"
  elif [[ $had_view == 1 || $path != null ]]; then
    fail "life $1: exposed while $state (path $path, view dir present: $had_view)"
  fi
  if [[ $verified -lt $last_verified ]]; then
    fail "life $1: verified bytes went back from $last_verified to $verified"
  fi
  last_verified=$verified
}

# check_db LIFE: the release database and state store, copied right after the kill (with their
# journals) as a restart would find them, pass PRAGMA integrity_check.
check_db() {
  local f copy=$T/copy-db ok n=0
  rm -rf "$copy"
  mkdir -p "$copy"
  cp -a "$T/d2/state/." "$copy/" 2>/dev/null || true
  while IFS= read -r f; do
    ok=$(sqlite3 "$f" 'PRAGMA integrity_check;' 2>&1 | head -1)
    [[ $ok == ok ]] || fail "life $1: integrity_check of $(basename "$f"): $ok"
    n=$((n + 1))
  done < <(find "$copy" -maxdepth 1 -type f \( -name '*.db' -o -name '*.sqlite' \))
  ((n > 0)) || fail "life $1: no database found in $T/d2/state"
}

t0=$SECONDS
refreshes=0 counted=0 progress=0 prev_sent=0 complete_seen=0
expect_ok "daemon 2 starts the fetch" ctl 2 fetch "$model@$rev" --peer "$(peer_of 1)" --no-wait
versions0=$(trusted_versions)
[[ $(wc -l <<<"$versions0") -eq 4 ]] || fail "the feed's trusted versions: [$versions0]"
for ((life = 1; life <= kills; life++)); do
  ms=$((life_min + RANDOM % (life_max - life_min + 1)))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  # Every third life the publisher re-signs its timestamp and the kill lands while the
  # fetcher refreshes the feed (its trusted versions must then move forward or stay).
  if ((RANDOM % 3 == 0)); then
    "$W" feed publish "$T/pub" --timestamp-only >/dev/null
    ctl 2 feed refresh demo --no-wait >/dev/null 2>&1 || true
    refreshes=$((refreshes + 1))
  fi
  kill_daemon 2 KILL
  check_db "$life"
  before=$(ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes)
  echo "life $life: killed after ${ms} ms; seeder has sent $before bytes"
  # A life counts until the release is complete; it progressed if the seeder sent anything.
  if [[ $complete_seen == 0 ]]; then
    counted=$((counted + 1))
    if ((before > prev_sent)); then progress=$((progress + 1)); fi
    prev_sent=$before
  fi
  start_daemon 2 || {
    fail "life $life: the daemon does not start again"
    break
  }
  # Now and then an operator's restart (SIGTERM) lands while the restarted daemon is still
  # loading or checking the partial files: what it saves on the way out must not claim less than
  # is on disk.
  if ((RANDOM % 4 == 0)); then
    echo "life $life: SIGTERM during start-up"
    kill_daemon 2 TERM
    start_daemon 2 || {
      fail "life $life: the daemon does not start again after SIGTERM"
      break
    }
  fi
  check_visible "$life"
  v=$(trusted_versions)
  if [[ -n $versions0 ]] && ! join <(echo "$versions0") <(echo "$v") |
    awk '$2 > $3 { bad = 1 } END { exit bad }'; then
    fail "life $life: trusted versions went backwards: [$versions0] -> [$v]"
  fi
  [[ $(wc -l <<<"$v") -eq 4 ]] || fail "life $life: trusted versions unreadable: [$v]"
  versions0=$v
done
echo "$kills kills in $((SECONDS - t0)) s ($refreshes during a feed refresh); trusted: $(tr "\n" " " <<<"$versions0")"
# The refreshes got through: the fetcher trusts a timestamp past version 1.
ts_moved() {
  ctl 2 feed refresh demo >/dev/null
  [[ $(ctl 2 --json feed status demo | jq .roles.timestamp.version) -gt 1 ]]
}
if ((refreshes > 0)); then
  expect_ok "the feed's timestamp moved forward" wait_until "a refresh" 30 ts_moved
fi

# Lives must make progress: a restart that re-checks from scratch and is killed before the check
# ends (libtorrent 2.0.8 cannot resume a check) gets nothing done, life after life.
echo "$progress of $counted lives before completion made progress"
if ((counted >= 4)); then
  ((progress * 2 >= counted)) && pass "most lives made progress ($progress of $counted)" ||
    fail "only $progress of $counted lives made progress"
fi

# The last life runs to completion.
done_or_fail() {
  local s
  s=$(ctl 2 --json show "$model@$rev" | jq -r .state)
  [[ $s == complete ]] || { [[ $s == failed ]] && echo "failed" >"$T/failed"; return 1; }
}
expect_ok "the fetch completes after the kills" wait_until "fetch complete" 300 done_or_fail
check_visible final
r=$(ctl 2 --json show "$model@$rev")
view=$(jq -r .path <<<"$r")
if [[ $view != null ]] && (cd "$view" && sha256sum -- * | sort -k2) >"$T/got" &&
  cmp -s "$T/expected" "$T/got"; then
  pass "every file's SHA-256 matches the source"
else
  fail "the fetched files differ from the source (view $view)"
fi

# The seeder is the only source: its upload counter (refreshed by status updates) is what went
# over the wire across all lives.
seeder_uploaded() { ctl 1 --json show "$model@$rev" | jq -r .uploaded_bytes; }
expect_ok "the seeder's counter reaches the release size" wait_until "seeder counter" 15 \
  bash -c "[[ \$('$W' --socket '$T/d1/ctl.sock' --json show '$model@$rev' | jq .uploaded_bytes) -ge $total ]]"
uploaded=$(seeder_uploaded)
per_kill=$((2 * piece))
allowed=$((total * 11 / 10 + kills * per_kill))
ratio=$(awk -v u="$uploaded" -v t="$total" 'BEGIN { printf "%.3f", u / t }')
echo "seeder sent $uploaded bytes for a $total-byte release (${ratio}x) over $kills kills;" \
  "allowed $allowed (1.1x + $kills x $per_kill)"
[[ $uploaded -le $allowed ]] && pass "restarts did not fetch again what was on disk (${ratio}x)" ||
  fail "the seeder sent ${ratio}x the release over $kills kills"

[[ $failures -eq 0 ]] || show_logs
finish
