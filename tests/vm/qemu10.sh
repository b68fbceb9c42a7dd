#!/bin/bash
# VM checks on QEMU 10 with a Linux 6.12 guest (both fetched by scripts/peers.sh, the initramfs
# by tests/vm/prepare.sh --kernel 6.12), against our daemon (build/virtiofsd):
#   mq      2 vCPUs, num-request-queues=2: a worker pinned to each CPU; both request queues
#           carry requests through the daemon (its per-queue "stopped at avail index" debug
#           lines, the guest's per-queue interrupt counts), the files are right on the host.
#   idmap   FUSE_ALLOW_IDMAP agreed (the daemon's INIT line) and an idmapped mount of the share
#           in the guest behaves (tests/vm/guest-idmap.sh), ids checked on the host.
#   tag     --tag given to the daemon: QEMU 10's vhost-user-fs-pci does not take the config
#           from the back-end (it warns, uses its own tag=), and the guest works.
#
# Usage: tests/vm/qemu10.sh [--daemon PATH] [--daemon-arg ARG]... [--rust] [--keep]
#                           [--only mq|idmap|tag]
#   --daemon-arg  for our daemon in every boot, e.g. --seccomp=none with a sanitizer build
#   --rust   the same guests against the Rust virtiofsd of peers.sh too (idmap as ours; mq with
#            one request queue, since the Rust daemon serves only one)
# The last line is "N passed, N failed"; exit status non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
daemon=$repo/build/virtiofsd rust=0 keep=0 only='' our_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=${2:?}; shift ;;
	--daemon=*) daemon=${1#*=} ;;
	--daemon-arg) our_args+=("--daemon-arg=${2:?}"); shift ;;
	--daemon-arg=*) our_args+=("--daemon-arg=${1#*=}") ;;
	--rust) rust=1 ;;
	--keep) keep=1 ;;
	--only) only=${2:?}; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "qemu10.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done

# shellcheck source=tests/tap.sh
. "$here/../tap.sh"
# Under set -e a failing command would end the run without its tally line: say where.
trap 'echo "qemu10.sh: failed at line $LINENO: $BASH_COMMAND" >&2; nok "qemu10.sh ran to its end"; finish' ERR
work=$(mktemp -d /tmp/vmq10.XXXXXX)
trap '[ $keep -eq 1 ] && echo "qemu10.sh: kept $work" >&2 || rm -rf "$work"' EXIT

env=$("$repo/scripts/peers.sh") || { nok "fetch QEMU 10, the 6.12 kernel and the Rust daemon (scripts/peers.sh)"; finish; }
# shellcheck disable=SC1090
. "$env"
"$here/prepare.sh" --kernel 6.12 || { nok "prepare the 6.12 initramfs (tests/vm/prepare.sh --kernel 6.12)"; finish; }
[ -x "$daemon" ] || { nok "our daemon $daemon exists (build it first)"; finish; }
# The idmapped-mount helper runs in the busybox guest: static.
helper=$work/idmap-mount
cc -static -O2 -Wall -Wextra -Werror -o "$helper" "$here/idmap-mount.c" ||
	{ nok "build the static guest helper idmap-mount (libc6-dev)"; finish; }

# One boot: label, daemon, guest script, run-vm.sh options... Leaves $work/<label>/{share,out}.
boot() {
	local label=$1 d=$2 script=$3 extra=()
	shift 3
	[ "$d" = "$daemon" ] && extra=("${our_args[@]}")
	mkdir -p "$work/$label/share" "$work/$label/out"
	bash "$here/run-vm.sh" --share "$work/$label/share" --out "$work/$label/out" --quiet \
		--kernel 6.12 --qemu10 --daemon "$d" --script "$here/$script" --timeout 600 "${extra[@]}" "$@" \
		>"$work/$label/run.log" 2>&1
}
guest_lines() {
	tr -d '\r' <"$work/$1/out/console.log" | grep -E '^(not )?ok [0-9]+ - ' | sed "s/^/  $1 guest: /" ||
		echo "  $1 guest: no check lines on the console"
}
ran() { # label, status: the boot passed, else show why
	if [ "$2" -eq 0 ]; then return 0; fi
	tail -n 15 "$work/$1/run.log" | sed 's/^/  | /'
	return 1
}

