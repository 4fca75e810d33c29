# A listener added through the control API (hnvmfctl listener add): the persistent discovery controller's discovery
# log lists the subsystem on the new port (Discovery Log Change), and the host connects there.
# timeout: 120
[ "$TARGET_KIND" = hnvmfd ] || skip "run-time reconfiguration is hnvmfd's"
DISC_NQN=nqn.2014-08.org.nvmexpress.discovery NEW_PORT=4431
run nvme discover -t tcp -a "$TRADDR" -s "$DISC_PORT" --persistent >/dev/null || die "nvme discover --persistent failed"
dctrl=$(ctrls_for "$DISC_NQN" | head -1)
[ -n "$dctrl" ] && ok "persistent discovery controller $dctrl" || die "no persistent discovery controller"
listed() { nvme discover -d "$dctrl" -o json 2>/dev/null | grep -q "\"trsvcid\" *: *\"$NEW_PORT\""; }
listed && die "port $NEW_PORT is in the discovery log before it is added"
out=$(tgt listener_add io2 $NEW_PORT "$OPEN_NQN") && ok "target added listener io2 on $NEW_PORT" ||
    die "listener_add: $out"
wait_for 20 listed && ok "the persistent discovery controller's log lists port $NEW_PORT" ||
    bad "port $NEW_PORT not in the discovery log 20 s after it was added"
c=$(CONNECT_PORT=$NEW_PORT connect "$OPEN_NQN") && ok "connected to $OPEN_NQN on port $NEW_PORT" ||
    bad "cannot connect to $OPEN_NQN on the new port"
expect_eq "persistent discovery controller state" "$(ctrl_state "$dctrl")" live
run nvme disconnect-all
target_matches_host
