//! Analysis of a 100k-socket snapshot pair, shaped like bench/socket_farm.py:
//! K processes, each with a listener and N/K established loopback
//! connections whose both ends it holds, plus a few threads each.
//! Target (issue 7): <= 20 ms for the pair.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use unwedge_analyze::{analyze, Thresholds};
use unwedge_model::*;

fn farm(conns: usize, procs: usize) -> Scan {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut sockets = Vec::with_capacity(conns * 2 + procs);
    let mut processes = Vec::with_capacity(procs);
    let mut inode = 1_000_000u64;
    for k in 0..procs {
        let port = 10_000 + k as u16;
        let mut p = Process {
            pid: 1000 + k as u32,
            ppid: 1,
            pgid: 1000 + k as u32,
            sid: 1000 + k as u32,
            comm: "farm".into(),
            state: 'S',
            nofile_soft: Some(1 << 20),
            ..Default::default()
        };
        let mut add = |p: &mut Process, s: Socket| {
            p.sockets.push(SocketFd { fd: p.sockets.len() as u32 + 3, inode: s.inode });
            sockets.push(s);
        };
        inode += 1;
        let listener = Socket {
            netns: 1,
            state: TcpState::Listen,
            local: lo,
            local_port: port,
            remote: lo,
            remote_port: 0,
            recv_q: 0,
            send_q: 4096,
            inode,
            uid: 0,
            info: None,
            drops: None,
        };
        add(&mut p, listener);
        let info = Some(TcpInfo {
            last_data_recv_ms: 5000,
            last_data_sent_ms: 5000,
            last_ack_recv_ms: 5000,
            ..Default::default()
        });
        for c in 0..conns / procs {
            let eph = 32_768 + (c % 28_000) as u16;
            for (lp, rp) in [(port, eph), (eph, port)] {
                inode += 1;
                let s = Socket {
                    netns: 1,
                    state: TcpState::Established,
                    local: lo,
                    local_port: lp,
                    remote: lo,
                    remote_port: rp,
                    recv_q: 0,
                    send_q: 0,
                    inode,
                    uid: 0,
                    info,
                    drops: None,
                };
                add(&mut p, s);
            }
        }
        p.fd_count = p.sockets.len() as u32 + 3;
        for t in 0..4 {
            p.threads.push(Thread {
                tid: p.pid + t,
                comm: "farm".into(),
                state: 'S',
                signals: Some(SignalMasks::default()),
                syscall: Some("7 0x1 0x2 0x3 0x0 0x0 0x0 0x0 0x0".into()),
                ..Default::default()
            });
        }
        processes.push(p);
    }
    let snap = Snapshot {
        taken_at_ms: 1_000_000,
        uptime_s: 5000.0,
        clk_tck: 100,
        hostname: "bench".into(),
        host_netns: 1,
        arch: "x86_64".into(),
        netns: vec![NetNs { inode: 1, ..Default::default() }],
        sockets,
        processes,
        ..Default::default()
    };
    let mut second = snap.clone();
    second.taken_at_ms += 1000;
    second.uptime_s += 1.0;
    Scan { snapshots: vec![snap, second] }
}

fn bench(c: &mut Criterion) {
    let scan = farm(50_000, 300);
    let t = Thresholds::default();
    assert!(scan.snapshots[0].sockets.len() >= 99_000);
    c.bench_function("analyze 100k-socket pair", |b| b.iter(|| black_box(analyze(black_box(&scan), &t))));
    // What a live scan analyses: its first snapshot trimmed to what is compared.
    let mut live = scan.clone();
    unwedge_analyze::keep_for_comparison(&mut live.snapshots[0]);
    c.bench_function("analyze 100k-socket pair, first trimmed", |b| {
        b.iter(|| black_box(analyze(black_box(&live), &t)))
    });
    c.bench_function("keep_for_comparison of a 100k-socket snapshot", |b| {
        b.iter_batched(
            || scan.snapshots[0].clone(),
            |mut s| {
                unwedge_analyze::keep_for_comparison(&mut s);
                s
            },
            criterion::BatchSize::LargeInput,
        )
    });
    let small = farm(500, 20);
    c.bench_function("analyze 1k-socket pair", |b| b.iter(|| black_box(analyze(black_box(&small), &t))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
