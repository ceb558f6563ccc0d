"""Issue 26's Python service, reduced: HANDLERS handler threads wait on a
connection pool (a queue.Queue) whose every connection was checked out
and never returned, and one thread waits in sock.recv on an upstream that
accepted the connection but never answers. Nothing wakes on its own (no
timeouts, the main thread sleeps), so the tests can check that reading
the frames wakes nobody.

  python3 py_pool_leak.py [HANDLERS] [POOL_SIZE]

Prints READY {"handlers": [TID...], "reader": TID, "main": TID} once
every thread has started. The lines the tests expect in the frames are
marked with `# LINE:name` (Python 3.8-compatible on purpose)."""
import json
import queue
import socket
import sys
import threading
import time


class Pool:
    """A fixed set of connections, lent out and (should be) given back."""

    def __init__(self, size):
        self._free = queue.Queue()
        for i in range(size):
            self._free.put("conn-%d" % i)

    def get(self):
        return self._free.get()  # LINE:pool-get

    def put(self, conn):
        self._free.put(conn)


def leak_connections(pool, n):
    # The bug: an error path that returns early without pool.put().
    for _ in range(n):
        pool.get()


def handle_request(pool, started, tids):
    tids.append(threading.get_native_id())
    started.release()
    conn = pool.get()  # LINE:handler-get
    pool.put(conn)


def read_reply(sock):
    return sock.recv(4096)  # LINE:recv


def upstream_reader(sock, started, tids):
    tids.append(threading.get_native_id())
    started.release()
    read_reply(sock)  # LINE:reader-call


def main():
    handlers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    pool = Pool(size)
    leak_connections(pool, size)
    started = threading.Semaphore(0)
    tids = []
    threads = [threading.Thread(target=handle_request, args=(pool, started, tids), name="handler-%d" % i)
               for i in range(handlers)]
    # The upstream accepts (the kernel completes the handshake) and never answers.
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(1)
    client = socket.create_connection(upstream.getsockname())
    accepted, _ = upstream.accept()
    reader_tid = []
    reader = threading.Thread(target=upstream_reader, args=(client, started, reader_tid), name="reader")
    for t in threads + [reader]:
        t.start()
    for _ in range(handlers + 1):
        started.acquire()
    print("READY " + json.dumps({"handlers": tids, "reader": reader_tid[0], "main": threading.get_native_id()}),
          flush=True)
    time.sleep(3600)  # LINE:main-sleep
    accepted.close()


if __name__ == "__main__":
    main()
