# shellcheck shell=bash
# libvirt harness: starts virtlogd and libvirtd by hand (no systemd here), boots the VM tier's
# kernel + initramfs as a transient libvirt domain whose <filesystem> is virtio-fs, records the
# daemon libvirt started (/proc/PID/exe and cmdline), and undoes every change to the system.
# Sourced by tests/libvirt/test_libvirt.sh; meant for other libvirt tests too (issue 8):
#
#   lv_init                      packages, the libvirt-qemu user, a private temp folder ($LV_TMP)
#   lv_start                     virtlogd + libvirtd, their pids kept; refuses if one is running
#   lv_fs_xml SHARE [BINARY_XML] a <filesystem> element; BINARY_XML is put inside it verbatim,
#                                e.g. "<binary path='/x' xattr='on'><cache mode='none'/></binary>"
#   lv_boot NAME SHARE FS_XML GUEST_SCRIPT KERNEL_ARGS [HOOK]
#                                boots, runs GUEST_SCRIPT in the guest, calls HOOK (a function)
#                                every 0.2 s while it runs; sets LV_RC (the guest's result),
#                                LV_DAEMON_PID, LV_DAEMON_EXE, LV_DAEMON_CMDLINE (NUL -> newline),
#                                LV_DAEMON_VERSION, LV_CONSOLE, LV_DAEMON_LOG
#   lv_put_file SRC DEST         install a file in a system path for the duration (refuses to
#                                overwrite one that exists); removed by lv_cleanup
#   lv_cleanup                   destroy our domains, stop our daemons, remove what we put in
#                                system paths, call $LV_EXTRA_CLEANUP (a function) if set, remove
#                                what libvirtd created in system paths (trap it on EXIT)
#
# Needs root, qemu-system-x86_64 and the VM assets of tests/vm/prepare.sh ($VM_CACHE).

