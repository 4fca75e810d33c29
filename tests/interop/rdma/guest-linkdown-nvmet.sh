# guest-linkdown-nvmet.sh - the link-down case against the kernel's own nvmet-rdma target, to
# tell soft-RoCE/host behaviour from hnvmfd behaviour. Runs in the guest (run-extended.sh with SCRIPT=guest-linkdown-nvmet.sh).
set -u
T0=$(date +%s.%N)
ts() { printf '[%6.2f] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
run() { ts "+ $*"; "$@"; }
run modprobe dummy numdummies=0
ip link add dummy0 type dummy; ip link set dummy0 up; ip addr add 10.99.0.1/24 dev dummy0
run modprobe -a rdma_rxe ib_uverbs rdma_ucm nvme-rdma nvmet nvmet-rdma null_blk
run rdma link add rxe0 type rxe netdev dummy0
rmmod null_blk; modprobe null_blk nr_devices=1 gb=1 memory_backed=1
S=/sys/kernel/config/nvmet/subsystems/ldnqn; mkdir -p $S; echo 1 > $S/attr_allow_any_host
mkdir -p $S/namespaces/1; echo -n /dev/nullb0 > $S/namespaces/1/device_path; echo 1 > $S/namespaces/1/enable
P=/sys/kernel/config/nvmet/ports/1; mkdir -p $P; echo rdma > $P/addr_trtype; echo ipv4 > $P/addr_adrfam
echo 10.99.0.1 > $P/addr_traddr; echo 4420 > $P/addr_trsvcid; ln -s $S $P/subsystems/ldnqn
run nvme connect -t rdma -a 10.99.0.1 -s 4420 -n ldnqn -i 2 --keep-alive-tmo=5 --reconnect-delay=2 --ctrl-loss-tmo=60
sleep 1
dd if=/dev/nvme0n1 of=/dev/null bs=128k count=4000 iflag=direct status=none & DD=$!
sleep 2
run ip link set dummy0 down; sleep 8; run ip link set dummy0 up
for i in $(seq 90); do [ "$(cat /sys/class/nvme/nvme0/state)" = live ] && break; sleep 1; done
ts "controller state after $i s: $(cat /sys/class/nvme/nvme0/state)"
kill -0 $DD 2>/dev/null && ts "reader still blocked" || ts "reader ended"
dmesg | grep -iE 'nvme|rdma' | tail -15
