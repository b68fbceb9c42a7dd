#!/bin/bash
# Fetches the peers the tests and the benchmark compare against, on a Debian 12 machine, without
# touching the system's apt sources:
#   - the Rust virtiofsd of Debian 13 (trixie), with trixie's libc6, libseccomp2, libcap-ng0 and
#     libgcc-s1 beside it, run through trixie's own loader;
#   - QEMU 10 from bookworm-backports (qemu-system-x86, -common, -data of one version), unpacked,
#     its library dependencies installed on the system from bookworm;
#   - the Linux 6.12 cloud kernel of trixie: vmlinuz and its modules.
# The archive's address is read from /etc/apt/sources.list.d/ at run time; apt runs with a
# private sources list and state directory under the cache.
#
# Usage: scripts/peers.sh [--force] [--print]
#   --force   fetch again even when the stamp says the cache is complete
#   --print   only print the env file's path when the cache is complete (exit 1 otherwise)
# Cache: $PEER_CACHE (default <repo>/.peercache, gitignored). Idempotent: a stamp of this script
# and of the chosen versions makes a second run a no-op.
# Output (stdout): the path of $PEER_CACHE/peers.env, a sourceable file setting
#   RUST_VIRTIOFSD  wrapper running the Rust daemon (takes the daemon's arguments)
#   QEMU10          wrapper running qemu-system-x86_64 10.x with its -L data directory
#   QEMU10_DATA     that data directory (usr/share/qemu of the unpacked packages)
#   KERNEL612       the 6.12 vmlinuz
#   KERNEL612_MODULES  its modules directory, usr/lib/modules/<version> (modules.dep, .builtin)
#   KERNEL612_VERSION  that <version>
# Exit status 0 when everything was fetched; 1 with a message naming what could not be.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${PEER_CACHE:-$repo/.peercache}
force=0 print_only=0
for a in "$@"; do
	case "$a" in
	--force) force=1 ;;
	--print) print_only=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "peers.sh: unknown option '$a' (see --help)" >&2; exit 2 ;;
	esac
done

die() { echo "peers.sh: $*" >&2; exit 1; }
log() { echo "peers.sh: $*" >&2; }
# A command failing under set -e says where, rather than ending the script silently.
trap 'echo "peers.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# Library packages QEMU 10 from bookworm-backports links against beyond what qemu 7.2 needs.
QEMU_LIBS=(libbpf1 libcapstone4 libfuse3-3 libpmem1 liburing2 libvdeplug2 libibverbs1 librdmacm1)
# Trixie packages unpacked beside the Rust daemon so that it runs with trixie's loader.
RUST_LIBS=(libc6 libseccomp2 libcap-ng0 libgcc-s1)

# The Debian archive's URI: the first enabled deb822 "URIs:" (or one-line "deb") entry whose
# suites include bookworm itself (not -security, which lives elsewhere).
archive_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk '
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { if (u != "" && s ~ /(^| )bookworm( |$)/) { print u; exit } u = ""; s = ""; next }
			tolower($1) == "uris:" { u = $2 }
			tolower($1) == "suites:" { $1 = ""; s = $0 " " }
			END { if (u != "" && s ~ /(^| )bookworm( |$)/) print u }' "$f" | head -n1)
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
		[ -f "$f" ] || continue
		uri=$(sed -n 's/^[ \t]*deb[ \t]\+\(\[[^]]*\][ \t]\+\)\?\([^ \t]\+\)[ \t]\+bookworm[ \t].*/\2/p' "$f" |
			head -n1)
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	return 1
}

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
apt_opts=()
setup_apt() {
	local uri=$1 a=$cache/apt
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/etc"
	: >"$a/status"
	{
		echo "deb [signed-by=$keyring] $uri trixie main"
		echo "deb [signed-by=$keyring] $uri bookworm-backports main"
	} >"$a/sources.list"
	apt_opts=(-o "Dir::Etc::sourcelist=$a/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o "Dir::State::status=$a/status"
		-o Dir::Etc::preferencesparts=- -o Dir::Etc::preferences=/dev/null
		-o APT::Sandbox::User=root -o Acquire::Languages=none -o Debug::NoLocking=1)
}