LV_REPO=${LV_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LV_CACHE=${VM_CACHE:-$LV_REPO/.vmcache}
LV_URI=qemu:///system
LV_TMP='' LV_VIRTLOGD_PID='' LV_LIBVIRTD_PID='' LV_CREATED_USER=0 LV_CREATED_GROUP=0
LV_DOMAINS=() LV_PUT=() LV_SNAPSHOT=''
# Where libvirtd and our files go; whatever appears under these during the run is removed.
LV_WATCH=(/etc/libvirt /etc/qemu /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /run/libvirt)

lv_log() { echo "libvirt: $*" >&2; }

lv_init() {
	[ "$(id -u)" = 0 ] || { lv_log "needs root"; return 77; }
	if [ ! -s "$LV_CACHE/vmlinuz" ] || [ ! -s "$LV_CACHE/initramfs.cpio.gz" ]; then
		lv_log "no VM assets in $LV_CACHE: running tests/vm/prepare.sh"
		VM_CACHE=$LV_CACHE bash "$LV_REPO/tests/vm/prepare.sh" >&2 ||
			{ lv_log "tests/vm/prepare.sh failed"; return 1; }
	fi
	local p missing=()
	for p in libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 gcc libc6-dev; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		lv_log "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
			{ lv_log "apt-get install ${missing[*]} failed"; return 1; }
	fi
	LV_TMP=$(mktemp -d /tmp/lvtest.XXXXXX)
	TAP_OUT=$LV_TMP/out # for check() of tests/tap.sh
	chmod 755 "$LV_TMP" # QEMU runs as libvirt-qemu and reads the kernel and initrd here
	LV_SNAPSHOT=$LV_TMP/system-before.txt
	find "${LV_WATCH[@]}" 2>/dev/null | sort >"$LV_SNAPSHOT"
	# libvirtd's QEMU driver refuses to start without its user (libvirt-daemon-system would make
	# it, but brings init scripts that start daemons we do not own).
	if ! getent group libvirt-qemu >/dev/null; then
		groupadd --system libvirt-qemu && LV_CREATED_GROUP=1 || return 1
	fi
	if ! getent passwd libvirt-qemu >/dev/null; then
		useradd --system -g libvirt-qemu -d /var/lib/libvirt -M -s /usr/sbin/nologin libvirt-qemu &&
			LV_CREATED_USER=1 || return 1
	fi
}

lv_put_file() { # src, dest
	if [ -e "$2" ] || [ -L "$2" ]; then
		lv_log "$2 already exists: not replacing a file this test did not make"
		return 1
	fi
	mkdir -p "$(dirname "$2")" && cp "$1" "$2" && LV_PUT+=("$2")
}

lv_wait_for() { # seconds, command...: poll every 0.1 s
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

lv_start() {
	if [ -S /run/libvirt/libvirt-sock ] && virsh -c "$LV_URI" version >/dev/null 2>&1; then
		lv_log "a libvirtd is already running: not starting ours beside it"
		return 1
	fi
	virtlogd -p "$LV_TMP/virtlogd.pid" >"$LV_TMP/virtlogd.log" 2>&1 &
	LV_VIRTLOGD_PID=$!
	lv_wait_for 10 test -S /run/libvirt/virtlogd-sock || { lv_log "virtlogd did not start"; return 1; }
	libvirtd -p "$LV_TMP/libvirtd.pid" >"$LV_TMP/libvirtd.log" 2>&1 &
	LV_LIBVIRTD_PID=$!
	if ! lv_wait_for 30 virsh -c "$LV_URI" version; then
		lv_log "libvirtd did not come up; its log:"
		tail -20 "$LV_TMP/libvirtd.log" | sed 's/^/  | /' >&2
		return 1
	fi
	lv_log "virtlogd pid $LV_VIRTLOGD_PID, libvirtd pid $LV_LIBVIRTD_PID ($(virsh -c "$LV_URI" version | sed -n 's/^Running hypervisor: //p'))"
}

lv_fs_xml() { # share [binary xml]
	cat <<XML
    <filesystem type='mount' accessmode='passthrough'>
      <driver type='virtiofs' queue='1024'/>
      ${2:-}
      <source dir='$1'/>
      <target dir='myfs'/>
    </filesystem>
XML
}

lv_domain_xml() { # name, fs xml, initrd, kernel args, console file
	local virt=qemu
	if { [ -e /sys/module/kvm_intel ] || [ -e /sys/module/kvm_amd ]; } && [ -w /dev/kvm ]; then
		virt=kvm
	fi
	cat <<XML
<domain type='$virt'>
  <name>$1</name>
  <memory unit='MiB'>512</memory>
  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$LV_CACHE/vmlinuz</kernel>
    <initrd>$3</initrd>
    <cmdline>$4</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
$2
    <serial type='file'><source path='$5'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}

# The initramfs of the VM tier plus a second archive with the guest script and guest-tool.
lv_initrd() { # guest script, output
	local x=$LV_TMP/extra
	rm -rf "$x" && mkdir -p "$x/guest"
	cp "$1" "$x/guest/" && chmod 755 "$x/guest/$(basename "$1")"
	if [ ! -x "$LV_TMP/guest-tool" ]; then
		cc -static -O2 -Wall -Wextra -Werror -o "$LV_TMP/guest-tool" \
			"$LV_REPO/tests/libvirt/guest-tool.c" || return 1
	fi
	cp "$LV_TMP/guest-tool" "$x/guest/guest-tool"
	(cd "$x" && find . | cpio -o -H newc --owner=0:0 --quiet) | gzip -1 >"$LV_TMP/extra.cpio.gz"
	cat "$LV_CACHE/initramfs.cpio.gz" "$LV_TMP/extra.cpio.gz" >"$2"
}

lv_domain_running() { [ "$(virsh -c "$LV_URI" domstate "$1" 2>/dev/null | head -1)" = running ]; }

lv_boot() { # name, share, fs xml, guest script, kernel args, [hook]
	local name=$1 share=$2 fsxml=$3 script=$4 kargs=$5 hook=${6:-}
	local initrd=$LV_TMP/$name.initrd xml=$LV_TMP/$name.xml
	LV_CONSOLE=$LV_TMP/$name.console.log LV_RC='' LV_DAEMON_PID='' LV_DAEMON_EXE=''
	LV_DAEMON_CMDLINE='' LV_DAEMON_VERSION='' LV_DAEMON_LOG=$LV_TMP/$name.virtiofsd.log
	lv_initrd "$script" "$initrd" || { lv_log "cannot build the initrd"; return 1; }
	: >"$LV_CONSOLE"
	lv_domain_xml "$name" "$fsxml" "$initrd" \
		"console=ttyS0 panic=-1 quiet loglevel=4 vmtest_script=/guest/$(basename "$script") $kargs" \
		"$LV_CONSOLE" >"$xml"
	LV_DOMAINS+=("$name")
	if ! virsh -c "$LV_URI" create "$xml" >"$LV_TMP/$name.create.log" 2>&1; then
		lv_log "virsh create failed: $(cat "$LV_TMP/$name.create.log")"
		tail -5 "$LV_TMP/libvirtd.log" | sed 's/^/  | /' >&2
		return 1
	fi
	# libvirt starts the daemon before QEMU and keeps its pid here while the domain runs.
	local pidfile
	pidfile=$(ls /run/libvirt/qemu/*-"$name"-fs0-*.pid 2>/dev/null | head -1) # 9.0: ID-NAME-fs0-fs.pid
	if [ -n "$pidfile" ]; then
		LV_DAEMON_PID=$(cat "$pidfile")
		LV_DAEMON_EXE=$(readlink "/proc/$LV_DAEMON_PID/exe" 2>/dev/null)
		LV_DAEMON_CMDLINE=$(tr '\0' '\n' <"/proc/$LV_DAEMON_PID/cmdline" 2>/dev/null)
		[ -n "$LV_DAEMON_EXE" ] && LV_DAEMON_VERSION=$("/proc/$LV_DAEMON_PID/exe" --version 2>&1)
	else
		lv_log "no virtiofsd pid file for $name under /run/libvirt/qemu: $(ls /run/libvirt/qemu 2>&1 | tr '\n' ' ')"
	fi
	local deadline=$(($(date +%s) + ${LV_TIMEOUT:-600}))
	while lv_domain_running "$name"; do
		[ -n "$hook" ] && "$hook"
		if [ "$(date +%s)" -ge "$deadline" ]; then
			lv_log "timeout: destroying $name"
			virsh -c "$LV_URI" destroy "$name" >/dev/null 2>&1
			break
		fi
		sleep 0.2
	done
	cp "/var/log/libvirt/qemu/$name-fs0-virtiofsd.log" "$LV_DAEMON_LOG" 2>/dev/null
	cp "/var/log/libvirt/qemu/$name.log" "$LV_TMP/$name.qemu.log" 2>/dev/null
	LV_RC=$(tr -d '\r' <"$LV_CONSOLE" | sed -n 's/.*VMTEST-RESULT: rc=\([0-9]*\).*/\1/p' | tail -1)
	[ -n "$LV_RC" ] || { lv_log "no result line from the guest; console tail:"; tail -20 "$LV_CONSOLE" >&2; }
	return 0
}

lv_stop_pid() {
	local pid=$1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	lv_wait_for 10 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

lv_cleanup() {
	local d f
	for d in "${LV_DOMAINS[@]}"; do
		virsh -c "$LV_URI" destroy "$d" >/dev/null 2>&1
		virsh -c "$LV_URI" undefine "$d" >/dev/null 2>&1
	done
	lv_stop_pid "$LV_LIBVIRTD_PID"
	lv_stop_pid "$LV_VIRTLOGD_PID"
	for f in "${LV_PUT[@]}"; do rm -f "$f"; done
	[ -n "${LV_EXTRA_CLEANUP:-}" ] && "$LV_EXTRA_CLEANUP"
	[ "$LV_CREATED_USER" = 1 ] && userdel libvirt-qemu
	[ "$LV_CREATED_GROUP" = 1 ] && getent group libvirt-qemu >/dev/null && groupdel libvirt-qemu
	# What libvirtd (or we) created under the watched folders, deepest first.
	if [ -n "$LV_SNAPSHOT" ] && [ -f "$LV_SNAPSHOT" ]; then
		find "${LV_WATCH[@]}" 2>/dev/null | sort | comm -13 "$LV_SNAPSHOT" - | sort -r |
			while read -r f; do
				if [ -d "$f" ] && [ ! -L "$f" ]; then rmdir "$f" 2>/dev/null || rm -rf "$f"; else rm -f "$f"; fi
			done
	fi
	[ -n "$LV_TMP" ] && [ "${LV_KEEP:-0}" != 1 ] && rm -rf "$LV_TMP"
	return 0
}
