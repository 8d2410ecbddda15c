#!/usr/bin/env python3
"""Summary table of the benchmark result lines (read from stdin or files).

Result lines are the unindented lines the bench scripts print, e.g.
  cps   offered=200/s achieved=199.8/s success=4000 failed=0 cpu=12.0% ...
"""
import fileinput
import re

COLS = [("bench", 9), ("load", 13), ("achieved", 11), ("ok", 7), ("failed", 6), ("cpu", 7),
        ("rss_after", 9), ("rss+wait", 9), ("gap p50/p99/max", 24), ("worst p99", 9), ("entvoice", 8)]


def main():
    rows = []
    for line in fileinput.input():
        if line.startswith((" ", "#", "=")):
            continue
        words = line.split()
        if not words or ("=" not in line and not line.startswith("register RSS:")):
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        name = words[0]
        if name == "register" and "offered" not in kv:
            # "register RSS: idle X, after the last step Y, N s later Z"
            m = re.search(r"(\d+) s later (\S+)", line)
            last = next((r for r in reversed(rows) if r[0] == "register"), None)
            if m and last:
                last[7] = m.group(2)
            continue
        if name == "playback":
            load = "%s calls" % kv.get("concurrent", "?")
            achieved = "up %s" % kv.get("up", "?").split("/")[0]
            gap = "%s/%s/%s" % (kv.get("gap_p50", "-"), kv.get("gap_p99", "-"), kv.get("gap_max", "-"))
            rss = kv.get("rss_after", "-")
        else:
            load = kv.get("offered", "?")
            achieved = kv.get("ok_200", kv.get("achieved", "?"))
            gap = "-"
            rss = kv.get("rss_after", "-")
        later = next((v for k, v in kv.items() if re.match(r"rss_after_\d+s$", k)), "-")
        rows.append([name, load, achieved, kv.get("success", "?"), kv.get("failed", "?"), kv.get("cpu", "?"),
                     rss, later, gap, kv.get("worst_stream_p99", "-"), kv.get("entvoice", "?")])
    fmt = "  ".join("%%-%ds" % w for _, w in COLS)
    print(fmt % tuple(c for c, _ in COLS))
    for r in rows:
        print(fmt % tuple(r))


if __name__ == "__main__":
    main()
