//! Native TLS for the HTTP server (`--tls-cert`, `--tls-key`): rustls with
//! the `ring` provider, a certificate chain and its private key read from
//! PEM files, and the pair read again without a restart when the files
//! change.
//!
//! - [`ServerTls::load`] reads and checks both files before the server
//!   starts: a chain with at least one certificate, a private key rustls can
//!   sign with (PKCS#8, PKCS#1 RSA or SEC1 EC), and a key that belongs to the
//!   chain's first certificate. Every refusal names the file and the reason;
//!   none repeats the files' contents, so no key material reaches a log or a
//!   terminal.
//! - The accept loop ([`crate::connections`]) does the handshake after the
//!   connection caps admitted the connection, bounded by the header timeout,
//!   so a client that opens a handshake and never finishes it holds its place
//!   no longer than one that never sends a request head.
//! - Every handshake asks the [`ServerTls`] for its current pair; while the
//!   server runs, it looks at the files' modification time, size and inode
//!   every [`RELOAD_CHECK_INTERVAL`] (and `laurel serve` on `SIGHUP`), and a
//!   changed pair that loads is used from the next handshake on. A pair that
//!   does not load (a half-written file, a key of another certificate) is
//!   logged and the previous one kept, and tried again when the files change
//!   again. Connections already open keep the certificate they were opened
//!   with.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ParsedCertificate, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// Largest certificate or key file read: a chain of a few certificates is a
/// few kilobytes.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;
/// How often a running server looks at the certificate and key files for a
/// change.
pub const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// The certificate chain and private key files of `--tls-cert`/`--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server's certificate first, then the intermediates.
    pub cert: PathBuf,
    /// PEM: the certificate's private key.
    pub key: PathBuf,
}

/// Why a certificate or key file cannot be used. The text names the file
/// and the reason, never what is in it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {size} bytes; a certificate or key file may have at most {MAX_PEM_BYTES}", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{}: {reason}", path.display())]
    Certificate { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("the private key in {} does not belong to the certificate in {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS settings: {0}")]
    Settings(String),
}

/// The server's TLS: a rustls configuration whose certificate is the
/// current pair read from [`TlsFiles`]. Shared by the accept loop and
/// whatever reloads it.
pub struct ServerTls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Arc<CurrentCertificate>,
    config: Arc<rustls::ServerConfig>,
    /// The files' state when they were last read (loaded or not).
    seen: Mutex<Option<FilesState>>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// What the handshakes read: the pair in use now.
struct CurrentCertificate(RwLock<Arc<CertifiedKey>>);

impl fmt::Debug for CurrentCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentCertificate")
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.0.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

impl ServerTls {
    /// Reads and checks the pair; the error names the file at fault.
    pub fn load(files: TlsFiles) -> Result<ServerTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = files_state(&files)?;
        let key = load_pair(&files, &provider)?;
        let current = Arc::new(CurrentCertificate(RwLock::new(Arc::new(key))));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Settings(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        // The server speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            files,
            provider,
            current,
            config: Arc::new(config),
            seen: Mutex::new(Some(seen)),
        })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Does the handshake of an accepted connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.config))
    }

    /// Reads the pair again if the files changed since they were last read
    /// (or always, with `force`), and uses it from the next handshake on.
    /// `Ok(true)`: a new pair is in use. On an error the previous pair stays
    /// in use, and files that did not change are not read again (unless
    /// forced), so a bad pair is reported once.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let state = files_state(&self.files)?;
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if !force && seen.as_ref() == Some(&state) {
                return Ok(false);
            }
            *seen = Some(state);
        }
        let key = load_pair(&self.files, &self.provider)?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(true)
    }

    /// Checks the files every `every` until dropped, logging what changed.
    pub(crate) async fn watch(self: Arc<Self>, every: Duration) {
        let mut last_error = None;
        loop {
            tokio::time::sleep(every).await;
            let tls = Arc::clone(&self);
            let checked = tokio::task::spawn_blocking(move || tls.reload(false)).await;
            match checked {
                Ok(Ok(true)) => {
                    last_error = None;
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                }
                Ok(Ok(false)) => last_error = None,
                Ok(Err(e)) => {
                    let text = e.to_string();
                    if last_error.as_ref() != Some(&text) {
                        tracing::warn!(error = %text, "TLS certificate not reloaded; the previous one stays in use");
                        last_error = Some(text);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "checking the TLS certificate files failed"),
            }
        }
    }
}

/// What tells that a file changed: modification time, size, inode (a
/// renamed-over or re-linked file is a new inode even within one mtime tick).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FilesState([(Option<SystemTime>, u64, u64); 2]);

