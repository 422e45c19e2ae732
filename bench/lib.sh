# Shared helpers for bench/*/run.sh (sourced). Every benchmark owns a temp dir ($work), kills
# the processes it started on exit, prints the load average at its start and end (the machine is
# often shared: compare ratios measured in the same run, not absolute times across runs), and
# writes its plot to docs/bench/ when gnuplot is installed (bench/install-deps).
# Needs: $src (the source tree). Sets: D, W (binaries), work, bench_pids, load_start.

D=${WEIGHTSD:-$src/build/daemon/weightsd}
W=${WEIGHTSCTL:-$src/build/cli/weightsctl}
for b in "$D" "$W"; do
  [[ -x $b ]] || { echo "not found: $b (cmake --build build --target weightsd weightsctl)" >&2; exit 1; }
done
for t in jq bc; do
  command -v "$t" >/dev/null || { echo "missing tool: $t (bench/install-deps)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/weights-bench.XXXXXX")
# Run copies, so a rebuild during a long run cannot change the binaries half-way.
mkdir -p "$work/bin"
cp "$D" "$work/bin/weightsd"
cp "$W" "$work/bin/weightsctl"
D=$work/bin/weightsd
W=$work/bin/weightsctl
bench_pids=()
bench_cleanup_hooks=()
bench_cleanup() {
  local p h
  for h in "${bench_cleanup_hooks[@]}"; do "$h" || true; done
  harness_stop_all
  for p in "${bench_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n ${BENCH_KEEP:-} ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap bench_cleanup EXIT

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
fsub() { echo "$1 - $2" | bc -l; }
fdiv() { echo "scale=6; $1 / $2" | bc -l; }
fmt2() { printf '%.2f' "$1"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
# Generating synthetic feeds needs no durability: without fsync (eatmydata, from bench/install-deps)
# it is several times faster on a busy disk. Never used for the measured daemons.
FAST=""
command -v eatmydata >/dev/null && FAST=eatmydata

# wait_for SECONDS CMD..., wait_until, nginx, opentracker, qBittorrent, Transmission, network
# namespaces: the library tests/integration uses too. Its processes live under $work.
HARNESS_DIR=$work
source "$src/tests/lib/harness.sh"

# bench_daemon NAME IP [weightsd flags...] : starts weightsd with its state in $work/NAME,
# socket $work/NAME/ctl.sock, log $work/NAME.log; waits until it answers and checks that it is
# on loopback only (harness.sh); pid in $work/NAME.pid.
bench_daemon() {
  local name=$1 ip=$2
  shift 2
  mkdir -p "$work/$name"
  weightsd_check_config "$D" "" --state-dir "$work/$name/state" --socket "$work/$name/ctl.sock" \
    --listen "$ip:0" "$@" || exit 1
  "$D" --state-dir "$work/$name/state" --socket "$work/$name/ctl.sock" --listen "$ip:0" "$@" \
    >>"$work/$name.log" 2>&1 &
  local pid=$!
  bench_pids+=("$pid")
  echo "$pid" >"$work/$name.pid"
  disown "$pid" # no "Killed" job notices
  if ! wait_for 60 "$W" --socket "$work/$name/ctl.sock" status; then
    echo "$name did not start:" >&2
    tail -n 30 "$work/$name.log" >&2
    exit 1
  fi
  weightsd_check_exposure "$work/$name/ctl.sock" || exit 1
}
ctl_of() { # NAME weightsctl-args...
  local name=$1
  shift
  "$W" --socket "$work/$name/ctl.sock" "$@"
}
pid_of() { cat "$work/$1.pid"; }
peer_of() { echo "$2:$(ctl_of "$1" --json status | jq -r .listen_port)"; } # NAME IP

# stop_daemon NAME SIGNAL : signals the daemon and waits (up to 60 s) until it has exited;
# prints the seconds it took.
stop_daemon() {
  local pid t0
  pid=$(pid_of "$1")
  t0=$(now)
  kill "-$2" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$1 (pid $pid) did not exit within 60 s of SIG$2" >&2
    return 1
  fi
  fsub "$(now)" "$t0"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }
# Bytes the process read through read()/pread() (page cache included) and from storage.
io_rchar() { awk '/^rchar:/ { print $2 }' "/proc/$1/io"; }
io_read_bytes() { awk '/^read_bytes:/ { print $2 }' "/proc/$1/io"; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }

machine_line() {
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
    "$(free -g | awk '/^Mem:/ { print $2 }') GiB RAM; load average at the start: $load_start," \
    "at the end: $(loadavg); weightsd $("$W" --version 2>/dev/null | head -n1)"
}

# A tiny publisher feed: bench_feed DIR. Releases are added with bench_release.
bench_feed() { "$W" feed init "$1" >/dev/null; }

# plot OUT.png GNUPLOT-SCRIPT : renders with gnuplot-nox when installed (else says so); the
# script and its data stay in $work/plot-<name>.gp for re-rendering (with BENCH_KEEP=1).
plot() {
  local out=$1 script=$2 gp
  if ! command -v gnuplot >/dev/null; then
    log "gnuplot not installed (bench/install-deps): no $out"
    return 0
  fi
  mkdir -p "$(dirname "$out")"
  gp=$work/plot-$(basename "$out" .png).gp
  printf "set terminal pngcairo size 900,520 noenhanced font 'sans,10'\nset output '%s'\n%s\n" \
    "$out" "$script" >"$gp"
  if ! gnuplot "$gp" 2>"$work/gnuplot.err" || [[ ! -s $out ]]; then
    log "gnuplot failed: $(cat "$work/gnuplot.err")"
    return 0
  fi
  log "wrote $out"
}

# plot_bars OUT.png TITLE YLABEL DATA : one bar per line of DATA ("label" value), with plot.
plot_bars() {
  plot "$1" "
set title '$2'
set ylabel '$3'
set style data histogram
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set grid ytics
unset key
plot '$4' using 2:xtic(1) lc rgb '#4477aa'"
}
