//! What a report can say about a JVM from inside it: the counters HotSpot
//! publishes in its hsperfdata file (read without attaching), the thread
//! dump it gives over its attach socket when asked (`--stacks attach`:
//! Java frames, the monitors each thread holds and waits for, and the
//! JVM's own "Found one Java-level deadlock" verdict), and which of its
//! threads are the runtime's own housekeeping, not the service's work.
//! Pure data; the readers live in `unwedge-stacks` (`jvm::hsperf`,
//! `jvm::attach`).

use serde::{Deserialize, Serialize};

/// A JVM's hsperfdata counters at one moment (`/tmp/hsperfdata_<user>/<pid>`,
/// the file `jstat` and `jps` read). Every field is optional: which
/// counters exist depends on the JVM's version and collector (JDK 25 has
/// no `sun.rt._sync_*` counters).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct JvmCounters {
    /// "OpenJDK 64-Bit Server VM" (`java.property.java.vm.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_name: Option<String>,
    /// "17.0.15+6-Debian-1deb12u1" (`java.property.java.vm.version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_version: Option<String>,
    /// The Java feature version, 17 (`java.property.java.vm.specification.version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub java_feature: Option<u32>,
    /// The main class or jar and its arguments (`sun.rt.javaCommand`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The JVM's own options (`java.rt.vmArgs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_args: Option<String>,
    /// The attach mechanism is enabled (`sun.rt.jvmCapabilities`, first
    /// flag): false under `-XX:+DisableAttachMechanism`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachable: Option<bool>,
    /// When the JVM began to start, milliseconds since the epoch
    /// (`sun.rt.createVmBeginTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_start_ms: Option<u64>,
    /// When it was ready, milliseconds since the epoch
    /// (`sun.rt.createVmEndTime`); none while it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_ready_ms: Option<u64>,
    /// Java threads alive now (`java.threads.live`), of which daemons
    /// (`java.threads.daemon`); the JVM's native threads (GC, compiler,
    /// VM thread) are not Java threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_live: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_daemon: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_peak: Option<u64>,
    /// Java threads started since the JVM began (`java.threads.started`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_started: Option<u64>,
    /// Safepoints reached (`sun.rt.safepoints`), the time all threads
    /// stood still in them and the time spent bringing them there
    /// (`sun.rt.safepointTime`, `sun.rt.safepointSyncTime`), microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safepoints: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safepoint_time_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safepoint_sync_time_us: Option<u64>,
    /// Monitor entries that had to wait and then got the monitor
    /// (`sun.rt._sync_ContendedLockAttempts`: counted on acquiring, so a
    /// thread that never gets its monitor, as in a deadlock, adds nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contended_lock_attempts: Option<u64>,
    /// Wake-ups of a thread waiting for a monitor that found it still held
    /// (`sun.rt._sync_FutileWakeups`). On JDK 17 one waiter per contended
    /// monitor rechecks every second, so a monitor deadlock makes this
    /// grow by about one per second per monitor (measured; JDK 25 has
    /// neither this counter nor the recheck).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub futile_wakeups: Option<u64>,
    /// `sun.rt._sync_Parks`, `sun.rt._sync_Notifications`,
    /// `sun.rt._sync_Inflations`: monitor parks, notify() calls, monitors
    /// inflated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_parks: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_notifications: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_inflations: Option<u64>,
    /// Why the JVM collects now and why it last did (`sun.gc.cause`,
    /// `sun.gc.lastCause`: "No GC", "G1 Evacuation Pause", "Allocation Failure").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_last_cause: Option<String>,
    /// The collectors (`sun.gc.collector.N`), in their order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collectors: Vec<GcCollector>,
}

/// One collector's pauses (`sun.gc.collector.N.*`).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct GcCollector {
    /// "G1 young collection pauses", "G1 full collection pauses".
    pub name: String,
    pub invocations: u64,
    /// Time spent in them, microseconds.
    pub time_us: u64,
}

impl JvmCounters {
    /// Collections of every collector.
    pub fn gc_invocations(&self) -> u64 {
        self.collectors.iter().map(|c| c.invocations).sum()
    }

    /// Time spent in every collector, microseconds.
    pub fn gc_time_us(&self) -> u64 {
        self.collectors.iter().map(|c| c.time_us).sum()
    }
}

