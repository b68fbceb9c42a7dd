#!/bin/bash
# POSIX conformance suite driver. Runs build/tests/conformance/posix-conformance (static):
#   --host  over the /dev/fuse transport (virtiofsd-fusedev) on this machine: a read-write run
#           and a --readonly run
#   --vm    in the VM guest over virtio-fs (tests/vm/run-vm.sh; the binary is copied into the
#           share and run from there): our daemon read-write and --readonly, the legacy
#           /usr/lib/qemu/virtiofsd read-write (it has no read-only mode)
# then prints a side-by-side table. A failure of ours, or a difference from the legacy daemon that
# tests/conformance/expected-differences.txt does not list (as a case where ours is right), fails.
#
# Usage: tests/conformance/run.sh [--host] [--vm] [--build DIR] [--keep] [--stress-seconds N]
#   (neither --host nor --vm: both). --build defaults to <repo>/build.
# Each share gets a tmpfs submount (EXDEV cases) and a host process holding an fcntl lock and a
# flock on files in the share (guest-vs-host lock cases). The daemons run with the options for
# xattrs, ACLs, an xattr map, locks and file handles that they accept (ours: probed in --help,
# a missing option is reported and its cases fail), and at most 1024 open files.
# Last line: "N passed, N failed" (ours' cases, plus unexpected differences and host checks).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build do_host=0 do_vm=0 keep=0 stress=3
while [ $# -gt 0 ]; do
	case "$1" in
	--host) do_host=1 ;;
	--vm) do_vm=1 ;;
	--build) build=$(cd "${2:?}" && pwd); shift ;;
	--build=*) build=$(cd "${1#*=}" && pwd) ;;
	--keep) keep=1 ;;
	--stress-seconds) stress=${2:?}; shift ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ $do_host = 0 ] && [ $do_vm = 0 ] && do_host=1 do_vm=1

bin=$build/tests/conformance/posix-conformance
fusedev=$build/tests/fusedev/virtiofsd-fusedev
daemon=$build/virtiofsd
legacy=/usr/lib/qemu/virtiofsd
expected=$here/expected-differences.txt
# xattr map for the read-write runs: the guest's user.X is user.vfs.user.X on the host.
xmap=':prefix:all:user.:user.vfs.::ok:all:::'
xmap_host_name=user.vfs.user.cf.mapped
nofile=1024
# id translation for the read-write runs of ours: guest ids 5000-5009 are host ids 15000-15009.
idmap_opts=(--translate-uid=map:5000:15000:10 --translate-gid=map:5000:15000:10)

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
	echo "SKIP: the conformance suite needs root (it mounts, and acts as other uids) and /dev/fuse"
	exit 77
fi
[ -x "$bin" ] || { echo "run.sh: $bin not built (ninja -C $build)"; echo "0 passed, 1 failed"; exit 1; }

