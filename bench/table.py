#!/usr/bin/env python3
"""Format vufs-bench rows (tab-separated, see bench/vufs-bench.c) as Markdown tables.

With several result files (runs of the same matrix), each cell shows every run's value,
separated by " / ", in the order of the files."""
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


def load(path, rows, targets, notes):
    for line in open(path):
        line = line.rstrip("\n")
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


def table(runs, keys, title, cols, fmt, unit=False):
    print("%s\n" % title)
    print("| workload | depth | " + ("unit | " if unit else "") + " | ".join(cols) + " |")
    print("|---|---:|" + ("---|" if unit else "") + "---:|" * len(cols))
    for k in keys:
        u = unit_of(k[1])
        cells = [cell(runs, k, t, lambda c: fmt(c, u)) for t in cols]
        print("| %s | %d | %s%s |" % (k[1], k[2], u + " | " if unit else "", " | ".join(cells)))
    print()


def main(paths):
    runs, targets, notes = [], [], []
    for p in paths:
        rows = OrderedDict()
        load(p, rows, targets, notes)
        runs.append(rows)
    keys_all = OrderedDict()
    for rows in runs:
        for k in rows:
            keys_all[k] = 1
    daemons = [t for t in targets if t != "host"]
    for fs in OrderedDict((k[0], 1) for k in keys_all):
        keys = [k for k in keys_all if k[0] == fs]
        table(runs, keys, "#### %s: throughput (higher is better; host: one thread of plain "
              "system calls)" % fs, targets,
              lambda c, u: "%.0f" % float(c["mbs"]) if u == "MB/s" else num(c["ops"]), True)
        table(runs, keys, "#### %s: daemon CPU time per operation, µs (lower is better)" % fs,
              daemons, lambda c, u: c["cpu"])
        table(runs, keys, "#### %s: latency p50 (p99), µs (per operation; readdirplus: per "
              "request)" % fs, targets, lambda c, u: "%s (%s)" % (lat(c["p50"]), lat(c["p99"])))
    for n in OrderedDict((n, 1) for n in notes):
        print("note: " + n)


if __name__ == "__main__":
    main(sys.argv[1:] or ["/dev/stdin"])
