#!/bin/bash
# main.sh - the guest side of the interop suite: one boot runs every case for one kernel.
# usage (by the runner, through vm.sh): main.sh SHARE
# Writes one verdict line per case to SHARE/results ("PASS name", "FAIL name: why",
# "SKIP name: why") and each case's full output to SHARE/logs/NN-name.log.
SHARE=$1
set -a; . "$SHARE/env.sh"; set +a     # the cases run as child processes
. "$SUITE/guest/lib.sh"
RESULTS=$SHARE/results
mkdir -p "$SHARE/logs" "$SHARE/state"
touch "$RESULTS"            # the runner empties it; a second boot for the cases left adds to it
verdict() { echo "$1" >> "$RESULTS"; echo "interop[$KERNEL] $1${2:+ [$2]}"; }   # LINE [DURATION]

echo "interop[$KERNEL]: guest up after $(cut -d' ' -f1 /proc/uptime)s, kernel $(uname -r), $($NVME version | head -1)"

# ---- guest setup: NIC, initiator modules, and with the stand-in, the kernel target itself
setup_guest() {
    modprobe virtio_net && ip addr add "$GUEST_ADDR/24" dev eth0 && ip link set eth0 up || return 1
    modprobe -a nvme-tcp nvme-fabrics || return 1
    if [ "$TARGET_KIND" = nvmet ]; then
        . "$SUITE/guest/standin-nvmet.sh" && standin_setup || return 1
    else
        wait_for 10 ping -c1 -W1 "$TRADDR" || { echo "target address $TRADDR does not answer ping"; return 1; }
    fi
}
if ! setup_guest > "$SHARE/logs/00-guest-setup.log" 2>&1; then
    verdict "FAIL guest-setup: $(tail -1 "$SHARE/logs/00-guest-setup.log") (logs/00-guest-setup.log)"
fi
[ "$TARGET_KIND" = nvmet ] && . "$SUITE/guest/standin-nvmet.sh"   # its tgt_* for the cases

# ---- reset between cases so that one case's leftovers cannot decide another's verdict
reset_host() {
    [[ $(< /proc/mounts) == *" /mnt/hnvmf"* ]] && umount -l /mnt/hnvmf* 2>/dev/null
    net_is_cut && net_restore >/dev/null 2>&1
    [ "$(host_ctrl_count)" = 0 ] || disconnect_all
    # and the target has let go of them too, so that a teardown still in progress is not
    # charged to the next case (reset.log says when this had to wait)
    if [ "$TARGET_KIND" = hnvmfd ]; then
        local t0=$EPOCHSECONDS rc
        wait_target_ctrls 0 20 2>> "$SHARE/logs/reset.log"; rc=$?
        echo "$(date +%T) after ${CASE:-setup}: target controllers 0: $([ $rc = 0 ] && echo yes || echo "NO (rc $rc)") after $((EPOCHSECONDS - t0)) s" >> "$SHARE/logs/reset.log"
    fi
}

# Errors the host's kernel logged while a case ran (I/O errors, file system errors) fail the case
# even when its own checks passed: e.g. a discard that the target answers with an error is
# invisible to mkfs but shows here. A case that provokes such errors on purpose says
# "# kernel-errors: allowed" in its header.
KERNEL_ERRORS='I/O Error|I/O error|Buffer I/O error|EXT4-fs error|EXT4-fs warning|blk_update_request|nvme.*(timeout|resetting controller)'
kernel_errors_since() {  # UPTIME_SECONDS
    dmesg | awk -v t="$1" '{ s = $0; sub(/^\[ */, "", s); if (s + 0 >= t) print }' | grep -E "$KERNEL_ERRORS"
}

