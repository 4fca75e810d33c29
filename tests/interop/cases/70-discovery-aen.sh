# A persistent discovery controller and an I/O controller stay up while a namespace is added at
# run time; the host learns of the new namespace by itself: Namespace Attribute Changed AEN,
# then the Changed Namespace List log page ("rescanning namespaces" in the kernel log), and the
# new block device appears with the right size.
# timeout: 120
DISC_NQN=nqn.2014-08.org.nvmexpress.discovery
NEW_NSID=2 NEW_MIB=64
run nvme discover -t tcp -a "$TRADDR" -s "$DISC_PORT" --persistent >/dev/null || die "nvme discover --persistent failed"
dctrl=$(ctrls_for "$DISC_NQN" | head -1)
[ -n "$dctrl" ] && ok "persistent discovery controller $dctrl" || die "no persistent discovery controller after discover --persistent"
ctrl=$(connect "$OPEN_NQN") || die "connect to $OPEN_NQN failed"
ns_dev_now "$ctrl" $NEW_NSID >/dev/null && die "namespace $NEW_NSID exists before it is added"
dmesg -C

out=$(tgt ns_add "$OPEN_NQN" $NEW_NSID $NEW_MIB); rc=$?
[ $rc -eq 3 ] && skip "the target cannot add a namespace at run time: $out"
[ $rc -eq 0 ] && ok "target added namespace $NEW_NSID ($NEW_MIB MiB) to $OPEN_NQN" || die "ns_add failed ($rc): $out"

if dev=$(ns_dev "$ctrl" $NEW_NSID 20); then ok "the host sees namespace $NEW_NSID as $dev without a manual rescan"
else bad "namespace $NEW_NSID did not appear on the host within 20 s"; fi
kmsg=$(dmesg | grep -E 'nvme' | tail -5); log "kernel: $kmsg"
grep -q 'rescanning namespaces' <<< "$kmsg" && ok "the host rescanned because of the AEN" ||
    bad "no 'rescanning namespaces' in the kernel log: the AEN / Changed Namespace List was not seen"
if [ -n "${dev:-}" ]; then
    expect_eq "new namespace size" "$(( $(< /sys/block/${dev#/dev/}/size) * 512 ))" $((NEW_MIB << 20))
    run dd if=/dev/urandom of=/tmp/p bs=1M count=2 status=none
    dd if=/tmp/p of="$dev" bs=1M oflag=direct status=none && dd if="$dev" of=/tmp/b bs=1M count=2 iflag=direct status=none &&
        cmp /tmp/p /tmp/b && ok "I/O on the new namespace" || bad "I/O on the new namespace failed"
    ns1=$(ns_dev "$ctrl" 1) && dd if="$ns1" of=/dev/null bs=1M count=1 iflag=direct status=none &&
        ok "namespace 1 still serves I/O" || bad "namespace 1 broke"
fi
expect_eq "persistent discovery controller state" "$(ctrl_state "$dctrl")" live
expect_eq "I/O controller state" "$(ctrl_state "$ctrl")" live
out=$(nvme discover -d "$dctrl" -o json 2>&1) && [[ $out == *"$OPEN_NQN"* ]] &&
    ok "the persistent discovery controller still returns the discovery log" ||
    bad "discovery log through the persistent controller failed: ${out##*$'\n'}"
run nvme disconnect-all
target_matches_host
