//! DKIM signatures on every email we send (RFC 6376; ed25519 per RFC 8463),
//! and the DNS records receivers need to check them (`switchboard-server mail
//! dns`, and the admin's Settings).
//!
//! **Keys.** One RSA-2048 and one ed25519 key per selector, made the first
//! time a node (or `mail dns`) needs them and kept in the settings table, so
//! every node signs with the same keys and `mail dns` prints exactly what the
//! server uses. Several nodes starting at once agree through
//! `settings::get_or_init`. A new `--dkim-selector` gets new keys: that is
//! rotation (publish the new records, switch, withdraw the old ones a few days
//! later).
//!
//! **Two signatures.** By default every email carries both: ed25519 is short
//! and cheap, but not every verifier knows it yet; those skip it and check the
//! RSA one, and a message passes with any one valid signature (RFC 6376 §6.1,
//! RFC 8463 §4 recommends this dual signing). `--dkim-sign rsa|ed25519|off`
//! narrows it (`off` for a relay that signs itself).
//!
//! **When.** At send time, in the outbox sender, not at enqueue:
//! - every email leaves through the outbox, so signing there covers them all
//!   (notifications, answers to visitors, digests, invitations) and no new
//!   kind of email can forget it;
//! - `t=` is the time the email really leaves, also after a relay outage;
//! - after a rotation, queued emails go out with the new key, so the old
//!   record can be withdrawn without stranding the queue;
//! - request handlers never wait for an RSA signature.
//!
//! The signed bytes are not stored: the outbox keeps the unsigned message and
//! scrubs it once sent (`store::outbox::mark_sent`); a retry signs afresh.

use std::fmt::Write as _;

use base64::Engine as _;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{DkimSigner, Done};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
pub use switchboard_protocol::DnsRecord;

use crate::config::{Config, DkimSign};
use crate::db::{now_ms, Db};
use crate::store::settings;

/// Headers we sign. Listed names absent from a message are signed as absent,
/// so they cannot be added later; the ones a reader sees are listed twice
/// ("oversigned", RFC 6376 §8.15), so a second From or Subject cannot be
/// slipped in above ours.
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "From",
    "Reply-To",
    "Reply-To",
    "To",
    "To",
    "Cc",
    "Cc",
    "Subject",
    "Subject",
    "Date",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    Rsa,
    Ed25519,
}

impl Algorithm {
    /// The `k=` tag of the key record.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Algorithm::Rsa => "RSA-2048",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

/// Which algorithms `--dkim-sign` asks for, RSA first.
pub fn algorithms(sign: DkimSign) -> &'static [Algorithm] {
    match sign {
        DkimSign::Both => &[Algorithm::Rsa, Algorithm::Ed25519],
        DkimSign::Rsa => &[Algorithm::Rsa],
        DkimSign::Ed25519 => &[Algorithm::Ed25519],
        DkimSign::Off => &[],
    }
}

/// A key as kept in the settings table.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    algorithm: Algorithm,
    /// PKCS#8 DER, base64.
    private_key: String,
    /// What goes into the record's `p=`: SubjectPublicKeyInfo DER for RSA (the
    /// form opendkim and every verifier know), the raw 32 bytes for ed25519.
    public_key: String,
    created_at: i64,
}

/// One signing key with the selector it is published under.
#[derive(Clone)]
pub struct DkimKey {
    pub algorithm: Algorithm,
    pub selector: String,
    /// Base64, the record's `p=`.
    pub public_key: String,
    private_key: Vec<u8>,
}

impl DkimKey {
    /// The TXT record's value: `v=DKIM1; k=rsa; p=…`.
    pub fn record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.key_type(),
            self.public_key
        )
    }

    /// `<selector>._domainkey.<domain>`.
    pub fn record_name(&self, domain: &str) -> String {
        format!("{}._domainkey.{domain}", self.selector)
    }
}

