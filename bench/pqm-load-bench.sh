#!/bin/bash
# Light load over NVMe/TCP on loopback (issue 13): what the PQM path costs when the load is far
# below what it can do. First the maximum: PQM with the adaptive pool, closed loop (TENANTS tenants
# of QUEUES x QD each, 4 KiB random read). Then an open loop (hnvmf-perf --rate) offering 10 %,
# 50 % and 90 % of that maximum, the same offered rates for three set-ups: PQM with the adaptive
# pool (`pqm`), PQM with c pinned at cmax through the control socket (`hnvmfctl pqm set-c CMAX`: `pqm-cmax`),
# and the direct path. Prints the daemon's CPU-seconds per second of the run (utime + stime from
# /proc/PID/stat over the wall time of the hnvmf-perf run), p50/p99 (measured from each I/O's
# scheduled time, so a target that falls behind shows it), the backlog hnvmf-perf could not issue,
# and the pool sizes c seen by sampling the control socket's `pqm` every second (min-max). Null
# namespace and a prefilled file read with O_DIRECT. Prints a table; never fails on timing.
#
#   bench/pqm-load-bench.sh [BUILD_DIR]           (default: build)
#   SECS=10 SHORT=1 TARGET_CPU=0 INIT_CPU=1 FILE FILE_MIB PORT=14443 CMAX=4   bench/lib-tcp.sh
#   BACKENDS="null file" LOADS="10 50 90" MODES="pqm pqm-cmax direct"
#   TENANTS=4 QUEUES=2 QD=32
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"
tcp_init pqm-load-bench "${1:-build}" 14443 4
BACKENDS=${BACKENDS:-null file}
check_names backend "$BACKENDS" null file
LOADS=${LOADS:-10 50 90}
MODES=${MODES:-pqm pqm-cmax direct}
check_names mode "$MODES" pqm pqm-cmax direct
TENANTS=${TENANTS:-4}
QUEUES=${QUEUES:-2}
QD=${QD:-32}
prefill_file

hosts=()
for i in $(seq "$TENANTS"); do hosts+=(-H "$(host "$i")"); done

start() { # mode
	reset_tenants
	if [ "$1" = direct ]; then
		start_daemon direct
		return
	fi
	for i in $(seq "$TENANTS"); do tenant "$i" pqm; done
	start_daemon pqm
	if [ "$1" = pqm-cmax ]; then
		ctl pqm set-c "$CMAX" > /dev/null || { echo "$BENCH: pqm set-c $CMAX refused" >&2; exit 1; }
	fi
}

# run BACKEND MODE LOAD% RATE: RATE 0 is the closed loop (the maximum); prints the row, and the
# achieved IOPS into $dir/iops.
run() {
	local be=$1 mode=$2 load=$3 rate=$4 out f t0 t1 w0 w1 cs=- rargs=()
	[ "$rate" != 0 ] && rargs=(--rate "$rate")
	: > "$dir/c.txt"
	[ "$mode" != direct ] && pqm_sampler "$dir/c.txt" 1
	t0=$(cpu_ticks) w0=$EPOCHREALTIME
	out=$(perf_json -N "$(nsid "$be")" --workload randread -z 4k -Q "$QD" --queues "$QUEUES" \
		--connections "$TENANTS" "${hosts[@]}" "${rargs[@]}" --time "$SECS")
	t1=$(cpu_ticks) w1=$EPOCHREALTIME
	stop_bg
	[ "$mode" != direct ] && cs=$(awk '$2 != "-" { if (!n++ || $2 < lo) lo = $2; if ($2 > hi) hi = $2 }
		END { print n ? (lo == hi ? lo : lo "-" hi) : "-" }' "$dir/c.txt")
	local cpus
	cpus=$(awk -v d=$((t1 - t0)) -v hz="$TICKS" -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", d / hz / (b - a) }')
	if f=$(jfields "$out" iops lat_us.p50 lat_us.p99 errors); then
		read -r iops p50 p99 errs <<< "$f"
		local backlog=-
		[ "$rate" != 0 ] && backlog=$(jfields "$out" rate_backlog)
		printf "%-5s %-9s %5s %9s %9.0f %9.1f %9.1f %8s %7s %6s %6s\n" "$be" "$mode" "$load" \
			"$([ "$rate" = 0 ] && echo closed || echo "$rate")" "$iops" "$p50" "$p99" "$backlog" "$cpus" "$cs" "$errs"
		printf "%.0f\n" "$iops" > "$dir/iops"
	else
		printf "%-5s %-9s %5s %9s   %s\n" "$be" "$mode" "$load" "$rate" "$f"
		echo 0 > "$dir/iops"
	fi
}

tcp_header
echo "# $TENANTS tenant(s) (mode = pqm; direct: no tenant files), each $QUEUES I/O queue(s) x QD $QD, 4 KiB random read;"
echo "# PQM cmax $CMAX, [pqm] fair = yes; pqm-cmax: c pinned at $CMAX (hnvmfctl pqm set-c $CMAX)"
echo "# max: closed loop, PQM adaptive; then --rate at LOAD % of it (open loop, -Q $QD bounds each queue)"
echo "# cpu-s/s: the daemon's CPU-seconds per second of the run; c: pool sizes sampled each second"
printf "%-5s %-9s %5s %9s %9s %9s %9s %8s %7s %6s %6s\n" bknd mode load% offered IOPS "p50(us)" "p99(us)" backlog \
	"cpu-s/s" c errors
for be in $BACKENDS; do
	start pqm
	run "$be" pqm max 0
	max=$(cat "$dir/iops")
	stop_daemon
	if [ "$max" = 0 ]; then
		echo "# $be: no maximum measured, the light-load rows are not run"
		continue
	fi
	for mode in $MODES; do
		start "$mode"
		for load in $LOADS; do
			run "$be" "$mode" "$load" $((max * load / 100))
		done
		stop_daemon
	done
done
