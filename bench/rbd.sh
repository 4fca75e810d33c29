#!/bin/bash
# The RBD backend through NVMe/TCP (hnvmfd + hnvmf-perf) against librbd alone (`rbd bench`), on one
# throw-away single-OSD memstore cluster (tests/ceph/cluster.sh), same image, same queue depth,
# librbd cache off on both sides. Prints one table: IOPS, MB/s, latency (p50/p99 from hnvmf-perf;
# rbd bench reports only throughput, so its latency is the mean, QD / IOPS), and at QD 1 the
# latency the gateway adds over librbd alone (mean against mean). A benchmark: it never fails on
# numbers.
# Beside each gateway row, what the daemon's process spent on it (every thread: reactors, I/O
# servers and librados'): CPU seconds per second of the row (utime + stime from /proc/PID/stat)
# and context switches per io (voluntary + nonvoluntary, summed over /proc/PID/task/*/status).
#   usage: bench/rbd.sh [BUILD_DIR]      (default build; needs the Ceph packages, see tools/install-deps.sh)
# Knobs: SECS per row (default 10; SHORT=1: 2), IMAGE_MIB (default 256; memstore keeps it all in the
# OSD's memory, several times over), MODE (hnvmfd's default_mode: pqm, baseline or direct; default
# pqm), TARGET_CPU / INIT_CPU (hnvmfd / hnvmf-perf, default 0 / 1), PORT (default 4460).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
SHORT=${SHORT:-0}
SECS=${SECS:-$([ "$SHORT" = 1 ] && echo 2 || echo 10)}
IMAGE_MIB=${IMAGE_MIB:-256}
MODE=${MODE:-pqm}
TARGET_CPU=${TARGET_CPU:-0}
INIT_CPU=${INIT_CPU:-1}
PORT=${PORT:-4460}
HNVMFD=$BUILD/target/hnvmfd
PERF=$BUILD/tools/hnvmf-perf
[ -x "$HNVMFD" ] && [ -x "$PERF" ] || { echo "rbd.sh: build first (make build)" >&2; exit 2; }
"$SRC/tests/ceph/cluster.sh" check || exit 2

W=$(mktemp -d "${TMPDIR:-/tmp}/hnvmf-rbd-bench.XXXXXX")
DPID=""
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	"$SRC/tests/ceph/cluster.sh" stop "$W/c" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
"$SRC/tests/ceph/cluster.sh" start "$W/c" >/dev/null
export CEPH_CONF=$W/c/ceph.conf
rbd create --size "$IMAGE_MIB" rbd/bench
# Every object written once, so that reads go to the OSD (librbd answers a never-written object
# with zeroes from its object map, without any I/O).
rbd bench --rbd_cache=false --io-type write --io-pattern seq --io-size 4M --io-threads 4 \
	--io-total "${IMAGE_MIB}M" rbd/bench >/dev/null 2>&1

ROWS="randread:4k:1 randwrite:4k:1 randread:4k:32 randwrite:4k:32 randread:128k:32 randwrite:128k:32"
bytes() { case $1 in *k) echo $((${1%k} * 1024)) ;; *) echo "$1" ;; esac; }

