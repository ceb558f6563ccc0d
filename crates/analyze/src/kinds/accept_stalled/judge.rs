//! Decides which listeners accepted none of the connections that waited in
//! their queue the whole interval, and gathers what this host shows about
//! the processes that should accept.

use crate::facts::graph::{hops, path, unix};
use crate::facts::index::endpoint;
use crate::facts::queues::{
    accept_facts, accept_facts_unix, stalled, stalled_unix, waiting_evidence, waiting_unix, AcceptFacts,
};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::AcceptStalled;
use unwedge_model::Severity;

pub struct Judged {
    pub verdict: Verdict<AcceptStalled>,
    pub facts: AcceptFacts,
}

/// Every stalled listener; where its slots idle in keep-alive, the second
/// pass keeps the more specific `keepalive_starvation` instead.
pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = Vec::new();
    for st in stalled(ctx) {
        let l = st.listener;
        let facts = accept_facts(ctx, l, &st.owners, &st.accepting);
        let ev = AcceptStalled {
            listen: endpoint(l.local, l.local_port),
            queued: l.recv_q,
            backlog: l.send_q,
            waiting_whole_interval: st.waiting.len(),
            waiting: waiting_evidence(&st),
            accepted_during_interval: 0,
            established_connections_held: ctx.last.accepted_by(l, &st.owners).len(),
            owners: st.owners.clone(),
            accepting: st.accepting.clone(),
            accepting_threads: facts.threads.clone(),
            event_loop_blocked: facts.blocked_loop.clone(),
            waits_on: facts.waits_on(),
        };
        let mut verdict = Verdict::new(Severity::Critical, st.pid, Some(l.local_port), l.netns, ev);
        let into = path::into_listener(ctx, l, &st.accepting);
        verdict.waits_on = hops::of(ctx, &path::through_listener(ctx, into, &st.accepting));
        out.push(Judged { verdict, facts });
    }
    for st in stalled_unix(ctx) {
        let l = st.listener;
        let facts = accept_facts_unix(ctx, l, &st.owners, &st.accepting);
        let ev = AcceptStalled {
            listen: format!("unix:{}", unix::name(l)),
            queued: l.recv_q,
            backlog: l.send_q,
            waiting_whole_interval: st.waiting.len(),
            waiting: waiting_unix(ctx, &st.waiting),
            accepted_during_interval: 0,
            established_connections_held: unix::accepted(ctx, l)
                .filter(|s| ctx.last.owners_of(s.inode).iter().any(|o| st.owners.contains(o)))
                .count(),
            owners: st.owners.clone(),
            accepting: st.accepting.clone(),
            accepting_threads: facts.threads.clone(),
            event_loop_blocked: facts.blocked_loop.clone(),
            waits_on: facts.waits_on(),
        };
        let mut verdict = Verdict::new(Severity::Critical, st.accepting.first().copied(), None, l.netns, ev);
        verdict.path = Some(unix::name(l));
        let into = path::into_unix_listener(ctx, l, &st.accepting);
        verdict.waits_on = hops::of(ctx, &path::through_listener(ctx, into, &st.accepting));
        out.push(Judged { verdict, facts });
    }
    out
}
