#!/bin/bash
# Benchmarks on demand (docs/performance.md): our daemon, the Rust virtiofsd 1.13 (fetched by
# scripts/peers.sh), the legacy /usr/lib/qemu/virtiofsd, and the host itself as the ceiling, in
# the same run, on tmpfs and on the disk; then 2 request queues driven by 2 frontend threads, and
# memory per cached inode and per open file. Never part of the test suite; nothing here asserts
# a timing.
#
#   bench/run.sh [--secs S] [--reps N] [--pool N] [--fs tmpfs|disk|both] [--file-mb N]
#                [--depths 1,16,64] [--works a,b,...] [--queues 1,2] [--mem-files N|0]
#                [--legacy PATH] [--rust PATH|none] [--legacy-pool] [--out FILE.tsv]
#                [--fh-works a,b,...|none]
#
# The daemons keep inodes alike in the main matrix: as O_PATH fds (ours and Rust with
# --inode-file-handles=never, the Rust 1.13.2 default; the legacy daemon has nothing else).
# Then, on tmpfs, ours and Rust both with --inode-file-handles=prefer (ours' default, and Rust's
# since 1.13.3) on --fh-works (default lookup,create,readdirplus), under the label "tmpfs-fh".
#
# Each cell runs --reps times (default 2) for --secs (default 0.3) after a short warm-up and
# keeps the best run: other work on a shared machine only ever makes a run slower.
# --pool N adds our daemon with --thread-pool-size=N; --queues 1 skips the 2-queue cells;
# --mem-files 0 skips the memory table (default 100000 inodes, a tenth of them opened).
#
# Environment: BENCH_BUILD (build dir, default build-bench, configured --buildtype=release),
# BENCH_DISK_DIR (where the disk data set goes, default the build dir), PEER_CACHE (where
# scripts/peers.sh keeps the Rust daemon; default its own).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$root/build-bench}
secs=0.3 reps=2 pool=0 fs=both file_mb=256 depths=1,16,64 works= out= legacy_pool=0
queues=1,2 mem_files=100000 rust= fh_works=lookup,create,readdirplus
legacy=/usr/lib/qemu/virtiofsd

while [ $# -gt 0 ]; do
	case "$1" in
	--secs) secs=$2; shift ;;
	--reps) reps=$2; shift ;;
	--pool) pool=$2; shift ;;
	--fs) fs=$2; shift ;;
	--file-mb) file_mb=$2; shift ;;
	--depths) depths=$2; shift ;;
	--works) works=$2; shift ;;
	--queues) queues=$2; shift ;;
	--mem-files) mem_files=$2; shift ;;
	--legacy) legacy=$2; shift ;;
	--rust) rust=$2; shift ;;
	--legacy-pool) legacy_pool=1 ;;
	--out) out=$2; shift ;;
	--fh-works) fh_works=$2; shift ;;
	-h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
	*) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

if [ ! -f "$build/build.ninja" ]; then
	# the benchmark is built on the test frontend: it needs the tests (cmocka)
	meson setup "$build" "$root" --buildtype=release -Dtests=enabled >/dev/null
fi
ninja -C "$build" virtiofsd bench/vufs-bench >/dev/null
bench=$build/bench/vufs-bench
out=${out:-$build/bench-$(date +%Y%m%d-%H%M%S).tsv}

# The Rust virtiofsd: fetched once into the peer cache (a Debian package and its loader).
if [ -z "$rust" ]; then
	if [ -f "$root/scripts/peers.sh" ]; then
		env_file=$(bash "$root/scripts/peers.sh") ||
			{ echo "bench/run.sh: scripts/peers.sh failed: no Rust column" >&2; env_file=; }
		if [ -n "$env_file" ] && [ -f "$env_file" ]; then
			# shellcheck disable=SC1090
			rust=$(. "$env_file" && echo "${RUST_VIRTIOFSD:-}")
		fi
	else
		echo "bench/run.sh: no scripts/peers.sh: no Rust column (or give --rust PATH)" >&2
	fi
fi
[ "$rust" = none ] && rust=

fds=--inode-file-handles=never
targets=(--target "ours,$build/virtiofsd,$fds")
[ "$pool" -gt 0 ] && targets+=(--target "ours-tp$pool,$build/virtiofsd,$fds --thread-pool-size=$pool")
if [ -n "$rust" ] && [ -x "$rust" ]; then
	echo "bench/run.sh: Rust daemon: $rust ($("$rust" --version 2>/dev/null | head -n1))" >&2
	targets+=(--target "rust,$rust,$fds")
elif [ -n "$rust" ]; then
	echo "bench/run.sh: $rust is not executable: no Rust column" >&2
	rust=
fi
if [ -x "$legacy" ]; then
	targets+=(--target "legacy,$legacy")
	[ "$legacy_pool" = 1 ] && [ "$pool" -gt 0 ] &&
		targets+=(--target "legacy-tp$pool,$legacy,--thread-pool-size=$pool")
else
	echo "bench/run.sh: $legacy not found: no legacy column" >&2
fi
targets+=(--target "host,host")

dirs=()
cleanup() { for d in "${dirs[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

run_fs() { # label parent-dir
	local d
	d=$(mktemp -d "$2/vufs-bench.XXXXXX")
	dirs+=("$d")
	mkdir "$d/share"
	echo "bench/run.sh: $1: preparing $d/share ($file_mb MiB data file, 11000 files)" >&2
	"$bench" prepare "$d/share" --file-mb "$file_mb"
	sync
	echo "bench/run.sh: $1: running" >&2
	"$bench" run --share "$d/share" --fs "$1" --secs "$secs" --reps "$reps" --depths "$depths" \
		--queues "$queues" ${works:+--works "$works"} "${targets[@]}" | tee -a "$out" >&2
	if [ "$1" = tmpfs ] && [ -n "$rust" ] && [ "$fh_works" != none ]; then
		echo "bench/run.sh: $1: ours and Rust with file handles (--inode-file-handles=prefer)" >&2
		"$bench" run --share "$d/share" --fs "$1-fh" --secs "$secs" --reps "$reps" \
			--depths "$depths" --queues 1 --works "$fh_works" \
			--target "ours,$build/virtiofsd,--inode-file-handles=prefer" \
			--target "rust,$rust,--inode-file-handles=prefer" | tee -a "$out" >&2
	fi
	if [ "$1" = tmpfs ] && [ "$mem_files" -gt 0 ]; then
		echo "bench/run.sh: $1: memory per inode ($mem_files LOOKUPs kept, file handles)" >&2
		local mt=(--target "ours,$build/virtiofsd,--inode-file-handles=prefer")
		[ -n "$rust" ] && mt+=(--target "rust,$rust,--inode-file-handles=prefer")
		"$bench" mem --share "$d/share" --files "$mem_files" "${mt[@]}" | tee -a "$out" >&2
	fi
	rm -rf "$d"
}

: >"$out"
start=$(date +%s)
case "$fs" in
tmpfs|both) run_fs tmpfs /dev/shm ;;&
disk|both) run_fs disk "${BENCH_DISK_DIR:-$build}" ;;
esac
echo "bench/run.sh: $(($(date +%s) - start)) s; raw results in $out" >&2
echo
python3 "$root/bench/table.py" "$out"
echo
python3 "$root/bench/targets.py" "$out"
