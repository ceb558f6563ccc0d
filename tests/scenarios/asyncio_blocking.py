"""An asyncio service whose handler calls an upstream (issue 22), and its
healthy twin.

    asyncio_blocking.py sync    the handler calls a blocking HTTP client
                                (urllib) on an upstream that reads the
                                request and never answers: the event loop
                                sits in recvfrom, accepts and answers nothing
    asyncio_blocking.py async   healthy: the handler awaits an async client
                                (asyncio streams) on an upstream that answers
                                within 200 ms

The upstream is a child process (so the service itself is one thread with
its epoll set). --clients N connect to the service, one every 100 ms, and
send a request line; in `async` mode each asks again once answered. Prints
READY {"pid": service, "port": P, "upstream": port, "upstream_pid": pid,
"clients": pid}.
"""
import argparse, asyncio, os, socket, sys, threading, time, urllib.request
sys.path.insert(0, os.path.dirname(__file__))
from _scn import ready, park
from _proc_scn import watchdog

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["sync", "async"])
ap.add_argument("--clients", type=int, default=4)
ap.add_argument("--seconds", type=int, default=120)
args = ap.parse_args()
# A watchdog process, not a thread (the service stays one thread), forked
# before any socket exists so that it holds none.
watchdog(args.seconds)


def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


up = listener()
up_port = up.getsockname()[1]
up_pid = os.fork()
if up_pid == 0:
    # The upstream: reads each request; answers it after 200 ms (async
    # mode) or never (sync mode: it owes the answer).
    def serve(c):
        with c:
            while True:
                data = c.recv(4096)
                if not data:
                    return
                if args.mode == "async":
                    time.sleep(0.2)
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")

    while True:
        c, _ = up.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
up.close()

srv = listener()
port = srv.getsockname()[1]

cl_pid = os.fork()
if cl_pid == 0:
    srv.close()  # the clients must not hold the service's listener

    def client(i):
        time.sleep(0.5 + 0.1 * i)
        c = socket.create_connection(("127.0.0.1", port))
        while True:
            c.sendall(b"GET /item/%d\n" % i)
            if not c.recv(64) or args.mode == "sync":
                park()

    for i in range(args.clients):
        threading.Thread(target=client, args=(i,), daemon=True).start()
    park()



async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        url = "http://127.0.0.1:%d/" % up_port
        if args.mode == "sync":
            # A synchronous client on the event loop: nothing else runs until it returns.
            body = urllib.request.urlopen(url).read()
        else:
            r, w = await asyncio.open_connection("127.0.0.1", up_port)
            w.write(b"GET / HTTP/1.1\r\nHost: upstream\r\n\r\n")
            await w.drain()
            body = await r.read(4096)
            w.close()
        writer.write(b"ok %d\n" % len(body))
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(handle, sock=srv)
    ready(port=port, upstream=up_port, upstream_pid=up_pid, clients=cl_pid)
    async with server:
        await server.serve_forever()


asyncio.run(main())
