#!/bin/bash
# Every configuration key the loader accepts (hnvmfd --list-keys) is documented in hnvmf.conf(5),
# and every command hnvmfctl --help lists is documented in hnvmfctl(8): as a word set in its own
# font (code or bold), the way the pages present a key or a command.
#   usage: tests/man/check-man.sh path/to/hnvmfd path/to/hnvmfctl path/to/build/docs/man
set -u
HNVMFD=${1:?usage: $0 hnvmfd hnvmfctl mandir}
HNVMFCTL=${2:?}
MANDIR=${3:?}
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# roff writes a hyphen as \- ; a word in a font is \f[X]word\f[...] (X: B, I, C, V, CR, ...)
documented() { # documented WORD PAGE
	sed 's/\\-/-/g' "$2" | grep -qE "\\\\f\\[[A-Z]+\\]$1(\\\\f| |$)"
}

for page in hnvmfd.8 hnvmfctl.8 hnvmf.conf.5 hnvmf-perf.1; do
	[[ -s $MANDIR/$page ]] || bad "$page: not built"
done

keys=$("$HNVMFD" --list-keys) || bad "hnvmfd --list-keys failed"
nkeys=0
while read -r section key; do
	nkeys=$((nkeys + 1))
	documented "$key" "$MANDIR/hnvmf.conf.5" || bad "key '$key' ([$section]) is not in hnvmf.conf(5): document it in docs/configuration.md"
done <<<"$keys"
((nkeys >= 10)) || bad "hnvmfd --list-keys printed only $nkeys keys"

# hnvmfctl --help lists the subcommands after "subcommands:", one a line: its words (lower case,
# "tenant set") then its arguments (upper case, [optional], KEY=VALUE).
help=$("$HNVMFCTL" --help 2>&1)
cmds=$(sed -n '/^subcommands:/,$p' <<<"$help" | tail -n +2 |
	awk '{ w = ""; for (i = 1; i <= NF && $i ~ /^[a-z][a-z0-9-]*$/; i++) w = w (w ? " " : "") $i; if (w) print w }' |
	sort -u)
ncmds=0
while IFS= read -r c; do
	[[ $c ]] || continue
	ncmds=$((ncmds + 1))
	documented "$c" "$MANDIR/hnvmfctl.8" || bad "hnvmfctl command '$c' is not in hnvmfctl(8): document it in docs/man/hnvmfctl.8.md"
done <<<"$cmds"
((ncmds >= 5)) || bad "hnvmfctl --help listed only $ncmds commands: $help"

echo "man pages: $nkeys keys, $ncmds hnvmfctl commands checked, $failed missing"
((failed == 0))
