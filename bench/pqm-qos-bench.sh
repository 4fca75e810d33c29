#!/bin/bash
# Per-tenant QoS limits over NVMe/TCP on loopback (issue 13): tenant A with `max_iops` (4 KiB
# random reads), then with `max_mbps` (128 KiB random reads), alone and beside an unlimited tenant
# B doing the same; both push as hard as they can (closed loop, QUEUES x QD each). PQM with the
# per-tenant scheduler (`[pqm] fair = yes`, the limits are its token buckets, docs/pqm.md); null
# namespace and a prefilled file read with O_DIRECT (on the file, a limit above what the disk
# gives is not reached: A's row then measures the disk, not the limit). A and B are two hnvmf-perf
# processes, both on INIT_CPU; B starts 1 s before A's run and ends about 1 s after it. Prints A's
# achieved IOPS and MiB/s (1 MiB = 1048576 bytes, the unit of max_mbps) against its limit, the
# error in %, and B's. Prints a table; never fails on timing.
#
#   bench/pqm-qos-bench.sh [BUILD_DIR]            (default: build)
#   SECS=10 SHORT=1 TARGET_CPU=0 INIT_CPU=1 FILE FILE_MIB PORT=14442 CMAX=2   bench/lib-tcp.sh
#   LIMIT_IOPS=20000 LIMIT_MBPS=50 BACKENDS="null file" QUEUES=2 QD=32
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"
tcp_init pqm-qos-bench "${1:-build}" 14442 2
LIMIT_IOPS=${LIMIT_IOPS:-20000}
LIMIT_MBPS=${LIMIT_MBPS:-50}
BACKENDS=${BACKENDS:-null file}
check_names backend "$BACKENDS" null file
QUEUES=${QUEUES:-2}
QD=${QD:-32}
prefill_file

# iops_mib IOPS SIZE_BYTES: MiB/s
mib() { awk -v i="$1" -v s="$2" 'BEGIN { printf "%.1f", i * s / 1048576 }'; }

# run BACKEND LIMIT(iops|mbps) CASE(alone|beside)
run() {
	local be=$1 limit=$2 case=$3 size=4096 ns out f bf="-         -      -" achieved lim err args
	[ "$limit" = mbps ] && size=131072
	ns=$(nsid "$be")
	args=(-N "$ns" --workload randread -z "$size" -Q "$QD" --queues "$QUEUES")
	if [ "$case" = beside ]; then
		beside_start "$dir/b.json" "${args[@]}" -H "$(host b)"
	fi
	out=$(perf_json "${args[@]}" -H "$(host a)" --time "$SECS")
	wait_bg
	if [ "$case" = beside ]; then
		if bf=$(jfields "$(tail -1 "$dir/b.json")" iops errors); then
			read -r biops berr <<< "$bf"
			bf=$(printf "%9.0f %9s %6s" "$biops" "$(mib "$biops" "$size")" "$berr")
		fi
	fi
	if f=$(jfields "$out" iops lat_us.p99 errors); then
		read -r iops p99 errs <<< "$f"
		if [ "$limit" = iops ]; then
			achieved=$(printf "%.0f" "$iops") lim=$LIMIT_IOPS
		else
			achieved=$(mib "$iops" "$size") lim=$LIMIT_MBPS
		fi
		err=$(awk -v a="$achieved" -v l="$lim" 'BEGIN { printf "%+.1f", (a - l) * 100 / l }')
		printf "%-5s %-7s %-6s %9.0f %9s %9.1f %9s %9s %7s %6s | %s\n" "$be" "$limit" "$case" "$iops" \
			"$(mib "$iops" "$size")" "$p99" "$achieved" "$lim" "$err" "$errs" "$bf"
	else
		printf "%-5s %-7s %-6s   A %s | %s\n" "$be" "$limit" "$case" "$f" "$bf"
	fi
}

tcp_header
echo "# A: host $(host a), B: host $(host b), mode = pqm, [pqm] fair = yes, PQM cmax $CMAX;"
echo "# each: $QUEUES I/O queue(s) x QD $QD, closed loop, random read; iops: 4 KiB, A max_iops = $LIMIT_IOPS;"
echo "# mbps: 128 KiB, A max_mbps = $LIMIT_MBPS (MiB/s); B has no limit"
echo "# err%: (A's achieved - limit) / limit, in the limit's unit (IOPS or MiB/s)"
printf "%-5s %-7s %-6s %9s %9s %9s %9s %9s %7s %6s | %9s %9s %6s\n" bknd limit case A-IOPS A-MiB/s A-p99us \
	achieved limit "err%" A-errs B-IOPS B-MiB/s B-errs
for limit in iops mbps; do
	reset_tenants
	tenant a pqm "max_$limit=$([ "$limit" = iops ] && echo "$LIMIT_IOPS" || echo "$LIMIT_MBPS")"
	tenant b pqm
	start_daemon pqm fair=yes
	for be in $BACKENDS; do
		for case in alone beside; do
			run "$be" "$limit" "$case"
		done
	done
	stop_daemon
done
