//! Issue 22: the incidents unwedge used to name wrongly, recorded live
//! (crates/analyze/tools/record.py; the new kinds' own pairs are checked by
//! kinds.rs). Each says what the kernel shows, links the findings as one
//! story, and keeps the wrong words out.

use unwedge_analyze::{analyze, Thresholds};
use unwedge_model::{Evidence, Finding, Scan, Severity};

fn load(path: &str) -> Scan {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn findings(path: &str) -> Vec<Finding> {
    analyze(&load(path), &Thresholds::default()).findings
}

fn of<'a>(f: &'a [Finding], kind: &str) -> Vec<&'a Finding> {
    f.iter().filter(|f| f.kind() == kind).collect()
}

fn text(f: &Finding) -> String {
    format!("{}\n{}\n{}", f.title, f.explanation, f.fix)
}

#[test]
fn an_event_loop_blocked_by_a_synchronous_call_is_one_story_with_its_fix() {
    let f = findings("tests/fixtures/incident-asyncio-blocked-loop.json");
    let stuck = of(&f, "stuck_thread");
    let stall = of(&f, "accept_stalled");
    assert_eq!((stuck.len(), stall.len()), (1, 1), "{f:#?}");
    let (stuck, stall) = (stuck[0], stall[0]);
    // The loop thread's read: the upstream owes the answer, never "idle keep-alive".
    let words = text(stuck);
    assert!(words.contains("the last bytes on this connection were ours"), "{words}");
    assert!(words.contains("event loop") && !words.contains("keep-alive"), "{words}");
    // The stalled queue is caused by that thread, and gets the event-loop fix.
    assert_eq!(stall.caused_by, vec![stuck.id.clone()]);
    let Evidence::AcceptStalled(e) = &stall.evidence else { unreachable!() };
    let blocked = e.event_loop_blocked.as_ref().expect("the blocked loop in the evidence");
    assert_eq!((Some(blocked.tid), blocked.syscall.as_str()), (stuck.tid, "recvfrom"));
    assert!(blocked.owed_answer_ms.is_some_and(|ms| ms >= 1000), "{blocked:?}");
    assert!(stall.fix.contains("blocks") && stall.fix.contains("event loop"), "{}", stall.fix);
    assert!(!stall.fix.contains("run more workers"), "{}", stall.fix);
}

#[test]
fn the_same_service_awaiting_an_async_client_is_silent() {
    let f = findings("tests/fixtures/incident-asyncio-async-client.json");
    assert!(f.iter().all(|f| f.severity < Severity::Warning), "{f:#?}");
}

#[test]
fn partial_requests_hold_the_fds_and_nobody_chose_not_to_answer() {
    let f = findings("tests/fixtures/incident-nginx-partial-requests.json");
    let fd = of(&f, "fd_exhaustion");
    assert_eq!(fd.len(), 1, "{f:#?}");
    let Evidence::FdExhaustion(e) = &fd[0].evidence else { unreachable!() };
    let pr = e.partial_requests.as_ref().expect("what holds the fds");
    assert!(pr.connections >= 20 && pr.idle_since_ms >= 10_000, "{pr:?}");
    assert_eq!((pr.bytes_max, pr.server_waits_in.as_str()), (25, "event loop"));
    assert!(fd[0].explanation.contains("slowloris-like"), "{}", fd[0].explanation);
    // The info finding that said nginx "chose not to answer" is told by fd_exhaustion instead.
    assert!(of(&f, "unanswered_requests").is_empty(), "{f:#?}");
    assert!(f.iter().all(|f| !text(f).contains("chose not to answer")));
}

#[test]
fn an_upstream_whose_answer_was_last_is_idle_keep_alive() {
    // Story 1, recorded with tcp_info's data segment counts: the upstream's
    // answer was the last bytes on each pump's connection.
    let a = analyze(&load("tests/fixtures/incident-forking-proxy-pileup.json"), &Thresholds::default());
    assert!(a.groups[0].title.contains("idle keep-alive upstream"), "{}", a.groups[0].title);
    for f in of(&a.findings, "stuck_thread").into_iter().filter(|f| f.explanation.contains("recvfrom")) {
        assert!(!f.explanation.contains("owes"), "{}", f.explanation);
    }
}

#[test]
fn a_black_holed_upstream_is_named_and_its_twin_is_silent() {
    let f = findings("src/kinds/connect_unanswered/bad.json");
    let c = of(&f, "connect_unanswered");
    assert_eq!(c.len(), 1, "{f:#?}");
    let Evidence::ConnectUnanswered(e) = &c[0].evidence else { unreachable!() };
    assert!(e.syn_retransmits >= 1 && e.unanswered_whole_interval >= 1, "{e:?}");
    assert!(e.oldest_first_syn_ms >= 1000, "{e:?}");
    // The upstream listens here and its queue is fine: the SYNs never reach it.
    assert!(e.local_listener.as_ref().is_some_and(|p| !p.is_empty()), "{e:?}");
    assert!(c[0].fix.contains("connect timeout") || c[0].fix.contains("proxy_connect_timeout"), "{}", c[0].fix);
    let twin = findings("src/kinds/connect_unanswered/healthy.json");
    assert!(of(&twin, "connect_unanswered").is_empty(), "{twin:#?}");
}

#[test]
fn a_fuse_mount_that_stopped_answering_names_its_daemon_and_the_group() {
    let f = findings("src/kinds/mount_unresponsive/bad.json");
    let m = of(&f, "mount_unresponsive");
    assert_eq!(m.len(), 1, "{f:#?}");
    let Evidence::MountUnresponsive(e) = &m[0].evidence else { unreachable!() };
    assert!(e.fs_type.starts_with("fuse."), "{e:?}");
    assert_eq!(e.daemon.len(), 1, "{e:?}");
    assert_eq!(e.daemon_found_by.as_deref(), Some("fuse_connection"));
    assert_eq!(e.first.wchan.as_deref(), Some("request_wait_answer"));
    assert!(e.first.file.ends_with("/access.log"), "{e:?}");
    assert!(!e.behind.is_empty() && e.behind.iter().all(|b| b.state == "D"), "{e:?}");
    // Never a pipe's story about a file.
    for f in &f {
        assert!(!text(f).contains("buffer space"), "{}", text(f));
    }
    let twin = findings("src/kinds/mount_unresponsive/healthy.json");
    assert!(twin.iter().all(|f| f.severity < Severity::Warning), "{twin:#?}");
}
