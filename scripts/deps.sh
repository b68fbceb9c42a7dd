#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those missing.
set -euo pipefail
pkgs=(meson ninja-build gcc clang libclang-rt-14-dev pkg-config libcmocka-dev linux-libc-dev python3
      qemu-system-x86 qemu-system-common busybox-static cpio xz-utils gzip kmod
      libseccomp-dev libcap-ng-dev uidmap)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
