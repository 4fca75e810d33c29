#!/bin/bash
# DAM isolation over NVMe/TCP on loopback (issue 14 point 4), on a 2-CPU machine: [pqm] dam_cpus =
# DAM_CPU reserves that CPU, where only the DAM reactor runs; hnvmfd's shared reactor and PQM /
# baseline servers run on TARGET_CPU, with the noisy tenant's hnvmf-perf; the quiet tenant's
# hnvmf-perf runs on DAM_CPU, beside its DAM reactor.
#   quiet: 1 I/O queue, 4 KiB random read at QD 1 and QD 16, authenticated with DH-HMAC-CHAP
#          (and, in the dam mode, once more over TLS instead), host $(host quiet)
#   noisy: another tenant, 8 I/O queues at QD 128: 4 KiB random reads, then 128 KiB random writes
# Modes: dam (the quiet tenant in DAM, the noisy one in PQM), pqm (both PQM, [pqm] fair = yes),
# baseline (both baseline), direct (default_mode = direct, no tenant files: not authenticated).
# The CPU layout is the same in every mode (dam_cpus set in all: CPU DAM_CPU holds only the idle
# DAM reactor when no queue is in DAM). Null and file backends. The noise starts 1 s before the
# quiet run and ends about 1 s after it. Prints the quiet tenant's IOPS and p50/p99/p99.9 alone
# and beside the noise, the ratios beside/alone (goal in dam: p99 <= 1.5x, IOPS >= 0.9x), and what
# the noise got; then the DAM queue alone against the direct path with its reactor on the same
# core (QD 1 latency, QD 32 IOPS). Prints tables; never fails on timing.
#
#   bench/dam-isolation-tcp.sh [BUILD_DIR]       (default: build)
#   SECS=10 SHORT=1 TARGET_CPU=0 DAM_CPU=1 FILE FILE_MIB PORT=14451 CMAX=2   bench/lib-tcp.sh
#   MODES="dam pqm baseline direct" BACKENDS="null file" QUIET_QD="1 16" TLS=1 SAME_CORE=1
#   NOISE_QUEUES=8 NOISE_QD=128
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"
DAM_CPU=${DAM_CPU:-1}
INIT_CPU=${INIT_CPU:-$DAM_CPU}
tcp_init dam-isolation-tcp "${1:-build}" 14451 2
MODES=${MODES:-dam pqm baseline direct}
BACKENDS=${BACKENDS:-null file}
check_names backend "$BACKENDS" null file
check_names mode "$MODES" dam pqm baseline direct
QUIET_QD=${QUIET_QD:-1 16}
NOISE_QUEUES=${NOISE_QUEUES:-8}
NOISE_QD=${NOISE_QD:-128}
TLS=${TLS:-1}
SAME_CORE=${SAME_CORE:-1}
TLS_PORT=$((PORT + 1))
if [ "$(nproc)" -lt 2 ]; then
	echo "$BENCH: needs 2 CPUs (dam_cpus = $DAM_CPU)" >&2
	exit 2
fi
prefill_file

# NAME PREFIX BYTES: a key in the configured form (DHHC-1:00: or NVMeTLSkey-1:01:), random bytes
# and their CRC-32.
gen_key() {
	python3 -c 'import base64, os, sys, zlib
k = os.urandom(int(sys.argv[2]))
print(sys.argv[1] + base64.b64encode(k + zlib.crc32(k).to_bytes(4, "little")).decode() + ":")' "$1" "$2"
}
SECRET=$(gen_key DHHC-1:00: 32)
PSK=$(gen_key NVMeTLSkey-1:01: 32)
CONF_GLOBAL="dam_whitelist = 1"
CONF_EXTRA="[listener tls1]
transport = tcp
address = 127.0.0.1
port = $TLS_PORT
tls = yes"

