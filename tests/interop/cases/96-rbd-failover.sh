# A gateway group over Ceph RBD (docs/scale-out.md) under failure, seen by the real host: two
# hnvmfd gateways of one group (FO_ADDR1 and FO_ADDR2, the same port) export one RBD image as one
# subsystem; the host connects both paths (native multipath: one subsystem, two paths, one
# optimized) and runs fio write+verify while
#   1. the owner is SIGKILLed: the other gateway fences it and reports optimized, fio sees no
#      error and verifies; the killed gateway restarted rejoins as non-owner;
#   2. the owner (now gateway 2) is cut off from the cluster (nftables on its uid): it demotes
#      itself, gateway 1 fences it and takes over, fio sees no error and verifies; a write sent
#      through the fenced gateway afterwards (forced to report optimized) is refused when the
#      partition heals and the block reads back unchanged through the new owner; the fenced
#      gateway stops by itself and, restarted, rejoins as non-owner.
# Takeover times: host side from the kill/partition to the survivor reporting optimized; guest
# side the longest write completion fio saw (the I/O stall of the failover).
# timeout: 420
[ "$TARGET_KIND" = hnvmfd ] || skip "needs hnvmfd gateways"
[ "$(cat /sys/module/nvme_core/parameters/multipath 2>/dev/null)" = Y ] || skip "native NVMe multipath is off in this kernel"
out=$(tgt fo_start); rc=$?
[ $rc -eq 3 ] && skip "$out"
[ $rc -eq 0 ] || { tgt fo_stop >/dev/null; die "gateway group did not start: $out"; }
ok "two gateways of one group over one RBD image: $out (lease_ms $FO_LEASE_MS)"

fo_ctrls() {
    local c
    for c in /sys/class/nvme/nvme*; do
        [ -e "$c/subsysnqn" ] && [ "$(< "$c/subsysnqn")" = "$FO_NQN" ] && echo "${c##*/}"
    done
}
fo_ctrl() {  # ADDR: the controller of the path through that gateway
    local c
    for c in $(fo_ctrls); do [[ $(< /sys/class/nvme/$c/address) == *"traddr=$1,"* ]] && { echo "$c"; return 0; }; done
    return 1
}
path_state() {  # ADDR: the kernel's ANA state of that path, "-" when it is not live
    local c; c=$(fo_ctrl "$1") || { echo -; return; }
    [ "$(ctrl_state "$c")" = live ] || { echo -; return; }
    cat /sys/class/nvme/$c/nvme*c*n1/ana_state 2>/dev/null | head -1
}
states_are() { [ "$(path_state "$FO_ADDR1")" = "$1" ] && [ "$(path_state "$FO_ADDR2")" = "$2" ]; }
addr_of() { [ "$1" = 1 ] && echo "$FO_ADDR1" || echo "$FO_ADDR2"; }
finish() {
    run nvme disconnect -n "$FO_NQN" >/dev/null
    out=$(tgt fo_stop) || bad "stopping the gateway group: $out"
}

for a in "$FO_ADDR1" "$FO_ADDR2"; do
    run nvme connect -t tcp -a "$a" -s "$FO_PORT" -n "$FO_NQN" --reconnect-delay=1 --ctrl-loss-tmo=120 ||
        bad "nvme connect to $a:$FO_PORT failed"
done
two_paths() { [ "$(fo_ctrls | wc -l)" = 2 ]; }
wait_for 20 two_paths || { finish; die "the host has $(fo_ctrls | wc -l) controllers to $FO_NQN, wanted 2"; }
if wait_for 15 states_are optimized inaccessible; then ok "path through gateway 1 optimized, through gateway 2 inaccessible"
else bad "path states: gateway 1 '$(path_state "$FO_ADDR1")', gateway 2 '$(path_state "$FO_ADDR2")'"; fi
c1=$(fo_ctrl "$FO_ADDR1")
dev=$(ns_dev "$c1" 1) || { finish; die "no block device for namespace 1 of $FO_NQN"; }
ok "one multipath block device $dev"
out=$(nvme list-subsys "$dev" 2>&1); log "nvme list-subsys $dev: $(tr '\n' ' ' <<< "$out")"
n=$(grep -cE "traddr=($FO_ADDR1|$FO_ADDR2)[, ]" <<< "$out")
expect_eq "paths nvme list-subsys shows for $dev" "$n" 2
if grep -qE 'inaccessible' <<< "$out"; then   # nvme-cli that prints the paths' ANA states
    expect_eq "paths nvme list-subsys shows optimized" "$(grep -cE '(^|[^-])optimized' <<< "$out")" 1
fi

