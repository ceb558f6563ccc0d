"""Holds every packet of an NFQUEUE for a fixed delay, then accepts it.

This kernel has no netem, so the probe's latency tests inject delay with
netfilter instead: iptables sends SYN-ACKs to queue N, this helper keeps each
one for DELAY_MS and lets it go. It speaks nfnetlink_queue over a raw netlink
socket (stdlib only: Debian has no python3-netfilterqueue package).

usage: probe_nfqueue_delay.py DELAY_MS [QUEUE] [LIFETIME_S]
Prints READY {"queue": N} once bound; exits after LIFETIME_S (default 120).
"""

import heapq
import json
import os
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2

seq = 0


def nla(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def message(mtype, flags, queue, attrs):
    global seq
    seq += 1
    # nfgenmsg: family, version, res_id (big-endian queue number)
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", queue) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, flags, seq, 0) + body


def messages(data):
    off = 0
    while off + 16 <= len(data):
        length, mtype, _flags, _seq, _pid = struct.unpack_from("=IHHII", data, off)
        if length < 16:
            return
        yield mtype, data[off + 16 : off + length]
        off += (length + 3) & ~3


def attrs(payload):
    off = 4  # nfgenmsg
    while off + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, off)
        if length < 4:
            return
        yield kind & 0x3FFF, payload[off + 4 : off + length]
        off += (length + 3) & ~3


def configure(sock, queue):
    cmd = nla(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET))
    params = nla(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
    for attr in (cmd, params):
        sock.send(message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, queue, [attr]))
        for mtype, payload in messages(sock.recv(65536)):
            if mtype == NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", payload, 0)
                if err != 0:
                    sys.exit(f"nfqueue config failed: {os.strerror(-err)}")


def main():
    delay = float(sys.argv[1]) / 1000.0
    queue = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, 0))
    configure(sock, queue)
    print("READY " + json.dumps({"queue": queue}), flush=True)
    end = time.monotonic() + lifetime
    held = []  # (due, packet id)
    while time.monotonic() < end:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, pid = heapq.heappop(held)
            verdict = nla(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))
            sock.send(message(NFQNL_MSG_VERDICT, NLM_F_REQUEST, queue, [verdict]))
        wait = (held[0][0] - now) if held else 0.5
        ready, _, _ = select.select([sock], [], [], max(0.0, wait))
        if not ready:
            continue
        data = sock.recv(65536)
        arrived = time.monotonic()
        for mtype, payload in messages(data):
            if mtype != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                continue
            for kind, value in attrs(payload):
                if kind == NFQA_PACKET_HDR:
                    (pid,) = struct.unpack_from("!I", value, 0)
                    heapq.heappush(held, (arrived + delay, pid))


if __name__ == "__main__":
    main()
