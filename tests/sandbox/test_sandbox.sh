#!/usr/bin/env bash
# Process-level sandbox checks. Starts the daemon (and sb_probe, the sandbox library behind the
# daemon's start-up, which also checks the fds the filesystem gets and can make a forbidden
# syscall) in each --sandbox mode, as root and as a non-root user this script creates with
# /etc/subuid and /etc/subgid ranges, and inspects the serving process through /proc: its root
# is the share, only lo in its network namespace, its own PID and mount namespaces, Seccomp: 2,
# the documented capability sets, no supplementary groups, the open-file limit asked for.
# Then the refusals (one line each, exit 1) and seccomp kill/log/trap at process level.
#
# Usage: test_sandbox.sh PATH_TO_SB_PROBE PATH_TO_VIRTIOFSD   (as root; exit 77 = skipped)
set -u
probe_src=${1:?usage: test_sandbox.sh SB_PROBE VIRTIOFSD}
daemon_src=${2:?usage: test_sandbox.sh SB_PROBE VIRTIOFSD}
pass=0 fail=0
user=vfsd-sbtest
created_user=0

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (it creates a test user)"
	exit 77
fi
for tool in setpriv useradd newuidmap; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool missing (scripts/deps.sh installs it)"; exit 77; }
done

tmp=$(mktemp -d /tmp/vfsd-sandbox.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$tmp"
	[ "$created_user" = 1 ] && userdel "$user" 2>/dev/null
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $1"; }
nok() { fail=$((fail + 1)); echo "not ok - $1${2:+ ($2)}"; }
expect_eq() { # name, got, want
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "got '$2', want '$3'"; fi
}

# The test user: no supplementary groups, subordinate ranges for the explicit-map runs.
if ! id "$user" >/dev/null 2>&1; then
	useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$user" || { echo "cannot create $user"; exit 1; }
	created_user=1
fi
uid=$(id -u "$user") gid=$(id -g "$user")
sub_uid=$(awk -F: -v u="$user" '$1 == u { print $2; exit }' /etc/subuid)
sub_gid=$(awk -F: -v u="$user" '$1 == u { print $2; exit }' /etc/subgid)
if [ -z "$sub_uid" ] || [ -z "$sub_gid" ]; then
	usermod --add-subuids 3000000-3065535 --add-subgids 3000000-3065535 "$user"
	sub_uid=3000000 sub_gid=3000000
fi

# Copies the non-root user can execute (the build tree may not be reachable for it).
mkdir -p "$tmp/bin" "$tmp/run"
chmod 1777 "$tmp/run" # sockets and pid files of both users
cp "$probe_src" "$tmp/bin/sb_probe"
cp "$daemon_src" "$tmp/bin/virtiofsd"
chmod 755 "$tmp/bin" "$tmp/bin/"*
probe=$tmp/bin/sb_probe daemon=$tmp/bin/virtiofsd

n=0
# start WHO PROG MODE ARGS...: sets $outer, $serving, $share, $log; 0 when ready.
start() {
	local who=$1 prog=$2 mode=$3
	shift 3
	n=$((n + 1))
	share=$tmp/share$n log=$tmp/log$n
	mkdir -p "$share"
	echo "data" >"$share/file"
	[ "$who" = user ] && chown -R "$user:$user" "$share"
	local args=(--shared-dir="$share" --sandbox="$mode" --rlimit-nofile=4096 "$@") ready
	if [ "$prog" = daemon ]; then
		args+=(--socket-path="$tmp/run/sock$n")
		ready='Waiting for vhost-user'
	else
		ready='^ready'
	fi
	local run=()
	[ "$who" = user ] && run=(setpriv --reuid="$user" --regid="$user" --init-groups)
	"${run[@]}" "${!prog}" "${args[@]}" >"$log" 2>&1 &
	outer=$!
	pids+=("$outer")
	for _ in $(seq 100); do
		grep -Eq "$ready" "$log" && break
		kill -0 "$outer" 2>/dev/null || break
		sleep 0.05
	done
	serving=$outer
	if [ "$mode" = namespace ]; then
		serving=$(tr -d ' ' <"/proc/$outer/task/$outer/children" 2>/dev/null)
	fi
	grep -Eq "$ready" "$log" && [ -n "$serving" ] && [ -d "/proc/$serving" ]
}

stop() { # expects the outer process to die of SIGTERM, as the daemon does without a sandbox
	kill -TERM "$outer" 2>/dev/null
	wait "$outer" 2>/dev/null
	local st=$?
	expect_eq "$1: SIGTERM ends it (status 143)" "$st" 143
	[ -d "/proc/$serving" ] && nok "$1: serving process gone" "still there" || ok "$1: serving process gone"
}

field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print }' "/proc/$1/status"; }

