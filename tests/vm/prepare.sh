#!/bin/bash
# Prepares the VM test assets: a Debian cloud kernel and a busybox initramfs holding the
# virtio-fs modules and tests/vm/guest-init.sh as /init.
# Idempotent: everything is cached in $VM_CACHE (default <repo>/.vmcache, gitignored), and a
# stamp records the inputs, so a second run does nothing.
#
# Usage: tests/vm/prepare.sh [--force] [--kernel 6.12]
#   --kernel 6.12  the Linux 6.12 cloud kernel of Debian 13 instead (fetched by scripts/peers.sh
#                  into $PEER_CACHE); virtio-fs is built into it, so the initramfs has no modules
# Output: $VM_CACHE/vmlinuz and $VM_CACHE/initramfs.cpio.gz (Debian 12's kernel), or
#         $VM_CACHE/k6.12/vmlinuz and $VM_CACHE/k6.12/initramfs.cpio.gz (--kernel 6.12)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${VM_CACHE:-$repo/.vmcache}
force=0 kernel=6.1
while [ $# -gt 0 ]; do
	case "$1" in
	--force) force=1 ;;
	--kernel) kernel=${2:?}; shift ;;
	--kernel=*) kernel=${1#*=} ;;
	*) echo "prepare.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
case "$kernel" in
6.1 | 6.12) ;;
*) echo "prepare.sh: --kernel takes 6.1 (Debian 12's, the default) or 6.12 (Debian 13's)" >&2; exit 2 ;;
esac

die() { echo "prepare.sh: $*" >&2; exit 1; }
log() { echo "prepare.sh: $*" >&2; }

# Packages are installed only when the tool they bring is missing: this script is meant to work
# on a fresh machine (CI) as well as on a developer's.
ensure_packages() {
	local missing=()
	command -v cpio >/dev/null || missing+=(cpio)
	command -v xz >/dev/null || missing+=(xz-utils)
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	command -v dpkg-deb >/dev/null || missing+=(dpkg)
	command -v depmod >/dev/null || missing+=(kmod)
	if [ ! -x /bin/busybox ] || ! dpkg -s busybox-static >/dev/null 2>&1; then
		missing+=(busybox-static)
	fi
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]} and not root to install them"
	log "installing missing packages: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		"${missing[@]}" >&2; then
		apt-get update >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
	fi
}

# apt-get download, retrying once after apt-get update (a fresh machine may have no lists, or
# stale ones naming a version the mirror no longer has).
apt_download() {
	local pkg=$1
	(cd "$cache/debs" && apt-get download "$pkg" >&2 2>/dev/null) && return 0
	log "apt-get download $pkg failed; running apt-get update and retrying"
	apt-get update >&2 || die "apt-get update failed"
	(cd "$cache/debs" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed"
}

# The meta package only depends on the versioned image package: read that name from it.
fetch_kernel_deb() {
	mkdir -p "$cache/debs"
	rm -f "$cache"/debs/linux-image-cloud-amd64_*.deb
	apt_download linux-image-cloud-amd64
	local meta real
	meta=$(ls "$cache"/debs/linux-image-cloud-amd64_*.deb | head -n1)
	real=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' |
		head -n1)
	[ -n "$real" ] || die "cannot find the versioned kernel package in the Depends of $meta"
	if ! ls "$cache/debs/${real}"_*.deb >/dev/null 2>&1; then
		log "downloading $real"
		apt_download "$real"
	fi
	ls "$cache/debs/${real}"_*.deb | head -n1
}

# Appends to mod_order the module paths (relative to the modules dir) of $1 and its
# dependencies, dependencies first, each once. Built-in modules add nothing.
declare -A seen=()
mod_order=()
resolve_module() {
	local name=$1 moddir=$2 line path deps dep
	[ -n "${seen[$name]:-}" ] && return 0
	seen[$name]=1
	if grep -qE "/${name}\.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
		log "module $name is built in"
		return 0
	fi
	line=$(grep -E "/${name}\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" | head -n1) ||
		die "module $name is neither built in nor in $moddir/modules.dep"
	path=${line%%:*}
	deps=${line#*:}
	for dep in $deps; do
		dep=$(basename "$dep")
		dep=${dep%%.ko*}
		resolve_module "$dep" "$moddir"
	done
	mod_order+=("$path")
}

# Copies a module into the initramfs, decompressed: busybox insmod cannot read .ko.xz/.ko.zst.
install_module() {
	local src=$1 dstdir=$2 base
	base=$(basename "$src")
	case "$base" in
	*.ko.xz) xz -dc "$src" >"$dstdir/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$src" >"$dstdir/${base%.zst}"; base=${base%.zst} ;;
	*.ko.gz) gzip -dc "$src" >"$dstdir/${base%.gz}"; base=${base%.gz} ;;
	*.ko) cp "$src" "$dstdir/$base" ;;
	*) die "unexpected module file $src" ;;
	esac
	echo "$base"
}

