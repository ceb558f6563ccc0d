#!/usr/bin/env python3
"""Records the fixture pair of every scan kind live, as root:

    cargo build && sudo python3 crates/analyze/tools/record.py [KIND[/bad|/healthy] ...]
    ... record.py incident[/NAME]    the incidents with real servers (nginx, gunicorn, gdb), as crates/analyze/tests/fixtures/incident-NAME.json

For each pair it starts the scenario script(s) of tests/scenarios named in
RECIPES, waits for READY, runs `unwedge scan --save-snapshot RAW`, trims RAW
to the scenario with trim.py, and checks the trimmed file through
`unwedge scan --from-snapshot --json`: bad.json must raise the kind,
healthy.json neither the kind nor any warning or critical finding. A pair
that does not (a slow start, another test's SYN drops on the host during the
interval) is recorded again, up to 4 times.

The recorder first detaches itself (double fork, setsid), so the scenarios'
parent chain in the snapshot is scenario -> this script -> PID 1 and nothing
of the shell or session that started it.
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import record_misnamed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../.."))
KINDS = os.path.join(ROOT, "crates/analyze/src/kinds")
FIXTURES = os.path.join(ROOT, "crates/analyze/tests/fixtures")
SCENARIOS = os.path.join(ROOT, "tests/scenarios")
UNWEDGE = os.environ.get("UNWEDGE", os.path.join(ROOT, "target/debug/unwedge"))
TRIES = 4


def detach():
    """Double fork: the recorder carries on as a child of init, in its own
    session; the original process relays its exit code."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        os.waitpid(pid, 0)
        code = os.read(r, 1)
        sys.exit(code[0] if code else 1)
    os.close(r)
    if os.fork():
        os._exit(0)
    os.setsid()
    return w


