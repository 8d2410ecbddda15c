#!/usr/bin/env python3
"""Pick free port blocks on 127.0.0.1 for a benchmark run.

usage: freeport.py [--avoid PORT[,PORT...]] WIDTH [WIDTH...]
Prints one base port per WIDTH, such that every port of [base, base+WIDTH) is
free for UDP (and TCP) right now and the blocks do not overlap each other nor the --avoid ports (ports in use that
may not be bound yet, or that must not fall inside a block). Ports are taken
from 10000-19999: below entvoice's RTP range (20000-40000 in the bench configs)
and the kernel's ephemeral range (32768+), so other programs rarely take them.
"""
import random
import socket
import sys

LO, HI = 10000, 20000


def free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def main():
    argv = sys.argv[1:]
    taken = []
    if len(argv) >= 2 and argv[0] == "--avoid":
        taken = [(int(p), 1) for p in argv[1].split(",") if p]
        argv = argv[2:]
    widths = [int(a) for a in argv] or [1]
    out = [0] * len(widths)
    rnd = random.Random()
    # wide blocks first, packed from a random point upwards (wrapping), so
    # several wide blocks still fit; small ones at random places
    for idx in sorted(range(len(widths)), key=lambda i: -widths[i]):
        w = widths[idx]
        if w > HI - LO:
            sys.exit("block of width %d does not fit in %d-%d" % (w, LO, HI - 1))
        span = HI - LO - w
        start = rnd.randrange(0, span + 1)
        tries = range(0, span + 1, 2) if w > 16 else [rnd.randrange(0, span + 1) for _ in range(2000)]
        for k in tries:
            base = LO + ((start + k) % (span + 1) if w > 16 else k)
            base -= base % 2  # even, for RTP-style pairs
            if any(base < b + bw and b < base + w for b, bw in taken):
                continue
            # only a sample of wide blocks is checked (thousands of binds are
            # slow); SIPp binds only the first ports of its media block
            check = range(base, base + w) if w <= 16 else list(range(base, base + 16)) + list(range(base + 16, base + w, 97))
            if all(free(p) for p in check):
                taken.append((base, w))
                out[idx] = base
                break
        else:
            sys.exit("no free port block of width %d" % w)
    print("\n".join(map(str, out)))


if __name__ == "__main__":
    main()
