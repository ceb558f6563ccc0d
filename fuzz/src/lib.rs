//! The fuzz targets' bodies, one function per target. `fuzz_targets/*.rs`
//! (cargo fuzz, nightly) call them; `tests/fuzz_corpus.rs` (stable, CI) runs
//! them over the seed corpus and thousands of deterministic mutations.
//!
//! Only the library crates are fuzzed here (their pure parsers), never the
//! binary's sources: `tests/fuzz_corpus.rs` compiles this file as part of
//! the main package's tests, so it may only name crates that package depends on.

use unwedge_collect::parse;
use unwedge_model::{duration, fmt};
use unwedge_probe::{http_head, target, x509};

/// Every target: its name (= its corpus directory and fuzz_targets file) and body.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("proc_stat", proc_stat),
    ("proc_status", proc_status),
    ("proc_limits", proc_limits),
    ("proc_netstat", proc_netstat),
    ("proc_sysctl", proc_sysctl),
    ("proc_fd", proc_fd),
    ("proc_fdinfo", proc_fdinfo),
    ("proc_stack", proc_stack),
    ("proc_net_tcp", proc_net_tcp),
    ("syscall_line", syscall_line),
    ("tcp_info", tcp_info),
    ("sock_diag", sock_diag),
    ("unix_diag", unix_diag),
    ("proc_cgroup", proc_cgroup),
    ("cgroup_files", cgroup_files),
    ("conntrack_stat", conntrack_stat),
    ("container_state", container_state),
    ("container_path", container_path),
    ("probe_target", probe_target),
    ("http_head", http_head),
    ("x509", x509),
    ("duration", duration),
    ("elf_module", elf_module),
    ("gopclntab", gopclntab),
    ("go_buildinfo", go_buildinfo),
    ("go_dwarf", go_dwarf),
    ("proc_maps", proc_maps),
    ("jvm_hsperf", jvm_hsperf),
    ("jvm_thread_dump", jvm_thread_dump),
    ("jvm_proc_status", jvm_proc_status),
    ("python_lines", python_lines),
    ("python_walk", python_walk),
    ("python_binary", python_binary),
    ("perf_records", perf_records),
    ("perf_map", perf_map),
    ("cpu_facts", cpu_facts),
];

pub fn proc_stat(data: &[u8]) {
    if let Some(st) = parse::stat::parse(data) {
        // The comm is whatever sat between the first '(' and the last ')'
        // (lossily decoded: one char per byte at most).
        assert!(st.comm.chars().count() <= data.len());
    }
}

pub fn proc_status(data: &[u8]) {
    let _ = parse::status::parse(data);
}

pub fn proc_limits(data: &[u8]) {
    let _ = parse::limits::parse_nofile(data);
    let _ = parse::limits::parse_nproc(data);
}

/// /proc/PID/cgroup and the cgroup lines of /proc/self/mountinfo.
pub fn proc_cgroup(data: &[u8]) {
    for e in parse::cgroup::proc_cgroup(data) {
        assert!(e.path.starts_with('/'));
        let _ = unwedge_model::parent_path(&e.path);
    }
    let _ = parse::cgroup::mountinfo(data);
}

/// The controllers' small files: limits, "key value" counters, PSI.
pub fn cgroup_files(data: &[u8]) {
    let _ = parse::cgroup::max_or_value(data);
    let _ = parse::cgroup::v1_memory_limit(data);
    let _ = parse::cgroup::v1_quota(data);
    let _ = parse::cgroup::cpu_max(data);
    for key in ["nr_throttled", "max", "oom_kill", "total_rss", "frozen"] {
        let _ = parse::cgroup::key_value(data, key);
    }
    if let Some(p) = parse::cgroup::psi(data) {
        assert!(p.full_avg10.is_finite() && p.some_avg10.is_finite());
    }
}

pub fn conntrack_stat(data: &[u8]) {
    let _ = parse::conntrack::stat(data);
}

/// A container runtime's state file (JSON), as the collector reads it.
pub fn container_state(data: &[u8]) {
    let _ = parse::container_state::name("3f2a1bc4d5e6", "containerd", data);
    let _ = parse::container_state::storage_name("3f2a1bc4d5e6", data);
}