# run_case FILE [LOGSUFFIX]: runs one case, sets VERDICT ("PASS name" / "FAIL name: why" / "SKIP
# name: why") and TOOK; its output goes to logs/NN-name[LOGSUFFIX].log
run_case() {
    local f=$1 sfx=${2:-} base name secs start kstart rc kerr n log
    base=$(basename "$f" .sh); name=${base#[0-9][0-9]-}; log=$SHARE/logs/$base$sfx.log
    CASE=$name CASE_STATE=$SHARE/state/$base$sfx
    rm -rf "$CASE_STATE"; mkdir -p "$CASE_STATE"
    secs=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$f" | head -1)
    start=$EPOCHSECONDS; read -r kstart _ < /proc/uptime
    CASE=$CASE CASE_STATE=$CASE_STATE T0US=${EPOCHREALTIME/./} \
        timeout -k 5 "${secs:-120}" bash -c '. "$SUITE/guest/lib.sh"; [ "$TARGET_KIND" = nvmet ] && . "$SUITE/guest/standin-nvmet.sh"; . "$1"' case "$f" \
        > "$log" 2>&1 < /dev/null
    rc=$?
    TOOK="$(( EPOCHSECONDS - start ))s"
    if ! grep -q '^# kernel-errors: allowed' "$f"; then
        kerr=$(kernel_errors_since "$kstart")
        if [ -n "$kerr" ]; then
            { echo "[kernel] FAILED: the host kernel logged errors while the case ran:"; echo "$kerr"; } >> "$log"
            echo "the host kernel logged errors: $(head -1 <<< "$kerr") ($(wc -l <<< "$kerr") lines)" >> "$CASE_STATE/bad"
        fi
    fi
    if [ -f "$CASE_STATE/skip" ]; then
        VERDICT="SKIP $name: $(head -1 "$CASE_STATE/skip")"
    elif [ -s "$CASE_STATE/bad" ]; then
        n=$(wc -l < "$CASE_STATE/bad")
        VERDICT="FAIL $name: $(head -1 "$CASE_STATE/bad")$([ "$n" -gt 1 ] && echo " (+$((n-1)) more, see logs/$base$sfx.log)")"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        VERDICT="FAIL $name: timed out after ${secs:-120}s"
    elif [ $rc -ne 0 ]; then
        VERDICT="FAIL $name: exited with status $rc without a reason, see logs/$base$sfx.log"
    elif [ ! -s "$CASE_STATE/ok" ]; then
        VERDICT="FAIL $name: checked nothing"
    else
        VERDICT="PASS $name"
    fi
    reset_host
}

# Every case once, in order. A case that failed runs once more after all the others (HNVMF_
# INTEROP_RETRY=0: never): under full-system emulation a host-side timing hiccup can fail one
# run of a case, and a second, independent run tells such a hiccup from a fault of the target,
# which fails both. Both runs are reported: "PASS name: passed on retry; first run: why" keeps
# the first failure visible, and the runner counts these lines apart. Its log is
# logs/NN-name.retry.log next to the first run's.
retry_case() {  # FILE: the second run of a case whose first run failed
    local first; first=$(cat "$SHARE/state/first-$(basename "$1" .sh)")
    run_case "$1" .retry
    if [[ $VERDICT == PASS* ]]; then
        verdict "$VERDICT: passed on retry; first run: ${first#FAIL * }" "$TOOK"
    else
        verdict "$first (the retry failed too: ${VERDICT#FAIL * })" "$TOOK"
    fi
}
FAILED_CASES=()
for f in $CASES; do
    # failed in an earlier boot that died before its retry: this run is the retry
    [ -f "$SHARE/state/first-$(basename "$f" .sh)" ] && { retry_case "$f"; continue; }
    run_case "$f"
    if [[ $VERDICT == FAIL* ]] && [ "${RETRY:-1}" != 0 ]; then
        FAILED_CASES+=("$f"); echo "${VERDICT}" > "$SHARE/state/first-$(basename "$f" .sh)"
        echo "interop[$KERNEL] ($VERDICT [$TOOK]; will run again after the other cases)"
    else
        verdict "$VERDICT" "$TOOK"
    fi
done
for f in "${FAILED_CASES[@]}"; do retry_case "$f"; done
dmesg > "$SHARE/logs/dmesg.log"
exit 0
