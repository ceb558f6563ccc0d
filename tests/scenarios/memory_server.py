"""A server at its memory cgroup's limit (--cgroup DIR, made by the test with
a memory limit; more --cgroup for other hierarchies, e.g. a v2 one for PSI):
it fills its cgroup with anonymous memory up to --anon-pct of the limit (no
swap: reclaim cannot touch it), then answers each request (a line) by
reading a file of --file-mb through the page cache, which must be evicted
and read again in the little room left: every read reclaims, and requests
queue behind it. --job: the same file reading with no socket (a limited job
nobody waits on).

READY {"pid", "port", "anon_bytes", "limit"}
"""
import argparse, os, socket, tempfile
from _scn import join_cgroup, ready, self_destruct

ap = argparse.ArgumentParser()
ap.add_argument("--cgroup", action="append", default=[])
ap.add_argument("--anon-pct", type=float, default=93)
ap.add_argument("--file-mb", type=int, default=48)
ap.add_argument("--job", action="store_true")
args = ap.parse_args()
self_destruct()

# The file first, outside the cgroup, then dropped from the page cache: every
# later read charges the cgroup. Unlinked at once: it goes away with us.
fd, path = tempfile.mkstemp(prefix="unwedge-mem-", dir="/var/tmp")
os.unlink(path)
chunk = b"x" * (1 << 20)
for _ in range(args.file_mb):
    os.write(fd, chunk)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)

for c in args.cgroup:
    join_cgroup(c)
mem = next(c for c in args.cgroup if os.path.exists(os.path.join(c, "memory.limit_in_bytes"))
           or os.path.exists(os.path.join(c, "memory.max")))
v1 = os.path.exists(os.path.join(mem, "memory.limit_in_bytes"))
limit = int(open(os.path.join(mem, "memory.limit_in_bytes" if v1 else "memory.max")).read())


def anon():
    for line in open(os.path.join(mem, "memory.stat")):
        k, v = line.split()
        if k == ("total_rss" if v1 else "anon"):
            return int(v)
    return 0


held = []
while anon() < limit * args.anon_pct / 100:
    b = bytearray(1 << 20)
    b[::4096] = b"\x01" * (len(b) // 4096)  # touch every page
    held.append(b)


def read_file():
    off = 0
    while True:
        data = os.pread(fd, 1 << 20, off)
        if not data:
            return
        off += len(data)


if args.job:
    ready(port=None, anon_bytes=anon(), limit=limit)
    while True:
        read_file()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
ready(port=srv.getsockname()[1], anon_bytes=anon(), limit=limit)
while True:
    c, _ = srv.accept()
    with c:
        try:
            if c.recv(64):
                read_file()
                c.sendall(b"PONG\n")
        except OSError:
            pass
