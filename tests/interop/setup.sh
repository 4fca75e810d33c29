#!/bin/bash
# setup.sh - prepare everything the interop suite needs, once, on a Debian 12 host (root, no KVM).
#
#   1. host packages: QEMU (TCG), a static busybox for the guest's initrd, and the initiator side
#      (nvme-cli, fio, e2fsprogs, ...). The guest boots on the HOST's root filesystem, so whatever
#      is installed here is what the guest runs.
#   2. Debian 12's kernel 6.1 and Debian 13's kernel 6.12: downloaded and unpacked, never installed.
#   3. Debian 13's nvme-cli/libnvme/tlshd/keyctl (needed for --tls and the newer nvme-cli output),
#      unpacked and run through their own loader by wrappers in CACHE/trixie/bin.
#
# Everything lands under CACHE (default ${HNVMF_VM_CACHE:-$HOME/.cache/hnvmf-vm}). Every step is
# skipped when its output exists, so a second run downloads nothing and takes about a second.
# Debian 13 packages come through a private apt configuration under CACHE (the host's apt state is
# not touched) whose mirror is the one this machine's own apt sources already use.
#
# usage: setup.sh [CACHE]
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
CACHE=${1:-${HNVMF_VM_CACHE:-$HOME/.cache/hnvmf-vm}}
mkdir -p "$CACHE"
CACHE=$(readlink -f "$CACHE")
cd "$CACHE"
say() { echo "interop-setup: $*"; }

# ---------------------------------------------------------------- 1. host packages
HOST_PKGS=(qemu-system-x86 busybox-static cpio kmod xz-utils zstd gzip python3 iproute2 iputils-ping procps
           nvme-cli fio e2fsprogs util-linux bc jq nftables coreutils
           rdma-core ibverbs-utils rdmacm-utils)
missing=()
for p in "${HOST_PKGS[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing host packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# the guest reads the host's /etc/nvme/hostnqn; nvme-cli's package normally creates it
if [ ! -s /etc/nvme/hostnqn ]; then
    mkdir -p /etc/nvme && nvme gen-hostnqn > /etc/nvme/hostnqn
fi

# The mirror this machine already uses for Debian (deb822 sources first, then one-line sources).
debian_mirror() {
    local m
    m=$(awk 'BEGIN{RS=""} /Suites:[^\n]*(bookworm|trixie|stable)([ \n]|$)/ && !/security/ {
                 if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s=substr($0,RSTART,RLENGTH); sub(/URIs:[ \t]*/,"",s); print s; exit } }' \
            /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$m" ] || m=$(grep -hsE '^deb[ \t]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                       grep -v security | sed -E 's/^deb[ \t]+(\[[^]]*\][ \t]+)?//' | awk '{print $1; exit}')
    [ -n "$m" ] || { echo "interop-setup: no Debian mirror found in /etc/apt/sources*" >&2; return 1; }
    echo "$m"
}

# ---------------------------------------------------------------- 2a. kernel 6.1 (bookworm)
mkdir -p debs
if ! ls k61/boot/vmlinuz-* >/dev/null 2>&1; then
    KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    say "downloading $KPKG"
    ( cd debs && apt-get download -q -o APT::Sandbox::User=root "$KPKG" )
    rm -rf k61.tmp && mkdir k61.tmp && dpkg -x debs/"$KPKG"_*.deb k61.tmp
    depmod -b "$CACHE/k61.tmp" "$(ls k61.tmp/lib/modules)"
    rm -rf k61 && mv k61.tmp k61
fi

# ---------------------------------------------------------------- 2b+3. trixie: kernel 6.12 + tools
T=$CACHE/trixie
if ! ls "$T"/k612/boot/vmlinuz-* >/dev/null 2>&1 || [ ! -x "$T/bin/nvme" ] || [ ! -d "$T/root/usr" ]; then
    mkdir -p "$T"/{lists/partial,cache/archives/partial,etc/preferences.d,debs,bin}
    MIRROR=$(debian_mirror)
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" > "$T/sources.list"
    : > "$T/status"
    cat > "$T/apt.conf" <<EOC
Dir::Etc::SourceList "$T/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::Etc::Preferences "$T/etc/preferences";
Dir::Etc::PreferencesParts "$T/etc/preferences.d";
Dir::State::Lists "$T/lists";
Dir::State::status "$T/status";
Dir::Cache "$T/cache";
APT::Architecture "amd64";
APT::Sandbox::User "root";
EOC
    export APT_CONFIG=$T/apt.conf
    say "fetching the trixie package lists (private apt configuration)"
    apt-get update -q
    TKPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    # shellcheck disable=SC2046
    PKGS=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
           --no-replaces --no-enhances nvme-cli ktls-utils keyutils libnvme1t64 | grep -v '^[ <]' | sort -u)
    say "downloading $TKPKG and $(echo "$PKGS" | wc -w) packages for nvme-cli/tlshd/keyctl"
    # shellcheck disable=SC2086
    ( cd "$T/debs" && apt-get download -q $PKGS "$TKPKG" )
    unset APT_CONFIG
    rm -rf "$T/root" "$T/k612" && mkdir -p "$T/root" "$T/k612"
    for d in "$T"/debs/*.deb; do
        case $(basename "$d") in linux-image-*) dpkg -x "$d" "$T/k612";; *) dpkg -x "$d" "$T/root";; esac
    done
    [ -e "$T/k612/lib" ] || ln -s usr/lib "$T/k612/lib"
    depmod -b "$T/k612" "$(ls "$T/k612/usr/lib/modules")"
    # wrappers: run the trixie binaries with trixie's own ld.so and libraries
    for b in usr/sbin/nvme usr/sbin/tlshd usr/bin/keyctl; do
        cat > "$T/bin/$(basename $b).tmp" <<EOW
#!/bin/sh
R=\$(dirname "\$(readlink -f "\$0")")/../root
exec "\$R/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu" "\$R/$b" "\$@"
EOW
        chmod +x "$T/bin/$(basename $b).tmp" && mv "$T/bin/$(basename $b).tmp" "$T/bin/$(basename $b)"
    done
fi
"$T/bin/nvme" version >/dev/null || { echo "interop-setup: trixie nvme-cli does not run" >&2; exit 1; }

# ---------------------------------------------------------------- 4. boot artefacts (vmlinux, initrd)
# Made here rather than at first boot so that a run only boots.
"$HERE/lib/vm.sh" --prepare "$CACHE/k61"
"$HERE/lib/vm.sh" --prepare "$T/k612"
say "ready: $CACHE (k61: $(ls "$CACHE/k61/lib/modules"), k612: $(ls "$T/k612/usr/lib/modules"))"
