#!/usr/bin/env python3
"""Wait until a SIP server answers OPTIONS over UDP.

usage: sipping.py HOST PORT TIMEOUT_SECONDS   (exit 0 when any response arrives)
"""
import socket
import sys
import time
import uuid


def main():
    host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lport = s.getsockname()[1]
    s.settimeout(0.2)
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        n += 1
        msg = (
            "OPTIONS sip:ping@%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=z9hG4bK%s\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:bench@127.0.0.1>;tag=%d\r\n"
            "To: <sip:ping@%s>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ) % (host, port, lport, uuid.uuid4().hex, n, host, uuid.uuid4().hex, n)
        try:
            s.sendto(msg.encode(), (host, port))
            data = s.recv(65535)
            if data.startswith(b"SIP/2.0 "):
                return 0
        except OSError:
            time.sleep(0.2)
    return 1


if __name__ == "__main__":
    sys.exit(main())
