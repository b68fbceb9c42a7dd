#!/usr/bin/env bash
# The argument lists real tools pass to virtiofsd, given to ours and to the Rust virtiofsd 1.13.2
# (tests/cli/rust-peer.sh fetches it) in the same run. For each line cliprobe reports what the
# guest gets (INIT flags, timeouts, OPEN flags, xattrs, writes, exit status) and a few facts
# from the log; then:
#   - ours must show the effect the line asks for (the `want` checks below), Rust or not;
#   - every difference between the two daemons must be listed in expected-differences.txt,
#     and every difference listed there for a case must show up (a stale line fails too).
# Without the Rust daemon the comparison is skipped LOUDLY and ours is still checked.
# Usage: run.sh PATH_TO_OUR_VIRTIOFSD PATH_TO_CLIPROBE
set -u
ours=$(realpath "${1:?usage: run.sh VIRTIOFSD CLIPROBE}")
probe=$(realpath "${2:?usage: run.sh VIRTIOFSD CLIPROBE}")
here=$(cd "$(dirname "$0")" && pwd)
expected=$here/expected-differences.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/tap.sh
. "$here/../tap.sh"

if rust=$(bash "$here/rust-peer.sh" 2>"$tmp/peer.err"); then
	echo "# Rust daemon: $rust ($("$rust" --version))"
else
	rust=
	echo "!! ======================================================================="
	echo "!! Rust virtiofsd 1.13.2 NOT AVAILABLE: $(cat "$tmp/peer.err")"
	echo "!! The comparison half of this test is SKIPPED; only ours is checked."
	echo "!! ======================================================================="
fi

# Facts from a daemon log, as report lines.
log_facts() { # logfile
	local f=$1
	grep -q 'Waiting for vhost-user socket connection' "$f" && echo "log.info=yes" || echo "log.info=no"
	grep -Eq '(\[|^)[^]]*DEBUG' "$f" && echo "log.debug=yes" || echo "log.debug=no"
	grep -qi "can't enable syslog" "$f" && echo "log.syslog_fallback=yes" || echo "log.syslog_fallback=no"
}

# report DAEMON PROBE_OPTS ARGS... > report: cliprobe's lines plus the log's facts.
report() {
	local daemon=$1 popts=$2
	shift 2
	local log=$tmp/log.$RANDOM
	# shellcheck disable=SC2086
	timeout -k 5 60 "$probe" $popts --log "$log" -- "$daemon" "$@" 2>"$log.probe"
	local st=$?
	[ "$st" -eq 0 ] || echo "probe=failed:$st $(head -c 300 "$log.probe" | tr '\n' ' ')"
	[ -f "$log" ] && log_facts "$log"
	cat "$log" >>"$tmp/all-logs" 2>/dev/null
}

field() { sed -n "s/^$2=//p" "$1" | head -1; }

outcome() { # report -> ok | refused:STATUS
	if [ "$(field "$1" start)" = ok ]; then echo ok; else echo "refused:$(field "$1" status)"; fi
}

# The differences between two reports, one per line, in the expected-differences syntax.
differences() { # ours-report rust-report
	local o=$1 r=$2 oo ro k
	oo=$(outcome "$o") ro=$(outcome "$r")
	if [ "$oo" != "$ro" ]; then
		echo "start ours=$oo rust=$ro"
		return
	fi
	for k in probe entry_valid attr_valid owner open getxattr mkdir status log.info log.debug \
		log.syslog_fallback; do
		[ "$(field "$o" "$k")" = "$(field "$r" "$k")" ] ||
			echo "$k ours=$(field "$o" "$k") rust=$(field "$r" "$k")"
	done
	local fo fr
	fo=$(field "$o" init | tr ' ' '\n' | sed '/^$/d' | sort)
	fr=$(field "$r" init | tr ' ' '\n' | sed '/^$/d' | sort)
	comm -23 <(echo "$fo") <(echo "$fr") | sed '/^$/d; s/^/init +/'
	comm -13 <(echo "$fo") <(echo "$fr") | sed '/^$/d; s/^/init -/'
}

# expected-differences.txt without comments: "CASE DIFFERENCE" (CASE a glob; * = every case,
# and need not show up everywhere). A line marked @no-dev-log holds only without /dev/log.
listed() {
	sed 's/#.*//; s/[[:space:]]*$//; /^[[:space:]]*$/d' "$expected" |
		if [ -S /dev/log ]; then grep -v '@no-dev-log'; else sed 's/[[:space:]]*@no-dev-log//'; fi
}

