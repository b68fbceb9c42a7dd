#!/bin/sh
# Guest half of the ALLOW_IDMAP check (tests/vm/mq.sh): on a Linux >= 6.12 guest, an idmapped
# bind mount of the share (/guest/idmap-mount: uid and gid 0 of the share seen as 1000) works
# only when the daemon agreed FUSE_ALLOW_IDMAP. Through it, ownership shows mapped, a user 1000
# creates files that land as 0 on the host (the kernel sends the mapped creator's ids), and
# ops that carry no ids on an idmap-capable connection (rename, chmod, truncate, unlink; the
# kernel sends uid/gid -1 there) still work. Results for the host in /mnt/idm/results.txt.
# Output: "ok N - ..." lines and "N passed, N failed".
pass=0 fail=0 n=0
check() {
	d=$1
	shift
	n=$((n + 1))
	if "$@"; then pass=$((pass + 1)); echo "ok $n - $d"; else fail=$((fail + 1)); echo "not ok $n - $d"; fi
}
as_user() { su -s /bin/sh u1000 -c "$1"; }

echo 'u1000:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd
echo 'u1000:x:1000:' >>/etc/group
mkdir -p /mnt/idm /idm
echo root-owned >/mnt/idm/rootfile
chmod 755 /mnt/idm

check "idmapped mount of the share (mount_setattr MOUNT_ATTR_IDMAP)" \
	/guest/idmap-mount /mnt /idm 0 1000 1
check "a root-owned file shows as uid 1000 through it" [ "$(stat -c %u:%g /idm/idm/rootfile)" = 1000:1000 ]
check "and as uid 0 on the plain mount" [ "$(stat -c %u:%g /mnt/idm/rootfile)" = 0:0 ]
check "user 1000 cannot create in the root-owned dir on the plain mount" \
	sh -c '! su -s /bin/sh u1000 -c "echo x >/mnt/idm/plain" 2>/dev/null'
check "user 1000 creates a file through the idmapped mount" as_user 'echo by-user >/idm/idm/byuser'
check "user 1000 makes a directory through it" as_user 'mkdir /idm/idm/userdir'
check "the new file is uid 0 on the plain mount (the mapped creator)" \
	[ "$(stat -c %u:%g /mnt/idm/byuser)" = 0:0 ]
check "and uid 1000 through the idmapped one" [ "$(stat -c %u:%g /idm/idm/byuser)" = 1000:1000 ]
check "user 1000 renames it (no ids on the wire)" as_user 'mv /idm/idm/byuser /idm/idm/renamed'
check "user 1000 chmods it" as_user 'chmod 600 /idm/idm/renamed'
check "user 1000 appends to and truncates a file" \
	as_user 'echo more >>/idm/idm/renamed && truncate -s 3 /idm/idm/rootfile'
check "user 1000 unlinks" as_user 'rm /idm/idm/rootfile'
check "content as written" [ "$(cat /mnt/idm/renamed)" = "by-user
more" ]
umount /idm 2>/dev/null || echo "# umount /idm failed"
{
	echo "renamed $(stat -c '%u %g %a' /mnt/idm/renamed)"
	echo "userdir $(stat -c '%u %g' /mnt/idm/userdir)"
} >/mnt/idm/results.txt
sync
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
