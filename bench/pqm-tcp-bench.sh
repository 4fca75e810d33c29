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
#   SECS=10                 seconds per row (SECS=2: a short check that it works)
#   TARGET_CPU=0 INIT_CPU=1 pinning of hnvmfd (reactor and I/O servers) and of hnvmf-perf
#   FILE=/var/tmp/hnvmf-pqm-bench.img FILE_MIB=2048   the file backend (made and filled once)
#   MODES="direct baseline pqm" TENANTS="1 4 16" BACKENDS="null file"
#   QUEUES=2 QD=16          I/O queues per tenant and depth per queue
#   CMAX=2                  [pqm] cmax, also the baseline's servers per namespace
set -euo pipefail
BUILD=${1:-build}
SECS=${SECS:-10}
TARGET_CPU=${TARGET_CPU:-0}
INIT_CPU=${INIT_CPU:-1}
FILE=${FILE:-/var/tmp/hnvmf-pqm-bench.img}
FILE_MIB=${FILE_MIB:-2048}
MODES=${MODES:-direct baseline pqm}
TENANTS=${TENANTS:-1 4 16}
BACKENDS=${BACKENDS:-null file}
QUEUES=${QUEUES:-2}
QD=${QD:-16}
CMAX=${CMAX:-2}
PORT=${PORT:-14440}
SUBNQN=nqn.2026-01.io.hnvmf:pqm-bench
HNVMFD=$BUILD/target/hnvmfd
PERF=$BUILD/tools/hnvmf-perf
[ -x "$HNVMFD" ] && [ -x "$PERF" ] || { echo "pqm-tcp-bench: build first (make build)" >&2; exit 2; }
TICKS=$(getconf CLK_TCK)

# The file, written once with real data (not sparse: a read of a hole never reaches the disk).
if [ "$(stat -c %s "$FILE" 2>/dev/null || echo 0)" != $((FILE_MIB << 20)) ]; then
	echo "# writing $FILE ($FILE_MIB MiB) once"
	dd if=/dev/urandom of="$FILE" bs=1M count="$FILE_MIB" oflag=direct status=none
fi

dir=$(mktemp -d)
pid=
stop_daemon() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap 'stop_daemon; rm -rf "$dir"' EXIT

host() { echo "nqn.2026-01.io.hnvmf.bench:tenant-$1"; }

start_daemon() { # mode
	local mode=$1 default=pqm
	rm -rf "$dir/tenants"
	mkdir -p "$dir/tenants"
	if [ "$mode" = direct ]; then
		default=direct
	else
		for i in $(seq 16); do
			printf '[tenant]\nhostnqn = %s\nsubsystems = %s\nmode = %s\n' "$(host "$i")" "$SUBNQN" "$mode" \
				> "$dir/tenants/t$i.conf"
		done
	fi
	cat > "$dir/bench.conf" <<EOF
[global]
default_mode = $default
tenants_dir = $dir/tenants
control_socket = $dir/ctl.sock
[pqm]
cmax = $CMAX
server_cpus = $TARGET_CPU
[listener tcp0]
transport = tcp
address = 127.0.0.1
port = $PORT
[backend null0]
type = null
size = 1T
[backend file0]
type = file
path = $FILE
direct = yes
[subsystem $SUBNQN]
allow_any_host = yes
namespace = 1:null0
namespace = 2:file0
EOF
	: > "$dir/hnvmfd.log"
	"$HNVMFD" -c "$dir/bench.conf" --cpu "$TARGET_CPU" 2> "$dir/hnvmfd.log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q ready "$dir/hnvmfd.log" && break
		sleep 0.1
	done
	grep -q ready "$dir/hnvmfd.log" || { cat "$dir/hnvmfd.log" >&2; exit 1; }
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

run() { # mode backend nsid workload tenants
	local mode=$1 be=$2 ns=$3 wl=$4 nt=$5 hosts=() out t0 t1
	for i in $(seq "$nt"); do hosts+=(-H "$(host "$i")"); done
	local args=(--workload randread)
	[ "$wl" = mix70/30 ] && args=(--workload randrw -M 70)
	t0=$(cpu_ticks)
	out=$("$PERF" perf -a 127.0.0.1 -s "$PORT" -n "$SUBNQN" -N "$ns" "${args[@]}" -z 4k -Q "$QD" \
		--queues "$QUEUES" --connections "$nt" "${hosts[@]}" --time "$SECS" --cpu "$INIT_CPU" --json 2>&1 | tail -1)
	t1=$(cpu_ticks)
	python3 - "$mode" "$be" "$wl" "$nt" "$(( t1 - t0 ))" "$TICKS" "$out" <<'PY'
import json, sys
mode, be, wl, nt, ticks, hz, out = sys.argv[1:]
try:
    r = json.loads(out)
    cpu = int(ticks) / int(hz)
    per_m = cpu / (r['ios'] / 1e6) if r['ios'] else float('nan')
    print(f"{be:5} {wl:9} {nt:>3} {mode:9} {r['iops']:>10.0f} {r['lat_us']['p50']:>9.1f} "
          f"{r['lat_us']['p99']:>9.1f} {cpu:>8.2f} {per_m:>10.2f} {r['errors']:>6}")
except Exception:
    print(f"{be:5} {wl:9} {nt:>3} {mode:9}   failed: {out[:80]}")
PY
}

echo "# hnvmfd on cpu $TARGET_CPU (reactor and I/O servers), hnvmf-perf on cpu $INIT_CPU; ${SECS} s per row"
echo "# each tenant: $QUEUES I/O queue(s) x QD $QD, 4 KiB; PQM cmax $CMAX; baseline servers $CMAX per namespace,"
echo "# its shared queue pair at queue_depth; file: $FILE, $FILE_MIB MiB of data, O_DIRECT"
echo "# load average: $(cat /proc/loadavg)"
printf "%-5s %-9s %3s %-9s %10s %9s %9s %8s %10s %6s\n" bknd workload ten mode IOPS "p50(us)" "p99(us)" "cpu-s" "cpu-s/MIO" errors
for mode in $MODES; do
	start_daemon "$mode"
	for be in $BACKENDS; do
		ns=1; [ "$be" = file ] && ns=2
		for wl in randread mix70/30; do
			for nt in $TENANTS; do
				run "$mode" "$be" "$ns" "$wl" "$nt"
			done
		done
	done
	stop_daemon
done
