#!/bin/bash
# The guest fd limit and inode file handles at scale: `find` walks a tree of NFILES files
# through virtiofsd-fusedev with cache=always (the kernel keeps every inode it looked up, so
# the daemon holds them all). Samples the server's fd count and VmRSS during the walk.
#  - handles (--inode-file-handles=mandatory): the walk sees every file, the fd count stays
#    in the tens whatever the tree size.
#  - never, under the daemon's default limit (1000000): one fd per inode, the walk completes.
#  - never, under `ulimit -n 4096`: one O_PATH fd per inode cannot hold the tree: lookups past
#    the budget fail with ENFILE, the daemon keeps its reserve and survives (it still answers).
# Usage: [WALK_TMPDIR=dir] test_walk.sh <virtiofsd-fusedev> [nfiles]  (NFILES: 200000)
set -u

BIN=${1:?usage: test_walk.sh <virtiofsd-fusedev> [nfiles]}
NFILES=${2:-200000}
PER_DIR=1000
FD_MAX_HANDLES=100 # "tens": the LRU cache of idle fds (64) plus the daemon's own

. "$(dirname "$(readlink -f "$0")")/lib.sh"
fusedev_require

# tmpfs (it has file handles) makes the tree in seconds; WALK_TMPDIR=/tmp walks the disk's fs.
BASE=${WALK_TMPDIR:-/dev/shm}
[ -d "$BASE" ] && [ -w "$BASE" ] || BASE=/tmp
TMP=$(mktemp -d "$BASE/fusedev-walk.XXXXXX")
SRC=$TMP/src
MNT=$TMP/mnt
PID=
SAMPLER=
FAILS=0

cleanup() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	fusedev_teardown "$PID" "$MNT"
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

