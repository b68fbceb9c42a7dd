#!/usr/bin/env bash
# The Debian package, built from the tree: dpkg-buildpackage -b, its control fields (provides,
# replaces and conflicts with virtiofsd) and paths (those of Debian 13's virtiofsd package,
# fetched with a private apt state), lintian without errors, and an install into a scratch root
# (dpkg --root) made to look like Debian 12: QEMU's own virtiofsd and its JSON are diverted and
# come back at purge, and Debian 13's virtiofsd is refused beside ours.
# Installs what it needs (dpkg-dev, debhelper, lintian, the build dependencies). Needs root.
# With DEB_OUT_DIR set, the built .deb is copied there (for tests/libvirt/test_libvirt.sh --deb).
# Ends with "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "test_deb.sh: needs root (apt-get, dpkg --root)" >&2; exit 77; }
tmp=$(mktemp -d /tmp/i9-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/tap.sh
. "$here/../tap.sh"
TAP_OUT=$tmp/out TAP_TAIL=600

need=(dpkg-dev debhelper lintian python3)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "test_deb.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cd "$repo" || exit 1
version=$(sed -n "s/^  version : '\(.*\)',$/\1/p" meson.build)
compat=$(sed -n "s/^rust_compat_version = '\(.*\)'$/\1/p" meson.build)
check "meson.build gives our version ($version) and the Rust one ($compat)" test -n "$version" -a -n "$compat"

# --- build, from a copy of the tree (dpkg-buildpackage writes into the parent folder) ---------
src=$tmp/virtiofsd-c-$version
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -P --parents -t "$src" 2>"$tmp/cp.err" ||
	{ nok "copy the tree: $(cat "$tmp/cp.err")"; finish; }
check "build dependencies installed (dpkg-checkbuilddeps)" sh -c "cd '$src' && dpkg-checkbuilddeps"
if ! (cd "$src" && dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
	nok "dpkg-buildpackage -b -us -uc"; tail -30 "$tmp/build.log"; finish
fi
ok "dpkg-buildpackage -b -us -uc"
deb=$(ls "$tmp"/virtiofsd-c_"$version"_*.deb 2>/dev/null | head -1)
check "the package is virtiofsd-c_${version}_ARCH.deb" test -f "$deb"
[ -f "$deb" ] || finish
[ -n "${DEB_OUT_DIR:-}" ] && cp "$deb" "$DEB_OUT_DIR/"

# --- control fields ------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: virtiofsd-c" test "$(field Package)" = virtiofsd-c
check "Version: $version (meson's)" test "$(field Version)" = "$version"
check "Provides: virtiofsd (= $compat)" test "$(field Provides)" = "virtiofsd (= $compat)"
check "Conflicts: virtiofsd" test "$(field Conflicts)" = virtiofsd
check "Replaces: virtiofsd" test "$(field Replaces)" = virtiofsd
check "Depends on libseccomp and libcap-ng (shlibs)" sh -c "dpkg-deb -f '$deb' Depends | grep -q libseccomp2 && dpkg-deb -f '$deb' Depends | grep -q libcap-ng0"
check "dpkg-deb -I shows preinst and postrm (the diversions)" sh -c "dpkg-deb -I '$deb' | grep -q preinst && dpkg-deb -I '$deb' | grep -q postrm"

# --- contents ------------------------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{ p = $6; if ($7 == "->") p = p " -> " $8; print substr($1, 1, 1) " " p }' |
	sed 's|/$||' >"$tmp/ours.txt"
has() { grep -qxF -- "$1" "$tmp/ours.txt"; }
check "ships ./usr/libexec/virtiofsd" has "- ./usr/libexec/virtiofsd"
check "ships ./usr/lib/qemu/virtiofsd -> ../../libexec/virtiofsd" has "l ./usr/lib/qemu/virtiofsd -> ../../libexec/virtiofsd"
check "ships ./usr/share/qemu/vhost-user/50-virtiofsd.json" has "- ./usr/share/qemu/vhost-user/50-virtiofsd.json"
check "ships virtiofsd(1)" has "- ./usr/share/man/man1/virtiofsd.1.gz"
check "the daemon is mode 0755" sh -c "dpkg-deb -c '$deb' | grep -q '^-rwxr-xr-x root/root .* ./usr/libexec/virtiofsd$'"

# Debian 13's virtiofsd, fetched with a private sources list (the archive address is read from
# this machine's apt configuration) into $tmp only: ours must ship every path it ships, except
# its own doc folder, and a JSON with the same type and binary.
fetch_trixie() {
	local uri st=$tmp/apt
	uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	[ -n "$uri" ] || uri=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
	[ -n "$uri" ] || { echo "no archive address in /etc/apt"; return 1; }
	mkdir -p "$st/lists/partial" "$st/cache/archives/partial" "$tmp/trixie"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" >"$st/sources.list"
	local o=(-o "Dir::Etc::sourcelist=$st/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$st/lists" -o "Dir::Cache=$st/cache" -o APT::Sandbox::User=root)
	apt-get "${o[@]}" update -qq && (cd "$tmp/trixie" && apt-get "${o[@]}" download virtiofsd)
}
if fetch_trixie >"$tmp/apt.log" 2>&1 && ref=$(ls "$tmp"/trixie/virtiofsd_*.deb 2>/dev/null | head -1) && [ -n "$ref" ]; then
	ok "fetched Debian 13's $(basename "$ref")"
	dpkg-deb -c "$ref" | awk '{ p = $6; if ($7 == "->") p = p " -> " $8; print substr($1, 1, 1) " " p }' |
		sed 's|/$||' | grep -v '/usr/share/doc/virtiofsd' >"$tmp/theirs.txt"
	check "ours ships every path of Debian 13's virtiofsd (but its doc folder), same kind" \
		sh -c "! grep -vxF -f '$tmp/ours.txt' '$tmp/theirs.txt'"
	mkdir -p "$tmp/x-ref" "$tmp/x-ours"
	dpkg-deb -x "$ref" "$tmp/x-ref" && dpkg-deb -x "$deb" "$tmp/x-ours"
	check "the JSON has the same type and binary as Debian 13's" python3 - \
		"$tmp/x-ref/usr/share/qemu/vhost-user/50-virtiofsd.json" \
		"$tmp/x-ours/usr/share/qemu/vhost-user/50-virtiofsd.json" <<'PY'
import json, sys
ref, ours = (json.load(open(p)) for p in sys.argv[1:3])
for k in ('type', 'binary'):
    assert ref[k] == ours[k], f'{k}: Debian 13 has {ref[k]!r}, ours {ours[k]!r}'
PY
else
	nok "fetch Debian 13's virtiofsd for the comparison: $(tail -5 "$tmp/apt.log")"
fi

# --- lintian -------------------------------------------------------------------------------
changes=$(ls "$tmp"/virtiofsd-c_"$version"_*.changes | head -1)
lintian --info "$changes" >"$tmp/lintian.log" 2>&1
lst=$?
grep -E '^[EWI]: ' "$tmp/lintian.log" | sed 's/^/  lintian| /'
nerr=$(grep -c '^E: ' "$tmp/lintian.log")
check "lintian: no errors ($nerr), exit status 0 ($lst)" test "$nerr" -eq 0 -a "$lst" -eq 0
# ... and lintian does see errors: the same package without its copyright file.
mkdir -p "$tmp/broken"
dpkg-deb -R "$deb" "$tmp/broken/pkg" && rm -f "$tmp/broken/pkg/usr/share/doc/virtiofsd-c/copyright" &&
	sed -i '/copyright/d' "$tmp/broken/pkg/DEBIAN/md5sums" &&
	dpkg-deb -b "$tmp/broken/pkg" "$tmp/broken/virtiofsd-c_${version}_broken.deb" >/dev/null
lintian "$tmp/broken/virtiofsd-c_${version}_broken.deb" >"$tmp/lintian-broken.log" 2>&1
check "lintian reports an error on a package without copyright" grep -q '^E: .*no-copyright-file' "$tmp/lintian-broken.log"

# --- install into a scratch root that looks like Debian 12 ----------------------------------
# A stand-in qemu-system-common 7.2 owning the paths the real one has there (QEMU's own daemon,
# its man page, its JSON): dpkg refuses ours unless those are diverted.
root=$tmp/root fake=$tmp/fake-qemu
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$fake/DEBIAN" "$fake/usr/lib/qemu" \
	"$fake/usr/share/qemu/vhost-user" "$fake/usr/share/man/man1"
: >"$root/var/lib/dpkg/status"
printf '#!/bin/sh\necho legacy\n' >"$fake/usr/lib/qemu/virtiofsd"
chmod 755 "$fake/usr/lib/qemu/virtiofsd"
printf '{ "description": "QEMU virtiofsd vhost-user-fs", "type": "fs", "binary": "/usr/lib/qemu/virtiofsd" }\n' \
	>"$fake/usr/share/qemu/vhost-user/50-qemu-virtiofsd.json"
printf '{ "description": "QEMU vhost-user-gpu", "type": "gpu", "binary": "/usr/lib/qemu/vhost-user-gpu" }\n' \
	>"$fake/usr/share/qemu/vhost-user/50-qemu-gpu.json"
printf '.TH VIRTIOFSD 1\n.SH NAME\nvirtiofsd \\- QEMU legacy\n' | gzip -9n >"$fake/usr/share/man/man1/virtiofsd.1.gz"
cp "$fake/usr/share/qemu/vhost-user/50-qemu-virtiofsd.json" "$tmp/qemu.json"
(cd "$fake" && find usr -type f -exec md5sum {} + >DEBIAN/md5sums)
printf 'Package: qemu-system-common\nVersion: 1:7.2+dfsg-7+stand-in\nArchitecture: all\nMaintainer: test <test@localhost>\nDescription: stand-in for the Debian 12 paths\n' \
	>"$fake/DEBIAN/control"
dpkg-deb -b "$fake" "$tmp/qemu-system-common_stand-in.deb" >/dev/null
dpkgr() { dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null "$@"; }
check "stand-in qemu-system-common 7.2 installed in the scratch root" dpkgr -i "$tmp/qemu-system-common_stand-in.deb"
check "dpkg --root installs ours beside it" dpkgr -i "$deb"
check "installed daemon runs: virtiofsd-c $version" \
	sh -c "'$root/usr/libexec/virtiofsd' --version | head -1 | grep -qx 'virtiofsd-c $version'"
check "/usr/lib/qemu/virtiofsd is now ours" test "$(readlink "$root/usr/lib/qemu/virtiofsd")" = ../../libexec/virtiofsd
check "QEMU's daemon kept aside as virtiofsd.qemu-legacy" \
	sh -c "'$root/usr/lib/qemu/virtiofsd.qemu-legacy' | grep -qx legacy"
check "QEMU's JSON moved out of the vhost-user folder" \
	cmp "$tmp/qemu.json" "$root/usr/share/qemu/50-qemu-virtiofsd.json.diverted-by-virtiofsd-c"
check "QEMU's man page kept aside as virtiofsd.qemu-legacy.1.gz" \
	sh -c "zcat '$root/usr/share/man/man1/virtiofsd.qemu-legacy.1.gz' | grep -q 'QEMU legacy'"
check "virtiofsd(1) is ours" sh -c "zcat '$root/usr/share/man/man1/virtiofsd.1.gz' | grep -q virtiofsd-c"
check "three diversions registered" test "$(dpkg-divert --root="$root" --list 'virtiofsd-c' | wc -l)" -eq 3
# What libvirt 9.0 does: the vhost-user files in name order, the first non-empty of type "fs".
check "libvirt's choice in that folder is our daemon" python3 - "$root" <<'PY'
import json, os, sys
root = sys.argv[1]
d = root + '/usr/share/qemu/vhost-user'
for name in sorted(os.listdir(d)):
    p = os.path.join(d, name)
    if os.path.getsize(p) == 0:
        continue
    doc = json.load(open(p))
    if doc.get('type') == 'fs':
        real = os.path.realpath(root + doc['binary'])
        assert real == os.path.realpath(root + '/usr/libexec/virtiofsd'), f'{name} -> {real}'
        break
else:
    sys.exit('no fs description')
PY
check "dpkg --root purges it" dpkgr -P virtiofsd-c
check "QEMU's daemon is back" sh -c "'$root/usr/lib/qemu/virtiofsd' | grep -qx legacy"
check "QEMU's JSON is back" cmp "$tmp/qemu.json" "$root/usr/share/qemu/vhost-user/50-qemu-virtiofsd.json"
check "qemu-system-common's files all intact (dpkg --verify)" dpkg --root="$root" --verify qemu-system-common
check "no diversion left" test -z "$(dpkg-divert --root="$root" --list 'virtiofsd-c')"
check "nothing of ours left" test ! -e "$root/usr/libexec/virtiofsd" -a ! -e "$root/usr/share/qemu/vhost-user/50-virtiofsd.json"

# --- a scratch root like Debian 13 (no QEMU virtiofsd): nothing to divert; Debian's virtiofsd
# cannot be installed beside ours (Conflicts) -------------------------------------------------
root=$tmp/root13
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
check "Debian 13-like root: dpkg --root installs ours" dpkgr -i "$deb"
check "Debian 13-like root: /usr/lib/qemu/virtiofsd is the link to ours" \
	test "$(readlink "$root/usr/lib/qemu/virtiofsd")" = ../../libexec/virtiofsd
ref=${ref:-}
if [ -n "$ref" ] && [ -f "$ref" ]; then
	if dpkgr -i "$ref" >"$tmp/out" 2>&1; then
		nok "Debian 13's virtiofsd refused beside ours (Conflicts): it was installed"
	else
		grep -q "virtiofsd-c conflicts with virtiofsd" "$tmp/out" &&
			ok "Debian 13's virtiofsd refused beside ours (virtiofsd-c conflicts with virtiofsd)" ||
			nok "Debian 13's virtiofsd refused beside ours, for the conflict: $(tail -3 "$tmp/out")"
	fi
fi
check "Debian 13-like root: purged, no diversion and no file left" sh -c \
	"dpkg --root='$root' --force-script-chrootless --log=/dev/null -P virtiofsd-c >/dev/null &&
	 [ -z \"\$(dpkg-divert --root='$root' --list virtiofsd-c)\" ] && [ -z \"\$(find '$root/usr' -type f -o -type l 2>/dev/null)\" ]"
finish
