//! Request routing: method and size checks, authentication, then one small
//! handler per endpoint (the probe endpoints' in `probe`). Responses are
//! made with `respond`, which both share.

use super::respond::{body, error, json_body, Resp, JSON};
use super::{auth, probe, State};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// The OpenAPI description, kept in the repository and served verbatim.
pub const OPENAPI: &str = include_str!("openapi.json");

/// prometheus-client writes the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every endpoint: `handle` dispatches on this, and the OpenAPI test checks
/// openapi.json against it, so the two cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The HTML page of the latest scan, with the last hour's charts.
    Page,
    Metrics,
    Healthz,
    Scan,
    ProbeTcp,
    ProbeHttp,
    OpenApi,
    /// The flight recorder's recordings (`serve --record`), newest first.
    Recordings,
    /// One recording's page, `/v1/recordings/ID`, and its snapshots,
    /// `/v1/recordings/ID/snapshots.json.gz`.
    Recording,
}

impl Route {
    pub const ALL: [Route; 9] = [
        Route::Page,
        Route::Metrics,
        Route::Healthz,
        Route::Scan,
        Route::ProbeTcp,
        Route::ProbeHttp,
        Route::OpenApi,
        Route::Recordings,
        Route::Recording,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Route::Page => "/",
            Route::Metrics => "/metrics",
            Route::Healthz => "/healthz",
            Route::Scan => "/v1/scan",
            Route::ProbeTcp => "/v1/probe/tcp",
            Route::ProbeHttp => "/v1/probe/http",
            Route::OpenApi => "/v1/openapi.json",
            Route::Recordings => "/v1/recordings",
            Route::Recording => "/v1/recordings/{id}",
        }
    }

    /// The route of a request path (`/v1/recordings/ID` is `Recording`
    /// whatever ID is; its handler checks it).
    pub fn from_path(path: &str) -> Option<Route> {
        if path.strip_prefix("/v1/recordings/").is_some_and(|id| !id.is_empty()) {
            return Some(Route::Recording);
        }
        Route::ALL.into_iter().find(|r| r.path() == path)
    }
}

pub async fn handle(state: Arc<State>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD are served");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // No endpoint takes a body: refuse one rather than read it.
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) != Some(0));
    if has_body {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "requests must not carry a body");
    }
    let path = req.uri().path();
    let route = Route::from_path(path);
    let public = state.cfg.metrics_public && matches!(route, Some(Route::Metrics | Route::Healthz));
    if let Some(token) = &state.cfg.token {
        if !public && !auth::authorized(req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes()), token) {
            let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    let query = req.uri().query().unwrap_or("");
    match route {
        Some(Route::Page) => page(&state),
        Some(Route::Metrics) => metrics(&state, req.headers().get(header::ACCEPT)),
        Some(Route::Healthz) => healthz(&state),
        Some(Route::Scan) => scan(&state, query),
        Some(Route::ProbeTcp) => probe::tcp(state.clone(), peer, query).await,
        Some(Route::ProbeHttp) => probe::http(state.clone(), peer, query).await,
        Some(Route::OpenApi) => body(StatusCode::OK, JSON, Bytes::from_static(OPENAPI.as_bytes())),
        Some(Route::Recordings) => recordings(&state),
        Some(Route::Recording) => recording(&state, path.trim_start_matches("/v1/recordings/")).await,
        None => error(StatusCode::NOT_FOUND, "no such endpoint (see /v1/openapi.json)"),
    }
}

fn metrics(state: &State, accept: Option<&HeaderValue>) -> Resp {
    let openmetrics = accept.is_some_and(|a| a.as_bytes().windows(24).any(|w| w == b"application/openmetrics-"));
    let l = state.latest.read().unwrap_or_else(|p| p.into_inner());
    if openmetrics {
        body(StatusCode::OK, OPENMETRICS, l.metrics.clone())
    } else {
        body(StatusCode::OK, CLASSIC, l.metrics_classic.clone())
    }
}

const HTML: &str = "text/html; charset=utf-8";

