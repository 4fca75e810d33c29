#!/bin/bash
# What an I/O costs the daemon, counted rather than timed (issue 13: light-load CPU and CPU per
# I/O, from a profile): for each path, a fixed number of I/Os (NIOS) at a fixed offered rate
# (RATE, hnvmf-perf --rate; open loop) and the same number in a closed loop at QD128, then
#   Ir/io    instructions the whole daemon executed per I/O (valgrind's callgrind, counters
#            zeroed just before and dumped just after the hnvmf-perf run: every thread, spinning
#            and sleeping included; the daemon runs slower under it, the count does not depend
#            on the machine's load except through how often an idle thread polls)
#   cs/io    context switches of all the daemon's threads per I/O (voluntary + involuntary,
#            /proc/PID/task/*/status, a native run)
#   cpu-us/io  the daemon's CPU time per I/O in that native run (utime + stime)
# Modes: pqm (adaptive pool), pqm-cmax (c pinned at CMAX), direct, baseline. Null namespace and a
# prefilled file read with O_DIRECT. Prints a table; never fails on timing.
#
#   bench/pqm-cost-bench.sh [BUILD_DIR]           (default: build)
#   SHORT=1 TARGET_CPU=0 INIT_CPU=1 FILE FILE_MIB PORT=14445 CMAX=4 IDLE_SPIN_US   bench/lib-tcp.sh
#   BACKENDS="null file" MODES="pqm pqm-cmax direct baseline" LOADS="rate qd128" RATE=2000 NIOS=10000
#   CALLGRIND=1 (0: skip the instruction counts)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"
tcp_init pqm-cost-bench "${1:-build}" 14445 4
BACKENDS=${BACKENDS:-null file}
check_names backend "$BACKENDS" null file
MODES=${MODES:-pqm pqm-cmax direct baseline}
check_names mode "$MODES" pqm pqm-cmax direct baseline
LOADS=${LOADS:-rate qd128}
check_names load "$LOADS" rate qd128
RATE=${RATE:-2000}
NIOS=${NIOS:-10000}
[ "$SHORT" = 1 ] && NIOS=${NIOS_SHORT:-2000}
CALLGRIND=${CALLGRIND:-1}
if [ "$CALLGRIND" = 1 ] && ! command -v valgrind > /dev/null; then
	echo "$BENCH: valgrind not found (CALLGRIND=0 skips the instruction counts)" >&2
	exit 2
fi
prefill_file

start() { # mode
	reset_tenants
	case $1 in
	direct) start_daemon direct ;;
	baseline)
		tenant 1 baseline
		start_daemon pqm
		;;
	pqm | pqm-cmax)
		tenant 1 pqm
		start_daemon pqm
		if [ "$1" = pqm-cmax ]; then
			ctl pqm-c "$CMAX" > /dev/null || { echo "$BENCH: pqm-c $CMAX refused" >&2; exit 1; }
		fi
		;;
	esac
}

# Context switches of every thread of the daemon so far.
ctx_switches() {
	cat /proc/"$pid"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n + 0 }'
}

# load_args LOAD BACKEND: hnvmf-perf's arguments for the load.
load_args() {
	local a=(-N "$(nsid "$2")" --workload randread -z 4k -H "$(host 1)" --number-ios "$NIOS")
	if [ "$1" = rate ]; then
		a+=(--rate "$RATE" -Q 32 --queues 2)
	else
		a+=(-Q 128 --queues 1)
	fi
	echo "${a[@]}"
}

# native BACKEND MODE LOAD: prints "cs/io cpu-us/io iops"
native() {
	local c0 c1 t0 t1 out iops
	start "$2"
	c0=$(ctx_switches) t0=$(cpu_ticks)
	# shellcheck disable=SC2046 # load_args prints words
	out=$(perf_json $(load_args "$3" "$1"))
	c1=$(ctx_switches) t1=$(cpu_ticks)
	stop_daemon
	iops=$(jfields "$out" iops) || iops=-
	awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$TICKS" -v n="$NIOS" -v i="$iops" \
		'BEGIN { printf "%.2f %.2f %s\n", c / n, t / hz * 1e6 / n, i }'
}

# instructions BACKEND MODE LOAD: prints Ir per I/O under callgrind
instructions() {
	local cg="$dir/cg.out" ir
	DAEMON_WRAP="valgrind --tool=callgrind --callgrind-out-file=$cg" start "$2"
	callgrind_control -z "$pid" > /dev/null 2>&1
	# shellcheck disable=SC2046 # load_args prints words
	perf_json $(load_args "$3" "$1") > /dev/null
	callgrind_control -d "$pid" > /dev/null 2>&1
	stop_daemon
	ir=$(awk '/^summary:/ { s = $2 } END { print s + 0 }' "$cg".1 2>/dev/null || echo 0)
	rm -f "$cg" "$cg".*
	awk -v i="$ir" -v n="$NIOS" 'BEGIN { printf "%.0f\n", i / n }'
}

tcp_header
echo "# one tenant; rate: --rate $RATE, 2 I/O queues x QD 32 (open loop); qd128: 1 I/O queue x QD 128 (closed loop);"
echo "# $NIOS I/Os of 4 KiB random read per row; PQM cmax $CMAX (pqm-cmax: pqm-c $CMAX); baseline: $CMAX servers"
echo "# Ir/io: callgrind, whole daemon; cs/io, cpu-us/io, IOPS: a native run of the same I/Os"
printf "%-5s %-9s %-6s %9s %8s %10s %9s\n" bknd mode load "Ir/io" "cs/io" "cpu-us/io" IOPS
for be in $BACKENDS; do
	for mode in $MODES; do
		for load in $LOADS; do
			ir=-
			[ "$CALLGRIND" = 1 ] && ir=$(instructions "$be" "$mode" "$load")
			read -r cs cpu iops <<< "$(native "$be" "$mode" "$load")"
			printf "%-5s %-9s %-6s %9s %8s %10s %9.0f\n" "$be" "$mode" "$load" "$ir" "$cs" "$cpu" "$iops"
		done
	done
done
