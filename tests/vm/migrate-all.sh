#!/bin/bash
# The live-migration VM tier (tests/vm/migrate.sh, once per case) for scripts/test.sh: ours ->
# ours in both modes (in file-handles mode an open-but-unlinked file held), twice in a row,
# ours -> Rust -> ours in find-paths mode, and Rust -> Rust for its times beside ours. --all adds Rust -> ours from a
# fresh Rust source, Rust -> ours and ours -> Rust in file-handles mode, and a destination that
# refuses (the source resumes and serves on). Ends with "N passed, N failed".
# Usage: tests/vm/migrate-all.sh [--all] [migrate.sh options for every case, e.g. --daemon PATH]
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pass=0 fail=0
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
all=0
[ "${1:-}" = --all ] && { all=1; shift; }
common=("$@")
# The cases CI runs: 4 guest boots, 6 migrations.
run --src ours --dst ours --twice              # twice in a row
run --src ours --dst ours --mode file-handles  # an unlinked file held
run --src ours --dst rust --then ours          # ours -> Rust, then Rust -> ours
run --src rust --dst rust                      # the Rust daemon alone: its times beside ours
if [ $all -eq 1 ]; then
	run --src rust --dst ours
	run --src rust --dst ours --mode file-handles
	run --src ours --dst rust --mode file-handles
	run --src ours --dst ours --refuse
else
	echo "!! not run here (tests/vm/migrate-all.sh --all runs them): Rust -> ours from a" \
		"fresh Rust source, both directions in file-handles mode, a refusing destination" \
		"(the fake-frontend tier covers fresh-source interop and refusal)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
