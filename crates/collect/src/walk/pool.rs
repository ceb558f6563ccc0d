//! The worker pool both passes of the walk run on. Workers take jobs from a
//! shared counter and keep their results: nothing is handed over, and no
//! thread woken, per process. A reader that panics costs its job, not the
//! walk. The calling thread meanwhile is the [`watchdog`](super::watchdog):
//! a worker stuck in the kernel is abandoned (never joined) and replaced.

use super::{watchdog, Budget};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;
use unwedge_model::SkipReason;

/// At most this many workers, however many cores: /proc reads of one host
/// contend on the same kernel locks beyond a few.
const MAX_WORKERS: usize = 4;

/// A worker's heartbeat: bumped after each fd and thread it reads.
#[derive(Default)]
pub struct Progress(AtomicU64);

impl Progress {
    pub fn tick(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why the pool has no result for a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unread {
    /// Its reader made no progress within `Budget::per_process` (stuck in
    /// the kernel), or too many readers hung for the rest to be tried.
    TimedOut,
    /// The walk's deadline came first.
    Deadline,
    /// Its reader panicked.
    Panicked,
}

impl Unread {
    pub fn skip_reason(self) -> SkipReason {
        match self {
            Unread::TimedOut => SkipReason::TimedOut,
            Unread::Deadline => SkipReason::DeadlineReached,
            Unread::Panicked => SkipReason::Unreadable,
        }
    }
}

/// No job in flight.
pub(super) const IDLE: usize = usize::MAX;

/// Reads one job; returns what it found.
pub type ReadFn<J, R> = dyn Fn(&J, &Progress) -> R + Send + Sync;
/// Per job index: what was read, or why nothing was.
pub type Results<R> = Vec<(usize, Result<R, Unread>)>;

pub(super) struct Shared<J, R> {
    jobs: Vec<J>,
    next: AtomicUsize,
    stop: AtomicBool,
    read: Box<ReadFn<J, R>>,
    /// Workers that finish say so here; the watchdog sleeps on it.
    pub(super) wake: (Mutex<()>, Condvar),
}

pub(super) struct Slot<R> {
    pub(super) progress: Progress,
    /// Index of the job in flight, or IDLE. Written under `done`'s lock.
    pub(super) current: AtomicUsize,
    pub(super) exited: AtomicBool,
    /// (still taken, results). Once the worker is abandoned or the walk
    /// has collected, `false` makes it drop what it finishes and leave.
    pub(super) done: Mutex<(bool, Results<R>)>,
}

pub(super) fn spawn_worker<J: Send + Sync + 'static, R: Send + 'static>(
    shared: &Arc<Shared<J, R>>,
) -> Option<Arc<Slot<R>>> {
    let slot = Arc::new(Slot {
        progress: Progress(AtomicU64::new(0)),
        current: AtomicUsize::new(IDLE),
        exited: AtomicBool::new(false),
        // Room for every job (untouched pages cost nothing): a result holds
        // a whole process, and growing by doubling copied them all again.
        done: Mutex::new((true, Vec::with_capacity(shared.jobs.len()))),
    });
    let (sh, sl) = (shared.clone(), slot.clone());
    std::thread::Builder::new().name("proc-read".into()).stack_size(256 * 1024).spawn(move || work(&sh, &sl)).ok()?;
    Some(slot)
}

fn work<J, R>(shared: &Shared<J, R>, slot: &Slot<R>) {
    while !shared.stop.load(Ordering::Acquire) {
        let i = shared.next.fetch_add(1, Ordering::AcqRel);
        let Some(job) = shared.jobs.get(i) else { break };
        {
            let _g = slot.done.lock().unwrap_or_else(PoisonError::into_inner);
            slot.current.store(i, Ordering::Release);
        }
        slot.progress.tick();
        // A reader that panics on some process costs that process, not the walk.
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| (shared.read)(job, &slot.progress)))
            .map_err(|_| Unread::Panicked);
        let mut done = slot.done.lock().unwrap_or_else(PoisonError::into_inner);
        if !done.0 {
            return; // abandoned: the walk went on without us
        }
        done.1.push((i, r));
        slot.current.store(IDLE, Ordering::Release);
    }
    slot.exited.store(true, Ordering::Release);
    let _g = shared.wake.0.lock().unwrap_or_else(PoisonError::into_inner);
    shared.wake.1.notify_all();
}

