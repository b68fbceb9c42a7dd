#!/bin/bash
# The "main job" demo: a VM mounts a host directory through our virtio-fs daemon.
# Installs what it needs (Debian packages), builds the daemon if build/virtiofsd is missing,
# prepares a guest kernel + busybox initramfs, starts the daemon on the directory, boots QEMU;
# the guest lists the share and writes hello-from-guest.txt, which is then printed from the host.
#
# Usage: bash scripts/demo.sh [--shell] [--legacy | --daemon PATH] [HOST_DIR]
#   HOST_DIR   directory to share (default: ./demo-share, created if missing)
#   --shell    an interactive busybox shell in the guest instead (the share is on /mnt;
#              'exit' powers the guest off; Ctrl-A x quits QEMU)
#   --legacy   serve the share with the legacy daemon /usr/lib/qemu/virtiofsd instead of ours
#   --daemon PATH  our daemon from another build folder (default: build/virtiofsd, built if missing)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
share=./demo-share shell=0 legacy=0 daemon=
while [ $# -gt 0 ]; do
	case "$1" in
	--shell) shell=1 ;;
	--legacy) legacy=1 ;;
	--daemon) daemon=${2:?--daemon needs a path}; shift ;;
	--daemon=*) daemon=${1#*=} ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "demo.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	*) share=$1 ;;
	esac
	shift
done
say() { echo "demo.sh: $*" >&2; }
die() { echo "demo.sh: $*" >&2; exit 1; }

# 1. Packages: only the missing ones, only when needed.
need=(meson ninja-build gcc pkg-config libcmocka-dev qemu-system-x86 busybox-static cpio xz-utils kmod)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}; run as root to install them"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
		apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	} || die "apt-get install ${missing[*]} failed"
fi

# 2. The daemon.
if [ -n "$daemon" ]; then
	[ -x "$daemon" ] || die "--daemon '$daemon' is not an executable"
	daemon=$(cd "$(dirname "$daemon")" && pwd)/$(basename "$daemon")
fi
[ -n "$daemon" ] || daemon=$repo/build/virtiofsd
if [ $legacy -eq 0 ] && [ ! -x "$daemon" ]; then
	say "building the daemon (meson setup build && ninja -C build)"
	[ -f "$repo/build/build.ninja" ] || meson setup "$repo/build" "$repo" >/dev/null ||
		die "meson setup build failed"
	ninja -C "$repo/build" virtiofsd >/dev/null || die "ninja -C build failed"
	[ -x "$daemon" ] || die "the build did not produce $daemon"
fi

# 3. Guest kernel and initramfs (cached in .vmcache).
"$repo/tests/vm/prepare.sh"

# 4. The host directory.
mkdir -p "$share" || die "cannot create the share directory '$share'"
share=$(cd "$share" && pwd)
rm -f "$share/hello-from-guest.txt"
[ -e "$share/hello-from-host.txt" ] ||
	echo "Hello from the host ($(hostname)), written before the VM booted." >"$share/hello-from-host.txt"
say "sharing $share with the guest (tag myfs) through $([ $legacy -eq 1 ] && echo the legacy daemon || echo "$daemon")"

# 5. Boot.
args=(--share "$share" --timeout 600)
[ $legacy -eq 1 ] && args+=(--legacy) || args+=(--daemon "$daemon")
if [ $shell -eq 1 ]; then
	say "interactive guest: the share is on /mnt; type 'exit' to power off"
	exec "$repo/tests/vm/run-vm.sh" "${args[@]}" --shell
fi
st=0
"$repo/tests/vm/run-vm.sh" "${args[@]}" --script "$repo/tests/vm/guest-demo.sh" || st=$?

# 6. The proof, from the host side.
if [ -f "$share/hello-from-guest.txt" ]; then
	echo
	echo "== host: $share now holds:"
	ls -la "$share"
	echo "== host: cat $share/hello-from-guest.txt"
	cat "$share/hello-from-guest.txt"
fi
[ $st -eq 0 ] || die "the VM run failed (status $st)"
[ -f "$share/hello-from-guest.txt" ] || die "the guest's file did not appear in $share"
say "done: the guest wrote a file through virtio-fs and the host reads it"
