"""nginx proxying to an upstream whose SYNs a firewall drops (issue 22), and
its healthy twin, in a network namespace of its own (run as root).

    blackhole_proxy.py DIR drop    iptables drops every SYN to the upstream's
                                   port: nginx's connects sit in SYN-SENT,
                                   retransmitting, and its clients wait
    blackhole_proxy.py DIR delay   healthy: the upstream's SYN-ACKs are held
                                   300 ms (NFQUEUE helper), then every connect
                                   completes and every request is answered

DIR: a fresh directory for nginx's prefix (config, logs, pid). The upstream
(a thread of this script) answers every request at once. --clients N
connect to nginx, each sends one complete request and waits for the answer
(drop), or ask again as soon as they are answered (delay). Prints READY
{"pid": this script, "nginx": master pid, "worker": worker pid, "port":
nginx's port, "upstream": the upstream's port, "clients": pid}.
"""
import argparse, os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from _scn import ready, self_destruct, own_netns, park

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("mode", choices=["drop", "delay"])
ap.add_argument("--clients", type=int, default=4)
ap.add_argument("--seconds", type=int, default=120)
args = ap.parse_args()
self_destruct(args.seconds)
# nginx and the clients go with this script when a crashed test leaves it behind.
threading.Timer(args.seconds - 1, lambda: os.killpg(0, 9)).start()
own_netns()

PORT, UPSTREAM = 8080, 9090
here = os.path.dirname(os.path.abspath(__file__))
children = []


def upstream():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", UPSTREAM))
    s.listen(128)

    def serve(c):
        with c:
            buf = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


threading.Thread(target=upstream, daemon=True).start()

if args.mode == "drop":
    subprocess.run(["iptables", "-A", "INPUT", "-p", "tcp", "--syn", "--dport", str(UPSTREAM), "-j", "DROP"], check=True)
else:
    helper = subprocess.Popen(
        [sys.executable, "-u", os.path.join(here, "probe_nfqueue_delay.py"), "300", "0", str(args.seconds)],
        stdout=subprocess.PIPE,
    )
    children.append(helper)
    if not helper.stdout.readline().startswith(b"READY"):
        sys.exit("the NFQUEUE helper did not start")
    subprocess.run(
        ["iptables", "-A", "OUTPUT", "-p", "tcp", "--sport", str(UPSTREAM), "--tcp-flags", "SYN,ACK", "SYN,ACK",
         "-j", "NFQUEUE", "--queue-num", "0"],
        check=True,
    )

d = args.dir
conf = f"""worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3;
  uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;
  server {{
    listen 127.0.0.1:{PORT};
    location / {{ proxy_pass http://127.0.0.1:{UPSTREAM}; }}
  }}
}}
"""
with open(os.path.join(d, "nginx.conf"), "w") as f:
    f.write(conf)
nginx = subprocess.Popen(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e", "stderr"])
children.append(nginx)


def up():
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
        return True
    except OSError:
        return False


deadline = time.monotonic() + 10
while not up():
    if time.monotonic() > deadline or nginx.poll() is not None:
        sys.exit("nginx did not start")
    time.sleep(0.05)
worker = None
while worker is None and time.monotonic() < deadline:
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == str(nginx.pid):
                        worker = int(p)
            except OSError:
                pass
    time.sleep(0.05)

REQUEST = b"GET / HTTP/1.1\r\nHost: upstream\r\n\r\n"


def one_shot():
    """Sends one complete request and waits for its answer (forever)."""
    c = socket.create_connection(("127.0.0.1", PORT))
    c.sendall(REQUEST)
    while c.recv(4096):
        pass


def again_and_again():
    """New connections, one request each, answered within the SYN-ACK delay."""
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            c.sendall(REQUEST)
            c.recv(4096)
            c.close()
        except OSError:
            time.sleep(0.1)


pid = os.fork()
if pid == 0:
    for _ in range(args.clients):
        threading.Thread(target=one_shot if args.mode == "drop" else again_and_again, daemon=True).start()
        time.sleep(0.05)
    park()
children.append(pid)
ready(nginx=nginx.pid, worker=worker, port=PORT, upstream=UPSTREAM, clients=pid)
park()
