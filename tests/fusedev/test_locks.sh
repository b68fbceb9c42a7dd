#!/bin/bash
# Locks, O_TMPFILE and statx through virtiofsd-fusedev started with --posix-lock --flock:
# between processes on the mount, and between the mount and the host file.
# Usage: test_locks.sh <path to virtiofsd-fusedev>
set -u

HERE=$(dirname "$(readlink -f "$0")")
BIN=${1:?usage: test_locks.sh <virtiofsd-fusedev>}

. "$(dirname "$(readlink -f "$0")")/lib.sh"
fusedev_require
if ! command -v python3 >/dev/null; then
	echo "SKIP: needs python3"
	exit 77
fi

TMP=$(mktemp -d /tmp/fusedev-locks.XXXXXX)
PID=
FAILS=0

cleanup() {
	fusedev_teardown "$PID" "$TMP/mnt"
	rm -rf "$TMP"
}
trap cleanup EXIT

run_mode() {
	local cache=$1
	rm -rf "$TMP/src" && mkdir -p "$TMP/src" "$TMP/mnt"
	"$BIN" "$TMP/src" "$TMP/mnt" --cache="$cache" --posix-lock --flock >"$TMP/daemon.log" 2>&1 &
	PID=$!
	if ! fusedev_wait_mount "$TMP/mnt" "$PID"; then
		echo "FAIL: daemon did not mount ($cache)"
		cat "$TMP/daemon.log"
		exit 1
	fi
	echo "== cache=$cache"
	timeout 120 python3 "$HERE/locks_ops.py" "$TMP/mnt" "$TMP/src" || FAILS=$((FAILS + 1))
	kill "$PID"
	wait "$PID"
	local rc=$?
	PID=
	[ "$rc" == 0 ] || { echo "FAIL: daemon exit status $rc"; FAILS=$((FAILS + 1)); }
	if grep -E "ERROR|AddressSanitizer|runtime error" "$TMP/daemon.log"; then
		echo "FAIL: daemon logged errors"
		FAILS=$((FAILS + 1))
	fi
	mountpoint -q "$TMP/mnt" && umount -l "$TMP/mnt"
}

run_mode auto
run_mode never
[ "$FAILS" == 0 ] || exit 1
