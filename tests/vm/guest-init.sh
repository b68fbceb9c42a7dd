#!/bin/sh
# /init of the VM test initramfs (busybox ash, PID 1).
# Loads the virtio-fs modules, mounts the share on /mnt and runs a guest script, then powers off.
# Kernel command line knobs (read from /proc/cmdline, since dotted or unknown params are not
# reliably passed to init's environment):
#   vmtest_script=/guest/NAME   script to run (default /guest/guest-test.sh)
#   vmtest_shell=1              drop to an interactive shell instead of running the script
#   vmtest_tag=TAG              virtio-fs tag (default myfs)
# The host reads the line "VMTEST-RESULT: rc=N" from the console.

/bin/busybox mkdir -p /proc /sys /dev /mnt /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null || /bin/busybox mdev -s
/bin/busybox mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
hostname vmtest-guest

result() {
	echo "VMTEST-RESULT: rc=$1"
	sync
	poweroff -f
	# poweroff can only fail without ACPI; make the kernel panic so that QEMU (-no-reboot)
	# exits instead of hanging until the host's timeout.
	exit "$1"
}

script=/guest/guest-test.sh
tag=myfs
want_shell=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vmtest_script=*) script=${arg#vmtest_script=} ;;
	vmtest_shell=1) want_shell=1 ;;
	vmtest_tag=*) tag=${arg#vmtest_tag=} ;;
	esac
done

# Modules in dependency order, as computed on the host from modules.dep by prepare.sh.
if [ -f /lib/modules/load-order ]; then
	while read -r mod; do
		[ -n "$mod" ] || continue
		if ! insmod "/lib/modules/$mod" 2>/tmp/insmod.err; then
			# A module that a previous one already pulled in is not a failure.
			if ! grep -q 'File exists' /tmp/insmod.err; then
				echo "vmtest: insmod $mod failed: $(cat /tmp/insmod.err)"
				result 90
			fi
		fi
	done </lib/modules/load-order
fi

# The device may show up a moment after the PCI driver binds.
i=0
until mount -t virtiofs "$tag" /mnt 2>/tmp/mount.err; do
	i=$((i + 1))
	if [ "$i" -ge 20 ]; then
		echo "vmtest: mount -t virtiofs $tag /mnt failed: $(cat /tmp/mount.err)"
		result 91
	fi
	sleep 0.5
done
echo "vmtest: mounted virtiofs tag $tag on /mnt"

if [ "$want_shell" = 1 ]; then
	echo "vmtest: interactive shell; the share is on /mnt. Type 'exit' to power off."
	setsid cttyhack sh -l
	umount /mnt 2>/dev/null
	result 0
fi

if [ ! -f "$script" ]; then
	echo "vmtest: guest script $script not found in the initramfs"
	result 92
fi
cd /mnt || result 93
sh "$script"
rc=$?
cd /
sync
umount /mnt 2>/dev/null || echo "vmtest: umount /mnt failed"
result "$rc"