inspect() { # name, who, mode, capeff, groups
	local name=$1 who=$2 mode=$3 caps=$4 groups=$5 want_root
	want_root=$(stat -c %d:%i "$share")
	[ "$mode" = none ] && want_root=$(stat -c %d:%i /)
	expect_eq "$name: root directory" "$(stat -L -c %d:%i "/proc/$serving/root")" "$want_root"
	if [ "$mode" = namespace ]; then
		expect_eq "$name: only lo" "$(awk 'NR > 2 { sub(/:.*/, "", $1); print $1 }' \
			"/proc/$serving/net/dev" | tr '\n' ' ')" "lo "
		local ns
		for ns in pid mnt net; do
			if [ "$(readlink "/proc/$serving/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ]; then
				ok "$name: own $ns namespace"
			else
				nok "$name: own $ns namespace"
			fi
		done
		expect_eq "$name: PID 1 inside" "$(field "$serving" NSpid | awk '{ print $NF }')" 1
	fi
	expect_eq "$name: seccomp filter" "$(field "$serving" Seccomp)" 2
	expect_eq "$name: CapEff" "$(field "$serving" CapEff)" "$caps"
	expect_eq "$name: CapPrm" "$(field "$serving" CapPrm)" "$caps"
	[ "$caps" != 0000000000000000 ] && expect_eq "$name: CapBnd" "$(field "$serving" CapBnd)" "$caps"
	expect_eq "$name: CapInh+CapAmb" "$(field "$serving" CapInh)$(field "$serving" CapAmb)" \
		00000000000000000000000000000000
	if [ -z "$groups" ]; then
		expect_eq "$name: no supplementary groups" "$(field "$serving" Groups)" ""
	else
		expect_eq "$name: supplementary groups kept" "$(field "$serving" Groups)" "$groups"
	fi
	local want_uid=0
	[ "$who" = user ] && want_uid=$uid
	expect_eq "$name: host uid" "$(field "$serving" Uid | awk '{ print $1 $2 $3 $4 }')" \
		"$want_uid$want_uid$want_uid$want_uid"
	expect_eq "$name: open-file limit" \
		"$(awk '/^Max open files/ { print $4, $5 }' "/proc/$serving/limits")" "4096 4096"
}

base=00000000880000db # CHOWN DAC_OVERRIDE FOWNER FSETID SETGID SETUID MKNOD SETFCAP
none=0000000000000000

run_case() { # who, prog, mode, capeff, groups, args...
	local who=$1 prog=$2 mode=$3 caps=$4 groups=$5
	shift 5
	local name="$prog --sandbox=$mode as $who${*:+ $*}"
	if start "$who" "$prog" "$mode" "$@"; then
		ok "$name: starts"
		inspect "$name" "$who" "$mode" "$caps" "$groups"
		stop "$name"
	else
		nok "$name: starts" "$(head -c 400 "$log")"
		kill -KILL "$outer" 2>/dev/null
		wait "$outer" 2>/dev/null
	fi
}

maps=(--uid-map=":0:$uid:1:" --uid-map=":1:$sub_uid:65536:"
      --gid-map=":0:$gid:1:" --gid-map=":1:$sub_gid:65536:")
