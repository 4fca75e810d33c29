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
SUITE=rdma
# shellcheck source=lib/guest-suite.sh
. "$HERE/lib/guest-suite.sh"
suite_init target/hnvmfd tools/hnvmfctl
# the CM probe: a userspace RDMA client, built here (the guest sees this path read-only)
PROBE=$WORK/rdma-cm-probe
gcc -O2 -Wall -Wextra -Werror -o "$PROBE" "$HERE/rdma/rdma-cm-probe.c" -lrdmacm -libverbs 2> "$WORK/rdma-cm-probe.err" ||
    { echo "interop-rdma: cannot build the CM probe:"; cat "$WORK/rdma-cm-probe.err"; PROBE=; }

run_kernel() {  # KERNEL
    K=$1 W=$WORK/rdma-$1 SHARE=$WORK/rdma-$1/share
    rm -rf "$W"; mkdir -p "$SHARE"
    suite_kernel_ok || return
    # The guest sees the host's root filesystem, but its /tmp is its own: a checkout or build
    # under /tmp would be invisible there. So what the guest runs travels in SHARE.
    mkdir -p "$SHARE/suite" "$SHARE/build/target" "$SHARE/build/tools"
    cp "${GUEST_SCRIPT:-$HERE/rdma/guest.sh}" "$SHARE/suite/guest.sh"
    cp "$BUILD/target/hnvmfd" "$SHARE/build/target/" && cp "$BUILD/tools/hnvmfctl" "$SHARE/build/tools/"
    local probe=
    [ -n "$PROBE" ] && cp "$PROBE" "$SHARE/build/rdma-cm-probe" && probe=$SHARE/build/rdma-cm-probe
    printf '%s=%q\n' KERNEL "$K" BUILD "$SHARE/build" NVME "$(kernel_nvme "$K")" PROBE "$probe" \
        RDMA_CASES "${HNVMF_INTEROP_RDMA_CASES:-}" > "$SHARE/env.sh"
    suite_boot 4 2G
}

for K in $KERNELS; do run_kernel "$K"; done
suite_summary pass
