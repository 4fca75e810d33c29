#!/bin/bash
# Fairness between tenants over NVMe/TCP on loopback (issue 13): a quiet tenant (1 I/O queue at
# QD 1, then QD 8, 4 KiB random read) alone, then beside a noisy tenant (8 I/O queues at QD 128:
# 4 KiB random reads, then 128 KiB random writes), on the PQM path with the per-tenant scheduler
# (`[pqm] fair = yes`) and without it (`fair = no`: arrival order), and for reference on the
# baseline and the direct path; null namespace and a prefilled file read with O_DIRECT.
# The two tenants are two hnvmf-perf processes (hnvmf-perf's JSON gives per-tenant IOPS, not
# per-tenant latency): the noise starts 1 s before the quiet run and ends about 1 s after it, so
# the quiet tenant's whole measurement is beside the noise. Where the initiators run is the
# layout (LAYOUTS), and each measures something else:
#   shared      both on INIT_CPU, same priority: the quiet initiator waits for the CPU behind the
#               noisy one (CFS slices of ms), so its p99 is partly the initiator's, not the target's.
#   noise-cpu0  the noisy initiator on TARGET_CPU beside hnvmfd, the quiet one alone on INIT_CPU
#               (issue 14's layout): the reactor and the I/O servers then compete with the noisy
#               initiator for CPU 0, so the quiet p99 is partly CFS's sharing of CPU 0, not only
#               what the target does with the CPU it gets.
#   quiet-prio  hnvmfd alone on TARGET_CPU, both initiators on INIT_CPU, the quiet one SCHED_FIFO
#               (chrt -f $QUIET_PRIO): it runs as soon as its completion arrives and never waits for
#               the noisy one (hnvmf-perf sleeps in ppoll when it has nothing to do, so it does not
#               starve the noise). What is left of its p99 beside the noise is the target's doing:
#               the reactor's turns, the inbox, the I/O servers. Its alone run is at the same
#               priority, and its p99x is against that.
# Prints the quiet tenant's IOPS and p50/p99/p99.9, the
# ratio of its p99 beside the noise to its p99 alone, and what the noise got. Prints a table;
# never fails on timing.
#
#   bench/pqm-fairness-bench.sh [BUILD_DIR]       (default: build)
#   SECS=10 SHORT=1 TARGET_CPU=0 INIT_CPU=1 FILE FILE_MIB PORT=14441 CMAX=2   bench/lib-tcp.sh
#   MODES="pqm-fair pqm-fifo baseline direct" BACKENDS="null file" QUIET_QD="1 8"
#   NOISE_QUEUES=8 NOISE_QD=128 LAYOUTS="shared noise-cpu0 quiet-prio" QUIET_PRIO=10
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"
tcp_init pqm-fairness-bench "${1:-build}" 14441 2
MODES=${MODES:-pqm-fair pqm-fifo baseline direct}
BACKENDS=${BACKENDS:-null file}
check_names backend "$BACKENDS" null file
check_names mode "$MODES" pqm-fair pqm-fifo baseline direct
QUIET_QD=${QUIET_QD:-1 8}
NOISE_QUEUES=${NOISE_QUEUES:-8}
NOISE_QD=${NOISE_QD:-128}
LAYOUTS=${LAYOUTS:-shared noise-cpu0 quiet-prio}
check_names layout "$LAYOUTS" shared noise-cpu0 quiet-prio
QUIET_PRIO=${QUIET_PRIO:-10}
prefill_file

