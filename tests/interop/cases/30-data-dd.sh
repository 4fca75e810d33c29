# 64 MiB of random data written with O_DIRECT and read back identical; the namespace's last
# MiB too (the end of the LBA range); and the two subsystems' namespaces do not alias.
# timeout: 150
ctrl=$(connect "$OPEN_NQN") || die "nvme connect to $OPEN_NQN failed"
dev=$(ns_dev "$ctrl" 1) || die "no block device for $OPEN_NQN namespace 1"
rctrl=$(connect "$RESTR_NQN") || die "nvme connect to $RESTR_NQN failed"
rdev=$(ns_dev "$rctrl" 1) || die "no block device for $RESTR_NQN namespace 1"

run dd if=/dev/urandom of=/tmp/pat bs=1M count=64 status=none || die "cannot make the pattern"
check "64 MiB written to $dev with O_DIRECT" dd if=/tmp/pat of="$dev" bs=1M oflag=direct status=none
check "64 MiB read back from $dev with O_DIRECT" dd if="$dev" of=/tmp/back bs=1M count=64 iflag=direct status=none
check "the 64 MiB read back are identical" cmp /tmp/pat /tmp/back

# the last MiB of the namespace, in 4 KiB writes (other command sizes than 1 MiB)
last=$(( OPEN_BYTES / 4096 - 256 ))
check "last MiB written" dd if=/tmp/pat of="$dev" bs=4k count=256 seek=$last oflag=direct status=none
check "last MiB read back" dd if="$dev" of=/tmp/back2 bs=4k count=256 skip=$last iflag=direct status=none
check "last MiB identical" cmp -n 1048576 /tmp/pat /tmp/back2
# past the end is refused (the target checks the LBA range; the kernel does too, so this mainly
# proves the size is what both sides think it is)
if dd if="$dev" of=/dev/null bs=4k count=1 skip=$(( OPEN_BYTES / 4096 )) iflag=direct status=none 2>/dev/null &&
   [ "$(dd if="$dev" bs=4k count=1 skip=$(( OPEN_BYTES / 4096 )) iflag=direct status=none 2>/dev/null | wc -c)" -gt 0 ]; then
    bad "a read past the end of $dev returned data"
else ok "nothing is read past the end of $dev"; fi

# the other subsystem's namespace is another store
run dd if=/dev/urandom of=/tmp/pat2 bs=1M count=4 status=none
check "4 MiB written to $rdev" dd if=/tmp/pat2 of="$rdev" bs=1M oflag=direct status=none
check "4 MiB read back from $rdev" dd if="$rdev" of=/tmp/back3 bs=1M count=4 iflag=direct status=none
check "$rdev data identical" cmp /tmp/pat2 /tmp/back3
check "$dev still holds its own data" sh -c "dd if=$dev bs=1M count=4 iflag=direct status=none | cmp - /tmp/pat -n 4194304"
rm -f /tmp/pat /tmp/back /tmp/back2 /tmp/pat2 /tmp/back3
