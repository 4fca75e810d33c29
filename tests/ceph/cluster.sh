#!/bin/bash
# A throw-away one-mon, one-OSD Ceph cluster (memstore) in one directory, for the RBD backend's
# tests and benchmark: no systemd, no root, no ceph-mgr (pools, images and data I/O do not need
# one). Everything lives under DIR; the daemons are found again through DIR/run/*.pid.
#   cluster.sh start DIR   bootstraps it (~3 s), creates pool "rbd"; prints CEPH_CONF=DIR/ceph.conf
#   cluster.sh stop DIR    stops the OSD, then the mon (in that order: an OSD stopped after its mon
#                          waits 5 s for an answer), and removes DIR
#   cluster.sh check       exit 0 when the packages are installed, else 77 and what is missing
# HNVMF_CEPH_STORE_BYTES: memstore capacity (default 1 GiB; memstore keeps everything in the
# OSD's heap, so keep images small).
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }

check() {
	local missing=""
	for b in ceph-mon ceph-osd ceph-authtool monmaptool ceph rbd uuidgen flock; do
		command -v "$b" >/dev/null || missing="$missing $b"
	done
	if [ -n "$missing" ]; then
		echo "cluster.sh: not installed:$missing (tools/install-deps.sh installs ceph-mon ceph-osd ceph-common)" >&2
		return 77
	fi
}

listening() { # TCP port $1 has a listener on any address
	local hex
	hex=$(printf ':%04X' "$1")
	awk -v h="$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Signals pid file $1's daemon only when it is a ceph daemon of this cluster's ceph.conf.
ours() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-c $DIR/ceph.conf" || return 1
	echo "$pid"
}

stop_one() {
	local pid i
	pid=$(ours "$DIR/run/$1.pid") || return 0
	kill -CONT "$pid" 2>/dev/null || true # a test may have stopped it (SIGSTOP)
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		ours "$DIR/run/$1.pid" >/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

start() {
	mkdir -p "$DIR"/{run,log,mon.a,osd.0}
	local conf=$DIR/ceph.conf port fsid osd_uuid
	exec 9>>"${TMPDIR:-/tmp}/hnvmf-ceph-ports.lock"
	flock 9 # two clusters starting at once must not pick the same mon port
	for port in $(seq 13400 2 13498) none; do
		[ "$port" = none ] && die "no free port pair in 13400..13499"
		listening "$port" || listening $((port + 1)) || break
	done
	fsid=$(uuidgen)
	cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$port,v1:127.0.0.1:$((port + 1))]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $DIR/keyring
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.1
mon mgr mkfs grace = 315360000
[client]
admin socket = $DIR/run/\$name.\$pid.asok
log file = $DIR/log/\$name.\$pid.log
[mon]
log file = $DIR/log/\$name.log
mon data = $DIR/mon.\$id
[osd]
log file = $DIR/log/\$name.log
osd data = $DIR/osd.\$id
keyring = $DIR/osd.\$id/keyring
osd objectstore = memstore
memstore device bytes = ${HNVMF_CEPH_STORE_BYTES:-1073741824}
CONF
	ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
	ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' \
		--cap osd 'allow *' --cap mgr 'allow *' >/dev/null
	ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/keyring" >/dev/null
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port,v1:127.0.0.1:$((port + 1))]" \
		"$DIR/monmap" >/dev/null
	ceph-mon -c "$conf" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" 9>&-
	ceph-mon -c "$conf" -i a 9>&- 2>"$DIR/log/mon.stderr" || die "ceph-mon: $(cat "$DIR/log/mon.stderr")"
	exec 9>&-
	local ceph=(ceph -c "$conf" --connect-timeout 60)
	osd_uuid=$(uuidgen)
	[ "$("${ceph[@]}" osd new "$osd_uuid")" = 0 ] || die "ceph osd new did not give id 0"
	# No key exists for the OSD before `auth add`: mkfs must not ask the mon for its config.
	ceph-osd -c "$conf" -i 0 --no-mon-config --mkfs --mkkey --osd-uuid "$osd_uuid" \
		2>"$DIR/log/osd.mkfs.stderr" || die "ceph-osd --mkfs: $(cat "$DIR/log/osd.mkfs.stderr")"
	"${ceph[@]}" auth add osd.0 osd 'allow *' mon 'allow profile osd' -i "$DIR/osd.0/keyring" >/dev/null 2>&1
	ceph-osd -c "$conf" -i 0 2>"$DIR/log/osd.stderr" || die "ceph-osd: $(cat "$DIR/log/osd.stderr")"
	local i
	for i in $(seq 600); do
		"${ceph[@]}" osd dump 2>/dev/null | grep -q '^osd\.0 up *in' && break
		[ "$i" = 600 ] && die "osd.0 did not come up (see $DIR/log/osd.0.log)"
		sleep 0.1
	done
	"${ceph[@]}" osd pool create rbd 8 8 >/dev/null 2>&1
	rbd -c "$conf" pool init rbd
	echo "CEPH_CONF=$conf"
}

case ${1:-} in
check) check ;;
start)
	[ $# -eq 2 ] || die "usage: $0 start DIR"
	check
	DIR=$(mkdir -p "$2" && cd "$2" && pwd)
	[ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
	trap '[ $? -eq 0 ] || { stop_one osd.0; stop_one mon.a; echo "cluster.sh: start failed, logs kept in $DIR/log" >&2; }' EXIT
	start
	;;
stop)
	[ $# -eq 2 ] || die "usage: $0 stop DIR"
	DIR=$(cd "$2" && pwd)
	[ -f "$DIR/ceph.conf" ] || die "$DIR has no ceph.conf: not a cluster directory"
	stop_one osd.0
	stop_one mon.a
	rm -rf "$DIR"
	;;
*) die "usage: $0 check | start DIR | stop DIR" ;;
esac
