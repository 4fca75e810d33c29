# nvme disconnect (by NQN and by device) and nvme disconnect-all leave no controller and no
# connection behind on the target.
# timeout: 90
a=$(connect "$OPEN_NQN" --nr-io-queues=2) || die "connect to $OPEN_NQN failed"
b=$(connect "$RESTR_NQN" --nr-io-queues=1) || die "connect to $RESTR_NQN failed"
target_matches_host
check "nvme disconnect -n $OPEN_NQN" nvme disconnect -n "$OPEN_NQN"
[ -z "$(ctrls_for "$OPEN_NQN")" ] && ok "host has no $OPEN_NQN controller" || bad "host still has a $OPEN_NQN controller"
target_matches_host           # exactly the other subsystem's controller is left
check "nvme disconnect -d $b" nvme disconnect -d "/dev/$b"
target_matches_host
expect_eq "host controllers after both disconnects" "$(host_ctrl_count)" 0

# three controllers, two of them to the same subsystem. nvme-cli 2.3 refuses a second
# connection to a subsystem whatever the options, so that one is made the way nvme-cli makes
# connections: an options string written to /dev/nvme-fabrics.
connect "$OPEN_NQN" >/dev/null && connect "$RESTR_NQN" >/dev/null || die "reconnect failed"
exec {fab}<>/dev/nvme-fabrics || die "cannot open /dev/nvme-fabrics"
opts="nqn=$OPEN_NQN,transport=tcp,traddr=$TRADDR,trsvcid=$IO_PORT,hostnqn=$ALLOWED_HOSTNQN,hostid=$ALLOWED_HOSTID,duplicate_connect"
if printf '%s' "$opts" >&$fab && read -r -u $fab reply; then ok "second controller to $OPEN_NQN: $reply"
else bad "a second controller to $OPEN_NQN could not be made ($opts)"; fi
exec {fab}>&-
three() { [ "$(host_ctrl_count)" -eq 3 ]; }
wait_for 10 three
expect_eq "host controllers before disconnect-all" "$(host_ctrl_count)" 3
target_matches_host
check "nvme disconnect-all" nvme disconnect-all
expect_eq "host controllers after disconnect-all" "$(host_ctrl_count)" 0
target_matches_host
if [ "$TARGET_KIND" = hnvmfd ]; then
    n=$(tgt ctrl_count); expect_eq "hnvmfd controllers after disconnect-all" "$n" 0
fi
