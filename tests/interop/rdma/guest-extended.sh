# guest-extended.sh - runs INSIDE the test guest (run-extended.sh boots it): soft-RoCE on a dummy interface,
# hnvmfd with RDMA and TCP listeners, the kernel's nvme-rdma host against it.
# Needs: BUILD (a build dir with target/hnvmfd and tools/hnvmfctl). Optional: PROBE (rdma-cm-probe), CASES (words from
# "disc io tcp mixed multipath ipv6 badpd pressure abort drain", plus "linkdown", not run by
# default: soft-RoCE on 6.1 does not recover from a link flap even with the kernel's own target,
# see guest-linkdown-nvmet.sh), NVME (nvme binary), MIB (data size, default 64), LOG_LEVEL.
set -u
T0=$(date +%s.%N)
ts() { printf '[%6.2f] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
run() { ts "+ $*"; "$@"; local rc=$?; [ $rc -ne 0 ] && ts "  -> rc=$rc"; return $rc; }
FAILS=0; PASSES=0
pass() { PASSES=$((PASSES+1)); ts "PASS: $*"; }
fail() { FAILS=$((FAILS+1)); ts "FAIL: $*"; }
wait_dev() { local i; for i in $(seq 100); do [ -b "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_gone() { local i; for i in $(seq 100); do [ -e "$1" ] || return 0; sleep 0.1; done; return 1; }

BUILD=${BUILD:?}
HNVMFD=$BUILD/target/hnvmfd
CTL=$BUILD/tools/hnvmfctl
NVME=${NVME:-nvme}
MIB=${MIB:-64}
CASES=$(echo "${CASES:-disc io tcp mixed multipath ipv6 badpd pressure abort drain}" | tr , " ")
A4=10.99.0.1
A6=fd00:99::1
NQN=nqn.2026-01.io.hnvmf:rdma-test
NQN2=nqn.2026-01.io.hnvmf:tcp-test
TO="timeout 120"
W=/tmp/hnvmf-rdma; mkdir -p $W
SOCK=$W/ctl.sock
has() { case " $CASES " in *" $1 "*) return 0;; esac; return 1; }

ts "kernel $(uname -r)"
run modprobe dummy numdummies=0
ip link add dummy0 type dummy; ip link set dummy0 up
ip addr add $A4/24 dev dummy0
ip -6 addr add $A6/64 dev dummy0 nodad
run modprobe -a rdma_rxe ib_uverbs rdma_ucm nvme-rdma nvme-tcp || exit 1
run rdma link add rxe0 type rxe netdev dummy0 || exit 1

cat > $W/hnvmf.conf <<EOC
[global]
log_level = ${LOG_LEVEL:-debug}
reactors = 2
max_io_queues = 4
control_socket = $SOCK

[listener rdma4]
transport = rdma
address = $A4
port = 4420

[listener rdma6]
transport = rdma
address = $A6
port = 4420

[listener tcp4]
transport = tcp
address = $A4
port = 4421

[backend ram0]
type = ram
size = 256M

[backend ram1]
type = ram
size = 256M

[subsystem $NQN]
allow_any_host = yes
namespace = 1:ram0

[subsystem $NQN2]
allow_any_host = yes
namespace = 1:ram1
listeners = tcp4
EOC
$HNVMFD -c $W/hnvmf.conf > $W/hnvmfd.log 2>&1 & DPID=$!
for i in $(seq 50); do [ -S $SOCK ] && break; sleep 0.1; done
if ! kill -0 $DPID 2>/dev/null; then cat $W/hnvmfd.log; fail "hnvmfd did not start"; exit 1; fi
ctrls() { echo $(( $($CTL -s $SOCK controllers | grep -c .) - 1 )); }   # rows under the header
dev_of() {  # TRANSPORT [NQN] -> the namespace block device of that subsystem (waits 10 s);
            # the namespace head when the host's native multipath is on
    local i b; for i in $(seq 100); do
        for b in /sys/block/nvme*n1; do case ${b##*/} in *c*) continue;; esac
            [ "$(cat $b/device/subsysnqn 2>/dev/null)" = "${2:-$NQN}" ] && { echo /dev/${b##*/}; return 0; }
        done; sleep 0.1
    done; return 1; }
data_check() {  # DEV LABEL: MIB MiB of random data in 1 MiB writes, read back and compared
    run dd if=/dev/urandom of=$W/pat bs=1M count=$MIB status=none
    run $TO dd if=$W/pat of=$1 bs=1M oflag=direct status=none &&
    run $TO dd if=$1 of=$W/back bs=1M count=$MIB iflag=direct status=none &&
    cmp $W/pat $W/back && pass "$2: $MIB MiB written in 1 MiB writes and read back identical" ||
        fail "$2: data mismatch"
    # over RDMA 4 KiB writes travel as in-capsule data (IOCCSZ allows 8 KiB)
    run dd if=/dev/urandom of=$W/pat4 bs=4k count=512 status=none
    run $TO dd if=$W/pat4 of=$1 bs=4k seek=10000 oflag=direct status=none &&
    run $TO dd if=$1 of=$W/back4 bs=4k skip=10000 count=512 iflag=direct status=none &&
    cmp $W/pat4 $W/back4 && pass "$2: 2 MiB in 4 KiB writes read back identical" ||
        fail "$2: 4 KiB data mismatch"
}

if has disc; then
    out=$(run $NVME discover -t rdma -a $A4 -s 4420 2>&1); echo "$out"
    echo "$out" | grep -q "subnqn: *$NQN" && echo "$out" | grep -q "trtype: *rdma" &&
        pass "discover over RDMA lists $NQN" || fail "discover over RDMA"
fi
if has io; then
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 4 || fail "connect rdma"
    D=$(dev_of rdma); wait_dev "$D" || fail "no namespace block device"
    C=/sys/class/nvme/$(basename ${D%n1})
    ts "queues: $(ls /sys/block/$(basename $D)/mq | wc -l) blk-mq hw queues"
    $CTL -s $SOCK controllers
    $CTL -s $SOCK controllers | grep -q " q4:" && pass "4 I/O queues on the target" || fail "I/O queue count"
    data_check $D rdma
    run $NVME disconnect -n $NQN
    sleep 1
    n=$(ctrls); [ "$n" = 0 ] && pass "disconnect: controllers $n on the target" || { fail "disconnect leaves controllers $n"; $CTL -s $SOCK controllers; }
    # the target's per-queue counters (debug log): in-capsule bytes on the I/O queues
    icd=$(sed -n 's/.*qid [1-9][0-9]* destroyed.* \([0-9]*\) in-capsule.*/\1/p' $W/hnvmfd.log | awk '{s+=$1} END {print s+0}')
    [ "$icd" -ge $((2*1024*1024)) ] && pass "in-capsule data used: $icd bytes on I/O queues" || fail "in-capsule bytes $icd"
    inv=$(sed -n 's/.*qid [1-9][0-9]* destroyed.* \([0-9]*\) sent with invalidate.*/\1/p' $W/hnvmfd.log | awk '{s+=$1} END {print s+0}')
    [ "$inv" -gt 0 ] && pass "responses sent with Invalidate: $inv (host's keyed SGL 0x4F; a wrong rkey would make the host reset)" || fail "no SEND with Invalidate"
    grep -E 'qid [0-9]+ destroyed' $W/hnvmfd.log
fi
if has tcp; then
    run $NVME connect -t tcp -a $A4 -s 4421 -n $NQN -i 2 || fail "connect tcp"
    D=$(dev_of tcp); wait_dev "$D" || fail "no tcp block device"
    data_check $D tcp
    run $NVME disconnect -n $NQN; sleep 1
fi
if has mixed; then
    # one daemon, an RDMA and a TCP controller at once (two subsystems, so the host's
    # multipath does not merge the two controllers into one namespace)
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2 || fail "connect rdma (mixed)"
    run $NVME connect -t tcp -a $A4 -s 4421 -n $NQN2 -i 2 || fail "connect tcp (mixed)"
    DR=$(dev_of rdma $NQN); DT=$(dev_of tcp $NQN2); wait_dev "$DR"; wait_dev "$DT"
    $CTL -s $SOCK controllers
    n=$(ctrls); [ "$n" = 2 ] && pass "one daemon, a TCP and an RDMA controller at once" || fail "mixed: controllers $n"
    run dd if=/dev/urandom of=$W/patm bs=1M count=16 status=none
    $TO dd if=$W/patm of=$DR bs=1M seek=100 oflag=direct status=none & P1=$!
    $TO dd if=$W/patm of=$DT bs=1M seek=100 oflag=direct status=none & P2=$!
    wait $P1 && wait $P2 &&
    run $TO dd if=$DR of=$W/backr bs=1M skip=100 count=16 iflag=direct status=none &&
    run $TO dd if=$DT of=$W/backt bs=1M skip=100 count=16 iflag=direct status=none &&
    cmp $W/patm $W/backr && cmp $W/patm $W/backt && pass "mixed: concurrent writes over RDMA and TCP read back identical" || fail "mixed data"
    run $NVME disconnect -n $NQN; run $NVME disconnect -n $NQN2; sleep 1
    n=$(ctrls); [ "$n" = 0 ] && pass "mixed: disconnect leaves nothing" || fail "mixed: controllers $n left"
fi
if has multipath; then
    # the same subsystem over RDMA and TCP: two paths of one namespace for the host
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2 || fail "connect rdma (multipath)"
    run $NVME connect -t tcp -a $A4 -s 4421 -n $NQN -i 2 || fail "connect tcp (multipath)"
    D=$(dev_of rdma); ts "namespace $D; paths: $(ls -d /sys/block/nvme*c*n1 2>/dev/null | xargs -n1 basename | tr '\n' ' ')"
    run dd if=/dev/urandom of=$W/patp bs=1M count=16 status=none
    run $TO dd if=$W/patp of=$D bs=1M seek=50 oflag=direct status=none &&
    run $TO dd if=$D of=$W/backp bs=1M skip=50 count=16 iflag=direct status=none &&
    cmp $W/patp $W/backp && pass "multipath (RDMA + TCP paths): 16 MiB read back identical" ||
        { fail "multipath I/O"; $CTL -s $SOCK controllers; tail -30 $W/hnvmfd.log; dmesg | tail -20; }
    run $NVME disconnect -n $NQN; sleep 1
    n=$(ctrls); [ "$n" = 0 ] && pass "multipath: disconnect leaves nothing" || fail "multipath: controllers $n left"
fi
if has ipv6; then
    out=$(run $NVME discover -t rdma -a $A6 -s 4420 2>&1); echo "$out" | tail -12
    echo "$out" | grep -q "subnqn: *$NQN" && pass "discover over RDMA/IPv6" || fail "discover over RDMA/IPv6"
    run $NVME connect -t rdma -a $A6 -s 4420 -n $NQN -i 1 && D=$(dev_of rdma) && wait_dev "$D" &&
        run dd if=$D of=/dev/null bs=1M count=8 iflag=direct status=none && pass "connect + read over RDMA/IPv6" || fail "RDMA/IPv6 I/O"
    run $NVME disconnect -n $NQN; sleep 1
fi
if has badpd; then
    # a userspace client with bad private data must be rejected with the right status
    if [ -x "${PROBE:-}" ]; then
        run $PROBE $A4 4420 && pass "CM private data checks" || fail "CM private data checks"
    fi
fi
if has pressure; then
    # more 1 MiB transfers in flight than the data pool holds (64 per reactor): requests must
    # wait for buffers, not fail; fio verifies every block it wrote
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2
    D=$(dev_of rdma)
    run $TO fio --name=pressure --filename=$D --ioengine=libaio --direct=1 --rw=randwrite --bs=1M \
        --iodepth=64 --numjobs=2 --size=64M --offset_increment=64M --verify=crc32c --verify_backlog=16 \
        --group_reporting --output-format=terse > $W/fio.out 2>&1
    rc=$?; tail -3 $W/fio.out | cut -c1-200
    [ $rc = 0 ] && pass "fio 1 MiB randwrite QD 2x64 with crc32c verify" || fail "fio verify rc=$rc"
    run $NVME disconnect -n $NQN; sleep 1
    w=$(sed -n 's/.*qid [1-9][0-9]* destroyed.* \([0-9]*\) buffer waits.*/\1/p' $W/hnvmfd.log | awk '{s+=$1} END {print s+0}')
    ts "buffer waits over all I/O queues so far: $w"
    [ "$w" -gt 0 ] && pass "data pool back-pressure exercised ($w waits)" || ts "note: no buffer wait happened"
fi
if has linkdown; then
    # connection loss under I/O: the RoCE link goes down for 8 s; the target's queues fail
    # (retries exhausted, keep-alive), the host recovers and reconnects once it is back
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2 --keep-alive-tmo=5 --reconnect-delay=2 --ctrl-loss-tmo=60
    D=$(dev_of rdma); C=$(for c in /sys/class/nvme/nvme*; do [ "$(cat $c/subsysnqn)" = $NQN ] && echo $c; done | head -1)
    dd if=$D of=/dev/null bs=128k count=4000 iflag=direct status=none & DD=$!
    sleep 2
    run ip link set dummy0 down; sleep 8; run ip link set dummy0 up
    for i in $(seq 90); do [ "$(cat $C/state 2>/dev/null)" = live ] && break; sleep 1; done
    ts "controller state after $i s: $(cat $C/state 2>/dev/null)"
    kill -0 $DD 2>/dev/null && ts "reader still blocked" || ts "reader ended"
    grep -E 'closing qid|re-bound|re-binding|ctrl [0-9]+ (created|destroyed)|fatal|failed' $W/hnvmfd.log | tail -20
    if [ "$(cat $C/state 2>/dev/null)" = live ]; then
        run dd if=/dev/urandom of=$W/patl bs=1M count=8 status=none
        run $TO dd if=$W/patl of=$D bs=1M seek=30 oflag=direct status=none &&
        run $TO dd if=$D of=$W/backl bs=1M skip=30 count=8 iflag=direct status=none &&
        cmp $W/patl $W/backl && pass "link loss under I/O: host reconnected, data read back identical" || fail "link loss: I/O after reconnect"
        run $NVME disconnect -n $NQN; sleep 2
        n=$(ctrls); [ "$n" = 0 ] && pass "link loss: disconnect leaves nothing (controllers $n)" || { fail "link loss: controllers $n"; $CTL -s $SOCK controllers; }
    else
        fail "link loss: the host did not reconnect"; dmesg | grep -iE 'nvme|rdma|rxe' | tail -15
    fi
    kill -0 $DPID && pass "hnvmfd still running" || fail "hnvmfd died"
fi
if has abort; then
    # connection loss with commands in flight: the host tears its queues down while fio keeps
    # 32 reads and writes outstanding per queue; the target must end every request and queue
    # (nothing left, buffers back), keep serving, and a new connection must work
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2
    D=$(dev_of rdma)
    fio --name=abort --filename=$D --ioengine=libaio --direct=1 --rw=randrw --bs=64k --iodepth=32 \
        --numjobs=2 --size=128M --time_based --runtime=60 > $W/fio-abort.out 2>&1 & FIO=$!
    sleep 4
    run $NVME disconnect -n $NQN
    wait $FIO; ts "fio ended rc=$? (errors expected)"
    sleep 2
    n=$(ctrls); [ "$n" = 0 ] && pass "disconnect under I/O: controllers $n on the target" || { fail "abort: controllers $n"; $CTL -s $SOCK controllers; }
    grep -E 'still counted in flight|freed with|never' $W/hnvmfd.log && fail "abort: target reports leftovers" || pass "abort: no request left in flight at destroy"
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2; D=$(dev_of rdma)
    run dd if=/dev/urandom of=$W/pata bs=1M count=8 status=none
    run $TO dd if=$W/pata of=$D bs=1M seek=40 oflag=direct status=none &&
    run $TO dd if=$D of=$W/backa bs=1M skip=40 count=8 iflag=direct status=none &&
    cmp $W/pata $W/backa && pass "abort: a new connection reads back what it wrote" || fail "abort: new connection I/O"
    run $NVME disconnect -n $NQN; sleep 1
    kill -0 $DPID && pass "hnvmfd still running" || fail "hnvmfd died"
fi
if has drain; then
    # graceful stop with a host connected and reading: hnvmfd drains and exits 0
    run $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2 --ctrl-loss-tmo=5
    D=$(dev_of rdma)
    $TO dd if=$D of=/dev/null bs=1M count=100000 iflag=direct status=none & DD=$!
    sleep 2
fi
t0=$(date +%s)
kill -TERM $DPID; wait $DPID; rc=$?
[ $rc = 0 ] && pass "hnvmfd exit status 0 after SIGTERM ($(( $(date +%s) - t0 )) s)" || fail "hnvmfd exit status $rc"
if has drain; then
    wait $DD; ts "reader ended rc=$?"; run $NVME disconnect -n $NQN
    grep -qE 'closing qid [0-9]+: drained' $W/hnvmfd.log && pass "drain: queues closed as drained" || fail "drain: no drained queue"
fi
echo "----- hnvmfd errors and warnings (the CM probe's bad key causes one failed RDMA READ)"
grep -E '^<[34]>' $W/hnvmfd.log | sort | uniq -c | sort -rn | head -20
echo "----- hnvmfd log (tail)"; tail -40 $W/hnvmfd.log
echo "----- dmesg"; dmesg | grep -iE 'nvme|rdma|rxe' | tail -25
ts "RESULT: $PASSES passed, $FAILS failed"
[ $FAILS = 0 ]