/// A page of ours: it fetches nothing, and its headers say so too.
fn page_headers(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&crate::render::html::csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

const NOT_RECORDING: &str = "serve is not recording (start it with --record DIR)";

fn recordings(state: &State) -> Resp {
    let Some(shelf) = &state.shelf else { return error(StatusCode::NOT_FOUND, NOT_RECORDING) };
    json_body(StatusCode::OK, &json!({ "recordings": shelf.list() }))
}

/// How long reading one recording from disk may take.
const RECORDING_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One recording's page (`/v1/recordings/ID`) or its snapshots
/// (`/v1/recordings/ID/snapshots.json.gz`), read from disk off the
/// server's thread, with a deadline.
async fn recording(state: &State, rest: &str) -> Resp {
    let Some(shelf) = &state.shelf else { return error(StatusCode::NOT_FOUND, NOT_RECORDING) };
    let snapshots = format!("/{}", unwedge_pipeline::RECORDING_SNAPSHOTS);
    let (id, gz) = match rest.strip_suffix(&snapshots) {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let page = if super::record::valid_id(id) { shelf.path_of(id) } else { None };
    let Some(page) = page else { return error(StatusCode::NOT_FOUND, "no such recording (see /v1/recordings)") };
    let path = if gz { page.with_file_name(unwedge_pipeline::RECORDING_SNAPSHOTS) } else { page };
    let read = tokio::task::spawn_blocking(move || std::fs::read(path));
    match tokio::time::timeout(RECORDING_READ_TIMEOUT, read).await {
        Ok(Ok(Ok(bytes))) if gz => body(StatusCode::OK, "application/gzip", Bytes::from(bytes)),
        Ok(Ok(Ok(bytes))) => page_headers(body(StatusCode::OK, HTML, Bytes::from(bytes))),
        Ok(Ok(Err(e))) if e.kind() == std::io::ErrorKind::NotFound => {
            error(StatusCode::NOT_FOUND, "that recording was evicted (see /v1/recordings)")
        }
        Ok(Ok(Err(e))) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot read the recording: {e}")),
        _ => error(StatusCode::SERVICE_UNAVAILABLE, "reading the recording timed out"),
    }
}

/// The latest scan as the HTML page.
fn page(state: &State) -> Resp {
    let page = state.latest.read().unwrap_or_else(|p| p.into_inner()).page.clone();
    let r = if page.is_empty() {
        let mut r = body(
            StatusCode::SERVICE_UNAVAILABLE,
            HTML,
            Bytes::from_static(b"<!doctype html><meta charset=utf-8><title>unwedge</title><p>The first scan has not finished yet: reload in a few seconds.</p>\n"),
        );
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        r
    } else {
        body(StatusCode::OK, HTML, page)
    };
    page_headers(r)
}

fn healthz(state: &State) -> Resp {
    let l = state.latest.read().unwrap_or_else(|p| p.into_inner());
    let mut v = json!({
        "status": "ok",
        "scans": l.scans,
        "scan_errors": l.scan_errors,
        "last_scan_age_s": l.finished.map(|t| t.elapsed().as_secs_f64()),
        "mode": if state.cfg.continuous { "continuous" } else { "pairs" },
    });
    if let Some(c) = l.continuous {
        v["continuous"] = json!({
            "second_looks": c.looks,
            "processes_read": c.cache.reads,
            "fds_reused": c.cache.fds_reused,
            "details_read": c.cache.full_reads,
            "details_reused": c.cache.full_reused,
            "fresh_checks": c.cache.drift_checks,
            "fresh_checks_differing": c.cache.drift,
            "stacks_read": c.stacks_read,
            "stacks_reused": c.stacks_reused,
        });
    }
    json_body(StatusCode::OK, &v)
}

fn scan(state: &State, query: &str) -> Resp {
    let mut pid = None;
    let mut port = None;
    let mut path = None;
    for (k, v) in super::respond::params(query) {
        match k.as_str() {
            "pid" => match v.parse::<u32>() {
                Ok(p) if p > 0 => pid = Some(p),
                _ => return error(StatusCode::BAD_REQUEST, "pid must be a process id (1 or more)"),
            },
            "port" => match v.parse::<u16>() {
                Ok(p) if p > 0 => port = Some(p),
                _ => return error(StatusCode::BAD_REQUEST, "port must be a port number (1-65535)"),
            },
            "path" if !v.is_empty() => path = Some(unwedge_pipeline::Filter::unix_path(&v)),
            "path" => return error(StatusCode::BAD_REQUEST, "path must be a unix socket's path or @name"),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("unknown parameter '{k}' (pid, port and path are known)"),
                )
            }
        }
    }
    let (report, json) = {
        let l = state.latest.read().unwrap_or_else(|p| p.into_inner());
        (l.report.clone(), l.report_json.clone())
    };
    let Some(report) = report else {
        let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "the first scan has not finished yet");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        return r;
    };
    let filter = unwedge_pipeline::Filter { pid, port, path };
    if filter.is_empty() {
        return body(StatusCode::OK, JSON, json);
    }
    let mut filtered = (*report).clone();
    filter.apply(&mut filtered);
    json_body(StatusCode::OK, &filtered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_lists_every_route() {
        let v: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        assert!(v["openapi"].as_str().unwrap().starts_with("3."));
        for route in Route::ALL.map(Route::path) {
            assert!(v["paths"][route]["get"].is_object(), "{route} missing from openapi.json");
        }
        for documented in v["paths"].as_object().expect("paths").keys() {
            assert!(
                Route::from_path(documented).is_some(),
                "openapi.json documents {documented}, which no route serves"
            );
        }
    }
}
