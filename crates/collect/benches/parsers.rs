//! The hot /proc parsers, on text captured from the live incidents
//! (tests/fixtures/captures): they run once per process and per thread, so a
//! 2,000-process host with 20,000 threads parses each tens of thousands of times.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use unwedge_collect::parse;

const STAT: &[u8] = b"30002 (hping3) S 29984 29966 29966 0 -1 4194560 193 0 2 0 0 0 0 0 20 0 1 0 1538564 11952128 1410 18446744073709551615 94646856212480 94646856304381 140723663709696 0 0 0 2147221247 0 548866 1 0 0 17 1 0 0 0 0 0 94646856350000 94646856358960 94647264735232 140723663710751 140723663710787 140723663710787 140723663712231 0\n";

const STATUS: &[u8] = b"Name:\thping3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t30002\nNgid:\t0\nPid:\t30002\nPPid:\t29984\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t256\nGroups:\t \nNStgid:\t30002\nNSpid:\t30002\nNSpgid:\t29966\nNSsid:\t29966\nKthread:\t0\nVmPeak:\t   11672 kB\nVmSize:\t   11672 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\nVmHWM:\t    5824 kB\nVmRSS:\t    5824 kB\nRssAnon:\t     408 kB\nRssFile:\t    5416 kB\nRssShmem:\t       0 kB\nVmData:\t     380 kB\nVmStk:\t     132 kB\nVmExe:\t      92 kB\nVmLib:\t    6144 kB\nVmPTE:\t      64 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\nCoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\nThreads:\t1\nSigQ:\t9/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000002000\nSigBlk:\tfffffffe7ffbfeff\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000086002\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\nSpeculation_Store_Bypass:\tvulnerable\nSpeculationIndirectBranch:\talways enabled\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t11\nnonvoluntary_ctxt_switches:\t0\n";

const LIMITS: &[u8] = b"Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax file size             unlimited            unlimited            bytes     \nMax data size             unlimited            unlimited            bytes     \nMax stack size            8388608              unlimited            bytes     \nMax core file size        0                    unlimited            bytes     \nMax resident set          unlimited            unlimited            bytes     \nMax processes             96365                96365                processes \nMax open files            20000                20000                files     \n";

fn bench(c: &mut Criterion) {
    c.bench_function("parse /proc/PID/stat", |b| b.iter(|| black_box(parse::stat::parse(black_box(STAT)))));
    c.bench_function("parse /proc/PID/status", |b| b.iter(|| black_box(parse::status::parse(black_box(STATUS)))));
    c.bench_function("parse /proc/PID/limits", |b| {
        b.iter(|| black_box(parse::limits::parse_nofile(black_box(LIMITS))))
    });
    c.bench_function("classify fd link", |b| b.iter(|| black_box(parse::fd::classify(black_box(b"socket:[4108738]")))));
    let info = vec![0u8; 232];
    c.bench_function("parse tcp_info", |b| b.iter(|| black_box(parse::tcp_info::parse(black_box(&info)))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
