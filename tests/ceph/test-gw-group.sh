#!/bin/bash
# test-gw-group.sh - ANA group ownership through RADOS leases (target/gw-group.c) against a real
# Ceph cluster, with gateways as separate processes (tests/ceph/gw-probe):
#   1. the preferred gateway takes its groups; another one stays standby
#   2. the owner killed (SIGKILL): the standby takes every group within the lease, fencing it
#   3. the owner frozen (SIGSTOP, as a gateway cut off from the cluster): the standby takes over
#      and fences it; thawed, it finds itself released and fenced, and its write is refused
#   4. a clean stop hands the groups over without fencing
#   5. failback: a preferred gateway that comes back gets its group handed back
# usage: test-gw-group.sh GW_PROBE  (CEPH_CONF set to a running cluster with pool rbd)
# Prints "N passed, M failed"; exits 1 if M > 0. Prints the takeover times (not asserted).
set -uo pipefail
PROBE=$1
: "${CEPH_CONF:?CEPH_CONF must name a running cluster}"
LEASE=${GW_TEST_LEASE_MS:-3000}
W=$(mktemp -d)
GROUP=g$$
declare -A PID FD
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
no() { echo "FAIL $*"; fail=$((fail + 1)); }

cleanup() {
    for g in "${!PID[@]}"; do kill -CONT "${PID[$g]}" 2>/dev/null; kill -9 "${PID[$g]}" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

# start NAME GRPIDS PREFERRED FAILBACK
start() {
    mkfifo "$W/in.$1"
    "$PROBE" "$CEPH_CONF" rbd "$GROUP" "$1" "$LEASE" "$2" "$3" "$4" < "$W/in.$1" > "$W/out.$1" 2> "$W/err.$1" &
    PID[$1]=$!
    exec {fd}> "$W/in.$1"
    FD[$1]=$fd
}
say() { echo "$2" >&"${FD[$1]}"; }
# wait_for NAME PATTERN SECONDS: the probe printed a line matching PATTERN (its last state)
wait_for() {
    local end=$((SECONDS + $3))
    while [ $SECONDS -le $end ]; do
        grep -q -- "$2" "$W/out.$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# last_role NAME GRPID: owner or standby, from the last role line for that group
last_role() { grep "^role $1 $2 " "$W/out.$1" | tail -1 | awk '{print $4}'; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# 1. the preferred gateway takes its groups; the other stays standby
start a 1,2 1,2 0
wait_for a "role a 2 owner" 30 && wait_for a "role a 1 owner" 1 && ok "preferred gateway a owns groups 1 and 2" || no "gateway a did not take its groups"
start b 1,2 - 0
wait_for b "started b" 30
sleep $((LEASE * 2 / 1000))
[ -z "$(last_role b 1)$(last_role b 2)" ] && ok "gateway b stays standby while a renews" || no "gateway b took a group a holds: $(cat "$W/out.b")"

# 2. owner killed: b takes both groups, fencing a
t0=$(date +%s%N)
kill -9 "${PID[a]}"; wait "${PID[a]}" 2>/dev/null; unset 'PID[a]'
if wait_for b "role b 1 owner" 20 && wait_for b "role b 2 owner" 20; then
    ok "after a's SIGKILL gateway b owns both groups ($(ms_since "$t0") ms; lease $LEASE ms)"
else
    no "gateway b did not take over after a's SIGKILL"
fi
grep -q "previous owner a fenced" "$W/err.b" && ok "b fenced the killed owner before reporting optimized" || no "b did not fence a: $(cat "$W/err.b")"

# 3. owner frozen (cut off): c takes over and fences b; b thawed finds itself fenced, cannot write
start c 1,2 - 0
wait_for c "started c" 30
say b write; wait_for b "write b ok" 10 && ok "owner b writes" || no "owner b cannot write: $(tail -3 "$W/out.b")"
kill -STOP "${PID[b]}"
t0=$(date +%s%N)
if wait_for c "role c 1 owner" 20 && wait_for c "role c 2 owner" 20; then
    ok "with b frozen gateway c owns both groups ($(ms_since "$t0") ms)"
else
    no "gateway c did not take over from frozen b"
fi
grep -q "previous owner b fenced" "$W/err.c" && ok "c fenced the frozen owner" || no "c did not fence b"
kill -CONT "${PID[b]}"
wait_for b "fenced b" 20 && ok "thawed b finds itself fenced" || no "b did not notice it was fenced: $(tail -5 "$W/out.b")"
[ "$(last_role b 1)" = standby ] && [ "$(last_role b 2)" = standby ] && ok "thawed b reports both groups standby" || no "b still reports ownership: $(cat "$W/out.b")"
# demotion came before any renewal attempt: the lease had lapsed in b's own clock
grep -q "ANA group 1 released (lease lapsed" "$W/err.b" && ok "b demoted itself on its own clock first" || no "b did not demote on lease lapse: $(grep released "$W/err.b")"
say b write; wait_for b "write b error" 20 && ok "fenced b's write is refused ($(grep 'write b error' "$W/out.b"))" || no "fenced b could still write: $(tail -2 "$W/out.b")"

# 4. a clean stop hands over without fencing
start d 1,2 - 0
wait_for d "started d" 30
t0=$(date +%s%N)
say c quit; wait_for c "stopped c" 20
if wait_for d "role d 1 owner" 20 && wait_for d "role d 2 owner" 20; then
    ok "after c's clean stop gateway d owns both groups ($(ms_since "$t0") ms)"
else
    no "gateway d did not take over after c stopped"
fi
grep -q "fenced" "$W/err.d" && no "d fenced c after a clean stop" || ok "no fencing after a clean stop"

# 5. failback: e prefers group 2 and asks for it back
start e 1,2 2 1
if wait_for e "role e 2 owner" 30; then ok "failback: preferred gateway e got group 2 back"; else no "failback did not happen: $(cat "$W/out.e")"; fi
[ "$(last_role d 2)" = standby ] && [ "$(last_role d 1)" = owner ] && ok "d released group 2 only" || no "d: $(cat "$W/out.d")"
grep -q "fenced" "$W/err.e" && no "e fenced d in a failback" || ok "no fencing in a failback"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
