#!/bin/bash
# VM tier entry point: prepares the assets, boots the guest against our daemon (build/virtiofsd)
# and runs tests/vm/guest-test.sh on the share, then checks on the host what the guest left there
# (checksums, the final tree). With --compare the same run is made against the legacy daemon
# /usr/lib/qemu/virtiofsd and the two guests' answers must be the same.
#
# Usage: tests/vm/run.sh [--compare] [--legacy-only] [--daemon PATH] [--asan-daemon PATH] [--keep]
#   --compare       also run against the legacy daemon and diff the answers
#   --legacy-only   run only against the legacy daemon (to validate this tier itself)
#   --daemon PATH   our daemon (default <repo>/build/virtiofsd); extra arguments for it can be
#                   given in $VM_DAEMON_ARGS (split on spaces)
#   --asan-daemon PATH  one more run against a sanitizer build of our daemon (e.g.
#                   build-asan/virtiofsd), with --seccomp=none: LeakSanitizer's exit-time
#                   check needs syscalls (ptrace, ...) that the allow-list rightly kills
#   --keep          keep the share and logs (printed) instead of deleting them
#   --timeout S     per guest run (default 300; a run takes about 20 s under TCG)
#
# Our daemon missing or not working is a failure, never a skip. The last line is
# "N passed, N failed"; the exit status is non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

compare=0 legacy_only=0 keep=0 timeout_s=300 daemon=$repo/build/virtiofsd asan_daemon=
while [ $# -gt 0 ]; do
	case "$1" in
	--compare) compare=1 ;;
	--legacy-only) legacy_only=1 ;;
	--daemon) daemon=${2:?}; shift ;;
	--daemon=*) daemon=${1#*=} ;;
	--asan-daemon) asan_daemon=${2:?}; shift ;;
	--asan-daemon=*) asan_daemon=${1#*=} ;;
	--keep) keep=1 ;;
	--timeout) timeout_s=${2:?}; shift ;;
	--timeout=*) timeout_s=${1#*=} ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done

# shellcheck source=tests/tap.sh
. "$here/../tap.sh"

work=$(mktemp -d /tmp/vmtier.XXXXXX)
cleanup() {
	if [ $keep -eq 1 ]; then
		echo "run.sh: kept shares and logs in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

if ! "$here/prepare.sh"; then
	nok "prepare the VM assets (tests/vm/prepare.sh)"
	finish
fi

# Checks on the host what the guest recorded in vmtest-results.txt. $1 label, $2 share.
verify_tree() {
	local label=$1 share=$2 res=$2/vmtest-results.txt kind path arg p got want bad=0 checked=0
	if [ ! -f "$res" ]; then
		nok "$label: the guest left $res on the share"
		return
	fi
	while read -r kind path arg; do
		p=$share/$path
		checked=$((checked + 1))
		case "$kind" in
		sha256) want=$arg; got=$(sha256sum <"$p" 2>/dev/null | cut -d' ' -f1) || got=missing ;;
		type)
			want=$arg
			if [ -L "$p" ]; then got=symlink
			elif [ -p "$p" ]; then got=fifo
			elif [ -d "$p" ]; then got=directory
			elif [ -f "$p" ]; then got="file"
			else got=missing; fi ;;
		size) want=$arg; got=$(stat -c %s "$p" 2>&1) || got=missing ;;
		content) want=$arg; got=$(cat "$p" 2>&1) || got=missing ;;
		links) want=$arg; got=$(stat -c %h "$p" 2>&1) || got=missing ;;
		symlink) want=$arg; got=$(readlink "$p" 2>&1) || got=missing ;;
		absent) want=absent; if [ -e "$p" ] || [ -L "$p" ]; then got=present; else got=absent; fi ;;
		mode) want=$arg; got=$(stat -c %a "$p" 2>&1) || got=missing ;;
		owner) want=$arg; got=$(stat -c %u:%g "$p" 2>&1) || got=missing ;;
		mtime) want=$arg; got=$(stat -c %Y "$p" 2>&1) || got=missing ;;
		count) want=$arg; got=$(find "$p" -mindepth 1 -maxdepth 1 | wc -l) ;;
		*) want="known check"; got="unknown check '$kind'" ;;
		esac
		if [ "$got" = "$want" ]; then
			ok "$label: host sees $kind $path = $want"
		else
			nok "$label: host sees $kind $path: expected '$want', got '$got'"
			bad=$((bad + 1))
		fi
	done <"$res"
	[ $checked -gt 0 ] || nok "$label: $res lists no checks"
}

