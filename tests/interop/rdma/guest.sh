#!/bin/bash
# guest.sh - the NVMe/RDMA interop cases; runs INSIDE the test guest (run-rdma.sh boots it).
# This machine's kernel has no RDMA, so everything happens in the guest: soft-RoCE (rdma_rxe) on
# a dummy interface, hnvmfd with an RDMA and a TCP listener on it, and the kernel's nvme-rdma /
# nvme-tcp host with nvme-cli against it. No traffic leaves the guest.
#
# usage: guest.sh SHARE   (SHARE/env.sh holds KERNEL BUILD NVME PROBE; SHARE is read-write)
# Writes one verdict per case to SHARE/results ("PASS name" / "FAIL name: why" / "SKIP name: why")
# and each case's output to SHARE/logs/name.log. A case passes only when it ran to its end,
# recorded at least one `ok` and no `bad`.
SHARE=$1
set -a; . "$SHARE/env.sh"; set +a
RESULTS=$SHARE/results LOGS=$SHARE/logs
mkdir -p "$LOGS"; : > "$RESULTS"
W=/tmp/hnvmf-rdma; mkdir -p "$W/tenants"
HNVMFD=$BUILD/target/hnvmfd CTL=$BUILD/tools/hnvmfctl SOCK=$W/ctl.sock
A4=10.99.0.1
NQN=nqn.2026-01.io.hnvmf:rdma-test        # every listener (RDMA and TCP)
NQN2=nqn.2026-01.io.hnvmf:tcp-test        # TCP only: a second subsystem, so that the host's
                                          # native multipath does not merge the mixed controllers
DAM_HOSTID=6c1e6c1e-0000-4000-8000-0000000da301
DAM_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$DAM_HOSTID
TO="timeout 120"

