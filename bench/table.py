#!/usr/bin/env python3
"""Format vufs-bench rows (tab-separated, see bench/vufs-bench.c) as Markdown tables.

With several result files (runs of the same matrix), each cell shows every run's value,
separated by " / ", in the order of the files. Throughput cells carry the daemon's CPU time
per operation beside the rate; "ours ÷ best peer" compares ops/s with the better of the other
daemons (Rust, legacy) in the same run."""
import sys
from collections import OrderedDict

UNITS = {"lookup": "stat/s", "create": "files/s", "readdirplus": "entries/s", "fsync": "ops/s"}
PEERS = ("rust", "legacy")


def num(v):
    v = float(v)
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.0fk" % (v / 1e3)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def lat(v):
    v = float(v)
    return "%.0f" % v if v >= 100 else "%.1f" % v


def load(path, rows, targets, notes, mem):
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("#"):
            notes.append(line[1:].strip().replace("\t", " "))
            continue
        f = line.split("\t")
        if f[0] == "mem" and len(f) >= 8:
            mem.setdefault(f[1], []).append((f[3], f[4], f[6], f[7]))
            continue
        if len(f) not in (12, 13, 14, 16):
            continue
        fs, tgt, work, depth = f[0], f[1], f[2], int(f[3])
        queues = int(f[12]) if len(f) >= 13 else 1
        if tgt not in targets:
            targets.append(tgt)
        rows.setdefault((fs, work, depth, queues), {})[tgt] = {
            "ops": f[6], "mbs": f[8], "p50": f[9], "p99": f[10], "cpu": f[11],
            "sleeps": f[13] if len(f) >= 14 else "-",
            "kicks": f[14] if len(f) >= 16 else "-", "calls": f[15] if len(f) >= 16 else "-"}


def unit_of(work):
    if work.startswith(("read-", "write-")) and work.endswith("1m"):
        return "MB/s"
    return UNITS.get(work, "ops/s")


def cell(runs, key, tgt, fmt):
    vals = []
    for rows in runs:
        c = rows.get(key, {}).get(tgt)
        vals.append("" if c is None else fmt(c))
    return " / ".join(vals) if any(vals) else ""


def ratio(runs, key):
    vals = []
    for rows in runs:
        r = rows.get(key, {})
        peers = [float(r[p]["ops"]) for p in PEERS if p in r]
        if not peers and key[3] > 1:
            # peers that cannot serve several queues: against their one queue
            one = rows.get(key[:3] + (1,), {})
            peers = [float(one[p]["ops"]) for p in PEERS if p in one]
        if "ours" in r and peers and max(peers) > 0:
            vals.append("%.2f" % (float(r["ours"]["ops"]) / max(peers)))
        else:
            vals.append("")
    return " / ".join(vals) if any(vals) else ""


def depth_label(k):
    return "%d" % k[2] if k[3] == 1 else "%d ×%dq" % (k[2], k[3])


def rate(c, u):
    v = "%.0f" % float(c["mbs"]) if u == "MB/s" else num(c["ops"])
    return v if c["cpu"] == "-" else "%s (%s)" % (v, c["cpu"])


def wakeups(c, u):
    return "%s / %s / %s" % (c["sleeps"], c["kicks"], c["calls"]) if c["cpu"] != "-" else ""


def table(runs, keys, title, cols, fmt, unit=False, with_ratio=False):
    print("%s\n" % title)
    extra = ["ours ÷ best peer"] if with_ratio else []
    print("| workload | depth | " + ("unit | " if unit else "") + " | ".join(cols + extra) + " |")
    print("|---|---:|" + ("---|" if unit else "") + "---:|" * (len(cols) + len(extra)))
    for k in keys:
        u = unit_of(k[1])
        cells = [cell(runs, k, t, lambda c: fmt(c, u)) for t in cols]
        if with_ratio:
            cells.append(ratio(runs, k))
        print("| %s | %s | %s%s |" % (k[1], depth_label(k), u + " | " if unit else "",
                                       " | ".join(cells)))
    print()


def mem_table(mems):
    if not any(mems):
        return
    print("#### memory: RssAnon per cached inode (LOOKUPs kept, file handles) and per open "
          "file, bytes (lower is better)\n")
    labels = []
    for m in mems:
        for t in m:
            if t not in labels:
                labels.append(t)
    print("| daemon | inodes | bytes per inode | open files | bytes per open file |")
    print("|---|---:|---:|---:|---:|")
    for t in labels:
        rs = [r for m in mems for r in m.get(t, [])]
        print("| %s | %s | %s | %s | %s |" % (t, rs[0][0], " / ".join(r[1] for r in rs),
                                              rs[0][2], " / ".join(r[3] for r in rs)))
    print()


def main(paths):
    runs, targets, notes, mems = [], [], [], []
    for p in paths:
        rows, mem = OrderedDict(), OrderedDict()
        load(p, rows, targets, notes, mem)
        runs.append(rows)
        mems.append(mem)
    keys_all = OrderedDict()
    for rows in runs:
        for k in rows:
            keys_all[k] = 1
    for fs in OrderedDict((k[0], 1) for k in keys_all):
        keys = [k for k in keys_all if k[0] == fs]
        table(runs, keys, "#### %s: throughput (daemon CPU µs per operation); higher is better; "
              "host: one thread of plain system calls (1 MiB I/O at depth N: cycling through N "
              "buffers); ×2q: 2 request queues, one frontend thread each (ours ÷ best peer: "
              "against a peer's 1 queue where it cannot serve 2)"
              % fs, targets, rate, True, True)
        table(runs, keys, "#### %s: latency p50 (p99), µs (per operation; readdirplus: per "
              "request)" % fs, targets, lambda c, u: "%s (%s)" % (lat(c["p50"]), lat(c["p99"])))
        daemons = [t for t in targets if t != "host"]
        if len(runs) == 1:
            table(runs, keys, "#### %s: wake-ups per operation: the daemon's sleeps / the "
                  "guest's kicks (a VM exit each) / the guest's interrupts (lower is better)" % fs,
                  daemons, wakeups)
    mem_table(mems)
    for n in OrderedDict((n, 1) for n in notes):
        print("note: " + n)


if __name__ == "__main__":
    main(sys.argv[1:] or ["/dev/stdin"])