# fio: 4 KiB sequential writes over 4 MiB at 100 IOPS at most (at least 10 s: the failover falls
# inside the write phase; under TCG on a busy machine the guest manages 20-40), then every block
# read back and checked (crc32c). Exit status and terse fields 5 (errors)
# and 56 (longest write completion, us).
fio_bg() {  # OUT: starts fio in the background, its pid in FIO_PID
    fio --name=fo --filename="$dev" --ioengine=libaio --direct=1 --rw=write --bs=4k --iodepth=4 \
        --size=4M --rate_iops=100 --verify=crc32c --do_verify=1 --verify_fatal=1 \
        --output-format=terse --terse-version=3 > "$1" 2>&1 &
    FIO_PID=$!
}
# writes_done: writes completed by the NVMe block devices (field 5 of their stat), head and
# path devices summed (which of them count depends on the kernel), without an exec
writes_done() {
    local f a n=0
    for f in /sys/block/nvme*/stat; do [ -e "$f" ] && read -ra a < "$f" && n=$((n + a[4])); done
    echo "$n"
}
# writing_since N: fio runs and has completed 40 writes more than N (fio's start under TCG takes
# seconds: the failure must come while it writes, not before)
writing_since() { kill -0 "$FIO_PID" 2>/dev/null && [ "$(writes_done)" -ge $(($1 + 40)) ]; }
fio_verdict() {  # WHAT OUT STATUS
    # terse v3: 5 errors; the write section's 52 submission, 56 completion and 80 total latency
    # maxima (us): a write the failover held shows in one of them
    local last f5 slat clat lat
    last=$(grep '^3;' "$2" | tail -1); f5=$(cut -d';' -f5 <<< "$last")
    IFS=';' read -r slat clat lat <<< "$(cut -d';' -f52,56,80 <<< "$last")"
    log "fio: $(grep -v '^3;' "$2" | tr '\n' ' ') terse: $last"
    if [ "$3" -ne 0 ]; then bad "$1: fio exit status $3: $(grep -m1 -iE 'verify|error|fail' "$2")"
    elif [ "$f5" != 0 ]; then bad "$1: fio reports error $f5"
    else ok "$1: fio saw no error and verified every block (longest write: $(( ${lat:-0} / 1000 )) ms; submission $(( ${slat:-0} / 1000 )) ms, completion $(( ${clat:-0} / 1000 )) ms)"; fi
}

# ---- 1. the owner killed
w0=$(writes_done); fio_bg /tmp/fo.fio1
wait_for 60 writing_since "$w0" && ok "fio is writing ($(( $(writes_done) - w0 )) writes done)" || bad "fio does not write"
out=$(tgt fo_kill 1) && ok "gateway 1 (owner) SIGKILLed during the writes: gateway 2 optimized after ${out#takeover_ms } ms" ||
    bad "after the SIGKILL of gateway 1: $out"
wait "$FIO_PID"; fio_verdict "write+verify across the owner's SIGKILL" /tmp/fo.fio1 $?
path_is() { [ "$(path_state "$1")" = "$2" ]; }
wait_for 20 path_is "$FO_ADDR2" optimized && ok "the host's path through gateway 2 is optimized" ||
    bad "path through gateway 2: '$(path_state "$FO_ADDR2")'"
out=$(tgt fo_restart 1); rc=$?
[ $rc -eq 0 ] && [[ $out == *inaccessible ]] && ok "$out (non-owner)" || bad "restart of gateway 1: $out"
if wait_for 30 states_are inaccessible optimized; then ok "the host reconnected to gateway 1: inaccessible beside the optimized gateway 2"
else bad "after the restart: gateway 1 '$(path_state "$FO_ADDR1")', gateway 2 '$(path_state "$FO_ADDR2")'"; fi

# ---- 2. the owner (gateway 2) cut off from the cluster
run dd if=/dev/urandom of=/tmp/fo.blk bs=4k count=1 status=none
dd if=/tmp/fo.blk of="$dev" bs=4k seek="$FO_FENCE_BLOCK" count=1 oflag=direct status=none ||
    bad "writing block $FO_FENCE_BLOCK through gateway 2"
w0=$(writes_done); fio_bg /tmp/fo.fio2
wait_for 60 writing_since "$w0" && ok "fio is writing ($(( $(writes_done) - w0 )) writes done)" || bad "fio does not write"
out=$(tgt fo_partition 2) && ok "gateway 2 (owner) cut off from the cluster during the writes: gateway 1 optimized after ${out#takeover_ms } ms" ||
    bad "after cutting gateway 2 off: $out"
wait "$FIO_PID"; fio_verdict "write+verify across the owner's partition" /tmp/fo.fio2 $?
out=$(tgt fo_fenced_write 2) && ok "a write through the fenced gateway 2 was not acknowledged; it stopped by itself: $(tr '\n' ' ' <<< "$out")" ||
    bad "fenced write: $(tr '\n' ' ' <<< "$out")"
wait_for 20 states_are optimized - || log "path states: gateway 1 '$(path_state "$FO_ADDR1")', gateway 2 '$(path_state "$FO_ADDR2")'"
if dd if="$dev" of=/tmp/fo.blk2 bs=4k skip="$FO_FENCE_BLOCK" count=1 iflag=direct status=none && cmp -s /tmp/fo.blk /tmp/fo.blk2; then
    ok "block $FO_FENCE_BLOCK read back through gateway 1 unchanged: the fenced gateway's write did not land"
else
    bad "block $FO_FENCE_BLOCK differs (or cannot be read) after the fenced write"
fi
out=$(tgt fo_restart 2); rc=$?
[ $rc -eq 0 ] && [[ $out == *inaccessible ]] && ok "$out (non-owner)" || bad "restart of gateway 2: $out"
if wait_for 30 states_are optimized inaccessible; then ok "the host reconnected to gateway 2: inaccessible beside the optimized gateway 1"
else bad "after the restart: gateway 1 '$(path_state "$FO_ADDR1")', gateway 2 '$(path_state "$FO_ADDR2")'"; fi
finish
