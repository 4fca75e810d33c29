#!/bin/bash
# hnvmfd against the reference target, SPDK's nvmf_tgt, with two initiators: SPDK's spdk_nvme_perf
# (a third-party host) and our hnvmf-perf. Both targets run at once, each pinned to TARGET_CPU; the
# one not being measured is stopped (SIGSTOP: nvmf_tgt polls, so it would otherwise take the CPU);
# the client runs on CLIENT_CPU. For each row and client the targets take turns, run after run,
# REPS times; the table prints the medians.
#
# Targets: nvmf_tgt with a null bdev (nsid 1) and a malloc bdev (nsid 2); hnvmfd with a null and a
# RAM namespace (the same nsids), one daemon for every engine path, chosen by the host NQN:
# default_mode = direct for a host without a tenant file, and tenant files for pqm, baseline and
# dam (DAM is only for an authenticated tenant: the bench host authenticates with DH-HMAC-CHAP).
#
# Target CPU: utime + stime of the whole target process (/proc/PID/stat, every thread) over a
# window inside the run (SECS - 2 s long, from 1 s after the client started its I/O), divided
# by the window's wall time: "util". "IOPS/cpu-s" = IOPS / util, the I/Os one target CPU-second
# serves. An idle nvmf_tgt still polls at 100 %; under load both targets are near 100 % of their CPU.
#
#   SPDK_BIN=/path/to/spdk/build/bin bench/spdk-perf.sh [BUILD_DIR]     (default build)
#
# Environment:
#   SPDK_BIN    directory with nvmf_tgt and spdk_nvme_perf (an SPDK build's build/bin). Unset, or
#               the binaries absent: the script says so and exits 0. To build SPDK for measurement
#               on Debian 12 see ../shared/tools/spdk-build.sh (SPDK_BIN=$SPDK_BUILD/build/bin).
#   SPDK_RPC    SPDK's scripts/rpc.py (default: $SPDK_BIN/../../scripts/rpc.py), run with python3
#   REPS=3 SECS=10          runs per target and cell (median printed), seconds per run (>= 3)
#   TARGET_CPU=0 CLIENT_CPU=1
#   MODES="direct pqm dam baseline"     hnvmfd engine paths measured
#   CLIENTS="spdk hnvmf"                initiators: spdk_nvme_perf, hnvmf-perf
#   ROWS="..."                          only these rows (names as printed), default all
#   PORT=14430                          hnvmfd's port; nvmf_tgt listens on PORT + 1
#
# The whole matrix (11 rows x 2 clients x 5 targets x REPS runs of SECS + ~2 s) takes about
# 11 * 2 * 5 * 3 * 12-14 s = 66-77 min with the defaults. Never fails on timing.
set -euo pipefail
BUILD=${1:-build}
SPDK_BIN=${SPDK_BIN:-}
if [ -z "$SPDK_BIN" ] || [ ! -x "$SPDK_BIN/nvmf_tgt" ] || [ ! -x "$SPDK_BIN/spdk_nvme_perf" ]; then
	echo "spdk-perf: skipped: SPDK's nvmf_tgt and spdk_nvme_perf not found (set SPDK_BIN to an SPDK" \
	     "build's build/bin; ../shared/tools/spdk-build.sh builds one for measurement)"
	exit 0
