#!/usr/bin/env python3
"""Story-1 processes for bench/stacks.sh: PER copies of each binary given,
each with its main thread joining a filter thread that reads an upstream
that never answers, and a client request waiting unread (two stuck
threads per process). Prints READY with the pids, then holds everything
until stdin closes or SECONDS pass."""
import json, os, select, socket, subprocess, sys, time

per, secs, bins = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
up = socket.socket()
up.bind(("127.0.0.1", 0))
up.listen(1024)
procs, clients = [], []
for b in bins:
    for _ in range(per):
        p = subprocess.Popen([b, str(up.getsockname()[1])], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = p.stdout.readline().decode()
        port = json.loads(line.split(" ", 1)[1])["port"]
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET /big.pdf HTTP/1.1\r\nHost: proxy\r\n\r\n")
        procs.append(p)
        clients.append(c)
print("READY " + json.dumps({"pids": [p.pid for p in procs]}), flush=True)
try:
    select.select([sys.stdin], [], [], secs)
finally:
    for p in procs:
        p.kill()
