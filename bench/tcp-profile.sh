#!/bin/bash
# Per-I/O costs of hnvmfd and of the reference target, SPDK's nvmf_tgt, with SPDK's spdk_nvme_perf
# as the client (issue 12 point 2): system calls by kind, bytes per send and receive call, wire
# bytes per I/O (from which the PDUs per I/O follow), user and kernel CPU time per I/O, and, with
# PROFILE=1, the top of a `perf record` profile (memcpy and the kernel's copy routines are the
# copies). One target runs at a time, pinned to TARGET_CPU, the client on CLIENT_CPU; each row is
# one run, measured over a window of SECS seconds inside it (from 1 s after the client started its
# I/O; the client runs SECS + 5 s, since perf itself takes a moment to start and stop on a loaded
# machine). A row whose client ended inside the window is reported as such, not counted.
#
# Counts per I/O divide what the window counted by the I/Os in it: the bytes the target received
# over the window divided by what the host sends per I/O (a 72-byte CapsuleCmd for a read; with
# it a 24-byte H2CData header and the data for a write: one R2T, both targets' MAXH2CDATA being
# 128 KiB), so the count does not depend on how fast the run went: system calls and bytes do not depend on the machine's speed (batching does
# depend on the load, so compare targets within one run of this script). The CPU times do: they
# are the target's utime and stime over the window, divided the same way. Hardware counters
# (instructions) are not available in this VM; `valgrind --tool=callgrind` counts hnvmfd's user
# instructions (docs/performance.md, "Profile").
#
#   SPDK_BIN=/path/to/spdk/build/bin bench/tcp-profile.sh [BUILD_DIR]     (default build)
#
# Environment: SPDK_BIN, SPDK_RPC, TARGET_CPU, CLIENT_CPU, PORT as bench/spdk-perf.sh;
#   SECS=4          seconds counted per row (>= 2)
#   TARGETS="hnvmfd spdk"
#   ROWS="rr4k-qd128 rd128k-qd32 wr128k-qd32"
#   PROFILE=1       also a `perf record -g` of each run's window: the top symbols, and the share
#                   of the target's samples in copy routines
# Without SPDK's binaries it says so and exits 0. Never fails on timing.
set -euo pipefail
BUILD=${1:-build}
SPDK_BIN=${SPDK_BIN:-}
if [ -z "$SPDK_BIN" ] || [ ! -x "$SPDK_BIN/nvmf_tgt" ] || [ ! -x "$SPDK_BIN/spdk_nvme_perf" ]; then
	echo "tcp-profile: skipped: SPDK's nvmf_tgt and spdk_nvme_perf not found (set SPDK_BIN)"
	exit 0
