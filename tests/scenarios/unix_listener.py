"""A unix-domain server that never accepts on one listener (PHP-FPM with
every worker busy): backlog 2, filled by a client process until its
connect() fails with EAGAIN. Beside it a listener that accepted one
connection from the same client, and an abstract seqpacket listener with
one client queued. --netns: all of it in a network namespace of its own.
--accept: the healthy twin, where the server accepts every connection (the
client makes three to the first listener) and no queue holds anything.

READY carries what fstat() said of each socket, for the test to compare;
the test removes the socket files' directory (`dir`) when done."""
import json, os, socket, sys, tempfile
from _scn import ready, self_destruct, park, own_netns

netns = None
if "--netns" in sys.argv:
    netns = own_netns()
healthy = "--accept" in sys.argv
self_destruct()
ino = lambda s: os.fstat(s.fileno()).st_ino
d = tempfile.mkdtemp(prefix="unwedge-unix-")
full_path, work_path = d + "/fpm.sock", d + "/work.sock"
abstract = "unwedge-test-%d" % os.getpid()
BACKLOG = 2

full = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
full.bind(full_path)
full.listen(BACKLOG)
work = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
work.bind(work_path)
work.listen(8)
seq = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
seq.bind(b"\0" + abstract.encode())
seq.listen(4)

r, w = os.pipe()
client = os.fork()
if client == 0:
    self_destruct()  # threads do not survive fork()
    os.close(r)
    for s in (full, work, seq):  # the server's, not the client's
        s.close()
    queued = []
    while len(queued) < (3 if healthy else 1 << 20):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(full_path)
        except BlockingIOError:  # EAGAIN: the queue is full
            c.close()
            break
        queued.append(c)
    wc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    wc.connect(work_path)
    sc = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sc.connect(b"\0" + abstract.encode())
    os.write(w, json.dumps({"queued": [ino(c) for c in queued], "work": ino(wc), "seq": ino(sc)}).encode() + b"\n")
    os.close(w)
    park()
os.close(w)
got = json.loads(os.fdopen(r).readline())
accepted, _ = work.accept()
held = []
if healthy:
    held = [full.accept()[0] for _ in got["queued"]] + [seq.accept()[0]]
ready(
    client=client,
    netns=netns,
    backlog=BACKLOG,
    path=full_path,
    listener=ino(full),
    queued=[] if healthy else got["queued"],
    clients=got["queued"],
    work_path=work_path,
    work_listener=ino(work),
    accepted=ino(accepted),
    work_client=got["work"],
    abstract="@" + abstract,
    seq_listener=ino(seq),
    seq_client=got["seq"],
    dir=d,
)
park()