/// A cgroup path, as any process's /proc/PID/cgroup may hold it.
pub fn container_path(data: &[u8]) {
    let path = String::from_utf8_lossy(data);
    if let Some(c) = unwedge_model::Container::from_cgroup(&path) {
        assert_eq!(c.cgroup, path);
        let _ = c.label();
    }
}

pub fn proc_netstat(data: &[u8]) {
    let _ = parse::netstat::parse(data);
}

pub fn proc_sysctl(data: &[u8]) {
    if let Some((lo, hi)) = parse::sysctl::port_range(data) {
        let _ = (lo, hi);
    }
    let _ = parse::sysctl::single(data);
    let _ = parse::sysctl::ns_inode(data);
}

pub fn proc_fd(data: &[u8]) {
    let _ = parse::fd::classify(data);
}

pub fn proc_fdinfo(data: &[u8]) {
    let _ = parse::fdinfo::signalfd_mask(data);
}

pub fn proc_stack(data: &[u8]) {
    let _ = parse::stack::parse(data);
}

pub fn proc_net_tcp(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let _ = parse::proc_net_tcp::parse_line(line, 1);
    }
}

pub fn syscall_line(data: &[u8]) {
    let _ = unwedge_model::SyscallLine::parse(&String::from_utf8_lossy(data));
}

pub fn tcp_info(data: &[u8]) {
    let _ = parse::tcp_info::parse(data);
}

/// The exact decoding path of a netlink read during a dump.
pub fn sock_diag(data: &[u8]) {
    let mut out = Vec::new();
    let _ = unwedge_collect::sock_diag::decode_messages(data, 1, &mut out);
    assert!(out.len() <= data.len() / 16 + 1, "more sockets than messages");
}

/// The decoding path of a netlink read during an AF_UNIX dump.
pub fn unix_diag(data: &[u8]) {
    let mut out = unwedge_collect::unix_diag::Dump::default();
    let _ = unwedge_collect::unix_diag::decode_messages(data, 1, &mut out);
    assert!(out.seen as usize <= data.len() / 32 + 1, "more sockets than messages");
    assert!(out.sockets.len() <= out.seen as usize);
    for s in &out.sockets {
        assert!(s.pending.len() <= unwedge_model::UnixSocket::PENDING_KEPT);
        assert!(s.path.as_deref().is_none_or(|p| !p.is_empty()));
    }
}

pub fn probe_target(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if let Ok(hp) = target::parse_host_port(&s) {
        assert!(hp.port != 0);
        // What is printed parses back to the same target.
        let again = target::parse_host_port(&hp.to_string()).expect("a printed target parses");
        assert_eq!(again.to_string(), hp.to_string());
    }
    if let Ok(url) = target::parse_url(&s) {
        assert!(url.port != 0 && url.path.starts_with('/'));
        let _ = url.host_header();
    }
}

/// A hostile server's response: head, framing, keep-alive, chunked body.
pub fn http_head(data: &[u8]) {
    if let Ok(Some((head, len))) = http_head::parse_head(data) {
        assert!(len <= data.len());
        for head_request in [false, true] {
            if let Ok(framing) = http_head::framing(head_request, &head) {
                let _ = http_head::keeps_alive(&head, framing);
                if framing == http_head::Framing::Chunked {
                    let mut c = http_head::Chunked::default();
                    // Fed in two pieces, as reads arrive.
                    let rest = &data[len..];
                    let cut = rest.len() / 2;
                    if let Ok(n) = c.feed(&rest[..cut]) {
                        assert!(n <= cut);
                        if !c.done() {
                            let _ = c.feed(&rest[cut..]);
                        }
                    }
                }
            }
        }
    }
}

pub fn x509(data: &[u8]) {
    let _ = x509::parse(data);
}

pub fn duration(data: &[u8]) {
    if let Ok(d) = duration::parse(&String::from_utf8_lossy(data)) {
        // The printed form parses back (to the millisecond).
        let back = duration::parse(&fmt::duration(d)).expect("a printed duration parses");
        let diff = back.abs_diff(d);
        assert!(
            diff <= std::time::Duration::from_millis(1) || diff.as_secs_f64() <= d.as_secs_f64() * 1e-3,
            "{d:?} vs {back:?}"
        );
    }
}

