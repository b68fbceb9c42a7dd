#!/bin/sh
# Guest half of tests/vm/migrate.sh: takes hold of files on the share (an open file, an
# appending fd, its cwd inside the share, an open-but-unlinked file, 200 looked-up files),
# prints MIGRATE-READY, keeps using the share until the host creates /mnt/go (after the
# switch-over to the destination), then uses everything it held and writes 8 MiB.
# Output: "ok N - ..." lines, "# md5 <sum>" for the 8 MiB, "N passed, N failed".
# vmtest_unlinked=0 on the kernel command line: no unlinked file (find-paths mode cannot move
# one).
pass=0 fail=0 n=0
check() {
	d=$1
	shift
	n=$((n + 1))
	if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}
unlinked=1
grep -q 'vmtest_unlinked=0' /proc/cmdline && unlinked=0

mkdir -p /mnt/cwd /mnt/many
echo "held before" >/mnt/held
exec 3</mnt/held
exec 4>>/mnt/append
echo "appended before" >&4
if [ $unlinked -eq 1 ]; then
	echo "unlinked before" >/mnt/gone
	exec 5<>/mnt/gone
	rm /mnt/gone
fi
i=0
while [ $i -lt 200 ]; do
	echo "$i" >/mnt/many/f$i
	i=$((i + 1))
done
ls -l /mnt/many >/dev/null
cd /mnt/cwd || exit 1
echo "here" >cwd-file
echo MIGRATE-READY
# Requests keep flowing while the host migrates (dirty logging under load).
t=0
while [ ! -e /mnt/go ]; do
	cat /mnt/held >/dev/null
	sleep 0.2
	t=$((t + 1))
	[ $t -lt 3000 ] || { echo "not ok - no /mnt/go within 600 s"; exit 1; }
done
echo "MIGRATE-RESUMED"
read -r line <&3
check "the open file reads on the destination" [ "$line" = "held before" ]
echo "appended after" >&4
check "the appending fd appends on the destination" \
	[ "$(cat /mnt/append)" = "$(printf 'appended before\nappended after')" ]
check "the cwd inside the share still resolves" [ "$(cat cwd-file)" = "here" ]
echo "new in cwd" >cwd-new
check "a file created relative to the cwd lands in /mnt/cwd" [ -f /mnt/cwd/cwd-new ]
if [ $unlinked -eq 1 ]; then
	read -r gone <&5
	check "the open-but-unlinked file reads on the destination" [ "$gone" = "unlinked before" ]
fi
bad=0
i=0
while [ $i -lt 200 ]; do
	[ "$(cat /mnt/many/f$i)" = "$i" ] || bad=$((bad + 1))
	i=$((i + 1))
done
check "the 200 looked-up files read back" [ $bad -eq 0 ]
dd if=/dev/urandom of=/mnt/big bs=1M count=8 2>/dev/null
sync
echo "# md5 $(md5sum /mnt/big | cut -d' ' -f1)"
check "8 MiB written after the switch-over" [ "$(wc -c </mnt/big)" -eq 8388608 ]
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
