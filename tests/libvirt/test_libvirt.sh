#!/usr/bin/env bash
# libvirt 9.0 starting our daemon, two guest boots (tests/libvirt/lib.sh does the plumbing):
#  1. `meson install` layout put in the real /usr for the duration (/usr/libexec/virtiofsd, its
#     man page, /usr/share/qemu/vhost-user/50-virtiofsd.json; QEMU's own 50-qemu-virtiofsd.json,
#     which sorts first, masked by an empty file of that name in /etc/qemu/vhost-user, as libvirt
#     documents). A bare <filesystem><driver type='virtiofs'/> with no <binary>: libvirt must
#     find and start ours (its /proc/PID/exe and --version), and the guest uses the share.
#  2. <binary path=OUR BUILD xattr='on'><cache mode='none'/><sandbox mode='chroot'/><lock posix='on' flock='on'/>: the
#     command line libvirt passed is recorded, and the options' effects checked against boot 1:
#     xattrs reach the host file, shared mmap is refused, the guest's locks show in the host's
#     /proc/locks.
# With --deb FILE, boot 1 uses the Debian package instead, installed system-wide with dpkg for the
# duration and purged at the end (its preinst diverts QEMU's own virtiofsd and JSON, postrm puts
# them back), and boot 2 names the package's daemon.
# Every file put in a system path is removed, the daemons started here are stopped by pid.
# Usage: tests/libvirt/test_libvirt.sh [--deb FILE]   (root; VM_CACHE as for tests/vm). Ends
# with "N passed, N failed"; exit 77 when not root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=tests/tap.sh
. "$here/../tap.sh"

deb=''
case "${1:-}" in
--deb) deb=${2:?--deb FILE} ;;
'') ;;
*) echo "usage: $0 [--deb FILE]" >&2; exit 2 ;;
esac
lv_init
st=$?
[ "$st" = 77 ] && exit 77
[ "$st" = 0 ] || { nok "set-up (packages, user, VM assets)"; finish; }
trap lv_cleanup EXIT
trap 'exit 130' INT TERM

qemu_files_sum() { # QEMU 7.2's own daemon, JSON and man page, which the package diverts while installed
	sha256sum /usr/lib/qemu/virtiofsd /usr/share/qemu/vhost-user/50-qemu-virtiofsd.json \
		/usr/share/man/man1/virtiofsd.1.gz 2>&1
}
deb_installed=0
purge_deb() {
	[ "$deb_installed" = 1 ] || return 0
	dpkg -P virtiofsd-c >"$LV_TMP/purge.log" 2>&1 || { echo "dpkg -P virtiofsd-c failed:"; cat "$LV_TMP/purge.log"; }
	deb_installed=0
}
LV_EXTRA_CLEANUP=purge_deb
if [ -n "$deb" ]; then
	# --- our daemon from the Debian package, installed for the duration ------------------------
	pst=$(dpkg-query -W -f='${db:Status-Status}' virtiofsd-c 2>/dev/null)
	if [ -n "$pst" ] && [ "$pst" != not-installed ]; then
		nok "virtiofsd-c is already on this system ($pst): not installing (and later purging) it over that"; finish
	fi
	# The package diverts /usr/lib/qemu/virtiofsd: on a shared machine, let runs of QEMU's own
	# daemon (other tests' reference) end first; a new one started meanwhile would get ours.
	for _ in $(seq 120); do
		legacy=$(for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/lib/qemu/virtiofsd ] && echo "${p#/proc/}"; done)
		[ -z "$legacy" ] && break
		sleep 1
	done
	[ -n "$legacy" ] && echo "# QEMU's own virtiofsd still running (pids $legacy): going ahead" >&2
	qemu_before=$(qemu_files_sum)
	check "install $(basename "$deb") with dpkg -i" dpkg -i "$deb"
	dpkg-query -W -f='${Status}' virtiofsd-c 2>/dev/null | grep -q 'install ok installed' && deb_installed=1
	b_daemon=/usr/libexec/virtiofsd
