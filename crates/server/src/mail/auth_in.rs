//! SPF, DKIM and DMARC of every reply that comes in over SMTP (`mail-auth`).
//!
//! The results are recorded on the message; a reply whose From domain asks
//! receivers (DMARC `p=reject` or `p=quarantine`) to refuse mail that fails
//! alignment, and fails it, is refused. Without a DMARC policy the reply
//! still has to come from the person the reply token was made for, with a
//! fresh token (`services::inbound_mail`).
//!
//! DNS comes from the system's resolver, or — in tests, or wherever the
//! records must be fixed — from a zone of TXT records given in the config:
//! then no name server is asked at all.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::{Dmarc, Policy};
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::hickory_resolver::proto::rr::{Name, RData};
use mail_auth::spf::Spf;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, DnsError, MessageAuthenticator, Parameters,
    ResolverCache, SpfResult, Txt,
};

/// TXT records answered from memory. Given a zone, it is authoritative: a
/// name it lacks does not exist (NXDOMAIN), as a real zone would answer.
/// Without one it is empty and not authoritative, so every question goes to
/// the resolver.
#[derive(Default)]
pub struct TxtZone {
    records: HashMap<Box<str>, Txt>,
    authoritative: bool,
}

impl TxtZone {
    /// `name` → the TXT value, parsed by what the name says it is.
    pub fn new(records: &[(String, String)]) -> TxtZone {
        TxtZone {
            authoritative: true,
            records: records
                .iter()
                .filter(|(_, value)| !value.starts_with("MX "))
                .map(|(name, value)| {
                    let name = format!("{}.", name.trim_end_matches('.').to_ascii_lowercase());
                    let txt = if name.contains("._domainkey.") {
                        Txt::from(DomainKey::parse(value.as_bytes()))
                    } else if name.starts_with("_dmarc.") {
                        Txt::from(Dmarc::parse(value.as_bytes()))
                    } else {
                        Txt::from(Spf::parse(value.as_bytes()))
                    };
                    (name.into_boxed_str(), txt)
                })
                .collect(),
        }
    }
}

impl ResolverCache<Box<str>, Txt> for TxtZone {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.records.get(name) {
            Some(txt) => Some(txt.clone()),
            None if self.authoritative => Some(Txt::Error(mail_auth::Error::Dns(
                DnsError::RecordNotFound(ResponseCode::NXDomain),
            ))),
            None => None,
        }
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

pub struct MailAuth {
    authenticator: MessageAuthenticator,
    zone: TxtZone,
    /// The configured zone as given (TXT values, and `MX <pref> <host>`), for
    /// plain lookups; None: DNS.
    raw_zone: Option<Vec<(String, String)>>,
}

/// What the checks found for one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    pub spf: String,
    pub dkim: String,
    pub dmarc: String,
    /// The From domain's DMARC policy, when it publishes one.
    pub policy: Option<String>,
    pub from_domain: String,
    /// DMARC failed and the policy asks to reject or quarantine.
    pub refuse: bool,
}

impl AuthResults {
    /// `spf=pass dkim=pass dmarc=pass (p=reject) header.from=example.com`
    pub fn summary(&self) -> String {
        let policy = self
            .policy
            .as_deref()
            .map(|p| format!(" (p={p})"))
            .unwrap_or_default();
        format!(
            "spf={} dkim={} dmarc={}{policy} header.from={}",
            self.spf, self.dkim, self.dmarc, self.from_domain
        )
    }
}

