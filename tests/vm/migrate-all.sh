#!/bin/bash
# The live-migration VM tier (tests/vm/migrate.sh, once per case) for scripts/test.sh: ours ->
# ours in both modes (an open-but-unlinked file included), twice in a row, Rust -> ours and ours
# -> Rust in find-paths mode, Rust -> ours in file-handles mode, a destination that refuses
# (the source resumes and serves on), and Rust -> Rust for its times beside ours.
# Ends with "N passed, N failed".
# Usage: tests/vm/migrate-all.sh [migrate.sh options for every case, e.g. --daemon PATH]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pass=0 fail=0
common=("$@")
run() { # migrate.sh arguments...
	local out line p f st
	out=$(mktemp)
	echo "== migrate.sh $*"
	bash "$here/migrate.sh" "$@" "${common[@]}" 2>&1 | tee "$out"
	st=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	rm -f "$out"
	if [ -z "$line" ]; then
		fail=$((fail + 1))
		return
	fi
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	[ "$st" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p)) fail=$((fail + f))
}
run --src ours --dst ours
run --src ours --dst ours --mode file-handles
run --src ours --dst ours --twice
run --src rust --dst ours
run --src ours --dst rust
run --src rust --dst ours --mode file-handles
run --src ours --dst ours --refuse
# the Rust daemon alone, for its migration time and downtime beside ours
run --src rust --dst rust
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
