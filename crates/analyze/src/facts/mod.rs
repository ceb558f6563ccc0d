//! Facts every kind reads, computed from the snapshots alone: who holds
//! which socket and whether a connection is served or outbound (`index`),
//! what a thread's syscall is (`syscalls`, `threads`) and what a process's
//! threads wait on (`waits`, `pool`), what a language runtime shows of
//! itself (`runtime`: a JVM's own threads, counters and dump, Python
//! frames), accept queues, signals, cgroups, the process tree, and how
//! the CPU treated the processes work waits on (`cpu`). No fact
//! here knows about a finding kind.

pub mod cgroups;
pub mod container;
pub mod cpu;
pub mod index;
pub mod keep;
pub mod look;
pub mod pool;
pub mod process_tree;
pub mod queues;
pub mod requests;
pub mod runtime;
pub mod signals;
pub mod syscalls;
pub mod threads;
pub mod waits;
