#!/bin/sh
# Guest side of the libvirt tier (busybox ash, cwd = the virtio-fs share). Kernel command line:
#   vmtest_token=T      written to libvirt-token.txt, which the host reads back
#   vmtest_expect=plain   the daemon as libvirt starts it from a bare <filesystem>: no xattrs,
#                         shared mmap works (cache auto), locks stay in the guest
#   vmtest_expect=options <binary xattr='on'><cache mode='none'/><lock posix='on' flock='on'/>:
#                         xattrs work, shared mmap is refused (ENODEV), locks reach the host
# The lock steps hold the lock until the host, having looked at its /proc/locks, creates the
# ack file. Prints "ok - ..." / "not ok - ..." and "N passed, N failed".
tool=/guest/guest-tool
token='' expect=plain
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vmtest_token=*) token=${arg#vmtest_token=} ;;
	vmtest_expect=*) expect=${arg#vmtest_expect=} ;;
	esac
done
pass=0 fail=0
check() { # name, want (ok or an errno name), command...
	name=$1 want=$2
	shift 2
	out=$("$@" 2>&1)
	case "$want:$out" in
	ok:ok | ENOTSUP:*ENOTSUP* | ENODEV:*ENODEV*) pass=$((pass + 1)); echo "ok - $name" ;;
	*) fail=$((fail + 1)); echo "not ok - $name (want $want, got: $out)" ;;
	esac
}

rm -f libvirt-token.txt lockf posixf flock-held flock-ack posix-held posix-ack
echo "$token" >libvirt-token.txt && sync
check "write the token file on the share" ok sh -c "[ \"\$(cat libvirt-token.txt)\" = '$token' ] && echo ok"
if [ "$expect" = options ]; then
	check "xattr='on': setxattr user.libvirt" ok $tool setxattr libvirt-token.txt user.libvirt "$token"
	check "cache mode='none': shared mmap refused" ENODEV $tool mmap libvirt-token.txt
else
	check "no xattr option: setxattr refused" ENOTSUP $tool setxattr libvirt-token.txt user.libvirt "$token"
	check "cache auto: shared mmap works" ok $tool mmap libvirt-token.txt
fi
check "flock held until the host looked" ok $tool flock lockf flock-held flock-ack
check "fcntl lock held until the host looked" ok $tool posix posixf posix-held posix-ack
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
