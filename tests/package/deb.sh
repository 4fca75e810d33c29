#!/bin/bash
# The Debian package, built as `make deb` builds it (prefix /usr, no tests), installed into an
# empty root with dpkg -x (the machine's own dpkg database is not touched): the files are where
# they belong, dependencies come from shlibdeps, /etc is conffiles, and the installed hnvmfd
# accepts the installed example configuration.
#   usage: tests/package/deb.sh SOURCE_DIR        (builds in a temporary directory, -j2)
set -u
SRC=${1:?usage: $0 source-dir}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# CMAKE_SKIP_INSTALL_ALL_DEPENDENCY: cpack installs what the targets below built, not `all`.
cmake -S "$SRC" -B "$tmp/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
	-DHNVMF_TESTS=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$tmp/log" 2>&1 &&
	cmake --build "$tmp/build" -j2 --target hnvmfd hnvmfctl hnvmf-perf man >>"$tmp/log" 2>&1 &&
	(cd "$tmp/build" && cpack -G DEB) >>"$tmp/log" 2>&1 || { cat "$tmp/log"; echo "FAIL: package build"; exit 1; }
deb=$(ls "$tmp"/build/hnvmf_*.deb 2>/dev/null | head -n 1)
[[ -f $deb ]] || { cat "$tmp/log"; echo "FAIL: no .deb"; exit 1; }
echo "built $(basename "$deb")"

root=$tmp/root
mkdir "$root"
dpkg -x "$deb" "$root" || { echo "FAIL: dpkg -x"; exit 1; }
for f in usr/sbin/hnvmfd usr/sbin/hnvmfctl usr/bin/hnvmf-perf \
	usr/share/man/man8/hnvmfd.8 usr/share/man/man8/hnvmfctl.8 usr/share/man/man5/hnvmf.conf.5 \
	usr/share/man/man1/hnvmf-perf.1 etc/hnvmf/hnvmf.conf etc/hnvmf/tenants.d/10-analytics.conf \
	etc/hnvmf/tenants.d/30-legacy.conf etc/hnvmf/tenants.d/20-database.conf.example \
	lib/systemd/system/hnvmfd.service; do
	[[ -e $root/$f ]] || bad "/$f not in the package"
done
[[ -x $root/usr/sbin/hnvmfd ]] || bad "/usr/sbin/hnvmfd not executable"
for f in "$root"/etc/hnvmf/tenants.d/*; do
	[[ $(stat -c %a "$f") == 600 ]] || bad "${f#"$root"} is mode $(stat -c %a "$f"), not 600"
done
grep -q '^ExecStart=/usr/sbin/hnvmfd -c /etc/hnvmf/hnvmf.conf$' "$root/lib/systemd/system/hnvmfd.service" ||
	bad "the unit does not start /usr/sbin/hnvmfd -c /etc/hnvmf/hnvmf.conf"
# Nothing outside the usual places (a path from the build machine, /usr/local, /usr/etc): each
# path is one of these directories, inside one, or a parent of one.
unexpected=$(dpkg-deb -c "$deb" | awk '{ sub(/^\./, "", $6); sub(/\/$/, "", $6); print $6 }' | awk '
	BEGIN { n = split("/usr/sbin /usr/bin /usr/share/man /usr/share/doc /etc/hnvmf /lib/systemd/system", root, " ") }
	{ ok = $0 == ""; for (i = 1; i <= n; i++)
		ok = ok || $0 == root[i] || index($0, root[i] "/") == 1 || index(root[i], $0 "/") == 1
	  if (!ok) print }')
[[ -z $unexpected ]] || bad "unexpected paths in the package: $unexpected"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libc6 libssl3 liburing2 libsystemd0 libinih1; do
	grep -q "\\b$lib\\b" <<<"$depends" || bad "Depends lacks $lib (shlibdeps)"
done
if ldd "$root/usr/sbin/hnvmfd" | grep -q libibverbs; then
	grep -q '\blibibverbs1\b' <<<"$depends" || bad "hnvmfd links libibverbs but Depends lacks it"
fi
dpkg-deb -e "$deb" "$tmp/control"
for f in /etc/hnvmf/hnvmf.conf /etc/hnvmf/tenants.d/10-analytics.conf /etc/hnvmf/tenants.d/30-legacy.conf \
	/etc/hnvmf/tenants.d/20-database.conf.example; do
	grep -qx "$f" "$tmp/control/conffiles" 2>/dev/null || bad "$f is not a conffile"
done

# The installed daemon on the installed example: valid as installed.
if ! out=$("$root/usr/sbin/hnvmfd" --check -c "$root/etc/hnvmf/hnvmf.conf" 2>&1); then
	bad "installed hnvmfd --check refuses the installed example: $out"
fi
echo "$out"
echo "package: $failed problem(s)"
((failed == 0))
