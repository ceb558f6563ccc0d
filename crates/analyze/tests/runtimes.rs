//! Issue 26's incidents recorded from real services (tests/fixtures):
//! a JVM whose handler pool deadlocks on two monitors (recorded with
//! `--stacks attach`) and a CPython service whose pool lent its
//! connections out for good. Each is checked as recorded, and with the
//! facts its healthy twin would show instead, to keep every claim tied to
//! the fact it rests on.

use unwedge_analyze::{analyze, Thresholds};
use unwedge_model::{Evidence, Finding, Scan};

fn load(name: &str) -> Scan {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn findings(scan: &Scan) -> Vec<Finding> {
    analyze(scan, &Thresholds::default()).findings
}

fn of<'a>(f: &'a [Finding], kind: &str) -> Vec<&'a Finding> {
    f.iter().filter(|f| f.kind() == kind).collect()
}

fn unanswered(f: &Finding) -> &unwedge_model::evidence::UnansweredRequests {
    let Evidence::UnansweredRequests(e) = &f.evidence else { panic!("{f:?}") };
    e
}

fn java_pid(scan: &Scan) -> u32 {
    scan.snapshots[1].processes.iter().find(|p| p.comm == "java").unwrap().pid
}

#[test]
fn jvm_deadlock_as_recorded_with_attach() {
    let scan = load("incident-jvm-deadlock.json");
    let pid = java_pid(&scan);
    let f = findings(&scan);
    let u = of(&f, "unanswered_requests");
    assert_eq!(u.len(), 1, "{f:#?}");
    let e = unanswered(u[0]);
    assert_eq!((u[0].pid, e.unanswered, e.unread), (Some(pid), 8, 4), "{e:#?}");
    let jvm = e.jvm.as_ref().unwrap();
    assert!(jvm.housekeeping_threads > 10 && jvm.dumped, "{jvm:#?}");
    let cycle = &jvm.deadlocks[0].cycle;
    let names: Vec<&str> = cycle.iter().map(|w| w.thread.as_str()).collect();
    assert!(names.contains(&"index-refresher") && names.iter().any(|n| n.starts_with("handler-")), "{names:?}");
    assert_ne!(cycle[0].object, cycle[1].object, "two monitors");
    assert!(u[0].title.contains("Java-level deadlock"), "{}", u[0].title);
    assert!(u[0].fix.contains("JvmScenario.lookup"), "{}", u[0].fix);
    // The sampled threads are the service's, deadlocked first, with the JVM's view.
    assert!(names.contains(&e.threads[0].name.as_str()), "{:?}", e.threads[0].name);
    assert!(e.threads.iter().all(|t| !unwedge_model::jvm::is_jvm_housekeeping(&t.name)));
    assert!(e.threads[0].java.is_some());
    // The stuck thread is one of the cycle, and causes the unanswered requests.
    let s = of(&f, "stuck_thread");
    assert_eq!(s.len(), 1, "one finding for the JVM's threads: {f:#?}");
    let Evidence::StuckThread(st) = &s[0].evidence else { unreachable!() };
    assert!(names.contains(&st.thread.name.as_str()), "{}", st.thread.name);
    assert!(u[0].caused_by.contains(&s[0].id));
}

#[test]
fn jvm_deadlock_without_its_dump_is_still_named_from_kernel_facts() {
    let mut scan = load("incident-jvm-deadlock.json");
    for snap in &mut scan.snapshots {
        for p in &mut snap.processes {
            if let Some(j) = p.jvm.as_mut() {
                j.dump = None;
            }
        }
    }
    let f = findings(&scan);
    let u = of(&f, "unanswered_requests");
    let e = unanswered(u[0]);
    assert_eq!(e.unread, 4);
    let jvm = e.jvm.as_ref().unwrap();
    assert!(jvm.deadlocks.is_empty() && !jvm.dumped);
    assert!(!jvm.monitor_enter.is_empty(), "native stacks in ObjectMonitor::enter: {jvm:#?}");
    assert!(u[0].title.contains("Java monitors") && !u[0].title.contains("deadlock between"), "{}", u[0].title);
    assert!(u[0].fix.contains("--stacks attach"), "{}", u[0].fix);
    // The pool of handlers first: handler-N before the main thread and timers.
    let s = of(&f, "stuck_thread");
    let Evidence::StuckThread(st) = &s[0].evidence else { unreachable!() };
    assert!(st.thread.name.starts_with("handler-"), "{}", st.thread.name);
}

#[test]
fn jvm_without_hsperfdata_is_known_by_its_threads() {
    let mut scan = load("incident-jvm-deadlock.json");
    for snap in &mut scan.snapshots {
        for p in &mut snap.processes {
            p.jvm = None;
        }
    }
    let f = findings(&scan);
    let e = unanswered(of(&f, "unanswered_requests")[0]);
    let jvm = e.jvm.as_ref().unwrap();
    assert!(jvm.vm.is_none() && jvm.interval.is_none() && jvm.housekeeping_threads > 10, "{jvm:#?}");
}