/// A JVM's thread dump, as it printed it over its attach socket (what
/// `jstack PID` shows), parsed.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct JavaThreadDump {
    /// "OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1 mixed mode, sharing)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<String>,
    /// Every thread the dump lists, Java and native, in its order.
    pub threads: Vec<JavaThread>,
    /// The JVM's own verdict: each cycle it found ("Found one Java-level
    /// deadlock"). Empty when it found none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlocks: Vec<JavaDeadlock>,
    /// What was left out or cut ("the dump was cut at 8 MiB").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl JavaThreadDump {
    /// The thread of that name, the first if several share it.
    pub fn thread(&self, name: &str) -> Option<&JavaThread> {
        self.threads.iter().find(|t| t.name == name)
    }

    /// The thread of that native (kernel) thread id.
    pub fn by_tid(&self, tid: u32) -> Option<&JavaThread> {
        self.threads.iter().find(|t| t.native_tid == Some(tid))
    }

    /// Whether a cycle of the verdict agrees with the threads' own
    /// stacks: every thread in it is in the dump and waits for the lock
    /// the verdict names, and for a monitor its holder's frames hold it.
    /// (The verdict is text after the threads, and thread names are the
    /// program's to choose: a report states a deadlock only when both agree.)
    pub fn confirms(&self, d: &JavaDeadlock) -> bool {
        !d.cycle.is_empty()
            && d.cycle.iter().all(|w| {
                let Some(t) = self.thread(&w.thread) else { return false };
                let waits = t.waiting_for().is_some_and(|l| w.object.is_some() && l.object == w.object);
                let held = match (w.lock, w.held_by.as_deref().and_then(|h| self.thread(h))) {
                    (DeadlockLock::Monitor, Some(h)) => h.holds().any(|l| l.object == w.object),
                    // Ownable synchronizers show under their holder only with jstack -l.
                    (DeadlockLock::OwnableSynchronizer, Some(_)) => true,
                    (_, None) => false,
                };
                waits && held
            })
    }
}

/// One thread of a dump.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct JavaThread {
    pub name: String,
    /// The Java thread number ("#12"); native JVM threads have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub daemon: bool,
    /// The kernel's thread id (`nid`), the TID under /proc/PID/task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_tid: Option<u32>,
    /// What the header says it does ("waiting for monitor entry", "runnable").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// `java.lang.Thread.State` ("BLOCKED (on object monitor)", "WAITING (parking)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<JavaFrame>,
}

impl JavaThread {
    /// The lock this thread waits to enter or is parked on, from its
    /// innermost frame that names one.
    pub fn waiting_for(&self) -> Option<&JavaLock> {
        self.frames.iter().flat_map(|f| &f.locks).find(|l| {
            matches!(
                l.action,
                LockAction::WaitingToLock
                    | LockAction::ParkingFor
                    | LockAction::WaitingToRelock
                    | LockAction::WaitingOn
            )
        })
    }

    /// The monitors this thread holds ("- locked"), innermost first.
    pub fn holds(&self) -> impl Iterator<Item = &JavaLock> {
        self.frames.iter().flat_map(|f| &f.locks).filter(|l| l.action == LockAction::Locked)
    }
}

/// One Java frame: `at pkg.Class.method(File.java:123)`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct JavaFrame {
    /// "pkg.Class.method".
    pub method: String,
    /// "File.java:123", "Native Method", "Unknown Source".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The module and its version, "java.base@17.0.15".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The lock lines under the frame, in their order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<JavaLock>,
}

/// A lock line under a frame: `- waiting to lock <0x…> (a java.lang.Object)`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct JavaLock {
    pub action: LockAction,
    /// The object's address, "0x000000069ec19520"; none when the JVM
    /// could not name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Its class, "java.lang.Object".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LockAction {
    /// `- locked`: the frame holds the monitor.
    #[default]
    Locked,
    /// `- waiting to lock`: blocked entering a monitor.
    WaitingToLock,
    /// `- waiting on`: in Object.wait() on it.
    WaitingOn,
    /// `- waiting to re-lock in wait()`: woken from wait(), blocked re-entering.
    WaitingToRelock,
    /// `- parking to wait for`: parked on a java.util.concurrent lock or condition.
    ParkingFor,
    /// `- eliminated`: a lock the compiler removed.
    Eliminated,
}