apt_update() {
	log "apt-get update (private lists: trixie, bookworm-backports)"
	apt-get "${apt_opts[@]}" -q update >"$cache/apt/update.log" 2>&1 ||
		{ tail -n 20 "$cache/apt/update.log" >&2; die "apt-get update of trixie and bookworm-backports failed (log: $cache/apt/update.log)"; }
}

# Every version of package $1 in suite $2 (by the Release's codename/suite), newest first.
versions_in() {
	local pkg=$1 suite=$2
	apt-cache "${apt_opts[@]}" madison "$pkg" 2>/dev/null |
		awk -F'|' -v s="$suite" '{ v = $2; gsub(/ /, "", v) }
			$3 ~ (" " s "/main ") { print v }' | sort -u
}

# Newest version of $1 in $2, sorted by dpkg's ordering.
newest_in() {
	local best='' v
	for v in $(versions_in "$1" "$2"); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
	done
	echo "$best"
}

download() { # pkg version dir
	local pkg=$1 ver=$2 dir=$3
	mkdir -p "$dir"
	(cd "$dir" && apt-get "${apt_opts[@]}" -q download "$pkg=$ver" >>"$cache/apt/download.log" 2>&1) ||
		{ tail -n 5 "$cache/apt/download.log" >&2; die "could not download $pkg=$ver"; }
	ls "$dir/${pkg}_"*.deb >/dev/null 2>&1 || die "apt-get download $pkg=$ver left no .deb in $dir"
}

