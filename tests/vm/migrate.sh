#!/bin/bash
# Live migration of a running guest between two QEMU 10 processes on this machine, each with its
# own daemon on the same shared directory (QEMU 10, the Linux 6.12 guest and the Rust virtiofsd
# from scripts/peers.sh; the 6.12 initramfs from tests/vm/prepare.sh --kernel 6.12). The guest
# (tests/vm/guest-migrate.sh) holds an open file, an appending fd, its cwd, an open-but-unlinked
# file and 200 looked-up files; after the switch-over it uses them and writes 8 MiB, checked
# here on the host.
#
# Usage: tests/vm/migrate.sh [--src ours|rust] [--dst ours|rust] [--mode find-paths|file-handles]
#                           [--twice] [--then ours|rust] [--keep] [--daemon PATH]
#   --mode    both daemons' --migration-mode. An unlinked file moves only in file-handles
#             mode (a source of ours sends it as its file handle in find-paths mode too, but a
#             destination in find-paths mode never opens handles: it loses that inode, which
#             fails the load in the default abort mode): the guest holds none in find-paths
#             mode.
#   --twice   migrate again, from the destination to a third QEMU and daemon (the same kind
#             as the destination, or --then's)
#   --refuse  the source daemon caches writes (--writeback), the destination is not started
#             with it and must refuse the state: the migration fails, the source is resumed
#             (QMP cont, as a management layer does) and the guest finishes there
# Prints "ok/not ok" lines, "# migration N: total T ms, downtime D ms", "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=ours dst=ours then= mode=find-paths twice=0 refuse=0 keep=0 daemon=$repo/build/virtiofsd
while [ $# -gt 0 ]; do
	case "$1" in
	--src) src=${2:?}; shift ;;
	--dst) dst=${2:?}; shift ;;
	--mode) mode=${2:?}; shift ;;
	--twice) twice=1 ;;
	--then) then=${2:?}; twice=1; shift ;;
	--refuse) refuse=1 ;;
	--keep) keep=1 ;;
	--daemon) daemon=${2:?}; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "migrate.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done

then=${then:-$dst}
# shellcheck source=tests/tap.sh
. "$here/../tap.sh"

env=${PEERS_ENV:-}
[ -n "$env" ] || env=$("$repo/scripts/peers.sh") ||
	{ nok "fetch QEMU 10, the 6.12 kernel and the Rust daemon (scripts/peers.sh)"; finish; }
# shellcheck disable=SC1090
. "$env"
vm=${VM612_DIR:-${VM_CACHE:-$repo/.vmcache}/k6.12}
if [ ! -s "$vm/initramfs.cpio.gz" ]; then
	"$here/prepare.sh" --kernel 6.12 >&2 ||
		{ nok "prepare the 6.12 initramfs (tests/vm/prepare.sh --kernel 6.12)"; finish; }
fi

