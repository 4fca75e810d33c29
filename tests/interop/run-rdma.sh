#!/bin/bash
# run-rdma.sh - the NVMe/RDMA part of the interop suite: the Linux kernel's nvme-rdma host against
# hnvmfd over soft-RoCE. This machine's kernel has no RDMA, so hnvmfd runs INSIDE the QEMU guest
# (the host's root filesystem, read-only; the binaries and guest script are copied into the shared folder, since the guest's /tmp is its own) with
# rdma_rxe on a dummy interface; the guest has no NIC at all, so no traffic leaves it.
# One boot per kernel runs every case (rdma/guest.sh). See docs/interop.md.
#
# usage: tests/interop/run-rdma.sh BUILD_DIR     (BUILD_DIR holds target/hnvmfd, tools/hnvmfctl)
# Environment: HNVMF_INTEROP_KERNELS="6.1 6.12", HNVMF_VM_CACHE, HNVMF_INTEROP_WORKDIR (default
#   BUILD_DIR/interop; logs go to its rdma-KERNEL/share/logs), HNVMF_INTEROP_SKIP_SETUP=1,
#   HNVMF_INTEROP_VM_TIMEOUT=300 (seconds one boot may take).
# Prints "interop-rdma[K] PASS name" / "FAIL name: why" / "SKIP name: why" per case and kernel,
# then exactly "N passed, M failed"; exits 1 if M > 0 or nothing passed.
set -uo pipefail
HERE=$(dirname "$(readlink -f "$0")")
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(readlink -f "$1")
CACHE=${HNVMF_VM_CACHE:-$HOME/.cache/hnvmf-vm}
KERNELS=${HNVMF_INTEROP_KERNELS:-6.1 6.12}
WORK=${HNVMF_INTEROP_WORKDIR:-$BUILD/interop}
# the cases guest.sh runs, in its order: a case without a verdict after the boot is a FAIL
CASES="discover connect-ioqueues data-dd fio-rand4k fio-seq128k disconnect tcp-and-rdma dhchap-dam cm-probe target-lifecycle"
T_START=$(date +%s)

for b in target/hnvmfd tools/hnvmfctl; do
    [ -x "$BUILD/$b" ] || { echo "interop-rdma: no $BUILD/$b (build it first)" >&2; exit 1; }
done
mkdir -p "$WORK"
if [ "${HNVMF_INTEROP_SKIP_SETUP:-0}" != 1 ]; then
    "$HERE/setup.sh" "$CACHE" > "$WORK/rdma-setup.log" 2>&1 || { echo "interop-rdma: setup failed:"; tail -20 "$WORK/rdma-setup.log"; exit 1; }
fi
CACHE=$(readlink -f "$CACHE")
# the CM probe: a userspace RDMA client, built here (the guest sees this path read-only)
PROBE=$WORK/rdma-cm-probe
gcc -O2 -Wall -Wextra -Werror -o "$PROBE" "$HERE/rdma/rdma-cm-probe.c" -lrdmacm -libverbs 2> "$WORK/rdma-cm-probe.err" ||
    { echo "interop-rdma: cannot build the CM probe:"; cat "$WORK/rdma-cm-probe.err"; PROBE=; }

kernel_dir() { case $1 in 6.1) echo "$CACHE/k61";; 6.12) echo "$CACHE/trixie/k612";; *) return 1;; esac; }
kernel_nvme() { case $1 in 6.1) echo /usr/sbin/nvme;; 6.12) echo "$CACHE/trixie/bin/nvme";; *) return 1;; esac; }

VM_PID=
trap '[ -n "$VM_PID" ] && kill "$VM_PID" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
ALL=$WORK/rdma-results; : > "$ALL"

run_kernel() {  # KERNEL
    local K=$1 KDIR W SHARE rc c line
    W=$WORK/rdma-$K SHARE=$WORK/rdma-$K/share
    rm -rf "$W"; mkdir -p "$SHARE"
    verdict() { echo "interop-rdma[$K] $1" | tee -a "$ALL"; }
    if ! KDIR=$(kernel_dir "$K") || [ ! -d "$KDIR" ]; then
        for c in $CASES; do verdict "FAIL $c: unknown kernel '$K' (known: 6.1 6.12)"; done; return
    fi
    # The guest sees the host's root filesystem, but its /tmp is its own: a checkout or build
    # under /tmp would be invisible there. So what the guest runs travels in SHARE.
    mkdir -p "$SHARE/suite" "$SHARE/build/target" "$SHARE/build/tools"
    cp "${GUEST_SCRIPT:-$HERE/rdma/guest.sh}" "$SHARE/suite/guest.sh"
    cp "$BUILD/target/hnvmfd" "$SHARE/build/target/" && cp "$BUILD/tools/hnvmfctl" "$SHARE/build/tools/"
    local probe=
    [ -n "$PROBE" ] && cp "$PROBE" "$SHARE/build/rdma-cm-probe" && probe=$SHARE/build/rdma-cm-probe
    printf '%s=%q\n' KERNEL "$K" BUILD "$SHARE/build" NVME "$(kernel_nvme "$K")" PROBE "$probe" \
        RDMA_CASES "${HNVMF_INTEROP_RDMA_CASES:-}" > "$SHARE/env.sh"
    KDIR=$KDIR RW_DIRS=$SHARE SMP=4 MEM=2G TIMEOUT=${HNVMF_INTEROP_VM_TIMEOUT:-300} \
        "$HERE/lib/vm.sh" "$SHARE/suite/guest.sh" "$SHARE" > "$W/console.log" 2>&1 &
    VM_PID=$!; wait $VM_PID; rc=$?; VM_PID=
    [ $rc -eq 0 ] || echo "interop-rdma[$K]: guest ended with status $rc (124 = timeout, 200 = no status); console: $W/console.log"
    grep -E '^FAIL setup' "$SHARE/results" 2>/dev/null | while read -r line; do verdict "$line"; done
    for c in $CASES; do
        line=$(grep -E "^(PASS|FAIL|SKIP) $c(:|$)" "$SHARE/results" 2>/dev/null | head -1)
        verdict "${line:-FAIL $c: not run (guest status $rc; see $W/console.log)}"
    done
}

for K in $KERNELS; do run_kernel "$K"; done
while read -r tag v rest; do          # the failed checks of each failed case, from its log
    [ "$v" = FAIL ] || continue
    k=${tag#interop-rdma[}; k=${k%]}; n=${rest%%:*}
    [ -f "$WORK/rdma-$k/share/logs/$n.log" ] && grep -h 'FAILED:' "$WORK/rdma-$k/share/logs/$n.log" | head -5 | sed "s/^/    [$k] $n: /"
done < "$ALL"
P=$(grep -c ' PASS ' "$ALL"); F=$(grep -c ' FAIL ' "$ALL"); S=$(grep -c ' SKIP ' "$ALL")
echo "interop-rdma: $S skipped, $(( $(date +%s) - T_START )) s, logs under $WORK/rdma-<kernel>/share/logs"
echo "$P passed, $F failed"
[ "$F" -eq 0 ] && [ "$P" -gt 0 ]