work=$(mktemp -d /tmp/conformance.XXXXXX)
chmod 755 "$work"
pids=() mounts=()
cleanup() {
	local p m
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for m in "${mounts[@]}"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
	if [ $keep = 1 ]; then echo "run.sh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

extra_fail=0 extra_pass=0
note_fail() { echo "not ok - $*"; extra_fail=$((extra_fail + 1)); }
note_ok() { echo "ok - $*"; extra_pass=$((extra_pass + 1)); }

# new_share LABEL RO: a share with a submount, a read-only fixture if RO=1, a host lock holder.
new_share() {
	local label=$1 ro=$2 s=$work/$1/share
	mkdir -p "$s"
	chmod 755 "$work/$label" "$s"
	mkdir "$s/submnt"
	if mount -t tmpfs -o size=16m,mode=0755 cf-submount "$s/submnt"; then
		mounts+=("$s/submnt")
		: >"$s/submnt/.cf-submount"
	else
		echo "!! no tmpfs submount for $label: exdev_submount will skip"
	fi
	[ "$ro" = 1 ] && "$bin" prepare-ro "$s"
	if [ "$ro" = 0 ]; then # the idmap case's fixture: a file of host ids 15002:15002
		mkdir -m 0777 "$s/cf-idmap" && chmod 0777 "$s/cf-idmap"
		echo host >"$s/cf-idmap/host-owned"
		chown 15002:15002 "$s/cf-idmap/host-owned" && chmod 0600 "$s/cf-idmap/host-owned"
	fi
	"$bin" hold-locks "$s" >"$work/$label/holder.log" 2>&1 &
	pids+=($!)
	holder_pid=$!
	for _ in $(seq 50); do [ -f "$s/.cf-locks/ready" ] && break; sleep 0.1; done
	[ -f "$s/.cf-locks/ready" ] || echo "!! host lock holder for $label did not start"
	share=$s
}

end_share() { # LABEL
	local s=$work/$1/share
	kill -TERM "$holder_pid" 2>/dev/null; wait "$holder_pid" 2>/dev/null
	mountpoint -q "$s/submnt" && umount "$s/submnt"
}

# results LABEL FILE: "name ok|FAIL|SKIP" lines from a run's output into $work/LABEL.res
results() {
	tr -d '\r' <"$2" | sed -n -e 's/^ok [0-9]* - \([a-z_0-9]*\) # SKIP.*/\1 skip/p' \
		-e 's/^ok [0-9]* - \([a-z_0-9]*\)$/\1 ok/p' \
		-e 's/^not ok [0-9]* - \([a-z_0-9]*\):.*/\1 FAIL/p' >"$work/$1.res"
	grep -q -E '^[0-9]+ passed, [0-9]+ failed' <(tr -d '\r' <"$2") ||
		note_fail "$1: the run did not finish (no summary line; log in $2)"
}

# host_xattr_check LABEL NAME: the marker's xattr under its host-side name
host_xattr_check() {
	local v
	v=$("$bin" getxattr "$work/$1/share/cf-xattrmap-marker" "$2" 2>&1)
	echo "host_xattr_name $([ "$v" = mapped-value ] && echo ok || echo FAIL)" >>"$work/$1.res"
	[ "$v" = mapped-value ] || echo "# $1: host-side xattr $2 on cf-xattrmap-marker: $v"
}

# idmap_check LABEL: the owners the idmap case's files got on the host
idmap_check() {
	local d=$work/$1/share/cf-idmap got
	got="$(stat -c %u:%g "$d/root-chowned" 2>&1) $(stat -c %u:%g "$d/by-user" 2>&1)"
	if [ "$got" = "15000:15000 15001:15001" ]; then
		echo "idmap_host_owner ok" >>"$work/$1.res"
	else
		echo "idmap_host_owner FAIL" >>"$work/$1.res"
		echo "# $1: host owners of cf-idmap/root-chowned, by-user: $got (want 15000:15000 15001:15001)"
	fi
}

# supported HELP-TEXT OPTION...: prints the options the help text mentions
supported() {
	local help=$1 o
	shift
	for o in "$@"; do
		if grep -q -E -- "${o%%=*}([^a-z-]|\$)" <<<"$help"; then echo "$o"; else echo "!! $o not supported: its cases fail" >&2; fi
	done
}

# --- host: /dev/fuse ---------------------------------------------------------------------------
host_run() { # LABEL RO
	local label=$1 ro=$2 mnt=$work/$1/mnt help opts flags=()
	new_share "$label" "$ro"
	mkdir -p "$mnt"
	help=$("$fusedev" 2>&1)
	mapfile -t opts < <(supported "$help" --xattr --posix-acl --posix-lock --flock \
		--inode-file-handles=prefer)
	[ "$ro" = 1 ] && opts+=(--readonly)
	[ "$ro" = 0 ] && grep -q -E -- '--xattrmap([^a-z-]|$)' <<<"$help" && opts+=("--xattrmap=$xmap")
	[ "$ro" = 0 ] && mapfile -t -O ${#opts[@]} opts < <(supported "$help" "${idmap_opts[@]}")
	echo "# $label: virtiofsd-fusedev ${opts[*]} (RLIMIT_NOFILE $nofile)"
	(ulimit -n $nofile && exec "$fusedev" "$share" "$mnt" "${opts[@]}") >"$work/$label/daemon.log" 2>&1 &
	local dpid=$!
	pids+=($dpid)
	mounts+=("$mnt")
	for _ in $(seq 100); do grep -q " $mnt fuse" /proc/mounts && break; sleep 0.05; done
	if ! grep -q " $mnt fuse" /proc/mounts; then
		note_fail "$label: virtiofsd-fusedev did not mount: $(tail -3 "$work/$label/daemon.log")"
		end_share "$label"
		return
	fi
	[ "$ro" = 1 ] && flags+=(--readonly)
	[ "$ro" = 0 ] && flags+=(--idmap)
	(cd / && timeout 900 "$bin" "${flags[@]}" --stress-seconds="$stress" "$mnt") >"$work/$label.out" 2>&1
	sed 's/^/  /' "$work/$label.out" | grep -v '^  ok ' || true
	kill -TERM "$dpid" 2>/dev/null
	wait "$dpid"
	local st=$?
	mountpoint -q "$mnt" && umount -l "$mnt"
	[ $st = 0 ] || note_fail "$label: virtiofsd-fusedev exit status $st after SIGTERM"
	results "$label" "$work/$label.out"
	if [ "$ro" = 0 ]; then
		if grep -q -E -- '--xattrmap([^a-z-]|$)' <<<"$help"; then
			host_xattr_check "$label" "$xmap_host_name"
		else
			host_xattr_check "$label" user.cf.mapped
		fi
		idmap_check "$label"
	fi
	end_share "$label"
}

# --- VM: virtio-fs -------------------------------------------------------------------------------
# MODE: 0 read-write, 1 read-only, 2 the id-translation case alone (ours refuses --translate-*
# together with --posix-acl, as the reference does: ACL xattrs hold untranslated ids).
vm_run() { # LABEL MODE KIND(ours|legacy)
	local label=$1 mode=$2 kind=$3 ro help opts args=() flags=""
	ro=$([ "$mode" = 1 ] && echo 1 || echo 0)
	new_share "$label" "$ro"
	mkdir -p "$share/.cf-bin"
	cp "$bin" "$share/.cf-bin/posix-conformance"
	chmod 755 "$share/.cf-bin" "$share/.cf-bin/posix-conformance"
	[ "$ro" = 1 ] && flags=--readonly
	[ "$mode" = 2 ] && flags="--idmap --filter=idmap" # the legacy daemon has no id translation
	cat >"$work/$label/guest-conformance.sh" <<-EOF
		#!/bin/sh
		/mnt/.cf-bin/posix-conformance $flags --stress-seconds=$stress /mnt
		echo "CF-EXIT: \$?"
		exit 0
	EOF
	if [ "$kind" = legacy ]; then
		args=(--legacy)
		# modcaps=+sys_admin: trusted.* and (with no LSM) security.* xattrs need it, in
		# both daemons, as the reference's README says.
		opts=(-o xattr -o posix_acl -o posix_lock -o flock -o modcaps=+sys_admin
			--rlimit-nofile=$nofile)
		[ "$ro" = 0 ] && opts+=(-o "xattrmap=$xmap")
	else
		args=(--daemon "$daemon")
		help=$("$daemon" --help 2>&1)
		if [ "$mode" = 2 ]; then
			mapfile -t opts < <(supported "$help" "${idmap_opts[@]}")
		else
			mapfile -t opts < <(supported "$help" --xattr --posix-acl --posix-lock --flock \
				--inode-file-handles=prefer)
		fi
		opts+=(--rlimit-nofile=$nofile)
		[ "$mode" = 0 ] && opts+=(--modcaps=+sys_admin)
		[ "$mode" = 1 ] && opts+=(--readonly)
		[ "$mode" = 0 ] && grep -q -E -- '--xattrmap([^a-z-]|$)' <<<"$help" && opts+=("--xattrmap=$xmap")
	fi
	local o
	for o in "${opts[@]}"; do args+=(--daemon-arg="$o"); done
	echo "# $label: $kind daemon ${opts[*]}"
	local t0=$SECONDS
	bash "$repo/tests/vm/run-vm.sh" --share "$share" --script "$work/$label/guest-conformance.sh" \
		--out "$work/$label/vm" --quiet --timeout 900 "${args[@]}" >"$work/$label/run-vm.log" 2>&1
	local st=$?
	tr -d '\r' <"$work/$label/vm/console.log" >"$work/$label.out" 2>/dev/null
	echo "# $label: guest run took $((SECONDS - t0)) s, run-vm.sh status $st"
	grep -E '^(not ok|# )' "$work/$label.out" | sed 's/^/  /'
	if [ $st != 0 ]; then
		note_fail "$label: run-vm.sh exit status $st"
		tail -5 "$work/$label/run-vm.log" | sed 's/^/  | /'
	fi
	results "$label" "$work/$label.out"
	if [ "$mode" = 0 ]; then
		if [ "$kind" = legacy ] || grep -q -E -- '--xattrmap([^a-z-]|$)' <<<"$help"; then
			host_xattr_check "$label" "$xmap_host_name"
		else
			host_xattr_check "$label" user.cf.mapped
		fi
	fi
	[ "$mode" = 2 ] && idmap_check "$label"
	end_share "$label"
}

if [ $do_host = 1 ]; then
	if [ -x "$fusedev" ]; then
		host_run fusedev 0
		host_run fusedev-ro 1
	else
		note_fail "host: $fusedev not built"
	fi
fi
if [ $do_vm = 1 ]; then
	if ! "$repo/tests/vm/prepare.sh" >"$work/prepare.log" 2>&1; then
		note_fail "VM: tests/vm/prepare.sh failed: $(tail -3 "$work/prepare.log")"
	elif [ ! -x "$daemon" ]; then
		note_fail "VM: our daemon $daemon is not built"
	else
		vm_run ours 0 ours
		vm_run ours-ro 1 ours
		vm_run ours-idmap 2 ours
		if [ -x "$legacy" ]; then vm_run legacy 0 legacy; else echo "!! no $legacy: no comparison"; fi
	fi
fi

# --- the table -----------------------------------------------------------------------------------
python3 - "$work" "$expected" "$do_host" "$do_vm" <<'EOF' || extra_fail=$((extra_fail + 1))
import os, sys
work, expected, do_host, do_vm = sys.argv[1], sys.argv[2], sys.argv[3] == '1', sys.argv[4] == '1'

def load(label):
    r = {}
    p = os.path.join(work, label + '.res')
    if os.path.exists(p):
        for line in open(p):
            f = line.split()
            if len(f) == 2:
                r[f[0]] = f[1]
    return r

exp = {}
for line in open(expected):
    line = line.split('#', 1)[0].split()
    if len(line) >= 3:
        exp[line[0]] = (line[1], line[2])

runs = {}
cols = []
if do_host:
    cols.append('fusedev')
    runs['fusedev'] = {**load('fusedev'), **load('fusedev-ro')}
if do_vm:
    cols += ['ours', 'legacy']
    runs['ours'] = {**load('ours'), **load('ours-ro'), **load('ours-idmap')}
    runs['legacy'] = load('legacy')
names = []
for c in cols:
    for n in runs[c]:
        if n not in names:
            names.append(n)
passed = failed = 0
print('\n%-28s %-9s %-9s %-9s %s' % ('case', *(cols + ['', '', ''])[:3], 'difference'))
for n in names:
    row = [runs[c].get(n, '-') for c in cols]
    note = ''
    for c in cols:
        if c == 'legacy':
            continue
        v = runs[c].get(n)
        if v == 'FAIL':
            failed += 1
        elif v in ('ok', 'skip'):
            passed += 1
    if do_vm and n in runs['ours'] and n in runs['legacy']:
        o, l = runs['ours'][n], runs['legacy'][n]
        if o != l:
            if o == 'FAIL':
                note = 'ours fails (counted above)'
            elif exp.get(n) == (o, l):
                note = 'expected (ours right: see expected-differences.txt)'
            else:
                note = 'UNEXPECTED difference'
                failed += 1
        elif n in exp:
            note = '(listed as a difference, but the same now)'
    print('%-28s %-9s %-9s %-9s %s' % (n, *(row + ['', '', ''])[:3], note))
with open(os.path.join(work, 'tally'), 'w') as f:
    f.write('%d %d\n' % (passed, failed))
EOF
read -r p f <"$work/tally" 2>/dev/null || { p=0; f=1; }
echo
echo "$((p + extra_pass)) passed, $((f + extra_fail)) failed"
[ $((f + extra_fail)) -eq 0 ]
