#!/usr/bin/env bash
# A real guest against the daemon in each sandbox, with the default --seccomp=kill: as root with
# --sandbox=namespace, chroot and none, and as a non-root user (created here, with /etc/subuid
# and /etc/subgid ranges) with --sandbox=namespace and id maps covering the guest's ids. One boot
# per mode (about 25 s under TCG) runs both the regular guest checks (tests/vm/guest-test.sh) and
# the escape attempts (tests/escape/guest-escape.sh), then the host checks its canaries next to
# the share (tests/escape/vm_escape.sh verify). As root the daemon starts with the supplementary
# groups 0 and 4242, which it must drop. With xattr support in the daemon, --xattr (and a
# --xattrmap remapping security.*) is passed; without it the capability checks fail, by design.
#
# Usage: tests/sandbox/vm_modes.sh [PATH_TO_VIRTIOFSD]   (as root, after tests/vm/prepare.sh)
#   VM_MODES="namespace:root none:root" runs only those; VM_MODES_KEEP=1 keeps shares and logs.
# Ends with "N passed, N failed" (every guest and host check, plus one per boot); exit 77 when it
# cannot run here (not root, no VM cache).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
daemon_src=${1:-$repo/build/virtiofsd}
user=vfsd-vmtest
pass=0 fail=0 created_user=0

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$daemon_src" ] || { echo "SKIP: no daemon at $daemon_src"; exit 77; }
[ -f "${VM_CACHE:-$repo/.vmcache}/stamp" ] || { echo "SKIP: no VM cache (tests/vm/prepare.sh)"; exit 77; }

tmp=$(mktemp -d /tmp/vfsd-vmsb.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	if [ -n "${VM_MODES_KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
	[ "$created_user" = 1 ] && userdel "$user" 2>/dev/null
}
trap cleanup EXIT
if ! id "$user" >/dev/null 2>&1; then
	useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$user" || exit 1
	created_user=1
fi
uid=$(id -u "$user") gid=$(id -g "$user")
sub_uid=$(awk -F: -v u="$user" '$1 == u { print $2; exit }' /etc/subuid)
sub_gid=$(awk -F: -v u="$user" '$1 == u { print $2; exit }' /etc/subgid)
if [ -z "$sub_uid" ] || [ -z "$sub_gid" ]; then
	usermod --add-subuids 3100000-3165535 --add-subgids 3100000-3165535 "$user"
	sub_uid=3100000 sub_gid=3100000
fi
cp "$daemon_src" "$tmp/virtiofsd"
chmod 755 "$tmp/virtiofsd"

# xattr support decides the escape run's extra options (a daemon without it refuses --xattr).
xattr_args=() xattrmap_args=()
if ! "$daemon_src" --xattr --shared-dir=/nonexistent --socket-path=/nonexistent/s 2>&1 |
	grep -q 'not implemented'; then
	xattr_args=(--xattr)
	xattrmap_args=(--xattr --xattrmap=:map:security.:user.virtiofs.:)
else
	echo "# the daemon has no xattr support yet: the capability checks will fail"
fi

# run-vm.sh starts our daemon with --sandbox=none; the wrapper swaps in the mode under test, adds
# the mode's extra options and, for the non-root user, hands it the share, its esc/ folder and
# the socket's folder. As root the daemon starts with supplementary groups it must drop.
wrapper() { # mode, who, extra daemon options...
	local m=$1 w=$2
	shift 2
	cat >"$tmp/wrap-$m-$w.sh" <<EOF
#!/bin/bash
args=()
for a in "\$@"; do
	[ "\$a" = --sandbox=none ] && a=--sandbox=$m
	if [ "$w" = user ]; then
		case "\$a" in
		--shared-dir=*) chown $user: "\${a#*=}" "\${a#*=}/esc" ;;
		--socket-path=*) chown $user "\$(dirname "\${a#*=}")" ;;
		esac
	fi
	args+=("\$a")
done
args+=($*)
if [ "$w" = user ]; then
	args+=(--uid-map=:0:$uid:1: --uid-map=:1:$sub_uid:65536:
	       --gid-map=:0:$gid:1: --gid-map=:1:$sub_gid:65536:)
	exec setpriv --reuid=$user --regid=$user --init-groups "$tmp/virtiofsd" "\${args[@]}"
fi
exec setpriv --groups=0,4242 "$tmp/virtiofsd" "\${args[@]}"
EOF
	chmod 755 "$tmp/wrap-$m-$w.sh"
	echo "$tmp/wrap-$m-$w.sh"
}

# Counts the guest's "ok N"/"not ok N" lines, or the host's "ok -"/"not ok -" ones.
tally_lines() { # file, what follows "ok " (a regexp)
	local p f
	p=$(tr -d '\r' <"$1" 2>/dev/null | grep -acE "^ok $2" || true)
	f=$(tr -d '\r' <"$1" 2>/dev/null | grep -acE "^not ok $2" || true)
	pass=$((pass + p)) fail=$((fail + f))
	tr -d '\r' <"$1" 2>/dev/null | grep -aE "^not ok $2|^#   " | sed 's/^/#   /' | head -40
}

boot() { # mode, who, extra daemon options...
	local mode=$1 who=$2 base=$tmp/$1-$2 agent_pid st=0
	shift 2
	mkdir -p "$base"
	if ! "$repo/tests/escape/vm_escape.sh" prepare "$base" >"$tmp/prep-$mode-$who.log" 2>&1; then
		fail=$((fail + 1)); echo "not ok - prepare the escape share for $mode as $who"
		sed 's/^/#   /' "$tmp/prep-$mode-$who.log"
		return
	fi
	"$repo/tests/escape/vm_escape.sh" agent "$base" &
	agent_pid=$!
	"$repo/tests/vm/run-vm.sh" --share "$base/share" --daemon "$(wrapper "$mode" "$who" "$@")" \
		--script "$repo/tests/escape/guest-both.sh" --quiet --timeout 400 \
		--out "$tmp/out-$mode-$who" >"$tmp/run-$mode-$who.log" 2>&1 || st=$?
	kill "$agent_pid" 2>/dev/null
	wait "$agent_pid" 2>/dev/null
	if [ "$st" -eq 0 ]; then
		pass=$((pass + 1)); echo "ok - guest and escape checks pass against --sandbox=$mode as $who"
	else
		fail=$((fail + 1))
		echo "not ok - guest against --sandbox=$mode as $who (run-vm.sh status $st):"
		tail -5 "$tmp/run-$mode-$who.log" | sed 's/^/#   /'
	fi
	tally_lines "$tmp/out-$mode-$who/console.log" '[0-9]'
	"$repo/tests/escape/vm_escape.sh" verify "$base" >"$tmp/verify-$mode-$who.log" 2>&1
	tally_lines "$tmp/verify-$mode-$who.log" '- '
	echo "# --sandbox=$mode as $who: host checks $(tail -1 "$tmp/verify-$mode-$who.log"), run" \
		"took $(cat "$tmp/out-$mode-$who/elapsed" 2>/dev/null) s"
}

# VM_MODES="mode:who ..." picks some of them.
for c in ${VM_MODES:-namespace:root chroot:root none:root namespace:user}; do
	case "$c" in
	chroot:*) boot "${c%%:*}" "${c#*:}" "${xattr_args[@]}" ;;
	*) boot "${c%%:*}" "${c#*:}" "${xattrmap_args[@]}" ;;
	esac
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
