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
T_START=$(date +%s)

for b in target/hnvmfd tools/hnvmfctl tools/hnvmf-perf; do
    [ -x "$BUILD/$b" ] || { echo "interop-iopoll: no $BUILD/$b (build it first)" >&2; exit 1; }
done
mkdir -p "$WORK"
if [ "${HNVMF_INTEROP_SKIP_SETUP:-0}" != 1 ]; then
    "$HERE/setup.sh" "$CACHE" > "$WORK/iopoll-setup.log" 2>&1 || { echo "interop-iopoll: setup failed:"; tail -20 "$WORK/iopoll-setup.log"; exit 1; }
fi
CACHE=$(readlink -f "$CACHE")
kernel_dir() { case $1 in 6.1) echo "$CACHE/k61";; 6.12) echo "$CACHE/trixie/k612";; *) return 1;; esac; }

VM_PID=
trap '[ -n "$VM_PID" ] && kill "$VM_PID" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
ALL=$WORK/iopoll-results; : > "$ALL"

run_kernel() {  # KERNEL
    local K=$1 KDIR W SHARE rc c line real
    W=$WORK/iopoll-$K SHARE=$WORK/iopoll-$K/share
    rm -rf "$W"; mkdir -p "$SHARE/suite" "$SHARE/build/target" "$SHARE/build/tools" "$W/bin"
    verdict() { echo "interop-iopoll[$K] $1" | tee -a "$ALL"; }
    if ! KDIR=$(kernel_dir "$K") || [ ! -d "$KDIR" ]; then
        for c in $CASES; do verdict "FAIL $c: unknown kernel '$K' (known: 6.1 6.12)"; done; return
    fi
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
    PATH=$W/bin:$PATH KDIR=$KDIR RW_DIRS=$SHARE SMP=2 MEM=1G TIMEOUT=${HNVMF_INTEROP_VM_TIMEOUT:-300} \
        "$HERE/lib/vm.sh" "$SHARE/suite/guest.sh" "$SHARE" > "$W/console.log" 2>&1 &
    VM_PID=$!; wait $VM_PID; rc=$?; VM_PID=
    [ $rc -eq 0 ] || echo "interop-iopoll[$K]: guest ended with status $rc (124 = timeout, 200 = no status); console: $W/console.log"
    for c in $CASES; do
        line=$(grep -E "^(PASS|FAIL|SKIP) $c(:|$)" "$SHARE/results" 2>/dev/null | head -1)
        verdict "${line:-FAIL $c: not run (guest status $rc; see $W/console.log)}"
    done
}

for K in $KERNELS; do run_kernel "$K"; done
while read -r tag v rest; do          # the failed checks of each failed case, from its log
    [ "$v" = FAIL ] || continue
    k=${tag#interop-iopoll[}; k=${k%]}; n=${rest%%:*}
    [ -f "$WORK/iopoll-$k/share/logs/$n.log" ] && grep -h 'FAILED:' "$WORK/iopoll-$k/share/logs/$n.log" | head -5 | sed "s/^/    [$k] $n: /"
done < "$ALL"
P=$(grep -c ' PASS ' "$ALL"); F=$(grep -c ' FAIL ' "$ALL"); S=$(grep -c ' SKIP ' "$ALL")
echo "interop-iopoll: $S skipped, $(( $(date +%s) - T_START )) s, logs under $WORK/iopoll-<kernel>/share/logs"
echo "$P passed, $F failed"
[ "$F" -eq 0 ] && [ $((P + S)) -gt 0 ]