/// What the stack reader takes from a mapped file: build-id, segments,
/// unwind tables, .gopclntab, and the load bias for any mapping.
pub fn elf_module(data: &[u8]) {
    if let Ok(m) = unwedge_stacks::elf::ModuleData::parse(data) {
        let _ = m.build_id_hex();
        for s in m.segments.clone() {
            let _ = m.bias(0x5555_0000_0000, s.offset & !0xfff);
        }
        if let Some(go) = &m.go {
            gopclntab_lookups(go, data);
        }
        assert!(m.size() >= 256);
    }
}

/// A Go function table on its own, looked up at the edges of its range and
/// at addresses taken from the input.
pub fn gopclntab(data: &[u8]) {
    if let Some(mut t) = unwedge_stacks::gopclntab::GoTable::parse(data, 0x40_1000) {
        gopclntab_lookups(&t, data);
        // The same bytes as go.func.*: inline trees read from arbitrary data.
        t.set_gofunc(0x50_0000, data.to_vec());
        gopclntab_lookups(&t, data);
    }
}

/// The runtime.g layout from DWARF (.debug_abbrev and .debug_info).
pub fn go_dwarf(data: &[u8]) {
    if let Some((abbrev, info)) = unwedge_stacks::godwarf::split_input(data) {
        if let Some(l) = unwedge_stacks::godwarf::g_layout(info, abbrev, 19) {
            assert!(l.status < 4096 && l.sched_pc < 4096, "{l:?}");
        }
    }
}

/// A Go binary's .go.buildinfo: the version string, and the g layout it selects.
pub fn go_buildinfo(data: &[u8]) {
    if let Some(v) = unwedge_stacks::goroutines::buildinfo_version(data) {
        assert!(v.starts_with("go") && v.len() < 64);
        let _ = unwedge_stacks::goroutines::layout(&v);
    }
    let _ = unwedge_stacks::goroutines::minor(&String::from_utf8_lossy(data));
    for (i, &b) in data.iter().take(4).enumerate() {
        let _ = unwedge_stacks::goroutines::wait_reason(i as u32 + 18, b);
    }
}

fn gopclntab_lookups(t: &unwedge_stacks::gopclntab::GoTable, data: &[u8]) {
    let mut pcs: Vec<u64> = data.chunks(8).take(64).map(|c| c.iter().fold(0u64, |a, &b| a << 8 | b as u64)).collect();
    if let Some((lo, hi)) = t.range() {
        pcs.extend([lo, lo.wrapping_add(1), hi.wrapping_sub(1), hi, lo.wrapping_add(hi.wrapping_sub(lo) / 2)]);
    }
    for pc in pcs {
        if let Some(f) = t.lookup(pc) {
            assert!(f.entry <= pc && f.name.len() <= 4096, "{f:?} for {pc:#x}");
        }
        let frames = t.frames(pc);
        assert!(frames.len() <= 65 && frames.last().is_none_or(|(_, inlined)| !inlined), "{frames:?}");
    }
}

/// /proc/PID/maps and /proc/PID/task/TID/syscall as the stack reader parses them.
pub fn proc_maps(data: &[u8]) {
    for m in unwedge_stacks::maps::parse(data) {
        assert!(m.start < m.end);
    }
    let _ = unwedge_stacks::maps::parse_syscall(data);
}

/// A JVM's hsperfdata region, as read from its file: prologue, entries,
/// and the counters unwedge takes from them.
pub fn jvm_hsperf(data: &[u8]) {
    use unwedge_stacks::jvm::hsperf;
    if let Ok(p) = hsperf::parse(data) {
        // Every entry is at least a 20-byte header and a NUL-ended name.
        assert!(p.entries.len() <= data.len() / 21, "{} entries in {} bytes", p.entries.len(), data.len());
        let c = hsperf::counters(&p);
        assert!(c.collectors.len() <= 16);
        let _ = (c.gc_invocations(), c.gc_time_us());
    }
}

