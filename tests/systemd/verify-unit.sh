#!/bin/bash
# systemd-analyze verify on hnvmfd.service as built, with its programs pointed at the build
# tree (verify refuses an ExecStart= that does not exist). Any complaint about the unit fails.
#   usage: tests/systemd/verify-unit.sh build/dist/hnvmfd.service path/to/hnvmfd path/to/hnvmfctl
# Exit 77 (ctest: skipped) only when systemd-analyze is not installed.
set -u
UNIT=${1:?usage: $0 unit hnvmfd hnvmfctl}
HNVMFD=${2:?}
HNVMFCTL=${3:?}
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|^ExecStart=[^ ]*/hnvmfd |ExecStart=$HNVMFD |" -e "s|^ExecReload=[^ ]*/hnvmfctl |ExecReload=$HNVMFCTL |" \
	"$UNIT" >"$tmp/hnvmfd.service"
grep -q "^ExecStart=$HNVMFD " "$tmp/hnvmfd.service" || { echo "FAIL: no ExecStart=.../hnvmfd in $UNIT"; exit 1; }
grep -q '^Type=notify$' "$tmp/hnvmfd.service" || { echo "FAIL: $UNIT is not Type=notify"; exit 1; }
# man: references are checked only where man pages are installed; the unit's own name is what
# matters in the output
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/hnvmfd.service" 2>&1)
rc=$?
echo "$out"
if ((rc != 0)) || grep -q 'hnvmfd.service' <<<"$out"; then
	echo "FAIL: systemd-analyze verify complains about hnvmfd.service"
	exit 1
fi
echo "hnvmfd.service: systemd-analyze verify clean"
