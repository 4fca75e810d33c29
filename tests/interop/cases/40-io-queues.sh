# --nr-io-queues: the controller gets the number of I/O queues the host asked for (Set Features
# Number of Queues), one TCP connection each, and I/O runs on them.
# timeout: 90
for q in 1 2; do
    ctrl=$(connect "$OPEN_NQN" --nr-io-queues=$q) || { bad "connect with --nr-io-queues=$q failed"; continue; }
    expect_eq "--nr-io-queues=$q: host queue_count (admin + I/O)" "$(< /sys/class/nvme/$ctrl/queue_count)" $((q + 1))
    target_matches_host
    if [ "$TARGET_KIND" = hnvmfd ]; then
        st=$(tgt state); log "target state: $st"
        # hnvmfctl controllers: "CNTLID SUBNQN HOSTNQN PEER KATO ms q1:MODE ... qN:MODE"
        [[ $st == *" $OPEN_NQN "*" q$q:"* && $st != *" $OPEN_NQN "*" q$((q + 1)):"* ]] &&
            ok "hnvmfd reports $q I/O queues" || bad "hnvmfd's controllers do not show $q I/O queues for $OPEN_NQN"
    fi
    dev=$(ns_dev "$ctrl" 1) || { bad "no block device"; continue; }
    # several jobs so that, with 2 queues, both carry I/O
    check "I/O with verify on $q I/O queue(s)" fio --name=q --ioengine=libaio --direct=1 --filename="$dev" \
        --rw=randwrite --bs=4k --iodepth=8 --numjobs=2 --size=1M --offset_increment=8M --verify=crc32c \
        --verify_fatal=1 --group_reporting --output-format=terse
    check "nvme disconnect" nvme disconnect -n "$OPEN_NQN"
    target_matches_host
done
