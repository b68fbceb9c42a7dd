#!/usr/bin/env bash
# Command-line behaviour of the built daemon: what a user or a management layer sees.
# Usage: test_cli.sh PATH_TO_VIRTIOFSD
set -u
bin=${1:?usage: test_cli.sh PATH_TO_VIRTIOFSD}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name, expected status, expected regexp in output, command...
	local name=$1 want=$2 re=$3
	shift 3
	local out st
	out=$(timeout -k 2 20 "$@" 2>&1)
	st=$?
	if [ "$st" -eq "$want" ] && printf '%s' "$out" | grep -Eq -- "$re"; then
		pass=$((pass + 1)); echo "ok - $name"
	else
		fail=$((fail + 1)); echo "not ok - $name (status $st, want $want; output: ${out:0:300})"
	fi
}

check "print-capabilities is the vhost-user JSON" 0 '"type": "fs"' "$bin" --print-capabilities
check "print-capabilities is valid JSON" 0 '^fs$' \
	sh -c "'$bin' --print-capabilities | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"type\"])'"
check_not() { # name, regexp that must not be in the output, command...
	local name=$1 re=$2 out
	shift 2
	out=$(timeout -k 2 20 "$@" 2>&1)
	if printf '%s' "$out" | grep -Eq -- "$re"; then
		fail=$((fail + 1)); echo "not ok - $name (output: ${out:0:300})"
	else
		pass=$((pass + 1)); echo "ok - $name"
	fi
}

# No separate-options (libvirt would then refuse <lock posix/flock>, which ours serves through
# -o): docs/status.md. migrate-precopy, as the Rust daemon: live migration works
# (docs/migration.md, tests/vm/migrate-all.sh).
check_not "print-capabilities offers no separate-options" 'separate-options' \
	"$bin" --print-capabilities
check "print-capabilities offers migrate-precopy, and only it" 0 '^\[.migrate-precopy.\]$' \
	sh -c "'$bin' --print-capabilities | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"features\"])'"
check "help" 0 'shared-dir' "$bin" --help
check_not "help no longer says migration is not supported" 'Migration is not supported yet' \
	"$bin" --help
check "help says what --migration-confirm-paths does here" 0 'ours always does' "$bin" --help
check "help names what only ours accepts" 0 'Only in this daemon' "$bin" --help
# As the Rust daemon (clap): the help on stderr and status 2 without arguments, 2 for every
# usage error, 1 for what is refused after parsing.
check "no arguments prints help, status 2" 2 'Usage' "$bin"
# Ours, then the Rust release whose command line it follows: tools and bug reports tell them apart.
check "version names this daemon" 0 '^virtiofsd-c [0-9]+\.[0-9]+\.[0-9]+$' \
	sh -c "'$bin' --version | head -1"
check "version names the Rust release the command line follows" 0 \
	'^command line compatible with virtiofsd 1\.[0-9]+\.[0-9]+$' sh -c "'$bin' --version | sed -n 2p"
check "unknown option" 2 "unknown option '--frobnicate'" "$bin" --frobnicate
check "abbreviated option" 2 "unknown option '--shared=" \
	"$bin" --shared="$tmp" --socket-path="$tmp/s"
check "bad cache value" 2 "invalid value 'sometimes' for '--cache'" \
	"$bin" --cache=sometimes --shared-dir="$tmp" --socket-path="$tmp/s"
check "help lists --poll-us" 0 'poll-us <N>' "$bin" --help
check "bad poll-us value" 2 "poll-us" "$bin" --poll-us=fast --shared-dir="$tmp" --socket-path="$tmp/s"
check "missing shared dir" 2 'missing the required option --shared-dir' \
	"$bin" --socket-path="$tmp/s" --sandbox=none
check "missing socket" 2 'missing one of the required options --socket-path' \
	"$bin" --shared-dir="$tmp" --sandbox=none
check "missing option value" 2 "option '--shared-dir' needs a value" "$bin" --shared-dir
check "--inode-file-handles wants '='" 2 'equal sign is needed' \
	"$bin" --shared-dir="$tmp" --socket-path="$tmp/s" --inode-file-handles never
check "--socket-group with --fd" 2 'socket-group cannot be used with --fd' \
	"$bin" --shared-dir="$tmp" --fd=3 --socket-group=root
