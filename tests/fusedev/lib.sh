# Shared by the /dev/fuse test scripts (sourced, not run).

# Skips (exit 77, meson's skip code) loudly without root or /dev/fuse.
fusedev_require() {
	if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
		echo "SKIP: needs root and /dev/fuse"
		exit 77
	fi
}

# fusedev_wait_mount MNT PID [TRIES]: 0 once MNT is a FUSE mount; 1 when the daemon PID has
# died or TRIES x 50 ms have gone by (default 100).
fusedev_wait_mount() {
	local mnt=$1 pid=$2 tries=${3:-100}
	for _ in $(seq "$tries"); do
		grep -q " $mnt fuse" /proc/mounts && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# fusedev_teardown PID MNT: stops the daemon (PID may be empty) and detaches MNT if mounted.
fusedev_teardown() {
	if [ -n "$1" ]; then
		kill "$1" 2>/dev/null
		wait "$1" 2>/dev/null
	fi
	mountpoint -q "$2" 2>/dev/null && umount -l "$2"
}
