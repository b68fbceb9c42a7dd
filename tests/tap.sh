# Shell helpers of the script tiers (sourced): a count of passed and failed checks, one
# "ok - NAME" or "not ok - NAME: why" line each, and the closing "N passed, N failed" line that
# scripts/test.sh reads. With $TAP_OUT set (a file in the script's temporary folder), check()
# writes what its command printed there and shows its last $TAP_TAIL bytes (400) on failure;
# without, the command's output goes where the script's does. Safe under set -e and an ERR trap.
# shellcheck shell=bash
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # name, command...
	local name=$1
	shift
	if [ -z "${TAP_OUT:-}" ]; then
		if "$@"; then ok "$name"; else nok "$name"; fi
	elif "$@" >"$TAP_OUT" 2>&1; then
		ok "$name"
	else
		nok "$name: $(tail -c "${TAP_TAIL:-400}" "$TAP_OUT")"
	fi
}
# Ends the script: the totals, and exit status 0 only when nothing failed.
finish() {
	echo "$pass passed, $fail failed"
	if [ "$fail" -eq 0 ]; then exit 0; fi
	exit 1
}
