#!/bin/sh
# Guest side of the VM tier (busybox ash), run by /init with the virtio-fs share as the cwd.
# Prints one line per check ("ok N - name" / "not ok N - name"), "# time" lines, normalised
# "stat:" lines for the differential mode, and a final "N passed, N failed".
# Writes vmtest-results.txt on the share for the host to check (checksums, expected tree).
# Under TCG the guest runs a few hundred metadata operations per second: keep loops small and
# use shell built-ins (": >file") rather than one process per file.

T=t
RES=vmtest-results.txt
n=0
pass=0
fail=0

now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

check() {
	name=$1
	shift
	n=$((n + 1))
	if "$@" >/tmp/check.out 2>&1; then
		pass=$((pass + 1))
		echo "ok $n - $name"
	else
		fail=$((fail + 1))
		echo "not ok $n - $name"
		sed 's/^/#   /' /tmp/check.out
	fi
}

# eq WANT CMD...: the command's output equals WANT.
eq() {
	want=$1
	shift
	got=$("$@" 2>&1)
	[ "$got" = "$want" ] && return 0
	echo "expected '$want', got '$got' from: $*"
	return 1
}

timed() {
	label=$1
	shift
	t0=$(now)
	"$@"
	echo "# time $label: $(elapsed "$t0")s"
}

start=$(now)
rm -rf "$T" "$RES"
mkdir "$T" || { echo "not ok 1 - mkdir $T on the share"; echo "0 passed, 1 failed"; exit 1; }
cd "$T" || exit 1

# --- create, write, read back -----------------------------------------------------------------
check "create an empty file" sh -c ': >empty && [ -f empty ] && [ ! -s empty ]'
check "empty file has size 0" eq 0 stat -c %s empty

write_big() { dd if=/dev/urandom of=big bs=1M count=64 2>/dev/null; }
timed "write 64 MiB" check "write 64 MiB from /dev/urandom" write_big
check "64 MiB file has the right size" eq 67108864 stat -c %s big
sum_big=$(sha256sum big | cut -d' ' -f1)
echo "sha256 t/big $sum_big" >>"../$RES"
# Drop the guest page cache so that the read back really goes through the daemon.
sync
echo 3 >/proc/sys/vm/drop_caches
read_big() { [ "$(sha256sum big | cut -d' ' -f1)" = "$sum_big" ]; }
timed "read 64 MiB" check "read back 64 MiB, same sha256" read_big
check "cmp a copy of the 64 MiB file" sh -c 'cp big big.copy && cmp big big.copy && rm big.copy'

# --- small-file data operations ---------------------------------------------------------------
check "write a small file" sh -c 'echo line1 >small'
check "append to it" sh -c 'echo line2 >>small'
check "appended content" eq "line1 line2" sh -c 'echo $(cat small)'
check "size after append" eq 12 stat -c %s small
check "write at an offset" sh -c 'printf XY | dd of=small bs=1 seek=2 conv=notrunc 2>/dev/null'
check "content after offset write" eq "liXY1 line2" sh -c 'echo $(cat small)'
check "truncate to 3 bytes" sh -c 'truncate -s 3 small'
check "size after truncate" eq 3 stat -c %s small
check "content after truncate" eq "liX" cat small
check "extend by truncate (sparse)" sh -c 'truncate -s 1048576 small'
check "size after extension" eq 1048576 stat -c %s small
check "extension reads as zeros" eq "liX" sh -c 'tr -d "\000" <small'
echo "sha256 t/small $(sha256sum small | cut -d' ' -f1)" >>"../$RES"
check "fallocate 1 MiB" fallocate -l 1048576 falloc
check "size after fallocate" eq 1048576 stat -c %s falloc
check "fallocated blocks are allocated" sh -c '[ "$(stat -c %b falloc)" -ge 2048 ]'

