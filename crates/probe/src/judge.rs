//! The probe's judgements: pure functions from what a probe recorded (its
//! attempts, the response, the keep-alive check, the TLS close) to
//! findings. No sockets here, so each threshold is tested on plain values.
//! Each judgement names the fact it rests on and its healthy twin.

use crate::report::{Attempt, CloseResult, KeepAliveCheck, Outcome, ResponseInfo};
use crate::target::Url;
use std::time::Duration;
use unwedge_model::evidence::{
    ConnectTimeout, MissingContentType, ProbedKeepaliveStarvation, SlowTlsShutdown, SynRetransmit,
};
use unwedge_model::{fmt, Evidence, Finding, Severity};

/// A connect that needed this long had its SYN retransmitted (Linux's first
/// SYN retransmission is at 1 s); a healthy connect on any network takes far less.
pub const SYN_RETRANSMIT_US: u64 = 900_000;

/// How soon after connection 1 closes connection 2 must be answered to blame
/// connection 1's idle keep-alive: a server that is merely slow answers 2
/// late whether or not 1 is open.
pub const STARVATION_RELEASE_US: u64 = 1_000_000;

/// A server that takes longer than this to close after close_notify keeps a
/// waiting client (story 1's proxy) blocked; a healthy one closes at once.
pub const SLOW_TLS_CLOSE_US: u64 = 1_000_000;

/// A probe finding: the contract's finding object with `pid: null`.
fn finding(
    evidence: impl Into<Evidence>,
    severity: Severity,
    port: u16,
    title: String,
    explanation: &str,
    fix: &str,
) -> Finding {
    let mut f = Finding::new(severity, evidence);
    f.port = Some(port);
    f.title = title;
    f.explanation = explanation.into();
    f.fix = fix.into();
    f
}

/// connect_timeout and syn_retransmit, from the attempts of any probe.
pub fn connect_findings(target: &str, port: u16, attempts: &[Attempt], timeout: Duration) -> Vec<Finding> {
    let mut out = Vec::new();
    let timed_out: Vec<u32> = attempts.iter().filter(|a| a.outcome == Outcome::Timeout).map(|a| a.seq).collect();
    if !timed_out.is_empty() {
        let all = timed_out.len() == attempts.len();
        out.push(finding(
            ConnectTimeout {
                timed_out_seqs: timed_out.clone(),
                attempts: attempts.len(),
                timeout_ms: timeout.as_millis() as u64,
            },
            if all { Severity::Critical } else { Severity::Warning },
            port,
            format!(
                "{} of {} connects to {target} got no answer within {}",
                timed_out.len(),
                attempts.len(),
                fmt::duration(timeout)
            ),
            "The SYN was sent and neither a SYN-ACK nor a refusal came back in time. On a host that \
             listens, that means the listener's accept queue is full (the kernel drops SYNs while it \
             is), a stale CLOSE-WAIT socket holds the same 4-tuple behind a firewall that drops the \
             challenge ACK, or a firewall drops the SYN.",
            "On the server run `unwedge scan --port PORT`: it names a full or stalled accept queue, \
             keep-alive starvation or a CLOSE-WAIT leak. Otherwise check firewalls between client and server.",
        ));
    }
    let slow: Vec<&Attempt> =
        attempts.iter().filter(|a| a.ok && a.connect_us.is_some_and(|u| u >= SYN_RETRANSMIT_US)).collect();
    if !slow.is_empty() {
        let times: Vec<u64> = slow.iter().filter_map(|a| a.connect_us).collect();
        out.push(finding(
            SynRetransmit {
                slow_seqs: slow.iter().map(|a| a.seq).collect(),
                connect_us: times.clone(),
                threshold_us: SYN_RETRANSMIT_US,
            },
            Severity::Warning,
            port,
            format!(
                "{} of {} connects to {target} succeeded only after {} or more: the SYN was retransmitted",
                slow.len(),
                attempts.len(),
                fmt::measured(Duration::from_micros(times.iter().copied().min().unwrap_or(0)))
            ),
            "Linux retransmits an unanswered SYN after 1 s, then 2 s, 4 s…; a connect that takes about \
             that long lost its first SYN (or its SYN-ACK). Common causes: the listener's accept queue was \
             full, the SYN hit a stale CLOSE-WAIT 4-tuple behind a firewall, or packet loss. Clients with \
             a 1 s timeout fail outright.",
            "On the server run `unwedge scan --port PORT` while this happens; if the queue is fine, look \
             for packet loss or a firewall dropping SYNs or SYN-ACKs.",
        ));
    }
    out
}

