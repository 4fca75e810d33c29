#!/bin/bash
# Config checks through the daemon: `hnvmfd --check -c FILE` must accept every shipped example
# (exit 0) and refuse every broken fixture (non-zero exit, with the message the fixture's first
# line announces -- "# expect: file:line: text" -- on stderr): those of conf-bad/ (refused by the
# loader) and of conf-bad-start/ (loaded, but refused by the start: a backend smaller than size).
#   usage: tests/config/run-config-tests.sh path/to/hnvmfd     (from the source root)
set -u
HNVMFD=${1:?usage: $0 path/to/hnvmfd}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
passed=0
failed=0

ok()  { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# git keeps no group/other permission bits either way: the example tenant file with inline secrets
# must be owner-only (the daemon refuses it otherwise), whatever the checkout's umask was.
chmod 0600 "$SRC"/conf/examples/tenants.d/*.conf
for f in "$SRC"/conf/examples/*.conf; do
	if "$HNVMFD" --check -c "$f" >/dev/null 2>"$out"; then
		ok
	else
		bad "example ${f#"$SRC"/} refused: $(cat "$out")"
	fi
done

for f in "$SRC"/tests/fixtures/conf-bad/*.conf "$SRC"/tests/fixtures/conf-bad/*/main.conf \
	"$SRC"/tests/fixtures/conf-bad-start/*.conf; do
	name=${f#"$SRC"/tests/fixtures/conf-bad/}
	name=${name#"$SRC"/tests/fixtures/}
	expect=$(head -n 1 "$f")
	if [[ $expect != "# expect: "* ]]; then
		bad "$name: first line is not '# expect: ...'"
		continue
	fi
	expect=${expect#"# expect: "}
	# git keeps no group/other permission bits: make the secrets that must be refused for their
	# mode group-readable whatever the checkout's umask was.
	secrets=$(dirname "$f")/tenants.d/secrets
	[[ -d $secrets ]] && chmod 0640 "$secrets"/*
	# likewise a tenant file with an inline secret that must be refused for being world-readable
	[[ $name == tenant-inline-readable/* ]] && chmod 0644 "$(dirname "$f")"/tenants.d/t.conf
	"$HNVMFD" --check -c "$f" >/dev/null 2>"$out"
	rc=$?
	if [[ $rc -eq 0 ]]; then
		bad "$name accepted (expected: $expect)"
	elif ! grep -qF -- "$expect" "$out"; then
		bad "$name: exit $rc, stderr '$(cat "$out")', expected '$expect'"
	else
		ok
	fi
done

echo "config checks: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