# --- names ------------------------------------------------------------------------------------
check "rename a file" sh -c 'echo moved >before && mv before after'
check "old name gone after rename" sh -c '[ ! -e before ]'
check "new name has the content" eq moved cat after
check "rename over an existing file" sh -c 'echo new >src && echo old >dst && mv src dst'
check "replaced file content" eq new cat dst
check "hard link" sh -c 'echo linked >orig && ln orig hl'
check "link count is 2" eq 2 stat -c %h orig
check "hard link shares the inode" eq "$(stat -c %i orig)" stat -c %i hl
check "unlink one name" rm hl
check "link count back to 1" eq 1 stat -c %h orig
check "symbolic link" ln -s some/target sl
check "readlink" eq some/target readlink sl
check "symlink file type" eq "symbolic link" stat -c %F sl
check "lstat size of symlink" eq 11 stat -c %s sl
check "symlink to a file follows" sh -c 'ln -s orig sl2 && [ "$(cat sl2)" = linked ]'
check "mkdir nested" mkdir -p d1/d2/d3
check "directory type" eq directory stat -c %F d1/d2
check "rmdir non-empty fails" sh -c '! rmdir d1 2>/dev/null'
check "rmdir nested" sh -c 'rmdir d1/d2/d3 d1/d2 d1 && [ ! -e d1 ]'
check "mkdir kept" mkdir keep

# --- readdir ----------------------------------------------------------------------------------
make_many() {
	mkdir many || return 1
	i=0
	while [ $i -lt 2000 ]; do
		: >"many/f$i" || return 1
		i=$((i + 1))
	done
}
timed "create 2000 files" check "create 2000 files" make_many
timed "readdir 2000" check "readdir counts 2000 entries" eq 2000 sh -c 'ls many | wc -l'
check "readdir with . and .." eq 2002 sh -c 'ls -a many | wc -l'
check "a name from the middle is found" sh -c '[ -e many/f1234 ]'

# --- attributes -------------------------------------------------------------------------------
check "chmod 640" sh -c 'echo attrs >attr && chmod 640 attr'
check "mode is 640" eq 640 stat -c %a attr
check "chmod 4755 (setuid bit kept by chmod)" sh -c 'chmod 4755 attr'
check "mode is 4755" eq 4755 stat -c %a attr
check "chmod back to 640" chmod 640 attr
check "chown 1234:5678" chown 1234:5678 attr
check "owner is 1234:5678" eq 1234:5678 stat -c %u:%g attr
check "touch -d sets mtime" touch -d "2001-02-03 04:05:06" attr
check "mtime is 981173106" eq 981173106 stat -c %Y attr
check "directory chmod 700" sh -c 'chmod 700 keep && [ "$(stat -c %a keep)" = 700 ]'

# --- statfs, special files --------------------------------------------------------------------
check "statfs reports blocks" sh -c '[ "$(stat -f -c %b .)" -gt 0 ]'
check "statfs block size" sh -c '[ "$(stat -f -c %S .)" -gt 0 ]'
check "df works on the share" sh -c 'df /mnt | tail -n1 | grep -q /mnt'
check "mkfifo" mkfifo fifo
check "fifo file type" eq fifo stat -c %F fifo
check "fifo mode" eq 644 stat -c %a fifo

# --- unlink -----------------------------------------------------------------------------------
check "create then unlink" sh -c 'echo gone >doomed && rm doomed && [ ! -e doomed ]'
check "unlink missing file fails" sh -c '! rm doomed 2>/dev/null'
check "open-unlinked file still readable" sh -c 'echo still >ou && exec 3<ou && rm ou && read -r x <&3 && [ "$x" = still ]'

# Normalised stat lines: what both daemons must agree on (no inode numbers, no times except the
# one set explicitly).
for f in $(ls -a | sort); do
	[ "$f" = . ] || [ "$f" = .. ] || [ "$f" = many ] && continue
	echo "stat: $(stat -c '%n|%F|%a|%h|%u|%g' "$f")|$( [ -d "$f" ] || stat -c %s "$f")"
done
echo "stat: attr mtime $(stat -c %Y attr)"
echo "stat: statfs type $(stat -f -c %t .)"

cd ..
# The expected tree, for the host to check after the guest powers off.
{
	echo "type t/big file"
	echo "size t/big 67108864"
	echo "type t/small file"
	echo "size t/falloc 1048576"
	echo "size t/small 1048576"
	echo "content t/after moved"
	echo "content t/dst new"
	echo "links t/orig 1"
	echo "symlink t/sl some/target"
	echo "absent t/before"
	echo "absent t/hl"
	echo "absent t/d1"
	echo "absent t/doomed"
	echo "absent t/ou"
	echo "type t/keep directory"
	echo "mode t/keep 700"
	echo "count t/many 2000"
	echo "mode t/attr 640"
	echo "owner t/attr 1234:5678"
	echo "mtime t/attr 981173106"
	echo "type t/fifo fifo"
} >>"$RES"
sync

echo "# time guest total: $(elapsed "$start")s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
