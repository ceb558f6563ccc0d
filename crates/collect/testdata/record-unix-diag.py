#!/usr/bin/env python3
"""Records real AF_UNIX sock_diag dumps for the decoder's tests
(crates/collect/src/unix_diag.rs): unix-diag-unconnected.bin and
unix-diag-connected.bin (the netlink reads, as the kernel wrote them, of
unwedge's two requests: LISTEN and CLOSE with NAME, VFS, ICONS, RQLEN;
ESTABLISHED and SYN_SENT with NAME, PEER, RQLEN) and unix-diag.json (what
each socket is, from fstat() at the time). Root: it runs in a network
namespace of its own, so the dumps hold only the sockets it made.

  sudo python3 crates/collect/testdata/record-unix-diag.py
"""
import ctypes, json, os, shutil, socket, struct

HERE = os.path.dirname(os.path.abspath(__file__))
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
    raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) (needs root)")
DIR = "/tmp/unwedge-unix-capture"
shutil.rmtree(DIR, ignore_errors=True)
os.mkdir(DIR)
ino = lambda s: os.fstat(s.fileno()).st_ino
facts = {}

# A stream listener (backlog 2) nobody accepts on, filled until connect() fails.
full = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
full.bind(DIR + "/fpm.sock")
full.listen(2)
queued = []
while True:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(DIR + "/fpm.sock")
    except BlockingIOError:
        c.close()
        break
    queued.append(c)
st = os.stat(DIR + "/fpm.sock")
facts["full_listener"] = {"inode": ino(full), "path": DIR + "/fpm.sock", "backlog": 2,
                          "queued": [ino(c) for c in queued], "vfs_inode": st.st_ino}

# An accepted connection with 5 bytes its server has not read.
app = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
app.bind(DIR + "/app.sock")
app.listen(8)
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect(DIR + "/app.sock")
server, _ = app.accept()
client.send(b"hello")
facts["accepted"] = {"listener": ino(app), "server": ino(server), "client": ino(client), "unread": 5}

# An abstract seqpacket listener and one accepted connection.
seq = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
seq.bind(b"\0unwedge-capture-seqpacket")
seq.listen(4)
sc = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
sc.connect(b"\0unwedge-capture-seqpacket")
ss_, _ = seq.accept()
facts["seqpacket"] = {"listener": ino(seq), "name": "@unwedge-capture-seqpacket", "server": ino(ss_), "client": ino(sc)}

# A datagram server and a client connected to it (which makes the server
# ESTABLISHED too), one without clients; an idle socketpair.
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind(DIR + "/log.sock")
dc = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dc.connect(DIR + "/log.sock")
a, b = socket.socketpair()
quiet = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # no client: still CLOSE
quiet.bind(DIR + "/quiet.sock")
facts["dgram"] = {"server": ino(dg), "client": ino(dc), "unconnected": ino(quiet)}
facts["socketpair"] = [ino(a), ino(b)]

# A connection whose client closed: the server end is left half-dead.
gone = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
gone.connect(DIR + "/app.sock")
left, _ = app.accept()
gone.close()
facts["peer_closed"] = ino(left)

nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)  # NETLINK_SOCK_DIAG
total = 0
for name, states, show in [("unconnected", 0x480, 0x1b), ("connected", 0x6, 0x15)]:
    req = struct.pack("=BBHIII", socket.AF_UNIX, 0, 0, states, 0, show) + b"\xff" * 8
    nl.send(struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0) + req)
    data, count, done = b"", 0, False
    while not done:
        chunk = nl.recv(1 << 16)
        data += chunk
        off = 0
        while off < len(chunk):
            length, kind = struct.unpack_from("=IH", chunk, off)
            done, count = done or kind == 3, count + (kind == 20)
            off += (length + 3) & ~3
    open(os.path.join(HERE, "unix-diag-%s.bin" % name), "wb").write(data)
    facts[name] = count
    total += count
json.dump(facts, open(os.path.join(HERE, "unix-diag.json"), "w"), indent=1)
shutil.rmtree(DIR, ignore_errors=True)
print("recorded %d sockets" % total)