declare -A alone_p99
# run LAYOUT MODE BACKEND QD NOISE: NOISE is none, randread (4 KiB) or write (128 KiB random writes)
run() {
	local layout=$1 mode=$2 be=$3 qd=$4 noise=$5 ns out f nf p99x=- noise_cpu=$INIT_CPU prio=() key
	[ "$layout" = noise-cpu0 ] && noise_cpu=$TARGET_CPU
	[ "$layout" = quiet-prio ] && prio=(chrt -f "$QUIET_PRIO")
	# shared and noise-cpu0 share the alone run (same CPU, same priority); quiet-prio has its own
	key=$mode.$be.$qd
	[ "$layout" = quiet-prio ] && key=prio.$key
	ns=$(nsid "$be")
	noise_start "$noise_cpu" "$ns" "$noise"
	out=$("${prio[@]}" "$PERF" perf -a 127.0.0.1 -s "$PORT" -n "$SUBNQN" --cpu "$INIT_CPU" --json \
		-N "$ns" --workload randread -z 4k -Q "$qd" --queues 1 -H "$(host quiet)" --time "$SECS" 2>&1 | tail -1)
	wait_bg
	nf=$(noise_fields "$noise")
	if f=$(jfields "$out" iops lat_us.p50 lat_us.p99 lat_us.p99_9 errors); then
		read -r iops p50 p99 p999 errs <<< "$f"
		if [ "$noise" = none ]; then
			alone_p99[$key]=$p99
		elif [ -n "${alone_p99[$key]:-}" ]; then
			p99x=$(ratio "${alone_p99[$key]}" "$p99")
		fi
		printf "%-10s %-5s %-9s %3s %-9s %9.0f %9.1f %9.1f %9.1f %6s %6s | %s\n" "$layout" "$be" "$mode" "$qd" \
			"$noise" "$iops" "$p50" "$p99" "$p999" "$p99x" "$errs" "$nf"
	else
		printf "%-10s %-5s %-9s %3s %-9s   quiet %s | %s\n" "$layout" "$be" "$mode" "$qd" "$noise" "$f" "$nf"
	fi
}

tcp_header
echo "# quiet: 1 I/O queue x QD $QUIET_QD (one at a time), 4 KiB random read, host $(host quiet)"
echo "# noisy: $NOISE_QUEUES I/O queues x QD $NOISE_QD, 4 KiB random read (randread) or 128 KiB random write (write), host $(host noisy)"
echo "# pqm-fair: [pqm] fair = yes, both tenants weight 1; pqm-fifo: fair = no; PQM cmax $CMAX;"
echo "# baseline: $CMAX servers per namespace; direct: no tenant files, default_mode = direct"
echo "# p99x: the quiet tenant's p99 beside the noise / its p99 alone (same mode, backend, QD)"
echo "# layout shared: both hnvmf-perf on cpu $INIT_CPU; noise-cpu0: the noisy one on cpu $TARGET_CPU (beside hnvmfd),"
echo "# the quiet one alone on cpu $INIT_CPU (the quiet tenant's alone run is the same in both);"
echo "# quiet-prio: hnvmfd alone on cpu $TARGET_CPU, both hnvmf-perf on cpu $INIT_CPU, the quiet one chrt -f $QUIET_PRIO"
echo "# (its alone run at that priority too)"
printf "%-10s %-5s %-9s %3s %-9s %9s %9s %9s %9s %6s %6s | %9s %9s %6s\n" layout bknd mode qd noise q-IOPS "q-p50us" \
	"q-p99us" "q-p99.9us" p99x q-errs n-IOPS n-MB/s n-errs
for mode in $MODES; do
	reset_tenants
	case $mode in
	direct) start_daemon direct ;;
	baseline)
		tenant quiet baseline
		tenant noisy baseline
		start_daemon pqm
		;;
	pqm-fair | pqm-fifo)
		tenant quiet pqm
		tenant noisy pqm
		fair=yes
		[ "$mode" = pqm-fifo ] && fair=no
		start_daemon pqm "fair=$fair"
		;;
	esac
	for be in $BACKENDS; do
		for qd in $QUIET_QD; do
			run shared "$mode" "$be" "$qd" none
			for layout in $LAYOUTS; do
				[ "$layout" = quiet-prio ] && run quiet-prio "$mode" "$be" "$qd" none
				for noise in randread write; do
					run "$layout" "$mode" "$be" "$qd" "$noise"
				done
			done
		done
	done
	stop_daemon
done