# A sanitizer build's reports land in the daemon log (run with --daemon build-asan/virtiofsd).
log_clean() { ! grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$work/$1/out/daemon.log"; }

# Chains served per queue: "queue N: stopped at avail index M" (debug), the last one wins.
served() { sed -n "s/.*queue $2: stopped at avail index \([0-9]*\).*/\1/p" "$work/$1/out/daemon.log" | tail -n1; }

run_mq() { # label, daemon, queues, extra daemon args...
	local label=$1 d=$2 q=$3 st=0 files=300 c n
	shift 3
	boot "$label" "$d" guest-mq.sh --smp 2 --queues "$q" "$@" || st=$?
	guest_lines "$label"
	check "$label: guest on 2 vCPUs, $q request queue(s), all checks pass" ran "$label" $st
	check "$label: no sanitizer report in the daemon log" log_clean "$label"
	for c in 0 1; do
		n=$(find "$work/$label/share/mq/c$c" -type f 2>/dev/null | wc -l)
		check "$label: CPU $c's files on the host: $n (want $((files / 2)))" [ "$n" -eq $((files / 2)) ]
		check "$label: CPU $c's file f298 holds what the guest wrote" \
			[ "$(cat "$work/$label/share/mq/c$c/f298" 2>/dev/null)" = "cpu $c file 298" ]
	done
}

if [ -z "$only" ] || [ "$only" = mq ]; then
	run_mq mq-ours "$daemon" 2 --daemon-arg=--log-level=debug
	for q in 1 2; do
		n=$(served mq-ours $q)
		echo "  mq-ours: request queue $q (vring $q) served ${n:-no} chains"
		# Each worker makes more than 300 round trips on its CPU's queue.
		check "mq-ours: request queue $q served >= 300 chains (${n:-none})" [ "${n:-0}" -ge 300 ]
	done
	[ $rust -eq 1 ] && run_mq mq-rust "$RUST_VIRTIOFSD" 1
fi

agreed_idmap() { # label: INIT agreed bit 40
	local f
	f=$(sed -n 's/.*INIT: agreed FUSE [0-9.]*, flags \(0x[0-9a-f]*\).*/\1/p' "$work/$1/out/daemon.log" | tail -n1)
	[ -n "$f" ] && [ $((f >> 40 & 1)) -eq 1 ]
}
run_idmap() { # label, daemon
	local label=$1 st=0 res
	boot "$label" "$2" guest-idmap.sh --guest-file "$helper" || st=$?
	guest_lines "$label"
	check "$label: idmapped mount in a 6.12 guest, all checks pass" ran "$label" $st
	check "$label: no sanitizer report in the daemon log" log_clean "$label"
	res=$work/$label/share/idm/results.txt
	check "$label: the file user 1000 made through the idmapped mount is 0:0, mode 600, on the host" \
		[ "$(stat -c '%u %g %a' "$work/$label/share/idm/renamed" 2>/dev/null)" = "0 0 600" ]
	check "$label: the guest saw the same (results.txt)" grep -qx 'renamed 0 0 600' "$res"
	check "$label: the directory user 1000 made is 0:0 on the host" \
		[ "$(stat -c '%u %g' "$work/$label/share/idm/userdir" 2>/dev/null)" = "0 0" ]
}
if [ -z "$only" ] || [ "$only" = idmap ]; then
	run_idmap idmap-ours "$daemon"
	check "idmap-ours: INIT agreed FUSE_ALLOW_IDMAP (bit 40)" agreed_idmap idmap-ours
	[ $rust -eq 1 ] && run_idmap idmap-rust "$RUST_VIRTIOFSD"
fi

if [ -z "$only" ] || [ "$only" = tag ]; then
	st=0
	boot tag-ours "$daemon" guest-tag.sh --tag qemutag --daemon-arg=--tag=daemontag \
		--daemon-arg=--log-level=debug || st=$?
	guest_lines tag-ours
	check "tag-ours: vhost-user-fs-pci with tag=qemutag, daemon --tag=daemontag: the guest mounts qemutag" \
		ran tag-ours $st
	check "tag-ours: no sanitizer report in the daemon log" log_clean tag-ours
	check "tag-ours: the daemon offered CONFIG and QEMU 10's vhost-user-fs-pci declined it (its warning)" \
		grep -q 'supports VHOST_USER_PROTOCOL_F_CONFIG but QEMU does not' "$work/tag-ours/out/console.log"
	check "tag-ours: no GET_CONFIG reached the daemon" \
		bash -c "! grep -q 'GET_CONFIG' '$work/tag-ours/out/daemon.log'"
	check "tag-ours: the guest's file is on the host" \
		grep -qx 'written through the tag qemutag' "$work/tag-ours/share/tag-check.txt"
fi
finish
