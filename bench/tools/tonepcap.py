#!/usr/bin/env python3
"""Write a libpcap file of one RTP stream: a sine tone in PCMU (G.711
u-law, payload type 0), 20 ms packets, for SIPp's play_pcap_audio (which
rewrites only addresses and ports).

usage: tonepcap.py OUT.pcap [--freq 1000] [--secs 3] [--amplitude 8000]
"""
import argparse
import math
import struct


def ulaw(sample):
    # ITU-T G.711 u-law encoding of a 16-bit linear sample.
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    if sample < 0:
        sample = -sample
    sample = min(sample, clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def udp_frame(payload, sport=6000, dport=6002):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    total = 20 + len(udp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    csum = 0
    for i in range(0, 20, 2):
        csum += (ip[i] << 8) | ip[i + 1]
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
    ip = ip[:10] + struct.pack("!H", csum) + ip[12:]
    eth = b"\x00" * 12 + b"\x08\x00"
    return eth + ip + udp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--freq", type=float, default=1000)
    ap.add_argument("--secs", type=float, default=3)
    ap.add_argument("--amplitude", type=int, default=8000)
    a = ap.parse_args()
    n = int(a.secs * 50)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k in range(n):
            pcm = bytes(ulaw(int(a.amplitude * math.sin(2 * math.pi * a.freq * (k * 160 + i) / 8000))) for i in range(160))
            rtp = struct.pack("!BBHII", 0x80, 0x80 if k == 0 else 0, k + 1, k * 160, 0x1234ABCD) + pcm
            frame = udp_frame(rtp)
            t = k * 0.02
            f.write(struct.pack("<IIII", int(t), int((t - int(t)) * 1e6), len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
