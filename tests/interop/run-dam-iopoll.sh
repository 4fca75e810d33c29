#!/bin/bash
# run-dam-iopoll.sh - DAM with polled completions (io_uring IOPOLL, [pqm] dam_poll) on a real
# polling block device. This machine has no NVMe, so hnvmfd runs INSIDE the QEMU guest, on a
# QEMU-emulated NVMe controller whose driver gets a poll queue (modprobe nvme poll_queues=1); a
# DAM tenant connects with hnvmf-perf over loopback inside the guest. The guest has no NIC: no
# traffic leaves it. Case: dam-iopoll (iopoll/guest.sh). See docs/interop.md.
#
# usage: tests/interop/run-dam-iopoll.sh BUILD_DIR   (BUILD_DIR holds target/hnvmfd, tools/hnvmfctl,
#                                                     tools/hnvmf-perf)
# Environment: HNVMF_INTEROP_KERNELS="6.1 6.12", HNVMF_VM_CACHE, HNVMF_INTEROP_WORKDIR (default
#   BUILD_DIR/interop; logs go to its iopoll-KERNEL/share/logs), HNVMF_INTEROP_SKIP_SETUP=1,
#   HNVMF_INTEROP_VM_TIMEOUT=300.
# Prints "interop-iopoll[K] PASS|FAIL|SKIP dam-iopoll..." per kernel, then exactly
# "N passed, M failed"; exits 1 if M > 0 or nothing ran (a SKIP says why: no poll queue).
set -uo pipefail
HERE=$(dirname "$(readlink -f "$0")")
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(readlink -f "$1")
CACHE=${HNVMF_VM_CACHE:-$HOME/.cache/hnvmf-vm}
KERNELS=${HNVMF_INTEROP_KERNELS:-6.1 6.12}
WORK=${HNVMF_INTEROP_WORKDIR:-$BUILD/interop}
CASES="dam-iopoll"
SUITE=iopoll
# shellcheck source=lib/guest-suite.sh
. "$HERE/lib/guest-suite.sh"
suite_init target/hnvmfd tools/hnvmfctl tools/hnvmf-perf

run_kernel() {  # KERNEL
    local real
    K=$1 W=$WORK/iopoll-$1 SHARE=$WORK/iopoll-$1/share
    rm -rf "$W"; mkdir -p "$SHARE/suite" "$SHARE/build/target" "$SHARE/build/tools" "$W/bin"
    suite_kernel_ok || return
    # the guest's /tmp is its own: what it runs travels in SHARE
    cp "$HERE/iopoll/guest.sh" "$SHARE/suite/guest.sh"
    cp "$BUILD/target/hnvmfd" "$SHARE/build/target/" &&
        cp "$BUILD/tools/hnvmfctl" "$BUILD/tools/hnvmf-perf" "$SHARE/build/tools/"
    printf '%s=%q\n' KERNEL "$K" BUILD "$SHARE/build" > "$SHARE/env.sh"
    # The emulated NVMe controller and its disk (sparse, 64 MiB). lib/vm.sh has no knob for extra
    # devices, and its initrd (shared by every run in the cache) is named after its own hash, so
    # instead of editing it the device is added by a qemu-system-x86_64 first in PATH.
    truncate -s 64M "$W/nvme.img"
    real=$(command -v qemu-system-x86_64) || { verdict "FAIL dam-iopoll: no qemu-system-x86_64"; return; }
    printf '#!/bin/sh\nexec %q "$@" -drive file=%q,if=none,id=nvm0,format=raw -device nvme,serial=HNVMFPOLL0001,drive=nvm0\n' \
        "$real" "$W/nvme.img" > "$W/bin/qemu-system-x86_64"
    chmod +x "$W/bin/qemu-system-x86_64"
    PATH=$W/bin:$PATH suite_boot 2 1G
}

for K in $KERNELS; do run_kernel "$K"; done
suite_summary any
