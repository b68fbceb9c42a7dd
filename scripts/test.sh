#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, builds with gcc
# and clang, runs the unit, fake-frontend, /dev/fuse and command-line tiers, checks `meson install`
# and the Debian package, runs the first tiers again under AddressSanitizer +
# UndefinedBehaviorSanitizer (the threaded ones also under ThreadSanitizer) and runs each libFuzzer
# target for 15 s (scripts/fuzz.sh), then the VM tier (a real
# guest mounting the share, against our daemon and the legacy one, then once per sandbox mode with
# the escape attempts, then libvirt starting our daemon, then QEMU 10 with a Linux 6.12 guest, then
# live migration on QEMU 10: ours and the Rust daemon, tests/vm/migrate-all.sh).
# Ends with one line: "N passed, N failed".
#
# Options: --no-vm (skip the VM tier, loudly), --no-asan.
set -uo pipefail
cd "$(dirname "$0")/.."

run_vm=1 run_asan=1
for a in "$@"; do
	case "$a" in
	--no-vm) run_vm=0 ;;
	--no-asan) run_asan=0 ;;
	*) echo "test.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

bash scripts/deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }

total_pass=0 total_fail=0
tally() { # name, passed, failed
	echo "== $1: $2 passed, $3 failed"
	total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3))
}

# meson test, counting its summary; a build failure counts as one failure. -Dtests=enabled: a
# missing cmocka fails the setup here, where the default (auto) would build no tests at all.
meson_tier() { # name, builddir, setup-args, test-args...
	local name=$1 dir=$2 setup="-Dtests=enabled $3"
	shift 3
	if [ ! -f "$dir/build.ninja" ]; then
		# shellcheck disable=SC2086
		meson setup "$dir" $setup >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; tally "$name (setup)" 0 1; return; }
	elif ! meson configure "$dir" -Dtests=enabled >"$dir.setup.log" 2>&1; then
		cat "$dir.setup.log"; tally "$name (configure)" 0 1; return
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		tail -40 "$dir.build.log"; tally "$name (build)" 0 1; return
	fi
	local log="$dir/test-summary.log"
	# shellcheck disable=SC2086
	${TIER_WRAP:-} meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$log" | grep -Ev '^\s*$' | tail -60
	local ok fail to
	ok=$(awk '/^Ok:/ {print $2}' "$log"); fail=$(awk '/^Fail:/ {print $2}' "$log")
	to=$(awk '/^Timeout:/ {print $2}' "$log")
	[ -n "$ok" ] || { tally "$name (no summary)" 0 1; return; }
	tally "$name" "$ok" $((fail + ${to:-0}))
}

# The peers (the Rust virtiofsd, QEMU 10, Linux 6.12: scripts/peers.sh) for the migration tests:
# the fake-frontend interop test reads RUST_VIRTIOFSD, the migration VM tier all of them.
if [ -f scripts/peers.sh ] && peers_env=$(bash scripts/peers.sh) && [ -f "$peers_env" ]; then
	# shellcheck disable=SC1090
	. "$peers_env"
	export RUST_VIRTIOFSD PEERS_ENV=$peers_env
else
	echo "!! no peers (scripts/peers.sh missing or failed): the Rust interop tests of" \
		"fake-migration skip, the migration VM tier fails"
fi

meson_tier "gcc build: unit, fake frontend, /dev/fuse, cli" build ""

# A shell tier ending with "N passed, N failed"; status 77 is a loud skip (not root).
shell_tier() { # name, command...
	local name=$1 out st line p f
	shift
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	st=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	if [ -n "$line" ]; then
		p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
		[ "$st" -ne 0 ] && [ "$f" -eq 0 ] && f=1
		tally "$name" "$p" "$f"
	elif [ "$st" -eq 77 ]; then
		echo "!! SKIPPED: $name (not root)"
	else
		tally "$name (no result line, status $st)" 0 1
	fi
	rm -f "$out"
}

