#!/usr/bin/env bash
# `meson install` into a DESTDIR: the layout (daemon in libexecdir, man page, vhost-user JSON and
# nothing else), the JSON's content, and the man page against --help (check_manpage.py).
# Twice: the given build folder as configured (default name), and a fresh one with
# -Dbinary_name=virtiofsd-c and another prefix/libexecdir, as for installing beside the Rust daemon.
# Usage: tests/install/test_install.sh [BUILDDIR]   (default: a temporary build with --prefix=/usr)
# Ends with "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/i9-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/tap.sh
. "$here/../tap.sh"
TAP_OUT=$tmp/out

# check_json FILE DESTDIR INSTALLED_BINARY DAEMON: valid JSON, type fs, binary is the installed
# path and exists in DESTDIR, features as the daemon's --print-capabilities.
check_json() {
	python3 - "$@" <<'PY'
import json, os, subprocess, sys
path, destdir, binary, daemon = sys.argv[1:5]
doc = json.load(open(path))
assert doc.get('type') == 'fs', f'type is {doc.get("type")!r}'
assert isinstance(doc.get('description'), str) and doc['description'], 'no description'
assert doc.get('binary') == binary, f'binary {doc.get("binary")!r}, want {binary!r}'
assert os.path.isabs(doc['binary']), 'binary is not an absolute path'
inst = destdir + doc['binary']
assert os.path.isfile(inst) and os.access(inst, os.X_OK), f'{inst} is not an executable file'
caps = json.loads(subprocess.run([daemon, '--print-capabilities'], capture_output=True,
                                 check=True, text=True).stdout)
assert doc.get('features') == caps.get('features', []), \
    f'features {doc.get("features")} but --print-capabilities says {caps.get("features", [])}'
PY
}

opt() { # builddir, option name: its value from meson introspect
	meson introspect "$1" --buildoptions |
		python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name']=='$2'][0])"
}

build() { # builddir, label, targets...: 0 when built
	local b=$1 label=$2
	shift 2
	ninja -C "$b" "$@" >"$tmp/build.log" 2>&1 && return 0
	nok "$label: build"; tail -20 "$tmp/build.log"; return 1
}

one_install() { # builddir (built), label
	local b=$1 label=$2 dest=$tmp/dest-$2
	if ! DESTDIR=$dest meson install -C "$b" --no-rebuild >"$tmp/install.log" 2>&1; then
		nok "$label: meson install"; tail -20 "$tmp/install.log"; return
	fi
	local prefix libexec datadir mandir name
	prefix=$(opt "$b" prefix) libexec=$(opt "$b" libexecdir) datadir=$(opt "$b" datadir)
	mandir=$(opt "$b" mandir) name=$(opt "$b" binary_name)
	local bin=$prefix/$libexec/$name man=$dest$prefix/$mandir/man1/$name.1
	local json=$dest$prefix/$datadir/qemu/vhost-user/50-$name.json
	check "$label: daemon installed as $bin" test -x "$dest$bin" -a -f "$dest$bin"
	check "$label: installed daemon says it is virtiofsd-c" \
		sh -c "'$dest$bin' --version | head -1 | grep -q '^virtiofsd-c '"
	check "$label: man page $prefix/$mandir/man1/$name.1" test -s "$man"
	check "$label: man page names the installed daemon" grep -q "^$name \\\\- " "$man"
	check "$label: vhost-user JSON $prefix/$datadir/qemu/vhost-user/50-$name.json" test -s "$json"
	check "$label: JSON is valid, type fs, binary $bin exists in DESTDIR, features as the daemon's" \
		check_json "$json" "$dest" "$bin" "$dest$bin"
	local n
	n=$(find "$dest" -type f | wc -l)
	check "$label: nothing else installed (3 files, found $n)" test "$n" -eq 3
	check "$label: man page and --help list the same options, defaults and -o forms" \
		python3 "$here/check_manpage.py" "$dest$bin" "$man" "$repo/src"
	if [ "$label" = default ]; then
		# The checks can fail: a man page without the --cache entry, a JSON naming another binary.
		sed '/^\\fB\\-\\-cache\\fR/,/^\.TP/d' "$man" >"$tmp/broken.1"
		if python3 "$here/check_manpage.py" "$dest$bin" "$tmp/broken.1" >"$tmp/out" 2>&1; then
			nok "a man page missing --cache fails the check"
		else
			grep -q 'not ok - man page has an entry for --cache' "$tmp/out" &&
				ok "a man page missing --cache fails the check" ||
				nok "a man page missing --cache fails the check, for that reason: $(tail -3 "$tmp/out")"
		fi
		sed 's|"binary": "[^"]*"|"binary": "/nonexistent/virtiofsd"|' "$json" >"$tmp/broken.json"
		if check_json "$tmp/broken.json" "$dest" "/nonexistent/virtiofsd" "$dest$bin" >/dev/null 2>&1; then
			nok "a JSON naming a binary that is not installed fails the check"
		else
			ok "a JSON naming a binary that is not installed fails the check"
		fi
	fi
}

if [ $# -ge 1 ]; then
	build "$1" default && one_install "$1" default
elif meson setup "$tmp/b1" "$repo" --prefix=/usr >"$tmp/setup.log" 2>&1; then
	build "$tmp/b1" default virtiofsd data/50-virtiofsd.json && one_install "$tmp/b1" default
else
	cat "$tmp/setup.log"; nok "default: meson setup"
fi
# Beside the Rust daemon: another name, prefix and libexecdir. Only what is installed is built.
if meson setup "$tmp/b2" "$repo" --prefix=/opt/vfsd-c --libexecdir=lib/helpers \
	-Dbinary_name=virtiofsd-c >"$tmp/setup.log" 2>&1; then
	build "$tmp/b2" renamed virtiofsd-c data/50-virtiofsd-c.json && one_install "$tmp/b2" renamed
else
	cat "$tmp/setup.log"; nok "renamed: meson setup"
fi

finish