fn setting_key(algorithm: Algorithm, selector: &str) -> String {
    format!("dkim_key:{}:{selector}", algorithm.key_type())
}

/// The keys `--dkim-sign` asks for, made and stored on first use.
pub async fn load_or_create(db: &Db, config: &Config) -> anyhow::Result<Vec<DkimKey>> {
    let mut keys = Vec::new();
    for &algorithm in algorithms(config.dkim.sign) {
        let selector = match algorithm {
            Algorithm::Rsa => &config.dkim.rsa_selector,
            Algorithm::Ed25519 => &config.dkim.ed25519_selector,
        };
        let name = setting_key(algorithm, selector);
        let stored = match settings::get::<StoredKey>(db, &name).await? {
            Some(stored) => stored,
            None => {
                // RSA key generation takes a while: off the async threads.
                let fresh = tokio::task::spawn_blocking(move || generate(algorithm)).await??;
                let stored = settings::get_or_init(db, &name, &fresh).await?;
                tracing::info!(
                    selector = %selector,
                    algorithm = algorithm.label(),
                    "DKIM key created; publish it: switchboard-server mail dns"
                );
                stored
            }
        };
        anyhow::ensure!(
            stored.algorithm == algorithm,
            "setting {name} holds a {:?} key",
            stored.algorithm
        );
        let engine = base64::engine::general_purpose::STANDARD;
        keys.push(DkimKey {
            algorithm,
            selector: selector.clone(),
            public_key: stored.public_key,
            private_key: engine.decode(stored.private_key)?,
        });
    }
    Ok(keys)
}

fn generate(algorithm: Algorithm) -> anyhow::Result<StoredKey> {
    let (private_der, public) = match algorithm {
        Algorithm::Rsa => {
            use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
            let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
            let public = rsa::RsaPublicKey::from(&private).to_public_key_der()?;
            (
                private.to_pkcs8_der()?.as_bytes().to_vec(),
                public.as_bytes().to_vec(),
            )
        }
        Algorithm::Ed25519 => {
            let der = Ed25519Key::generate_pkcs8().map_err(|e| anyhow::anyhow!("{e}"))?;
            let public = Ed25519Key::from_pkcs8_der(&der)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .public_key();
            (der, public)
        }
    };
    let engine = base64::engine::general_purpose::STANDARD;
    Ok(StoredKey {
        algorithm,
        private_key: engine.encode(private_der),
        public_key: engine.encode(public),
        created_at: now_ms(),
    })
}

/// The signing domain: the domain of `--mail-from`, lower case.
pub fn signing_domain(config: &Config) -> anyhow::Result<String> {
    let mailbox: lettre::message::Mailbox = config
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("--mail-from {:?}: {e}", config.mail_from))?;
    Ok(mailbox.email.domain().trim_end_matches('.').to_lowercase())
}

/// Signs outgoing messages with every configured key.
pub struct Signer {
    domain: String,
    rsa: Option<DkimSigner<RsaKey<Sha256>, Done>>,
    ed25519: Option<DkimSigner<Ed25519Key, Done>>,
}

impl Signer {
    /// Loads (or, on the first start, creates) the keys `config` asks for.
    pub async fn load(db: &Db, config: &Config) -> anyhow::Result<Signer> {
        let domain = signing_domain(config)?;
        Signer::from_keys(domain, &load_or_create(db, config).await?)
    }

