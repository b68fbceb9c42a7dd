# Shell helpers of the script tiers (sourced): a count of passed and failed checks, one
# "ok - NAME" or "not ok - NAME: why" line each, and the closing "N passed, N failed" line that
# scripts/test.sh reads. check() writes what its command printed to $TAP_OUT (set it to a file
# in the script's temporary folder first) and shows its last $TAP_TAIL bytes (400) on failure.
# shellcheck shell=bash
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # name, command...
	local name=$1
	shift
	if "$@" >"${TAP_OUT:?check: TAP_OUT is not set}" 2>&1; then
		ok "$name"
	else
		nok "$name: $(tail -c "${TAP_TAIL:-400}" "$TAP_OUT")"
	fi
}
# Ends the script: the totals, and exit status 0 only when nothing failed.
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
