"""A FUSE filesystem that never answers a READ, and a process wedged in it.

Speaks /dev/fuse directly (no libfuse, no fusermount: run as root, inside
`unshare -m` so the mount dies with the test). The server answers what the
victim needs to open and mmap one file, then ignores every READ.

The victim reproduces the classic "ps hangs" state: thread A faults on the
FUSE page from inside futex(FUTEX_WAKE_OP) — fault_in_user_writeable() holds
the mmap lock (no retry) while the READ never returns; thread B's mmap()
queues for the lock as a writer; from then on every reader of the victim's
memory (/proc/PID/cmdline, environ) blocks too.
"""
import ctypes, ctypes.util, mmap, os, signal, struct, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from _scn import ready, self_destruct, park

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

LOOKUP, FORGET, GETATTR, OPEN, READ, RELEASE, FLUSH, INIT, INTERRUPT, BATCH_FORGET = 1, 2, 3, 14, 15, 18, 25, 26, 36, 42
ROOT, FILE_INO, SIZE = 1, 2, 1 << 20
ENOENT, ENOSYS = 2, 38


def attr(ino):
    mode = 0o40755 if ino == ROOT else 0o100666
    size = 0 if ino == ROOT else SIZE
    # ino size blocks atime mtime ctime atimens mtimens ctimens mode nlink uid gid rdev blksize flags
    return struct.pack("<QQQQQQIIIIIIIIII", ino, size, (size + 511) // 512, 0, 0, 0, 0, 0, 0, mode, 1, 0, 0, 0, 4096, 0)


def serve(fd, victim_pid):
    announced = False
    while True:
        try:
            req = os.read(fd, 1 << 21)
        except OSError:
            return
        ln, op, unique, node = struct.unpack_from("<IIQQ", req)
        if os.environ.get("FUSE_DEBUG"):
            print("op", op, "node", node, "len", ln, file=sys.stderr, flush=True)
        body = req[40:]
        out = None
        err = 0
        if op == INIT:
            major, minor, ra, flags = struct.unpack_from("<IIII", body)
            # major minor max_readahead flags max_background congestion max_write time_gran max_pages map_align flags2 unused[7]
            out = struct.pack("<IIIIHHIIHHI7I", 7, 31, ra, 0, 16, 12, 1 << 16, 1, 16, 0, 0, *([0] * 7))
        elif op == LOOKUP:
            if body.rstrip(b"\0") == b"f":
                out = struct.pack("<QQQQII", FILE_INO, 0, 3600, 3600, 0, 0) + attr(FILE_INO)
            else:
                err = -ENOENT
        elif op == GETATTR:
            out = struct.pack("<QII", 3600, 0, 0) + attr(node)
        elif op == OPEN:
            out = struct.pack("<QIi", 1, 0, 0)
        elif op in (RELEASE, FLUSH):
            out = b""
        elif op == READ:
            if not announced:
                announced = True
                # The victim wedges itself (it cannot print: its mmap lock is taken).
                threading.Timer(0.6, lambda: ready(pid=victim_pid, server=os.getpid())).start()
            continue  # never answered: the point
        elif op in (FORGET, BATCH_FORGET, INTERRUPT):
            continue  # no reply expected
        else:
            err = -ENOSYS
        payload = out if (out is not None and err == 0) else b""
        try:
            os.write(fd, struct.pack("<IiQ", 16 + len(payload), err, unique) + payload)
        except OSError:
            pass


def victim(mnt):
    fd = os.open(os.path.join(mnt, "f"), os.O_RDWR)
    os.chdir(mnt)  # its cwd is in the hung mount too
    m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    page = ctypes.addressof(ctypes.c_char.from_buffer(m))
    word = ctypes.c_uint32(0)
    FUTEX_WAKE_OP, FUTEX_PRIVATE_FLAG, SYS_futex = 5, 128, 202
    op_set_0 = 0  # FUTEX_OP(SET, 0, CMP_EQ, 0)

    go = threading.Event()

    def fault():  # holds the mmap lock while the READ hangs
        libc.syscall(SYS_futex, ctypes.byref(word), FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, 1, ctypes.c_void_p(page), op_set_0)

    def writer():  # queues for the mmap lock as a writer: later readers wait behind it
        go.wait()
        mmap.mmap(-1, 4096)

    # Both threads exist before the lock is taken: creating a thread needs it.
    threading.Thread(target=writer, daemon=True).start()
    threading.Thread(target=fault, daemon=True).start()
    time.sleep(0.3)
    go.set()
    park()


def main():
    mnt = sys.argv[1]
    self_destruct(120)
    # Nothing we mount may leak out of this test's mount namespace.
    libc.mount(b"none", b"/", None, 1 << 18 | 1 << 14, None)  # MS_PRIVATE | MS_REC
    fd = os.open("/dev/fuse", os.O_RDWR)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
    if libc.mount(b"unwedge-test", mnt.encode(), b"fuse.unwedge-test", 0, opts) != 0:
        print("MOUNT FAILED errno", ctypes.get_errno(), file=sys.stderr, flush=True)
        sys.exit(3)
    pid = os.fork()
    if pid == 0:
        os.close(fd)
        victim(mnt)
    threading.Thread(target=serve, args=(fd, pid), daemon=True).start()
    # The server stays in this process (the parent): when the test kills the
    # group, /dev/fuse closes, the kernel aborts the READ and the victim dies.
    park()


if __name__ == "__main__":
    main()
