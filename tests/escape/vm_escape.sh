#!/usr/bin/env bash
# Host side of the real-guest escape tests (guest-escape.sh), in three steps around one boot:
#
#   vm_escape.sh prepare BASE   BASE/share (to serve) and BASE/outside (canaries next to it,
#                               old times); builds esctool (cc -static) into BASE/share/.esc with
#                               the guest scripts; host-made device nodes, a FIFO and a setgid
#                               directory of group 4242 in BASE/share/esc; a snapshot of the
#                               canaries.
#   vm_escape.sh agent BASE     waits (up to 600 s) for the guest's swap handshake, then moves
#                               esc/swapdir aside and puts a symlink to BASE/outside/dir there.
#   vm_escape.sh verify BASE    checks on the host: canaries unchanged (inode, mode, owner, size,
#                               links, atime/mtime/ctime, content), nothing new outside, the guest's
#                               work in the moved directory, no set-group-ID file of the guest
#                               user, no capability left. "ok - ..." lines, then "N passed, N failed".
#
# Run as root (device nodes, a group-4242 directory). Used by tests/sandbox/vm_modes.sh.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cmd=${1:?usage: vm_escape.sh prepare|agent|verify BASE}
B=${2:?usage: vm_escape.sh prepare|agent|verify BASE}
S=$B/share O=$B/outside
CAP_MAPPED=user.virtiofs.security.capability

snapshot() { # the canaries' metadata, never their content (reading would change the atime)
	stat -c '%n %i %f %u %g %s %h %X %Y %Z' "$O" "$O/secret" "$O/dir" "$O/dir/victim"
}

prepare() {
	mkdir -p "$S/.esc" "$S/esc" "$O/dir" || return 1
	chmod 755 "$B" "$S" "$S/.esc" && chmod 777 "$S/esc" "$O/dir" || return 1
	printf outside-secret-content >"$O/secret" && chmod 600 "$O/secret"
	printf outside-victim-content >"$O/dir/victim" && chmod 666 "$O/dir/victim"
	cc -static -O2 -Wall -Wextra -o "$S/.esc/esctool" "$here/esctool.c" || return 1
	cp "$repo/tests/vm/guest-test.sh" "$here/guest-escape.sh" "$S/.esc/" || return 1
	echo "OUTSIDE=$O" >"$S/.esc/config"
	mknod "$S/esc/hnull" c 1 3 && mknod "$S/esc/hzero" c 1 5 && mkfifo "$S/esc/hfifo" &&
		chmod 666 "$S/esc/hnull" "$S/esc/hzero" "$S/esc/hfifo" || return 1
	mkdir "$S/esc/sg4242" && chown 0:4242 "$S/esc/sg4242" && chmod 2777 "$S/esc/sg4242" ||
		return 1
	# atime == mtime: with relatime, any read of a canary moves its atime.
	touch -h -d @1000000000 "$O/dir/victim" "$O/secret" "$O/dir" "$O" || return 1
	snapshot >"$B/snap.before"
	ls -A "$B" >"$B/entries.before"
}

agent() {
	local i
	for i in $(seq 1 1200); do
		if [ -e "$S/esc/ready-swap" ]; then
			mv "$S/esc/swapdir" "$S/esc/swapdir.moved" &&
				ln -s "$O/dir" "$S/esc/swapdir" && : >"$S/esc/swapped"
			return
		fi
		sleep 0.5
	done
}

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - host: $*"; }
nok() { fail=$((fail + 1)); echo "not ok - host: $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'; }
expect() { # name, condition...
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}
not_sgid() { # path: exists, and its mode has no set-group-ID bit
	local m
	m=$(stat -c %a "$1" 2>/dev/null) || return 1
	[ ${#m} -lt 4 ] || [ $(((8#$m >> 9) & 2)) -eq 0 ]
}
none_of() {
	local p
	for p in "$@"; do [ ! -e "$p" ] && [ ! -L "$p" ] || return 1; done
}
no_cap() { # path: exists, without the capability under either name
	[ -f "$1" ] && ! "$S/.esc/esctool" hasx "$1" security.capability && ! "$S/.esc/esctool" hasx "$1" "$CAP_MAPPED"
}

verify() {
	local after d
	after=$(snapshot 2>&1)
	if [ "$after" = "$(cat "$B/snap.before")" ]; then
		ok "canaries outside the share untouched and unread (inode, mode, owner, size, links, times)"
	else
		nok "canaries outside the share changed or were read" "$(diff "$B/snap.before" - <<<"$after")"
	fi
	expect "canary content unchanged" [ "$(cat "$O/secret")" = outside-secret-content ]
	expect "canary in the symlink's target directory unchanged" \
		[ "$(cat "$O/dir/victim")" = outside-victim-content ]
	expect "nothing created in the target directory" [ "$(ls -A "$O/dir")" = victim ]
	expect "nothing created next to the share" [ "$(ls -A "$B")" = "$(cat "$B/entries.before")" ]
	expect "nothing created in the host's / or /tmp" none_of /esc-mv-out /tmp/esc-mv-out /newfile
	expect "the absolute symlink is stored verbatim" [ "$(readlink "$S/esc/l-abs")" = "$O/secret" ]
	d=$S/esc/swapdir.moved
	expect "the guest's work in its swapped-out cwd landed in the moved directory" \
		[ "$(ls -A "$d" 2>&1 | tr '\n' ' ')" = "fifo hardlink lnk newdir newfile renamed " ]
	expect "... the swap left a symlink in the old place" [ -L "$S/esc/swapdir" ]
	expect "the guest user's file in the group-0 setgid directory is not set-group-ID" \
		not_sgid "$S/esc/sg0/f"
	expect "the guest user's file in the group-4242 setgid directory is not set-group-ID" \
		not_sgid "$S/esc/sg4242/f"
	expect "the host's device nodes in the share are unchanged" \
		[ "$(stat -c '%F %t:%T' "$S/esc/hnull" "$S/esc/hzero" | tr '\n' ' ')" = \
		  "character special file 1:3 character special file 1:5 " ]
	# Whether the guest could set it at all is the guest's check (it fails without --xattr).
	expect "no capability left on the host after the guest user's write (plain or mapped)" \
		no_cap "$S/esc/capf"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

case "$cmd" in
prepare) prepare ;;
agent) agent ;;
verify) verify ;;
*) echo "vm_escape.sh: unknown step '$cmd'" >&2; exit 2 ;;
esac
