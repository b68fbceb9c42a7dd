#!/usr/bin/env bash
# Runs libFuzzer targets of tests/fuzz (see tests/fuzz/README.md) for a while and says what they
# did. Builds DIR (default build-fuzz: clang, -Dfuzz=true, ASan+UBSan) when needed, then for
# each target starts JOBS processes, process i pinned to CPU i % nproc (taskset) at nice 19,
# each for SECS seconds, reading tests/fuzz/corpus/TARGET and writing new inputs to
# DIR/fuzz-work/TARGET, findings (crash-, leak-, timeout-, oom-) to DIR/fuzz-art/TARGET/ and
# its output to DIR/fuzz-log/. One line per target:
#   TARGET: N executions in S s (J processes), cov C ft F, K findings
# then "N passed, N failed" (a target passes when it built, ran and wrote no finding).
# --merge adds the new inputs that bring new coverage to tests/fuzz/corpus/TARGET.
#
# Usage: scripts/fuzz.sh [--build DIR] [--jobs N] [--secs S] [--merge] TARGET... | all
# A long campaign: scripts/fuzz.sh --jobs 4 --secs 1200 vhost_async, again and again (the
# executions of each run are in its line; tests/fuzz/README.md keeps the totals).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

all_targets="fuse virtqueue vhost vhost_async fuse_pt"
dir=build-fuzz jobs=$(nproc) secs=60 merge=0 targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build) dir=${2:?--build DIR}; shift ;;
	--jobs) jobs=${2:?--jobs N}; shift ;;
	--secs) secs=${2:?--secs S}; shift ;;
	--merge) merge=1 ;;
	all) read -ra targets <<<"$all_targets" ;;
	-*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1") ;;
	esac
	shift
done
[ ${#targets[@]} -gt 0 ] || { echo "usage: scripts/fuzz.sh [--build DIR] [--jobs N] [--secs S] [--merge] TARGET... | all" >&2; exit 2; }
for t in "${targets[@]}"; do
	case " $all_targets " in *" $t "*) ;; *) echo "fuzz.sh: no target '$t' (targets: $all_targets)" >&2; exit 2 ;; esac
done
case "$jobs$secs" in *[!0-9]*) echo "fuzz.sh: --jobs and --secs take whole numbers" >&2; exit 2 ;; esac
if [ "$jobs" -lt 1 ] || [ "$secs" -lt 1 ]; then
	echo "fuzz.sh: --jobs and --secs must be at least 1" >&2
	exit 2
fi

if [ ! -f "$dir/build.ninja" ]; then
	CC=clang meson setup "$dir" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dtests=enabled >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; echo "fuzz.sh: meson setup of $dir failed (clang and its libFuzzer runtime: scripts/deps.sh)" >&2; exit 2; }
fi
mkdir -p "$dir/fuzz-log"

# Per target: the input size limit (tests/fuzz/README.md).
max_len() {
	case "$1" in
	fuse_pt) echo 4096 ;;
	vhost_async) echo 1024 ;;
	*) echo 16384 ;; # fuse, vhost, virtqueue: their corpora hold inputs of 6-9 KiB
	esac
}

pass=0 fail=0 ncpu=$(nproc)
for t in "${targets[@]}"; do
	bin=$dir/tests/fuzz/fuzz_$t work=$dir/fuzz-work/$t art=$dir/fuzz-art/$t
	if ! ninja -C "$dir" "tests/fuzz/fuzz_$t" >"$dir/fuzz-log/$t.build.log" 2>&1; then
		tail -30 "$dir/fuzz-log/$t.build.log"
		echo "$t: build failed"; fail=$((fail + 1)); continue
	fi
	mkdir -p "$work" "$art"
	before=$(find "$art" -type f | wc -l)
	pids=()
	for ((i = 0; i < jobs; i++)); do
		taskset -c $((i % ncpu)) nice -n 19 "$bin" -entropic=0 -timeout=30 \
			-max_len="$(max_len "$t")" -max_total_time="$secs" -print_final_stats=1 \
			-artifact_prefix="$art/" "$work" "tests/fuzz/corpus/$t" \
			>"$dir/fuzz-log/$t.$i.log" 2>&1 &
		pids+=($!)
	done
	st=0
	for p in "${pids[@]}"; do wait "$p" || st=1; done
	execs=0
	for ((i = 0; i < jobs; i++)); do
		n=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$dir/fuzz-log/$t.$i.log")
		execs=$((execs + ${n:-0}))
	done
	last=$(grep -ho 'cov: [0-9]* ft: [0-9]*' "$dir/fuzz-log/$t.0.log" | tail -1)
	found=$(find "$art" -type f -newer "$dir/fuzz-log/$t.build.log" \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	echo "$t: $execs executions in $secs s ($jobs processes), ${last:-no coverage line}, $found findings"
	if [ "$found" -gt 0 ] || [ "$st" -ne 0 ] || [ "$execs" -eq 0 ]; then
		[ "$found" -gt 0 ] && find "$art" -type f -newer "$dir/fuzz-log/$t.build.log" | sed 's/^/#   /'
		for ((i = 0; i < jobs; i++)); do
			grep -E 'ERROR|SUMMARY|fuzz_[a-z_]*: ' "$dir/fuzz-log/$t.$i.log" | head -5 | sed 's/^/#   /'
		done
		echo "not ok - $t (logs: $dir/fuzz-log/$t.*.log; $before findings were there before)"
		fail=$((fail + 1))
		continue
	fi
	echo "ok - $t"
	pass=$((pass + 1))
	if [ "$merge" = 1 ]; then
		n0=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
		"$bin" -merge=1 -max_len="$(max_len "$t")" "tests/fuzz/corpus/$t" "$work" \
			>"$dir/fuzz-log/$t.merge.log" 2>&1 || { echo "# $t: merge failed ($dir/fuzz-log/$t.merge.log)"; continue; }
		echo "# $t: merged, corpus $n0 -> $(find "tests/fuzz/corpus/$t" -type f | wc -l) inputs"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