compare() { # name
	local name=$1 d pat text found missing=0
	[ -n "$rust" ] || return 0
	differences "$tmp/ours" "$tmp/rust" >"$tmp/diffs"
	listed >"$tmp/listed"
	while IFS= read -r d; do
		found=0
		while read -r pat text; do
			# shellcheck disable=SC2053
			[[ $name == $pat ]] && [ "$text" = "$d" ] && found=1
		done <"$tmp/listed"
		if [ "$found" = 1 ]; then
			echo "$d" >>"$tmp/seen-diffs"
			ok "$name: expected difference: $d"
		else
			nok "$name: unexpected difference: $d"
		fi
	done <"$tmp/diffs"
	while read -r pat text; do
		[ "$pat" = "*" ] && continue
		# shellcheck disable=SC2053
		[[ $name == $pat ]] || continue
		grep -qxF -- "$text" "$tmp/diffs" || { nok "$name: listed difference not seen: $text"; missing=1; }
	done <"$tmp/listed"
	[ -s "$tmp/diffs" ] || ok "$name: same outcome and effects on both daemons"
	return $missing
}

cur=
# run_case NAME PROBE_OPTS ARGS...: both daemons, then the comparison.
run_case() {
	cur=$1
	local popts=$2
	shift 2
	echo "# $cur: virtiofsd $*${popts:+ (probe: $popts)}"
	report "$ours" "$popts" "$@" >"$tmp/ours"
	sed 's/^/#   ours: /' "$tmp/ours"
	if [ -n "$rust" ]; then
		report "$rust" "$popts" "$@" >"$tmp/rust"
		sed 's/^/#   rust: /' "$tmp/rust"
	fi
	grep -q '^probe=failed' "$tmp/ours" && nok "$cur: probe ran against ours"
	compare "$cur"
}

# want KEY REGEX: ours' report for the current case (the option's effect, Rust or not).
want() {
	local v
	v=$(field "$tmp/ours" "$1")
	if printf '%s\n' "$v" | grep -Eq -- "$2"; then
		ok "$cur: $1 ~ /$2/"
	else
		nok "$cur: $1 ~ /$2/ (got '$v')"
	fi
}
# want_not KEY REGEX: the opposite.
want_not() {
	local v
	v=$(field "$tmp/ours" "$1")
	if printf '%s\n' "$v" | grep -Eq -- "$2"; then
		nok "$cur: $1 !~ /$2/ (got '$v')"
	else
		ok "$cur: $1 !~ /$2/"
	fi
}
started() { want start '^ok$'; want status '^0$'; }
refused() { want start '^refused$'; want status "^$1\$"; }

# status_case NAME WANT_STATUS ARGS...: lines that print and exit, no frontend.
status_case() {
	local name=$1 want_st=$2 st_o st_r
	shift 2
	echo "# $name: virtiofsd $*"
	timeout -k 5 20 "$ours" "$@" >/dev/null 2>&1
	st_o=$?
	[ "$st_o" -eq "$want_st" ] && ok "$name: ours exits $want_st" || nok "$name: ours exits $st_o, want $want_st"
	[ -n "$rust" ] || return
	timeout -k 5 20 "$rust" "$@" >/dev/null 2>&1
	st_r=$?
	[ "$st_o" -eq "$st_r" ] && ok "$name: Rust exits the same ($st_r)" ||
		nok "$name: Rust exits $st_r, ours $st_o"
}