impl MailAuth {
    /// With the zone given (tests, fixed records) no name server is asked;
    /// otherwise the system's resolver answers.
    pub fn new(zone: Option<&[(String, String)]>) -> MailAuth {
        let no_name_servers = || {
            MessageAuthenticator::new(
                ResolverConfig::from_parts(None, vec![], vec![]),
                ResolverOpts::default(),
            )
            .expect("a resolver without name servers")
        };
        let authenticator = match zone {
            Some(_) => no_name_servers(),
            None => MessageAuthenticator::new_system_conf().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "smtp-in: no system DNS resolver; SPF/DKIM/DMARC results will be temperror");
                no_name_servers()
            }),
        };
        MailAuth {
            authenticator,
            zone: zone.map(TxtZone::new).unwrap_or_default(),
            raw_zone: zone.map(<[_]>::to_vec),
        }
    }

    /// The TXT values published at `name` (each record's strings joined).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        if let Some(zone) = &self.raw_zone {
            return Ok(zone_values(zone, name)
                .filter(|v| !v.starts_with("MX "))
                .cloned()
                .collect());
        }
        match self.authenticator.0.txt_lookup(dns_name(name)?).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The mail exchangers of `name`, lower case, without the trailing dot.
    pub async fn mx(&self, name: &str) -> Result<Vec<String>, String> {
        if let Some(zone) = &self.raw_zone {
            return Ok(zone_values(zone, name)
                .filter_map(|v| v.split_whitespace().nth(2).map(str::to_string))
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect());
        }
        match self.authenticator.0.mx_lookup(dns_name(name)?).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some(
                        mx.exchange
                            .to_lowercase()
                            .to_ascii()
                            .trim_end_matches('.')
                            .to_string(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub async fn check(
        &self,
        raw: &[u8],
        client: IpAddr,
        helo: &str,
        mail_from: &str,
        host: &str,
    ) -> AuthResults {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return AuthResults {
                spf: "none".into(),
                dkim: "none".into(),
                dmarc: "none".into(),
                policy: None,
                from_domain: String::new(),
                refuse: false,
            };
        };
        let a = &self.authenticator;
        let dkim = a
            .verify_dkim(Parameters::new(&message).with_txt_cache(&self.zone))
            .await;
        let mail_from_domain = mail_from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or(helo)
            .to_string();
        let spf = if mail_from.is_empty() {
            a.verify_spf(
                Parameters::new(mail_auth::spf::verify::SpfParameters::verify_ehlo(
                    client, helo, host,
                ))
                .with_txt_cache(&self.zone),
            )
            .await
        } else {
            a.verify_spf(
                Parameters::new(mail_auth::spf::verify::SpfParameters::verify_mail_from(
                    client, helo, host, mail_from,
                ))
                .with_txt_cache(&self.zone),
            )
            .await
        };
        let dmarc = a
            .verify_dmarc(
                Parameters::new(mail_auth::dmarc::verify::DmarcParameters {
                    message: &message,
                    dkim_output: &dkim,
                    dkim2_output: None,
                    rfc5321_mail_from_domain: &mail_from_domain,
                    spf_output: &spf,
                })
                .with_txt_cache(&self.zone),
            )
            .await;
        let policy = match dmarc.policy() {
            Policy::Reject => Some("reject"),
            Policy::Quarantine => Some("quarantine"),
            Policy::None => Some("none"),
            Policy::Unspecified => None,
        };
        let dmarc_result = dmarc.result();
        let dkim_word = if dkim.iter().any(|o| *o.result() == DkimResult::Pass) {
            "pass"
        } else if dkim.is_empty() {
            "none"
        } else {
            "fail"
        };
        AuthResults {
            spf: spf_word(spf.result()).into(),
            dkim: dkim_word.into(),
            dmarc: dmarc_word(&dmarc_result).into(),
            refuse: matches!(dmarc_result, DmarcResult::Fail(_))
                && matches!(policy, Some("reject" | "quarantine")),
            policy: policy.map(str::to_string),
            from_domain: dmarc.domain().to_string(),
        }
    }
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn dmarc_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

fn zone_values<'z>(zone: &'z [(String, String)], name: &str) -> impl Iterator<Item = &'z String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    zone.iter()
        .filter(move |(n, _)| n.trim_end_matches('.').eq_ignore_ascii_case(&name))
        .map(|(_, v)| v)
}

fn dns_name(name: &str) -> Result<Name, String> {
    Name::from_str_relaxed(format!("{}.", name.trim_end_matches('.')))
        .map_err(|e| format!("{name}: {e}"))
}