T0US=${EPOCHREALTIME/./}     # builtins only: under TCG every exec costs a good fraction of a second
log() { local d=$(( ${EPOCHREALTIME/./} - T0US )); printf '[%4d.%02d] %s\n' $((d / 1000000)) $(((d / 10000) % 100)) "$*"; }
run() { log "+ $*"; "$@"; local rc=$?; [ $rc -ne 0 ] && log "  -> exit status $rc"; return $rc; }
ok() { log "ok: $*"; echo "$*" >> "$CS/ok"; }
bad() { log "FAILED: $*"; echo "$*" >> "$CS/bad"; return 1; }
skip() { log "SKIP: $*"; echo "$*" > "$CS/skip"; }
wait_for() {  # TENTHS CMD...: poll CMD every 0.1 s
    local i; for ((i = 0; i < $1; i++)); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
ctrls() { echo $(( $($CTL -s $SOCK controllers | grep -c .) - 1 )); }   # rows under the header
dev_of() {  # NQN -> the namespace block device of that subsystem's controller (waits 10 s)
    local i b; for i in $(seq 100); do
        for b in /sys/block/nvme*n1; do case ${b##*/} in *c*) continue;; esac
            [ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$1" ] && { echo "/dev/${b##*/}"; return 0; }
        done; sleep 0.1
    done; return 1; }
verify_dd() {  # DEV MIB SEEK_MIB LABEL: random data written with O_DIRECT, read back, compared
    run dd if=/dev/urandom of="$W/pat" bs=1M count="$2" status=none &&
    run $TO dd if="$W/pat" of="$1" bs=1M seek="$3" oflag=direct status=none &&
    run $TO dd if="$1" of="$W/back" bs=1M skip="$3" count="$2" iflag=direct status=none &&
    cmp "$W/pat" "$W/back" && ok "$4: $2 MiB written and read back identical" || bad "$4: $2 MiB not read back identical"
}
fio_verify() {  # DEV LABEL FIO-ARGS...: fio writes, then reads and checks every block (crc32c)
    local dev=$1 what=$2; shift 2
    if run $TO fio --name="$what" --filename="$dev" --ioengine=libaio --direct=1 --verify=crc32c \
            --do_verify=1 --verify_fatal=1 --output-format=terse "$@" > "$W/fio.out" 2>&1; then
        ok "$what: fio wrote and verified with crc32c"
    else bad "$what: fio verify failed: $(grep -m1 -iE 'verify|error' "$W/fio.out")"; cat "$W/fio.out"; fi
}

run_case() {  # NAME FUNCTION
    CS=$W/state/$1; rm -rf "$CS"; mkdir -p "$CS"
    local t=$EPOCHSECONDS v
    ( "$2" ) > "$LOGS/$1.log" 2>&1
    local rc=$?
    if [ -f "$CS/skip" ]; then v="SKIP $1: $(head -1 "$CS/skip")"
    elif [ -s "$CS/bad" ]; then v="FAIL $1: $(head -1 "$CS/bad")"
    elif [ $rc -ne 0 ]; then v="FAIL $1: exited with status $rc (logs/$1.log)"
    elif [ ! -s "$CS/ok" ]; then v="FAIL $1: checked nothing"
    else v="PASS $1"; fi
    echo "$v" >> "$RESULTS"; echo "interop-rdma[$KERNEL] $v [$((EPOCHSECONDS - t))s]"
}

# ---- setup: soft-RoCE on dummy0, then hnvmfd (a DH-HMAC-CHAP DAM tenant where the host can do it)
setup() {
    run modprobe dummy numdummies=0 && run ip link add dummy0 type dummy && run ip link set dummy0 up &&
    run ip addr add $A4/24 dev dummy0 &&
    run modprobe -a rdma_rxe ib_uverbs rdma_ucm nvme-rdma nvme-tcp &&
    run rdma link add rxe0 type rxe netdev dummy0 || { echo "soft-RoCE setup failed"; return 1; }
    local tenants=""
    if [ "$KERNEL" = 6.12 ]; then      # DH-HMAC-CHAP over fabrics: the 6.1 host cannot
        DAM_KEY=$($NVME gen-dhchap-key --hmac=1 --nqn="$DAM_HOSTNQN") && [ "${DAM_KEY#DHHC-1:}" != "$DAM_KEY" ] ||
            { echo "nvme gen-dhchap-key gave no key: '$DAM_KEY'"; return 1; }
        echo "$DAM_KEY" > "$W/dam.key"
        cat > "$W/tenants/dam.conf" <<EOT
[tenant]
hostnqn = $DAM_HOSTNQN
subsystems = $NQN
mode = dam
permission_level = 3
max_queues = 2
dam_fallback = pqm
dhchap_secret = $DAM_KEY
# the smallest group: admin and both I/O queues each compute a DH exchange, host and target on
# this guest's emulated CPUs; with ffdhe8192 (what the host would get otherwise) a loaded 2-core
# machine took over auth_timeout_ms for one queue (2026-12-07). The TCP case dhchap covers the
# large groups.
dhchap_dhgroups = ffdhe2048
EOT
        chmod 600 "$W/tenants/dam.conf"   # an inline secret only in an owner-only file
        tenants="dam_whitelist = 3
tenants_dir = $W/tenants"
    fi
    cat > "$W/hnvmf.conf" <<EOC
[global]
log_level = info
reactors = 2
max_io_queues = 4
control_socket = $SOCK
$tenants

[limits]
# Host and target both compute DH on this guest's emulated CPUs: a queue's DH-HMAC-CHAP took
# ~4 s on a quiet machine, over 10 s on a loaded one, and the boot's first exchange (the kernel
# loads and self-tests its DH code) over 60 s at load 15 on 2 cores (2026-12-07).
auth_timeout_ms = 240000

[listener rdma4]
transport = rdma
address = $A4
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
size = 128M

[subsystem $NQN]
allow_any_host = yes
namespace = 1:ram0

[subsystem $NQN2]
allow_any_host = yes
namespace = 1:ram1
listeners = tcp4
EOC
    cat "$W/hnvmf.conf"
    $HNVMFD -c "$W/hnvmf.conf" > "$LOGS/hnvmfd.log" 2>&1 & DPID=$!
    echo $DPID > "$W/hnvmfd.pid"
    wait_for 100 test -S $SOCK && kill -0 $DPID 2>/dev/null || { tail -5 "$LOGS/hnvmfd.log"; echo "hnvmfd did not start"; return 1; }
}

# ---- the cases (issue 7); they run in this order and share the connection from connect-ioqueues
case_discover() {
    local out; out=$(run $TO $NVME discover -t rdma -a $A4 -s 4420 2>&1); echo "$out"
    # the entry of the RDMA port: trtype rdma, our subsystem, the port's address and service id
    awk -v nqn="$NQN" -v a="$A4" 'BEGIN{RS="=====Discovery Log Entry"} /trtype: *rdma/ && $0 ~ "subnqn: *" nqn && $0 ~ "traddr: *" a && /trsvcid: *4420/ {f=1} END{exit !f}' <<< "$out" &&
        ok "discover over RDMA lists $NQN at rdma $A4:4420" || bad "discover -t rdma does not show the RDMA port"
}
case_connect_ioqueues() {
    run $TO $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 4 || { bad "nvme connect -t rdma -i 4 failed"; return; }
    D=$(dev_of $NQN) && wait_for 100 test -b "$D" || { bad "no namespace block device"; return; }
    ok "connected over RDMA: $D"
    local c tr=; for c in /sys/class/nvme/nvme*; do
        [ "$(cat "$c/subsysnqn")" = $NQN ] && tr=$(cat "$c/transport"); done
    [ "$tr" = rdma ] && ok "host controller transport rdma" || bad "host controller transport '$tr', expected rdma"
    $CTL -s $SOCK controllers
    $CTL -s $SOCK controllers | grep " $NQN " | grep -q " q4:" && ok "4 I/O queues on the target" || bad "the target does not show ioqueues 4"
}
case_data_dd() {
    D=$(dev_of $NQN) || { bad "not connected"; return; }
    verify_dd "$D" 64 0 "O_DIRECT dd, 1 MiB writes"
    # 4 KiB writes travel as in-capsule data over RDMA (larger ones as RDMA READs)
    run dd if=/dev/urandom of="$W/pat4" bs=4k count=256 status=none &&
    run $TO dd if="$W/pat4" of="$D" bs=4k seek=20000 oflag=direct status=none &&
    run $TO dd if="$D" of="$W/back4" bs=4k skip=20000 count=256 iflag=direct status=none &&
    cmp "$W/pat4" "$W/back4" && ok "1 MiB in 4 KiB writes read back identical" || bad "4 KiB writes not read back identical"
}
case_fio_rand4k() {
    D=$(dev_of $NQN) || { bad "not connected"; return; }
    fio_verify "$D" "randwrite 4k" --rw=randwrite --bs=4k --iodepth=16 --size=4M --offset=96M
}
case_fio_seq128k() {
    D=$(dev_of $NQN) || { bad "not connected"; return; }
    fio_verify "$D" "write 128k" --rw=write --bs=128k --iodepth=8 --size=16M --offset=128M
}
case_disconnect() {
    run $TO $NVME disconnect -n $NQN | grep -q "disconnected 1" && ok "host disconnected 1 controller" || bad "nvme disconnect did not disconnect 1 controller"
    wait_for 50 test "$(ctrls)" = 0
    local n; n=$(ctrls); $CTL -s $SOCK controllers
    [ "$n" = 0 ] && ok "target: controllers 0 after disconnect" || bad "target still has controllers $n after disconnect"
    ls /sys/class/nvme | grep -q . && bad "host still has controllers: $(ls /sys/class/nvme)" || ok "host has no controller left"
}
case_tcp_and_rdma() {
    run $TO $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2 || bad "connect rdma failed"
    run $TO $NVME connect -t tcp -a $A4 -s 4421 -n $NQN2 -i 2 || bad "connect tcp failed"
    local dr dt; dr=$(dev_of $NQN) && dt=$(dev_of $NQN2) || { bad "no block device for both"; return; }
    $CTL -s $SOCK controllers
    [ "$(ctrls)" = 2 ] && ok "one hnvmfd, 2 controllers" || bad "target controllers $(ctrls), expected 2"
    # both at once: the same data written concurrently over RDMA and TCP, each read back
    run dd if=/dev/urandom of="$W/patm" bs=1M count=8 status=none
    $TO dd if="$W/patm" of="$dr" bs=1M seek=200 oflag=direct status=none & local p1=$!
    $TO dd if="$W/patm" of="$dt" bs=1M seek=100 oflag=direct status=none & local p2=$!
    wait $p1 && wait $p2 &&
    run $TO dd if="$dr" of="$W/backr" bs=1M skip=200 count=8 iflag=direct status=none &&
    run $TO dd if="$dt" of="$W/backt" bs=1M skip=100 count=8 iflag=direct status=none || bad "concurrent dd failed"
    cmp "$W/patm" "$W/backr" && ok "RDMA: 8 MiB read back identical" || bad "RDMA data differs"
    cmp "$W/patm" "$W/backt" && ok "TCP: 8 MiB read back identical" || bad "TCP data differs"
    run $NVME disconnect -n $NQN; run $NVME disconnect -n $NQN2
    wait_for 50 test "$(ctrls)" = 0 && ok "controllers 0 after both disconnects" || bad "controllers $(ctrls) left"
}
case_dhchap_dam() {
    [ "$KERNEL" = 6.12 ] || { skip "DH-HMAC-CHAP over fabrics needs the 6.12 host"; return; }
    local key; key=$(cat "$W/dam.key")
    # KATO 180 s: the target allows one KATO per authentication step, and the first exchange of a
    # boot loads and self-tests the kernel's DH code, which under TCG takes more than 5 s (over
    # 60 s on a loaded machine)
    run timeout 400 $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 2 --hostnqn=$DAM_HOSTNQN --hostid=$DAM_HOSTID \
        --keep-alive-tmo=180 --dhchap-secret="$key" || { bad "nvme connect -t rdma --dhchap-secret failed"; dmesg | tail -20; return; }
    local d; d=$(dev_of $NQN) && wait_for 100 test -b "$d" || { bad "no namespace block device"; return; }
    verify_dd "$d" 8 40 "authenticated RDMA controller"     # I/O also admits the queues for good
    local line; line=$($CTL -s $SOCK controllers | grep " $DAM_HOSTNQN "); $CTL -s $SOCK controllers
    [[ $line == *"q1:dam+auth"* && $line == *"q2:dam+auth"* ]] && ok "target: q1 and q2 dam+auth" ||
        bad "the queues are not dam+auth: '$line'"
    # run to completion (docs/dam.md): each DAM queue moved, CQ and CM id with it, onto a DAM
    # reactor, which receives, submits to the queue's own backend queue pair, reaps and sends:
    # 0 thread hand-offs per io (the PQM path takes 2)
    local c=${line%% *} q ql reactor ios hops
    for q in 1 2; do
        ql=$($CTL -s $SOCK qpairs | awk -v c="$c" -v q=$q '$1 == c && $2 == q')
        read -r _ _ _ _ _ reactor ios hops _ <<< "$ql"
        [[ $reactor == hnvmf-dam-r* && $ios -gt 0 && $hops == 0 ]] &&
            ok "target: RDMA DAM q$q on $reactor, $ios ios, 0 hand-offs" ||
            bad "target: RDMA DAM q$q not run to completion on a DAM reactor: '$ql'"
    done
    $CTL -s $SOCK qpairs
    # more I/O on the moved queues, every block checked (crc32c), then the count again
    fio_verify "$d" "DAM randwrite 4k" --rw=randwrite --bs=4k --iodepth=16 --size=4M --offset=32M
    fio_verify "$d" "DAM write 128k" --rw=write --bs=128k --iodepth=8 --size=8M --offset=48M
    local tot; tot=$($CTL -s $SOCK qpairs | awk -v c="$c" '$1 == c && $2 > 0 {i += $7; h += $8} END {print i + 0, h + 0}')
    read -r ios hops <<< "$tot"
    [[ $ios -gt 0 && $hops == 0 ]] && ok "target: after fio, $ios ios on the DAM queues, 0 hand-offs" ||
        bad "target: after fio, DAM queues ios/hops '$tot'"
    run $NVME disconnect -n $NQN
    wait_for 50 test "$(ctrls)" = 0 && ok "controllers 0 after disconnect" || bad "controllers $(ctrls) left"
    # a wrong secret must not get in (proves the secret is checked, not just accepted)
    local wrong; wrong=$($NVME gen-dhchap-key --hmac=1 --nqn=$DAM_HOSTNQN)
    if run $TO $NVME connect -t rdma -a $A4 -s 4420 -n $NQN -i 1 --hostnqn=$DAM_HOSTNQN --hostid=$DAM_HOSTID \
            --keep-alive-tmo=60 --dhchap-secret="$wrong"; then
        bad "a wrong DH-HMAC-CHAP secret was admitted"; run $NVME disconnect -n $NQN
    else ok "a wrong secret is refused"; fi
    wait_for 50 test "$(ctrls)" = 0 || bad "controllers $(ctrls) left after the refused connect"
}
case_cm_probe() {
    # a userspace RDMA CM client for what the kernel host never sends (bad private data, bad SGLs)
    [ -x "$PROBE" ] || { bad "no $PROBE"; return; }
    run $TO "$PROBE" $A4 4420 && ok "CM private data and SGL checks" || bad "rdma-cm-probe reported failures"
    kill -0 "$(cat "$W/hnvmfd.pid")" && ok "hnvmfd still serving" || bad "hnvmfd died"
}
case_target_lifecycle() {
    local pid; pid=$(cat "$W/hnvmfd.pid")
    grep -m1 -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$LOGS/hnvmfd.log" && bad "sanitizer report in hnvmfd.log"
    kill -TERM "$pid"; local i; for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { bad "hnvmfd still running 10 s after SIGTERM"; kill -KILL "$pid"; return; }
    ok "hnvmfd exited after SIGTERM"
}

echo "interop-rdma[$KERNEL]: guest up after $(cut -d' ' -f1 /proc/uptime)s, kernel $(uname -r), $($NVME version | head -1)"
if ! setup > "$LOGS/setup.log" 2>&1; then
    echo "FAIL setup: $(tail -1 "$LOGS/setup.log") (logs/setup.log)" | tee -a "$RESULTS"
    exit 0
fi
for c in ${RDMA_CASES:-discover connect-ioqueues data-dd fio-rand4k fio-seq128k disconnect tcp-and-rdma dhchap-dam cm-probe}; do
    run_case "$c" "case_${c//-/_}"
done
# hnvmfd is our child here, so its exit status is known only to this shell
pid=$(cat "$W/hnvmfd.pid")
CS=$W/state/target-lifecycle; mkdir -p "$CS"; t=$EPOCHSECONDS
{ case_target_lifecycle; wait "$pid"; rc=$?; [ $rc = 0 ] && ok "exit status 0" || bad "hnvmfd exit status $rc after SIGTERM"; } > "$LOGS/target-lifecycle.log" 2>&1
if [ -s "$CS/bad" ]; then v="FAIL target-lifecycle: $(head -1 "$CS/bad")"; else v="PASS target-lifecycle"; fi
echo "$v" >> "$RESULTS"; echo "interop-rdma[$KERNEL] $v [$((EPOCHSECONDS - t))s]"
dmesg > "$LOGS/dmesg.log"
exit 0