/// A JVM's thread dump, as its attach socket sends it.
pub fn jvm_thread_dump(data: &[u8]) {
    use unwedge_stacks::jvm::dump;
    let d = dump::parse(&String::from_utf8_lossy(data));
    assert!(d.threads.len() <= dump::MAX_THREADS);
    for t in &d.threads {
        assert!(t.frames.len() <= dump::MAX_FRAMES);
        let _ = (t.waiting_for(), t.holds().count());
    }
    assert!(d.deadlocks.iter().all(|c| !c.cycle.is_empty()));
}

/// /proc/PID/status and /proc/PID/maps as the JVM readers take them: the
/// pid in the JVM's namespace, its credentials and signal masks, and its
/// hsperfdata mapping.
pub fn jvm_proc_status(data: &[u8]) {
    use unwedge_stacks::jvm;
    if let Some(st) = jvm::Status::parse(&String::from_utf8_lossy(data), 42) {
        for sig in [0, 1, 3, 64, 65, -1] {
            let _ = st.catches(sig);
        }
    }
    let maps = unwedge_stacks::maps::parse(data);
    for nspid in [1, 7, 42] {
        if let Some((path, m)) = jvm::find_hsperf_mapping(&maps, nspid) {
            assert!(path.ends_with(&format!("/{nspid}")) && m.inode != 0, "{path}");
        }
    }
}
/// A CPython code object's line tables (3.8 lnotab, 3.10 linetable, 3.11+
/// locations) and a str's header and characters, from arbitrary bytes:
/// the first 4 bytes are co_firstlineno, the next 4 the instruction's
/// byte offset, the rest the table. Also 3.13's _Py_DebugOffsets.
pub fn python_lines(data: &[u8]) {
    use unwedge_stacks::python::{decode, layout};
    let int = |at: usize| data.get(at..at + 4).map_or(1, |b| i32::from_le_bytes(b.try_into().unwrap()));
    let (first, addr) = (int(0), int(4) as i64);
    let table = data.get(8..).unwrap_or_default();
    for line in [
        decode::lnotab_line(table, first, addr),
        decode::linetable_line(table, first, addr),
        decode::locations_line(table, first, addr),
    ]
    .into_iter()
    .flatten()
    {
        assert!(line > 0);
    }
    for minor in 8..=13 {
        let l = layout::layout(minor).unwrap();
        if let Some(shape) = decode::str_shape(data, &l) {
            assert!(matches!(shape.kind, 1 | 2 | 4) && shape.bytes() <= decode::MAX_CHARS * 4, "{shape:?}");
        }
    }
    for kind in [1, 2, 4] {
        assert!(decode::str_chars(kind, data).chars().count() <= decode::MAX_CHARS);
    }
    if let Ok(l) = layout::from_debug_offsets(data) {
        assert_eq!(l.minor, 13);
    }
}

/// The walk through a CPython runtime in another process's memory, on an
/// image: the first byte picks the version (3.8 to 3.13); the sample
/// image of issue 26's pool leak for it has the rest of the input written
/// over it, three bytes an edit (a 16-bit offset, a byte). The raw input
/// is walked as memory too.
pub fn python_walk(data: &[u8]) {
    use unwedge_stacks::python::{layout, sample, walk};
    let Some((&pick, edits)) = data.split_first() else { return };
    let minor = 8 + (pick % 6) as u32;
    let (mut b, rt) = sample::pool_leak(minor);
    for e in edits.chunks_exact(3) {
        let at = u16::from_le_bytes([e[0], e[1]]) as usize % b.bytes.len();
        b.bytes[at] = e[2];
    }
    walk_image(&b.image(), &b.l, b.types, rt, b.bytes.len());
    let l = layout::layout(minor).unwrap();
    let raw = walk::Image { base: sample::BASE, bytes: data };
    walk_image(&raw, &l, walk::Types::default(), sample::BASE, data.len());
}

