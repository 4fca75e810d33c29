# shellcheck shell=bash
# Shell functions shared by the NVMe/TCP benchmarks of the PQM path (bench/pqm-*.sh), sourced,
# never run: hnvmfd pinned to TARGET_CPU with a generated configuration and tenant files, hnvmf-perf
# pinned to INIT_CPU with --json, the daemon's CPU time from /proc/PID/stat, the control socket.
# One copy of this logic, so that every table is measured the same way.
# bench/tcp-bench.sh and bench/spdk-perf.sh source it too, for conf_listener_null and wait_ready.
#
# Knobs every script shares (environment):
#   SECS       seconds per measured run (default 10; SHORT=1: 2)
#   SHORT=1    a short check that the script works: SECS=2 and a 256 MiB file of its own
#   TARGET_CPU=0 INIT_CPU=1   hnvmfd (reactor and I/O servers) / hnvmf-perf
#   FILE FILE_MIB             the file backend: written once with random data, read with O_DIRECT
#                             (default /var/tmp/hnvmf-pqm-bench.img, 2048 MiB)
#   CMAX       [pqm] cmax, also the baseline's servers per namespace (default per script)
#   PORT       the NVMe/TCP listener on 127.0.0.1 (default per script, so they can run side by side)
#   IDLE_SPIN_US  [global] idle_spin_us of the daemon (default: the daemon's own)
#   DAEMON_WRAP   a command hnvmfd runs under, e.g. "valgrind --tool=callgrind ..." (default none)

# tcp_init NAME BUILD_DIR DEFAULT_PORT DEFAULT_CMAX: reads the knobs, checks the build, makes the
# work directory (removed on exit, with the daemon and every background job stopped).
tcp_init() {
	BENCH=$1
	BUILD=$2
	SHORT=${SHORT:-0}
	if [ "$SHORT" = 1 ]; then
		SECS=${SECS:-2}
		FILE=${FILE:-/var/tmp/hnvmf-pqm-bench-short.img}
		FILE_MIB=${FILE_MIB:-256}
	else
		SECS=${SECS:-10}
		FILE=${FILE:-/var/tmp/hnvmf-pqm-bench.img}
		FILE_MIB=${FILE_MIB:-2048}
	fi
	TARGET_CPU=${TARGET_CPU:-0}
	INIT_CPU=${INIT_CPU:-1}
	PORT=${PORT:-$3}
	CMAX=${CMAX:-$4}
	SUBNQN=nqn.2026-01.io.hnvmf:pqm-bench
	HNVMFD=$BUILD/target/hnvmfd
	PERF=$BUILD/tools/hnvmf-perf
	CTL=$BUILD/tools/hnvmfctl
	if ! [ -x "$HNVMFD" ] || ! [ -x "$PERF" ] || ! [ -x "$CTL" ]; then
		echo "$BENCH: build first (make build)" >&2
		exit 2
	fi
	TICKS=$(getconf CLK_TCK)
	dir=$(mktemp -d)
	pid=
	bg_pids=()
	trap 'stop_bg; stop_daemon; rm -rf "$dir"' EXIT
}

# The file, written once with real data (not sparse: a read of a hole never reaches the disk).
prefill_file() {
	if [ "$(stat -c %s "$FILE" 2>/dev/null || echo 0)" != $((FILE_MIB << 20)) ]; then
		echo "# writing $FILE ($FILE_MIB MiB) once"
		dd if=/dev/urandom of="$FILE" bs=1M count="$FILE_MIB" oflag=direct status=none
	fi
}

# The namespace of a backend: 1 null (1 TiB, no storage), 2 the file.
nsid() { if [ "$1" = file ]; then echo 2; else echo 1; fi; }

# check_names WHAT LIST NAME...: refuses (exit 2) a word of LIST that is none of the NAMEs, before
# anything runs (BACKENDS: check_names backend "$BACKENDS" null file).
check_names() {
	local what=$1 list=$2 w n
	shift 2
	for w in $list; do
		for n in "$@"; do [ "$w" = "$n" ] && continue 2; done
		echo "$BENCH: unknown $what '$w' ($*)" >&2
		exit 2
	done
}

host() { echo "nqn.2026-01.io.hnvmf.bench:tenant-$1"; }

# The tenant files go into $dir/tenants; reset_tenants empties it (direct: hosts without a file).
reset_tenants() {
	rm -rf "$dir/tenants"
	mkdir -p "$dir/tenants"
}

