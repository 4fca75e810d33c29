# Access control: a host NQN that the subsystem does not list is refused at Connect (status
# Connect Invalid Host, which the Linux host reports as "... is not allowed"), while listed
# hosts get in, and any host gets into the allow-any-host subsystem.
# timeout: 90
dmesg -C
out=$(nvme connect -t tcp -a "$TRADDR" -s "$IO_PORT" -n "$RESTR_NQN" --hostnqn="$DENIED_HOSTNQN" --hostid="$DENIED_HOSTID" 2>&1); rc=$?
log "denied host: nvme connect -> status $rc: $out"
if [ $rc -ne 0 ]; then ok "nvme connect for a host that is not allowed fails (status $rc): ${out//$'\n'/ | }"
else bad "a host that is not allowed connected to $RESTR_NQN"; fi
[ -z "$(ctrls_for "$RESTR_NQN")" ] && ok "host has no $RESTR_NQN controller" || bad "host has a $RESTR_NQN controller"
kmsg=$(dmesg | grep -E 'nvme|Connect' | tail -5); log "kernel: $kmsg"
if grep -q "Connect for subsystem $RESTR_NQN is not allowed" <<< "$kmsg"; then
    ok "the kernel reports Connect Invalid Host: $(grep -m1 'is not allowed' <<< "$kmsg")"
else bad "the kernel does not report 'Connect for subsystem ... is not allowed' (status Connect Invalid Host); it says: ${kmsg//$'\n'/ | }"; fi
target_matches_host

c=$(connect "$RESTR_NQN" --hostnqn="$ALLOWED_HOSTNQN" --hostid="$ALLOWED_HOSTID") &&
    ok "a listed host NQN connects to $RESTR_NQN" || bad "a listed host NQN cannot connect to $RESTR_NQN"
c2=$(connect "$OPEN_NQN" --hostnqn="$DENIED_HOSTNQN" --hostid="$DENIED_HOSTID") &&
    ok "any host NQN connects to $OPEN_NQN" || bad "an unlisted host NQN cannot connect to the allow-any-host $OPEN_NQN"
if [ "$TARGET_KIND" = hnvmfd ]; then
    st=$(tgt state); log "target state: $st"
    [[ $st == *" $RESTR_NQN "*" $ALLOWED_HOSTNQN "* ]] && ok "hnvmfd shows the listed host's controller" ||
        bad "hnvmfd's state has no $RESTR_NQN controller for $ALLOWED_HOSTNQN"
fi
target_matches_host
run nvme disconnect-all
target_matches_host
