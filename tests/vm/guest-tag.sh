#!/bin/sh
# Guest half of the --tag check (tests/vm/mq.sh): the share was mounted by the tag that only the
# daemon was given (QEMU's vhost-user-device-pci reads the config space from the daemon). The
# guest reports the tag its driver read and the request-queue count, and writes a file the host
# checks. Output: "ok N - ..." lines and "N passed, N failed".
pass=0 fail=0 n=0
check() {
	d=$1
	shift
	n=$((n + 1))
	if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}
want=$(sed -n 's/.*vmtest_tag=\([^ ]*\).*/\1/p' /proc/cmdline)
# Linux >= 6.9 lists each virtio-fs device under /sys/fs/virtiofs/<n>/tag.
if [ -d /sys/fs/virtiofs ]; then
	got=$(cat /sys/fs/virtiofs/*/tag 2>/dev/null | head -n1)
	echo "guest-tag: sysfs tag '$got', expected '$want'"
	check "the driver read tag '$want' from the device" [ "$got" = "$want" ]
else
	echo "# no /sys/fs/virtiofs (Linux < 6.9): only the mount by tag '$want' shows the tag"
fi
grep -- '-requests\.\|-hiprio\|virtqueues' /proc/interrupts | sed 's/^/# /'
check "the share is mounted from that tag" grep -q " /mnt virtiofs " /proc/mounts
echo "written through the tag $want" >/mnt/tag-check.txt
check "a file written on the share reads back" [ "$(cat /mnt/tag-check.txt)" = "written through the tag $want" ]
sync
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