fi
command -v perf > /dev/null || { echo "tcp-profile: skipped: perf not installed"; exit 0; }
SPDK_RPC=${SPDK_RPC:-$SPDK_BIN/../../scripts/rpc.py}
SECS=${SECS:-4}
TARGET_CPU=${TARGET_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TARGETS=${TARGETS:-hnvmfd spdk}
ROWS=${ROWS:-rr4k-qd128 rd128k-qd32 wr128k-qd32}
PROFILE=${PROFILE:-0}
PORT=${PORT:-14436}
HNVMFD=$BUILD/target/hnvmfd
NQN=nqn.2026-01.io.hnvmf:tcp-profile
[ -x "$HNVMFD" ] || { echo "tcp-profile: build first ($HNVMFD)" >&2; exit 2; }
[ "$SECS" -ge 2 ] || { echo "tcp-profile: SECS must be at least 2" >&2; exit 2; }
HZ=$(getconf CLK_TCK)
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"

# name | workload | bytes | queue depth
ALL_ROWS="rr4k-qd32|randread|4096|32
rr4k-qd128|randread|4096|128
rd128k-qd32|read|131072|32
wr128k-qd32|write|131072|32"

# The system calls either target makes on its I/O path (the rest are summed as "other").
SYSCALLS="recvfrom recvmsg sendto sendmsg writev readv epoll_wait epoll_pwait io_uring_enter"

dir=$(mktemp -d)
tpid=
cleanup() {
	[ -n "$tpid" ] && { kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null || true; }
	rm -rf "$dir"
}
trap cleanup EXIT

start_hnvmfd() {
	{
		echo "[global]"
		echo "default_mode = direct"
		echo "control_socket ="
		echo "[pqm]"
		echo "server_cpus = $TARGET_CPU"
		conf_listener_null
		echo "block_size = 4096"
		echo "[subsystem $NQN]"
		echo "allow_any_host = yes"
		echo "namespace = 1:null0"
	} > "$dir/hnvmfd.conf"
	taskset -c "$TARGET_CPU" "$HNVMFD" -c "$dir/hnvmfd.conf" --cpu "$TARGET_CPU" \
		2> "$dir/hnvmfd.log" &
	tpid=$!
	wait_ready
}

start_spdk() {
	"$SPDK_BIN/nvmf_tgt" -m "$(printf '0x%x' $((1 << TARGET_CPU)))" --no-huge -s 2048 \
		-r "$dir/spdk.sock" > "$dir/nvmf_tgt.log" 2>&1 &
	tpid=$!
	local rpc=(/usr/bin/python3 "$SPDK_RPC" -s "$dir/spdk.sock" -t 60)
	for _ in $(seq 300); do [ -S "$dir/spdk.sock" ] && break; sleep 0.1; done
	"${rpc[@]}" framework_wait_init > /dev/null
	"${rpc[@]}" nvmf_create_transport -t TCP > /dev/null
	"${rpc[@]}" bdev_null_create null0 1048576 4096 > /dev/null
	"${rpc[@]}" nvmf_create_subsystem "$NQN" -a -s TCPPROFILE01 > /dev/null
	"${rpc[@]}" nvmf_subsystem_add_ns -n 1 "$NQN" null0 > /dev/null
	"${rpc[@]}" nvmf_subsystem_add_listener "$NQN" -t tcp -f ipv4 -a 127.0.0.1 -s "$PORT" > /dev/null
}

stop_target() {
	kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null || true
	tpid=
}

# The target side's TCP byte counters, summed over its connections: "sent received".
tcp_bytes() {
	ss -tinH state established "( sport = :$PORT )" | grep -o 'bytes_\(sent\|received\):[0-9]*' |
		awk -F: '{ n[$1] += $2 } END { printf "%d %d\n", n["bytes_sent"], n["bytes_received"] }'
}

ticks() { # utime stime of every thread of $tpid
	local s
	s=$(< "/proc/$tpid/stat")
	s=${s##*) }
	set -- $s
	echo "${12} ${13}"
}

run() { # target name workload bytes qd
	local target=$1 name=$2 wl=$3 bytes=$4 qd=$5
	if [ "$target" = spdk ]; then start_spdk; else start_hnvmfd; fi
	local out=$dir/out
	stdbuf -oL "$SPDK_BIN/spdk_nvme_perf" -c "$(printf '0x%x' $((1 << CLIENT_CPU)))" --no-huge \
		-s 1024 -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN ns:1" \
		-w "$wl" -o "$bytes" -q "$qd" -t $((SECS + 5)) > "$out" 2>&1 &
	local cpid=$!
	for _ in $(seq 300); do
		grep -q "Launching workers" "$out" 2>/dev/null || ! kill -0 $cpid 2>/dev/null && break
		sleep 0.05
	done
	sleep 1
	local win=$SECS events=raw_syscalls:sys_enter s
	for s in $SYSCALLS; do
		[ -d "/sys/kernel/tracing/events/syscalls/sys_enter_$s" ] ||
			[ -d "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$s" ] &&
			events+=",syscalls:sys_enter_$s"
	done
	local b0 b1 t0 t1 w0 w1
	b0=$(tcp_bytes) t0=$(ticks) w0=$EPOCHREALTIME
	local rpid=
	if [ "$PROFILE" = 1 ]; then
		perf record -q -g -e cpu-clock -p "$tpid" -o "$dir/perf.data" -- sleep "$win" \
			2> /dev/null &
		rpid=$!
	fi
	# In the background, so that the snapshots below are win apart whatever perf's start-up takes.
	perf stat -x, -e "$events" -p "$tpid" -o "$dir/stat" -- sleep "$win" &
	local spid=$!
	sleep "$win"
	b1=$(tcp_bytes) t1=$(ticks) w1=$EPOCHREALTIME
	local alive=1
	kill -0 $cpid 2> /dev/null || alive=0
	wait $spid
	wait $cpid $rpid || true
	stop_target
	if [ $alive = 0 ]; then
		echo "$name $target: the client ended inside the window: not counted"
		tail -3 "$out" >&2
		return
	fi
	local iops
	iops=$(awk '/^Total/ { print $3 }' "$out")
	if [ -z "$iops" ]; then
		echo "tcp-profile: $name -> $target failed:" >&2
		tail -3 "$out" >&2
		return
	fi
	local host_bytes=72 # per I/O, see the top
	[ "$wl" = write ] && host_bytes=$((72 + 24 + bytes))
	python3 - "$target" "$name" "$iops" "$win" "$w0" "$w1" "$HZ" "$dir/stat" "$b0 $b1" "$t0 $t1" \
		"$host_bytes" <<'PY'
import sys
target, name, iops, win, w0, w1, hz, stat, b, t, host_bytes = sys.argv[1:]
sb0, rb0, sb1, rb1 = map(int, b.split())
ios = (rb1 - rb0) / int(host_bytes)              # between the snapshots: bytes and CPU
ios_win = ios * float(win) / (float(w1) - float(w0))  # perf counted the calls for win seconds
u0, s0, u1, s1 = map(int, t.split())
calls = {}
for line in open(stat):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].isdigit():
        calls[f[2].split(":")[-1].replace("sys_enter_", "")] = int(f[0])
# The events are enabled one after the other: "other" (all less the kinds listed) can come out a
# few calls below zero; shown as 0.
total = calls.pop("sys_enter", 0)
send = sum(calls.get(k, 0) for k in ("sendmsg", "sendto", "writev"))
recv = sum(calls.get(k, 0) for k in ("recvmsg", "recvfrom", "readv"))
poll = sum(calls.get(k, 0) for k in ("epoll_wait", "epoll_pwait", "io_uring_enter"))
per = lambda n: n / ios if ios else 0.0
pcall = lambda n: n / ios_win if ios_win else 0.0
sent, rcvd = sb1 - sb0, rb1 - rb0
# bytes per call: the calls scaled to the snapshots' interval
scale = ios / ios_win if ios_win else 0.0
print(f"{name:12} {target:7} {float(iops):9.0f} {pcall(total):7.3f} {pcall(send):7.3f} "
      f"{pcall(recv):7.3f} {pcall(poll):7.3f} {pcall(max(0, total - send - recv - poll)):7.3f} "
      f"{sent / (send * scale) if send else 0:9.0f} {rcvd / (recv * scale) if recv else 0:9.0f} "
      f"{per(sent):8.1f} "
      f"{per((u1 - u0) / int(hz)) * 1e6:6.2f} {per((s1 - s0) / int(hz)) * 1e6:6.2f}")
PY
	if [ "$PROFILE" = 1 ]; then
		local top
		top=$(perf report -i "$dir/perf.data" --no-children --sort sym --stdio -q -g none \
			2> /dev/null | grep -v '^$' | head -12 || true)
		echo "$top" | sed 's/^/#   /'
		perf report -i "$dir/perf.data" --no-children --sort sym --stdio -q -g none 2> /dev/null |
			awk '/memcpy|memmove|copy_user|copy_to_user|copy_from_user|_copy_to_iter|_copy_from_iter|copy_page/ { s += $1 }
			     END { printf "#   copy routines: %.1f %% of the samples\n", s }'
	fi
}

echo "# tcp-profile, hnvmfd $(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo '?')," \
     "$(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# target on CPU $TARGET_CPU, spdk_nvme_perf on CPU $CLIENT_CPU, null namespace, one run of" \
     "$((SECS + 5)) s per row, counted over $SECS s inside it; per I/O: system calls (all, send, recv," \
     "epoll, other), bytes per send/recv call, bytes sent (4144 for a 4 KiB read: C2HData and CapsuleResp)," \
     "user/system CPU us"
printf '%-12s %-7s %9s %7s %7s %7s %7s %7s %9s %9s %8s %6s %6s\n' row target IOPS sys/io \
	send recv poll other B/send B/recv txB/io usr-us sys-us
while IFS='|' read -r name wl bytes qd; do
	[[ " $ROWS " == *" $name "* ]] || continue
	for t in $TARGETS; do
		run "$t" "$name" "$wl" "$bytes" "$qd"
	done
done <<< "$ALL_ROWS"