/// Runs `read` over every job on up to `workers` threads, within `budget`.
/// Returns, per job index, what was read or why not.
pub fn run_pool<J, R>(jobs: Vec<J>, workers: usize, budget: Budget, read: Box<ReadFn<J, R>>) -> Results<R>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
{
    let n = jobs.len();
    let shared = Arc::new(Shared {
        jobs,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        read,
        wake: (Mutex::new(()), Condvar::new()),
    });
    if n == 0 {
        return Vec::new();
    }
    if budget.until.is_some_and(|u| Instant::now() >= u) {
        return (0..n).map(|i| (i, Err(Unread::Deadline))).collect();
    }
    let slots: Vec<Arc<Slot<R>>> = (0..workers.clamp(1, n)).filter_map(|_| spawn_worker(&shared)).collect();
    if slots.is_empty() {
        // No thread to spare: read here, unbounded, rather than not at all.
        let p = Progress(AtomicU64::new(0));
        return shared.jobs.iter().enumerate().map(|(i, j)| (i, Ok((shared.read)(j, &p)))).collect();
    }
    let watched = watchdog::watch(&shared, slots, budget);
    shared.stop.store(true, Ordering::Release);
    collect(watched, n)
}

/// Everything the workers read, with the hung jobs the watchdog already
/// took; jobs in flight when it stopped and those never started are `cut`.
fn collect<R>(w: watchdog::Outcome<R>, n: usize) -> Results<R> {
    let mut out = w.taken;
    out.reserve(n.saturating_sub(out.len()));
    let mut seen = vec![false; n];
    for (i, _) in &out {
        seen[*i] = true;
    }
    for worker in &w.workers {
        let mut done = worker.slot.done.lock().unwrap_or_else(PoisonError::into_inner);
        if !worker.ours {
            continue; // its results were taken when it was abandoned
        }
        done.0 = false;
        for (i, r) in done.1.drain(..) {
            seen[i] = true;
            out.push((i, r));
        }
    }
    out.extend(seen.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| (i, Err(w.cut))));
    out
}

/// Workers for one walk: one per core, up to [`MAX_WORKERS`].
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).min(MAX_WORKERS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn budget(per_process_ms: u64) -> Budget {
        Budget { per_process: Duration::from_millis(per_process_ms), ..Default::default() }
    }

    #[test]
    fn every_job_is_read_once() {
        let read: Box<ReadFn<u32, u32>> = Box::new(|&j, _| j * 2);
        let mut out = run_pool((0..100).collect(), 3, budget(1000), read);
        out.sort_by_key(|(i, _)| *i);
        assert_eq!(out.len(), 100);
        assert!(out.iter().all(|(i, r)| *r == Ok(*i as u32 * 2)));
    }

    #[test]
    fn a_hung_job_times_out_and_the_rest_are_read() {
        let read: Box<ReadFn<u32, u32>> = Box::new(|&j, _| {
            if j == 3 {
                std::thread::sleep(Duration::from_secs(3600));
            }
            j
        });
        let started = Instant::now();
        let mut out = run_pool((0..20).collect(), 2, budget(100), read);
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        out.sort_by_key(|(i, _)| *i);
        assert_eq!(out.len(), 20);
        assert_eq!(out[3].1, Err(Unread::TimedOut));
        assert!(out.iter().filter(|(i, _)| *i != 3).all(|(i, r)| *r == Ok(*i as u32)));
    }

    #[test]
    fn a_panicking_reader_costs_its_job_only() {
        // A generous budget: the panic hook may print a slow backtrace.
        let read: Box<ReadFn<u32, u32>> = Box::new(|&j, _| if j == 5 { panic!("a reader bug") } else { j });
        let mut out = run_pool((0..20).collect(), 2, budget(30_000), read);
        out.sort_by_key(|(i, _)| *i);
        assert_eq!(out.len(), 20);
        assert_eq!(out[5].1, Err(Unread::Panicked));
        assert!(out.iter().filter(|(i, _)| *i != 5).all(|(i, r)| *r == Ok(*i as u32)));
    }

    #[test]
    fn past_the_deadline_no_job_is_read() {
        let read: Box<ReadFn<u32, u32>> = Box::new(|&j, _| j);
        let b = Budget { until: Some(Instant::now()), ..Default::default() };
        let out = run_pool((0..5).collect(), 2, b, read);
        assert!(out.len() == 5 && out.iter().all(|(_, r)| *r == Err(Unread::Deadline)));
    }

    #[test]
    fn what_coverage_says_of_an_unread_job() {
        assert_eq!(Unread::TimedOut.skip_reason(), SkipReason::TimedOut);
        assert_eq!(Unread::Deadline.skip_reason(), SkipReason::DeadlineReached);
        assert_eq!(Unread::Panicked.skip_reason(), SkipReason::Unreadable);
    }
}
