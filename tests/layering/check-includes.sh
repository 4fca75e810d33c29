#!/bin/bash
# The include layers (docs/architecture.md), checked on the sources: fails when
#   - core/ or conf/ includes from target/, transport/ or tools/ (or core/ from conf/);
#   - transport/ includes from conf/ or tools/;
#   - tools/ includes from target/ or transport/;
#   - proto/ includes anything of this project outside proto/;
#   - any code but tests/ includes a header that another library keeps private (not listed in
#     that library's public-headers file).
# Usage: check-includes.sh [source root] [--graph]; --graph also prints how many includes go
# from each top directory into each other.
set -euo pipefail
root=.
graph=0
for a in "$@"; do
	case $a in
	--graph) graph=1 ;;
	*) root=$a ;;
	esac
done
cd "$root"

# Libraries that own headers, and their public headers.
libdirs="proto core conf target transport tools/initiator tools/perf"
declare -A public
for d in $libdirs; do
	[[ -f $d/public-headers ]] || { echo "$d/public-headers: missing"; exit 1; }
	while read -r h; do
		[[ -z $h || $h == \#* ]] && continue
		public[$h]=1
	done <"$d/public-headers"
done

owner() { # sets own to the library directory path $1 lies in, or to nothing
	own=
	local d
	for d in $libdirs; do
		[[ $1 == "$d"/* ]] && { own=$d; return 0; }
	done
	return 0
}

bad=0
violation() {
	echo "$1: includes \"$2\": $3"
	bad=$((bad + 1))
}

declare -A edges
while IFS= read -r line; do
	file=${line%%:*}
	rest=${line#*:}
	lineno=${rest%%:*}
	[[ ${rest#*:} =~ \"([^\"]*)\" ]] && inc=${BASH_REMATCH[1]}
	from=${file%%/*}
	to=${inc%%/*}
	[[ $inc == */* ]] || to=$from # a header next to the file
	edges["$from -> $to"]=$((${edges["$from -> $to"]:-0} + 1))
	where="$file:$lineno"
	case "$from:$to" in
	core:target | core:transport | core:tools | core:conf | conf:target | conf:transport | conf:tools)
		violation "$where" "$inc" "$from/ sits below $to/" ;;
	transport:conf | transport:tools)
		violation "$where" "$inc" "transport/ reaches $to/ only through the target's API" ;;
	tools:target | tools:transport)
		violation "$where" "$inc" "tools/ speak the protocol (proto/), not the target's internals" ;;
	esac
	if [[ $from == proto && $to != proto ]]; then
		violation "$where" "$inc" "proto/ depends on nothing of this project"
	fi
	if [[ $from != tests && $inc == */* ]]; then
		owner "$inc"
		o=$own
		owner "$file"
		if [[ -n $o && $own != "$o" && -z ${public[$inc]:-} ]]; then
			violation "$where" "$inc" "private to $o/ (not in $o/public-headers)"
		fi
	fi
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' --include='*.c' --include='*.h' \
	proto core conf target transport tools bench tests)

if ((graph)); then
	for e in "${!edges[@]}"; do printf '%5d  %s\n' "${edges[$e]}" "$e"; done | sort -k2
fi
if ((bad)); then
	echo "check-includes: $bad forbidden include(s)"
	exit 1
fi
echo "check-includes: layers respected"
