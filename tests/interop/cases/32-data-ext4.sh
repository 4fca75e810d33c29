# A file system over the target survives a disconnect: mkfs.ext4, mount, write files, sync,
# umount, disconnect, reconnect, fsck finds it clean, and the files are identical.
# timeout: 150
ctrl=$(connect "$OPEN_NQN") || die "nvme connect to $OPEN_NQN failed"
dev=$(ns_dev "$ctrl" 1) || die "no block device for $OPEN_NQN namespace 1"
check "mkfs.ext4 on $dev" mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev"
mkdir -p /mnt/hnvmf
check "mount $dev" mount "$dev" /mnt/hnvmf || exit 1
run dd if=/dev/urandom of=/mnt/hnvmf/big bs=1M count=12 status=none
run mkdir -p /mnt/hnvmf/dir
for i in $(seq 20); do head -c $((i * 997)) /dev/urandom > /mnt/hnvmf/dir/f$i; done
(cd /mnt/hnvmf && find . -type f | sort | xargs sha256sum) > /tmp/sums
check "sync" sync
check "umount" umount /mnt/hnvmf
check "nvme disconnect" nvme disconnect -n "$OPEN_NQN"
gone() { [ -z "$(ctrls_for "$OPEN_NQN")" ]; }
wait_for 10 gone && ok "host controller gone" || bad "host controller still there after disconnect"
ctrl=$(connect "$OPEN_NQN") || die "reconnect to $OPEN_NQN failed"
dev=$(ns_dev "$ctrl" 1) || die "no block device after reconnect"
check "fsck.ext4 -fn finds the file system clean" fsck.ext4 -fn "$dev"
check "mount again" mount -o ro "$dev" /mnt/hnvmf || exit 1
check "21 files identical after reconnect" sh -c 'cd /mnt/hnvmf && sha256sum --quiet -c /tmp/sums'
run umount /mnt/hnvmf