build_initramfs() {
	local deb=$1 kroot=$cache/kernel-root kver moddir
	rm -rf "$kroot"
	mkdir -p "$kroot"
	dpkg-deb -x "$deb" "$kroot"
	kver=$(ls "$kroot/lib/modules" | head -n1)
	[ -n "$kver" ] || die "no lib/modules/<version> in $deb"
	moddir=$kroot/lib/modules/$kver
	# The package ships no modules.dep (depmod runs at install time): make one.
	[ -f "$moddir/modules.dep" ] || depmod -b "$kroot" "$kver" ||
		die "depmod -b $kroot $kver failed"
	assemble "$moddir" "$kroot/boot/vmlinuz-$kver" "$kver" "$cache"
	rm -rf "$kroot"
}

# Writes vmlinuz, initramfs.cpio.gz and kernel-version into $4 from the modules directory $1
# (with modules.dep and modules.builtin) and the kernel image $2 of version $3.
assemble() {
	local moddir=$1 vmlinuz=$2 kver=$3 out=$4 root=$4/initramfs-root m mod applet
	rm -rf "$root"
	cp "$vmlinuz" "$out/vmlinuz.new"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,mnt,tmp,run,root,etc,guest,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
	done
	# Device nodes for the time before devtmpfs is mounted (cpio by a non-root user cannot
	# create them; we are root here or mknod fails harmlessly).
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"

	: >"$root/lib/modules/load-order"
	seen=()
	mod_order=()
	for m in virtio_pci virtiofs; do
		resolve_module "$m" "$moddir"
	done
	for mod in "${mod_order[@]}"; do
		install_module "$moddir/$mod" "$root/lib/modules" >>"$root/lib/modules/load-order"
	done
	log "modules (load order): $(tr '\n' ' ' <"$root/lib/modules/load-order")"

	install -m 755 "$here/guest-init.sh" "$root/init"
	install -m 755 "$here/guest-test.sh" "$root/guest/guest-test.sh"
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 >"$out/initramfs.cpio.gz.new"
	mv "$out/vmlinuz.new" "$out/vmlinuz"
	mv "$out/initramfs.cpio.gz.new" "$out/initramfs.cpio.gz"
	echo "$kver" >"$out/kernel-version"
}

# The 6.12 kernel comes from scripts/peers.sh (Debian 13), in its own directory.
main_612() {
	local out=$cache/k6.12 env stamp
	mkdir -p "$out"
	env=$("$repo/scripts/peers.sh") || die "scripts/peers.sh could not fetch the 6.12 kernel"
	# shellcheck disable=SC1090
	. "$env"
	stamp=$( (cat "$0" "$here/guest-init.sh" "$here/guest-test.sh"; echo "$KERNEL612_VERSION") |
		sha256sum | cut -d' ' -f1)
	if [ $force -eq 0 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
		[ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio.gz" ]; then
		log "assets up to date in $out (kernel $(cat "$out/kernel-version"))"
		return 0
	fi
	ensure_packages
	log "building the initramfs for $KERNEL612_VERSION"
	assemble "$KERNEL612_MODULES" "$KERNEL612" "$KERNEL612_VERSION" "$out"
	echo "$stamp" >"$out/stamp"
	log "ready: $out/vmlinuz, $out/initramfs.cpio.gz (kernel $KERNEL612_VERSION)"
}

main() {
	mkdir -p "$cache"
	[ "$kernel" = 6.12 ] && { main_612; return; }
	# The stamp covers this script, /init and the baked-in guest script: change one, rebuild.
	local stamp
	stamp=$(cat "$0" "$here/guest-init.sh" "$here/guest-test.sh" | sha256sum | cut -d' ' -f1)
	if [ $force -eq 0 ] && [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$stamp" ] &&
		[ -s "$cache/vmlinuz" ] && [ -s "$cache/initramfs.cpio.gz" ]; then
		log "assets up to date in $cache (kernel $(cat "$cache/kernel-version"))"
		return 0
	fi
	ensure_packages
	local deb
	deb=$(fetch_kernel_deb)
	log "building initramfs from $(basename "$deb")"
	build_initramfs "$deb"
	echo "$stamp" >"$cache/stamp"
	log "ready: $cache/vmlinuz, $cache/initramfs.cpio.gz (kernel $(cat "$cache/kernel-version"))"
}

main
