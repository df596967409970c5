//! Encryption to the server, as libpq's `sslmode` asks for it.
//!
//! Contract: the URL's `sslmode` and `sslrootcert` are read here (and taken out of what the
//! driver parses). `disable` never encrypts; `prefer` (the default) encrypts when the server
//! can and `require` always does, neither checking the server's certificate (libpq's
//! behaviour: the traffic is private from onlookers, not from a server that pretends);
//! `verify-ca` and `verify-full` check it, against `sslrootcert` (a PEM file of CA
//! certificates) when given, else against the system's trust store, and check that it names
//! the host (so `verify-ca` is as strict as `verify-full`). rustls does the TLS.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Disable,
    Prefer,
    Require,
    Verify,
}

#[derive(Debug, Clone)]
pub(super) struct Tls {
    pub mode: Mode,
    pub root: Option<PathBuf>,
}

/// `%XX` escapes decoded (a query value may hold a path).
fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL without `sslmode` and `sslrootcert`, and what they asked for.
pub(super) fn split(url: &str) -> Result<(String, Tls), String> {
    let mut tls = Tls {
        mode: Mode::Prefer,
        root: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), tls));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                tls.mode = match unescape(value).as_str() {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" | "verify-full" => Mode::Verify,
                    other => {
                        return Err(format!(
                            "sslmode={other} is not one of disable, allow, prefer, require, \
                             verify-ca, verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => tls.root = Some(PathBuf::from(unescape(value))),
            _ => kept.push(pair),
        }
    }
    if tls.root.is_some() && tls.mode != Mode::Verify {
        // libpq: a root certificate given means the server is checked against it.
        tls.mode = Mode::Verify;
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, tls))
}

impl Tls {
    /// The driver's side of the mode.
    pub(super) fn driver_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::Verify => SslMode::Require,
        }
    }

    /// The connector that does what the mode says.
    pub(super) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let config = match (&self.mode, &self.root) {
            (Mode::Verify, Some(root)) => {
                let mut roots = rustls::RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(root)
                    .map_err(|e| format!("cannot read sslrootcert {}: {e}", root.display()))?;
                for cert in certs {
                    let cert = cert
                        .map_err(|e| format!("cannot read sslrootcert {}: {e}", root.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("sslrootcert {}: {e}", root.display()))?;
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            (Mode::Verify, None) => {
                use rustls_platform_verifier::BuilderVerifierExt;
                builder
                    .with_platform_verifier()
                    .map_err(|e| format!("cannot load the system's certificates: {e}"))?
                    .with_no_client_auth()
            }
            _ => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

/// Takes any certificate (`prefer`, `require`), still checking that the server holds its key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_options_are_taken_out_of_the_url() {
        let (url, tls) = split("postgres://a@h/db?sslmode=verify-full&application_name=x").unwrap();
        assert_eq!(url, "postgres://a@h/db?application_name=x");
        assert_eq!(tls.mode, Mode::Verify);
        let (url, tls) = split("postgres://a@h/db?sslrootcert=%2Fetc%2Fca.pem").unwrap();
        assert_eq!(url, "postgres://a@h/db");
        assert_eq!(
            (tls.mode, tls.root),
            (Mode::Verify, Some("/etc/ca.pem".into()))
        );
        let (_, tls) = split("postgres://a@h/db").unwrap();
        assert_eq!(tls.mode, Mode::Prefer);
        assert!(split("postgres://a@h/db?sslmode=maybe").is_err());
    }
}
