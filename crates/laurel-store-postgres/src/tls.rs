//! TLS to PostgreSQL as the URL asks, with libpq's meaning of `sslmode` and
//! `sslrootcert` (rustls with the `ring` provider, through
//! `tokio-postgres-rustls`).
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (the default) | when the server offers TLS | only against `sslrootcert`, when given |
//! | `require` | always, or no connection | only against `sslrootcert`, when given (libpq: then as `verify-ca`) |
//! | `verify-ca` | always | signed by a CA of `sslrootcert` |
//! | `verify-full` | always | signed by a CA of `sslrootcert`, and issued for the URL's host name (or IP address) |
//!
//! `sslrootcert=FILE` names a PEM file of CA certificates; `sslrootcert=system`
//! takes the platform's trusted roots and, as in libpq, allows only
//! `verify-full` (and makes it the default). `verify-ca` and `verify-full`
//! need an `sslrootcert` (libpq's fallback, `~/.postgresql/root.crt`, is not
//! read: the file is named in the URL). `allow` is refused. As in libpq,
//! `sslmode` does not apply to a Unix-domain socket.
//!
//! `tokio-postgres` itself knows only `disable`, `prefer` and `require` and
//! refuses `sslrootcert`, so [`split_tls_params`] takes both out of the URL
//! (either form: `postgres://…?sslmode=…` or `host=… sslmode=…`) before the
//! driver reads the rest.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Largest `sslrootcert` file read (a full CA bundle is a few hundred KB).
pub const MAX_ROOT_CERT_BYTES: u64 = 4 * 1024 * 1024;

/// libpq's `sslmode`, less `allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the certificate authorities come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCertificates {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// The platform's trusted roots (`sslrootcert=system`).
    System,
}

/// What the URL asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    pub mode: SslMode,
    pub roots: Option<RootCertificates>,
}

/// Why the URL's TLS settings cannot be met. Never repeats the URL.
#[derive(Debug, thiserror::Error)]
pub enum TlsSettingsError {
    #[error("sslmode={0:?} is not one of disable, prefer, require, verify-ca, verify-full")]
    UnknownMode(String),
    #[error("sslmode=allow (plain first, TLS if refused) is not supported: use prefer or disable")]
    Allow,
    #[error(
        "sslmode={0} checks the server's certificate and needs sslrootcert=FILE (the CA certificates, PEM) or sslrootcert=system"
    )]
    NoRoots(&'static str),
    #[error("sslrootcert=system is allowed only with sslmode=verify-full")]
    SystemNeedsVerifyFull,
    #[error("the database URL does not parse: {0}")]
    Url(String),
    #[error("sslrootcert {}: cannot read it: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sslrootcert {}: {reason}", path.display())]
    Roots { path: PathBuf, reason: String },
    #[error("sslrootcert=system: {0}")]
    System(String),
    #[error("TLS settings: {0}")]
    Rustls(String),
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, TlsSettingsError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => return Err(TlsSettingsError::Allow),
            other => return Err(TlsSettingsError::UnknownMode(other.to_owned())),
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the driver is told: it only knows whether TLS is off, wanted or
    /// required; the checks are the connector's.
    pub fn driver_mode(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

/// Takes `sslmode` and `sslrootcert` out of a URL or key=value string;
/// returns the rest (for the driver) and what they asked. The last of a
/// repeated parameter counts, as in libpq.
pub fn split_tls_params(url: &str) -> Result<(String, TlsParams), TlsSettingsError> {
    let (rest, found) = match url_query(url) {
        Some(query_start) => split_url_query(url, query_start)?,
        None => split_key_values(url)?,
    };
    let mut mode = None;
    let mut roots = None;
    for (key, value) in found {
        match key {
            TlsKey::Mode => mode = Some(value),
            TlsKey::RootCert => roots = Some(value),
        }
    }
    let roots = roots.filter(|r| !r.is_empty()).map(|r| {
        if r == "system" {
            RootCertificates::System
        } else {
            RootCertificates::File(PathBuf::from(r))
        }
    });
    let mode = match mode {
        Some(mode) => SslMode::parse(&mode)?,
        None if roots == Some(RootCertificates::System) => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    match (&roots, mode) {
        (Some(RootCertificates::System), m) if m != SslMode::VerifyFull => {
            return Err(TlsSettingsError::SystemNeedsVerifyFull);
        }
        (None, SslMode::VerifyCa | SslMode::VerifyFull) => {
            return Err(TlsSettingsError::NoRoots(mode.name()));
        }
        _ => {}
    }
    Ok((rest, TlsParams { mode, roots }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsKey {
    Mode,
    RootCert,
}

fn tls_key(key: &str) -> Option<TlsKey> {
    match key {
        "sslmode" => Some(TlsKey::Mode),
        "sslrootcert" => Some(TlsKey::RootCert),
        _ => None,
    }
}

/// Where a URL-form string's query starts (the `?`), or `None` for the
/// key=value form. Mirrors the driver: credentials end at the first `@`.
/// `Some(len)` for a URL without a query.
fn url_query(url: &str) -> Option<usize> {
    let after = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))?;
    let start = url.len() - after.len();
    let hosts = after.find('@').map_or(0, |at| at + 1);
    Some(
        after[hosts..]
            .find('?')
            .map_or(url.len(), |q| start + hosts + q),
    )
}

type Found = Vec<(TlsKey, String)>;

fn split_url_query(url: &str, query_start: usize) -> Result<(String, Found), TlsSettingsError> {
    let (base, query) = url.split_at(query_start);
    let Some(query) = query.strip_prefix('?') else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|d| d.into_owned())
            .map_err(|e| TlsSettingsError::Url(format!("a parameter is not UTF-8: {e}")))
    };
    let mut kept = Vec::new();
    let mut found = Vec::new();
    for pair in query.split('&') {
        let tls = match pair.split_once('=') {
            Some((key, value)) => tls_key(&decode(key)?).map(|k| (k, value)),
            None => None,
        };
        match tls {
            Some((key, value)) => found.push((key, decode(value)?)),
            None => kept.push(pair),
        }
    }
    let mut rest = base.to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, found))
}

