#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/<target>/) from this host's own /proc,
a netlink sock_diag dump, a TCP_INFO blob and a throwaway certificate, plus
hand-written hostile cases. Re-run to refresh; the seeds are committed."""
import os, socket, struct, subprocess, sys, tempfile, threading

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read(1 << 16)
    except OSError:
        return b""


pid = os.getpid()
put("proc_stat", "self", read(f"/proc/{pid}/stat"))
put("proc_stat", "hostile-comm", b"42 (a) b) (c) S 1 42 42 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1 0 100 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")
put("proc_stat", "kthread", read("/proc/2/stat"))
put("proc_status", "self", read(f"/proc/{pid}/status"))
put("proc_limits", "self", read(f"/proc/{pid}/limits"))
put("proc_limits", "unlimited", b"Limit                     Soft Limit           Hard Limit           Units     \nMax open files            unlimited            unlimited            files     \n")
put("proc_netstat", "host", read("/proc/net/netstat"))
put("proc_sysctl", "port_range", read("/proc/sys/net/ipv4/ip_local_port_range"))
put("proc_sysctl", "single", read("/proc/sys/net/ipv4/tcp_fin_timeout"))
put("proc_sysctl", "ns", os.readlink(f"/proc/{pid}/ns/net").encode())
for i, link in enumerate(["socket:[12345]", "anon_inode:[eventfd]", "anon_inode:[signalfd]", "/dev/null", "pipe:[99]", "socket:[", "anon_inode:"]):
    put("proc_fd", f"link{i}", link)
put("proc_fdinfo", "signalfd", b"pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\nsigmask:\t0000000000004000\n")
put("proc_stack", "sample", b"[<0>] do_sys_poll+0x3d4/0x5b0\n[<0>] __x64_sys_poll+0x41/0x130\n[<0>] do_syscall_64+0x82/0x190\n[<0>] entry_SYSCALL_64_after_hwframe+0x76/0x7e\n")
put("proc_net_tcp", "host", read("/proc/net/tcp")[:8192])
put("proc_net_tcp", "host6", read("/proc/net/tcp6")[:8192])
put("syscall_line", "poll", b"7 0x7ffd1 0x1 0xffffffff 0x0 0x0 0x0 0x7ffd 0x7f12\n")
put("syscall_line", "running", b"running\n")
put("syscall_line", "blocked", b"-1 0x7ffd 0x7f12\n")

# tcp_info of a live loopback connection.
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname())
put("tcp_info", "loopback", cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256))

# One recv() of a real sock_diag dump (inet_diag_req_v2, TCP, all states, INFO).
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
for fam in (socket.AF_INET, socket.AF_INET6):
    req = struct.pack("=BBBxI", fam, socket.IPPROTO_TCP, 1 << 1, 0xFFF) + b"\0" * 48
    nl.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, 0x301, 1, 0) + req)
    data = nl.recv(1 << 16)
    put("sock_diag", f"dump{fam}", data)
put("sock_diag", "done", struct.pack("=IHHIIi", 20, 3, 2, 1, 0, 0))
put("sock_diag", "error", struct.pack("=IHHIIi", 36, 2, 0, 1, 0, -13) + b"\0" * 16)

# One recv() of each of unwedge's AF_UNIX dumps (listeners and unconnected
# sockets; connected ones), the recorded ones with a full listener,
# abstract and seqpacket sockets (crates/collect/testdata), and the ends
# of a dump.
for name, states, show in [("unconnected", 0x480, 0x1b), ("connected", 0x6, 0x15)]:
    req = struct.pack("=BBHIII", socket.AF_UNIX, 0, 0, states, 0, show) + b"\xff" * 8
    nl.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, 0x301, 2, 0) + req)
    put("unix_diag", "dump-" + name, nl.recv(1 << 16))
    put("unix_diag", "recorded-" + name,
        read(os.path.join(os.path.dirname(ROOT), "../crates/collect/testdata/unix-diag-%s.bin" % name)))
put("unix_diag", "done", struct.pack("=IHHIIi", 20, 3, 2, 1, 0, 0))
put("unix_diag", "error", struct.pack("=IHHIIi", 36, 2, 0, 1, 0, -2) + b"\0" * 16)

for i, t in enumerate(["127.0.0.1:80", "[::1]:443", "example.com:8080", "[fe80::1%eth0]:22", "h:0", "h:99999", ":80", "[::1", "a:b:c"]):
    put("probe_target", f"t{i}", t)
for i, u in enumerate(["http://127.0.0.1:8080/a?b#c", "https://[::1]/", "HTTPS://Example.com:443", "http://u@h/", "http://h:/", "http://h?x", "ftp://h/"]):
    put("probe_target", f"u{i}", u)
for i, d in enumerate(["2", "0.2", "200ms", "2s", "1m", "1h", "5us", "1.5.2", "-1", "1e9", "99999999999h"]):
    put("duration", f"d{i}", d)

heads = [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n",
    b"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 301 \r\nLocation: /\r\nContent-Length: 18446744073709551616\r\n\r\n",
]
for i, h in enumerate(heads):
    put("http_head", f"h{i}", h)

with tempfile.TemporaryDirectory() as d:
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.der")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-outform", "DER", "-out", crt, "-days", "1", "-subj", "/CN=unwedge-fuzz",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    put("x509", "ec-san", read(crt))
def go_table(magic=0xfffffff0):
    """A two-function .gopclntab (as crates/stacks/src/gopclntab.rs's unit test builds it)."""
    d = bytearray(0x200)
    d[0:4] = struct.pack("<I", magic)
    d[6], d[7] = 1, 8
    for i, w in enumerate([2, 1, 0x1000, 0x50, 0x68, 0x70, 0x80, 0xa0]):
        d[8 + i * 8:16 + i * 8] = struct.pack("<Q", w)
    d[0x50:0x57] = b"main.a\0"
    d[0x57:0x66] = b"runtime.goexit\0"
    d[0x70:0x7a] = b"/src/a.go\0"
    d[0x81:0x86] = bytes([0x02, 0x04, 0x30, 0x7c, 0x00])
    d[0x88:0x8c] = bytes([0x10, 0x80, 0x02, 0x00])
    d[0x8c:0x90] = bytes([0x02, 0x80, 0x02, 0x00])
    d[0xa0:0xb8] = struct.pack("<6I", 0, 0x18, 0x100, 0x48, 0x200, 0)
    d[0xb8:0xdc] = struct.pack("<9I", 0, 0, 0, 0, 1, 12, 8, 0, 0)
    d[0xe8:0x10c] = struct.pack("<9I", 0x100, 7, 0, 0, 0, 0, 0, 0, 0)
    d[0xe8 + 37] = 1
    return bytes(d)


put("gopclntab", "go118", go_table())
put("gopclntab", "go120", go_table(0xfffffff1))
put("gopclntab", "go116", go_table(0xfffffffa))
put("proc_maps", "self", read(f"/proc/{pid}/maps"))
put("proc_maps", "hostile", b"0-1 rwxp 0 0:0 0\nffffffffffffffff-0 r-xp ffffffffffffffff zz:zz 99999999999999999999 /x (deleted)\n"
    b"7f00-7f01 r-xp 0 fd:01 12 /a b  c\n")
put("proc_maps", "syscall-line", b"45 0x5 0x7fcf80018150 0x10000 0x0 0x0 0x0 0x7fcf853fe8c0 0x7fcf85fcb974\n")
put("proc_maps", "stopped", b"-1 0x7ffc 0x4010\n")
with tempfile.TemporaryDirectory() as d:
    # A small real ELF (stripped), one with a .gopclntab section, and a cut one.
    c, elf, go = os.path.join(d, "t.c"), os.path.join(d, "t"), os.path.join(d, "g")
    open(c, "w").write("int main(void) { return 0; }\n")
    subprocess.run(["cc", "-Os", "-s", "-o", elf, c], check=True)
    tab = os.path.join(d, "tab")
    open(tab, "wb").write(go_table())
    subprocess.run(["objcopy", "--add-section", f".gopclntab={tab}", elf, go], check=True)
    put("elf_module", "c-stripped", read(elf))
    put("elf_module", "with-gopclntab", read(go))
    put("elf_module", "cut", read(elf)[:1500])

# The JVM readers: hsperfdata of OpenJDK 17 and Temurin 25 (little-endian),
# a cut one, and thread dumps with their deadlock verdicts (the fixtures
# of crates/stacks/src/jvm/testdata), plus a JVM's status and its map.
TESTDATA = os.path.join(os.path.dirname(ROOT), "..", "crates", "stacks", "src", "jvm", "testdata")
for v in ("17", "25"):
    put("jvm_hsperf", f"jdk{v}", read(os.path.join(TESTDATA, f"hsperf-jdk{v}.bin")))
    put("jvm_thread_dump", f"jdk{v}", read(os.path.join(TESTDATA, f"dump-jdk{v}.txt")))
put("jvm_hsperf", "cut", read(os.path.join(TESTDATA, "hsperf-jdk17.bin"))[:4096])
put("jvm_hsperf", "prologue-only", b"\xca\xfe\xc0\xc0\x01\x02\x00\x01" + struct.pack("<iiqii", 64, 0, 0, 32, 3))
put("jvm_thread_dump", "unknown-owner", b'"t" #1 prio=5 tid=0x1 nid=0x2 waiting for monitor entry\n\tat A.b(A.java:1)\n'
    b"\t- waiting to lock <0x9> (a X)\nFound one Java-level deadlock:\n=====\n\"t\":\n"
    b"  waiting to lock monitor 0x5 (object 0x9, a X),\n  which is held by UNKNOWN_owner_addr=0x77\n")
put("jvm_proc_status", "jvm", b"Name:\tjava\nState:\tS (sleeping)\nPid:\t4242\nNSpid:\t4242\t7\nUid:\t0\t1000\t1000\t1000\n"
    b"Gid:\t0\t1001\t1001\t1001\nSigIgn:\t0000000000000000\nSigCgt:\t2000000181005ccf\n")
put("jvm_proc_status", "maps", b"7f0000000000-7f0000008000 rw-s 00000000 00:20 123 /tmp/hsperfdata_app/7\n"
    b"7f0000010000-7f0000018000 rw-s 00000000 00:20 124 /tmp/hsperfdata_u/42 (deleted)\n")
# CPython frames (crates/stacks/src/python): line tables as python_lines
# takes them (first line, instruction offset, table), this interpreter's
# own and one of each format by hand; a str header; 3.13's debug offsets
# (as its _PyRuntime starts); the pool-leak images python_walk starts from
# (first byte: the version); a small shared object exporting what an
# interpreter exports, for python_binary.
def py_lines(first, addr, table):
    return struct.pack("<ii", first, addr) + bytes(table)


own = put.__code__
put("python_lines", "own-code", py_lines(own.co_firstlineno, 4,
    own.co_linetable if sys.version_info >= (3, 10) else own.co_lnotab))
put("python_lines", "lnotab-3.8", py_lines(1, 4, [0, 1, 4, 1, 4, 2]))
put("python_lines", "linetable-3.10", py_lines(10, 6, [2, 0x80, 4, 1, 0, 1, 4, 1]))
put("python_lines", "locations-3.11", py_lines(100, 8, [0x80 | 13 << 3, 0, 0x80 | 10 << 3 | 1, 5, 9,
    0x80 | 14 << 3 | 2, 14 | 64, 1, 0, 4, 8, 0x80 | 15 << 3, 0x80 | 13 << 3, 7]))
put("python_lines", "str-header", bytes(16) + struct.pack("<qqI", 5, -1, 1 << 2 | 32 | 64 | 128) + bytes(12) + b"queue")
words = [0] * 73
for i, v in [(1, 0x030d00f0), (3, 0x45000), (5, 632), (6, 0x3000), (8, 7264), (9, 7344), (14, 16), (15, 9000),
             (17, 9016), (18, 9008), (19, 0x200), (21, 8), (22, 16), (23, 72), (24, 152), (25, 160), (28, 80),
             (29, 8), (31, 56), (33, 70), (34, 208), (35, 112), (36, 120), (37, 128), (38, 136), (39, 68),
             (43, 200), (45, 8), (65, 16), (66, 32), (68, 32), (69, 16), (70, 40)]:
    words[i] = v
put("python_lines", "debug-offsets-3.13", b"xdebugpy" + struct.pack("<72Q", *words[1:]))
for minor in range(8, 14):
    put("python_walk", "3.%d" % minor, bytes([minor - 8]))
put("python_walk", "3.11-edits", bytes([3, 0x48, 0x01, 0xff, 0x10, 0x02, 0x00, 0x00, 0x03, 0x80]))
with tempfile.TemporaryDirectory() as d:
    c, so = os.path.join(d, "py.c"), os.path.join(d, "libpython3.11.so")
    open(c, "w").write("const unsigned Py_Version = 0x030b02f0; char _PyRuntime[64]; char PyCode_Type[16];\n"
                       "char PyUnicode_Type[16]; const char *v = \"3.11.2\";\n")
    subprocess.run(["cc", "-Os", "-s", "-shared", "-fPIC", "-o", so, c], check=True)
    put("python_binary", "exports", read(so))
    put("python_binary", "rodata-strings", b"\x00/build/Python-3.9.18\x003.10.13+\x003.x.1\x00")
# The CPU sampler: perf ring records (the first byte: registers per sample),
# a V8 perf map, and the /proc files behind busy and starved.
def perf_sample(pid, tid, regs, stack, reserved):
    body = struct.pack("<QIIQQ", regs[-1] if regs else 0, pid, tid, 123456789, 2 if regs else 0)
    body += b"".join(struct.pack("<Q", r) for r in regs)
    reserved = max(reserved, len(stack))
    body += struct.pack("<Q", reserved) + stack + bytes(reserved - len(stack))
    if reserved:
        body += struct.pack("<Q", len(stack))
    return struct.pack("<IHH", 9, 2, 8 + len(body)) + body
lost = struct.pack("<IHHQQ", 2, 0, 24, 7, 5)
stack = struct.pack("<4Q", 0x7ffc_0000_0040, 0x55_5555_1234, 0, 0x7f00_0000_1000)
put("perf_records", "three-regs", b"\x03" + perf_sample(10, 11, [0x7ffc_0000_0010, 0x7ffc_0000_0000, 0x55_5555_1000], stack, 64) + lost + perf_sample(10, 11, [], b"", 0))
put("perf_records", "truncated", b"\x03" + perf_sample(1, 1, [1, 2, 3], stack, 32)[:40])
put("perf_records", "throttle", b"\x04" + struct.pack("<IHHQQQ", 5, 0, 32, 1, 2, 3) + perf_sample(1, 2, [1, 2, 3, 4], stack, 0))
put("perf_map", "v8", b"3a8f0e7c0040 1c0 Builtin:ArgumentsAdaptorTrampoline\n7f0d6c005100 3c4 RegExp:(a+)+$\n7f0d6c0055c0 88 JS:~handler /srv/app/server.js:4:19\n7f0d6c005100 40 RegExp:(b+)+$\n")
put("perf_map", "jvm", b"0x7f0d6c005100 0x3c4 Interpreter\r\n0x7f0d6c0055c0 0x88 void java.lang.Thread.run()\n")
put("cpu_facts", "schedstat", read(f"/proc/{pid}/schedstat") or b"52888138 191950679 165\n")
put("cpu_facts", "stat", read(f"/proc/{pid}/stat"))
put("cpu_facts", "status", read(f"/proc/{pid}/status"))
put("cpu_facts", "lists", b"0-3,8,10-11\n")

print("seeds written to", ROOT)
