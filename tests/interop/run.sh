#!/bin/bash
# run.sh - the interop suite: the real Linux NVMe/TCP host (kernel nvme-tcp + nvme-cli + fio) in
# a QEMU guest against hnvmfd running on this machine. See docs/interop.md.
#
# usage: tests/interop/run.sh BUILD_DIR        (BUILD_DIR holds target/hnvmfd)
#
# For each kernel (6.1 with bookworm's nvme-cli 2.3, 6.12 with trixie's nvme-cli 2.13):
#   network namespace NS ── tap hnvmftap0 10.200.0.1 ── hnvmfd -c CONF (I/O 4420, discovery 8009)
#                               │ (QEMU virtio-net, inside NS)
#                           guest eth0 10.200.0.2 ── cases/NN-name.sh, one boot for all cases
# and the guest and this script also share a folder (9p) for the verdicts, logs and the
# guest's questions about the target's state (lib/agent.sh). No traffic leaves the namespace.
#
# Environment:
#   HNVMF_INTEROP_KERNELS="6.1 6.12"  kernels to run
#   HNVMF_INTEROP_CASES="discover data-*" case names (globs) to run; default all
#   HNVMF_INTEROP_TARGET=hnvmfd|nvmet the target; nvmet = the guest kernel's own target as a
#                                     stand-in (proves the suite, not hnvmfd)
#   HNVMF_INTEROP_WORKDIR             where logs go (default BUILD_DIR/interop)
#   HNVMF_VM_CACHE                    kernels and tools (default ~/.cache/hnvmf-vm)
#   HNVMF_INTEROP_VM_TIMEOUT=420      seconds one boot may take
#   HNVMF_INTEROP_SKIP_SETUP=1        do not run setup.sh first
# Prints one line per case and kernel, then exactly "N passed, M failed"; exits 1 if M > 0.
set -uo pipefail
HERE=$(dirname "$(readlink -f "$0")")

. "$HERE/lib/agent.sh"
. "$HERE/lib/target-hnvmfd.sh"

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(readlink -f "$1")
[ "$(id -u)" = 0 ] || { echo "interop: needs root (network namespaces, tap devices, packages)" >&2; exit 2; }
CACHE=${HNVMF_VM_CACHE:-$HOME/.cache/hnvmf-vm}
KERNELS=${HNVMF_INTEROP_KERNELS:-6.1 6.12}
TARGET_KIND=${HNVMF_INTEROP_TARGET:-hnvmfd}
WORK=${HNVMF_INTEROP_WORKDIR:-$BUILD/interop}
HNVMFD=$BUILD/target/hnvmfd
HNVMFCTL=${HNVMFCTL:-$BUILD/tools/hnvmfctl}
T_START=$(date +%s)

mkdir -p "$WORK"
if [ "${HNVMF_INTEROP_SKIP_SETUP:-0}" != 1 ]; then
    "$HERE/setup.sh" "$CACHE" > "$WORK.setup.log" 2>&1 || { echo "interop: setup failed:"; tail -20 "$WORK.setup.log"; exit 1; }
fi
CACHE=$(readlink -f "$CACHE")
case $TARGET_KIND in
    hnvmfd) [ -x "$HNVMFD" ] || { echo "interop: no $HNVMFD (build it, or HNVMF_INTEROP_TARGET=nvmet for the kernel stand-in)" >&2; exit 1; };;
    nvmet) echo "interop: target = the guest kernel's nvmet (stand-in): this proves the suite, not hnvmfd";;
    *) echo "interop: HNVMF_INTEROP_TARGET must be hnvmfd or nvmet" >&2; exit 2;;
esac

