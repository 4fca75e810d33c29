#!/bin/bash
# NVMe/TCP loopback benchmark: hnvmfd (pinned to one core) against hnvmf-perf (pinned to another),
# for the RAM and null backends: 4 KiB random read at QD 1/32/128, 4 KiB random write at QD 32,
# 128 KiB sequential read and write. Prints a table; never fails on timing.
#
#   bench/tcp-bench.sh [BUILD_DIR] [SECONDS]          (defaults: build, 5)
#   TARGET_CPU=0 INIT_CPU=1 MODE=direct|pqm|baseline  environment knobs (defaults 0, 1, direct)
#   HDGST=1 DDGST=1                                    digests on
#   BUSY_POLL=1                                        hnvmf-perf spins instead of poll()ing
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-5}
TARGET_CPU=${TARGET_CPU:-0}
INIT_CPU=${INIT_CPU:-1}
MODE=${MODE:-direct}
PORT=${PORT:-14420}
HNVMFD=$BUILD/target/hnvmfd
PERF=$BUILD/tools/hnvmf-perf
[ -x "$HNVMFD" ] && [ -x "$PERF" ] || { echo "tcp-bench: build first (make build)" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"

dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

{
	cat <<EOF
[global]
default_mode = $MODE
control_socket = $dir/ctl.sock

EOF
	conf_listener_null
	cat <<EOF

[backend ram0]
type = ram
size = 1G

[subsystem nqn.2026-01.io.hnvmf:bench]
allow_any_host = yes
namespace = 1:ram0
namespace = 2:null0
EOF
} > "$dir/bench.conf"

"$HNVMFD" -c "$dir/bench.conf" --cpu "$TARGET_CPU" 2> "$dir/hnvmfd.log" &
pid=$!
wait_ready

popts=()
[ "${HDGST:-0}" = 1 ] && popts+=(--hdgst)
[ "${DDGST:-0}" = 1 ] && popts+=(--ddgst)
[ "${BUSY_POLL:-0}" = 1 ] && popts+=(--busy-poll)

run() { # backend nsid workload size qd
    local out
    out=$("$PERF" perf -a 127.0.0.1 -s "$PORT" -n nqn.2026-01.io.hnvmf:bench -N "$2" --workload "$3" -z "$4" \
          -Q "$5" --time "$SECS" --cpu "$INIT_CPU" --json "${popts[@]}" 2>&1 | tail -1)
    python3 - "$1" "$3" "$4" "$5" "$out" <<'PY'
import json, sys
be, wl, size, qd, out = sys.argv[1:]
try:
    r = json.loads(out)
    print(f"{be:5} {wl:10} {size:>6} {qd:>4} {r['iops']:>10.0f} {r['mbps']:>9.1f} "
          f"{r['lat_us']['p50']:>9.1f} {r['lat_us']['p99']:>9.1f} {r['errors']:>6}")
except Exception:
    print(f"{be:5} {wl:10} {size:>6} {qd:>4}   failed: {out[:60]}")
PY
}

echo "hnvmfd $MODE path on cpu $TARGET_CPU, hnvmf-perf on cpu $INIT_CPU, ${SECS}s per row${HDGST:+, hdgst}${DDGST:+, ddgst}${BUSY_POLL:+, initiator busy-polls}"
printf "%-5s %-10s %6s %4s %10s %9s %9s %9s %6s\n" backend workload size qd IOPS MB/s "p50(us)" "p99(us)" errors
for be in ram null; do
    ns=1; [ $be = null ] && ns=2
    run $be $ns randread 4k 1
    run $be $ns randread 4k 32
    run $be $ns randread 4k 128
    run $be $ns randwrite 4k 32
    run $be $ns read 128k 16
    run $be $ns write 128k 16
done
