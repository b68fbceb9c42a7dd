#!/bin/bash
# xattrs, --xattrmap (and the remapped file capability), POSIX ACLs and --translate-uid/gid
# through virtiofsd-fusedev, checked on the host side of the share (fusedev_xattr.py).
# Usage: test_fusedev_xattr.sh <path to virtiofsd-fusedev>
set -u

HERE=$(dirname "$(readlink -f "$0")")
BIN=${1:?usage: test_fusedev_xattr.sh <virtiofsd-fusedev>}

. "$(dirname "$(readlink -f "$0")")/lib.sh"
fusedev_require

TMP=$(mktemp -d /tmp/fusedev-xattr.XXXXXX)
chmod 755 "$TMP" # other uids run commands inside the mount
SRC=$TMP/src
MNT=$TMP/mnt
PID=
FAILS=0

cleanup() {
	fusedev_teardown "$PID" "$MNT"
	rm -rf "$TMP"
}
trap cleanup EXIT

# run <mode> <daemon options...>: a fresh share and mount per mode.
run() {
	local mode=$1 rc
	shift
	echo "== $mode: virtiofsd-fusedev $*"
	rm -rf "$SRC"
	mkdir -p "$SRC" "$MNT"
	chmod 755 "$SRC"
	"$BIN" "$SRC" "$MNT" "$@" >"$TMP/daemon.log" 2>&1 &
	PID=$!
	if ! fusedev_wait_mount "$MNT" "$PID"; then
		echo "FAIL: $mode: daemon did not mount"
		cat "$TMP/daemon.log"
		FAILS=$((FAILS + 1))
		PID=
		return
	fi
	/usr/bin/python3 "$HERE/fusedev_xattr.py" "$MNT" "$SRC" "$mode" || FAILS=$((FAILS + 1))
	kill "$PID"
	wait "$PID"
	rc=$?
	PID=
	[ "$rc" == 0 ] || { echo "FAIL: $mode: daemon exit status $rc"; FAILS=$((FAILS + 1)); }
	if grep -E "ERROR|AddressSanitizer|runtime error" "$TMP/daemon.log"; then
		echo "FAIL: $mode: daemon logged errors"
		FAILS=$((FAILS + 1))
	fi
}

run xattr --xattr
run xattr --xattr --inode-file-handles=never --threads=1
run map "--xattrmap=:prefix:all::user.virtiofs.::bad:all:::"
run capmap "--xattrmap=:map::user.virtiofs.:" --killpriv-v2
run acl --posix-acl
run acl --posix-acl --killpriv-v2 --cache=never
run translate --translate-uid=map:1000:2000:10 --translate-gid=map:1000:2000:10
run translate-chain --translate-uid=host:3000:4000:1 --translate-uid=host:4000:5000:1 \
	--translate-gid=host:3000:4000:1 --translate-gid=host:4000:5000:1

echo "$FAILS failures"
[ "$FAILS" == 0 ]