fetch_rust() {
	local d=$cache/rust-virtiofsd root ver lib v
	ver=$(newest_in virtiofsd trixie)
	[ -n "$ver" ] || die "no virtiofsd package in trixie: cannot fetch the Rust virtiofsd"
	log "Rust virtiofsd $ver (trixie)"
	rm -rf "$d"
	mkdir -p "$d/debs"
	download virtiofsd "$ver" "$d/debs"
	for lib in "${RUST_LIBS[@]}"; do
		v=$(newest_in "$lib" trixie)
		[ -n "$v" ] || die "no $lib in trixie: cannot run the Rust virtiofsd"
		download "$lib" "$v" "$d/debs"
	done
	root=$d/root
	for lib in "$d"/debs/*.deb; do dpkg-deb -x "$lib" "$root"; done
	local bin
	bin=$(find "$root" -type f -name virtiofsd -perm -u+x | head -n1)
	[ -n "$bin" ] || die "the virtiofsd package of trixie holds no virtiofsd executable"
	# Everything the daemon loads, in one directory with the loader.
	mkdir -p "$d/lib"
	cp -a "$root"/usr/lib/x86_64-linux-gnu/*.so* "$d/lib/" 2>/dev/null || true
	cp -a "$root"/lib/x86_64-linux-gnu/*.so* "$d/lib/" 2>/dev/null || true
	cp "$bin" "$d/lib/virtiofsd"
	[ -e "$d/lib/ld-linux-x86-64.so.2" ] || die "trixie's libc6 has no ld-linux-x86-64.so.2"
	cat >"$d/virtiofsd" <<-'EOF'
	#!/bin/sh
	# The Rust virtiofsd of Debian 13, run by Debian 13's loader with its libraries (peers.sh).
	d=$(dirname "$(readlink -f "$0")")/lib
	exec "$d/ld-linux-x86-64.so.2" --library-path "$d" "$d/virtiofsd" "$@"
	EOF
	chmod 755 "$d/virtiofsd"
	"$d/virtiofsd" --version >"$d/version" 2>&1 ||
		{ cat "$d/version" >&2; die "the Rust virtiofsd does not run through its wrapper $d/virtiofsd"; }
	echo "$ver" >"$d/package-version"
}

install_qemu_libs() {
	local missing=() p
	for p in "${QEMU_LIBS[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "QEMU 10 needs ${missing[*]} (bookworm) and we are not root to install them"
	log "installing QEMU 10's libraries from bookworm: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
		apt-get update >&2 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed: QEMU 10 cannot run"
	fi
}

fetch_qemu() {
	local d=$cache/qemu10 ver='' v p
	# The newest 10.x version of qemu-system-x86 that -common and -data also have.
	for v in $(versions_in qemu-system-x86 bookworm-backports); do
		case "$v" in *:10.*) ;; *) continue ;; esac
		versions_in qemu-system-common bookworm-backports | grep -qxF "$v" || continue
		versions_in qemu-system-data bookworm-backports | grep -qxF "$v" || continue
		if [ -z "$ver" ] || dpkg --compare-versions "$v" gt "$ver"; then ver=$v; fi
	done
	[ -n "$ver" ] || die "bookworm-backports offers no QEMU 10 version that qemu-system-x86, qemu-system-common and qemu-system-data share"
	log "QEMU $ver (bookworm-backports)"
	install_qemu_libs
	rm -rf "$d"
	mkdir -p "$d/debs"
	for p in qemu-system-x86 qemu-system-common qemu-system-data; do
		download "$p" "$ver" "$d/debs"
		dpkg-deb -x "$d/debs/${p}_"*.deb "$d/root"
	done
	[ -x "$d/root/usr/bin/qemu-system-x86_64" ] || die "qemu-system-x86 $ver holds no usr/bin/qemu-system-x86_64"
	[ -d "$d/root/usr/share/qemu" ] || die "qemu-system-data $ver holds no usr/share/qemu"
	cat >"$d/qemu-system-x86_64" <<-'EOF'
	#!/bin/sh
	# QEMU 10 from bookworm-backports, unpacked by peers.sh, with its own firmware and ROMs.
	r=$(dirname "$(readlink -f "$0")")/root
	# Its own modules first. A module it lacks (audio-pa, ui-opengl: packages not unpacked) is
	# looked for in the system QEMU's directory too, and one of another build makes it abort:
	# an explicit silent audio back-end keeps it from probing for the default one.
	QEMU_MODULE_DIR=$r/usr/lib/x86_64-linux-gnu/qemu
	export QEMU_MODULE_DIR
	exec "$r/usr/bin/qemu-system-x86_64" -L "$r/usr/share/qemu" -L "$r/usr/share/seabios" \
		-audiodev none,id=peers-noaudio "$@"
	EOF
	chmod 755 "$d/qemu-system-x86_64"
	"$d/qemu-system-x86_64" --version >"$d/version" 2>&1 ||
		{ cat "$d/version" >&2; die "QEMU 10 does not run through its wrapper $d/qemu-system-x86_64 (missing library?)"; }
	grep -q 'version 10\.' "$d/version" || die "unexpected QEMU version: $(head -n1 "$d/version")"
	echo "$ver" >"$d/package-version"
}

fetch_kernel() {
	local d=$cache/kernel612 meta real ver kver
	meta=$(newest_in linux-image-cloud-amd64 trixie)
	[ -n "$meta" ] || die "no linux-image-cloud-amd64 in trixie: cannot fetch the 6.12 kernel"
	rm -rf "$d"
	mkdir -p "$d/debs"
	download linux-image-cloud-amd64 "$meta" "$d/debs"
	real=$(dpkg-deb -f "$d"/debs/linux-image-cloud-amd64_*.deb Depends | tr ',|' '\n\n' |
		sed -n 's/^ *\(linux-image-6\.12[^ ]*-cloud-amd64\).*/\1/p' | head -n1)
	[ -n "$real" ] || die "linux-image-cloud-amd64 $meta of trixie depends on no linux-image-6.12*-cloud-amd64"
	ver=$(newest_in "$real" trixie)
	[ -n "$ver" ] || die "no version of $real in trixie"
	log "kernel $real $ver (trixie)"
	download "$real" "$ver" "$d/debs"
	dpkg-deb -x "$d/debs/${real}_"*.deb "$d/root"
	# Trixie is merged-/usr: the modules are under usr/lib/modules.
	local mroot=$d/root/usr/lib/modules
	[ -d "$mroot" ] || mroot=$d/root/lib/modules
	kver=$(ls "$mroot" 2>/dev/null | head -n1 || true)
	[ -n "$kver" ] || die "$real holds no usr/lib/modules/<version>"
	[ -s "$d/root/boot/vmlinuz-$kver" ] || die "$real holds no boot/vmlinuz-$kver"
	cp "$d/root/boot/vmlinuz-$kver" "$d/vmlinuz"
	ln -sfn "${mroot#"$d/"}/$kver" "$d/modules"
	# The package ships no modules.dep: depmod writes it at install time.
	if [ ! -f "$mroot/$kver/modules.dep" ]; then
		[ "$mroot" = "$d/root/lib/modules" ] || { mkdir -p "$d/root/lib"; ln -sfn ../usr/lib/modules "$d/root/lib/modules"; }
		depmod -b "$d/root" "$kver" || die "depmod -b $d/root $kver failed"
	fi
	echo "$kver" >"$d/kernel-version"
	echo "$ver" >"$d/package-version"
}

