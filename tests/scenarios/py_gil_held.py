"""A thread that blocks in a C call without releasing the GIL (ctypes.PyDLL
keeps it: a C extension that forgot Py_BEGIN_ALLOW_THREADS), while WAITERS
threads, between two short sleeps, wait to take it back: the reader must
say which thread holds the GIL and where it is.

  python3 py_gil_held.py [WAITERS]

Prints READY {"holder": TID, "waiters": [TID...]} just before the holder
blocks (the test waits for it in read(2)). 3.8-compatible."""
import ctypes
import json
import os
import sys
import threading
import time

libc = ctypes.PyDLL(None)
r, w = os.pipe()


def read_holding_the_gil(started, tids):
    tids.append(threading.get_native_id())
    started.release()
    time.sleep(0.2)  # lets the main thread print READY first
    libc.read(r, ctypes.create_string_buffer(1), 1)  # LINE:gil-read


def waiter(started, tids):
    tids.append(threading.get_native_id())
    started.release()
    while True:
        time.sleep(0.01)  # LINE:waiter


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    started = threading.Semaphore(0)
    holder, waiters = [], []
    threads = [threading.Thread(target=waiter, args=(started, waiters)) for _ in range(n)]
    threads.append(threading.Thread(target=read_holding_the_gil, args=(started, holder), name="holder"))
    for t in threads:
        t.start()
    for _ in threads:
        started.acquire()
    print("READY " + json.dumps({"holder": holder[0], "waiters": waiters}), flush=True)
    time.sleep(3600)


main()
