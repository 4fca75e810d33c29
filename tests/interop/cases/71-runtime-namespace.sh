# Namespaces changed at run time through the control API (hnvmfctl ns add/resize/remove), with the host connected and never
# reconnecting: an added namespace appears as a block device (Namespace Attribute Changed AEN and
# the Changed Namespace List), a grown one changes its block device's size, a removed one
# disappears; the controller stays live throughout and namespace 1 serves on.
# timeout: 120
[ "$TARGET_KIND" = hnvmfd ] || skip "run-time reconfiguration is hnvmfd's"
NSID=3 MIB=32 GROWN=96
ctrl=$(connect "$OPEN_NQN") || die "connect to $OPEN_NQN failed"
ns_dev_now "$ctrl" $NSID >/dev/null && die "namespace $NSID exists before it is added"
out=$(tgt ns_add "$OPEN_NQN" $NSID $MIB) && ok "target added namespace $NSID ($MIB MiB): $out" || die "ns_add: $out"
dev=$(ns_dev "$ctrl" $NSID 20) && ok "namespace $NSID appeared as $dev without reconnecting" ||
    die "namespace $NSID did not appear on the host within 20 s"
blk=/sys/block/${dev#/dev/}/size
expect_eq "size of $dev" "$(( $(< "$blk") * 512 ))" $((MIB << 20))
out=$(nvme list 2>&1); [[ $out == *"$dev"* ]] && ok "nvme list shows $dev" || bad "nvme list does not show $dev: $out"

out=$(tgt ns_resize $NSID $GROWN) && ok "target grew namespace $NSID to $GROWN MiB" || die "ns_resize: $out"
grown() { [ "$(( $(< "$blk") * 512 ))" = $((GROWN << 20)) ]; }
wait_for 20 grown && ok "the host sees $dev at $GROWN MiB" ||
    bad "$dev is $(( $(< "$blk") * 512 )) bytes, not $((GROWN << 20)), 20 s after the resize"
run dd if=/dev/urandom of=/tmp/p bs=1M count=1 status=none
dd if=/tmp/p of="$dev" bs=1M seek=$((GROWN - 1)) oflag=direct status=none &&
    dd if="$dev" of=/tmp/b bs=1M skip=$((GROWN - 1)) count=1 iflag=direct status=none && cmp /tmp/p /tmp/b &&
    ok "I/O in the grown part" || bad "I/O in the grown part failed"

out=$(tgt ns_remove "$OPEN_NQN" $NSID) && ok "target removed namespace $NSID" || die "ns_remove: $out"
gone() { ! ns_dev_now "$ctrl" $NSID; }
wait_for 20 gone && ok "namespace $NSID disappeared from the host" || bad "$dev is still there 20 s after the removal"
expect_eq "controller state" "$(ctrl_state "$ctrl")" live
ns1=$(ns_dev "$ctrl" 1) && dd if="$ns1" of=/dev/null bs=1M count=1 iflag=direct status=none &&
    ok "namespace 1 still serves I/O" || bad "namespace 1 broke"
run nvme disconnect-all
target_matches_host