/// One deadlock cycle the JVM found: each thread, what it waits for, and
/// who holds that.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct JavaDeadlock {
    pub cycle: Vec<DeadlockWait>,
}

/// One edge of a cycle: `thread` waits for a lock held by `held_by`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct DeadlockWait {
    pub thread: String,
    /// A monitor (`synchronized`) or an ownable synchronizer (a
    /// java.util.concurrent lock such as ReentrantLock).
    pub lock: DeadlockLock,
    /// The JVM's monitor address ("monitor 0x00007f0b70066c10"), for monitors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<String>,
    /// The locked object's address, as the thread's frames show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Its class, "java.lang.Object".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The holder's name; none when the JVM could not name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DeadlockLock {
    #[default]
    Monitor,
    OwnableSynchronizer,
}

/// What a scan read of one JVM process (`Process::jvm` of a snapshot):
/// its hsperfdata counters, read without asking the JVM anything, in
/// both snapshots; and, with `--stacks attach` only, its own thread dump,
/// after the last snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct JvmProcess {
    /// The hsperfdata file as the JVM sees it ("/tmp/hsperfdata_app/7")
    /// and its inode: the second read opens it again without the memory map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsperf_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsperf_inode: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<JvmCounters>,
    /// Why the counters or the dump are missing ("the JVM runs with
    /// -XX:+DisableAttachMechanism: it cannot be asked for its threads").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The JVM's thread dump over its attach socket (`--stacks attach`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump: Option<JavaThreadDump>,
    /// How long the dump took, milliseconds: the JVM's safepoint and the exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_ms: Option<u64>,
}

/// What a finding says of the JVM it is about: its own housekeeping
/// threads left out of the thread counts, its counters over the interval
/// (hsperfdata, read without asking it anything), and, with `--stacks
/// attach`, the JVM's own deadlock verdict where the threads' stacks agree.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct JvmEvidence {
    /// "OpenJDK 64-Bit Server VM 17.0.15+6-Debian-1deb12u1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<String>,
    /// The JVM's own threads (garbage collection, JIT compilers, the VM
    /// thread and its periodic task, reference handling, the launcher's
    /// thread), left out of the thread counts and samples: they wake on
    /// their own timers whatever the service does.
    pub housekeeping_threads: usize,
    /// Java threads alive (`java.threads.live`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_threads: Option<u64>,
    /// The counters' growth between the two snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<JvmInterval>,
    /// Threads (by name) whose native stack shows them blocked entering a
    /// Java monitor (`synchronized`: ObjectMonitor::enter,
    /// InterpreterRuntime::monitorenter), among those whose stack was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitor_enter: Vec<String>,
    /// The JVM's own verdict ("Found one Java-level deadlock"), each cycle
    /// confirmed by the stacks of its threads (`--stacks attach`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlocks: Vec<JavaDeadlock>,
    /// The JVM was asked for its thread dump (`--stacks attach`) and gave it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dumped: bool,
    /// Why the counters or the dump are missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// hsperfdata counters' growth over the interval between two snapshots
/// (a counter the JVM does not publish is absent).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct JvmInterval {
    /// Between the two reads, milliseconds.
    pub ms: u64,
    /// Wake-ups of threads waiting for a monitor that found it still held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub futile_wakeups: Option<u64>,
    /// Monitor entries that waited and then got the monitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contended_lock_attempts: Option<u64>,
    /// Monitor parks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_parks: Option<u64>,
    /// Safepoints reached, and the time threads stood still in them, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safepoints: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safepoint_time_us: Option<u64>,
    /// Collections, and the time spent in them, microseconds.
    pub gc_invocations: u64,
    pub gc_time_us: u64,
    /// Java threads started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_started: Option<u64>,
}