write_env() {
	local kver
	kver=$(cat "$cache/kernel612/kernel-version")
	cat >"$cache/peers.env.new" <<-EOF
	# Written by scripts/peers.sh; source it.
	RUST_VIRTIOFSD=$cache/rust-virtiofsd/virtiofsd
	RUST_VIRTIOFSD_VERSION=$(cat "$cache/rust-virtiofsd/package-version")
	QEMU10=$cache/qemu10/qemu-system-x86_64
	QEMU10_DATA=$cache/qemu10/root/usr/share/qemu
	QEMU10_VERSION=$(cat "$cache/qemu10/package-version")
	KERNEL612=$cache/kernel612/vmlinuz
	KERNEL612_MODULES=$cache/kernel612/modules
	KERNEL612_VERSION=$kver
	EOF
	mv "$cache/peers.env.new" "$cache/peers.env"
}

stamp_now() { cat "$0" | sha256sum | cut -d' ' -f1; }

complete() {
	[ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$(stamp_now)" ] && [ -s "$cache/peers.env" ] &&
		[ -x "$cache/rust-virtiofsd/virtiofsd" ] && [ -x "$cache/qemu10/qemu-system-x86_64" ] &&
		[ -s "$cache/kernel612/vmlinuz" ]
}

main() {
	if [ $print_only -eq 1 ]; then
		complete || exit 1
		echo "$cache/peers.env"
		return 0
	fi
	mkdir -p "$cache"
	cache=$(cd "$cache" && pwd)
	# Two runs on one cache (parallel test scripts) take turns.
	exec 9>"$cache/.lock"
	flock 9
	if [ $force -eq 0 ] && complete; then
		# QEMU's libraries are on the system, not in the cache: a restored cache may lack them.
		install_qemu_libs
		log "peers up to date in $cache"
		echo "$cache/peers.env"
		return 0
	fi
	command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
	command -v depmod >/dev/null || {
		[ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y kmod >&2
	} || die "depmod (kmod) not found"
	local uri
	uri=$(archive_uri) || die "no Debian archive for bookworm in /etc/apt/sources.list.d/ or /etc/apt/sources.list"
	[ -r "$keyring" ] || die "$keyring not found (package debian-archive-keyring)"
	rm -f "$cache/stamp"
	setup_apt "$uri"
	apt_update
	fetch_rust
	fetch_qemu
	fetch_kernel
	write_env
	stamp_now >"$cache/stamp"
	log "ready: $(head -n1 "$cache/rust-virtiofsd/version"), $(head -n1 "$cache/qemu10/version"), kernel $(cat "$cache/kernel612/kernel-version")"
	echo "$cache/peers.env"
}

main
