"""Story 1: a pre-forking server whose children keep the listening socket.
The test SIGKILLs the parent, leaving the children as orphans that hold
the port. With --daemon: a proper daemon instead (fork, setsid, listen;
the launcher exits), which must not look orphaned.

With --launched-master: a launcher that starts a pre-forking master in the
background and exits (a running service, not a leftover).

With --farm: a launcher that forks workers, each with a listener of its own,
and exits (a bench farm, `server &` from a script): left running on purpose.

READY {"pid": parent, "port": port, "children": [pids]}  or, with --daemon,
READY {"pid": daemon, "port": port}"""
import os, socket, sys, threading, time
from _proc_scn import park, ready, watchdog

if "--daemon" in sys.argv:
    if os.fork() != 0:
        os._exit(0)
    os.setsid()
    # The test kills it by pid; this only bounds a crashed test.
    threading.Thread(target=lambda: (time.sleep(90), os._exit(0)), daemon=True).start()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    ready(port=srv.getsockname()[1])
    park()

watchdog()
if "--launched-master" in sys.argv:
    # A launcher starts a pre-forking master in the background and exits, as
    # `uwsgi --master &` from a script does: the master is parentless and its
    # group leader is gone, but it serves, with its workers sharing the listener.
    r, w = os.pipe()
    if os.fork() == 0:
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        kids = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                park()
            kids.append(pid)
        os.write(w, b"%d %d\n" % (os.getpid(), srv.getsockname()[1]))
        park()
    master, port = map(int, os.fdopen(r).readline().split())
    ready(master=master, port=port)
    os._exit(0)
if "--farm" in sys.argv:
    r, w = os.pipe()
    kids, ports = [], []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(16)
            os.write(w, b"%d\n" % srv.getsockname()[1])
            park()
        kids.append(pid)
    lines = os.fdopen(r)
    for _ in kids:
        ports.append(int(lines.readline()))
    ready(children=kids, ports=ports)
    os._exit(0)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
children = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        while True:
            conn, _ = srv.accept()
            conn.close()
    children.append(pid)
ready(port=srv.getsockname()[1], children=children)
park()