/// keepalive_starvation (from outside): connection 2 got no answer while
/// connection 1 idled after its response, and was answered within
/// [`STARVATION_RELEASE_US`] of connection 1's close. Healthy twin: 2 is
/// answered while 1 is still open (spare capacity), or only late after the
/// close (a slow server, not a starved one).
pub fn keepalive_starvation(
    url: &Url,
    check: &KeepAliveCheck,
    first_ttfb_us: Option<u64>,
    starvation_wait: Duration,
) -> Option<Finding> {
    if check.second_answered_while_first_open != Some(false) {
        return None;
    }
    let after_us = check.second_answered_after_first_closed_us?;
    let waited_us = check.second_waited_us?;
    if after_us > STARVATION_RELEASE_US {
        return None;
    }
    Some(finding(
        ProbedKeepaliveStarvation {
            first_ttfb_us,
            second_waited_us: waited_us,
            second_answered_after_first_closed_us: after_us,
            starvation_wait_ms: starvation_wait.as_millis() as u64,
        },
        Severity::Critical,
        url.port,
        format!(
            "{} serves one connection at a time: a second request waited {} while an idle keep-alive connection held the slot",
            url.host_header(),
            fmt::measured(Duration::from_micros(waited_us))
        ),
        "After answering connection 1 the server kept it open (HTTP/1.1 keep-alive) and did not answer \
         connection 2 until connection 1 was closed; it then answered within milliseconds. A load \
         balancer or client pool that keeps idle connections therefore blocks every other client: \
         their requests wait in the kernel's accept queue, never reach a handler (no log line) and time out.",
        "Let the server serve more connections than its idle keep-alive clients hold (a concurrency cap \
         must not count idle connections), or disable keep-alive (`Connection: close`; Go: \
         SetKeepAlivesEnabled(false)), or give it a short idle timeout. On the server, \
         `unwedge scan --port PORT` shows the stalled accept queue and the idle connections.",
    ))
}

/// missing_content_type: a response with a body and no (or an empty) Content-Type.
pub fn missing_content_type(url: &Url, r: &ResponseInfo) -> Option<Finding> {
    if r.body_bytes == 0 || r.content_type.as_deref().is_some_and(|v| !v.is_empty()) {
        return None;
    }
    Some(finding(
        MissingContentType { status: r.status, body_bytes: r.body_bytes, url: url.to_string() },
        Severity::Warning,
        url.port,
        format!("{} answered {} with a {}-byte body and no Content-Type", url, r.status, r.body_bytes),
        "Without Content-Type, browsers and proxies guess the type (MIME sniffing): binaries such as \
         executables or PDFs get rendered as text, and a proxy that guesses internally may not forward \
         its guess to the client.",
        "Send a Content-Type with every response that has a body (e.g. nginx: `types` / `default_type`; \
         a proxy should forward the type it determined).",
    ))
}

