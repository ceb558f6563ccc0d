//! TLS for `probe http`, on rustls driven by hand over our own TcpStream:
//! we need to time the handshake exactly and, for story 1 (a proxy stuck
//! waiting for its origin's TLS connection to close), to send close_notify
//! and time how long the server takes to close in turn.

use crate::report::{CloseResult, TlsInfo};
use crate::{target::Host, us, x509, ProbeError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Where the system keeps its trust store (Debian, Fedora, Alpine, SUSE).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The client configuration: the system trust store, or `cacert`, or (with
/// `insecure`) any certificate, still checking the handshake signatures.
pub fn client_config(insecure: bool, cacert: Option<&Path>) -> Result<Arc<ClientConfig>, ProbeError> {
    config(insecure, cacert).map_err(ProbeError::Tls)
}

fn config(insecure: bool, cacert: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = if insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCert(provider))).with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let files: Vec<String> = match cacert {
            Some(p) => vec![p.display().to_string()],
            None => {
                let env = std::env::var("SSL_CERT_FILE").ok().into_iter();
                env.chain(SYSTEM_BUNDLES.iter().map(|s| s.to_string()))
                    .filter(|p| Path::new(p).is_file())
                    .take(1)
                    .collect()
            }
        };
        for f in &files {
            let certs =
                CertificateDer::pem_file_iter(f).map_err(|e| format!("cannot read certificates from {f}: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certs.filter_map(Result::ok));
            if added == 0 && cacert.is_some() {
                return Err(format!("{f} holds no usable PEM certificate"));
            }
        }
        if roots.is_empty() {
            return Err(
                "no trusted CA certificates found (install ca-certificates, or use --cacert FILE or --insecure)".into(),
            );
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `--insecure`: accepts any certificate chain, but the handshake signatures
/// are still verified, so the timings are those of a real handshake.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Handshake over `sock`, finished by `deadline`.
pub fn handshake(
    sock: TcpStream,
    config: Arc<ClientConfig>,
    host: &Host,
    verified: bool,
    deadline: Instant,
) -> Result<(TlsStream, TlsInfo), String> {
    let name: ServerName<'static> = match host {
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        Host::Name(n) => {
            ServerName::try_from(n.clone()).map_err(|e| format!("'{n}' is not a valid TLS server name: {e}"))?
        }
    };
    let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS setup: {e}"))?;
    let mut s = StreamOwned::new(conn, sock);
    let started = Instant::now();
    while s.conn.is_handshaking() {
        set_timeouts(&s.sock, deadline).map_err(|_| "no TLS handshake answer in time".to_string())?;
        if let Err(e) = s.conn.complete_io(&mut s.sock) {
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "no TLS handshake answer in time".into(),
                io::ErrorKind::InvalidData => format!(
                    "TLS handshake failed: {e}{}",
                    if verified { " (for a self-signed server use --insecure or --cacert FILE)" } else { "" }
                ),
                io::ErrorKind::UnexpectedEof => "the server closed the connection during the TLS handshake".into(),
                _ => format!("TLS handshake failed: {e}"),
            });
        }
    }
    let handshake_us = us(started.elapsed());
    let cert = s.conn.peer_certificates().and_then(|c| c.first()).and_then(|c| x509::parse(c.as_ref()));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let info = TlsInfo {
        protocol: s.conn.protocol_version().map(|v| format!("{v:?}").replace('_', ".").replace("TLSv", "TLS ")),
        cipher: s.conn.negotiated_cipher_suite().map(|c| format!("{:?}", c.suite())),
        alpn: s.conn.alpn_protocol().map(|a| String::from_utf8_lossy(a).into_owned()),
        handshake_us,
        verified,
        cert_subject: cert.as_ref().map(|c| c.subject.clone()),
        cert_issuer: cert.as_ref().map(|c| c.issuer.clone()),
        cert_not_after: cert.as_ref().map(|c| {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(c.not_after.max(0) as u64)).to_string()
        }),
        cert_days_left: cert.as_ref().map(|c| (c.not_after - now).div_euclid(86400)),
        close: None,
    };
    Ok((s, info))
}

/// Read and write timeouts so that no call can outlast `deadline`.
pub fn set_timeouts(sock: &TcpStream, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    sock.set_read_timeout(Some(left))?;
    sock.set_write_timeout(Some(left))
}

/// Sends close_notify (keeping our TCP half open, so only the TLS alert can
/// prompt the server) and waits up to `wait` for the server to close.
pub fn measure_close(s: &mut TlsStream, wait: Duration) -> CloseResult {
    let started = Instant::now();
    let deadline = started + wait;
    let done = |outcome, answered: bool| CloseResult {
        outcome,
        after_us: answered.then(|| us(started.elapsed())),
        waited_us: us(started.elapsed()),
    };
    s.conn.send_close_notify();
    while s.conn.wants_write() {
        if set_timeouts(&s.sock, deadline).is_err() || s.conn.write_tls(&mut s.sock).is_err() {
            return done("error", false);
        }
    }
    let mut sink = [0u8; 16 * 1024];
    // Bounded: each round reads at least one byte or ends.
    loop {
        if set_timeouts(&s.sock, deadline).is_err() {
            return done("no_answer", false);
        }
        match s.conn.read_tls(&mut s.sock) {
            Ok(0) => return done("fin", true),
            Ok(_) => match s.conn.process_new_packets() {
                Ok(state) => {
                    let closed = state.peer_has_closed();
                    // Drain late plaintext so rustls' buffer cannot fill.
                    while let Ok(n) = s.conn.reader().read(&mut sink) {
                        if n == 0 {
                            break;
                        }
                    }
                    if closed {
                        return done("close_notify", true);
                    }
                }
                Err(_) => return done("error", true),
            },
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return done("no_answer", false)
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return done("reset", true),
            Err(_) => return done("error", true),
        }
    }
}

/// A plain or TLS connection, so the HTTP code is written once.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Conn {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(t) => &t.sock,
        }
    }

    /// Closes at once, telling the server (close_notify, then FIN).
    pub fn close_now(self) {
        let sock = match self {
            Conn::Plain(s) => s,
            Conn::Tls(mut t) => {
                t.conn.send_close_notify();
                let _ = t.sock.set_write_timeout(Some(Duration::from_millis(200)));
                let _ = t.conn.write_tls(&mut t.sock);
                t.sock
            }
        };
        let _ = sock.shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
        }
    }
}