fn walk_image(
    m: &dyn unwedge_stacks::python::walk::Memory,
    l: &unwedge_stacks::python::layout::Layout,
    types: unwedge_stacks::python::walk::Types,
    rt: u64,
    len: usize,
) {
    use unwedge_stacks::python::walk;
    let all = unwedge_stacks::python::sample::BASE..unwedge_stacks::python::sample::BASE + len as u64;
    let _ = walk::find_runtime(m, l, &[all]);
    let Ok(listed) = walk::thread_states(m, l, rt) else { return };
    assert!(listed.threads.len() <= walk::MAX_TSTATES && !listed.threads.is_empty());
    let _ = walk::gil(m, l, rt, &listed.interps);
    let pthreads: Vec<u64> = listed.threads.iter().map(|t| t.thread_id).collect();
    let _ = walk::pthread_tids(m, &pthreads, &[1000, 1001, 4242]);
    let mut w = walk::Walker::new(m, *l, types);
    for t in listed.threads.iter().take(64) {
        if let Some(h) = walk::head(m, l, t.addr) {
            let s = w.stack(h);
            assert!(s.frames.len() <= walk::MAX_PY_FRAMES);
            for f in &s.frames {
                assert!(f.function.chars().count() <= 1024 && f.file.chars().count() <= 1024);
            }
        }
    }
}

/// What the reader takes from an interpreter's file: version, _PyRuntime,
/// the type objects; and the version strings of arbitrary .rodata.
pub fn python_binary(data: &[u8]) {
    use unwedge_stacks::python::binary;
    if let Ok(b) = binary::Binary::parse(data, "python3.11") {
        assert!(b.version.is_none_or(|v| v.major == 3 || v.major == 2), "{:?}", b.version);
    }
    let strings = binary::version_strings(data);
    for v in &strings {
        assert!(v.major == 3 && v.minor < 100);
    }
    let _ = binary::pick_version(binary::name_version("libpython3.9.so.1.0"), &strings);
    let _ = binary::pick_version(None, &strings);
    let _ = binary::name_version(&String::from_utf8_lossy(data));
}

/// A perf event ring's records, copied out as the sampler copies them: the
/// first byte picks how many user registers each sample carries.
pub fn perf_records(data: &[u8]) {
    use unwedge_stacks::sample::record::{records, Record};
    let Some((&n, rest)) = data.split_first() else { return };
    let nregs = usize::from(n % 8);
    let mut it = records(rest, nregs);
    let mut seen = 0;
    while let Some(r) = it.next() {
        if let Record::Sample(s) = r {
            assert!(s.stack.len() <= rest.len());
            assert!(s.regs.is_none_or(|r| r.len() == nregs * 8));
            for i in 0..=nregs {
                assert_eq!(s.reg(i).is_some(), s.regs.is_some() && i < nregs);
            }
        }
        seen += 1;
        assert!(it.remaining() <= rest.len() && seen <= rest.len() / 8 + 1);
    }
}

/// A JIT's /tmp/perf-PID.map, asked for addresses taken from the input.
pub fn perf_map(data: &[u8]) {
    let mut addrs: Vec<u64> =
        data.chunks(8).take(16).map(|c| c.iter().fold(0u64, |a, &b| a << 8 | u64::from(b))).collect();
    addrs.extend([0, u64::MAX, 0x7f0d_6c00_5110]);
    for (a, name) in unwedge_stacks::sample::perfmap::names(data, &addrs) {
        assert!(addrs.contains(&a) && !name.is_empty());
    }
}

/// The /proc files behind busy and starved: schedstat, stat's CPU ticks,
/// status's Cpus_allowed_list and NSpid, and CPU lists.
pub fn cpu_facts(data: &[u8]) {
    let _ = unwedge_model::SchedStat::parse(data);
    if let Some(st) = unwedge_collect::parse::stat::parse(data) {
        let _ = st.utime.checked_add(st.stime);
    }
    let _ = unwedge_stacks::cpu::parse_nspid(data);
    if let Some(list) = unwedge_collect::parse::status::cpus_allowed_list(data) {
        assert!(!unwedge_model::cpu::cpu_list(list).is_empty());
    }
    let cpus = unwedge_model::cpu::cpu_list(&String::from_utf8_lossy(data));
    assert!(cpus.len() <= 65536 && cpus.windows(2).all(|w| w[0] < w[1]));
}