    pub fn from_keys(domain: String, keys: &[DkimKey]) -> anyhow::Result<Signer> {
        let mut signer = Signer {
            domain,
            rsa: None,
            ed25519: None,
        };
        for key in keys {
            let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.private_key.as_slice()));
            match key.algorithm {
                Algorithm::Rsa => {
                    let private = RsaKey::<Sha256>::from_key_der(der)
                        .map_err(|e| anyhow::anyhow!("DKIM RSA key: {e}"))?;
                    signer.rsa = Some(
                        DkimSigner::from_key(private)
                            .domain(signer.domain.clone())
                            .selector(key.selector.clone())
                            .headers(SIGNED_HEADERS.iter().copied()),
                    );
                }
                Algorithm::Ed25519 => {
                    let private = Ed25519Key::from_pkcs8_der(&key.private_key)
                        .map_err(|e| anyhow::anyhow!("DKIM ed25519 key: {e}"))?;
                    signer.ed25519 = Some(
                        DkimSigner::from_key(private)
                            .domain(signer.domain.clone())
                            .selector(key.selector.clone())
                            .headers(SIGNED_HEADERS.iter().copied()),
                    );
                }
            }
        }
        Ok(signer)
    }

    /// No signatures (`--dkim-sign off`).
    pub fn off() -> Signer {
        Signer {
            domain: String::new(),
            rsa: None,
            ed25519: None,
        }
    }

    pub fn is_off(&self) -> bool {
        self.rsa.is_none() && self.ed25519.is_none()
    }

    /// The message with a `DKIM-Signature` header per key in front.
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut headers = String::new();
        if let Some(rsa) = &self.rsa {
            let signature = rsa
                .sign(message)
                .map_err(|e| anyhow::anyhow!("DKIM RSA signature: {e}"))?;
            headers.push_str(&signature.to_header());
        }
        if let Some(ed25519) = &self.ed25519 {
            let signature = ed25519
                .sign(message)
                .map_err(|e| anyhow::anyhow!("DKIM ed25519 signature: {e}"))?;
            headers.push_str(&signature.to_header());
        }
        let mut signed = Vec::with_capacity(headers.len() + message.len());
        signed.extend_from_slice(headers.as_bytes());
        signed.extend_from_slice(message);
        Ok(signed)
    }
}

/// What `mail dns` and the Settings show: the records for the signing keys
/// (made now if this runs before the first start), SPF, DMARC and the MX of
/// the reply domain. `mx_host` defaults to the host of `--public-url`.
pub async fn dns_records(
    db: &Db,
    config: &Config,
    mx_host: Option<&str>,
) -> anyhow::Result<Vec<DnsRecord>> {
    let domain = signing_domain(config)?;
    let mut records = Vec::new();
    for key in load_or_create(db, config).await? {
        records.push(DnsRecord {
            name: key.record_name(&domain),
            kind: "TXT".into(),
            value: key.record(),
            purpose: format!(
                "DKIM ({}, selector {}): receivers check the signature of every email we send with this key",
                key.algorithm.label(),
                key.selector
            ),
            complete: true,
        });
    }

    let relay = config.smtp_out.as_deref().and_then(relay_host);
    let (spf, spf_purpose) = match &relay {
        Some(host) => (
            format!("v=spf1 a:{host} ~all"),
            format!(
                "SPF: the hosts that may send mail for {domain}. We send through {host}; \
                 if that is a provider, use the include: it documents instead (e.g. \
                 include:_spf.google.com). If {domain} already has an SPF record, add \
                 the mechanism to it: there must be only one."
            ),
        ),
        None => (
            "v=spf1 mx ~all".to_string(),
            format!(
                "SPF: the hosts that may send mail for {domain}. No --smtp-out relay is \
                 set (the dev mailbox); name the relay's hosts (a:, ip4:) or its include:. \
                 If {domain} already has an SPF record, add to it: there must be only one."
            ),
        ),
    };
    records.push(DnsRecord {
        name: domain.clone(),
        kind: "TXT".into(),
        value: spf,
        purpose: spf_purpose,
        complete: relay.is_some(),
    });

    records.push(DnsRecord {
        name: format!("_dmarc.{domain}"),
        kind: "TXT".into(),
        value: format!("v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:postmaster@{domain}"),
        purpose: format!(
            "DMARC: what receivers do with mail claiming to be from {domain} that passes \
             neither aligned SPF nor DKIM. Our DKIM d= is {domain}, so our mail aligns. \
             If {domain} already has a DMARC record, keep it; if other senders use the \
             domain, start with p=none and read the reports."
        ),
        complete: true,
    });

    let host = mx_host
        .map(|h| h.trim().trim_end_matches('.').to_lowercase())
        .filter(|h| !h.is_empty())
        .or_else(|| config.public_url.as_deref().and_then(public_host));
    records.push(DnsRecord {
        name: config.reply_domain.clone(),
        kind: "MX".into(),
        value: format!("10 {}.", host.as_deref().unwrap_or("<this host's name>")),
        purpose: format!(
            "MX: replies to reply+…@{} come to this server's SMTP listener (port 25 \
             on that host, --smtp-in). Every email to that domain comes here, so use \
             a domain only for replies.",
            config.reply_domain
        ),
        complete: host.is_some(),
    });
    Ok(records)
}