check "-o without source=" 1 'missing "--shared-dir" or "-o source"' \
	"$bin" -o cache=auto --socket-path="$tmp/s" --sandbox=none
# -o source= replaces --shared-dir wherever it stands: the daemon then names the -o one.
check "-o source replaces --shared-dir" 1 "$tmp/nope" \
	"$bin" -o source="$tmp/nope" --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none
check "migration options that contradict" 1 'migration-verify-handles with --migration-mode' \
	"$bin" --shared-dir="$tmp" --socket-path="$tmp/s" --migration-mode=file-handles \
	--migration-verify-handles
check "an explicit --rlimit-nofile that cannot be set is fatal" 1 'cannot be raised above' \
	"$bin" --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none \
	--rlimit-nofile=99999999999
check "--tag longer than 36 bytes" 2 "invalid --tag 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'.*longer than 36 bytes" \
	"$bin" --tag=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none
check "empty --tag" 2 "invalid --tag ''.*may not be empty" \
	"$bin" --tag= --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none
check "--tag of 36 bytes in 35 characters (UTF-8) is too long" 2 "longer than 36 bytes" \
	"$bin" --tag="$(printf '\303\251')aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none
check "id maps as root are refused" 1 'uid-map/--gid-map are only for a non-root user' \
	"$bin" --shared-dir="$tmp" --socket-path="$tmp/s" --uid-map=:0:1000:1:
check "nonexistent shared dir" 1 "$tmp/nope" \
	"$bin" --shared-dir="$tmp/nope" --socket-path="$tmp/s" --sandbox=none

# Two daemons cannot share one socket: the second sees the first's pid-file lock.
"$bin" --shared-dir="$tmp" --socket-path="$tmp/sock" --sandbox=none --seccomp=none \
	>"$tmp/d1.log" 2>&1 &
d1=$!
for _ in $(seq 50); do [ -S "$tmp/sock" ] && break; sleep 0.1; done
check "second daemon on the same socket is refused" 1 'sock' \
	timeout 5 "$bin" --shared-dir="$tmp" --socket-path="$tmp/sock" --sandbox=none --seccomp=none
kill "$d1" 2>/dev/null
wait "$d1" 2>/dev/null

# A --socket-path that names anything but a socket is left alone (the Rust daemon removes it):
# a mistyped path must not cost the user a disk image or a configuration file.
echo keep >"$tmp/not-a-socket"
check "a regular file at the socket path is refused" 1 'not-a-socket: it exists and is a regular file, not a socket' \
	"$bin" --shared-dir="$tmp" --socket-path="$tmp/not-a-socket" --sandbox=none --seccomp=none
check "a regular file at the socket path is kept" 0 '^keep$' cat "$tmp/not-a-socket"

# A descriptor the launcher left open (here a directory, fd 7) is closed before the sandbox:
# it would be a way back to the host's file system. In every process of the daemon (as root,
# the namespace sandbox's waiting parent and its child; the Rust daemon keeps it in both).
inherited_fd_case() { # name, daemon options...
	local name=$1 pid fds="" p
	shift
	rm -f "$tmp/ifd.sock"
	(exec 7</ && exec "$bin" --shared-dir="$tmp" --socket-path="$tmp/ifd.sock" "$@" \
		>"$tmp/ifd.log" 2>&1) &
	pid=$!
	for _ in $(seq 100); do [ -S "$tmp/ifd.sock" ] && break; sleep 0.1; done
	sleep 0.3
	for p in $pid $(pgrep -P "$pid"); do
		fds="$fds $p:$(readlink "/proc/$p/fd/7" 2>/dev/null || echo none)"
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ -S "$tmp/ifd.sock" ] && ! printf '%s' "$fds" | grep -q ':/$'; then
		pass=$((pass + 1)); echo "ok - $name"
	else
		fail=$((fail + 1)); echo "not ok - $name (fd 7 per process:$fds; $(head -c 300 "$tmp/ifd.log"))"
	fi
}
inherited_fd_case "an inherited directory fd is closed (--sandbox=none)" --sandbox=none
if [ "$(id -u)" = 0 ]; then
	inherited_fd_case "an inherited directory fd is closed (namespace sandbox)"
else
	echo "# skipped: the inherited-fd case in the namespace sandbox needs root"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
