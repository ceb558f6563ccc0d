"""Issue 26's pool leak as a WSGI app (gunicorn, uWSGI): the pool's every
connection was checked out at import and never returned, so each request
waits in Pool.get for ever. The lines the tests expect in the frames are
marked with `# LINE:name`."""
import queue


class Pool:
    """A fixed set of connections, lent out and (should be) given back."""

    def __init__(self, size):
        self._free = queue.Queue()
        for i in range(size):
            self._free.put("conn-%d" % i)

    def get(self):
        return self._free.get()  # LINE:app-pool-get

    def put(self, conn):
        self._free.put(conn)


POOL = Pool(2)
LEAKED = [POOL.get(), POOL.get()]  # the bug: checked out, never put back


def application(environ, start_response):
    conn = POOL.get()  # LINE:app-handler
    try:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [conn.encode()]
    finally:
        POOL.put(conn)


app = application
