//! The keep-alive starvation experiment (story 3), as seen from outside:
//! connection A has had its answer and idles; send the same request on a new
//! connection B; if B gets no answer within --starvation-wait, close A and
//! time how soon B is answered. Records what happened in a
//! [`KeepAliveCheck`]; `judge::keepalive_starvation` decides what it means.

use super::exchange::{exchange, open};
use super::{HttpOpts, Progress};
use crate::error::ExchangeError;
use crate::report::KeepAliveCheck;
use crate::tls::Conn;
use crate::{us, Attempt, Event, Outcome};
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What connection B's thread reports.
pub(super) struct SecondResult {
    pub opened_attempt: Attempt,
    pub answered_at: Option<Instant>,
    pub error: Option<ExchangeError>,
    /// B, when the server keeps it open after answering.
    pub conn: Option<Conn>,
}

/// Runs the experiment. B runs in a thread (its handshake may itself be
/// starved); A is closed if B is not answered within --starvation-wait, then
/// B gets --timeout more. `conn_a` is taken (closed) when that happens.
pub(super) fn run(
    opts: &HttpOpts,
    addr: SocketAddr,
    config: Option<Arc<rustls::ClientConfig>>,
    req: &[u8],
    conn_a: &mut Option<(Conn, Duration)>,
    progress: Progress<'_>,
) -> (KeepAliveCheck, SecondResult) {
    let (tx, rx) = mpsc::channel();
    let b_opts = opts.clone();
    let req = req.to_vec();
    // B's own deadline covers both phases, so the thread always ends.
    let b_budget = opts.starvation_wait + opts.timeout;
    let b_started = Instant::now();
    std::thread::spawn(move || {
        let o = open(addr, 2, "starvation_check", &b_opts, config, b_budget);
        let mut res = SecondResult { opened_attempt: o.attempt, answered_at: None, error: o.error, conn: None };
        if let Some(mut conn) = o.conn {
            let left = b_budget.saturating_sub(b_started.elapsed()).max(Duration::from_millis(1));
            match exchange(&mut conn, &req, left, b_opts.timeout) {
                Ok(x) => {
                    res.answered_at = Some(x.first_byte_at);
                    if !x.closed {
                        res.conn = Some(conn);
                    }
                }
                Err(e) => res.error = Some(e),
            }
        }
        let _ = tx.send(res);
    });
    let mut check = KeepAliveCheck { checked: true, ..Default::default() };
    let recv_deadline = b_started + opts.starvation_wait;
    if let Ok(b) = rx.recv_timeout(recv_deadline.saturating_duration_since(Instant::now())) {
        // Answered (or failed) while A was still open: spare capacity.
        check.second_answered_while_first_open = Some(b.answered_at.is_some());
        check.second_waited_us = b.answered_at.map(|t| us(t - b_started));
        check.second_error = b.error.as_ref().map(ToString::to_string);
        return (check, b);
    }
    // B is still waiting: close A and see whether that frees B.
    progress(Event::Progress("keep-alive check: connection 2 got no answer; closing connection 1…"));
    check.second_answered_while_first_open = Some(false);
    check.second_waited_us = Some(us(b_started.elapsed()));
    // Timed from just before the close: the server may answer B before close() returns.
    let a_closed_at = Instant::now();
    if let Some((c, _)) = conn_a.take() {
        c.close_now();
    }
    // recv_timeout cannot hang: B's thread is bounded by its budget.
    let b = match rx.recv_timeout(b_budget + Duration::from_secs(1)) {
        Ok(b) => b,
        Err(_) => {
            check.second_error = Some("the second connection's check did not finish".into());
            let attempt = Attempt {
                seq: 2,
                ok: false,
                connect_us: None,
                error: check.second_error.clone(),
                outcome: Outcome::Error,
                addr: addr.to_string(),
                local_port: None,
                role: Some("starvation_check"),
            };
            return (check, SecondResult { opened_attempt: attempt, answered_at: None, error: None, conn: None });
        }
    };
    check.second_error = b.error.as_ref().map(ToString::to_string);
    if let Some(answered_at) = b.answered_at {
        check.second_answered_after_first_closed_us = Some(us(answered_at.saturating_duration_since(a_closed_at)));
    }
    (check, b)
}
