#!/bin/sh
# Guest half of tests/vm/mq.sh: a 6.12 guest with 2 vCPUs and a virtio-fs device with 2 request
# queues. Linux >= 6.11 sends a request on the queue mapped to the CPU it runs on, so one worker
# pinned to each CPU (taskset) drives both queues; each checks its own files. The interrupt
# counts of both request queues (/proc/interrupts) must grow: the guest saw replies on each.
# Output: "ok N - ..." / "not ok N - ..." lines, "irq: <queue> <before> <after>" lines, and
# "N passed, N failed"; exit status 0 only when all passed.

pass=0 fail=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
check() { # description, command...
	d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}

FILES=${MQ_FILES:-300}

# Sum of the per-CPU counts of the interrupt whose name ends in $1 (e.g. requests.0).
irq_count() {
	awk -v q="$1" '$NF ~ ("-" q "$") { s = 0; for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s; found = 1 }
		END { if (!found) print -1 }' /proc/interrupts
}

# One worker per CPU, as its own script so that taskset can start it pinned.
cat >/tmp/worker.sh <<'EOF'
cpu=$1 FILES=$2 dir=/mnt/mq/c$1 i=0
mkdir -p "$dir" || exit 1
while [ $i -lt "$FILES" ]; do
	echo "cpu $cpu file $i" >"$dir/f$i" || exit 1
	i=$((i + 1))
done
i=0
while [ $i -lt "$FILES" ]; do
	[ "$(cat "$dir/f$i")" = "cpu $cpu file $i" ] || { echo "f$i on cpu $cpu reads wrong"; exit 1; }
	stat -c %s "$dir/f$i" >/dev/null || exit 1
	i=$((i + 2))
done
# Every odd file goes; the host counts what is left.
i=1
while [ $i -lt "$FILES" ]; do
	rm "$dir/f$i" || exit 1
	i=$((i + 2))
done
ls "$dir" | wc -l >"/tmp/left.$cpu"
EOF

# Request queues the device has (run-vm.sh --queues): 1 is the single-queue control run.
queues=$(sed -n 's/.*vmtest_queues=\([0-9]*\).*/\1/p' /proc/cmdline)
queues=${queues:-2}
check "2 CPUs online" [ "$(nproc)" -eq 2 ]
check "taskset present" sh -c 'command -v taskset >/dev/null'
r0a=$(irq_count requests.0)
r1a=$(irq_count requests.1)
if [ "$queues" -eq 2 ]; then
	check "an interrupt per request queue (requests.0, requests.1) in /proc/interrupts" \
		[ "$r0a" -ge 0 -a "$r1a" -ge 0 ]
else
	check "one request queue (requests.0, no requests.1) in /proc/interrupts" \
		[ "$r0a" -ge 0 -a "$r1a" -eq -1 ]
fi
grep -- '-requests\.\|-hiprio' /proc/interrupts | sed 's/^/# /'

mkdir -p /mnt/mq
taskset -c 0 sh /tmp/worker.sh 0 "$FILES" >/tmp/w0.log 2>&1 &
p0=$!
taskset -c 1 sh /tmp/worker.sh 1 "$FILES" >/tmp/w1.log 2>&1 &
p1=$!
wait $p0
s0=$?
wait $p1
s1=$?
check "worker on CPU 0 ($(cat /tmp/w0.log))" [ $s0 -eq 0 ]
check "worker on CPU 1 ($(cat /tmp/w1.log))" [ $s1 -eq 0 ]
half=$((FILES / 2))
check "CPU 0 left $half files" [ "$(cat /tmp/left.0 2>/dev/null)" = "$half" ]
check "CPU 1 left $half files" [ "$(cat /tmp/left.1 2>/dev/null)" = "$half" ]

r0b=$(irq_count requests.0)
r1b=$(irq_count requests.1)
echo "irq: requests.0 $r0a $r0b"
echo "irq: requests.1 $r1a $r1b"
grep -- '-requests\.\|-hiprio' /proc/interrupts | sed 's/^/# /'
# Each worker makes well over FILES round trips; replies may be coalesced, so ask for a tenth.
check "request queue 0 interrupted >= $((FILES / 10)) times" [ $((r0b - r0a)) -ge $((FILES / 10)) ]
if [ "$queues" -eq 2 ]; then
	check "request queue 1 interrupted >= $((FILES / 10)) times" [ $((r1b - r1a)) -ge $((FILES / 10)) ]
fi

sync
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