impl JvmInterval {
    /// The growth from `a` to `b`, read `ms` apart (a counter that went
    /// backwards, or is missing in either, is absent).
    pub fn between(a: &JvmCounters, b: &JvmCounters, ms: u64) -> JvmInterval {
        let d = |x: Option<u64>, y: Option<u64>| match (x, y) {
            (Some(x), Some(y)) if y >= x => Some(y - x),
            _ => None,
        };
        JvmInterval {
            ms,
            futile_wakeups: d(a.futile_wakeups, b.futile_wakeups),
            contended_lock_attempts: d(a.contended_lock_attempts, b.contended_lock_attempts),
            monitor_parks: d(a.monitor_parks, b.monitor_parks),
            safepoints: d(a.safepoints, b.safepoints),
            safepoint_time_us: d(a.safepoint_time_us, b.safepoint_time_us),
            gc_invocations: b.gc_invocations().saturating_sub(a.gc_invocations()),
            gc_time_us: b.gc_time_us().saturating_sub(a.gc_time_us()),
            threads_started: d(a.threads_started, b.threads_started),
        }
    }
}

impl DeadlockWait {
    /// "handler-1 waits to lock <0x…> (a java.lang.Object), held by index-refresher".
    pub fn describe(&self) -> String {
        let what = match (self.lock, &self.object, &self.class) {
            (DeadlockLock::Monitor, Some(o), Some(c)) => format!("the monitor of <{o}> (a {c})"),
            (DeadlockLock::Monitor, Some(o), None) => format!("the monitor of <{o}>"),
            (DeadlockLock::Monitor, None, _) => match &self.monitor {
                Some(m) => format!("monitor {m}"),
                None => "a monitor".to_string(),
            },
            (DeadlockLock::OwnableSynchronizer, Some(o), Some(c)) => format!("<{o}> (a {c})"),
            (DeadlockLock::OwnableSynchronizer, Some(o), None) => format!("<{o}>"),
            (DeadlockLock::OwnableSynchronizer, None, _) => "a lock".to_string(),
        };
        let by = self.held_by.as_deref().unwrap_or("a thread the JVM did not name");
        format!("{} waits for {what}, held by {by}", self.thread)
    }
}

impl JavaFrame {
    /// "JvmScenario.lookup (JvmScenario.java:99)", as a stack trace names it.
    pub fn display(&self) -> String {
        match &self.source {
            Some(s) => format!("{} ({s})", self.method),
            None => self.method.clone(),
        }
    }
}

/// HotSpot's own threads, as /proc/PID/task/TID/comm shows them (the
/// kernel keeps 15 bytes of a name: "C2 CompilerThread0" reads "C2
/// CompilerThre"). Exact names; the JVM numbers its worker gangs, see
/// [`NUMBERED`].
const HOUSEKEEPING: &[&str] = &[
    "VM Thread",
    "VM Periodic Tas",
    "Reference Handl",
    "Finalizer",
    "Signal Dispatch",
    "Service Thread",
    "Monitor Deflati",
    "Sweeper thread",
    "Common-Cleaner",
    "Notification Th",
    "Attach Listener",
    "G1 Main Marker",
    "G1 Service",
    "G1 Young RemSet",
    "G1 Periodic GC",
    "VM JFR Buffer T",
    "JFR Recorder Th",
    "JFR Periodic Ta",
    "Surrogate Locke",
    "CMS Main Thread",
    "StringDedupThre",
    "StrDedup",
    "ZDirector",
    "ZDriver",
    "ZDriverMajor",
    "ZDriverMinor",
    "ZStat",
    "ZUnmapper",
    "ZUncommitter",
    "Shenandoah Cont",
    "Shenandoah Regu",
    "Shenandoah Unco",
    "process reaper",
];

/// Numbered gangs: the prefix, then the worker's number ("GC Thread#3",
/// "C2 CompilerThread1", which /proc cuts to "C2 CompilerThre").
const NUMBERED: &[&str] = &[
    "GC Thread#",
    "G1 Conc#",
    "G1 Refine#",
    "ParGC Thread#",
    "ZWorker#",
    "ZWorkerYoung#",
    "ZWorkerOld#",
    "C1 CompilerThread",
    "C2 CompilerThread",
    "JVMCI CompilerThread",
    "JVMCI-native CompilerThread",
];

/// Whether a process is a HotSpot JVM: its hsperfdata was read, or it has
/// the threads every HotSpot JVM starts ("VM Thread", "VM Periodic Task").
pub fn is_jvm(p: &crate::Process) -> bool {
    p.jvm.is_some() || p.threads.iter().any(|t| t.comm == "VM Thread" || t.comm == "VM Periodic Tas")
}