/// The key=value form, scanned as the driver scans it (whitespace around
/// `=`, values quoted with `'` or not, `\` escaping the next character);
/// the pairs it does not take are kept as written.
fn split_key_values(text: &str) -> Result<(String, Found), TlsSettingsError> {
    let mut rest = String::with_capacity(text.len());
    let mut found = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut copied_to = 0;
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // The driver reports it, in its own words.
            return Ok((text.to_owned(), Vec::new()));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        loop {
            let Some(&(_, c)) = chars.peek() else {
                if quoted {
                    return Ok((text.to_owned(), Vec::new()));
                }
                break;
            };
            if (quoted && c == '\'') || (!quoted && c.is_whitespace()) {
                break;
            }
            chars.next();
            if c == '\\' {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            } else {
                value.push(c);
            }
        }
        if quoted {
            chars.next();
        }
        let end = chars.peek().map_or(text.len(), |&(i, _)| i);
        if let Some(key) = tls_key(&key) {
            rest.push_str(&text[copied_to..start]);
            copied_to = end;
            found.push((key, value));
        }
    }
    rest.push_str(&text[copied_to..]);
    Ok((rest.trim().to_owned(), found))
}

/// The connector for these settings. With `disable` it is never used.
pub fn connector(params: &TlsParams) -> Result<MakeRustlsConnect, TlsSettingsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let roots = match &params.roots {
        Some(RootCertificates::File(path)) => Some(file_roots(path)?),
        Some(RootCertificates::System) => Some(system_roots()?),
        None => None,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match (params.mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| TlsSettingsError::Rustls(e.to_string()))?
        }
        (_, roots) => Arc::new(ChainCheck {
            roots: roots.map(Arc::new),
            algorithms,
        }),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSettingsError::Rustls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn file_roots(path: &Path) -> Result<RootCertStore, TlsSettingsError> {
    let read_error = |source| TlsSettingsError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_ROOT_CERT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let problem = |reason: String| TlsSettingsError::Roots {
        path: path.to_owned(),
        reason,
    };
    if bytes.len() as u64 > MAX_ROOT_CERT_BYTES {
        return Err(problem(format!(
            "more than {MAX_ROOT_CERT_BYTES} bytes; a CA file is a few hundred KB at most"
        )));
    }
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("not a PEM file of certificates: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(problem(
            "no usable CA certificate in it (PEM `BEGIN CERTIFICATE` blocks)".into(),
        ));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, TlsSettingsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_owned(), ToString::to_string);
        return Err(TlsSettingsError::System(format!(
            "no trusted root certificate could be loaded: {why}"
        )));
    }
    Ok(roots)
}

