#!/usr/bin/env bash
# The Rust virtiofsd (Debian trixie's package) for side-by-side runs: scripts/peers.sh fetches it
# (with the other peers, into $PEER_CACHE, default <repo>/.peercache) and this prints the path of
# the wrapper that runs it; exits 1 with the reason on stderr when it cannot be had.
# $RUST_VIRTIOFSD (an existing program) skips the fetch.
set -euo pipefail
if [ -n "${RUST_VIRTIOFSD:-}" ]; then
	[ -x "$RUST_VIRTIOFSD" ] || { echo "RUST_VIRTIOFSD=$RUST_VIRTIOFSD is not executable" >&2; exit 1; }
	echo "$RUST_VIRTIOFSD"
	exit 0
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
env=$(bash "$repo/scripts/peers.sh" </dev/null) || { echo "scripts/peers.sh could not fetch the peers" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env"
[ -x "${RUST_VIRTIOFSD:-}" ] || { echo "peers.env names no runnable RUST_VIRTIOFSD" >&2; exit 1; }
echo "$RUST_VIRTIOFSD"