/// Whether thread `t` of the JVM `p` is the runtime's own: a housekeeping
/// thread ([`is_jvm_housekeeping`]), or the launcher's first thread, which
/// waits for the one running `main` for the JVM's whole life (both carry
/// the launcher's name).
pub fn is_runtime_thread(p: &crate::Process, t: &crate::Thread) -> bool {
    is_jvm_housekeeping(&t.comm) || (t.tid == p.pid && p.threads.iter().any(|o| o.tid != t.tid && o.comm == t.comm))
}

/// Whether a thread of a JVM is the runtime's own housekeeping (garbage
/// collection, the JIT compilers, the VM thread and its periodic task,
/// reference processing, signal dispatch, the attach listener): these
/// wake on their own timers whatever the service does, so their waking
/// says nothing about whether the service's threads made progress.
/// `name` is the thread's comm (15 bytes at most) or its full name from a
/// thread dump. The launcher's threads are both named "java": one of them
/// runs `main`, so they are not counted here.
pub fn is_jvm_housekeeping(name: &str) -> bool {
    if HOUSEKEEPING.contains(&name) {
        return true;
    }
    // A full name from a thread dump whose 15-byte comm is listed.
    if name.len() > 15 && name.is_char_boundary(15) && HOUSEKEEPING.contains(&&name[..15]) {
        return true;
    }
    NUMBERED.iter().any(|prefix| {
        let numbered =
            name.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        // /proc cuts a long prefix before the number: "C2 CompilerThre".
        numbered || (prefix.len() >= 15 && name.len() == 15 && prefix.starts_with(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn housekeeping_from_comm() {
        // Read from /proc of OpenJDK 17 and Temurin 25 (G1).
        for comm in [
            "GC Thread#0",
            "G1 Main Marker",
            "G1 Conc#0",
            "G1 Refine#0",
            "G1 Service",
            "VM Periodic Tas",
            "VM Thread",
            "Reference Handl",
            "Finalizer",
            "Signal Dispatch",
            "Service Thread",
            "Monitor Deflati",
            "C2 CompilerThre",
            "C1 CompilerThre",
            "Sweeper thread",
            "Notification Th",
            "Common-Cleaner",
            "Attach Listener",
            "GC Thread#12",
            "ZWorkerYoung#3",
        ] {
            assert!(is_jvm_housekeeping(comm), "{comm}");
        }
    }

    #[test]
    fn housekeeping_from_dump_names() {
        for name in [
            "VM Periodic Task Thread",
            "Reference Handler",
            "Signal Dispatcher",
            "Monitor Deflation Thread",
            "C2 CompilerThread0",
            "C1 CompilerThread12",
            "Notification Thread",
            "G1 Young RemSet Sampling",
        ] {
            assert!(is_jvm_housekeeping(name), "{name}");
        }
    }

    #[test]
    fn the_service_threads_are_work() {
        for name in [
            "java",
            "main",
            "handler-1",
            "pool-1-thread-1",
            "http-nio-8080-e",
            "HTTP-Dispatcher",
            "index-refresher",
            "GC Thread#",
            "GC Thread#x",
            "Finalizer-work",
            "C2 Compiler",
            "G1 Conc#0a",
            "",
            "worker \"quoted",
        ] {
            assert!(!is_jvm_housekeeping(name), "{name}");
        }
    }

    #[test]
    fn waiting_for_and_holds() {
        let lock = |action, object: &str| JavaLock { action, object: Some(object.into()), class: None };
        let t = JavaThread {
            name: "handler-1".into(),
            frames: vec![
                JavaFrame {
                    method: "App.lookup".into(),
                    locks: vec![lock(LockAction::WaitingToLock, "0x2"), lock(LockAction::Locked, "0x1")],
                    ..Default::default()
                },
                JavaFrame {
                    method: "App.handle".into(),
                    locks: vec![lock(LockAction::Locked, "0x3")],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(t.waiting_for().and_then(|l| l.object.as_deref()), Some("0x2"));
        let held: Vec<&str> = t.holds().filter_map(|l| l.object.as_deref()).collect();
        assert_eq!(held, ["0x1", "0x3"]);
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("daemon") && json.contains("\"waiting_to_lock\""), "{json}");
        let back: JavaThread = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