# The user starts with its login groups (setpriv --init-groups). Without a gid map from
# newgidmap it cannot drop them: the kernel denies setgroups to an unprivileged process, and in
# a user namespace with the default one-gid map (dropping a group could grant access that a
# group-denying permission withholds). They are its own groups, not a widening.
user_groups=$(id -G "$user")
for prog in probe daemon; do
	# The daemon's default (prefer) uses file handles where the share allows: say never here.
	nofh=(--inode-file-handles=never)
	[ "$prog" = probe ] && nofh=()
	for mode in namespace chroot none; do
		run_case root "$prog" "$mode" "$base" "" "${nofh[@]}"
	done
	# + DAC_READ_SEARCH for file handles; + SYS_ADMIN - CHOWN from --modcaps.
	fh=--inode-file-handles=prefer
	[ "$prog" = probe ] && fh=--file-handles
	run_case root "$prog" namespace 00000000880000df "" "$fh"
	[ "$prog" = daemon ] && run_case root daemon chroot 00000000880000df ""
	run_case root "$prog" chroot 00000000882000da "" --modcaps=+sys_admin:-chown "${nofh[@]}"
	run_case user "$prog" namespace "$base" "$user_groups"
	run_case user "$prog" namespace "$base" "" "${maps[@]}"
	run_case user "$prog" none "$none" "$user_groups"
done

# Explicit maps: the namespace sees the subordinate range.
if start user daemon namespace "${maps[@]}"; then
	expect_eq "explicit maps: uid_map" "$(awk '{ print $1, $2, $3 }' "/proc/$serving/uid_map" | tr '\n' ';')" \
		"0 $uid 1;1 $sub_uid 65536;"
	stop "explicit maps"
else
	nok "explicit maps: starts" "$(head -c 400 "$log")"
fi

# Maps without id 0 start, as in the Rust daemon: the daemon keeps the caller's ids inside,
# with a warning. The default map is the caller's own uid and gid, as in the Rust daemon.
if start user daemon namespace; then
	expect_eq "default map: uid_map" "$(awk '{ print $1, $2, $3 }' "/proc/$serving/uid_map")" \
		"$uid $uid 1"
	expect_eq "default map: gid_map" "$(awk '{ print $1, $2, $3 }' "/proc/$serving/gid_map")" \
		"$gid $gid 1"
	stop "default map"
else
	nok "default map: starts" "$(head -c 400 "$log")"
fi
if start user daemon namespace --uid-map=":1:$sub_uid:10:"; then
	expect_eq "a map without id 0: uid_map" \
		"$(awk '{ print $1, $2, $3 }' "/proc/$serving/uid_map")" "1 $sub_uid 10"
	grep -q 'cannot become uid 0' "$log" && ok "a map without id 0: warns" ||
		nok "a map without id 0: warns" "$(head -c 400 "$log")"
	stop "a map without id 0"
else
	nok "a map without id 0: starts" "$(head -c 400 "$log")"
fi
if start user daemon namespace --uid-map=":$uid:$uid:1:" --gid-map=":$gid:$gid:1:"; then
	expect_eq "own ids given explicitly: uid_map" \
		"$(awk '{ print $1, $2, $3 }' "/proc/$serving/uid_map")" "$uid $uid 1"
	stop "own ids given explicitly"
else
	nok "own ids given explicitly: starts" "$(head -c 400 "$log")"
fi

# Sharing / itself: no pivot_root, still new namespaces and the fds the filesystem needs.
"$probe" --shared-dir=/ --sandbox=namespace >"$tmp/root.log" 2>&1 &
outer=$!
pids+=("$outer")
for _ in $(seq 100); do grep -q '^ready' "$tmp/root.log" && break; sleep 0.05; done
serving=$(tr -d ' ' <"/proc/$outer/task/$outer/children" 2>/dev/null)
if grep -q '^ready root=/$' "$tmp/root.log" && [ -n "$serving" ]; then
	expect_eq "shared dir /: root directory" "$(stat -L -c %d:%i "/proc/$serving/root")" \
		"$(stat -c %d:%i /)"
	expect_eq "shared dir /: PID 1 inside" "$(field "$serving" NSpid | awk '{ print $NF }')" 1
	stop "shared dir /"
else
	nok "shared dir /: starts" "$(head -c 400 "$tmp/root.log")"
fi