#[test]
fn jvm_requests_read_by_now_are_not_unread() {
    // Its twin: the same connections with their requests read (an empty
    // receive queue): unanswered still, but none "never read".
    let mut scan = load("incident-jvm-deadlock.json");
    for snap in &mut scan.snapshots {
        for s in &mut snap.sockets {
            if s.recv_q > 0 && s.state == unwedge_model::TcpState::Established {
                s.recv_q = 0;
            }
        }
    }
    let f = findings(&scan);
    let e = unanswered(of(&f, "unanswered_requests")[0]);
    assert_eq!((e.unanswered, e.unread), (8, 0));
}

fn python_pid(scan: &Scan) -> u32 {
    let procs = &scan.snapshots[1].processes;
    procs.iter().find(|p| p.cmdline.ends_with("py_service.py leak")).unwrap().pid
}

#[test]
fn python_pool_leak_as_recorded() {
    let scan = load("incident-python-pool-leak.json");
    let pid = python_pid(&scan);
    let f = findings(&scan);
    let u = of(&f, "unanswered_requests");
    assert_eq!(u.len(), 1, "{f:#?}");
    assert_eq!(u[0].pid, Some(pid));
    let e = unanswered(u[0]);
    let pool = e.pool.as_ref().unwrap().to_string();
    assert!(
        pool.contains("its only 2 connections") && pool.contains("(the threads' frames wait in its get)"),
        "{pool}"
    );
    assert!(u[0].title.contains("pool whose connections were never returned"), "{}", u[0].title);
    // The frames are told once, in the fix.
    assert!(u[0].fix.contains("6 threads in Queue.get (queue.py:171) ← Pool.get (py_service.py:"), "{}", u[0].fix);
    assert!(u[0].fix.starts_with("Return every connection to the pool"), "{}", u[0].fix);
    let py = e.threads[0].python_threads.as_ref().unwrap();
    assert_eq!(py.groups[0].count, 6);
    assert!(e.threads.iter().all(|t| !t.python.is_empty()), "every sampled thread has its frames");
}

/// The recorded leak with its frames replaced: `frames` for the handlers.
fn with_handler_frames(mut scan: Scan, frames: Option<Vec<unwedge_model::stack::PyFrame>>) -> Scan {
    for p in &mut scan.snapshots[1].processes {
        for t in &mut p.threads {
            let Some(u) = t.user_stack.as_mut() else { continue };
            match &frames {
                None => {
                    u.python.clear();
                    u.python_threads = None;
                }
                Some(fr) => {
                    if let Some(g) = u.python_threads.as_mut().and_then(|p| p.groups.first_mut()) {
                        g.frames = fr.clone();
                    }
                }
            }
        }
    }
    scan
}

#[test]
fn python_pool_leak_without_frames_is_said_with_a_hedge() {
    let scan = with_handler_frames(load("incident-python-pool-leak.json"), None);
    let f = findings(&scan);
    let pool = unanswered(of(&f, "unanswered_requests")[0]).pool.as_ref().unwrap().to_string();
    assert!(pool.contains("look like this (or a lock held elsewhere)"), "{pool}");
}

#[test]
fn python_lock_held_elsewhere_is_not_called_a_pool_leak() {
    let f = |function: &str, file: &str| unwedge_model::stack::PyFrame {
        function: function.into(),
        file: file.into(),
        line: Some(7),
    };
    let frames =
        vec![f("Lock.acquire", "/srv/cache.py"), f("refresh", "/srv/app.py"), f("Handler.do_GET", "/srv/app.py")];
    let scan = with_handler_frames(load("incident-python-pool-leak.json"), Some(frames));
    let found = findings(&scan);
    let u = of(&found, "unanswered_requests");
    let e = unanswered(u[0]);
    assert!(e.pool.is_none(), "the frames show another lock: {:?}", e.pool);
    assert!(!u[0].title.contains("pool"), "{}", u[0].title);
}

#[test]
fn python_upstream_carrying_a_request_is_not_a_pool_leak() {
    // Its twin: one of the pool's connections carries a request the
    // upstream has not answered (we spoke last): the pool is in use.
    let mut scan = load("incident-python-pool-leak.json");
    let pid = python_pid(&scan);
    let upstream =
        scan.snapshots[1].processes.iter().find(|p| p.ppid == pid).map(|p| p.pid).expect("the upstream child");
    let up_port = {
        let snap = &scan.snapshots[1];
        let child = snap.processes.iter().find(|p| p.pid == upstream).unwrap();
        let inodes: Vec<u64> = child.sockets.iter().map(|s| s.inode).collect();
        snap.sockets
            .iter()
            .find(|s| inodes.contains(&s.inode) && s.state == unwedge_model::TcpState::Listen)
            .unwrap()
            .local_port
    };
    let s = scan.snapshots[1].sockets.iter_mut().find(|s| s.remote_port == up_port && s.inode != 0).unwrap();
    let i = s.info.as_mut().unwrap();
    i.last_data_sent_ms = 1500;
    let f = findings(&scan);
    assert!(of(&f, "unanswered_requests").iter().all(|u| unanswered(u).pool.is_none()), "{f:#?}");
}
