#!/bin/sh
# Guest side of the escape tests (busybox ash, as guest root, cwd = the share on /mnt). Run by
# guest-both.sh after the regular guest checks, in the same boot. The host prepared
# /mnt/.esc/ (esctool, config: OUTSIDE=<host path of the canaries>) and /mnt/esc/ (device nodes,
# a FIFO, a setgid directory of group 4242), answers the swap handshake while the guest runs,
# and checks its canaries afterwards (vm_escape.sh verify). Prints "ok N - escape: ..." lines and
# "N passed, N failed".
E=/mnt/.esc
T=/mnt/esc
TOOL=$E/esctool
n=0 pass=0 fail=0

check() {
	name=$1
	shift
	n=$((n + 1))
	if "$@" >/tmp/esc.out 2>&1; then
		pass=$((pass + 1))
		echo "ok $n - escape: $name"
	else
		fail=$((fail + 1))
		echo "not ok $n - escape: $name"
		sed 's/^/#   /' /tmp/esc.out
	fi
}
fails() { ! "$@"; }
as_user() { "$TOOL" runas 1000 1000 - "$@"; }

. "$E/config" || { echo "not ok 1 - escape: read $E/config"; echo "0 passed, 1 failed"; exit 1; }
cd /mnt || exit 1

# --- symlinks pointing out: stored, resolved by the guest in its own tree, never on the host ---
check "symlink to the host canary's absolute path is stored" ln -s "$OUTSIDE/secret" $T/l-abs
check "symlink with .. to the canary is stored" ln -s ../../outside/secret $T/l-rel
check "reading through the absolute symlink does not reach the host" \
	sh -c "! grep -q outside-secret $T/l-abs 2>/dev/null"
check "reading through the relative symlink does not reach the host" \
	sh -c "! grep -q outside-secret $T/l-rel 2>/dev/null"
check "writing through the absolute symlink fails (no such path in the guest)" \
	fails sh -c "echo PWNED >$T/l-abs"
check "writing through the relative symlink fails (no such path in the guest)" \
	fails sh -c "echo PWNED >$T/l-rel"
check "symlink to / used as a directory stays in the guest" sh -c "ln -s / $T/l-root && ! [ -e $T/l-root/$(basename "$OUTSIDE") ]"

# --- mv and ln across the share's edge: the guest kernel copies, never the daemon -----------
echo mv-me >$T/mvsrc
check "mv out of the share moves to the guest's own /" sh -c "mv $T/mvsrc /mnt/../esc-mv-out && [ -f /esc-mv-out ] && [ ! -e $T/mvsrc ]"
check "ln of a guest file into the share fails across filesystems" fails ln /esc-mv-out $T/hl-out

# --- device nodes and FIFOs: the guest opens its own devices, the host's are never reached ---
check "a host-made char device 1:5 reads as the guest's /dev/zero" \
	sh -c "[ \"\$(head -c 4 $T/hzero | od -An -tx1 | tr -d ' ')\" = 00000000 ]"
check "a host-made char device 1:3 swallows writes in the guest" sh -c "echo x >$T/hnull"
check "a host-made FIFO is a guest-local pipe" \
	sh -c "(echo via-fifo >$T/hfifo &) ; [ \"\$(timeout 5 cat $T/hfifo)\" = via-fifo ]"
if mknod $T/gnull c 1 3 2>/dev/null; then
	check "a guest-made char device 1:3 is the guest's /dev/null" sh -c "echo x >$T/gnull && [ ! -s $T/gnull ]"
else
	check "mknod of a char device refused (daemon without CAP_MKNOD)" true
fi
check "mkfifo in the share" mkfifo $T/gfifo

# --- setgid directories: a guest user's file is never set-group-ID of a group it lacks ------
check "guest root makes a setgid directory of group 0" sh -c "mkdir $T/sg0 && chmod 2777 $T/sg0 && [ \$(stat -c %a $T/sg0) = 2777 ]"
check "guest uid 1000 creates mode 2755 in the group-0 setgid dir" as_user "$TOOL" creat $T/sg0/f 2755
check "... the file is not set-group-ID" sh -c "[ \$(stat -c %a $T/sg0/f) = 755 ] && [ \$(stat -c %g $T/sg0/f) = 0 ]"
check "guest uid 1000 creates mode 2755 in the host's group-4242 setgid dir" as_user "$TOOL" creat $T/sg4242/f 2755
check "... the file is not set-group-ID" sh -c "[ \$(stat -c %a $T/sg4242/f) = 755 ]"
check "guest uid 1000 makes a directory there" as_user "$TOOL" mkdir $T/sg0/d 0755

# --- security.capability: a non-owner's write leaves no capability ----------------------------
echo data >$T/capf
chmod 666 $T/capf
check "guest root sets security.capability (needs the daemon's xattr support)" "$TOOL" setcap $T/capf
check "... the guest reads it back" "$TOOL" hascap $T/capf
check "guest uid 1000 appends to the file" as_user "$TOOL" append $T/capf x
check "... and the capability is gone" fails "$TOOL" hascap $T/capf

# --- a directory swapped for a symlink while the guest sits in it ----------------------------
mkdir $T/swapdir && echo v >$T/swapdir/victim && echo f >$T/swapdir/file
cd $T/swapdir || exit 1
: >$T/ready-swap
i=0
until [ -e $T/swapped ] || [ $i -ge 60 ]; do
	sleep 0.5
	i=$((i + 1))
done
check "the host swapped the directory for a symlink" [ -e $T/swapped ]
check "create in the swapped-out cwd" sh -c 'echo new >newfile'
check "mkdir in it" mkdir newdir
check "rename in it" mv file renamed
check "unlink in it" rm victim
check "symlink in it" ln -s / lnk
check "hard link in it" ln renamed hardlink
check "mkfifo in it" mkfifo fifo
check "readdir of it shows our work, not the host's outside dir" sh -c "ls | sort | tr '\n' ' ' | grep -qx 'fifo hardlink lnk newdir newfile renamed '"
cd /mnt || exit 1
sleep 1.5 # past the entry timeout of --cache=auto: the guest looks the name up again
check "the old name now is a symlink" [ -L $T/swapdir ]
check "the symlink's target is not reachable from the guest" fails ls $T/swapdir/victim

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