# NFILES empty files in directories of PER_DIR, without a process per file.
make_tree() {
	python3 - "$SRC" "$NFILES" "$PER_DIR" <<'EOF'
import os, sys
src, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = os.path.join(src, "d%04d" % (i // per))
    if i % per == 0:
        os.mkdir(d)
    os.close(os.open(os.path.join(d, "f%06d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
EOF
}

# start <ulimit -n> <daemon options...>
start() {
	local nofile=$1
	shift
	mkdir -p "$MNT"
	(ulimit -n "$nofile" && exec "$BIN" "$SRC" "$MNT" --cache=always "$@") \
		>"$TMP/daemon.log" 2>&1 &
	PID=$!
	fusedev_wait_mount "$MNT" "$PID" 200 && return 0
	echo "FAIL: daemon did not mount $MNT"
	cat "$TMP/daemon.log"
	exit 1
}

# Highest fd count and VmRSS (kB) of the daemon, written to $TMP/peak every sample.
sample() {
	local fds maxfd=0 rss maxrss=0
	while kill -0 "$PID" 2>/dev/null; do
		fds=$(ls "/proc/$PID/fd" 2>/dev/null | wc -l)
		rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null)
		[ "${fds:-0}" -gt "$maxfd" ] && maxfd=$fds
		[ "${rss:-0}" -gt "$maxrss" ] && maxrss=$rss
		echo "$maxfd $maxrss" >"$TMP/peak.tmp" && mv -f "$TMP/peak.tmp" "$TMP/peak"
		sleep 0.1
	done
}

stop() {
	kill "$PID"
	wait "$PID"
	local rc=$?
	PID=
	umount -l "$MNT" 2>/dev/null
	[ "$rc" == 0 ] || fail "daemon exit status $rc after SIGTERM"
	if grep -E "AddressSanitizer|runtime error" "$TMP/daemon.log"; then
		fail "daemon logged sanitizer errors"
	fi
}

# walk <label>: find over the mount; prints the figures, sets SEEN, ERRS, PEAK_FD, PEAK_RSS.
walk() {
	local t0 t1
	rm -f "$TMP/peak"
	sample &
	SAMPLER=$!
	t0=$(date +%s.%N)
	# -printf %s stats every entry: one LOOKUP per file, not only READDIR
	SEEN=$(find "$MNT" -printf '%s\n' 2>"$TMP/find.err" | wc -l)
	t1=$(date +%s.%N)
	ERRS=$(wc -l <"$TMP/find.err")
	sleep 0.3
	read -r PEAK_FD PEAK_RSS <"$TMP/peak" || PEAK_FD=0 PEAK_RSS=0
	AFTER_FD=$(ls "/proc/$PID/fd" | wc -l)
	printf '%s: %d entries, %d errors, %.1f s; daemon peak fds %d (after %d), peak VmRSS %d kB\n' \
		"$1" "$SEEN" "$ERRS" "$(echo "$t1 - $t0" | bc)" "$PEAK_FD" "$AFTER_FD" "$PEAK_RSS"
	[ "$ERRS" -gt 0 ] && echo "  first error: $(head -1 "$TMP/find.err")"
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
	SAMPLER=
}

mkdir -p "$SRC"
t0=$(date +%s)
make_tree
EXPECT=$((NFILES + (NFILES + PER_DIR - 1) / PER_DIR + 1))
echo "tree: $(stat -f -c %T "$SRC"), $NFILES files in $(((NFILES + PER_DIR - 1) / PER_DIR)) directories, made in $(($(date +%s) - t0)) s"

start 4096 --inode-file-handles=mandatory
grep -q "inode file handles in use" "$TMP/daemon.log" || fail "handles not in use: $(cat "$TMP/daemon.log")"
walk "handles (mandatory), ulimit -n 4096"
[ "$SEEN" == "$EXPECT" ] || fail "handles: find saw $SEEN entries, expected $EXPECT"
[ "$ERRS" == 0 ] || fail "handles: find reported $ERRS errors"
[ "$PEAK_FD" -le "$FD_MAX_HANDLES" ] || fail "handles: daemon held $PEAK_FD fds (limit $FD_MAX_HANDLES)"
# A second walk: every inode is known, attributes cached; the daemon reopens nothing new.
walk "handles, second walk"
[ "$SEEN" == "$EXPECT" ] || fail "handles: second walk saw $SEEN entries"
stop

# The daemon's own default limit, min(1000000, fs.nr_open), if this shell may raise its limit
# that far (CAP_SYS_RESOURCE): one fd per inode, all held.
HIGH=$(ulimit -Hn)
[ "$HIGH" == unlimited ] || [ "$HIGH" -gt 1000000 ] && HIGH=1000000
start "$HIGH" --inode-file-handles=never
walk "O_PATH fds (never), ulimit -n $HIGH"
if [ "$HIGH" -gt $((EXPECT + 1000)) ]; then
	[ "$SEEN" == "$EXPECT" ] || fail "never, high limit: find saw $SEEN entries, expected $EXPECT"
	[ "$ERRS" == 0 ] || fail "never, high limit: find reported $ERRS errors"
else
	echo "  (the hard limit $HIGH cannot hold $EXPECT O_PATH fds: errors expected, no crash)"
	kill -0 "$PID" 2>/dev/null || fail "never, high limit: the daemon died during the walk"
fi
stop

start 4096 --inode-file-handles=never
walk "O_PATH fds (never), ulimit -n 4096"
kill -0 "$PID" 2>/dev/null || fail "never: the daemon died during the walk"
[ "$PEAK_FD" -lt 4096 ] || fail "never: daemon reached its rlimit ($PEAK_FD fds)"
if [ "$ERRS" -gt 0 ]; then
	grep -q -i -E "too many open files" "$TMP/find.err" ||
		fail "never: errors are not EMFILE/ENFILE: $(head -1 "$TMP/find.err")"
fi
# The daemon still answers: a name under the root resolves, a new file can be made.
ls "$MNT" >/dev/null || fail "never: the mount stopped answering after the walk"
stat "$MNT/d0000" >/dev/null || fail "never: stat after the walk failed"
stop

echo "$FAILS failure(s)"
[ "$FAILS" == 0 ]