# Refusals: one line on stderr, exit status 1, before anything starts.
refusal() { # name, who, regexp, args...; $want_st: the exit status (1; 2 for a usage error)
	local name=$1 who=$2 re=$3 out st
	shift 3
	local run=()
	[ "$who" = user ] && run=(setpriv --reuid="$user" --regid="$user" --init-groups)
	out=$(timeout -k 5 30 "${run[@]}" "$daemon" --shared-dir="$tmp" \
		--socket-path="$tmp/run/refused.sock" "$@" 2>&1)
	st=$?
	if [ "$st" -eq "${want_st:-1}" ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	   printf '%s' "$out" | grep -Eq -- "$re"; then
		ok "refusal: $name"
	else
		nok "refusal: $name" "status $st, output: ${out:0:300}"
	fi
}
refusal "chroot as non-root" user 'chroot needs root.*--sandbox=namespace' --sandbox=chroot
refusal "id maps as root" root 'only for a non-root user' --uid-map=:0:1000:1:
refusal "id maps without the namespace sandbox" user 'need --sandbox=namespace' \
	--sandbox=none --uid-map=":0:$uid:1:"
want_st=2 refusal "a malformed map" user "invalid value ':0:1:' for '--uid-map'" --uid-map=:0:1:
refusal "an unknown capability" root "unknown capability name" --modcaps=+frobnicate
refusal "removing a needed capability" root "cannot remove setuid" --modcaps=-setuid
refusal "removing DAC_READ_SEARCH with file handles" root "cannot remove dac_read_search" \
	--modcaps=-dac_read_search --inode-file-handles=mandatory
want_st=2 refusal "an unknown sandbox mode" root "namespace, chroot or none" --sandbox=jail
want_st=2 refusal "an unknown seccomp action" root "none, kill, log or trap" --seccomp=maybe

# Host ids outside the user's subordinate ranges: newuidmap refuses, the daemon says so.
out=$(timeout -k 5 30 setpriv --reuid="$user" --regid="$user" --init-groups \
	"$daemon" --shared-dir="$tmp" --socket-path="$tmp/run/r.sock" \
	--uid-map=":0:$uid:1:" --uid-map=":1:7000000:10:" 2>&1)
st=$?
if [ "$st" -ne 0 ] && printf '%s' "$out" | grep -q 'newuidmap failed'; then
	ok "refusal: host ids not in /etc/subuid"
else
	nok "refusal: host ids not in /etc/subuid" "status $st, output: ${out:0:300}"
fi

# Seccomp at process level: a syscall outside the list after the filter, in each mode.
seccomp_case() { # who, mode, action, want-status, want-regexp
	local who=$1 mode=$2 action=$3 want=$4 re=$5 st
	local run=()
	n=$((n + 1))
	mkdir -p "$tmp/share$n"
	[ "$who" = user ] && run=(setpriv --reuid="$user" --regid="$user" --init-groups) &&
		chown "$user" "$tmp/share$n"
	timeout -k 5 30 "${run[@]}" "$probe" --shared-dir="$tmp/share$n" --sandbox="$mode" \
		--seccomp="$action" --forbidden >"$tmp/log$n" 2>&1
	st=$?
	if [ "$st" -eq "$want" ] && grep -Eq -- "$re" "$tmp/log$n"; then
		ok "seccomp=$action, --sandbox=$mode as $who: forbidden syscall (status $st)"
	else
		nok "seccomp=$action, --sandbox=$mode as $who" \
			"status $st, want $want; $(head -c 300 "$tmp/log$n")"
	fi
}
nr=$(printf '#include <sys/syscall.h>\nSYS_personality\n' | cc -E -P - 2>/dev/null | tail -1)
# Killed by SIGSYS: 159 from the waiting parent (128 + 31), or the shell's 128 + 31 directly.
seccomp_case root namespace kill 159 '^ready'
seccomp_case root none kill 159 '^ready'
seccomp_case user namespace kill 159 '^ready'
seccomp_case root namespace log 0 'forbidden syscall returned [0-9]'
seccomp_case root namespace trap 0 "refused syscall ${nr:-135}"
seccomp_case user none trap 0 'forbidden syscall returned -1 errno 38'

# log: the kernel records the syscall (audit type 1326) with the probe's name.
if dmesg >/dev/null 2>&1; then
	if dmesg | grep -E 'type=1326|audit.*seccomp' | grep -q "comm=\"sb_probe\".*syscall=${nr:-135}"; then
		ok "seccomp=log: the kernel logged the forbidden syscall"
	else
		nok "seccomp=log: the kernel logged the forbidden syscall" "no audit line in dmesg"
	fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
