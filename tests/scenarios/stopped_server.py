"""A server process (a child of this one) that accepts and serves, and
clients (held by this process) that connect to it.

    stopped_server.py --stop     the server is SIGSTOPped, then 3 clients connect: they queue
    stopped_server.py --job      the server runs; a child holding only its own outbound connection
                                 is stopped (a Ctrl-Z'd ssh), 3 clients connect and are served: healthy
    stopped_server.py            the server runs; the test stops, traces or freezes it

READY {"pid": this, "server": pid, "port": p, "stopped": pid or null}"""
import os, signal, socket, sys, threading, time
from _proc_scn import park, ready, wait_for, watchdog

watchdog(300)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
port = srv.getsockname()[1]
server = os.fork()
if server == 0:
    def handle(c):
        while c.recv(4096):
            c.sendall(b"ok\n")
        c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
srv.close()


def state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


stopped = None
if "--stop" in sys.argv:
    os.kill(server, signal.SIGSTOP)
    wait_for(lambda: state(server) == "T")
    stopped = server
elif "--job" in sys.argv:
    r, w = os.pipe()
    stopped = os.fork()
    if stopped == 0:
        out = socket.create_connection(("127.0.0.1", port))
        out.sendall(b"hello\n")
        os.write(w, b"x")
        park()
    os.read(r, 1)  # connected: now stop it
    os.kill(stopped, signal.SIGSTOP)
    wait_for(lambda: state(stopped) == "T")
clients = []
if "--stop" in sys.argv or "--job" in sys.argv:
    for _ in range(3):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"hello\n")
        clients.append(c)
ready(server=server, port=port, stopped=stopped)
park()
