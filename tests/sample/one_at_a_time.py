"""A one-request-at-a-time server: accepts a connection, reads a request
line, burns WORK_MS of CPU on it, answers and closes, then takes the next.
The worker tests/sample_live.rs starves with CPU hogs on its CPU, and (at a
slow request rate) its twin: CPU-heavy, answering within any timeout."""
import json, socket, sys, time

work_ms = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print("READY " + json.dumps({"port": srv.getsockname()[1]}), flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        conn.settimeout(5)
        try:
            conn.recv(1024)
        except OSError:
            continue
        # CPU time, not wall time: under contention it takes longer.
        end = time.process_time() + work_ms / 1000
        x = 0
        while time.process_time() < end:
            x += 1
        try:
            conn.sendall(b"done %d\n" % x)
        except OSError:
            pass
