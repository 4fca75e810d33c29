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
: > "$RESULTS"
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
}

# Errors the host's kernel logged while a case ran (I/O errors, file system errors) fail the case
# even when its own checks passed: e.g. a discard that the target answers with an error is
# invisible to mkfs but shows here. A case that provokes such errors on purpose says
# "# kernel-errors: allowed" in its header.
KERNEL_ERRORS='I/O Error|I/O error|Buffer I/O error|EXT4-fs error|EXT4-fs warning|blk_update_request|nvme.*(timeout|resetting controller)'
kernel_errors_since() {  # UPTIME_SECONDS
    dmesg | awk -v t="$1" '{ s = $0; sub(/^\[ */, "", s); if (s + 0 >= t) print }' | grep -E "$KERNEL_ERRORS"
}

for f in $CASES; do
    base=$(basename "$f" .sh); name=${base#[0-9][0-9]-}
    CASE=$name CASE_STATE=$SHARE/state/$base
    rm -rf "$CASE_STATE"; mkdir -p "$CASE_STATE"
    secs=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$f" | head -1)
    start=$EPOCHSECONDS; read -r kstart _ < /proc/uptime
    CASE=$CASE CASE_STATE=$CASE_STATE T0US=${EPOCHREALTIME/./} \
        timeout -k 5 "${secs:-120}" bash -c '. "$SUITE/guest/lib.sh"; [ "$TARGET_KIND" = nvmet ] && . "$SUITE/guest/standin-nvmet.sh"; . "$1"' case "$f" \
        > "$SHARE/logs/$base.log" 2>&1 < /dev/null
    rc=$?
    took="$(( EPOCHSECONDS - start ))s"
    if ! grep -q '^# kernel-errors: allowed' "$f"; then
        kerr=$(kernel_errors_since "$kstart")
        if [ -n "$kerr" ]; then
            { echo "[kernel] FAILED: the host kernel logged errors while the case ran:"; echo "$kerr"; } >> "$SHARE/logs/$base.log"
            echo "the host kernel logged errors: $(head -1 <<< "$kerr") ($(wc -l <<< "$kerr") lines)" >> "$CASE_STATE/bad"
        fi
    fi
    if [ -f "$CASE_STATE/skip" ]; then
        verdict "SKIP $name: $(head -1 "$CASE_STATE/skip")" "$took"
    elif [ -s "$CASE_STATE/bad" ]; then
        n=$(wc -l < "$CASE_STATE/bad")
        verdict "FAIL $name: $(head -1 "$CASE_STATE/bad")$([ "$n" -gt 1 ] && echo " (+$((n-1)) more, see logs/$base.log)")" "$took"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        verdict "FAIL $name: timed out after ${secs:-120}s" "$took"
    elif [ $rc -ne 0 ]; then
        verdict "FAIL $name: exited with status $rc without a reason, see logs/$base.log" "$took"
    elif [ ! -s "$CASE_STATE/ok" ]; then
        verdict "FAIL $name: checked nothing" "$took"
    else
        verdict "PASS $name" "$took"
    fi
    reset_host
done
dmesg > "$SHARE/logs/dmesg.log"
exit 0