/// The certificate check of every mode but `verify-full` (which is
/// rustls's own `WebPkiServerVerifier`). With `roots` (`verify-ca`, and
/// `prefer`/`require` with `sslrootcert`), the chain must lead to one of
/// them; the name in the certificate is not looked at. Without
/// (`prefer`/`require` alone), the certificate is not checked: libpq's
/// behaviour, these modes protect against listeners, not against someone in
/// the middle. The handshake's signatures are checked either way.
#[derive(Debug)]
struct ChainCheck {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let certificate = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &certificate,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(mode: SslMode, roots: Option<RootCertificates>) -> TlsParams {
        TlsParams { mode, roots }
    }

    fn file(path: &str) -> Option<RootCertificates> {
        Some(RootCertificates::File(path.into()))
    }

    /// Each URL form gives the driver the rest, as written, and the TLS
    /// settings to the connector.
    #[test]
    fn tls_parameters_are_taken_out_of_both_url_forms() {
        for (url, rest, expected) in [
            (
                "postgres://u:p@db/laurel",
                "postgres://u:p@db/laurel",
                params(SslMode::Prefer, None),
            ),
            (
                "postgres://u@db/laurel?sslmode=require",
                "postgres://u@db/laurel",
                params(SslMode::Require, None),
            ),
            (
                "postgresql://u@db:5432/laurel?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem&connect_timeout=3",
                "postgresql://u@db:5432/laurel?application_name=x&connect_timeout=3",
                params(SslMode::VerifyFull, file("/etc/ca dir/ca.pem")),
            ),
            (
                "postgres://u:p%3Fq@db/laurel?sslrootcert=system",
                "postgres://u:p%3Fq@db/laurel",
                params(SslMode::VerifyFull, Some(RootCertificates::System)),
            ),
            (
                // A `?` in the password (before the `@`) is not the query.
                "postgres://u:a?b@db/laurel?sslmode=disable&sslmode=verify-ca&sslrootcert=ca.pem",
                "postgres://u:a?b@db/laurel",
                params(SslMode::VerifyCa, file("ca.pem")),
            ),
            (
                "host=db user=u sslmode = 'verify-full' sslrootcert='/tmp/it\\'s ca.pem' dbname=laurel",
                "host=db user=u   dbname=laurel",
                params(SslMode::VerifyFull, file("/tmp/it's ca.pem")),
            ),
            (
                "sslmode=require host=db",
                "host=db",
                params(SslMode::Require, None),
            ),
            (
                "host=db password='a b sslmode=disable'",
                "host=db password='a b sslmode=disable'",
                params(SslMode::Prefer, None),
            ),
        ] {
            let (got_rest, got) = split_tls_params(url).expect(url);
            assert_eq!((got_rest.as_str(), got), (rest, expected), "{url}");
        }
    }

    #[test]
    fn settings_libpq_refuses_are_refused() {
        for (url, says) in [
            ("postgres://db/x?sslmode=allow", "not supported"),
            ("postgres://db/x?sslmode=verify", "not one of"),
            ("postgres://db/x?sslmode=verify-full", "needs sslrootcert"),
            ("host=db sslmode=verify-ca", "needs sslrootcert"),
            (
                "postgres://db/x?sslmode=require&sslrootcert=system",
                "only with sslmode=verify-full",
            ),
        ] {
            let error = split_tls_params(url).expect_err(url).to_string();
            assert!(error.contains(says), "{url}: {error}");
        }
    }

    #[test]
    fn a_bad_root_file_is_named_with_its_problem() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here").expect("write");
        for (path, says) in [(&missing, "cannot read it"), (&empty, "no usable CA")] {
            let error = connector(&params(
                SslMode::VerifyFull,
                Some(RootCertificates::File(path.clone())),
            ))
            .err()
            .expect("refused")
            .to_string();
            assert!(error.contains(&path.display().to_string()), "{error}");
            assert!(error.contains(says), "{error}");
        }
    }
}