# Boots one guest. $1 label, then run-vm.sh options. Leaves $work/$1/{share,out}.
vm_run() {
	local label=$1 st line gp gf
	shift
	mkdir -p "$work/$label/share" "$work/$label/out"
	echo "run.sh: --- $label: booting the guest ---"
	st=0
	"$here/run-vm.sh" --share "$work/$label/share" --out "$work/$label/out" \
		--timeout "$timeout_s" "$@" || st=$?
	# Guest checks, one line each, counted here.
	gp=$(tr -d '\r' <"$work/$label/out/console.log" | grep -ac '^ok [0-9]' || true)
	gf=$(tr -d '\r' <"$work/$label/out/console.log" | grep -ac '^not ok [0-9]' || true)
	tr -d '\r' <"$work/$label/out/console.log" | grep -a '^not ok [0-9]' |
		sed "s/^/run.sh: $label guest: /" || true
	pass=$((pass + gp))
	fail=$((fail + gf))
	line=$(tr -d '\r' <"$work/$label/out/console.log" | grep -aE '^[0-9]+ passed, [0-9]+ failed$' |
		tail -n1 || true)
	if [ $st -eq 0 ]; then
		ok "$label: guest run completed and the daemon exited 0 ($(cat "$work/$label/out/elapsed") s)"
	else
		nok "$label: run-vm.sh exited $st (guest summary: '${line:-none}'; logs in $work/$label/out)"
		[ -s "$work/$label/out/daemon.log" ] && tail -n 15 "$work/$label/out/daemon.log" |
			sed "s/^/run.sh: $label daemon.log| /"
	fi
	if grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$work/$label/out/daemon.log"; then
		nok "$label: sanitizer report in the daemon's log:"
		grep -E -A12 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$work/$label/out/daemon.log" |
			head -n 40 | sed "s/^/run.sh: $label daemon.log| /"
	fi
	if [ -n "$line" ] && [ "$gp" -gt 0 ]; then
		verify_tree "$label" "$work/$label/share"
	fi
}

# The answers both daemons must agree on: check lines and normalised stat lines.
answers() { tr -d '\r' <"$1" | grep -aE '^(ok|not ok) [0-9]+ - |^stat: |^[0-9]+ passed, ' || true; }

if [ $legacy_only -eq 0 ]; then
	if [ ! -x "$daemon" ]; then
		nok "our daemon $daemon exists (build it: meson setup build && ninja -C build)"
	else
		extra=()
		for a in ${VM_DAEMON_ARGS:-}; do extra+=("--daemon-arg=$a"); done
		vm_run ours --daemon "$daemon" "${extra[@]}"
		# The same guest script under the other cache policies and the options that change
		# what the guest kernel is told at INIT or at OPEN.
		vm_run ours-never --daemon "$daemon" "${extra[@]}" --daemon-arg=--cache=never \
			--daemon-arg=--allow-mmap --daemon-arg=--allow-direct-io \
			--daemon-arg=--no-readdirplus --daemon-arg=--preserve-noatime \
			--daemon-arg=--thread-pool-size=2
		vm_run ours-always --daemon "$daemon" "${extra[@]}" --daemon-arg=--cache=always \
			--daemon-arg=--writeback --daemon-arg=--killpriv-v2 --daemon-arg=--xattr \
			--daemon-arg=--posix-lock --daemon-arg=--flock --daemon-arg=--announce-submounts
	fi
fi
if [ -n "$asan_daemon" ] && [ $legacy_only -eq 0 ]; then
	if [ -x "$asan_daemon" ]; then
		vm_run ours-asan --daemon "$asan_daemon" --daemon-arg=--seccomp=none
	else
		nok "sanitizer build of our daemon $asan_daemon exists"
	fi
fi
if [ $compare -eq 1 ] || [ $legacy_only -eq 1 ]; then
	if [ -x /usr/lib/qemu/virtiofsd ]; then
		vm_run legacy --legacy
	else
		nok "legacy daemon /usr/lib/qemu/virtiofsd exists (apt-get install qemu-system-common)"
	fi
fi

if [ $compare -eq 1 ] && [ $legacy_only -eq 0 ]; then
	if [ -f "$work/ours/out/console.log" ] && [ -f "$work/legacy/out/console.log" ]; then
		answers "$work/ours/out/console.log" >"$work/answers.ours"
		answers "$work/legacy/out/console.log" >"$work/answers.legacy"
		if [ ! -s "$work/answers.ours" ]; then
			nok "differential: our guest gave no answers to compare"
		elif diff -u "$work/answers.legacy" "$work/answers.ours" >"$work/answers.diff"; then
			ok "differential: same $(wc -l <"$work/answers.ours") answers from our daemon and the legacy one"
		else
			nok "differential: answers differ between the legacy daemon (-) and ours (+):"
			sed 's/^/run.sh: diff| /' "$work/answers.diff"
		fi
	else
		nok "differential: both runs produced a console log"
	fi
fi

for l in ours ours-asan legacy; do
	[ -f "$work/$l/out/elapsed" ] && echo "run.sh: $l run took $(cat "$work/$l/out/elapsed") s"
done
finish
