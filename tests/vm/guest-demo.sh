#!/bin/sh
# Guest side of scripts/demo.sh (busybox ash, cwd = the virtio-fs share on /mnt): shows the
# share, writes a file the host then prints.
echo "== guest: kernel $(uname -r); the host directory is mounted on /mnt:"
grep ' /mnt ' /proc/mounts
echo "== guest: ls -la /mnt"
ls -la /mnt
for f in /mnt/*.txt; do
	[ -f "$f" ] || continue
	echo "== guest: cat $f"
	cat "$f"
done
msg="Hello from the guest! Written by $(uname -n) running Linux $(uname -r) at $(date -u '+%Y-%m-%d %H:%M:%S UTC') through virtio-fs."
echo "$msg" >/mnt/hello-from-guest.txt || { echo "== guest: writing /mnt/hello-from-guest.txt FAILED"; exit 1; }
sync
echo "== guest: wrote /mnt/hello-from-guest.txt ($(stat -c %s /mnt/hello-from-guest.txt) bytes)"
[ "$(cat /mnt/hello-from-guest.txt)" = "$msg" ] || { echo "== guest: read back differs"; exit 1; }
echo "== guest: read it back: same content. Powering off."