work=$(mktemp -d /tmp/vmmig.XXXXXX)
share=$work/share
mkdir -p "$share"
pids=() qemus=() daemons=()
# Only the processes started here are stopped, by PID: QEMU first, so that no daemon goes
# away under a running QEMU.
cleanup() {
	for p in "${qemus[@]}" "${daemons[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		sleep 0.2
	done
	sleep 0.5
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	[ $keep -eq 1 ] && echo "migrate.sh: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

daemon_cmd() { # kind, socket, extra...
	local kind=$1 sock=$2
	shift 2
	if [ "$kind" = rust ]; then
		# The Rust daemon keeps CAP_DAC_READ_SEARCH only with --inode-file-handles; a
		# destination in file-handles mode needs it (open_by_handle_at: EPERM otherwise).
		local caps=
		[ "$mode" = file-handles ] && caps=--modcaps=+dac_read_search
		echo "$RUST_VIRTIOFSD --socket-path=$sock --shared-dir=$share --sandbox=none" \
			"--cache=auto --migration-mode=$mode $caps $*"
	else
		# its default sandbox (namespace) and seccomp filter
		echo "$daemon --socket-path=$sock --shared-dir=$share --cache=auto" \
			"--migration-mode=$mode $*"
	fi
}
start_daemon() { # name, kind, extra daemon options...
	local name=$1 kind=$2 sock=$work/$1.sock
	shift 2
	# shellcheck disable=SC2046
	$(daemon_cmd "$kind" "$sock" "$@") </dev/null >"$work/$name.daemon.log" 2>&1 &
	pids+=($!)
	daemons+=($!)
	eval "daemon_$name=$!"
	for _ in $(seq 1 100); do
		[ -S "$sock" ] && return 0
		sleep 0.1
	done
	nok "$name: the $kind daemon made no socket ($work/$name.daemon.log)"
	return 1
}

# The initrd: the prepared one plus the guest script.
mkdir -p "$work/extra/guest"
cp "$here/guest-migrate.sh" "$work/extra/guest/"
chmod 755 "$work/extra/guest/guest-migrate.sh"
(cd "$work/extra" && find . | cpio -o -H newc --owner=0:0 --quiet) | gzip -1 >"$work/extra.cpio.gz"
cat "$vm/initramfs.cpio.gz" "$work/extra.cpio.gz" >"$work/initrd.img"
append="console=ttyS0 panic=-1 quiet loglevel=4 vmtest_script=/guest/guest-migrate.sh"
[ "$mode" = find-paths ] && append="$append vmtest_unlinked=0"
port_base=$((20000 + $$ % 20000))

start_qemu() { # name, qmp port, extra args...
	local name=$1 port=$2
	shift 2
	# shellcheck disable=SC2054
	"$QEMU10" -accel tcg -m 512M -smp 1 -kernel "$vm/vmlinuz" -initrd "$work/initrd.img" \
		-append "$append" \
		-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
		-chardev "socket,id=char0,path=$work/$name.sock" \
		-device vhost-user-fs-pci,queue-size=1024,chardev=char0,tag=myfs \
		-nographic -no-reboot -audiodev none,id=migaudio \
		-qmp "tcp:127.0.0.1:$port,server=on,wait=off" "$@" \
		</dev/null >"$work/$name.console" 2>&1 &
	pids+=($!)
	qemus+=($!)
	eval "qemu_$name=$!"
}

# A daemon leaves by itself, with status 0, once its QEMU is gone; its log shows no crash.
daemon_exits_clean() { # name, label
	local pid st
	pid=$(eval echo "\$daemon_$1")
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		nok "$2: daemon $1 exits after its QEMU (still running)"
		return
	fi
	wait "$pid" && st=0 || st=$?
	if [ "$st" = 0 ] && ! grep -qE 'panicked|AddressSanitizer|runtime error|Segmentation' \
		"$work/$1.daemon.log"; then
		ok "$2: daemon $1 exited 0 after its QEMU"
	else
		nok "$2: daemon $1 exited 0 after its QEMU (status $st, $work/$1.daemon.log)"
	fi
}

# One QMP command on 127.0.0.1:port; prints its answer (the line with return or error).
qmp() { # port, json
	local fd line
	for _ in $(seq 1 50); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null && break
		fd=
		sleep 0.1
	done
	[ -n "$fd" ] || return 1
	read -r -t 10 line <&"$fd" || return 1
	echo '{"execute":"qmp_capabilities"}' >&"$fd"
	while read -r -t 10 line <&"$fd"; do [[ $line == *'"return"'* ]] && break; done
	echo "$2" >&"$fd"
	while read -r -t 30 line <&"$fd"; do
		[[ $line == *'"return"'* || $line == *'"error"'* ]] && { echo "$line"; break; }
	done
	exec {fd}>&-
}

wait_console() { # name, text, seconds
	for _ in $(seq 1 $(($3 * 2))); do
		grep -q "$2" "$work/$1.console" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}

# Migrate from QEMU a (qmp port pa) to b (qmp port pb, listening on its socket).
migrate() { # from-name, from-port, to-name, to-port, label
	local r st total down
	r=$(qmp "$2" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$work/$3.mig\"}}")
	[[ $r == *'"return"'* ]] || { nok "$5: migrate command accepted ($r)"; return 1; }
	for _ in $(seq 1 600); do
		r=$(qmp "$2" '{"execute":"query-migrate"}')
		st=$(sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' <<<"$r" | head -n1)
		case "$st" in completed | failed | cancelled) break ;; esac
		sleep 0.5
	done
	if [ "$st" != completed ]; then
		nok "$5: migration completed (status '$st': $r)"
		return 1
	fi
	total=$(sed -n 's/.*"total-time": *\([0-9]*\).*/\1/p' <<<"$r")
	down=$(sed -n 's/.*"downtime": *\([0-9]*\).*/\1/p' <<<"$r")
	ok "$5: migration completed"
	echo "# migration $5: total ${total:-?} ms, downtime ${down:-?} ms"
	qmp "$2" '{"execute":"quit"}' >/dev/null || true
	daemon_exits_clean "$1" "$5 (source)"
}

# The destination refuses: QEMU b fails to load, the source is resumed and the guest finishes on it.
refused() { # label
	local r st
	r=$(qmp $((port_base)) "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$work/b.mig\"}}")
	for _ in $(seq 1 600); do
		r=$(qmp $((port_base)) '{"execute":"query-migrate"}')
		st=$(sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' <<<"$r" | head -n1)
		case "$st" in completed | failed | cancelled) break ;; esac
		sleep 0.5
	done
	local bpid
	bpid=$(eval echo "\$qemu_b")
	for _ in $(seq 1 100); do
		kill -0 "$bpid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q "the source caches writes" "$work/b.daemon.log"; then
		ok "$1: the destination refused the state, saying why"
	else
		nok "$1: the destination refused the state, saying why ($work/b.daemon.log)"
	fi
	if kill -0 "$bpid" 2>/dev/null; then nok "$1: the destination QEMU gave up"; else ok "$1: the destination QEMU gave up"; fi
	qmp $((port_base)) '{"execute":"cont"}' >/dev/null
	touch "$share/go"
	if wait_console a ' 0 failed' 600; then
		ok "$1: the source serves on: the guest finished there"
	else
		nok "$1: the source serves on: the guest finished there"
		tail -20 "$work/a.console"
	fi
}

label="$src -> $dst ($mode)"
[ $twice -eq 1 ] && label="$src -> $dst -> $then ($mode)"
[ $refuse -eq 1 ] && label="$label, refused"
if [ $refuse -eq 1 ]; then start_daemon a "$src" --writeback || finish; else start_daemon a "$src" || finish; fi
start_qemu a $((port_base))
wait_console a MIGRATE-READY 600 || { nok "$label: the guest got ready on the source"; tail -20 "$work/a.console"; finish; }
ok "$label: the guest holds its files on the source"
start_daemon b "$dst" || finish
start_qemu b $((port_base + 1)) -incoming "unix:$work/b.mig"
sleep 2
if [ $refuse -eq 1 ]; then
	refused "$label"
	finish
fi
migrate a $((port_base)) b $((port_base + 1)) "$src -> $dst ($mode)" || { tail -5 "$work/a.daemon.log" "$work/b.daemon.log"; finish; }
last=b
if [ $twice -eq 1 ]; then
	start_daemon c "$then" || finish
	start_qemu c $((port_base + 2)) -incoming "unix:$work/c.mig"
	sleep 2
	migrate b $((port_base + 1)) c $((port_base + 2)) "$dst -> $then ($mode), the second in a row" ||
		finish
	last=c
fi
touch "$share/go"
if ! wait_console $last 'passed, [0-9]* failed' 600; then
	nok "$label: the guest finished after the switch-over"
	tail -20 "$work/$last.console"
	finish
fi
tr -d '\r' <"$work/$last.console" | grep -E '^(ok|not ok) [0-9]' | sed "s/^/  guest| /"
if tr -d '\r' <"$work/$last.console" | grep -q ' 0 failed'; then
	ok "$label: the guest used everything it held after the switch-over"
else
	nok "$label: the guest used everything it held after the switch-over"
fi
# The guest powers off: its QEMU exits, then its daemon.
qpid=$(eval echo "\$qemu_$last")
for _ in $(seq 1 600); do
	kill -0 "$qpid" 2>/dev/null || break
	sleep 0.1
done
daemon_exits_clean "$last" "$label (destination)"
want=$(tr -d '\r' <"$work/$last.console" | sed -n 's/^# md5 \([0-9a-f]*\).*/\1/p')
got=$(md5sum "$share/big" 2>/dev/null | cut -d' ' -f1)
if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "$label: the 8 MiB on the host match the guest's"; else nok "$label: the 8 MiB on the host match the guest's ($want vs $got)"; fi
finish
