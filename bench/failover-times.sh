#!/bin/bash
# Takeover times of a gateway group (docs/scale-out.md) over ROUNDS SIGKILLs of the owner, on
# loopback, no VM: a throw-away Ceph cluster (tests/ceph/cluster.sh), one RBD image, two hnvmfd
# gateways of one group on 127.0.0.1 exporting it as one subsystem, and bench/failover_probe as
# the host: verified 4 KiB writes through the optimized path, the owner SIGKILLed, the writes
# resent the way native multipath does until the other gateway reports optimized, then every
# acknowledged write read back. After each round the killed gateway is restarted and rejoins as
# a non-owner, so the next round kills the other one. Prints one line per round and a table:
# min / median / max of the takeover times, and whether every acknowledged write verified.
# Columns: acked = writes acknowledged in the round, blocks_ok / bad = blocks (of 256) whose
# content is / is not their last acknowledged write. A benchmark: it never fails on times (exit 1 only when a write did not verify or a round
# could not be made).
#   usage: bench/failover-times.sh [BUILD_DIR]    (default build; needs the Ceph packages)
# Knobs: ROUNDS (10), LEASE_MS (3000: the gateways' lease_ms), BEFORE_MS / AFTER_MS (writes
# before the kill / after the first write through the new owner, 1000 / 1000), PORT (4470: the
# gateways use PORT and PORT+1).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
ROUNDS=${ROUNDS:-10}
LEASE_MS=${LEASE_MS:-3000}
BEFORE_MS=${BEFORE_MS:-1000}
AFTER_MS=${AFTER_MS:-1000}
PORT=${PORT:-4470}
HNVMFD=$BUILD/target/hnvmfd
PROBE=$BUILD/bench/failover_probe
NQN=nqn.2026-01.io.hnvmf:failover-bench
[ -x "$HNVMFD" ] && [ -x "$PROBE" ] || { echo "failover-times.sh: build first (no $HNVMFD or $PROBE)" >&2; exit 2; }
"$SRC/tests/ceph/cluster.sh" check || exit 2

W=$(mktemp -d "${TMPDIR:-/tmp}/hnvmf-failover.XXXXXX")
declare -A PID
cleanup() {
	for g in "${!PID[@]}"; do kill -KILL "${PID[$g]}" 2>/dev/null; done
	"$SRC/tests/ceph/cluster.sh" stop "$W/c" >/dev/null 2>&1 || true
	[ "${KEEP:-0}" = 1 ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
"$SRC/tests/ceph/cluster.sh" start "$W/c" >/dev/null || exit 2
export CEPH_CONF=$W/c/ceph.conf
rbd create --size 64 rbd/fo

# gateway NAME PORT PREFERRED: its configuration
conf() {
	cat <<EOC
[global]
default_mode = direct
control_socket = $W/$1.sock
cntlid_min = $(($2 - PORT + 1))0
cntlid_max = $(($2 - PORT + 1))9

[listener io]
address = 127.0.0.1
port = $2

[backend img]
type = rbd
ceph_conf = $CEPH_CONF
pool = rbd
image = fo

[subsystem $NQN]
allow_any_host = yes
namespace = 1:img, ana_group=1

[gateway]
group = bench$$
name = $1
ceph_conf = $CEPH_CONF
pool = rbd
lease_ms = $LEASE_MS
$3
EOC
}
# start NAME: runs the gateway, not as a job of this shell (no "Killed" notices when it is
# killed), and waits until it listens
start() {
	local port=${PORTOF[$1]} i
	"$HNVMFD" -c "$W/$1.conf" >> "$W/$1.log" 2>&1 &
	PID[$1]=$!
	disown "${PID[$1]}"
	for i in $(seq 100); do
		ss -Hltn "sport = :$port" | grep -q . && return 0
		kill -0 "${PID[$1]}" 2>/dev/null || { echo "gateway $1 exited at start: $(tail -3 "$W/$1.log")" >&2; return 1; }
		sleep 0.1
	done
	echo "gateway $1 does not listen on $port" >&2; return 1
}
declare -A PORTOF=([a]=$PORT [b]=$((PORT + 1)))
conf a "$PORT" "preferred_ana_groups = 1" > "$W/a.conf"
conf b $((PORT + 1)) "" > "$W/b.conf"
start a || exit 2
start b || exit 2

echo "# bench/failover-times.sh: $ROUNDS SIGKILLs of the owner, lease_ms $LEASE_MS, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
printf '%-5s %-6s %12s %9s %8s %8s %5s\n' round killed takeover_ms ana_ms acked blocks_ok bad
times=() anas=() allok=1 failed=0
for r in $(seq "$ROUNDS"); do
	out=$("$PROBE" 127.0.0.1 "$PORT" "${PID[a]}" $((PORT + 1)) "${PID[b]}" "$NQN" "$BEFORE_MS" "$AFTER_MS" 256 2> "$W/probe.err")
	rc=$?
	if [ $rc -eq 2 ] || [ -z "$out" ]; then
		echo "round $r: not made: $(tail -2 "$W/probe.err")"; failed=$((failed + 1)); break
	fi
	read -r _ t _ a _ _ _ k _ v _ b _ owner <<< "$out"
	[ $rc -eq 0 ] && [ "$b" = 0 ] || allok=0
	killed=$([ "$owner" = "$PORT" ] && echo a || echo b)
	printf '%-5s %-6s %12s %9s %8s %8s %5s\n' "$r" "$killed" "$t" "$a" "$k" "$v" "$b"
	times+=("$t"); anas+=("$a")
	# the killed gateway gone for good, then back: it rejoins as a non-owner
	for i in $(seq 50); do kill -0 "${PID[$killed]}" 2>/dev/null || break; sleep 0.1; done
	start "$killed" || { failed=$((failed + 1)); break; }
done

stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {if (NR) printf "%d %d %d", v[1], v[int((NR+1)/2)], v[NR]}'; }
echo
printf '%-22s %6s %8s %6s %7s\n' "" min median max rounds
read -r mn md mx <<< "$(stats "${times[@]}")"
printf '%-22s %6s %8s %6s %7s\n' "kill -> first write" "$mn" "$md" "$mx" "${#times[@]}"
read -r mn md mx <<< "$(stats "${anas[@]}")"
printf '%-22s %6s %8s %6s %7s\n' "kill -> ANA optimized" "$mn" "$md" "$mx" "${#anas[@]}"
echo "(milliseconds; lease_ms $LEASE_MS)"
if [ $allok = 1 ] && [ $failed = 0 ]; then echo "every acknowledged write verified"
else echo "NOT every acknowledged write verified or a round failed (KEEP=1 keeps the logs)"; exit 1; fi
