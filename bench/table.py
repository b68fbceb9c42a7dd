#!/usr/bin/env python3
"""Format vufs-bench rows (tab-separated, see bench/vufs-bench.c) as Markdown tables."""
import sys
from collections import OrderedDict

UNITS = {"lookup": "stat/s", "create": "files/s", "readdirplus": "entries/s", "fsync": "ops/s"}


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


def main(path):
    rows, targets, notes = OrderedDict(), [], []
    for line in open(path):
        line = line.rstrip("\n")
        if not line:
            continue
        if line.startswith("#"):
            notes.append(line[1:].strip())
            continue
        f = line.split("\t")
        if len(f) != 12:
            continue
        fs, tgt, work, depth = f[0], f[1], f[2], int(f[3])
        if tgt not in targets:
            targets.append(tgt)
        rows.setdefault((fs, work, depth), {})[tgt] = {
            "ops": f[6], "mbs": f[8], "p50": f[9], "p99": f[10], "cpu": f[11]}
    daemons = [t for t in targets if t != "host"]
    for fs in OrderedDict((k[0], 1) for k in rows):
        keys = [k for k in rows if k[0] == fs]
        print("#### %s: throughput (higher is better; host = one thread of plain syscalls)\n" % fs)
        print("| workload | depth | unit | " + " | ".join(targets) + " |")
        print("|---|---:|---|" + "---:|" * len(targets))
        for k in keys:
            io = k[1].startswith(("read-", "write-"))
            unit = "MB/s" if io and k[1].endswith("1m") else UNITS.get(k[1], "ops/s")
            cells = []
            for t in targets:
                c = rows[k].get(t)
                cells.append("" if c is None else
                             ("%.0f" % float(c["mbs"]) if unit == "MB/s" else num(c["ops"])))
            print("| %s | %d | %s | %s |" % (k[1], k[2], unit, " | ".join(cells)))
        print("\n#### %s: latency p50 / p99 in µs (per operation; readdirplus: per request)"
              " and daemon CPU µs per operation\n" % fs)
        print("| workload | depth | " + " | ".join("%s p50/p99" % t for t in targets) + " | " +
              " | ".join("%s CPU" % t for t in daemons) + " |")
        print("|---|---:|" + "---:|" * (len(targets) + len(daemons)))
        for k in keys:
            cells = []
            for t in targets:
                c = rows[k].get(t)
                cells.append("" if c is None else "%s / %s" % (lat(c["p50"]), lat(c["p99"])))
            for t in daemons:
                c = rows[k].get(t)
                cells.append("" if c is None else c["cpu"])
            print("| %s | %d | %s |" % (k[1], k[2], " | ".join(cells)))
        print()
    for n in notes:
        print("note: " + n)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin")