# Installing: meson install into a DESTDIR (layout, JSON, man page against --help), and the
# Debian package (dpkg-buildpackage, lintian, dpkg --root install and purge).
shell_tier "meson install layout" bash tests/install/test_install.sh build
deb_dir=$(mktemp -d)
shell_tier "Debian package" env DEB_OUT_DIR="$deb_dir" bash tests/install/test_deb.sh
meson_tier "clang build: unit tier" build-clang "--native-file=scripts/clang.ini" --suite unit
# The benchmark builds with --buildtype=release (-O3), whose inlining brings out warnings -O2
# does not (a maybe-uninitialized once broke bench/run.sh with -Werror).
meson_tier "gcc release build (-O3): unit tier" build-release "--buildtype=release" --suite unit
if [ "$run_asan" = 1 ]; then
	# seccomp off for the sanitizer build: LeakSanitizer's exit-time scan makes calls the
	# allow-list rightly refuses; the gcc tier above runs the same tests with the filter on.
	FAKE_DAEMON_ARGS=--seccomp=none meson_tier "ASan+UBSan: unit, fake frontend, /dev/fuse" build-asan \
		"-Db_sanitize=address,undefined -Db_lundef=false" --suite unit --suite fake --suite fusedev
	# ThreadSanitizer (clang's): the tests where queues, workers, lock waiters and the migration
	# state thread run at once;
	# INIT and DESTROY racing requests on other queues is fake-hostile's init_races.
	# clang 14's TSan cannot map its shadow with more than 28 bits of mmap randomisation:
	# run it without randomisation there (setarch -R, inherited by the daemons).
	tsan_wrap=
	[ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ] && tsan_wrap="setarch $(uname -m) -R"
	TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp ${TSAN_OPTIONS:-}" \
	TIER_WRAP=$tsan_wrap FAKE_DAEMON_ARGS=--seccomp=none meson_tier "TSan: multi-queue, thread pool, lock, migration tests" build-tsan \
		"--native-file=scripts/clang.ini -Db_sanitize=thread -Db_lundef=false" \
		fake-hostile fake-memfault fake-lifecycle fake-locks fake-migration fake-notify-poll0 fake-notify-poll200 \
		fuse_async vhost fs_handles
	# The libFuzzer binaries (clang, -Dfuzz=true, ASan+UBSan) build and run: 15 s of each target
	# from its corpus, any finding fails (the corpus replays above run without libFuzzer).
	shell_tier "libFuzzer targets, 15 s each (scripts/fuzz.sh)" bash scripts/fuzz.sh --jobs 2 --secs 15 all
else
	echo "!! SKIPPED: sanitizer tiers and the libFuzzer run (--no-asan)"
fi

if [ "$run_vm" = 1 ]; then
	vm_args=(--compare)
	# The sanitizer build serves a real guest too (seccomp off: the leak check at exit makes
	# calls the allow-list rightly refuses).
	[ "$run_asan" = 1 ] && [ -x build-asan/virtiofsd ] && vm_args+=(--asan-daemon build-asan/virtiofsd)
	shell_tier "VM tier" bash tests/vm/run.sh "${vm_args[@]}"
	# One boot per sandbox mode: the regular guest checks and the escape attempts, with host
	# canaries next to the share (tests/sandbox/vm_modes.sh, tests/escape/).
	shell_tier "VM sandbox modes + escape attempts" bash tests/sandbox/vm_modes.sh build/virtiofsd
else
	echo "!! SKIPPED: VM tier (--no-vm)"
fi

# libvirt 9.0 starting our daemon: found through the vhost-user JSON of the package built above
# (installed for the duration, then purged; `meson install` to /usr if the package did not build),
# and from <binary> options.
if [ "$run_vm" = 1 ]; then
	deb=$(ls "$deb_dir"/virtiofsd-c_*.deb 2>/dev/null | head -1)
	shell_tier "libvirt starts our daemon (2 guest boots${deb:+, from the .deb})" \
		bash tests/libvirt/test_libvirt.sh ${deb:+--deb "$deb"}
else
	echo "!! SKIPPED: libvirt tier (--no-vm)"
fi

# QEMU 10 + Linux 6.12 (fetched by scripts/peers.sh): 2 request queues on 2 vCPUs, ALLOW_IDMAP
# with an idmapped mount in the guest, --tag beside vhost-user-fs-pci (tests/vm/qemu10.sh); the
# 2-queue guest once more against the sanitizer build (seccomp off, as above).
if [ "$run_vm" = 1 ]; then
	shell_tier "VM on QEMU 10 + Linux 6.12 (queues, idmap, tag)" bash tests/vm/qemu10.sh
	if [ "$run_asan" = 1 ] && [ -x build-asan/virtiofsd ]; then
		shell_tier "VM on QEMU 10 + Linux 6.12, ASan+UBSan daemon, 2 queues" \
			bash tests/vm/qemu10.sh --daemon build-asan/virtiofsd --daemon-arg=--seccomp=none --only mq
	fi
else
	echo "!! SKIPPED: VM on QEMU 10 + Linux 6.12 (--no-vm)"
fi

# Live migration of a running guest between two QEMU 10 processes (tests/vm/migrate-all.sh).
if [ "$run_vm" = 1 ]; then
	shell_tier "VM live migration (QEMU 10 + Linux 6.12, ours and Rust)" bash tests/vm/migrate-all.sh
else
	echo "!! SKIPPED: VM live migration (--no-vm)"
fi

# POSIX conformance in a guest, ours against the legacy daemon (the /dev/fuse half runs in meson).
if [ "$run_vm" = 1 ]; then
	cf_out=$(mktemp)
	bash tests/conformance/run.sh --vm 2>&1 | tee "$cf_out"
	cf_st=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$cf_out" | tail -1)
	if [ -n "$line" ]; then
		p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
		[ "$cf_st" -ne 0 ] && [ "$f" -eq 0 ] && f=1
		tally "POSIX conformance, VM (ours vs legacy)" "$p" "$f"
	else
		tally "POSIX conformance, VM (no result line, status $cf_st)" 0 1
	fi
	rm -f "$cf_out"
else
	echo "!! SKIPPED: POSIX conformance in the VM (--no-vm)"
fi

rm -rf "$deb_dir"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
