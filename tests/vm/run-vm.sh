#!/bin/bash
# Boots the VM test guest against a virtio-fs daemon serving a host directory.
#
# Usage: tests/vm/run-vm.sh --share DIR [options]
#   --share DIR         host directory to share (required)
#   --legacy            use the legacy C daemon /usr/lib/qemu/virtiofsd
#   --daemon PATH       our daemon binary (default: <repo>/build/virtiofsd)
#   --daemon-arg ARG    extra daemon argument (repeatable), e.g. --daemon-arg=--seccomp=log
#   --script FILE       guest script to run (default: tests/vm/guest-test.sh)
#   --out DIR           keep console.log and daemon.log here (default: a temporary folder)
#   --timeout SECONDS   kill QEMU and the daemon after this long (default: 600)
#   --shell             interactive busybox shell in the guest instead of a script
#   --quiet             do not echo the guest console while it runs
#   --kernel 6.12       boot Debian 13's 6.12 kernel (tests/vm/prepare.sh --kernel 6.12) instead
#                       of Debian 12's 6.1
#   --qemu10            run QEMU 10 from scripts/peers.sh instead of the system's QEMU 7.2
#   --smp N             vCPUs (default: 2 under KVM, 1 under TCG)
#   --queues N          request queues: num-request-queues=N on vhost-user-fs-pci (QEMU >= 8.0)
#   --tag TAG           virtio-fs tag the guest mounts (default myfs)
#   --guest-file FILE   also put FILE into the guest's /guest/ (repeatable), e.g. a helper binary
#
# Exit status: the guest's (from its "VMTEST-RESULT: rc=N" console line); 124 on timeout, 125
# when the guest printed no result line, 70 when the guest passed but the daemon did not exit 0
# after QEMU disconnected, 71 when the daemon died under a running guest, 2 for a usage or
# set-up error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${VM_CACHE:-$repo/.vmcache}

share='' legacy=0 daemon=$repo/build/virtiofsd script=$here/guest-test.sh out='' timeout_s=600
shell=0 quiet=0 kernel=6.1 qemu10=0 smp='' queues=1 tag=myfs
daemon_args=() guest_files=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "run-vm.sh: $*" >&2; exit 2; }
log() { echo "run-vm.sh: $*" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--share) share=${2:?}; shift ;;
	--share=*) share=${1#*=} ;;
	--legacy) legacy=1 ;;
	--daemon) daemon=${2:?}; shift ;;
	--daemon=*) daemon=${1#*=} ;;
	--daemon-arg) daemon_args+=("${2:?}"); shift ;;
	--daemon-arg=*) daemon_args+=("${1#*=}") ;;
	--script) script=${2:?}; shift ;;
	--script=*) script=${1#*=} ;;
	--out) out=${2:?}; shift ;;
	--out=*) out=${1#*=} ;;
	--timeout) timeout_s=${2:?}; shift ;;
	--timeout=*) timeout_s=${1#*=} ;;
	--shell) shell=1 ;;
	--quiet) quiet=1 ;;
	--kernel) kernel=${2:?}; shift ;;
	--kernel=*) kernel=${1#*=} ;;
	--qemu10) qemu10=1 ;;
	--smp) smp=${2:?}; shift ;;
	--smp=*) smp=${1#*=} ;;
	--queues) queues=${2:?}; shift ;;
	--queues=*) queues=${1#*=} ;;
	--tag) tag=${2:?}; shift ;;
	--tag=*) tag=${1#*=} ;;
	--guest-file) guest_files+=("${2:?}"); shift ;;
	--guest-file=*) guest_files+=("${1#*=}") ;;
	-h | --help) usage ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done

[ -n "$share" ] || die "--share DIR is required"
[ -d "$share" ] || die "share directory '$share' does not exist"
share=$(cd "$share" && pwd)
case "$kernel" in
6.1) assets=$cache ;;
6.12) assets=$cache/k6.12 ;;
*) die "--kernel takes 6.1 or 6.12" ;;
esac
[ -s "$assets/vmlinuz" ] && [ -s "$assets/initramfs.cpio.gz" ] ||
	die "no VM assets in $assets: run tests/vm/prepare.sh$([ "$kernel" = 6.1 ] || echo " --kernel $kernel") first"
[ -f "$script" ] || die "guest script '$script' not found"
[[ "$queues" =~ ^[1-9][0-9]*$ ]] || die "--queues takes a positive number"
[ -z "$smp" ] || [[ "$smp" =~ ^[1-9][0-9]*$ ]] || die "--smp takes a positive number"
if [ $qemu10 -eq 1 ]; then
	penv=$("$repo/scripts/peers.sh" --print) || die "QEMU 10 is not fetched: run scripts/peers.sh first"
	qemu=$(sed -n 's/^QEMU10=//p' "$penv")
	[ -x "$qemu" ] || die "QEMU 10 wrapper '$qemu' (from $penv) is not executable"
