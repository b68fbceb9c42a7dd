#!/usr/bin/env bash
# The Rust virtiofsd 1.13.2 (Debian trixie's package) for side-by-side runs, unpacked with the
# libraries it needs beside it and started through their dynamic loader (this host's glibc is
# older). Prints the path of a wrapper that runs it; exits 1 with the reason on stderr when it
# cannot be had. $RUST_VIRTIOFSD (an existing program) skips the fetch.
# Cache: $PEER_CACHE (default: <repo>/.peercache), in its own folder cli-rust-1.13.2.
set -euo pipefail
if [ -n "${RUST_VIRTIOFSD:-}" ]; then
	[ -x "$RUST_VIRTIOFSD" ] || { echo "RUST_VIRTIOFSD=$RUST_VIRTIOFSD is not executable" >&2; exit 1; }
	echo "$RUST_VIRTIOFSD"
	exit 0
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${PEER_CACHE:-$repo/.peercache}/cli-rust-1.13.2
want=1.13.2
wrapper=$cache/virtiofsd
if [ -x "$wrapper" ] && "$wrapper" --version 2>/dev/null | grep -qx "virtiofsd $want"; then
	echo "$wrapper"
	exit 0
fi
command -v apt-get >/dev/null || { echo "no apt-get to fetch the Rust virtiofsd" >&2; exit 1; }
# The archive this machine already uses, read at run time (never written into the project).
uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)
[ -n "$uri" ] || { echo "no Debian archive address in /etc/apt/sources.list.d" >&2; exit 1; }
rm -rf "$cache"
mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/debs" "$cache/root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" \
	>"$cache/apt/sources.list"
apt_opts=(-q -o "Dir::Etc::sourcelist=$cache/apt/sources.list" -o Dir::Etc::sourceparts=-
	-o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
	-o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update >"$cache/apt.log" 2>&1 ||
	{ echo "apt-get update for trixie failed (see $cache/apt.log)" >&2; exit 1; }
(cd "$cache/debs" && apt-get "${apt_opts[@]}" download virtiofsd libc6 libseccomp2 libcap-ng0 \
	libgcc-s1 >>"$cache/apt.log" 2>&1) ||
	{ echo "apt-get download failed (see $cache/apt.log)" >&2; exit 1; }
for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$cache/root"; done
lib=$cache/root/usr/lib/x86_64-linux-gnu
cat >"$wrapper" <<EOS
#!/bin/sh
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$cache/root/usr/libexec/virtiofsd" "\$@"
EOS
chmod 755 "$wrapper"
got=$("$wrapper" --version 2>&1 || true)
[ "$got" = "virtiofsd $want" ] || { echo "fetched virtiofsd says '$got', not $want" >&2; exit 1; }
echo "$wrapper"