fi
SPDK_RPC=${SPDK_RPC:-$SPDK_BIN/../../scripts/rpc.py}
REPS=${REPS:-3}
SECS=${SECS:-10}
TARGET_CPU=${TARGET_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
MODES=${MODES:-direct pqm dam baseline}
CLIENTS=${CLIENTS:-spdk hnvmf}
PORT=${PORT:-14430}
SPORT=$((PORT + 1))
HNVMFD=$BUILD/target/hnvmfd
PERF=$BUILD/tools/hnvmf-perf
NQN=nqn.2026-01.io.hnvmf:spdk-perf
HOST=nqn.2026-01.io.hnvmf:spdk-perf-host # + "-" mode
RAM_MB=512
[ -x "$HNVMFD" ] && [ -x "$PERF" ] || { echo "spdk-perf: build first ($HNVMFD, $PERF)" >&2; exit 2; }
[ -f "$SPDK_RPC" ] || { echo "spdk-perf: SPDK's rpc.py not found at $SPDK_RPC (set SPDK_RPC)" >&2; exit 2; }
[ "$SECS" -ge 3 ] || { echo "spdk-perf: SECS must be at least 3" >&2; exit 2; }
HZ=$(getconf CLK_TCK)
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"

# name | namespace | workload | bytes | queue depth (over all queues) | queues | digests
ALL_ROWS="rr4k-qd1|null|randread|4096|1|1|0
rr4k-qd32|null|randread|4096|32|1|0
rr4k-qd128|null|randread|4096|128|1|0
rw4k-qd32|null|randwrite|4096|32|1|0
rd128k-qd32|null|read|131072|32|1|0
wr128k-qd32|null|write|131072|32|1|0
dig-rr4k-qd32|null|randread|4096|32|1|1
dig-rd128k-qd32|null|read|131072|32|1|1
rr4k-qd128-16q|null|randread|4096|128|16|0
ram-rr4k-qd128|ram|randread|4096|128|1|0
ram-rd128k-qd32|ram|read|131072|32|1|0"

dir=$(mktemp -d)
hpid= spid=
cleanup() {
	for p in $hpid $spid; do
		kill -CONT "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT

# A DH-HMAC-CHAP secret for the DAM tenant: 32 random bytes and their CRC-32, DHHC-1 form.
secret=$(python3 -c 'import base64, os, zlib
k = os.urandom(32)
print("DHHC-1:00:" + base64.b64encode(k + zlib.crc32(k).to_bytes(4, "little")).decode() + ":")')
printf '%s' "$secret" > "$dir/dhchap.key"
chmod 600 "$dir/dhchap.key"

mkdir "$dir/tenants"
for m in pqm baseline dam; do
	{
		echo "[tenant]"
		echo "hostnqn = $HOST-$m"
		echo "subsystems = $NQN"
		echo "mode = $m"
		if [ $m = dam ]; then
			echo "permission_level = 1"
			echo "dhchap_secret = $secret"
		fi
	} > "$dir/tenants/$m.conf"
	chmod 600 "$dir/tenants/$m.conf"
done
{
	cat <<EOF
[global]
default_mode = direct
max_io_queues = 16
dam_whitelist = 1
tenants_dir = $dir/tenants
control_socket =

[pqm]
server_cpus = $TARGET_CPU

EOF
	conf_listener_null
	cat <<EOF
block_size = 4096

[backend ram0]
type = ram
size = ${RAM_MB}M
block_size = 4096

[subsystem $NQN]
allow_any_host = yes
namespace = 1:null0
namespace = 2:ram0
EOF
} > "$dir/hnvmfd.conf"

taskset -c "$TARGET_CPU" "$HNVMFD" -c "$dir/hnvmfd.conf" --cpu "$TARGET_CPU" 2> "$dir/hnvmfd.log" &
hpid=$!
wait_ready

"$SPDK_BIN/nvmf_tgt" -m "$(printf '0x%x' $((1 << TARGET_CPU)))" --no-huge -s 2048 \
	-r "$dir/spdk.sock" > "$dir/nvmf_tgt.log" 2>&1 &
spid=$!
rpc() { /usr/bin/python3 "$SPDK_RPC" -s "$dir/spdk.sock" -t 60 "$@" > /dev/null; }
for _ in $(seq 300); do [ -S "$dir/spdk.sock" ] && break; sleep 0.1; done
rpc framework_wait_init
rpc nvmf_create_transport -t TCP
rpc bdev_null_create null0 1048576 4096
rpc bdev_malloc_create -b malloc0 "$RAM_MB" 4096
rpc nvmf_create_subsystem "$NQN" -a -s SPDKPERF0001 -m 16
rpc nvmf_subsystem_add_ns -n 1 "$NQN" null0
rpc nvmf_subsystem_add_ns -n 2 "$NQN" malloc0
rpc nvmf_subsystem_add_listener "$NQN" -t tcp -f ipv4 -a 127.0.0.1 -s "$SPORT"
kill -STOP "$spid"

cputicks() { # pid: utime + stime of every thread (fields 14, 15; the name may hold spaces)
	local s
	s=$(< "/proc/$1/stat")
	s=${s##*) }
	set -- $s
	echo $(( ${12} + ${13} ))
}

# One hnvmf-perf run (its options are spelled only here): port ns wl bytes qd-per-queue queues
# digests host
hnvmf_perf() {
	local opts=(--addr 127.0.0.1 --port "$1" --subnqn "$NQN" --nsid "$2" --workload "$3"
		    --io-size "$4" --qd "$5" --queues "$6" --time "$SECS" --cpu "$CLIENT_CPU"
		    --hostnqn "$8" --json)
	[ "$7" = 1 ] && opts+=(--hdgst --ddgst)
	[ "$8" = "$HOST-dam" ] && opts+=(--dhchap-secret "$secret")
	exec "$PERF" perf "${opts[@]}"
}

# One spdk_nvme_perf run: port ns wl bytes qd queues digests host
spdk_perf() {
	local opts=(-c "$(printf '0x%x' $((1 << CLIENT_CPU)))" --no-huge -s 1024
		    -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$1 subnqn:$NQN ns:$2 hostnqn:$8"
		    -w "$3" -o "$4" -q "$5" -P "$6" -t "$SECS")
	[ "$7" = 1 ] && opts+=(-H -I)
	[ "$8" = "$HOST-dam" ] && opts+=(--dhchap-key "$dir/dhchap.key")
	# Line-buffered: the run's window starts from its "Launching workers" line.
	exec stdbuf -oL "$SPDK_BIN/spdk_nvme_perf" "${opts[@]}"
}

# Parses a client's output: "IOPS MB/s" (nothing when it failed).
parse() { # client file
	python3 - "$1" "$2" <<'PY'
import json, re, sys
client, path = sys.argv[1:]
text = open(path, errors="replace").read()
try:
    if client == "hnvmf":
        r = json.loads(text.strip().splitlines()[-1])
        if r.get("errors", 0) == 0:
            print(r["iops"], r["mbps"])
    else:
        m = re.search(r"^Total\s*:\s*([\d.]+)\s+([\d.]+)", text, re.M)
        if m and "completed with error" not in text and "failed" not in text.lower():
            print(m.group(1), float(m.group(2)) * 1048576 / 1e6)
except Exception:
    pass
PY
}

# One run: row fields, client, target (spdk | hnvmfd-MODE). Appends a result line.
run() { # name ns wl bytes qd queues dig client target
	local name=$1 ns=$2 wl=$3 bytes=$4 qd=$5 queues=$6 dig=$7 client=$8 target=$9
	local pid port host nsid=1
	[ "$ns" = ram ] && nsid=2
	if [ "$target" = spdk ]; then
		pid=$spid port=$SPORT host=$HOST-direct
		kill -STOP "$hpid"
	else
		pid=$hpid port=$PORT host=$HOST-${target#hnvmfd-}
		kill -STOP "$spid"
	fi
	kill -CONT "$pid"
	local out=$dir/out
	if [ "$client" = spdk ]; then
		( spdk_perf "$port" "$nsid" "$wl" "$bytes" "$qd" "$queues" "$dig" "$host" ) > "$out" 2>&1 &
	else
		( hnvmf_perf "$port" "$nsid" "$wl" "$bytes" $((qd / queues)) "$queues" "$dig" "$host" ) \
			> "$out" 2>&1 &
	fi
	local cpid=$!
	# spdk_nvme_perf takes a moment to set up its environment: start the window from its I/O.
	if [ "$client" = spdk ]; then
		for _ in $(seq 300); do
			grep -q "Launching workers" "$out" 2>/dev/null || ! kill -0 $cpid 2>/dev/null && break
			sleep 0.05
		done
	fi
	sleep 1
	local t0 t1 w0 w1 util=
	if t0=$(cputicks "$pid") && w0=$(date +%s.%N); then
		sleep $((SECS - 2))
		t1=$(cputicks "$pid") && w1=$(date +%s.%N) &&
			util=$(python3 -c "print(($t1 - $t0) / $HZ / ($w1 - $w0))")
	fi
	wait $cpid || true
	local r
	r=$(parse "$client" "$out")
	if [ -z "$r" ] || [ -z "$util" ]; then
		echo "spdk-perf: $name $client -> $target failed:" >&2
		tail -3 "$out" >&2
		echo "$name $client $target fail" >> "$dir/results"
		return
	fi
	echo "$name $client $target $r $util" >> "$dir/results"
}

targets=(spdk)
for m in $MODES; do targets+=("hnvmfd-$m"); done
echo "spdk-perf: targets on CPU $TARGET_CPU, client on CPU $CLIENT_CPU, ${SECS} s x $REPS runs per" \
     "cell, $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)" \
     "hnvmfd $(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo '?')"
sched_note
: > "$dir/results"
while IFS='|' read -r name ns wl bytes qd queues dig; do
	if [ -n "${ROWS:-}" ] && [[ " $ROWS " != *" $name "* ]]; then continue; fi
	for client in $CLIENTS; do
		for ((rep = 0; rep < REPS; rep++)); do
			for t in "${targets[@]}"; do
				run "$name" "$ns" "$wl" "$bytes" "$qd" "$queues" "$dig" "$client" "$t"
			done
		done
	done
done <<< "$ALL_ROWS"

python3 - "$dir/results" <<'PY'
import statistics, sys
cells = {}
order = []
for line in open(sys.argv[1]):
    f = line.split()
    key = (f[0], f[1])
    if key not in cells:
        cells[key] = {}
        order.append(key)
    runs = cells[key].setdefault(f[2], [])
    if f[3] != "fail":
        iops, mbps, util = map(float, f[3:6])
        # No CPU tick in the window (a 10 ms clock): the run's cost is unknown, not zero.
        runs.append((iops, mbps, util, iops / util if util > 0 else None))
def med(runs, i):
    v = [r[i] for r in runs if r[i] is not None]
    return statistics.median(v) if v else None
def ratio(a, b, width):
    return f"{a / b:{width}.2f}" if a and b else f"{'-':>{width}}"
print(f"{'row':16} {'client':6} {'target':16} {'IOPS':>10} {'MB/s':>8} {'util':>5} "
      f"{'IOPS/cpu-s':>10} {'x ref':>6} {'x ref/cpu':>9} {'runs':>4}")
for key in order:
    ref = cells[key].get("spdk") or []
    for target, runs in cells[key].items():
        if not runs:
            print(f"{key[0]:16} {key[1]:6} {target:16} {'failed':>10}")
            continue
        iops, mbps, util, per = (med(runs, i) for i in range(4))
        pers = f"{per:10.0f}" if per else f"{'-':>10}"
        print(f"{key[0]:16} {key[1]:6} {target:16} {iops:10.0f} {mbps:8.1f} {util * 100:4.0f}% "
              f"{pers} {ratio(iops, med(ref, 0), 6)} {ratio(per, med(ref, 3), 9)} {len(runs):4}")
PY
