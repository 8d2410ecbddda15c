#!/usr/bin/env python3
"""Summarise a SIPp -trace_stat CSV (';'-separated, one row per -fd period
plus a final row).

usage: sippstat.py STAT.csv [STAT.csv ...]
Several files (several SIPp instances run side by side) are added up.

Prints one line of key=value:
  created success failed current retrans dead_msgs out_of_call  (final row, cumulative)
  rate     calls created per second while SIPp was creating them: the periodic
           rows that created calls, without the first and last (partial) ones
  succ_rate successful calls per second over the same rows
  fail_*   every non-zero Failed*(C) cause
"""
import csv
import sys


def secs(hms):
    # "HH:MM:SS" or "HH:MM:SS:uuuuuu"
    p = hms.split(":")
    s = int(p[0]) * 3600 + int(p[1]) * 60 + int(p[2])
    if len(p) > 3:
        s += int(p[3]) / 1e6
    return s


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) < 2:
        raise SystemExit("%s: no stat rows" % path)
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:] if len(r) >= len(head) - 1]


def main():
    tot = {}
    rate_calls = rate_secs = succ_calls = 0.0
    for path in sys.argv[1:]:
        rows = load(path)
        last = rows[-1]
        for key, col in (("created", "TotalCallCreated"), ("success", "SuccessfulCall(C)"),
                         ("failed", "FailedCall(C)"), ("current", "CurrentCall"),
                         ("retrans", "Retransmissions(C)"), ("dead_msgs", "DeadCallMsgs(C)"),
                         ("out_of_call", "OutOfCallMsgs(C)")):
            tot[key] = tot.get(key, 0) + int(float(last.get(col) or 0))
        for col, v in last.items():
            if col.startswith("Failed") and col.endswith("(C)") and col != "FailedCall(C)" and v and int(v):
                k = "fail_" + col[len("Failed"):-3]
                tot[k] = tot.get(k, 0) + int(v)
        # periodic rows that created calls (the last row repeats the final tally)
        busy = [r for r in rows[:-1] if int(r.get("OutgoingCall(P)") or 0) + int(r.get("IncomingCall(P)") or 0) > 0]
        if len(busy) >= 3:
            busy = busy[1:-1]
        c = sum(int(r["OutgoingCall(P)"]) + int(r["IncomingCall(P)"]) for r in busy)
        s = sum(secs(r["ElapsedTime(P)"]) for r in busy)
        if s > 0:
            rate_calls += c / s
            succ_calls += sum(int(r["SuccessfulCall(P)"]) for r in busy) / s
        elif last.get("CallRate(C)"):
            rate_calls += float(last["CallRate(C)"])
    out = ["created=%d" % tot["created"], "success=%d" % tot["success"], "failed=%d" % tot["failed"],
           "current=%d" % tot["current"], "rate=%.1f" % rate_calls, "succ_rate=%.1f" % succ_calls,
           "retrans=%d" % tot["retrans"], "dead_msgs=%d" % tot["dead_msgs"], "out_of_call=%d" % tot["out_of_call"]]
    out += ["%s=%d" % (k, v) for k, v in sorted(tot.items()) if k.startswith("fail_")]
    print(" ".join(out))


if __name__ == "__main__":
    main()