else
	# --- our daemon, installed as `meson install --prefix=/usr` lays it out -----------------------
	b=$LV_TMP/build dest=$LV_TMP/dest
	if ! { meson setup "$b" "$repo" --prefix=/usr && ninja -C "$b" virtiofsd data/50-virtiofsd.json &&
		DESTDIR=$dest meson install -C "$b" --no-rebuild; } >"$LV_TMP/build.log" 2>&1; then
		nok "build and install into a DESTDIR"; tail -20 "$LV_TMP/build.log"; finish
	fi
	for f in usr/libexec/virtiofsd usr/share/man/man1/virtiofsd.1 usr/share/qemu/vhost-user/50-virtiofsd.json; do
		check "put /$f in place for the test" lv_put_file "$dest/$f" "/$f"
	done
	if [ -e /usr/share/qemu/vhost-user/50-qemu-virtiofsd.json ]; then
		: >"$LV_TMP/empty"
		check "mask QEMU's own 50-qemu-virtiofsd.json (an empty file in /etc/qemu/vhost-user)" \
			lv_put_file "$LV_TMP/empty" /etc/qemu/vhost-user/50-qemu-virtiofsd.json
	fi
	b_daemon=$b/virtiofsd
fi
[ "$fail" -eq 0 ] || finish
lv_start || { nok "start virtlogd and libvirtd"; finish; }
ok "virtlogd and libvirtd started (pids $LV_VIRTLOGD_PID, $LV_LIBVIRTD_PID)"

