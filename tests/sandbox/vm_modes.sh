#!/usr/bin/env bash
# A real guest against the daemon in each sandbox, with the default --seccomp=kill: as root with
# --sandbox=namespace and --sandbox=chroot, and as a non-root user (created here, with
# /etc/subuid and /etc/subgid ranges) with --sandbox=namespace and id maps covering the guest's
# ids. Runs tests/vm/run-vm.sh (its guest script) once per mode: about 30 s each under TCG.
#
# Usage: tests/sandbox/vm_modes.sh [PATH_TO_VIRTIOFSD]   (as root, after tests/vm/prepare.sh)
# Ends with "N passed, N failed"; exit 77 when it cannot run here (not root, no VM cache).
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
	rm -rf "$tmp"
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

# run-vm.sh starts our daemon with --sandbox=none; the wrapper swaps in the mode under test and,
# for the non-root user, hands it the share and the socket's folder.
wrapper() { # mode, who
	cat >"$tmp/wrap-$1-$2.sh" <<EOF
#!/bin/bash
args=()
for a in "\$@"; do
	[ "\$a" = --sandbox=none ] && a=--sandbox=$1
	if [ "$2" = user ]; then
		case "\$a" in
		--shared-dir=*) chown -R $user: "\${a#*=}" ;;
		--socket-path=*) chown $user "\$(dirname "\${a#*=}")" ;;
		esac
	fi
	args+=("\$a")
done
if [ "$2" = user ]; then
	args+=(--uid-map=:0:$uid:1: --uid-map=:1:$sub_uid:65536:
	       --gid-map=:0:$gid:1: --gid-map=:1:$sub_gid:65536:)
	exec setpriv --reuid=$user --regid=$user --init-groups "$tmp/virtiofsd" "\${args[@]}"
fi
exec "$tmp/virtiofsd" "\${args[@]}"
EOF
	chmod 755 "$tmp/wrap-$1-$2.sh"
	echo "$tmp/wrap-$1-$2.sh"
}

for c in namespace:root chroot:root namespace:user; do
	mode=${c%%:*} who=${c#*:}
	share=$tmp/share-$mode-$who
	mkdir -p "$share"
	chmod 755 "$share"
	if "$repo/tests/vm/run-vm.sh" --share "$share" --daemon "$(wrapper "$mode" "$who")" --quiet \
		--timeout 400 --out "$tmp/out-$mode-$who" >"$tmp/run-$mode-$who.log" 2>&1; then
		pass=$((pass + 1)); echo "ok - guest passes against --sandbox=$mode as $who"
	else
		fail=$((fail + 1)); echo "not ok - guest against --sandbox=$mode as $who:"
		tail -5 "$tmp/run-$mode-$who.log" | sed 's/^/#   /'
		grep 'not ok' "$tmp/out-$mode-$who/console.log" 2>/dev/null | head -5 | sed 's/^/#   /'
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
