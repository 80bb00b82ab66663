//! STARTTLS for the SMTP listener: the certificate given with
//! `--smtp-tls-cert/--smtp-tls-key`, or a self-signed one for the reply domain
//! made on first start and kept in the data dir, so STARTTLS is always offered
//! (senders use opportunistic TLS and do not check the certificate unless the
//! domain publishes MTA-STS or DANE — then configure a real one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

/// Where the generated pair lives.
fn default_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("smtp-tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The acceptor the listener upgrades connections with.
pub fn acceptor(config: &Config) -> anyhow::Result<TlsAcceptor> {
    let (cert, key) = match &config.smtp.tls {
        Some(pair) => pair.clone(),
        None => {
            let (cert, key) = default_paths(&config.data_dir);
            if !cert.exists() || !key.exists() {
                generate(&config.reply_domain, &cert, &key)?;
            }
            (cert, key)
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .with_context(|| format!("reading the certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    // Several crypto providers are compiled in (lettre, NATS): name ours.
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the SMTP certificate and key do not match")?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

fn generate(domain: &str, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    let names = vec![
        domain.to_string(),
        format!("mx.{domain}"),
        "localhost".into(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .context("generating a self-signed SMTP certificate")?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, certified.cert.pem())?;
    tracing::info!(
        path = %cert_path.display(),
        "smtp-in: generated a self-signed certificate for STARTTLS"
    );
    Ok(())
}

/// The key is readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)?;
    Ok(())
}