else
	qemu=qemu-system-x86_64
	command -v "$qemu" >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
fi
if [ $legacy -eq 1 ]; then
	daemon=/usr/lib/qemu/virtiofsd
fi
[ -x "$daemon" ] || die "daemon '$daemon' not found or not executable (build it: meson setup build && ninja -C build)"

tmp=$(mktemp -d /tmp/vmtest.XXXXXX)
[ -n "$out" ] || out=$tmp
mkdir -p "$out"
out=$(cd "$out" && pwd)
sock=$tmp/vhost-fs.sock
console=$out/console.log
dlog=$out/daemon.log
: >"$console"
: >"$dlog"

daemon_pid='' qemu_pid='' tail_pid='' passed=0
# Only the processes started here are stopped, by PID.
stop_pid() {
	local pid=$1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 20); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
	stop_pid "$qemu_pid"
	stop_pid "$daemon_pid"
	stop_pid "$tail_pid"
	rm -f "$sock" "$tmp/initrd.img" "$tmp/extra.cpio.gz"
	rm -rf "$tmp/extra"
	# A temporary --out is kept only when something failed, for its logs.
	if [ "$out" != "$tmp" ] || [ "$passed" -eq 1 ]; then
		rm -rf "$tmp/console.log" "$tmp/daemon.log" "$tmp/elapsed"
		rmdir "$tmp" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- daemon -----------------------------------------------------------------------------------
if [ $legacy -eq 1 ]; then
	dcmd=("$daemon" "--socket-path=$sock" -o "source=$share" -o cache=auto "${daemon_args[@]}")
else
	# Defaults the caller's --daemon-arg may override (a later value would win anyway; left out
	# so the command line in the log says what counts).
	defaults=()
	[[ " ${daemon_args[*]} " == *" --cache="* ]] || defaults+=(--cache=auto)
	[[ " ${daemon_args[*]} " == *" --sandbox"* ]] || defaults+=(--sandbox=none)
	dcmd=("$daemon" "--socket-path=$sock" "--shared-dir=$share" "${defaults[@]}"
		"${daemon_args[@]}")
fi
log "daemon: ${dcmd[*]}"
"${dcmd[@]}" </dev/null >"$dlog" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do
	[ -S "$sock" ] && break
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		wait "$daemon_pid" && st=0 || st=$?
		daemon_pid=
		log "daemon exited with status $st before creating its socket; its log:"
		sed 's/^/  | /' "$dlog" >&2
		exit 2
	fi
	sleep 0.1
done
[ -S "$sock" ] || die "daemon did not create $sock within 10 s (log: $dlog)"

# --- initrd: the prepared one plus a second cpio archive with the guest script ----------------
# The kernel unpacks concatenated archives in order, so the script can change without a rebuild.
mkdir -p "$tmp/extra/guest"
sname=$(basename "$script")
cp "$script" "$tmp/extra/guest/$sname"
chmod 755 "$tmp/extra/guest/$sname"
for f in "${guest_files[@]}"; do
	cp "$f" "$tmp/extra/guest/" || die "--guest-file '$f' cannot be copied"
done
(cd "$tmp/extra" && find . | cpio -o -H newc --owner=0:0 --quiet) | gzip -1 >"$tmp/extra.cpio.gz"
cat "$assets/initramfs.cpio.gz" "$tmp/extra.cpio.gz" >"$tmp/initrd.img"

# --- QEMU -------------------------------------------------------------------------------------
if { [ -e /sys/module/kvm_intel ] || [ -e /sys/module/kvm_amd ]; } && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	accel=kvm smp=${smp:-2}
else
	accel=tcg smp=${smp:-1}
fi
log "accelerator: $accel ($( [ $accel = kvm ] && echo 'kvm_intel/kvm_amd loaded' ||
	echo 'no kvm_intel/kvm_amd module: software emulation, slow'))"