# ---- the topology and the target's configuration, as the cases will see them
GUEST_ADDR=10.200.0.2 IO_PORT=4420 DISC_PORT=8009 BLOCK_SIZE=512
OPEN_NQN=nqn.2026-01.io.hnvmf:interop-open  OPEN_SERIAL=HNVMFOPEN0001
OPEN_MODEL="hnvmf interop open"             OPEN_BYTES=$((256 << 20))
RESTR_NQN=nqn.2026-01.io.hnvmf:interop-restricted  RESTR_SERIAL=HNVMFRESTR0002
RESTR_MODEL="hnvmf interop restricted"      RESTR_BYTES=$((128 << 20))
ALLOWED_HOSTID=6c1e6c1e-0000-4000-8000-00000000a110
ALLOWED_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$ALLOWED_HOSTID
DENIED_HOSTID=6c1e6c1e-0000-4000-8000-0000000de41e
DENIED_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$DENIED_HOSTID
# DH-HMAC-CHAP and TLS (6.12 only): subsystems reached only through tenant files, whose secrets
# lib/target-hnvmfd.sh makes per run with trixie's nvme-cli and hands the guest in SHARE/auth.env
TLS_PORT=4430 AUTH_DAM_LEVEL=7
AUTH_NQN=nqn.2026-01.io.hnvmf:interop-auth  AUTH_BYTES=$((64 << 20))
TLS_NQN=nqn.2026-01.io.hnvmf:interop-tls    TLS_BYTES=$((64 << 20))
AUTH_KEYGEN=$CACHE/trixie/bin/nvme
# Two more gateways of one subsystem over one shared file, started by the ANA case on request
# (lib/target-hnvmfd.sh, tgt_host_gw_start): ANA multipath and referrals (docs/ana.md)
ANA_NQN=nqn.2026-01.io.hnvmf:interop-ana  ANA_SERIAL=HNVMFANA0005  ANA_BYTES=$((64 << 20))
GW1_IO_PORT=4441 GW1_DISC_PORT=8041 GW2_IO_PORT=4442 GW2_DISC_PORT=8042
# A gateway group over Ceph RBD ([gateway], docs/scale-out.md), started by the failover case on
# request (lib/target-hnvmfd.sh, tgt_host_fo_start): a throw-away cluster inside the namespace,
# gateway 1 on 10.200.0.1, gateway 2 on a second address of the tap, each under its own uid
FO_NQN=nqn.2026-01.io.hnvmf:interop-failover  FO_PORT=4451  FO_ADDR1=10.200.0.1  FO_ADDR2=10.200.0.3
FO_LEASE_MS=${HNVMF_INTEROP_FO_LEASE_MS:-3000}  FO_RBD_TIMEOUT_S=5  FO_UID1=65534  FO_UID2=65533
FO_FENCE_BLOCK=12288  # 48 MiB into the 64 MiB image, outside fio's 4 MiB
if [ "$TARGET_KIND" = nvmet ]; then
    TRADDR=127.0.0.1 IO_PORTS="$IO_PORT $DISC_PORT" EXPECT_TREQ="not specified"
else
    TRADDR=10.200.0.1 IO_PORTS="$IO_PORT" EXPECT_TREQ="not specified"  # as nvmet: plain-TCP ports advertise "not specified" + SQ flow control disable
fi

# ---- which cases
ALL_CASES=$(ls "$HERE"/cases/[0-9][0-9]-*.sh | sort)
SEL_CASES=
for f in $ALL_CASES; do
    n=$(basename "$f" .sh); n=${n#[0-9][0-9]-}
    if [ -z "${HNVMF_INTEROP_CASES:-}" ]; then SEL_CASES+="$f "; continue; fi
    for pat in $HNVMF_INTEROP_CASES; do
        # shellcheck disable=SC2053
        [[ $n == $pat ]] && { SEL_CASES+="$f "; break; }
    done
done
[ -n "$SEL_CASES" ] || { echo "interop: no case matches HNVMF_INTEROP_CASES='$HNVMF_INTEROP_CASES'" >&2; exit 2; }

kernel_dir() { case $1 in 6.1) echo "$CACHE/k61";; 6.12) echo "$CACHE/trixie/k612";; *) return 1;; esac; }
kernel_nvme() { case $1 in 6.1) echo /usr/sbin/nvme;; 6.12) echo "$CACHE/trixie/bin/nvme";; *) return 1;; esac; }

