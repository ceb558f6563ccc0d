#!/usr/bin/env python3
"""A DNS server for one test, on 127.0.0.1:53 inside a network namespace the
test created: answers every A query with 127.0.0.1 and every other query
with no records (NOERROR). Also listens on a TCP port (0 = any free one) as
the target to probe. Prints READY {"port": P} once both are bound; runs until
killed."""
import json
import socket
import struct
import sys

def answer(query: bytes) -> bytes:
    qid, _flags, qdcount = struct.unpack("!HHH", query[:6])
    # The question: labels up to the zero byte, then QTYPE and QCLASS.
    end = query.index(b"\0", 12) + 5
    qtype = struct.unpack("!H", query[end - 4 : end - 2])[0]
    question = query[12:end]
    a = qtype == 1
    head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1 if a else 0, 0, 0)
    body = question
    if a:
        # A pointer to the name at offset 12, type A, class IN, TTL 60, 4 bytes.
        body += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    return head + body

def main() -> None:
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("127.0.0.1", 53))
    target = socket.socket()
    target.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    target.listen(16)
    print("READY " + json.dumps({"port": target.getsockname()[1]}), flush=True)
    while True:
        query, peer = dns.recvfrom(512)
        try:
            dns.sendto(answer(query), peer)
        except (ValueError, struct.error):
            pass

main()