declare -A RBD_IOPS
# rbd bench runs a number of I/Os, not a time: size it from a first short run's rate.
for row in $ROWS; do
	IFS=: read -r wl size qd <<<"$row"
	type=${wl#rand}
	probe=$(taskset -c "$INIT_CPU" rbd bench --rbd_cache=false --io-type "$type" --io-pattern rand \
		--io-size "$(bytes "$size")" --io-threads "$qd" --io-total $(($(bytes "$size") * 500)) rbd/bench 2>&1 |
		awk '/^elapsed:/ { print $6 }')
	total=$(awk -v r="${probe:-100}" -v s="$SECS" -v b="$(bytes "$size")" 'BEGIN { n = int(r * s); if (n < 100) n = 100; printf "%.0f\n", n * b }')
	RBD_IOPS[$row]=$(taskset -c "$INIT_CPU" rbd bench --rbd_cache=false --io-type "$type" --io-pattern rand \
		--io-size "$(bytes "$size")" --io-threads "$qd" --io-total "$total" rbd/bench 2>&1 | awk '/^elapsed:/ { print $6 }')
done

cat >"$W/hnvmf.conf" <<CONF
[global]
default_mode = $MODE
[listener io]
transport = tcp
address = 127.0.0.1
port = $PORT
[backend img]
type = rbd
ceph_conf = $CEPH_CONF
pool = rbd
image = bench
[subsystem nqn.2026-01.io.hnvmf:rbd-bench]
allow_any_host = yes
namespace = 1:img
CONF
"$HNVMFD" -c "$W/hnvmf.conf" --cpu "$TARGET_CPU" 2>"$W/hnvmfd.log" &
DPID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done

# utime + stime of the daemon in clock ticks, and its threads' context switches.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }
ctxt() { cat /proc/"$DPID"/task/*/status 2>/dev/null | awk '/_ctxt_switches:/ { n += $2 } END { print n + 0 }'; }
HZ=$(getconf CLK_TCK)

echo "# Ceph RBD (1 OSD, memstore, librbd cache off), image ${IMAGE_MIB} MiB; hnvmfd $MODE path on cpu $TARGET_CPU, clients (hnvmf-perf, rbd bench) on cpu $INIT_CPU; ${SECS} s per row$([ "$SHORT" = 1 ] && echo " (SHORT=1)")"
printf "%-10s %5s %3s | %9s %8s %9s | %9s %8s %8s %8s %6s | %7s %8s | %s\n" workload size qd "rbd IOPS" "MB/s" "mean(us)" \
	"gw IOPS" "MB/s" "p50(us)" "p99(us)" errors "cpu s/s" "ctxsw/io" "gateway adds (QD1, mean)"
for row in $ROWS; do
	IFS=: read -r wl size qd <<<"$row"
	t0=$(date +%s.%N) c0=$(cpu_ticks) x0=$(ctxt)
	out=$("$PERF" perf -a 127.0.0.1 -s "$PORT" -n nqn.2026-01.io.hnvmf:rbd-bench -N 1 --workload "$wl" -z "$size" \
		-Q "$qd" --time "$SECS" --cpu "$INIT_CPU" --json 2>&1 | tail -1)
	t1=$(date +%s.%N) c1=$(cpu_ticks) x1=$(ctxt)
	cpu=$(awk -v c="$((c1 - c0))" -v hz="$HZ" -v t="$t0" -v u="$t1" 'BEGIN { printf "%.3f", c / hz / (u - t) }')
	python3 - "$wl" "$size" "$qd" "${RBD_IOPS[$row]:-0}" "$(bytes "$size")" "$out" "$cpu" "$((x1 - x0))" <<'PY'
import json, sys
wl, size, qd, rbd_iops, nbytes, out, cpu, ctxsw = sys.argv[1:]
ctxsw = int(ctxsw)
qd, rbd_iops, nbytes = int(qd), float(rbd_iops or 0), int(nbytes)
rbd_mean = qd / rbd_iops * 1e6 if rbd_iops else float("nan")
left = f"{wl:10} {size:>5} {qd:>3} | {rbd_iops:>9.0f} {rbd_iops * nbytes / 1e6:>8.1f} {rbd_mean:>9.1f} | "
try:
    r = json.loads(out)
    gw_mean = qd / r["iops"] * 1e6 if r["iops"] else float("nan")
    added = f"{gw_mean - rbd_mean:+.1f} us ({(gw_mean / rbd_mean - 1) * 100:+.1f} %)" if qd == 1 else ""
    print(left + f"{r['iops']:>9.0f} {r['mbps']:>8.1f} {r['lat_us']['p50']:>8.1f} {r['lat_us']['p99']:>8.1f} "
          f"{r['errors']:>6} | {float(cpu):>7.2f} {ctxsw / r['ios'] if r['ios'] else float('nan'):>8.2f} | {added}")
except Exception:
    print(left + f"failed: {out[:60]}")
PY
done