NS= AGENT_PID= HNVMFD_PID= VM_PID=
cleanup() {
    [ -n "$VM_PID" ] && { kill "$VM_PID" 2>/dev/null; wait "$VM_PID" 2>/dev/null; VM_PID=; }
    [ -n "$AGENT_PID" ] && { touch "$SHARE/rpc/stop"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=; }
    [ -n "$HNVMFD_PID" ] && { kill -KILL "$HNVMFD_PID" 2>/dev/null; wait "$HNVMFD_PID" 2>/dev/null; HNVMFD_PID=; }
    [ -n "${W:-}" ] && for p in "$W"/gw*/pid; do [ -f "$p" ] && kill -KILL "$(< "$p")" 2>/dev/null; rm -f "$p"; done
    [ -n "${W:-}" ] && [ -f "$W/fo-ceph/ceph.conf" ] && "$HERE/../ceph/cluster.sh" stop "$W/fo-ceph" >/dev/null 2>&1
    [ -n "$NS" ] && { ip netns del "$NS" 2>/dev/null; NS=; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ALL_RESULTS=$WORK/results
mkdir -p "$WORK"; : > "$ALL_RESULTS"

run_kernel() {  # KERNEL
    local K=$1 KDIR NVME_BIN rc f name line
    W=$WORK/$K SHARE=$WORK/$K/share
    rm -rf "$W"; mkdir -p "$SHARE/rpc" "$SHARE/suite"
    cp -r "$HERE/guest" "$HERE/cases" "$SHARE/suite/"     # the guest runs this copy
    local kres=$W/results; : > "$kres"
    kv() { echo "$1 $2" | tee -a "$kres" >> "$ALL_RESULTS.raw"; }
    if ! KDIR=$(kernel_dir "$K") || [ ! -d "$KDIR" ]; then
        for f in $SEL_CASES; do n=$(basename "$f" .sh); kv "$K" "FAIL ${n#[0-9][0-9]-}: unknown kernel '$K' (known: 6.1 6.12)"; done
        return
    fi
    NVME_BIN=$(kernel_nvme "$K")
    local NVME_LD= NVME_LIBPATH= NVME_REAL=          # trixie's nvme-cli without its wrapper
    if [ "$NVME_BIN" = "$CACHE/trixie/bin/nvme" ]; then
        NVME_LD=$CACHE/trixie/root/usr/lib64/ld-linux-x86-64.so.2
        NVME_LIBPATH=$CACHE/trixie/root/usr/lib/x86_64-linux-gnu NVME_REAL=$CACHE/trixie/root/usr/sbin/nvme
    fi
    local cases_in_guest=""
    for f in $SEL_CASES; do cases_in_guest+="$SHARE/suite/cases/$(basename "$f") "; done
    {
        for v in KERNEL=$K NVME=$NVME_BIN TARGET_KIND TRADDR GUEST_ADDR IO_PORT DISC_PORT IO_PORTS \
                 EXPECT_TREQ BLOCK_SIZE OPEN_NQN OPEN_SERIAL OPEN_MODEL OPEN_BYTES RESTR_NQN \
                 RESTR_SERIAL RESTR_MODEL RESTR_BYTES ALLOWED_HOSTNQN ALLOWED_HOSTID DENIED_HOSTNQN \
                 DENIED_HOSTID TLS_PORT AUTH_NQN AUTH_BYTES TLS_NQN TLS_BYTES ANA_NQN ANA_SERIAL ANA_BYTES \
                 GW1_IO_PORT GW1_DISC_PORT GW2_IO_PORT GW2_DISC_PORT FO_NQN FO_PORT FO_ADDR1 FO_ADDR2 FO_LEASE_MS FO_FENCE_BLOCK TRIXIE_BIN=$CACHE/trixie/bin SHARE SUITE=$SHARE/suite CASES="$cases_in_guest" \
                 NVME_LD="$NVME_LD" NVME_LIBPATH="$NVME_LIBPATH" NVME_REAL="$NVME_REAL" \
                 RETRY="${HNVMF_INTEROP_RETRY:-1}"; do
            case $v in *=*) printf '%s=%q\n' "${v%%=*}" "${v#*=}";; *) printf '%s=%q\n' "$v" "${!v}";; esac
        done
    } > "$SHARE/env.sh"

    # network namespace + tap: the only network the guest has
    NS=hnvmf-interop-$$
    ip netns add "$NS" && ip -n "$NS" link set lo up &&
        ip -n "$NS" tuntap add dev hnvmftap0 mode tap &&
        ip -n "$NS" link set hnvmftap0 mtu 65520 &&           # large MTU: about twice the TCP rate
        ip -n "$NS" addr add 10.200.0.1/24 dev hnvmftap0 && ip -n "$NS" link set hnvmftap0 up ||
        { kv "$K" "FAIL network-setup: cannot create namespace $NS with a tap"; cleanup; return; }

    if [ "$TARGET_KIND" = hnvmfd ]; then
        local why
        if ! hnvmfd_start > "$W/start.err" 2>&1; then
            why=$(tail -1 "$W/start.err")
            for f in $SEL_CASES; do n=$(basename "$f" .sh); kv "$K" "FAIL ${n#[0-9][0-9]-}: not run: $why"; done
            cleanup; return
        fi
        agent_loop "$SHARE" & AGENT_PID=$!
    fi

    echo "interop[$K]: booting $(basename "$(ls -d "$KDIR"/boot/vmlinuz-*)" | sed 's/vmlinuz-//') with $("$NVME_BIN" version | head -1), target $TARGET_KIND, $(echo $SEL_CASES | wc -w) cases"
    local attempt
    for attempt in 1 2; do
        ip netns exec "$NS" env KDIR="$KDIR" TAP=hnvmftap0 NIC_OPTS=host_mtu=65520 RW_DIRS="$SHARE" \
            TIMEOUT="${HNVMF_INTEROP_VM_TIMEOUT:-420}" \
            "$HERE/lib/vm.sh" "$SHARE/suite/guest/main.sh" "$SHARE" > "$W/console.log" 2>&1 &
        VM_PID=$!
        # show the guest's verdicts as they come
        tail -n +1 -F --pid=$VM_PID "$W/console.log" 2>/dev/null | grep --line-buffered '^interop\['
        wait $VM_PID; rc=$?; VM_PID=
        [ $rc -ne 0 ] && [ $attempt = 1 ] || break
        # A guest that died (an emulation hiccup: a kernel oops, a hung boot) gets one more boot
        # for the cases it left without a verdict; the first boot's console stays for reading.
        local left="" why
        for f in $cases_in_guest; do
            n=$(basename "$f" .sh); n=${n#[0-9][0-9]-}
            grep -qE "^(PASS|FAIL|SKIP) $n(:|$)" "$SHARE/results" 2>/dev/null || left+="$f "
        done
        [ -n "$left" ] || break
        why=$(grep -m1 -E 'Oops|panic|BUG|TIMEOUT|without status' "$W/console.log" | cut -c1-160)
        echo "interop[$K]: the guest ended with status $rc (${why:-no reason on its console}) leaving $(echo $left | wc -w) cases without a verdict; booting again for them"
        kv "$K" "NOTE the first boot ended with status $rc (${why:-no reason on its console}); a second boot ran the $(echo $left | wc -w) cases left"
        mv "$W/console.log" "$W/console-boot1.log"
        { grep -v '^CASES=' "$SHARE/env.sh"; printf 'CASES=%q\n' "$left"; } > "$SHARE/env.sh.new" &&
            mv "$SHARE/env.sh.new" "$SHARE/env.sh"
    done
    [ $rc -eq 0 ] || echo "interop[$K]: guest ended with status $rc (124 = timeout, 200 = no status); console: $W/console.log"

    # the guest's verdicts, and a FAIL for every case that has none
    for f in $SEL_CASES; do
        name=$(basename "$f" .sh); name=${name#[0-9][0-9]-}
        line=$(grep -E "^(PASS|FAIL|SKIP) $name(:|$)" "$SHARE/results" 2>/dev/null | head -1)
        [ -n "$line" ] || line="FAIL $name: not run (guest ended with status $rc; see $W/console.log)"
        kv "$K" "$line"
    done
    grep -E '^FAIL guest-setup' "$SHARE/results" 2>/dev/null | while read -r l; do kv "$K" "$l"; done

    if [ "$TARGET_KIND" = hnvmfd ]; then
        touch "$SHARE/rpc/stop"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
        # the daemon must have lived through every case (faults included) and end cleanly
        local san; san=$(grep -m1 -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$W/hnvmfd.log")
        if [ -n "$san" ]; then kv "$K" "FAIL target-sanitizers: $san"
        elif ldd "$HNVMFD" 2>/dev/null | grep -qE 'lib(asan|ubsan)'; then kv "$K" "PASS target-sanitizers"
        else kv "$K" "SKIP target-sanitizers: $HNVMFD is not an ASan/UBSan build"; fi
        if hnvmfd_stop > "$W/stop.err" 2>&1; then kv "$K" "PASS target-lifecycle"; else kv "$K" "FAIL target-lifecycle: $(tail -1 "$W/stop.err")"; fi
    fi
    [ -f "$W/fo-ceph/ceph.conf" ] && tgt_host_fo_stop >/dev/null 2>&1   # a failover case that died midway
    ip netns del "$NS"; NS=
}

: > "$ALL_RESULTS.raw"
for K in $KERNELS; do run_kernel "$K"; done

# ---- summary
echo
echo "interop summary (target $TARGET_KIND; logs under $WORK/<kernel>/share/logs):"
sed 's/^\([^ ]*\) /  [\1] /' "$ALL_RESULTS.raw" | tee "$ALL_RESULTS"
# why each NVMe/TCP case failed: printed last, just above the count, so that a CI log that keeps
# only its tail still says what went wrong (the failed checks, the case's last lines, the daemon's)
explain_failures() {
    local k v rest n lf seen=" "
    while read -r k v rest; do
        [ "$v" = FAIL ] || [ "$v" = NOTE ] || [[ $rest == *": passed on retry"* ]] || continue
        n=${rest%%:*}; lf=$(ls "$WORK/$k"/share/logs/[0-9][0-9]-"$n".log 2>/dev/null | head -1)
        echo "---- [$k] $v $rest"
        if [ -n "$lf" ]; then
            grep -E 'FAILED:' "$lf" | head -n 6 | sed 's/^/    /'
            echo "    (last lines of $lf)"; tail -n 6 "$lf" | cut -c1-240 | sed 's/^/    | /'
        fi
        if [[ $seen != *" $k "* ]]; then
            seen+="$k "
            for c in "$WORK/$k"/console-boot1.log "$WORK/$k"/console.log; do
                [ -f "$c" ] && grep -qE 'Oops|panic|BUG|Call Trace|TIMEOUT|without status' "$c" &&
                    { echo "    (guest console $c: first alarm, then last lines)"
                      { grep -m1 -E 'Oops|panic|BUG|Call Trace|TIMEOUT|without status' "$c"; echo ...; tail -n 4 "$c"; } |
                          cut -c1-240 | sed 's/^/    | /'; }
            done
            # the daemon's warnings and errors (log priorities 0-4), and how its log ends
            [ -f "$WORK/$k/hnvmfd.log" ] && {
                echo "    (hnvmfd.log [$k]: last warnings, then last lines)"
                grep -E '^<[0-4]>' "$WORK/$k/hnvmfd.log" | tail -n 8 | cut -c1-240 | sed 's/^/    | /'
                echo "    | ..."; tail -n 4 "$WORK/$k/hnvmfd.log" | cut -c1-240 | sed 's/^/    | /'; }
        fi
    done < "$ALL_RESULTS.raw"
}
# The suites that run hnvmfd INSIDE the guest (docs/interop.md): NVMe/RDMA over soft-RoCE
# (run-rdma.sh) and DAM's polled completions on an emulated NVMe (run-dam-iopoll.sh); their counts
# join ours. HNVMF_INTEROP_RDMA=0 / HNVMF_INTEROP_IOPOLL=0 leave one out.
RP=0 RF=0 GUEST_SUITES=
run_guest_suite() {  # NAME SCRIPT
    local p f
    echo; HNVMF_INTEROP_SKIP_SETUP=1 HNVMF_INTEROP_WORKDIR=$WORK "$HERE/$2" "$BUILD" | tee "$WORK/$1.out" | grep -vE '^[0-9]+ passed, [0-9]+ failed$'
    read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$WORK/$1.out")
    RP=$((RP + ${p:-0})) RF=$((RF + ${f:-1})) GUEST_SUITES="$GUEST_SUITES $1"
}
if [ "$TARGET_KIND" = hnvmfd ]; then
    [ "${HNVMF_INTEROP_RDMA:-1}" = 1 ] && run_guest_suite rdma run-rdma.sh
    [ "${HNVMF_INTEROP_IOPOLL:-1}" = 1 ] && run_guest_suite iopoll run-dam-iopoll.sh
fi
explain_failures
for g in $GUEST_SUITES; do
    grep -qE "^interop-$g\[[^]]*\] FAIL" "$WORK/$g.out" || continue
    echo "---- interop-$g failures (repeated from above)"
    grep -E "^interop-$g\[[^]]*\] FAIL|^    \[|guest ended with status" "$WORK/$g.out" | head -n 30
done
P=$(grep -c '^[^ ]* PASS' "$ALL_RESULTS.raw"); F=$(grep -c '^[^ ]* FAIL' "$ALL_RESULTS.raw"); S=$(grep -c '^[^ ]* SKIP' "$ALL_RESULTS.raw")
P=$((P + RP)) F=$((F + RF))
R=$(grep -c '^[^ ]* PASS [^:]*: passed on retry' "$ALL_RESULTS.raw")
echo "$S skipped, $R passed only on retry, $(( $(date +%s) - T_START )) s"
echo "$P passed, $F failed"
[ "$F" -eq 0 ] && [ "$P" -gt 0 ]
