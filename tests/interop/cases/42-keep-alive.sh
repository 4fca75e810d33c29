# --keep-alive-tmo: the controller runs with the KATO the host asked for, and a host that keeps
# sending Keep Alive is not dropped while idle for several times KATO.
# timeout: 90
mark=$(tgt log_mark)
ctrl=$(connect "$OPEN_NQN" --keep-alive-tmo=2) || die "connect with --keep-alive-tmo=2 failed"
[ -e /sys/class/nvme/$ctrl/kato ] && expect_eq "host sysfs kato" "$(< /sys/class/nvme/$ctrl/kato)" 2
if [ "$TARGET_KIND" = hnvmfd ]; then
    st=$(tgt state); log "target state: $st"
    [[ $st == *" $OPEN_NQN "*" 2000 ms "* ]] && ok "hnvmfd runs the controller with kato 2000 ms" ||
        bad "hnvmfd's state does not show kato 2000 for $OPEN_NQN"
fi
log "idle for 8 s (4 x KATO)"; nap 8
expect_eq "controller state after 8 s idle" "$(ctrl_state "$ctrl")" live
target_matches_host 2
dev=$(ns_dev "$ctrl" 1) && check "I/O after the idle period" dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none
if [ "$TARGET_KIND" = hnvmfd ]; then
    n=$(tgt log_count 'tearing down' "$mark"); expect_eq "hnvmfd log lines 'tearing down' while idle" "$n" 0
fi
check "nvme disconnect" nvme disconnect -n "$OPEN_NQN"
target_matches_host
