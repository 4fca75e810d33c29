#!/bin/bash
# PQM against the fair baseline and the direct path, over NVMe/TCP on loopback: hnvmfd pinned to
# one CPU, hnvmf-perf (the initiator) to another. For 1, 4 and 16 tenants (each a host NQN of its
# own: a tenant file with `mode = pqm` or `mode = baseline`; tenant files cannot ask for direct,
# so the direct rows use host NQNs without a file under `default_mode = direct`), 4 KiB random
# read and 4 KiB 70/30 random read/write, on a null namespace and on a prefilled file read with
# O_DIRECT (so reads reach the disk, not the page cache). Prints IOPS, p50/p99 and the daemon's
# CPU-seconds per million I/O (utime + stime from /proc/PID/stat around each run). Prints a
# table; never fails on timing.
#
#   bench/pqm-tcp-bench.sh [BUILD_DIR]            (default: build)
#   SECS=10 SHORT=1 TARGET_CPU=0 INIT_CPU=1 FILE FILE_MIB PORT=14440   bench/lib-tcp.sh
#   MODES="direct baseline pqm" TENANTS="1 4 16" BACKENDS="null file"
#   QUEUES=2 QD=16          I/O queues per tenant and depth per queue
#   CMAX=2                  [pqm] cmax, also the baseline's servers per namespace
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"
tcp_init pqm-tcp-bench "${1:-build}" 14440 2
MODES=${MODES:-direct baseline pqm}
check_names mode "$MODES" direct baseline pqm
TENANTS=${TENANTS:-1 4 16}
BACKENDS=${BACKENDS:-null file}
check_names backend "$BACKENDS" null file
QUEUES=${QUEUES:-2}
QD=${QD:-16}
prefill_file

run() { # mode backend workload tenants
	local mode=$1 be=$2 wl=$3 nt=$4 hosts=() out t0 t1 f
	for i in $(seq "$nt"); do hosts+=(-H "$(host "$i")"); done
	local args=(--workload randread)
	[ "$wl" = mix70/30 ] && args=(--workload randrw -M 70)
	t0=$(cpu_ticks)
	out=$(perf_json -N "$(nsid "$be")" "${args[@]}" -z 4k -Q "$QD" --queues "$QUEUES" --connections "$nt" \
		"${hosts[@]}" --time "$SECS")
	t1=$(cpu_ticks)
	if f=$(jfields "$out" iops lat_us.p50 lat_us.p99 ios errors); then
		read -r iops p50 p99 ios errs <<< "$f"
		local cpu
		cpu=$(cpu_secs "$t0" "$t1")
		printf "%-5s %-9s %3s %-9s %10.0f %9.1f %9.1f %8.2f %10s %6s\n" "$be" "$wl" "$nt" "$mode" \
			"$iops" "$p50" "$p99" "$cpu" "$(awk -v c="$cpu" -v n="$ios" 'BEGIN { print n ? sprintf("%.2f", c / (n / 1e6)) : "nan" }')" "$errs"
	else
		printf "%-5s %-9s %3s %-9s   %s\n" "$be" "$wl" "$nt" "$mode" "$f"
	fi
}

tcp_header
echo "# each tenant: $QUEUES I/O queue(s) x QD $QD, 4 KiB; PQM cmax $CMAX; baseline servers $CMAX per namespace,"
echo "# its shared queue pair at queue_depth"
printf "%-5s %-9s %3s %-9s %10s %9s %9s %8s %10s %6s\n" bknd workload ten mode IOPS "p50(us)" "p99(us)" "cpu-s" "cpu-s/MIO" errors
for mode in $MODES; do
	reset_tenants
	if [ "$mode" = direct ]; then
		start_daemon direct
	else
		for i in $(seq 16); do tenant "$i" "$mode"; done
		start_daemon pqm
	fi
	for be in $BACKENDS; do
		for wl in randread mix70/30; do
			for nt in $TENANTS; do
				run "$mode" "$be" "$wl" "$nt"
			done
		done
	done
	stop_daemon
done