/// The host of an `smtp://`/`smtps://` URL.
fn relay_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.split(':').next()?.trim().to_lowercase();
    (!host.is_empty() && !is_local(&host)).then_some(host)
}

/// The host of `--public-url`, unless it is an address or a local name (no MX
/// can point there).
fn public_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = if authority.starts_with('[') {
        return None;
    } else {
        authority.split(':').next()?.to_lowercase()
    };
    (!host.is_empty() && !is_local(&host) && host.parse::<std::net::IpAddr>().is_err())
        .then_some(host)
}

fn is_local(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host.parse::<std::net::IpAddr>().is_ok()
}

/// What Settings → Mail shows: the same records as `mail dns`.
pub async fn mail_dns(db: &Db, config: &Config) -> anyhow::Result<switchboard_protocol::MailDns> {
    let records = dns_records(db, config, None).await?;
    Ok(switchboard_protocol::MailDns {
        signing_domain: signing_domain(config)?,
        reply_domain: config.reply_domain.clone(),
        selectors: algorithms(config.dkim.sign)
            .iter()
            .map(|a| match a {
                Algorithm::Rsa => config.dkim.rsa_selector.clone(),
                Algorithm::Ed25519 => config.dkim.ed25519_selector.clone(),
            })
            .collect(),
        records,
    })
}

/// The records as zone-file lines with comments, for `mail dns`.
pub fn zone_file(records: &[DnsRecord]) -> String {
    let mut out = String::new();
    for record in records {
        let _ = writeln!(out, "; {}", record.purpose);
        let line = match record.kind.as_str() {
            "TXT" => format!(
                "{}. 3600 IN TXT {}",
                record.name,
                txt_strings(&record.value)
            ),
            _ => format!("{}. 3600 IN {} {}", record.name, record.kind, record.value),
        };
        if record.complete {
            let _ = writeln!(out, "{line}\n");
        } else {
            let _ = writeln!(out, "; (adapt, then publish:) {line}\n");
        }
    }
    out
}

/// A TXT value as zone-file character strings of at most 255 bytes each.
fn txt_strings(value: &str) -> String {
    value
        .as_bytes()
        .chunks(250)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Joins the character strings of a zone-file TXT record back into one value.
pub fn parse_txt_strings(strings: &str) -> String {
    strings
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_values_split_and_join() {
        let value = format!("v=DKIM1; k=rsa; p={}", "A".repeat(392));
        let strings = txt_strings(&value);
        assert!(strings.split('"').all(|s| s.len() <= 255));
        assert_eq!(parse_txt_strings(&strings), value);
    }

    #[test]
    fn hosts_for_spf_and_mx() {
        assert_eq!(
            relay_host("smtps://user:pa:ss@Relay.Example.net:465").as_deref(),
            Some("relay.example.net")
        );
        assert_eq!(relay_host("smtp://127.0.0.1:2525"), None);
        assert_eq!(
            public_host("https://chat.example.com/").as_deref(),
            Some("chat.example.com")
        );
        assert_eq!(public_host("http://127.0.0.1:8080"), None);
        assert_eq!(public_host("http://switchboard.localhost:8080"), None);
    }
}
