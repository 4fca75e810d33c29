# A host removed from a subsystem's hosts through the control API (hnvmfctl host remove) loses its controller there
# (the target disconnects it and refuses its reconnects), while its controller on the
# allow-any-host subsystem stays live.
# timeout: 120
[ "$TARGET_KIND" = hnvmfd ] || skip "run-time reconfiguration is hnvmfd's"
c=$(connect "$RESTR_NQN" --hostnqn="$ALLOWED_HOSTNQN" --hostid="$ALLOWED_HOSTID") || die "connect to $RESTR_NQN failed"
o=$(connect "$OPEN_NQN" --hostnqn="$ALLOWED_HOSTNQN" --hostid="$ALLOWED_HOSTID") || die "connect to $OPEN_NQN failed"
out=$(tgt host_remove "$RESTR_NQN" "$ALLOWED_HOSTNQN") && ok "target removed the host from $RESTR_NQN" ||
    die "host_remove: $out"
not_live() { [ "$(ctrl_state "$c")" != live ]; }
wait_for 20 not_live && ok "the $RESTR_NQN controller $c is no longer live ($(ctrl_state "$c"))" ||
    bad "$c is still live 20 s after the host was removed"
no_target_ctrl() { ! tgt state | grep -q "subsys $RESTR_NQN host $ALLOWED_HOSTNQN "; }
wait_for 20 no_target_ctrl && ok "hnvmfd holds no $RESTR_NQN controller for the host" ||
    bad "hnvmfd still has the host's $RESTR_NQN controller: $(tgt state | tr '\n' ';')"
expect_eq "$OPEN_NQN controller state" "$(ctrl_state "$o")" live
run nvme disconnect-all
