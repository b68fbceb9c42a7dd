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
	out=$("$@" 2>&1)
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
check "help" 0 'shared-dir' "$bin" --help
check "no arguments prints help" 0 'Usage' "$bin"
check "version" 0 '^virtiofsd [0-9]+\.[0-9]+' "$bin" --version
check "unknown option" 1 "unknown option '--frobnicate'" "$bin" --frobnicate
check "bad cache value" 1 "invalid value 'sometimes' for '--cache'" \
	"$bin" --cache=sometimes --shared-dir="$tmp" --socket-path="$tmp/s"
check "--tag longer than 36 bytes" 1 "invalid --tag 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'.*longer than 36 bytes" \
	"$bin" --tag=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none
check "empty --tag" 1 "invalid --tag ''.*may not be empty" \
	"$bin" --tag= --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none
check "--tag of 36 bytes in 35 characters (UTF-8) is too long" 1 "longer than 36 bytes" \
	"$bin" --tag="$(printf '\303\251')aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" --shared-dir="$tmp" --socket-path="$tmp/s" --sandbox=none
check "missing shared dir" 1 'missing --shared-dir' "$bin" --socket-path="$tmp/s" --sandbox=none
check "missing socket" 1 'missing --socket-path or --fd' "$bin" --shared-dir="$tmp" --sandbox=none
check "missing option value" 1 "option '--shared-dir' needs a value" "$bin" --shared-dir
check "conflicting -o source" 1 "conflicting values" \
	"$bin" --shared-dir="$tmp" -o source=/ --socket-path="$tmp/s" --sandbox=none
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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