fn files_state(files: &TlsFiles) -> Result<FilesState, TlsError> {
    let one = |path: &Path| {
        let meta = std::fs::metadata(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok((meta.modified().ok(), meta.len(), inode))
    };
    Ok(FilesState([one(&files.cert)?, one(&files.key)?]))
}

/// Reads, parses and matches the certificate chain and its key.
fn load_pair(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let certificate_error = |reason: String| TlsError::Certificate {
        path: files.cert.clone(),
        reason,
    };
    ParsedCertificate::try_from(&chain[0])
        .map_err(|e| certificate_error(format!("the first certificate does not parse: {e}")))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Key {
            path: files.key.clone(),
            reason: format!("not a private key rustls can sign with: {e}"),
        })?;
    let pair = CertifiedKey::new(chain, signing_key);
    match pair.keys_match() {
        // ring can name the public key of every key it loads; should it not,
        // the handshake's own signature check is left to tell.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(pair)
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            })
        }
        Err(e) => Err(certificate_error(e.to_string())),
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_bounded(path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate {
            path: path.to_owned(),
            reason: pem_problem(&e),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: path.to_owned(),
            reason: "no certificate in it (a PEM `BEGIN CERTIFICATE` block)".into(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_bounded(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        reason: match e {
            pem::Error::NoItemsFound => "no private key in it (a PEM `BEGIN PRIVATE KEY`, \
                                         `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` block)"
                .into(),
            other => pem_problem(&other),
        },
    })
}

/// What is wrong with a PEM file, in words that quote none of its lines
/// (the key file's lines are the secret).
fn pem_problem(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a malformed PEM BEGIN line".into(),
        pem::Error::Base64Decode(_) => "a PEM block is not valid base64".into(),
        pem::Error::SectionTooLarge => "a PEM block is too large".into(),
        pem::Error::NoItemsFound => "nothing usable in it".into(),
        _ => "not a PEM file".into(),
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let size = bytes.len() as u64;
    if size > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair {
        cert: String,
        key: String,
    }

    fn pair(name: &str) -> Pair {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn write(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert).expect("cert");
        std::fs::write(&files.key, key).expect("key");
        files
    }

    /// Replaces a file as a deployment tool would: a new file renamed over
    /// the old one (a new inode, so the change shows within one mtime tick).
    fn replace(path: &Path, text: &str) {
        let fresh = path.with_extension("new");
        std::fs::write(&fresh, text).expect("write");
        std::fs::rename(&fresh, path).expect("rename");
    }

    fn served(tls: &ServerTls) -> CertificateDer<'static> {
        tls.current.0.read().unwrap().cert[0].clone()
    }

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem")
    }

    /// Each refusal names the file and the problem, and never repeats the
    /// key file's text.
    #[test]
    fn bad_files_are_refused_with_the_file_and_reason() {
        let dir = tempfile::tempdir().expect("dir");
        let good = pair("localhost");
        let other = pair("localhost");
        let secret_line = good.key.lines().nth(1).expect("a base64 line").to_owned();
        let huge = "x".repeat(MAX_PEM_BYTES as usize + 1);
        let garbage_key =
            format!("-----BEGIN PRIVATE KEY-----\n{secret_line}\n-----END PRIVATE KEY-----\n");
        for (cert, key, names, says) in [
            (
                "not a certificate",
                good.key.as_str(),
                "cert.pem",
                "no certificate",
            ),
            (
                good.key.as_str(),
                good.key.as_str(),
                "cert.pem",
                "no certificate",
            ),
            (
                good.cert.as_str(),
                good.cert.as_str(),
                "key.pem",
                "no private key",
            ),
            (good.cert.as_str(), "", "key.pem", "no private key"),
            (
                good.cert.as_str(),
                other.key.as_str(),
                "does not belong",
                "key.pem",
            ),
            (
                good.cert.as_str(),
                garbage_key.as_str(),
                "key.pem",
                "rustls can sign with",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                good.key.as_str(),
                "cert.pem",
                "does not parse",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n",
                good.key.as_str(),
                "cert.pem",
                "no END line",
            ),
            (huge.as_str(), good.key.as_str(), "cert.pem", "at most"),
        ] {
            let files = write(dir.path(), cert, key);
            let error = ServerTls::load(files).expect_err("refused").to_string();
            assert!(error.contains(names), "{error}");
            assert!(error.contains(says), "{error}");
            assert!(!error.contains(&secret_line), "{error}");
        }
        let missing = TlsFiles {
            cert: dir.path().join("absent.pem"),
            key: dir.path().join("key.pem"),
        };
        let error = ServerTls::load(missing).expect_err("refused").to_string();
        assert!(error.contains("absent.pem: cannot read it"), "{error}");
    }

    #[test]
    fn changed_files_are_served_from_the_next_handshake_and_a_bad_change_keeps_the_old_pair() {
        let dir = tempfile::tempdir().expect("dir");
        let first = pair("localhost");
        let files = write(dir.path(), &first.cert, &first.key);
        let tls = ServerTls::load(files.clone()).expect("loads");
        assert_eq!(served(&tls), der(&first.cert));
        assert!(!tls.reload(false).expect("unchanged"), "nothing changed");

        // A certificate whose key has not been written yet: refused once, the
        // old pair stays.
        let second = pair("localhost");
        replace(&files.cert, &second.cert);
        let error = tls.reload(false).expect_err("mismatch").to_string();
        assert!(error.contains("does not belong"), "{error}");
        assert_eq!(served(&tls), der(&first.cert));
        assert!(!tls.reload(false).expect("same files"), "reported once");

        // Then the key: the new pair is used.
        replace(&files.key, &second.key);
        assert!(tls.reload(false).expect("new pair"));
        assert_eq!(served(&tls), der(&second.cert));

        // Forced: read again even though nothing changed.
        assert!(tls.reload(true).expect("forced"));
    }
}