# Tenant files of a mode: the quiet one authenticated, in DAM when the mode is dam.
tenants_for() {
	local mode=$1 qmode=$1 nmode=$1
	reset_tenants
	[ "$mode" = direct ] && return
	[ "$mode" = dam ] && nmode=pqm
	tenant quiet "$qmode" permission_level=1 "dhchap_secret=$SECRET"
	tenant quiet-tls "$qmode" permission_level=1 "tls_psk=$PSK"
	tenant noisy "$nmode"
	chmod 600 "$dir"/tenants/*.conf
}

declare -A alone
# run MODE BACKEND QD NOISE [tls]: NOISE is none, randread (4 KiB) or write (128 KiB random writes)
run() {
	local mode=$1 be=$2 qd=$3 noise=$4 sec=${5:-auth} ns out f nf r99=- riops=- qargs
	ns=$(nsid "$be")
	noise_start "$TARGET_CPU" "$ns" "$noise"
	qargs=(-H "$(host quiet)")
	[ "$mode" != direct ] && qargs+=(-S "$SECRET")
	[ "$sec" = tls ] && qargs=(-H "$(host quiet-tls)" -s "$TLS_PORT" --tls-key "$PSK")
	out=$(perf_json -N "$ns" --workload randread -z 4k -Q "$qd" --queues 1 "${qargs[@]}" --time "$SECS")
	wait_bg
	nf=$(noise_fields "$noise")
	[ "$mode" = direct ] && sec=none
	local key=$mode.$sec.$be.$qd
	if f=$(jfields "$out" iops lat_us.p50 lat_us.p99 lat_us.p99_9 errors); then
		read -r iops p50 p99 p999 errs <<< "$f"
		if [ "$noise" = none ]; then
			alone[$key]="$iops $p99"
		elif [ -n "${alone[$key]:-}" ]; then
			read -r aiops ap99 <<< "${alone[$key]}"
			r99=$(ratio "$ap99" "$p99")
			riops=$(ratio "$aiops" "$iops")
		fi
		printf "%-5s %-8s %-4s %3s %-8s %9.0f %9.1f %9.1f %9.1f %5s %5s %6s | %s\n" "$be" "$mode" "$sec" "$qd" \
			"$noise" "$iops" "$p50" "$p99" "$p999" "$riops" "$r99" "$errs" "$nf"
	else
		printf "%-5s %-8s %-4s %3s %-8s   quiet %s | %s\n" "$be" "$mode" "$sec" "$qd" "$noise" "$f" "$nf"
	fi
}

# queue_busy NAME: where tenant NAME's I/O queue 1 runs, from nvmf_subsystem_get_qpairs (its
# reactor, its ios and their thread hand-offs), once it has done I/O (the host authenticates
# first; at most SECS s): a DAM queue should be on hnvmf-dam-r0 with 0 hops.
queue_busy() {
	local l='' i
	for ((i = 0; i < SECS * 10; i++)); do
		l=$(python3 - "$(host "$1")" "$(ctl --json controllers)" "$(ctl --json qpairs)" <<'PY'
import json, sys
host, ctrls, qps = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ids = {c["cntlid"] for c in ctrls if c.get("hostnqn") == host}
for q in qps:
    if q.get("cntlid") in ids and q.get("qid") == 1 and q.get("ios", 0) > 0:
        print("reactor %s ios %d hops %d" % (q.get("reactor"), q["ios"], q["hops"]))
PY
)
		[ -n "$l" ] && break
		sleep 0.1
	done
	echo "$l"
}

tcp_header
echo "# DAM reserved CPU: $DAM_CPU (the DAM reactor); quiet hnvmf-perf on cpu $DAM_CPU, noisy hnvmf-perf on cpu $TARGET_CPU"
echo "# quiet: 1 I/O queue x QD $QUIET_QD (one at a time), 4 KiB random read; sec auth: DH-HMAC-CHAP, tls: TLS 1.3 PSK"
echo "# noisy: $NOISE_QUEUES I/O queues x QD $NOISE_QD, 4 KiB random read (randread) or 128 KiB random write (write)"
echo "# dam: quiet in DAM, noisy in PQM; pqm: both PQM, fair = yes, cmax $CMAX; baseline: both, $CMAX servers;"
echo "# direct: default_mode = direct, no tenant files (not authenticated)"
echo "# IOPSx, p99x: the quiet tenant beside the noise / alone (same mode, security, backend, QD);"
echo "# goal in dam: p99x <= 1.5, IOPSx >= 0.9"
printf "%-5s %-8s %-4s %3s %-8s %9s %9s %9s %9s %5s %5s %6s | %9s %9s %6s\n" bknd mode sec qd noise q-IOPS "q-p50us" \
	"q-p99us" "q-p99.9us" IOPSx p99x q-errs n-IOPS n-MB/s n-errs
for mode in $MODES; do
	tenants_for "$mode"
	default=pqm
	[ "$mode" = direct ] && default=direct
	start_daemon "$default" "dam_cpus=$DAM_CPU" fair=yes
	for be in $BACKENDS; do
		for qd in $QUIET_QD; do
			for noise in none randread write; do
				run "$mode" "$be" "$qd" "$noise"
			done
		done
	done
	if [ "$mode" = dam ] && [ "$TLS" = 1 ]; then
		for qd in $QUIET_QD; do
			for noise in none randread write; do
				run dam null "$qd" "$noise" tls
			done
		done
	fi
	stop_daemon
done

if [ "$SAME_CORE" = 1 ]; then
	echo
	echo "# the DAM queue alone against the direct path on the same core: cpu $DAM_CPU runs the queue's"
	echo "# reactor (dam: the DAM reactor; direct: hnvmfd --cpu $DAM_CPU, its one reactor) and the quiet hnvmf-perf"
	echo "# direct-d: [global] default_mode = direct, not authenticated; 4 KiB random read, 1 I/O queue"
	printf "%-5s %-8s %3s %9s %9s %9s %9s\n" bknd mode qd IOPS "p50us" "p99us" "p99.9us"
	where=()
	for mode in dam direct-d; do
		tenants_for "${mode%-d}"
		if [ "$mode" = dam ]; then
			start_daemon pqm "dam_cpus=$DAM_CPU"
		else
			TARGET_CPU=$DAM_CPU start_daemon direct
		fi
		for be in $BACKENDS; do
			for qd in 1 32; do
				qargs=(-H "$(host quiet)")
				[ "$mode" = dam ] && qargs+=(-S "$SECRET")
				perf_json -N "$(nsid "$be")" --workload randread -z 4k -Q "$qd" --queues 1 "${qargs[@]}" \
					--time "$SECS" > "$dir/quiet.json" &
				bg_pids+=($!)
				[ "$mode" = dam ] && where+=("$be qd $qd: $(queue_busy quiet)")
				wait_bg
				out=$(tail -1 "$dir/quiet.json")
				if f=$(jfields "$out" iops lat_us.p50 lat_us.p99 lat_us.p99_9); then
					read -r iops p50 p99 p999 <<< "$f"
					printf "%-5s %-8s %3s %9.0f %9.1f %9.1f %9.1f\n" "$be" "$mode" "$qd" "$iops" "$p50" "$p99" "$p999"
				else
					printf "%-5s %-8s %3s   %s\n" "$be" "$mode" "$qd" "$f"
				fi
			done
		done
		stop_daemon
	done
	echo "# where the dam runs' quiet queue ran (hnvmfctl qpairs, once it had done I/O):"
	for w in "${where[@]}"; do echo "#   $w"; done
fi
