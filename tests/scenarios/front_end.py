"""A real front end (nginx) before a real app server, for issue 22's
chains: the configs are written into a fresh directory, the servers run as
children of this script (each master dies with it, PR_SET_PDEATHSIG; php-fpm
leads a process group of its own and its workers outlive their master, so
whoever stops this script kills its descendants by pid, as tests and
record.py do), and a client child puts load on nginx.

    front_end.py fpm            nginx -> php-fpm over a unix socket
                                (listen.backlog 4, pm static, 2 children);
                                the script sleeps 60 s: both workers busy,
                                the socket's queue full, nginx's connect()s
                                refused (EAGAIN)
    front_end.py fpm-fast       the same pool answering at once, under a
                                steady load: the queue drains (healthy twin)
    front_end.py gunicorn       nginx -> gunicorn (sync, 2 workers) on a
                                unix socket; each request deadlocks its
                                worker on two locks (threads in futex)
    front_end.py gunicorn-fast  the same app answering at once, under load
    front_end.py tcp            nginx -> a local TCP server (2 workers in
                                one process, gunicorn gthread) whose
                                handlers wait on a deadlocked lock
    front_end.py tcp-fast       the same upstream answering at once

--clients N: a client child opens N connections to nginx at start, each
sends one request and waits (the incidents); the -fast modes instead run
--load client threads that request in a loop, reading every answer.

Prints READY {"pid": this, "port": nginx port, "dir": D, "nginx": master
pid, "upstream": master pid of the app server, "path": its unix socket or
null, "upstream_port": its TCP port or null, "client": pid}.
"""
import argparse, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["fpm", "fpm-fast", "gunicorn", "gunicorn-fast", "tcp", "tcp-fast"])
ap.add_argument("--clients", type=int, default=10)
ap.add_argument("--load", type=int, default=4)
ap.add_argument("--seconds", type=int, default=150)
args = ap.parse_args()
self_destruct(args.seconds)
fast = args.mode.endswith("-fast")
kind = args.mode.split("-")[0]
d = tempfile.mkdtemp(prefix="unwedge-front-")
os.chmod(d, 0o755)
children = []