/// slow_tls_shutdown: after our close_notify the server took longer than
/// [`SLOW_TLS_CLOSE_US`] to close, or did not close within `waited` (what
/// the probe was willing to wait). A reset or a prompt close is healthy.
pub fn slow_tls_shutdown(url: &Url, c: &CloseResult, waited: Duration) -> Option<Finding> {
    let slow = match c.outcome {
        "no_answer" => true,
        "error" => false,
        _ => c.after_us.is_some_and(|u| u > SLOW_TLS_CLOSE_US),
    };
    if !slow {
        return None;
    }
    let title = match c.after_us {
        Some(u) => format!(
            "{url}: the server took {} to close after the client's close_notify",
            fmt::measured(Duration::from_micros(u))
        ),
        None => {
            format!("{url}: the server did not close within {} of the client's close_notify", fmt::duration(waited))
        }
    };
    Some(finding(
        SlowTlsShutdown {
            outcome: c.outcome.into(),
            after_us: c.after_us,
            waited_us: c.waited_us,
            threshold_us: SLOW_TLS_CLOSE_US,
        },
        Severity::Warning,
        url.port,
        title,
        "A client (or a proxy in front of this server) that closes with close_notify and waits for the \
         server's answer stays blocked this long per connection: a proxy that runs a process or thread \
         per connection piles them up, each holding its worker far longer than its transfer took.",
        "Make the server close (or answer close_notify) promptly when its peer closes; on the client \
         side, do not wait for the peer's close_notify (or disable keep-alive towards this server).",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::parse_url;

    fn att(seq: u32, outcome: Outcome, us: Option<u64>) -> Attempt {
        Attempt {
            seq,
            ok: outcome == Outcome::Ok,
            connect_us: us,
            error: None,
            outcome,
            addr: "127.0.0.1:1".into(),
            local_port: None,
            role: None,
        }
    }

    #[test]
    fn connect_findings_thresholds() {
        let t = Duration::from_secs(3);
        assert!(connect_findings("t", 1, &[att(1, Outcome::Ok, Some(899_999))], t).is_empty());
        let f = connect_findings("t", 1, &[att(1, Outcome::Ok, Some(1_020_000)), att(2, Outcome::Timeout, None)], t);
        let kinds: Vec<&str> = f.iter().map(|f| f.kind().name()).collect();
        assert_eq!(kinds, ["connect_timeout", "syn_retransmit"]);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f.iter().all(|f| f.pid.is_none() && f.port == Some(1)));
        let f = connect_findings("t", 1, &[att(1, Outcome::Timeout, None)], t);
        assert_eq!(f[0].severity, Severity::Critical);
        // Refusals are failures, not timeouts.
        assert!(connect_findings("t", 1, &[att(1, Outcome::Refused, Some(50))], t).is_empty());
    }

    #[test]
    fn content_type_check() {
        let url = parse_url("http://h:1/").unwrap();
        let mut r = ResponseInfo {
            version: "HTTP/1.1".into(),
            status: 200,
            reason: "OK".into(),
            headers: vec![],
            content_type: None,
            body_bytes: 10,
            framing: "content-length",
            keep_alive: true,
            body_complete: true,
        };
        assert_eq!(missing_content_type(&url, &r).unwrap().kind(), "missing_content_type");
        r.body_bytes = 0;
        assert!(missing_content_type(&url, &r).is_none());
        r.body_bytes = 1;
        r.content_type = Some("text/plain".into());
        assert!(missing_content_type(&url, &r).is_none());
    }

    #[test]
    fn tls_close_thresholds() {
        let url = parse_url("https://h/").unwrap();
        let c = |outcome, after_us| CloseResult { outcome, after_us, waited_us: 0 };
        let w = Duration::from_secs(3);
        assert!(slow_tls_shutdown(&url, &c("close_notify", Some(300)), w).is_none());
        assert!(slow_tls_shutdown(&url, &c("fin", Some(1_500_000)), w).is_some());
        assert!(slow_tls_shutdown(&url, &c("no_answer", None), w).is_some());
    }

    #[test]
    fn starvation_needs_a_prompt_answer_after_the_close() {
        let url = parse_url("http://h:8080/").unwrap();
        let wait = Duration::from_secs(2);
        let starved = KeepAliveCheck {
            checked: true,
            second_waited_us: Some(2_000_100),
            second_answered_while_first_open: Some(false),
            second_answered_after_first_closed_us: Some(3_000),
            ..Default::default()
        };
        let f = keepalive_starvation(&url, &starved, Some(800), wait).unwrap();
        assert_eq!(f.kind(), "keepalive_starvation");
        assert_eq!((f.severity, f.port, f.pid), (Severity::Critical, Some(8080), None));
        assert!(
            f.title.starts_with("h:8080 serves one connection at a time: a second request waited 2.0 s"),
            "{}",
            f.title
        );
        // Healthy twins: answered while connection 1 was open (spare capacity),
        // answered only late after the close (a slow server), never answered.
        let spare = KeepAliveCheck {
            second_answered_while_first_open: Some(true),
            second_waited_us: Some(900),
            second_answered_after_first_closed_us: None,
            ..starved.clone()
        };
        assert!(keepalive_starvation(&url, &spare, Some(800), wait).is_none());
        let slow = KeepAliveCheck { second_answered_after_first_closed_us: Some(1_000_001), ..starved.clone() };
        assert!(keepalive_starvation(&url, &slow, Some(800), wait).is_none());
        let at_limit = KeepAliveCheck { second_answered_after_first_closed_us: Some(1_000_000), ..starved.clone() };
        assert!(keepalive_starvation(&url, &at_limit, Some(800), wait).is_some());
        let never = KeepAliveCheck {
            second_answered_after_first_closed_us: None,
            second_error: Some("no response within 3.0 s".into()),
            ..starved.clone()
        };
        assert!(keepalive_starvation(&url, &never, Some(800), wait).is_none());
        let skipped = KeepAliveCheck { skipped: Some("--no-starvation-check".into()), ..Default::default() };
        assert!(keepalive_starvation(&url, &skipped, None, wait).is_none());
    }

    #[test]
    fn tls_close_titles() {
        let url = parse_url("https://h/").unwrap();
        let w = Duration::from_secs(3);
        let late = CloseResult { outcome: "fin", after_us: Some(1_520_000), waited_us: 1_520_000 };
        let f = slow_tls_shutdown(&url, &late, w).unwrap();
        assert_eq!(f.title, "https://h/: the server took 1.5 s to close after the client's close_notify");
        let none = CloseResult { outcome: "no_answer", after_us: None, waited_us: 3_000_000 };
        let f = slow_tls_shutdown(&url, &none, w).unwrap();
        assert_eq!(f.title, "https://h/: the server did not close within 3.0 s of the client's close_notify");
        // A reset or an error is not a slow close.
        assert!(
            slow_tls_shutdown(&url, &CloseResult { outcome: "reset", after_us: Some(50), waited_us: 50 }, w).is_none()
        );
        assert!(slow_tls_shutdown(&url, &CloseResult { outcome: "error", after_us: None, waited_us: 0 }, w).is_none());
    }
}