class Scenario:
    """A scenario script in its own session; killed (whole group) on stop."""

    def __init__(self, script, *args):
        self.cmd = ["python3", "-u", script, *args]
        self.p = subprocess.Popen(self.cmd, cwd=SCENARIOS, stdout=subprocess.PIPE, start_new_session=True)
        self.ready = self._wait_ready()
        self.pid = self.p.pid

    def _wait_ready(self):
        deadline = time.monotonic() + 20
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                for line in buf.split(b"\n"):
                    if line.startswith(b"READY"):
                        text = line[5:].strip()
                        return json.loads(text) if text else {}
        raise SystemExit("%s: no READY within 20 s" % " ".join(self.cmd))

    def stop(self):
        # Its descendants first, by pid: a server that leads a process group
        # of its own (php-fpm's master) and workers that outlive their
        # master are not in the scenario's group.
        for pid in descendants(self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()
        # A scenario that writes its configs and sockets into a directory says which.
        if isinstance(self.ready, dict) and str(self.ready.get("dir", "")).startswith("/tmp/unwedge-"):
            shutil.rmtree(self.ready["dir"], ignore_errors=True)


def descendants(root):
    """Every process below ROOT, from /proc."""
    parent = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            pp = ppid_of(int(e))
            if pp is not None:
                parent[int(e)] = pp
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def wait_for(pred, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit("timed out waiting for the scenario")


def status_mask(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def churn_clients(port, n, stop):
    """N clients that each connect, send one PING, read the answer, close, and
    start over: a steady stream of new connections into the accept queue."""

    def run():
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                    c.sendall(b"PING\r\n")
                    c.recv(16)
            except OSError:
                time.sleep(0.05)

    for _ in range(n):
        threading.Thread(target=run, daemon=True).start()


# Each recipe starts its scenario(s) and returns (scenarios, roots, note,
# cleanup, trim_args). `roots` are the pids trim.py keeps (with their
# descendants and process groups); `note` goes into the printed record.


def simple(script, *args, wait=None, trim=()):
    def recipe():
        s = Scenario(script, *args)
        if wait:
            wait(s)
        return [s], [s.pid], " ".join(s.cmd), None, list(trim)

    return recipe


def orphans():
    s = Scenario("forking_server.py")
    child = s.ready["children"][0]
    s.p.kill()  # SIGKILL the master only; reaped here, so its group has no leader
    s.p.wait()
    wait_for(lambda: ppid_of(child) not in (None, s.pid))
    return [s], [s.pid], "python3 -u forking_server.py; then SIGKILL its master (pid %d) and reap it" % s.pid, None, []


def busy_loop_with_churn():
    s = Scenario("busy_event_loop.py")
    stop = threading.Event()
    churn_clients(s.ready["port"], 8, stop)
    time.sleep(2)  # the loop is busy and the queue refills before the scan
    return [s], [s.pid], "python3 -u busy_event_loop.py; 8 clients (in the recorder) connect, PING once, close, repeat", stop.set, ["--drop-time-wait"]


def blocked_child_pending(s):
    wait_for(lambda: status_mask(s.ready["child"], "ShdPnd") & (1 << 13))


def alarm_fired(s):
    def fired():
        try:
            with open("/proc/%d/comm" % s.ready["child"]) as f:
                return f.read().strip() == "alarm-fired"
        except OSError:
            return False

    wait_for(fired)


def stopped_server(*args):
    return simple("stopped_server.py", *args)


# ---- Incidents of issue 13 with real servers: recorded as
# crates/analyze/tests/fixtures/incident-<name>.json (tests/golden_human.rs renders each one).


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A real server started in its own session; the whole session is
    killed on stop (and continued first, should it be stopped)."""

    def __init__(self, cmd, ready):
        self.cmd = cmd
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.p.pid
        wait_for(ready, 15)

    def stop(self):
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
        self.p.wait()


def listening(port):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    return up


def children_of(pid):
    return [q for q in (int(d) for d in os.listdir("/proc") if d.isdigit()) if ppid_of(q) == pid]


def state_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def start_nginx(workers, main="", backlog=511):
    d = tempfile.mkdtemp(prefix="unwedge-nginx-")
    port = free_port()
    conf = (
        "worker_processes %d;\n%s\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
        "events { worker_connections 256; }\nhttp {\n access_log off;\n"
        " client_body_temp_path %s/t1; proxy_temp_path %s/t2; fastcgi_temp_path %s/t3; uwsgi_temp_path %s/t4; scgi_temp_path %s/t5;\n"
        " server { listen 127.0.0.1:%d backlog=%d; location / { return 200 \"ok\\n\"; } }\n}\n"
    ) % (workers, main, d, d, d, d, d, d, d, port, backlog)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf)
    n = Proc(["/usr/sbin/nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e", "stderr"], listening(port))
    wait_for(lambda: len(children_of(n.pid)) == workers)
    return n, port


def unfinished_requests(port, n):
    """N clients whose request never ends (no blank line)."""
    socks = []
    for _ in range(n):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(c)
    time.sleep(0.3)
    for c in socks:
        try:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            pass
    return socks


def nginx_fd_limit():
    n, port = start_nginx(1, "worker_rlimit_nofile 64;", backlog=32)
    socks = unfinished_requests(port, 90)
    time.sleep(1)
    note = "nginx, 1 worker, worker_rlimit_nofile 64, listen backlog=32; 90 clients (in the recorder) send a request that never ends"
    return [n], [n.pid], note, lambda: [c.close() for c in socks], []


def nginx_partial_requests():
    """nginx-fd-limit aged past the default --answer-timeout: the partial
    requests are told under fd_exhaustion, not as requests nginx "chose not
    to answer"."""
    n, port = start_nginx(1, "worker_rlimit_nofile 64;", backlog=32)
    socks = unfinished_requests(port, 90)
    time.sleep(11)
    note = "nginx, 1 worker, worker_rlimit_nofile 64, listen backlog=32; 90 clients (in the recorder) send a partial request, scanned 11 s later"
    return [n], [n.pid], note, lambda: [c.close() for c in socks], []


SLOW_APP = """import time
def app(environ, start_response):
    if environ.get('PATH_INFO') == '/slow':
        time.sleep(20)
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '3')])
    return [b'ok\\n']
"""


def gunicorn_slow_request():
    d = tempfile.mkdtemp(prefix="unwedge-gunicorn-")
    with open(os.path.join(d, "slow_app.py"), "w") as f:
        f.write(SLOW_APP)
    port = free_port()
    g = Proc(["/usr/bin/gunicorn", "--chdir", d, "--workers", "1", "--backlog", "4", "--bind", "127.0.0.1:%d" % port, "slow_app:app"], listening(port))
    wait_for(lambda: len(children_of(g.pid)) == 1)
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    socks = unfinished_requests(port, 10) + [slow]
    time.sleep(1)
    note = "gunicorn --workers 1 --backlog 4 (sync worker), one client on /slow (sleeps 20 s), then 10 clients (in the recorder)"
    return [g], [g.pid], note, lambda: [c.close() for c in socks], []


def nginx_ctrl_z():
    n, port = start_nginx(2)
    os.killpg(n.pid, signal.SIGSTOP)
    wait_for(lambda: all(state_of(p) == "T" for p in [n.pid] + children_of(n.pid)))
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    note = "nginx, 2 workers, its process group SIGSTOPped (what Ctrl-Z does); then 5 clients (in the recorder) connect"
    return [n], [n.pid], note, lambda: [c.close() for c in socks], []


def gdb_held():
    s = Scenario("stopped_server.py")
    server = s.ready["server"]
    gdb = Proc(["gdb", "-nx", "-q", "-batch", "-p", str(server), "-ex", "shell sleep 60"], lambda: state_of(server) == "t")
    socks = [socket.create_connection(("127.0.0.1", s.ready["port"])) for _ in range(3)]
    note = "python3 -u stopped_server.py; gdb -nx -q -batch -p SERVER -ex 'shell sleep 60' holds its server; 3 clients (in the recorder)"

    def cleanup():
        for c in socks:
            c.close()
        gdb.stop()

    return [s], [s.pid, gdb.pid], note, cleanup, []


def frozen_v1():
    s = Scenario("stopped_server.py")
    server = s.ready["server"]
    d = "/sys/fs/cgroup/freezer/unwedge-record"
    os.makedirs(d, exist_ok=True)
    with open(d + "/cgroup.procs", "w") as f:
        f.write(str(server))
    with open(d + "/freezer.state", "w") as f:
        f.write("FROZEN")
    socks = [socket.create_connection(("127.0.0.1", s.ready["port"])) for _ in range(3)]
    note = "python3 -u stopped_server.py; its server moved into freezer cgroup /unwedge-record, FROZEN; 3 clients (in the recorder)"

    def cleanup():
        for c in socks:
            c.close()
        with open(d + "/freezer.state", "w") as f:
            f.write("THAWED")
        s.stop()
        wait_for(lambda: not open(d + "/cgroup.procs").read().strip())
        os.rmdir(d)

    return [], [s.pid], note, cleanup, []


def main_thread_starved(pid, seconds=1.0):
    """PID's main thread waited for a CPU at least 60 % of SECONDS, and
    longer than it ran (its schedstat before and after)."""

    def read():
        with open("/proc/%d/task/%d/schedstat" % (pid, pid)) as f:
            run, wait, _ = (int(x) for x in f.read().split())
        return run, wait

    (r0, w0), _, (r1, w1) = read(), time.sleep(seconds), read()
    run, wait = (r1 - r0) / 1e9 / seconds, (w1 - w0) / 1e9 / seconds
    return wait >= 0.6 and wait > run


def redis_blpop_starved():
    """The healthy twin cpu_starved once blamed: Redis pinned to one CPU
    with a dozen CPU hogs, redis-benchmark served (slowly) from the other CPUs,
    while ten clients wait in BLPOP on empty lists, by design."""
    cpu = last_cpu()
    hogs = Scenario("cpu_bound.py", "--pin", str(cpu), "--hogs", "12")
    d = tempfile.mkdtemp(prefix="unwedge-redis-")
    port = free_port()
    redis = Proc(["taskset", "-c", str(cpu), "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                  "--save", "", "--appendonly", "no", "--daemonize", "no"], listening(port))
    # Each session is a scheduling group of its own (autogroup): Redis's
    # alone would get half its CPU against the hogs' twelve. Its group's
    # nice 10 leaves it about a tenth, as a service among many would get.
    if os.path.exists("/proc/%d/autogroup" % redis.pid):
        with open("/proc/%d/autogroup" % redis.pid, "w") as f:
            f.write("10")
    blocked = []
    for i in range(10):
        c = socket.create_connection(("127.0.0.1", port))
        key = b"q%d" % i
        c.sendall(b"*3\r\n$5\r\nBLPOP\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(key), key))
        blocked.append(c)
    others = sorted(os.sched_getaffinity(0) - {cpu})
    pin = ["taskset", "-c", ",".join(map(str, others))] if others else []
    bench = Proc(pin + ["redis-benchmark", "-p", str(port), "-c", "20", "-P", "8", "-n", "50000000", "-q",
                         "-t", "set,get,lpush,lpop"],
                 lambda: True)
    time.sleep(11)  # the BLPOP requests age past the default --answer-timeout
    deadline = time.monotonic() + 30
    while not main_thread_starved(redis.pid) and time.monotonic() < deadline:
        pass

    def cleanup():
        for c in blocked:
            c.close()
        shutil.rmtree(d, ignore_errors=True)

    note = ("taskset -c CPU redis-server (CPU: the host's last; its autogroup at nice 10) beside python3 -u cpu_bound.py --pin CPU --hogs 12; "
            "10 clients (in the recorder) in BLPOP on empty lists; redis-benchmark -c 20 -P 8 on the other CPUs (pipelined: Redis always has work); "
            "scanned 11 s later, once Redis's thread waited for its CPU most of a second")
    return [bench, redis, hogs], [redis.pid, bench.pid, hogs.pid], note, cleanup, ["--drop-time-wait"]


INCIDENTS = {
    # name: (recipe, kinds that must be raised, kinds that must not)
    "nginx-fd-limit": (nginx_fd_limit, ["fd_exhaustion", "accept_stalled"], ["keepalive_starvation"]),
    "gunicorn-slow-request": (gunicorn_slow_request, ["accept_stalled"], ["keepalive_starvation"]),
    "forking-proxy-pileup": (simple("forking_proxy.py", "--workers", "6"), ["stuck_thread"], []),
    "nginx-ctrl-z": (nginx_ctrl_z, ["process_stopped"], []),
    "gdb-held": (gdb_held, ["process_stopped"], []),
    "frozen-cgroup-v1": (frozen_v1, ["process_stopped"], []),
    # Issue 22: told wrongly before (crates/analyze/tools/record_misnamed.py).
    "asyncio-blocked-loop": (record_misnamed.asyncio_service("sync", Scenario), ["stuck_thread", "accept_stalled"], []),
    "asyncio-async-client": (
        record_misnamed.asyncio_service("async", Scenario),
        [],
        ["stuck_thread", "accept_stalled", "unanswered_requests"],
    ),
    "nginx-partial-requests": (nginx_partial_requests, ["fd_exhaustion"], ["unanswered_requests", "keepalive_starvation"]),
    # Issue 22's chains: nginx before an app server whose workers do not answer.
    "nginx-php-fpm-unix": (
        simple("front_end.py", "fpm", wait=lambda s: time.sleep(11)),
        ["accept_stalled", "accept_queue_overflow", "unanswered_requests"],
        ["keepalive_starvation"],
    ),
    "nginx-gunicorn-unix-deadlock": (
        simple("front_end.py", "gunicorn", wait=lambda s: time.sleep(11)),
        ["accept_stalled", "unanswered_requests"],
        ["keepalive_starvation"],
    ),
    "nginx-tcp-upstream-lock": (simple("front_end.py", "tcp", wait=lambda s: time.sleep(11)), ["unanswered_requests"], []),
    # Redis starved of its CPU while BLPOP clients wait by design: once cpu_starved's "requests it read went unanswered".
    "redis-blpop-starved": (redis_blpop_starved, [], ["cpu_starved", "busy_thread", "unanswered_requests"]),
}

def sleep(seconds):
    """Let requests age past the default --answer-timeout (10 s) before the scan."""
    return lambda s: time.sleep(seconds)
def cgroup_root(controller):
    """The mount point of the hierarchy carrying CONTROLLER: v1 where it is
    mounted so, else v2 ("" asks for the v2 root itself)."""
    v2 = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            point, post = pre.split()[4], post.split()
            if post[0] == "cgroup" and controller and controller in post[2].split(","):
                return point
            if post[0] == "cgroup2":
                v2 = point
    return v2


def make_cgroup(controller, settings):
    path = os.path.join(cgroup_root(controller), "unwedge-fixture-%d-%s" % (os.getpid(), controller or "v2"))
    os.mkdir(path)
    for name, value in settings.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(str(value))
    return path


def remove_cgroup(path):
    """Kills what still runs in it (only the recipe's own processes) and removes it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(os.path.join(path, "cgroup.procs")) as f:
            for pid in f.read().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.1)
    print("record.py: could not remove %s" % path, file=sys.stderr)


def read(path):
    with open(path) as f:
        return f.read()


def pids_server(limit, conns, wait_failures):
    def recipe():
        cg = make_cgroup("pids", {"pids.max": limit})
        s = Scenario("pids_server.py", "--cgroup", cg)
        clients = []
        for _ in range(conns):
            c = socket.create_connection(("127.0.0.1", s.ready["port"]))
            c.sendall(b"GET\n")
            clients.append(c)
        want = str(min(limit, conns + 2))  # the master's two tasks and one child per connection
        wait_for(lambda: read(os.path.join(cg, "pids.current")).strip() == want
                 and (not wait_failures or "max 0" not in read(os.path.join(cg, "pids.events"))))

        def cleanup():
            for c in clients:
                c.close()
            remove_cgroup(cg)

        note = "python3 -u pids_server.py --cgroup PIDS_CGROUP (pids.max %d), %d connections from the recorder" % (limit, conns)
        return [s], [s.pid], note, cleanup, []

    return recipe


def cpu_server(quota, clients, *args):
    def recipe():
        cg = make_cgroup("cpu", {"cpu.cfs_period_us": 100000, "cpu.cfs_quota_us": quota})
        s = Scenario("cpu_server.py", "--cgroup", cg, *args)
        stop = threading.Event()
        churn_clients(s.ready["port"], clients, stop)
        time.sleep(2)

        def cleanup():
            stop.set()
            remove_cgroup(cg)

        note = "python3 -u cpu_server.py --cgroup CPU_CGROUP %s (cfs_quota_us %d of 100000); %d clients in the recorder connect, PING once, close, repeat" % (" ".join(args), quota, clients)
        return [s], [s.pid], note, cleanup, ["--drop-time-wait"]

    return recipe


def memory_server(clients, *args):
    def recipe():
        cg = make_cgroup("memory", {"memory.limit_in_bytes": 128 << 20})
        v2 = make_cgroup("", {})  # a plain v2 cgroup: PSI on a hybrid host
        s = Scenario("memory_server.py", "--cgroup", cg, "--cgroup", v2, *args)
        stop = threading.Event()
        churn_clients(s.ready["port"], clients, stop)
        time.sleep(2)

        def cleanup():
            stop.set()
            remove_cgroup(cg)
            remove_cgroup(v2)

        note = "python3 -u memory_server.py --cgroup MEMORY_CGROUP (128 MiB) --cgroup V2_CGROUP %s; %d clients in the recorder connect, PING once, close, repeat" % (" ".join(args), clients)
        return [s], [s.pid], note, cleanup, ["--drop-time-wait"]

    return recipe


def favoured_cgroup():
    """A cpu cgroup with the largest weight: the host's other load (builds
    on a small shared machine) then cannot take the CPU from what runs in
    it, so the scenario, not the host, decides busy or starved."""
    v1 = cgroup_root("cpu") != cgroup_root("")
    return make_cgroup("cpu", {"cpu.shares": 262144} if v1 else {"cpu.weight": 10000})


def last_cpu():
    return max(os.sched_getaffinity(0))


def cpu_bound(*args, clients=0, settle=1.0):
    def recipe():
        cg = favoured_cgroup()
        s = Scenario("cpu_bound.py", "--cgroup", cg, *[str(a) for a in args])
        stop = threading.Event()
        if clients:
            churn_clients(s.ready["port"], clients, stop)
        time.sleep(settle)

        def cleanup():
            stop.set()
            remove_cgroup(cg)

        note = "python3 -u cpu_bound.py --cgroup CPU_CGROUP (cpu.shares 262144) %s%s" % (
            " ".join(str(a) for a in args),
            "; %d clients in the recorder connect, PING once, close, repeat" % clients if clients else "")
        return [s], [s.pid], note, cleanup, ["--drop-time-wait"]

    return recipe


RECIPES = {
    "close_wait_leak": {
        "bad": simple("leaky_listener.py", "--count", "20"),
        "healthy": simple("healthy_echo.py", "--seconds", "20", "--clients", "2", trim=["--drop-time-wait"]),
    },
    "accept_queue_overflow": {
        "bad": simple("never_accept.py", "--backlog", "4", "--connects", "10"),
        "healthy": simple("idle_listener.py"),
    },
    "accept_stalled": {
        "bad": simple("never_accept.py", "--backlog", "8", "--connects", "3"),
        "healthy": busy_loop_with_churn,
    },
    "keepalive_starvation": {
        "bad": simple("one_slot_keepalive.py"),
        "healthy": simple("healthy_keepalive.py"),
    },
    "fd_exhaustion": {
        "bad": simple("fd_hog.py", "--limit", "100", "--percent", "90"),
        "healthy": simple("fd_hog.py", "--limit", "100", "--percent", "50"),
    },
    "blocked_signal": {
        "bad": simple("signal_inherit.py", wait=blocked_child_pending),
        "healthy": simple("signal_inherit.py", "--unblocked", wait=alarm_fired),
    },
    "sigterm_blocked": {
        "bad": simple("sigterm_modes.py", "block"),
        "healthy": simple("sigterm_modes.py", "signalfd"),
    },
    "stuck_thread": {
        "bad": simple("stuck_proxy.py"),
        "healthy": simple("idle_pool.py"),
    },
    "orphan_port_holder": {
        "bad": orphans,
        "healthy": simple("forking_server.py"),
    },
    "zombie": {
        "bad": simple("zombies.py"),
        "healthy": simple("zombies.py", "--reap"),
    },
    "process_stopped": {
        "bad": stopped_server("--stop"),
        "healthy": stopped_server("--job"),
    },
    "unanswered_requests": {
        "bad": simple("handler_hang.py", "lock", "--clients", "3", "--every", "1", wait=sleep(11)),
        # No --drop-time-wait: the /now requests are answered and closed by the
        # server; its new TIME-WAIT sockets are the progress that keeps it silent.
        "healthy": simple("handler_hang.py", "longpoll", "--clients", "3", "--every", "2", wait=sleep(11)),
    },
    "peer_not_reading": {
        "bad": simple("slow_reader.py", "--clients", "3", "--mode", "stuck", wait=sleep(2)),
        "healthy": simple("slow_reader.py", "--clients", "3", "--mode", "fast", wait=sleep(1),
                          trim=["--drop-time-wait"]),
    },
    "ephemeral_ports_exhausted": {
        "bad": simple("ports_exhaust.py", "--range", "40000", "40063"),
        "healthy": simple("ports_exhaust.py", "--range", "40000", "40063", "--pool"),
    },
    "syn_queue_overflow": {
        "bad": simple("syn_flood.py", "--backlog", "8", "--syncookies", "0"),
        "healthy": simple("syn_flood.py", "--backlog", "8", "--healthy", trim=["--drop-time-wait"]),
    },
    "conntrack_full": {
        "bad": simple("conntrack_fill.py"),
        "healthy": simple("conntrack_fill.py", "--fill-pct", "50"),
    },
    "pid_limit": {
        "bad": pids_server(5, 8, True),
        "healthy": pids_server(12, 4, False),
    },
    "cpu_throttled": {
        "bad": cpu_server(5000, 8, "--burn-ms", "20"),
        "healthy": cpu_server(50000, 1, "--burn-ms", "1"),
    },
    "cross_process_deadlock": {
        "bad": simple("mutual_call.py", "deadlock", wait=sleep(2)),
        # A client asks A for / in a loop; every A -> B -> A/leaf chain completes.
        "healthy": simple("mutual_call.py", "healthy", wait=sleep(1), trim=["--drop-time-wait"]),
    },
    "busy_thread": {
        "bad": cpu_bound("--redos"),
        "healthy": cpu_bound("--burn-ms", 30, clients=4, settle=2),
    },
    "cpu_starved": {
        "bad": cpu_bound("--burn-ms", 2000, "--pin", last_cpu(), "--hogs", 6, clients=4, settle=2),
        "healthy": cpu_bound("--burn-ms", 5, "--pin", last_cpu(), "--hogs", 6, clients=2, settle=2),
    },
    "memory_pressure": {
        "bad": memory_server(6),
        "healthy": memory_server(1, "--anon-pct", "30", "--file-mb", "8"),
    },
    "connect_unanswered": {
        "bad": record_misnamed.blackhole("drop", Scenario),
        "healthy": record_misnamed.blackhole("delay", Scenario),
    },
    "mount_unresponsive": {
        "bad": record_misnamed.fuse_log("hang", Scenario),
        "healthy": record_misnamed.fuse_log("slow", Scenario),
    },
}


def redis_was_starved(path):
    """Its premise: between the two snapshots Redis's main thread waited for
    a CPU at least half the interval, and longer than it ran."""
    with open(path) as f:
        first, last = json.load(f)["snapshots"]
    seconds = last["uptime_s"] - first["uptime_s"]

    def sched(snap):
        p = next(p for p in snap["processes"] if p["comm"] == "redis-server")
        t = next(t for t in p["threads"] if t["tid"] == p["pid"])
        return t["schedstat"]["run_ns"], t["schedstat"]["wait_ns"]

    (r0, w0), (r1, w1) = sched(first), sched(last)
    run, wait = (r1 - r0) / 1e9 / seconds, (w1 - w0) / 1e9 / seconds
    ok = wait >= 0.5 and wait > run
    return None if ok else "Redis was not starved in the interval (ran %.0f%%, waited %.0f%%)" % (run * 100, wait * 100)


# Incidents worth keeping only when the recorded interval shows their premise.
PREMISES = {"redis-blpop-starved": redis_was_starved}


def check(kind, which, path):
    out = subprocess.run([UNWEDGE, "scan", "--from-snapshot", path, "--json"], capture_output=True)
    if out.returncode == 2:
        return "unwedge failed: " + out.stderr.decode()
    premise = PREMISES.get(which) if kind == "incident" else None
    if premise and premise(path):
        return premise(path)
    report = json.loads(out.stdout)
    got = [(f["kind"], f["severity"], f.get("pid")) for f in report["findings"]]
    if kind == "incident":
        _, must, must_not = INCIDENTS[which]
        kinds = {k for k, _, _ in got}
        missing = [k for k in must if k not in kinds]
        wrong = [k for k in must_not if k in kinds]
        return "missing %s, wrong %s in %s" % (missing, wrong, got) if missing or wrong else None
    if which == "bad":
        return None if any(k == kind for k, _, _ in got) else "no %s in %s" % (kind, got)
    bad = [g for g in got if g[0] == kind or g[1] in ("warning", "critical")]
    return "healthy twin raised %s" % bad if bad else None


def record(kind, which):
    if kind == "incident":
        dest = os.path.join(FIXTURES, "incident-%s.json" % which)
        recipe = INCIDENTS[which][0]
    else:
        dest = os.path.join(KINDS, kind, which + ".json")
        recipe = RECIPES[kind][which]
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    for attempt in range(1, TRIES + 1):
        scenarios, roots, note, cleanup, trim_args = recipe()
        try:
            with tempfile.NamedTemporaryFile(suffix=".json") as raw:
                # A loaded host (a big snapshot, a debug build) may take long: twice the default deadline.
                scan = [UNWEDGE, "scan", "--interval", "1s", "--deadline", "60s", "--save-snapshot", raw.name, "--json"]
                done = subprocess.run(scan, capture_output=True, check=False)
                if done.returncode not in (0, 1):
                    print("record.py: the scan failed: %s" % done.stderr.decode().strip(), file=sys.stderr)
                trim = [sys.executable, os.path.join(HERE, "trim.py"), raw.name, dest]
                for pid in roots:
                    trim += ["--pid", str(pid)]
                trim += trim_args
                subprocess.run(trim, check=True)
        finally:
            if cleanup:
                cleanup()
            for s in scenarios:
                s.stop()
        why = check(kind, which, dest)
        pids = " ".join(["--pid %d" % p for p in roots] + trim_args)
        print("%s/%s (try %d): %s\n    scan: unwedge scan --interval 1s --save-snapshot RAW\n    trim: trim.py RAW %s/%s.json %s\n    -> %s"
              % (kind, which, attempt, note, kind, which, pids, why or "ok"), flush=True)
        if why is None:
            return True
    return False


def main():
    if os.geteuid() != 0:
        raise SystemExit("record.py: run as root (the scan must see every process's fds and threads)")
    wanted = sys.argv[1:] or list(RECIPES) + ["incident"]
    jobs = []
    for w in wanted:
        kind, _, which = w.partition("/")
        if kind == "incident":
            jobs += [(kind, x) for x in ([which] if which else list(INCIDENTS))]
            continue
        if kind not in RECIPES:
            raise SystemExit("record.py: unknown kind %r (known: %s)" % (kind, ", ".join(RECIPES)))
        jobs += [(kind, x) for x in ([which] if which else ["bad", "healthy"])]
    w = detach()
    ok = all([record(kind, which) for kind, which in jobs])
    os.write(w, bytes([0 if ok else 1]))
    os._exit(0)


if __name__ == "__main__":
    main()