def descendants(root):
    """Every process below ROOT, from /proc (php-fpm's master leads a process
    group of its own, and its workers outlive it: a group kill misses them)."""
    parent = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/stat" % e) as f:
                    parent[int(e)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def cleanup(*_):
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(d, ignore_errors=True)
    os._exit(0)


def die_with_me():
    """In each server's master: SIGKILL when this script dies, however it dies."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


signal.signal(signal.SIGTERM, cleanup)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, **kw):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=die_with_me, **kw)
    children.append(p)
    return p


def workers_ready(master, n):
    """N children of MASTER, each asleep in a syscall (accept): ready for work."""
    kids = [k for k in descendants(master)]
    if len(kids) < n:
        return False
    for k in kids:
        try:
            with open("/proc/%d/syscall" % k) as f:
                if f.read().startswith("running"):
                    return False
        except OSError:
            return False
    return True


def wait_for(pred, what, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    print("front_end.py: %s did not come up; see %s" % (what, d), file=sys.stderr)
    cleanup()


def connects(addr):
    fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    try:
        with socket.socket(fam) as s:
            s.settimeout(1)
            s.connect(addr)
        return True
    except OSError:
        return False


# --- the app servers -----------------------------------------------------

def php_fpm():
    sock = os.path.join(d, "fpm.sock")
    with open(os.path.join(d, "slow.php"), "w") as f:
        f.write("<?php %s echo \"ok\\n\";\n" % ("" if fast else "sleep(60);"))
    with open(os.path.join(d, "php-fpm.conf"), "w") as f:
        f.write(
            "[global]\npid = %s/fpm.pid\nerror_log = %s/fpm.log\ndaemonize = no\n"
            "[www]\nlisten = %s\nlisten.backlog = 4\nlisten.mode = 0666\n"
            "pm = static\npm.max_children = 2\n" % (d, d, sock)
        )
    p = start(["php-fpm8.2", "--nodaemonize", "-R", "--fpm-config", os.path.join(d, "php-fpm.conf")])
    wait_for(lambda: os.path.exists(sock) and workers_ready(p.pid, 2), "php-fpm")
    return p, sock, None, "include /etc/nginx/fastcgi_params; fastcgi_pass unix:%s; fastcgi_param SCRIPT_FILENAME %s/slow.php;" % (sock, d)


APP = '''
import threading, time
lock_a, lock_b = threading.Lock(), threading.Lock()
FAST = %r

def deadlock():
    """The handler takes A then B; a helper thread takes B then A: both
    wait forever in futex, holding the worker."""
    got_a = threading.Event()
    def helper():
        with lock_b:
            got_a.wait()
            with lock_a:
                pass
    threading.Thread(target=helper, daemon=True).start()
    with lock_a:
        got_a.set()
        time.sleep(0.2)
        with lock_b:
            pass

def app(environ, start_response):
    if not FAST:
        deadlock()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\\n"]
'''


def gunicorn(unix):
    with open(os.path.join(d, "app.py"), "w") as f:
        f.write(APP % fast)
    if unix:
        sock = os.path.join(d, "gunicorn.sock")
        bind, port, addr = "unix:" + sock, None, sock
    else:
        sock, port = None, free_port()
        bind, addr = "127.0.0.1:%d" % port, ("127.0.0.1", port)
    worker = ["--worker-class", "sync"] if unix else ["--worker-class", "gthread", "--threads", "2"]
    cmd = ["/usr/bin/gunicorn", "--chdir", d, "--bind", bind, "--workers", "2" if unix else "1", *worker,
           "--backlog", "8", "--timeout", "600", "--log-file", os.path.join(d, "gunicorn.log"), "app:app"]
    p = start(cmd)
    wait_for(lambda: workers_ready(p.pid, 2 if unix else 1) and connects(addr), "gunicorn")
    if unix:
        os.chmod(sock, 0o666)
        return p, sock, None, "proxy_pass http://unix:%s;" % sock
    return p, None, port, "proxy_pass http://127.0.0.1:%d;" % port


# --- nginx in front ----------------------------------------------------------

def nginx(location):
    port = free_port()
    conf = (
        "user root;\nworker_processes 1;\ndaemon off;\npid %(d)s/nginx.pid;\nerror_log %(d)s/error.log;\n"
        "events { worker_connections 256; }\n"
        "http {\n access_log off;\n client_body_temp_path %(d)s/t1; proxy_temp_path %(d)s/t2; "
        "fastcgi_temp_path %(d)s/t3; uwsgi_temp_path %(d)s/t4; scgi_temp_path %(d)s/t5;\n"
        " server { listen 127.0.0.1:%(port)d; location / { %(loc)s } }\n}\n"
    ) % {"d": d, "port": port, "loc": location}
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf)
    p = start(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e", "stderr"])
    wait_for(lambda: connects(("127.0.0.1", port)), "nginx")
    return p, port


if kind == "fpm":
    up, path, up_port, location = php_fpm()
else:
    up, path, up_port, location = gunicorn(unix=(kind == "gunicorn"))
front, port = nginx(location)

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n"


def clients():
    """A child process: the load on nginx."""
    pid = os.fork()
    if pid:
        return pid
    self_destruct(args.seconds)
    if not fast:
        held = []
        for _ in range(args.clients):
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                c.sendall(REQUEST)
                held.append(c)
            except OSError:
                pass
            time.sleep(0.05)  # one at a time: the first ones reach the workers
        park()

    def loop():
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    for _ in range(50):
                        c.sendall(REQUEST)
                        buf = b""
                        while not buf.endswith(b"ok\n"):
                            chunk = c.recv(4096)
                            if not chunk:
                                raise OSError("closed")
                            buf += chunk
            except OSError:
                time.sleep(0.05)

    for _ in range(args.load):
        threading.Thread(target=loop, daemon=True).start()
    park()


client = clients()
ready(port=port, dir=d, nginx=front.pid, upstream=up.pid, path=path, upstream_port=up_port, client=client)
try:
    park()
finally:
    cleanup()