# tenant NAME MODE [KEY=VALUE ...]: the tenant file of host "$(host NAME)".
tenant() {
	local name=$1 mode=$2 kv
	shift 2
	{
		printf '[tenant]\nhostnqn = %s\nsubsystems = %s\nmode = %s\n' "$(host "$name")" "$SUBNQN" "$mode"
		for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
	} > "$dir/tenants/$name.conf"
}

# start_daemon DEFAULT_MODE [KEY=VALUE ...]: hnvmfd with the tenant files made so far, a null and
# a file namespace, and the extra [pqm] keys given; waits until it is ready. CONF_GLOBAL (lines
# for [global]) and CONF_EXTRA (more sections, e.g. a listener) go into the configuration too.
start_daemon() {
	local default=$1 kv
	shift
	mkdir -p "$dir/tenants"
	{
		cat <<EOF
[global]
default_mode = $default
tenants_dir = $dir/tenants
control_socket = $dir/ctl.sock
${IDLE_SPIN_US:+idle_spin_us = $IDLE_SPIN_US}
${CONF_GLOBAL:-}
[pqm]
cmax = $CMAX
server_cpus = $TARGET_CPU
EOF
		for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
		conf_listener_null
		cat <<EOF
[backend file0]
type = file
path = $FILE
direct = yes
[subsystem $SUBNQN]
allow_any_host = yes
namespace = 1:null0
namespace = 2:file0
${CONF_EXTRA:-}
EOF
	} > "$dir/bench.conf"
	: > "$dir/hnvmfd.log"
	# shellcheck disable=SC2086 # DAEMON_WRAP is a command line, split into words
	${DAEMON_WRAP:-} "$HNVMFD" -c "$dir/bench.conf" --cpu "$TARGET_CPU" 2> "$dir/hnvmfd.log" &
	pid=$!
	wait_ready
}

# The configuration's NVMe/TCP listener tcp0 on 127.0.0.1:$PORT and the null backend null0 (1 TiB,
# no storage), on stdout.
conf_listener_null() {
	cat <<EOF
[listener tcp0]
transport = tcp
address = 127.0.0.1
port = $PORT
[backend null0]
type = null
size = 1T
EOF
}

# wait_ready: waits (10 s at most) until hnvmfd's log, $dir/hnvmfd.log, says it is ready; else
# prints the log and exits 1.
wait_ready() {
	for _ in $(seq 100); do
		grep -q ready "$dir/hnvmfd.log" && break
		sleep 0.1
	done
	grep -q ready "$dir/hnvmfd.log" || { cat "$dir/hnvmfd.log" >&2; exit 1; }
}

stop_daemon() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}

# Background jobs of a script (second hnvmf-perf, pqm sampler), stopped by stop_bg and on exit.
stop_bg() {
	local p
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	bg_pids=()
}

# beside_start FILE ARGS...: a second hnvmf-perf run (perf_json ARGS) in the background, for
# SECS + 2 s, its last line into FILE; returns 1 s after starting it, so that a run of SECS started
# then is beside it all along (it ends about 1 s after that run). wait_bg waits for it.
beside_start() {
	local out=$1
	shift
	perf_json "$@" --time $((SECS + 2)) > "$out" &
	bg_pids+=($!)
	sleep 1
}

# noise_start CPU NSID NOISE: the noisy tenant's run beside the measured one (beside_start into
# $dir/noise.json), hnvmf-perf pinned to CPU, NOISE_QUEUES I/O queues x NOISE_QD on namespace NSID:
# NOISE randread (4 KiB random reads), write (128 KiB random writes) or none (no run).
noise_start() {
	local cpu=$1 ns=$2 noise=$3 nargs
	[ "$noise" = none ] && return 0
	nargs=(--workload randread -z 4k)
	[ "$noise" = write ] && nargs=(--workload randwrite -z 128k)
	PERF_CPU=$cpu beside_start "$dir/noise.json" -N "$ns" "${nargs[@]}" -Q "$NOISE_QD" \
		--queues "$NOISE_QUEUES" -H "$(host noisy)"
}

