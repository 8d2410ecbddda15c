#!/usr/bin/env python3
"""Summary of bench/ab.sh: per load, the median of each build and the B/A ratio.

Input lines: LOAD BUILD ROUND <result line of cps.sh, wait.sh or playback.sh>.
"""
import re
import statistics
import sys

FIELDS = ["cpu", "cpu_per_call", "rss_after", "rss_after_Ns", "rss_playing", "gap_p99"]


def number(v):
    m = re.match(r"^([0-9.]+)", v or "")
    return float(m.group(1)) if m else None


def main():
    runs = {}  # (load, build) -> list of dicts
    order = []
    for line in open(sys.argv[1]):
        words = line.split()
        if len(words) < 4:
            continue
        load, build = words[0], words[1]
        kv = {}
        for w in words[4:]:
            if "=" in w:
                k, v = w.split("=", 1)
                kv[re.sub(r"^rss_after_\d+s$", "rss_after_Ns", k)] = v
        runs.setdefault((load, build), []).append(kv)
        if load not in order:
            order.append(load)
    print("%-16s %-13s %10s %10s %10s %s" % ("load", "figure", "A", "B", "B/A", "runs A | B"))
    for load in order:
        a, b = runs.get((load, "A"), []), runs.get((load, "B"), [])
        bad = [r for r in a + b if r.get("failed", "0") not in ("0",) or r.get("entvoice", "running") != "running"]
        for f in FIELDS:
            va = [x for x in (number(r.get(f)) for r in a) if x is not None]
            vb = [x for x in (number(r.get(f)) for r in b) if x is not None]
            if not va and not vb:
                continue
            ma = statistics.median(va) if va else None
            mb = statistics.median(vb) if vb else None
            ratio = "%.2f" % (mb / ma) if ma and mb is not None else "-"
            print("%-16s %-13s %10s %10s %10s %s | %s" % (
                load, f, "%.3f" % ma if ma is not None else "-", "%.3f" % mb if mb is not None else "-", ratio,
                " ".join("%g" % x for x in va), " ".join("%g" % x for x in vb)))
        if bad:
            print("%-16s %d run(s) with failed calls or a dead entvoice" % (load, len(bad)))


if __name__ == "__main__":
    main()
