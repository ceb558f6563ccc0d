//! The hung-/proc watchdog: while the pool's workers read, the calling
//! thread sleeps and every [`WATCH_TICK`] looks whether each busy worker made
//! progress (every fd and thread read counts). One that made none for
//! `Budget::per_process` is stuck in the kernel — a hung FUSE or NFS mount
//! holding a process's mmap lock blocks its cmdline read forever — so that
//! process is given up on as timed out, the worker is abandoned (never
//! joined) and a fresh one takes its place.

use super::pool::{spawn_worker, Results, Shared, Slot, Unread, IDLE};
use super::Budget;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

/// How often the watchdog looks at the workers.
const WATCH_TICK: Duration = Duration::from_millis(50);
/// Readers stuck in the kernel are abandoned, not joined; past this many
/// the rest of the walk is not attempted (each holds a thread).
const MAX_ABANDONED: usize = 16;

/// One worker as the watchdog sees it.
pub(super) struct Watched<R> {
    pub(super) slot: Arc<Slot<R>>,
    /// Its progress count when last looked at, and when that last moved.
    seen: u64,
    moved: Instant,
    /// Not abandoned: its results are still the walk's to collect.
    pub(super) ours: bool,
}

impl<R> Watched<R> {
    fn new(slot: Arc<Slot<R>>, now: Instant) -> Watched<R> {
        Watched { slot, seen: 0, moved: now, ours: true }
    }

    fn busy(&self) -> bool {
        self.ours && !self.slot.exited.load(Ordering::Acquire)
    }
}

/// How the watch ended.
pub(super) struct Outcome<R> {
    /// Every worker started, abandoned ones included.
    pub(super) workers: Vec<Watched<R>>,
    /// The results of abandoned workers, and their hung jobs as timed out.
    pub(super) taken: Results<R>,
    /// Why whatever is still unread was not: the deadline, or too many hung readers.
    pub(super) cut: Unread,
}

/// Watches `slots` until none is busy, the deadline passes, or too many hung.
pub(super) fn watch<J, R>(shared: &Arc<Shared<J, R>>, slots: Vec<Arc<Slot<R>>>, budget: Budget) -> Outcome<R>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
{
    let now = Instant::now();
    let workers = slots.into_iter().map(|s| Watched::new(s, now)).collect();
    let mut o = Outcome { workers, taken: Vec::new(), cut: Unread::Deadline };
    let mut abandoned = 0;
    loop {
        if !sleep_while_busy(shared, &o.workers, budget) {
            break;
        }
        let now = Instant::now();
        if budget.until.is_some_and(|u| now >= u) {
            break;
        }
        let hung = abandon_hung(&mut o, now, budget.per_process);
        abandoned += hung;
        if abandoned >= MAX_ABANDONED {
            o.cut = Unread::TimedOut;
            break;
        }
        for _ in 0..hung {
            if let Some(s) = spawn_worker(shared) {
                o.workers.push(Watched::new(s, Instant::now()));
            }
        }
        if !o.workers.iter().any(|w| w.ours) {
            // Every worker hung and none could be replaced.
            o.cut = Unread::TimedOut;
            break;
        }
    }
    o
}

/// Sleeps a tick, or until a worker finishes; `false` at once when no
/// worker is busy any more.
fn sleep_while_busy<J, R>(shared: &Shared<J, R>, workers: &[Watched<R>], budget: Budget) -> bool {
    let g = shared.wake.0.lock().unwrap_or_else(PoisonError::into_inner);
    if !workers.iter().any(Watched::busy) {
        return false;
    }
    let mut tick = WATCH_TICK.min(budget.per_process);
    if let Some(u) = budget.until {
        tick = tick.min(u.saturating_duration_since(Instant::now()));
    }
    let _ = shared.wake.1.wait_timeout(g, tick).unwrap_or_else(PoisonError::into_inner);
    true
}

/// Abandons every busy worker that made no progress for `per_process`;
/// returns how many.
fn abandon_hung<R>(o: &mut Outcome<R>, now: Instant, per_process: Duration) -> usize {
    let mut hung = 0;
    for w in o.workers.iter_mut().filter(|w| w.busy()) {
        let p = w.slot.progress.count();
        if p != w.seen {
            (w.seen, w.moved) = (p, now);
            continue;
        }
        if now.duration_since(w.moved) < per_process {
            continue;
        }
        let mut done = w.slot.done.lock().unwrap_or_else(PoisonError::into_inner);
        let cur = w.slot.current.load(Ordering::Acquire);
        if cur == IDLE {
            w.moved = now;
            continue;
        }
        // Stuck in the kernel on job `cur`: give up on it and on this worker.
        done.0 = false;
        o.taken.append(&mut done.1);
        o.taken.push((cur, Err(Unread::TimedOut)));
        w.ours = false;
        hung += 1;
    }
    hung
}