# noise_fields NOISE: after wait_bg, the noisy run's IOPS, MB/s and errors as the tables print
# them ("-" each for none; jfields' "failed: ..." when the run failed).
noise_fields() {
	local nf="-         -      -" niops nmbps nerr
	if [ "$1" != none ] && nf=$(jfields "$(tail -1 "$dir/noise.json")" iops mbps errors); then
		read -r niops nmbps nerr <<< "$nf"
		nf=$(printf "%9.0f %9.1f %6s" "$niops" "$nmbps" "$nerr")
	fi
	echo "$nf"
}

# ratio A B: B / A with two decimals (0.00 when A is not positive), e.g. a p99 beside noise over
# the same p99 alone.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }'; }

# Waits for the background jobs to end by themselves.
wait_bg() {
	local p
	for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	bg_pids=()
}

# The daemon's CPU time so far, in clock ticks (utime + stime of all its threads).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

# cpu_secs T0 T1: ticks to seconds.
cpu_secs() { awk -v d=$(( $2 - $1 )) -v hz="$TICKS" 'BEGIN { printf "%.2f", d / hz }'; }

# hnvmfctl on the daemon's control socket: ctl pqm, ctl pqm set-c N.
ctl() { "$CTL" -s "$dir/ctl.sock" "$@"; }

# perf_json ARGS...: one hnvmf-perf run against the subsystem, pinned to PERF_CPU (default
# INIT_CPU); prints the last line of its output: the JSON document, or the error when it failed.
perf_json() {
	"$PERF" perf -a 127.0.0.1 -s "$PORT" -n "$SUBNQN" --cpu "${PERF_CPU:-$INIT_CPU}" --json "$@" 2>&1 | tail -1
}

# jfields JSON PATH...: the values at the dotted paths (iops, lat_us.p99, write.mbps), one line,
# space separated, numbers as printed by hnvmf-perf. When JSON is not a result (the run failed)
# prints "failed: " and its first 80 characters, and returns 1.
jfields() {
	python3 - "$@" <<'PY'
import json, sys
out, paths = sys.argv[1], sys.argv[2:]
try:
    vals = []
    for p in paths:
        v = json.loads(out)
        for k in p.split('.'):
            v = v[k]
        vals.append(str(v))
    print(' '.join(vals))
except Exception:
    print('failed: ' + out[:80])
    sys.exit(1)
PY
}

# pqm_state: "c lambda" from the control socket's `pqm` (the pool's size now and the arrival
# rate of the last epoch, per second); "- -" while the pool has not started.
pqm_state() {
	ctl pqm | awk '$1 == "pqm" && $2 == "c" { sub("/s", "", $9); print $3, $9; found = 1 }
		END { if (!found) print "- -" }'
}

# since T0: seconds from the time T0 ($EPOCHREALTIME) to now.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# pqm_sampler FILE INTERVAL_S: in the background (in bg_pids), appends "t c lambda" to FILE every
# INTERVAL_S, t in seconds since sampler_t0 (set here, to the time it started).
pqm_sampler() {
	local out=$1 every=$2
	sampler_t0=$EPOCHREALTIME
	(
		while :; do
			s=$(pqm_state)
			echo "$(since "$sampler_t0") $s" >> "$out"
			sleep "$every"
		done
	) &
	bg_pids+=($!)
}

# The header every table starts with: the exact conditions.
tcp_header() {
	echo "# $BENCH, $(git -C "$(dirname "${BASH_SOURCE[0]}")" describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%F %T') UTC"
	echo "# hnvmfd on cpu $TARGET_CPU (reactor and I/O servers), hnvmf-perf on cpu $INIT_CPU; ${SECS} s per run$([ "$SHORT" = 1 ] && echo " (SHORT=1)")"
	echo "# file backend: $FILE, $FILE_MIB MiB of data, O_DIRECT; null: 1 TiB, no storage"
	echo "# load average: $(cat /proc/loadavg)"
	if [ -n "${IDLE_SPIN_US:-}" ]; then echo "# [global] idle_spin_us = $IDLE_SPIN_US"; fi
	sched_note
}

# The kernel's autogroup scheduling shares each CPU between sessions, not processes: with it on,
# another session's `nice -n 19` build still takes half of a pinned benchmark's CPU. Say so.
sched_note() {
	if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
		echo "# WARNING: sched_autogroup_enabled = 1: other sessions' processes share these CPUs" \
		     "whatever their nice value (echo 0 > /proc/sys/kernel/sched_autogroup_enabled)"
	fi
}
