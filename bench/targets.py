#!/usr/bin/env python3
"""Check vufs-bench result files against the performance targets of docs/performance.md
(issue 12) and print, per target and run, the figure and whether it holds.

    python3 bench/targets.py RUN1.tsv [RUN2.tsv ...]

A report, never a test: it exits 0 whatever the figures say."""
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from table import load, PEERS  # noqa: E402

FOUR_K = ("lookup", "create", "read-rand-4k", "write-rand-4k", "read-seq-4k", "write-seq-4k")
LARGE = ("readdirplus", "read-seq-1m", "write-seq-1m")


def peer_best(r, field, lower=False):
    vals = [float(r[p][field]) for p in PEERS if p in r and r[p][field] not in ("-", "")]
    if not vals:
        return None
    return min(vals) if lower else max(vals)


def checks(rows, mem, fs):
    """Yields (target, figure text, holds) for one run on one file system."""
    for depth in (16, 64):
        for work in FOUR_K + LARGE:
            r = rows.get((fs, work, depth, 1), {})
            best = peer_best(r, "ops")
            if "ours" not in r or not best:
                continue
            want = 1.5 if work in FOUR_K else 1.0
            x = float(r["ours"]["ops"]) / best
            yield ("%s depth %d: ours >= %.1fx best peer" % (work, depth, want), "%.2fx" % x,
                   x >= want)
            cpu, pcpu = r["ours"]["cpu"], peer_best(r, "cpu", lower=True)
            if cpu != "-" and pcpu:
                yield ("%s depth %d: daemon CPU/op <= best peer" % (work, depth),
                       "%s vs %.2f us" % (cpu, pcpu), float(cpu) <= pcpu)
    for work in ("read-seq-1m", "write-seq-1m"):
        h1 = rows.get((fs, work, 1, 1), {}).get("host")
        ours = [(float(rows[k]["ours"]["mbs"]), k[2]) for k in rows
                if k[0] == fs and k[1] == work and k[3] == 1 and "ours" in rows[k]]
        if not h1 or not ours:
            continue
        best = max(ours)
        x = best[0] / float(h1["mbs"])
        yield ("%s: ours >= 0.9x host (one 1 MiB buffer)" % work,
               "%.2fx (depth %d, %.0f of %s MB/s)" % (x, best[1], best[0], h1["mbs"]), x >= 0.9)
        # The host at the same depth: one thread cycling through as many buffers as the
        # frontend has requests in flight (the memory the daemon's copies go to or come from).
        same = [(mbs / float(rows[(fs, work, d, 1)]["host"]["mbs"]), d, mbs,
                 rows[(fs, work, d, 1)]["host"]["mbs"]) for mbs, d in ours
                if "host" in rows.get((fs, work, d, 1), {})]
        if same:
            x, d, mbs, hm = max(same)
            yield ("%s: ours >= 0.9x host at the same depth (as many buffers)" % work,
                   "%.2fx (depth %d, %.0f of %s MB/s)" % (x, d, mbs, hm), x >= 0.9)
    for work in ("lookup", "read-rand-4k"):
        r = rows.get((fs, work, 1, 1), {})
        best = peer_best(r, "p50", lower=True)
        if "ours" in r and best:
            x = float(r["ours"]["p50"]) / best
            yield ("%s depth 1: p50 <= 0.6x best peer" % work,
                   "%.2fx (%s vs %.1f us)" % (x, r["ours"]["p50"], best), x <= 0.6)
    for k in sorted(k for k in rows if k[0] == fs and k[3] == 2 and "ours" in rows[k]):
        one = rows.get(k[:3] + (1,), {})
        rust = rows[k].get("rust") or one.get("rust")
        if rust:
            x = float(rows[k]["ours"]["ops"]) / float(rust["ops"])
            yield ("%s depth %d, 2 queues: ours >= 1.5x Rust" % (k[1], k[2]), "%.2fx" % x,
                   x >= 1.5)
    if fs == "tmpfs" and "ours" in mem:
        per_inode = float(mem["ours"][-1][1])
        yield ("memory per cached inode <= 120 bytes", "%.0f B" % per_inode, per_inode <= 120)


def main(paths):
    runs = []
    for p in paths:
        rows, targets, notes, mem = {}, [], [], {}
        load(p, rows, targets, notes, mem)
        runs.append((rows, mem))
    for fs in ("tmpfs", "disk", "tmpfs-fh"):
        results = {}
        order = []
        for i, (rows, mem) in enumerate(runs):
            for name, fig, ok in checks(rows, mem, fs):
                if name not in results:
                    results[name] = [None] * len(runs)
                    order.append(name)
                results[name][i] = (fig, ok)
        if not order:
            continue
        print("#### %s: targets (each run: figure, holds?)\n" % fs)
        print("| target | " + " | ".join("run %d" % (i + 1) for i in range(len(runs))) + " |")
        print("|---|" + "---|" * len(runs))
        held = 0
        for name in order:
            cells = ["" if c is None else "%s %s" % (c[0], "yes" if c[1] else "**no**")
                     for c in results[name]]
            held += all(c is not None and c[1] for c in results[name])
            print("| %s | %s |" % (name, " | ".join(cells)))
        print("\n%d of %d targets hold in every run\n" % (held, len(order)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
