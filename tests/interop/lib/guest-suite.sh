#!/bin/bash
# guest-suite.sh - sourced by the runners that run hnvmfd INSIDE the QEMU guest, one boot per
# kernel running every case of a guest script (run-rdma.sh: soft-RoCE; run-dam-iopoll.sh: an
# emulated NVMe with a poll queue). What they share: the checks before the boots, the kernels, the
# boot, each case's verdict after it, and the summary that run.sh reads.
#
# The runner sets HERE, BUILD, CACHE, WORK, KERNELS, CASES and SUITE (the tag, e.g. rdma: output
# lines "interop-SUITE[K] ...", work dirs WORK/SUITE-K), then calls suite_init, defines its own
# run_kernel and ends with suite_summary.

# suite_init BINARY...: the binaries under BUILD it needs, the VM cache set up, the traps.
suite_init() {
    local b
    for b in "$@"; do
        [ -x "$BUILD/$b" ] || { echo "interop-$SUITE: no $BUILD/$b (build it first)" >&2; exit 1; }
    done
    mkdir -p "$WORK"
    if [ "${HNVMF_INTEROP_SKIP_SETUP:-0}" != 1 ]; then
        "$HERE/setup.sh" "$CACHE" > "$WORK/$SUITE-setup.log" 2>&1 ||
            { echo "interop-$SUITE: setup failed:"; tail -20 "$WORK/$SUITE-setup.log"; exit 1; }
    fi
    CACHE=$(readlink -f "$CACHE")
    VM_PID=
    trap '[ -n "$VM_PID" ] && kill "$VM_PID" 2>/dev/null' EXIT
    trap 'exit 130' INT TERM
    ALL=$WORK/$SUITE-results; : > "$ALL"
    T_START=$(date +%s)
}

kernel_dir() { case $1 in 6.1) echo "$CACHE/k61";; 6.12) echo "$CACHE/trixie/k612";; *) return 1;; esac; }
kernel_nvme() { case $1 in 6.1) echo /usr/sbin/nvme;; 6.12) echo "$CACHE/trixie/bin/nvme";; *) return 1;; esac; }

verdict() { echo "interop-$SUITE[$K] $1" | tee -a "$ALL"; }

# suite_kernel_ok: K (the caller's) names a kernel in the cache (sets KDIR), else every case FAILs.
suite_kernel_ok() {
    local c
    if ! KDIR=$(kernel_dir "$K") || [ ! -d "$KDIR" ]; then
        for c in $CASES; do verdict "FAIL $c: unknown kernel '$K' (known: 6.1 6.12)"; done
        return 1
    fi
}

# suite_boot SMP MEM: boots the guest on KDIR with SHARE's suite/guest.sh (extra environment for
# vm.sh, e.g. PATH, from the caller's), waits, then gives each case its verdict from
# SHARE/results (a case without one FAILs, with the guest's status).
suite_boot() {
    local rc c line
    KDIR=$KDIR RW_DIRS=$SHARE SMP=$1 MEM=$2 TIMEOUT=${HNVMF_INTEROP_VM_TIMEOUT:-300} \
        "$HERE/lib/vm.sh" "$SHARE/suite/guest.sh" "$SHARE" > "$W/console.log" 2>&1 &
    VM_PID=$!; wait $VM_PID; rc=$?; VM_PID=
    [ $rc -eq 0 ] || echo "interop-$SUITE[$K]: guest ended with status $rc (124 = timeout, 200 = no status); console: $W/console.log"
    grep -E '^FAIL setup' "$SHARE/results" 2>/dev/null | while read -r line; do verdict "$line"; done
    for c in $CASES; do
        line=$(grep -E "^(PASS|FAIL|SKIP) $c(:|$)" "$SHARE/results" 2>/dev/null | head -1)
        verdict "${line:-FAIL $c: not run (guest status $rc; see $W/console.log)}"
    done
}

# suite_summary MIN_RUN: the failed checks of each failed case (from its log), the counts as
# run.sh reads them ("N passed, M failed"); status 1 if a case failed or fewer than MIN_RUN
# cases passed (MIN_RUN = pass: at least one PASS; any: at least one PASS or SKIP).
suite_summary() {
    local tag v rest k n P F S
    while read -r tag v rest; do
        [ "$v" = FAIL ] || continue
        k=${tag#interop-"$SUITE"[}; k=${k%]}; n=${rest%%:*}
        [ -f "$WORK/$SUITE-$k/share/logs/$n.log" ] &&
            grep -h 'FAILED:' "$WORK/$SUITE-$k/share/logs/$n.log" | head -5 | sed "s/^/    [$k] $n: /"
    done < "$ALL"
    P=$(grep -c ' PASS ' "$ALL"); F=$(grep -c ' FAIL ' "$ALL"); S=$(grep -c ' SKIP ' "$ALL")
    echo "interop-$SUITE: $S skipped, $(( $(date +%s) - T_START )) s, logs under $WORK/$SUITE-<kernel>/share/logs"
    echo "$P passed, $F failed"
    [ "$F" -eq 0 ] || return 1
    if [ "$1" = pass ]; then [ "$P" -gt 0 ]; else [ $((P + S)) -gt 0 ]; fi
}