append="console=ttyS0 panic=-1 quiet loglevel=4 vmtest_script=/guest/$sname vmtest_tag=$tag vmtest_queues=$queues"
[ $shell -eq 1 ] && append="$append vmtest_shell=1"
# shellcheck disable=SC2054 # commas belong to QEMU option values
# (QEMU's generic vhost-user-device-pci, which would read the tag from the daemon's config
# space, is not user-creatable in QEMU 10.0: docs/status.md.)
fsdev=vhost-user-fs-pci,queue-size=1024,chardev=char0,tag=$tag
[ "$queues" -eq 1 ] || fsdev=$fsdev,num-request-queues=$queues
log "qemu: $qemu, kernel $kernel, $smp vCPU(s), device $fsdev"
qcmd=("$qemu" -accel "$accel" -m 512M -smp "$smp"
	-kernel "$assets/vmlinuz" -initrd "$tmp/initrd.img" -append "$append"
	-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem
	-chardev "socket,id=char0,path=$sock"
	-device "$fsdev"
	-nographic -no-reboot)

t0=$(date +%s.%N)
if [ $shell -eq 1 ]; then
	# Interactive: QEMU owns the terminal (Ctrl-A x quits), the console is also logged.
	"${qcmd[@]}" | tee "$console" || true
	qemu_status=0
else
	"${qcmd[@]}" </dev/null >"$console" 2>&1 &
	qemu_pid=$!
	if [ $quiet -eq 0 ]; then
		tail -n +1 -f --pid="$qemu_pid" "$console" 2>/dev/null | sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' \
			-e 's/\x1bc//g' -e '1,/Booting from ROM/{/Booting from ROM/!d;s/.*Booting from ROM\.*//}' \
			-e '/^$/d' -e 's/^/  guest| /' &
		tail_pid=$!
	fi
	timed_out=0 daemon_died_at=
	deadline=$(($(date +%s) + timeout_s))
	while kill -0 "$qemu_pid" 2>/dev/null; do
		now=$(date +%s)
		if [ "$now" -ge "$deadline" ]; then
			log "timeout: QEMU still running after ${timeout_s} s, stopping it"
			timed_out=1
			stop_pid "$qemu_pid"
			break
		fi
		# A daemon that dies under a running guest leaves its requests hanging forever: give
		# QEMU a few seconds (it may be powering off) rather than waiting for the timeout.
		if [ -z "$daemon_died_at" ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
			daemon_died_at=$now
		fi
		if [ -n "$daemon_died_at" ] && [ $((now - daemon_died_at)) -ge 5 ]; then
			log "the daemon exited while the guest was running; stopping QEMU"
			timed_out=1
			stop_pid "$qemu_pid"
			break
		fi
		sleep 0.5
	done
	wait "$qemu_pid" && qemu_status=0 || qemu_status=$?
	qemu_pid=
	[ -n "$tail_pid" ] && { wait "$tail_pid" 2>/dev/null || true; tail_pid=; }
fi
t1=$(date +%s.%N)
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

# --- the daemon should leave by itself once the frontend is gone --------------------------------
daemon_status=
grace=100
[ "${timed_out:-0}" -eq 1 ] && grace=10
for _ in $(seq 1 $grace); do
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$daemon_pid" 2>/dev/null; then
	log "daemon still running $((grace / 10)) s after QEMU exited: stopping it"
	stop_pid "$daemon_pid"
	wait "$daemon_pid" 2>/dev/null || true
	daemon_status=still-running
else
	wait "$daemon_pid" && daemon_status=0 || daemon_status=$?
fi
daemon_pid=

log "guest run took ${elapsed} s (accel $accel), QEMU exit status $qemu_status, daemon exit status $daemon_status"
echo "$elapsed" >"$out/elapsed"

result=$(tr -d '\r' <"$console" | sed -n 's/.*VMTEST-RESULT: rc=\([0-9]*\).*/\1/p' | tail -n1)
if [ "${timed_out:-0}" -eq 1 ]; then
	if [ -n "${daemon_died_at:-}" ]; then
		log "FAIL: the daemon died during the run, status $daemon_status (console: $console, log: $dlog)"
		tail -n 20 "$dlog" | sed 's/^/  | /' >&2
		exit 71
	fi
	log "FAIL: timed out after ${timeout_s} s (console: $console)"
	exit 124
fi
if [ -z "$result" ]; then
	log "FAIL: the guest printed no VMTEST-RESULT line (console: $console); last lines:"
	tr -d '\r' <"$console" | tail -n 20 | sed 's/^/  | /' >&2
	exit 125
fi
if [ "$result" -ne 0 ]; then
	log "FAIL: guest result rc=$result (console: $console)"
	exit "$result"
fi
if [ "$daemon_status" != 0 ]; then
	log "FAIL: the guest passed but the daemon's exit status was '$daemon_status', not 0 (log: $dlog)"
	tail -n 20 "$dlog" | sed 's/^/  | /' >&2
	exit 70
fi
log "PASS: guest result rc=0, daemon exited 0"
passed=1
exit 0