S=--socket-path=@SOCK@ D=--shared-dir=@SHARE@
# Whether this process may raise RLIMIT_NOFILE above the hard limit (CAP_SYS_RESOURCE).
can_raise=0
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
(( (16#$capeff >> 24) & 1 )) && can_raise=1
hard=$(ulimit -Hn) nr_open=$(cat /proc/sys/fs/nr_open)
[[ $hard =~ ^[0-9]+$ ]] || hard=$nr_open
# settable N: not above fs.nr_open, and within the hard limit unless CAP_SYS_RESOURCE
settable() { [ "$1" -le "$nr_open" ] && { [ "$can_raise" = 1 ] || [ "$1" -le "$hard" ]; }; }

# ---- libvirt 9.0 (Debian 12): qemuVirtioFSBuildCommandLine passes --fd=N and one -o list
# (source=, cache=, sandbox=, xattr/no_xattr, flock/no_flock, posix_lock/no_posix_lock), then
# --thread-pool-size=N and -d. It never passes long options: it does not know separate-options.
run_case libvirt-minimal "--fd 3" --fd=3 -o source=@SHARE@
started; want entry_valid '^1$'; want getxattr ENOSYS; want init DO_READDIRPLUS; want init SUBMOUNTS
run_case libvirt-cache-none-xattr "--fd 3" --fd=3 -o source=@SHARE@,cache=none,xattr \
	--thread-pool-size=16
started; want entry_valid '^0$'; want open DIRECT_IO; want getxattr ENODATA
want_not init DO_READDIRPLUS # nothing to cache the entries in
run_case libvirt-always-chroot "--fd 3" --fd=3 \
	-o source=@SHARE@,cache=always,sandbox=chroot,no_xattr,no_flock,no_posix_lock -d
started; want entry_valid '^86400$'; want open KEEP_CACHE; want getxattr ENOSYS
want log.debug yes
run_case libvirt-namespace-pool0 "--fd 3" --fd=3 -o source=@SHARE@,sandbox=namespace,xattr \
	--thread-pool-size=0
started; want getxattr ENODATA
run_case libvirt-locks "--fd 3" --fd=3 -o source=@SHARE@,xattr,flock,posix_lock
started; want init POSIX_LOCKS; want init FLOCK_LOCKS
# The same domain in long options (what a libvirt that saw separate-options would pass).
run_case libvirt-long-forms "--fd 3" --fd=3 --shared-dir=@SHARE@ --cache=always \
	--sandbox=chroot --xattr --thread-pool-size=16
started; want entry_valid '^86400$'; want getxattr ENODATA

# ---- Kata Containers, Go runtime (virtcontainers/virtiofsd.go args()): --syslog --cache=
# --shared-dir= --fd=3 [--inode-file-handles=] then the user's virtio_fs_extra_args.
run_case kata-go-3953 "--fd 3" --fd=3 -o source=@SHARE@ -o cache=auto --syslog \
	-o no_posix_lock -f
started; want entry_valid '^1$'
[ -S /dev/log ] || want log.syslog_fallback yes
run_case kata-go-default "--fd 3" --syslog --cache=auto $D --fd=3 --thread-pool-size=1 \
	--announce-submounts
started; want init SUBMOUNTS; want entry_valid '^1$'
run_case kata-go-old-extra "--fd 3" --syslog --cache=always $D --fd=3 --thread-pool-size=1 \
	-o announce_submounts -o xattr
started; want getxattr ENODATA; want entry_valid '^86400$'
run_case kata-go-migration "--fd 3" --syslog --cache=never $D --fd=3 \
	--inode-file-handles=prefer --migration-mode=find-paths --migration-on-error=guest-error
started; want entry_valid '^0$'; want open DIRECT_IO
run_case kata-go-extra-repeated "--fd 3" --syslog --cache=auto $D --fd=3 \
	--inode-file-handles=prefer --thread-pool-size=1 --announce-submounts --cache=metadata \
	--inode-file-handles=mandatory
started; want entry_valid '^86400$'

# ---- Kata Containers, runtime-rs (share_virtio_fs_standalone.rs virtiofsd_args()): space
# forms, --sandbox none --seccomp none, the extra args, then --xattr.
run_case kata-rs-literal "" --socket-path @SOCK@ --shared-dir @SHARE@ --cache auto \
	--sandbox none --seccomp none --inode-file-handles never --xattr
refused 2 # clap's require_equals: both daemons refuse "--inode-file-handles never"
run_case kata-rs-before-ifh "" --socket-path @SOCK@ --shared-dir @SHARE@ --cache auto \
	--sandbox none --seccomp none --xattr
started; want getxattr ENODATA; want entry_valid '^1$'
run_case kata-rs-extra "" --socket-path @SOCK@ --shared-dir @SHARE@ --cache auto \
	--sandbox none --seccomp none --thread-pool-size=1 --announce-submounts --cache=metadata \
	--xattr
started; want entry_valid '^86400$'

# ---- podman machine (pkg/machine/qemu/virtiofsd.go): run in the shared dir, RUST_LOG=ERROR.
run_case podman-machine "--cwd-share --env RUST_LOG=ERROR" --sandbox none $S \
	--shared-dir . --seccomp=none
started; want log.info no; want mkdir '^0$'
run_case podman-machine-debug "--cwd-share --env RUST_LOG=debug" --sandbox none $S \
	--shared-dir . --seccomp=none --log-level=error
started; want log.info yes; want log.debug yes
run_case rust-log-module "--env RUST_LOG=vhost=info,virtiofsd=warn" $S $D --sandbox=none
started; want log.info no
run_case rust-log-bare-module "--env RUST_LOG=virtiofsd" $S $D --sandbox=none
started; want log.info yes; want log.debug yes

# ---- microvm.nix (nixos-modules/microvm/virtiofsd): --fd=3 (systemd-socket-activate),
# --rlimit-nofile 1048576 as root, --thread-pool-size N, --posix-acl --xattr,
# [--inode-file-handles=], [--tag= with crosvm], [--readonly], then extraArgs.
run_case microvm-root "--fd 3" --fd=3 $D --rlimit-nofile 1048576 --thread-pool-size 2 \
	--posix-acl --xattr --inode-file-handles=prefer
# Where the limit can be set it is; where not, an explicit limit is fatal.
if settable 1048576; then started; else refused 1; fi
run_case microvm-user-extra-repeated "--fd 3" --fd=3 $D --thread-pool-size 2 --posix-acl \
	--xattr --cache=auto --inode-file-handles=prefer --readonly --cache=never \
	--inode-file-handles=mandatory --cache=always
started; want entry_valid '^86400$'; want mkdir EROFS; want init POSIX_ACL; want getxattr ENODATA
run_case microvm-crosvm-tag "" $S $D --thread-pool-size 2 --posix-acl --xattr --cache=auto \
	--tag=myfs
run_case microvm-socket-group "" $S --socket-group=root $D --thread-pool-size 1 --posix-acl \
	--xattr
started; want init POSIX_ACL

# ---- cloud-hypervisor docs/fs.md
run_case cloud-hypervisor-docs "" --log-level debug $S $D --cache=never --thread-pool-size=4
started; want entry_valid '^0$'; want open DIRECT_IO; want log.debug yes

# ---- the parsing rules of issue 8, one by one
run_case o-source-beats-shared-dir "" --shared-dir=/nonexistent-cli -o source=@SHARE@ $S
started
run_case o-source-wherever-it-stands "" -o source=/nonexistent-cli $D $S
refused 1
run_case o-posix-acl-implies-xattr "" $S $D -o posix_acl
started; want init POSIX_ACL; want getxattr ENODATA
run_case o-security-label-implies-xattr "" $S $D -o security_label
started; want init SECURITY_CTX; want getxattr ENODATA
run_case posix-acl-despite-no-xattr "" $S $D --posix-acl -o no_xattr
started; want getxattr ENODATA
run_case writeback-killpriv "" $S $D --writeback --killpriv-v2 --killpriv-v2
started; want init WRITEBACK_CACHE; want init HANDLE_KILLPRIV_V2
run_case no-readdirplus "" $S $D --no-readdirplus --no-announce-submounts
started; want_not init DO_READDIRPLUS
run_case socket-group-with-fd "--fd 3" --fd=3 --socket-group=root $D
refused 2
run_case thread-pool-300 "" $S $D --thread-pool-size=300
started
run_case ifh-space-form "" $S $D --inode-file-handles prefer
refused 2
run_case ifh-fallback "" $S $D --inode-file-handles=fallback
started
run_case migration-options "" $S $D --migration-mode=file-handles \
	--migration-on-error=guest-error
started
run_case migration-conflict "" $S $D --migration-mode=file-handles --migration-verify-handles
refused 1
run_case rlimit-above-hard-limit "" $S $D --rlimit-nofile=$((hard + 1))
if settable $((hard + 1)); then started; else refused 1; fi
run_case rlimit-tiny "" $S $D --rlimit-nofile=100
started # ours keeps a quarter for itself under a tiny limit (expected-differences.txt)
run_case syslog "" $S $D --syslog
started
[ -S /dev/log ] || want log.syslog_fallback yes
run_case abbreviated-option "" $S --shared=@SHARE@
refused 2
run_case ours-only-log-level "" $S $D -o log_level=debug
started; want log.debug yes
run_case translate-with-o-posix-acl "" $S $D --translate-uid=guest:0:0:1 -o posix_acl
refused 2 # ours: ACLs hold untranslated ids whichever form asked (expected-differences.txt)
run_case ours-only-locks "" $S $D --posix-lock --flock
started; want init POSIX_LOCKS; want init FLOCK_LOCKS

# log_case NAME RUST_LOG WANT: a start that fails (missing directory) under RUST_LOG; WANT is
# whether the ERROR line shows (yes/no), as env_logger decides; both daemons must agree.
log_case() {
	local name=$1 spec=$2 want_line=$3 o r
	echo "# $name: RUST_LOG='$spec' virtiofsd --shared-dir=/nonexistent-cli ..."
	o=$(RUST_LOG=$spec timeout -k 5 20 "$ours" --shared-dir=/nonexistent-cli \
		--socket-path="$tmp/log-case.sock" --sandbox=none 2>&1 | grep -c ' ERROR ')
	[ "$o" -gt 0 ] && o=yes || o=no
	[ "$o" = "$want_line" ] && ok "$name: ours shows the error: $o" ||
		nok "$name: ours shows the error: $o, want $want_line"
	[ -n "$rust" ] || return
	r=$(RUST_LOG=$spec timeout -k 5 20 "$rust" --shared-dir=/nonexistent-cli \
		--socket-path="$tmp/log-case.sock" --sandbox=none 2>&1 | grep -c ' ERROR ')
	[ "$r" -gt 0 ] && r=yes || r=no
	[ "$o" = "$r" ] && ok "$name: Rust agrees ($r)" || nok "$name: Rust shows the error: $r, ours $o"
}
# userns_case NAME ARGS...: started as uid/gid 65534 (the unprivileged namespace sandbox):
# the serving process's uid_map and gid_map, and its uid, compared between the daemons.
userns_facts() { # daemon args... -> "uid_map=...;gid_map=...;uid=..." or "refused:N"
	local d=$tmp/userns.$RANDOM
	mkdir -p "$d/share" && chmod 755 "$d" && chown 65534:65534 "$d" "$d/share"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@" --shared-dir="$d/share" \
		--socket-path="$d/sock" >"$d/log" 2>&1 &
	local p=$! child=''
	# Ready once the serving process says so (the id-map helper, a short-lived child of its
	# own, is gone by then).
	for _ in $(seq 200); do
		grep -q 'Waiting for vhost-user socket connection' "$d/log" &&
			child=$(tr -d ' ' <"/proc/$p/task/$p/children" 2>/dev/null)
		[ -n "$child" ] && [ -r "/proc/$child/uid_map" ] && break
		child=
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$child" ]; then
		wait "$p"
		echo "refused:$?"
		return
	fi
	echo "uid_map=$(awk '{ print $1, $2, $3 }' "/proc/$child/uid_map" | tr '\n' ';')" \
		"gid_map=$(awk '{ print $1, $2, $3 }' "/proc/$child/gid_map" | tr '\n' ';')" \
		"uid=$(awk '/^Uid:/ { print $2 }' "/proc/$child/status")"
	kill "$p"
	wait "$p" 2>/dev/null
}
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# Copies uid 65534 can run wherever the tree lives (a checkout under a 0700 home, say).
userns_daemons() {
	chmod 711 "$tmp"
	cp "$ours" "$tmp/ours-virtiofsd" && chmod 755 "$tmp/ours-virtiofsd"
	user_ours=$tmp/ours-virtiofsd user_rust=
	[ -n "$rust" ] || return 0
	if as_nobody "$rust" --version >/dev/null 2>&1; then
		user_rust=$rust
	elif [ -x "$(dirname "$rust")/lib/virtiofsd" ]; then # scripts/peers.sh's layout
		cp -a "$(dirname "$rust")/lib" "$tmp/peer-lib" && chmod -R a+rX "$tmp/peer-lib"
		local lib=$tmp/peer-lib
		printf '#!/bin/sh\nexec "%s/ld-linux-x86-64.so.2" --library-path "%s" "%s" "$@"\n' \
			"$lib" "$lib" "$lib/virtiofsd" >"$tmp/rust-virtiofsd"
		chmod 755 "$tmp/rust-virtiofsd"
		user_rust=$tmp/rust-virtiofsd
	fi
	as_nobody "$user_rust" --version >/dev/null 2>&1 || user_rust=
}
userns_case() {
	local name=$1 o r
	shift
	echo "# $name: as uid 65534: virtiofsd $*"
	if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
		echo "!! $name SKIPPED: needs root and setpriv to start the daemons as uid 65534"
		return
	fi
	[ -n "${user_ours:-}" ] || userns_daemons
	o=$(userns_facts "$user_ours" "$@")
	echo "#   ours: $o"
	[ "$o" = "uid_map=65534 65534 1; gid_map=65534 65534 1; uid=65534" ] &&
		ok "$name: ours maps the caller's own ids and serves as them" ||
		nok "$name: ours: $o"
	[ -n "$rust" ] || return
	if [ -z "$user_rust" ]; then
		echo "!! $name: the Rust daemon cannot be run as uid 65534 here: its half SKIPPED"
		return
	fi
	r=$(userns_facts "$user_rust" "$@")
	echo "#   rust: $r"
	[ "$o" = "$r" ] && ok "$name: Rust has the same maps and uid" || nok "$name: Rust: $r, ours: $o"
}
userns_case userns-default-map
userns_case userns-map-without-id-0 --uid-map=:65534:65534:1: --gid-map=:65534:65534:1:

log_case rust-log-empty "" yes
log_case rust-log-upper ERROR yes
log_case rust-log-off off no
log_case rust-log-other-target vhost=debug no
log_case rust-log-prefix virt=error yes
log_case rust-log-invalid-level virtiofsd=loud yes
log_case rust-log-not-a-level err no
log_case rust-log-filter-miss 'info/nomatch' no
log_case rust-log-filter-hit 'error/nonexistent' yes

status_case no-arguments 2
status_case help 0 --help
status_case version 0 --version
status_case help-acts-at-once 0 --help --frobnicate
status_case unknown-before-help 2 --frobnicate --help
status_case version-acts-at-once 0 --version --cache=sometimes
status_case print-capabilities 0 --print-capabilities
status_case print-capabilities-with-socket-group 2 --print-capabilities --socket-group=root
status_case missing-socket 2 --shared-dir=/tmp
status_case missing-shared-dir 2 --socket-path=/tmp/cli-nosock
# A value that looks like an option is no value (clap), unless it follows '='; one '+' is taken.
status_case value-looks-like-option 2 --socket-path --syslog --shared-dir=/tmp
status_case o-value-looks-like-option 2 -o -x --print-capabilities
status_case dash-value-after-equals 0 --socket-path=-x --print-capabilities
status_case plus-sign-number 0 --thread-pool-size=+4 --print-capabilities
status_case plus-sign-alone 2 --thread-pool-size=+ --print-capabilities
status_case unknown-option 2 --frobnicate
status_case bad-value 2 --shared-dir=/tmp --socket-path=/tmp/cli-nosock --cache=sometimes
B=(--shared-dir=/tmp --socket-path=/tmp/cli-nosock --sandbox=none)
status_case compat-unknown-word 2 "${B[@]}" -o bogus
status_case compat-bad-value 2 "${B[@]}" -o cache=never
status_case compat-empty-item 2 "${B[@]}" -o cache=auto,
status_case xattrmap-bad 2 "${B[@]}" --xattrmap=:bad:
status_case uid-map-bad 2 "${B[@]}" --uid-map=:0:1:
status_case translate-bad 2 "${B[@]}" --translate-uid=bogus:0:1:1
status_case translate-with-long-posix-acl 2 "${B[@]}" --translate-uid=guest:0:0:1 --posix-acl
status_case fd-not-a-number 2 --shared-dir=/tmp --fd=three
status_case modcaps-unknown 1 "${B[@]}" --modcaps=+bogus

# A line for every case (*) must still show up somewhere, or it is stale.
if [ -n "$rust" ]; then
	while read -r c text; do
		[ "$c" = "*" ] || continue
		grep -qxF -- "$text" "$tmp/seen-diffs" 2>/dev/null ||
			nok "expected-differences.txt: '* $text' shows up in no case"
	done < <(listed)
fi

# Every listed difference names a case that exists.
while read -r c _; do
	[ "$c" = "*" ] && continue
	grep -Eq "^(run_case|status_case|log_case|userns_case) ${c//\*/[^ ]*} " "$0" ||
		nok "expected-differences.txt names no case: $c"
done < <(listed)

finish
