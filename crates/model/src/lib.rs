//! Plain serde data shared by every part of unwedge: the snapshots that
//! collectors produce and detectors read, and the report they yield.
//! No I/O lives here, so that `collect -> model <- analyze` is enforced by
//! the crate graph.

mod cgroup;
pub mod chain;
mod container;
pub mod cpu;
pub mod duration;
pub mod evidence;
pub mod fmt;
pub mod jvm;
mod kind;
mod look;
mod mount;
pub mod redact;
mod report;
mod skipped;
mod snapshot;
pub mod stack;
pub mod story;
mod unix;

pub use cgroup::*;
pub use container::Container;
pub use cpu::{CpuProfile, HotStack, SchedStat};
pub use evidence::Evidence;
pub use kind::*;
pub use look::LookPlan;
pub use mount::*;
pub use report::*;
pub use skipped::*;
pub use snapshot::*;
pub use stack::{Frame, GoroutineGroup, UserStack};
pub use unix::*;