# --- the hook: the guest holds a lock until we looked for it in /proc/locks -----------------
host_lock() { # file, types regexp: is there such a lock on the file's inode?
	python3 - "$1" "$2" <<'PY'
import os, re, sys
st = os.stat(sys.argv[1])
key = f'{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}'
for line in open('/proc/locks'):
    f = line.split()
    if len(f) > 5 and f[5] == key and re.fullmatch(sys.argv[2], f[1]):
        sys.exit(0)
sys.exit(1)
PY
}
share='' seen_flock='' seen_posix=''
hook() {
	if [ -z "$seen_flock" ] && [ -e "$share/flock-held" ]; then
		host_lock "$share/lockf" FLOCK && seen_flock=yes || seen_flock=no
		touch "$share/flock-ack"
	fi
	if [ -z "$seen_posix" ] && [ -e "$share/posix-held" ]; then
		host_lock "$share/posixf" 'POSIX|OFDLCK' && seen_posix=yes || seen_posix=no
		touch "$share/posix-ack"
	fi
}
getfattr_user() { python3 -c "import os,sys
try: print(os.getxattr(sys.argv[1], 'user.libvirt').decode())
except OSError: print('none')" "$1"; }
has_xattr() { python3 -c "import os,sys; sys.exit(os.getxattr(sys.argv[1], 'user.libvirt') != sys.argv[2].encode())" "$1" "$2"; }
daemon_gone() { lv_wait_for 10 sh -c "! kill -0 $1"; }
guest_tail() { tr -d '\r' <"$LV_CONSOLE" | grep -E '^(not )?ok - |passed, ' | sed 's/^/  guest| /'; }

# --- boot 1: a bare <filesystem>, libvirt picks the daemon from the JSON ----------------------
share=$LV_TMP/share1 seen_flock='' seen_posix=''
mkdir -p "$share"
tok=plain-$RANDOM$RANDOM
lv_boot vfsd-plain "$share" "$(lv_fs_xml "$share")" "$here/guest-libvirt.sh" \
	"vmtest_token=$tok vmtest_expect=plain" hook || nok "boot 1 (no <binary>): virsh create"
guest_tail
echo "# boot 1: libvirt ran $LV_DAEMON_EXE as: $(echo "$LV_DAEMON_CMDLINE" | tr '\n' ' ')"
check "boot 1: libvirt started /usr/libexec/virtiofsd (the JSON's binary)" test "$LV_DAEMON_EXE" = /usr/libexec/virtiofsd
check "boot 1: that process says it is virtiofsd-c" sh -c "echo '$LV_DAEMON_VERSION' | head -1 | grep -q '^virtiofsd-c '"
check "boot 1: libvirt told it the share" grep -q -- "$share" <<<"$LV_DAEMON_CMDLINE"
check "boot 1: the guest's checks passed (rc ${LV_RC:-none})" test "${LV_RC:-x}" = 0
check "boot 1: the guest's file is on the host with its token" test "$(cat "$share/libvirt-token.txt" 2>/dev/null)" = "$tok"
check "boot 1: no xattr reached the host file" test -f "$share/libvirt-token.txt" -a \
	"$(getfattr_user "$share/libvirt-token.txt")" = none
check "boot 1: the guest's flock stayed in the guest (host /proc/locks: ${seen_flock:-not looked})" test "$seen_flock" = no
check "boot 1: the guest's fcntl lock stayed in the guest (host /proc/locks: ${seen_posix:-not looked})" test "$seen_posix" = no
check "boot 1: libvirt stopped the daemon with the guest" daemon_gone "${LV_DAEMON_PID:-0}"

# --- boot 2: <binary path=...> with options --------------------------------------------------
share=$LV_TMP/share2 seen_flock='' seen_posix=''
mkdir -p "$share"
tok=options-$RANDOM$RANDOM
bin_xml="<binary path='$b_daemon' xattr='on'><cache mode='none'/><sandbox mode='chroot'/><lock posix='on' flock='on'/></binary>"
lv_boot vfsd-options "$share" "$(lv_fs_xml "$share" "$bin_xml")" "$here/guest-libvirt.sh" \
	"vmtest_token=$tok vmtest_expect=options" hook || nok "boot 2 (<binary> with options): virsh create"
guest_tail
echo "# boot 2: libvirt ran $LV_DAEMON_EXE as: $(echo "$LV_DAEMON_CMDLINE" | tr '\n' ' ')"
cl=$(echo "$LV_DAEMON_CMDLINE" | tr '\n' ' ')
check "boot 2: libvirt started the <binary path>" test "$LV_DAEMON_EXE" = "$b_daemon"
check "boot 2: it passed cache none, xattr, posix_lock and flock" \
	sh -c "echo '$cl' | grep -Eq '(cache=none|--cache[= ]none)' && echo '$cl' | grep -Eq '(^|[ ,])(--)?xattr([ ,]|$)' &&
		echo '$cl' | grep -Eq '(^|[ ,])(--)?posix[_-]lock([ ,]|$)' && echo '$cl' | grep -Eq '(^|[ ,])(--)?flock([ ,]|$)'"
check "boot 2: <sandbox mode='chroot'/>: it passed sandbox=chroot" \
	sh -c "echo '$cl' | grep -Eq '(sandbox=chroot|--sandbox[= ]chroot)'"
check "boot 2: the guest's checks passed (rc ${LV_RC:-none})" test "${LV_RC:-x}" = 0
check "boot 2: the guest's file is on the host with its token" test "$(cat "$share/libvirt-token.txt" 2>/dev/null)" = "$tok"
check "boot 2: xattr='on': the guest's user.libvirt is on the host file" has_xattr "$share/libvirt-token.txt" "$tok"
check "boot 2: flock='on': the guest's flock is a host lock (host /proc/locks: ${seen_flock:-not looked})" test "$seen_flock" = yes
check "boot 2: posix='on': the guest's fcntl lock is a host lock (host /proc/locks: ${seen_posix:-not looked})" test "$seen_posix" = yes
check "boot 2: libvirt stopped the daemon with the guest" daemon_gone "${LV_DAEMON_PID:-0}"
if [ -n "$deb" ]; then
	purge_deb
	check "dpkg -P virtiofsd-c: QEMU's own daemon, JSON and man page are back as they were" \
		test "$(qemu_files_sum)" = "$qemu_before"
	check "dpkg -P virtiofsd-c: no diversion left" test -z "$(dpkg-divert --list virtiofsd-c)"
fi
if [ "$fail" -gt 0 ]; then
	for f in "$LV_TMP"/*.virtiofsd.log; do [ -f "$f" ] && { echo "# $f:"; tail -15 "$f" | sed 's/^/#   /'; }; done
	tail -15 "$LV_TMP/libvirtd.log" | sed 's/^/# libvirtd| /'
fi
finish
