//! DKIM signing out (issue 11, item 2): every email the outbox sends carries
//! signatures that verify against the records `switchboard-server mail dns`
//! prints — checked by mail-auth and, independently, by dkimpy (Python) —
//! and a changed email no longer verifies. No real DNS anywhere: the verifiers
//! get the printed records.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_server::config::DkimSign;

use crate::helpers::*;

const MAIL_FROM: &str = "Shop Support <support@shop.example>";
const VISITOR_EMAIL: &str = "olga.visitor@example.org";

/// `switchboard-server mail dns` (the real binary) on the given database.
fn mail_dns(database_url: &str, data_dir: &std::path::Path, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(["--database-url", database_url])
        .args(["--mail-from", MAIL_FROM])
        .args(["--reply-domain", "reply.shop.example"])
        .args(extra)
        .args(["mail", "dns"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "mail dns: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The published (uncommented) records of a zone-file text: name → (type,
/// value), TXT character strings joined as a resolver joins them.
fn records(zone: &str) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for line in zone.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let mut fields = line.splitn(5, ' ');
        let name = fields.next().unwrap().trim_end_matches('.').to_string();
        let (_ttl, class, kind) = (fields.next(), fields.next(), fields.next().unwrap());
        assert_eq!(class, Some("IN"), "{line}");
        let rest = fields.next().unwrap();
        let value = if kind == "TXT" {
            rest.split('"').skip(1).step_by(2).collect::<String>()
        } else {
            rest.to_string()
        };
        out.insert(name, (kind.to_string(), value));
    }
    out
}

fn dkim_records(zone: &str) -> HashMap<String, String> {
    records(zone)
        .into_iter()
        .filter(|(name, (kind, _))| kind == "TXT" && name.contains("._domainkey."))
        .map(|(name, (_, value))| (name, value))
        .collect()
}

/// The TXT answers mail-auth gets instead of asking DNS.
struct Zone(HashMap<Box<str>, Txt>);

impl ResolverCache<Box<str>, Txt> for Zone {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.get(name).cloned()
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

/// mail-auth's verdict on each signature: (selector, result).
async fn mail_auth_verify(raw: &[u8], keys: &HashMap<String, String>) -> Vec<(String, DkimResult)> {
    let zone = Zone(
        keys.iter()
            .map(|(name, value)| {
                (
                    format!("{name}.").into_boxed_str(),
                    Txt::from(DomainKey::parse(value.as_bytes())),
                )
            })
            .collect(),
    );
    // No name servers at all: an answer can only come from `zone`.
    let authenticator = MessageAuthenticator::new(
        ResolverConfig::from_parts(None, vec![], vec![]),
        ResolverOpts::default(),
    )
    .unwrap();
    let message = AuthenticatedMessage::parse(raw).expect("a parseable email");
    let outputs = authenticator
        .verify_dkim(Parameters::new(&message).with_txt_cache(&zone))
        .await;
    outputs
        .iter()
        .map(|o| {
            (
                o.signature().map(|s| s.s.clone()).unwrap_or_default(),
                o.result().clone(),
            )
        })
        .collect()
}

fn python() -> String {
    if let Ok(python) = std::env::var("SWITCHBOARD_TEST_PYTHON") {
        return python;
    }
    // scripts/setup.sh installs dkimpy into this environment.
    let venv = "/var/tmp/switchboard-venv/bin/python3";
    if std::path::Path::new(venv).exists() {
        venv.into()
    } else {
        "python3".into()
    }
}

/// dkimpy's verdict: (all signatures pass, its report).
fn dkimpy_verify(
    raw: &[u8],
    keys: &HashMap<String, String>,
    dir: &std::path::Path,
) -> (bool, String) {
    let path = dir.join(format!("dkimpy-{}.eml", rand::random::<u64>()));
    std::fs::write(&path, raw).unwrap();
    let output = Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/dkimpy_verify.py"
        ))
        .arg(&path)
        .args(keys.iter().map(|(name, value)| format!("{name}={value}")))
        .output()
        .expect("python3 runs");
    assert_ne!(
        output.status.code(),
        Some(2),
        "dkimpy is missing (scripts/setup.sh installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

fn all_pass(results: &[(String, DkimResult)]) -> bool {
    !results.is_empty() && results.iter().all(|(_, r)| *r == DkimResult::Pass)
}

fn none_pass(results: &[(String, DkimResult)]) -> bool {
    !results.is_empty() && results.iter().all(|(_, r)| *r != DkimResult::Pass)
}

/// The raw email with `from` replaced by `to` once, in the body.
fn tamper_body(raw: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let body_at = text.find("\r\n\r\n").unwrap();
    let (head, body) = text.split_at(body_at);
    assert!(body.contains(from), "{from:?} not in the body:\n{body}");
    format!("{head}{}", body.replacen(from, to, 1)).into_bytes()
}

async fn spawn_signing_app(sign: DkimSign) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start();
    let app = spawn_app_configured(Some(sink.url()), |config| {
        config.mail_from = MAIL_FROM.into();
        config.reply_domain = "reply.shop.example".into();
        config.dkim.sign = sign;
    })
    .await;
    (app, sink)
}

/// A visitor who left an address writes; returns the conversation id.
async fn visitor_writes(app: &TestApp, body: &str) -> i64 {
    let visitor = app.visitor().await;
    let response = app
        .http
        .put(app.api("/widget/contact"))
        .header("x-visitor-token", &visitor.token)
        .json(&json!({ "email": VISITOR_EMAIL, "name": "Olga" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let message: Value = app
        .visitor_says(&visitor, body, "v1")
        .await
        .json()
        .await
        .unwrap();
    message["conversation_id"].as_i64().unwrap()
}

#[tokio::test]
async fn every_email_is_signed_and_verifies_against_the_records_mail_dns_prints() {
    let (app, mut sink) = spawn_signing_app(DkimSign::Both).await;
    // Russian, a long line, a line starting with a dot: what canonicalization
    // and SMTP dot-stuffing must carry through unchanged.
    let conversation = visitor_writes(
        &app,
        "Здравствуйте! Доставляете ли вы в Казань?\n.точка в начале строки\n\
         A long line that goes on and on and on, well past the seventy-eight \
         characters a mail line should keep to, so that encoders must fold it.",
    )
    .await;
    let notification = sink.next_to(ADMIN_EMAIL).await;
    app.operator_says(&app.admin_token, conversation, "Да, за 3 дня.", "o1")
        .await;
    let answer = sink.next_to(VISITOR_EMAIL).await;
    assert_eq!(
        app.invite(&app.admin_token, "oleg@shop.example", "operator")
            .await
            .status(),
        StatusCode::CREATED
    );
    let invitation = sink.next_to("oleg@shop.example").await;

    let database_url = app.server.state.config.database_url.clone();
    let zone = mail_dns(&database_url, app.data_dir.path(), &[]);
    let keys = dkim_records(&zone);
    assert_eq!(
        keys.keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        [
            "sb1._domainkey.shop.example",
            "sb1e._domainkey.shop.example"
        ]
        .into(),
        "{zone}"
    );
    assert!(keys["sb1._domainkey.shop.example"].starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"));
    assert!(keys["sb1e._domainkey.shop.example"].starts_with("v=DKIM1; k=ed25519; p="));

    for (what, mail) in [
        ("notification", &notification),
        ("answer to the visitor", &answer),
        ("invitation", &invitation),
    ] {
        let signatures = mail.parsed().header_values("DKIM-Signature").count();
        assert_eq!(signatures, 2, "{what}: an RSA and an ed25519 signature");
        let raw_text = String::from_utf8_lossy(&mail.raw);
        assert!(
            raw_text.contains("d=shop.example;"),
            "{what}: d= is the From domain"
        );

        let results = mail_auth_verify(&mail.raw, &keys).await;
        let mut selectors: Vec<_> = results.iter().map(|(s, _)| s.as_str()).collect();
        selectors.sort();
        assert_eq!(selectors, ["sb1", "sb1e"], "{what}");
        assert!(all_pass(&results), "{what}: mail-auth says {results:?}");
        let (ok, report) = dkimpy_verify(&mail.raw, &keys, app.data_dir.path());
        assert!(ok, "{what}: dkimpy says {report}");
        assert_eq!(report.matches(" pass").count(), 2, "{report}");
    }

    // Anything changed on the way fails, in both verifiers.
    let raw = &notification.raw;
    let text = notification.text();
    assert!(text.contains("Казань"), "{text}");
    // (The text parts are quoted-printable: the English words are there as is.)
    let tampered_body = tamper_body(raw, "seventy-eight", "seventy-nine!");
    let results = mail_auth_verify(&tampered_body, &keys).await;
    assert!(none_pass(&results), "a changed body: {results:?}");
    let (ok, report) = dkimpy_verify(&tampered_body, &keys, app.data_dir.path());
    assert!(!ok, "a changed body passes dkimpy: {report}");

    let subject = mail_parser::MessageParser::default()
        .parse(raw)
        .unwrap()
        .header_raw("Subject")
        .unwrap()
        .to_string();
    let tampered_subject = String::from_utf8(raw.clone())
        .unwrap()
        .replacen(&subject, " Urgent: pay the invoice", 1)
        .into_bytes();
    assert!(none_pass(&mail_auth_verify(&tampered_subject, &keys).await));
    assert!(!dkimpy_verify(&tampered_subject, &keys, app.data_dir.path()).0);

    // A second From above ours: From is signed twice (as present and as
    // absent), so the addition is caught.
    let mut second_from = b"From: Bank <security@bank.example>\r\n".to_vec();
    second_from.extend_from_slice(raw);
    assert!(none_pass(&mail_auth_verify(&second_from, &keys).await));
    assert!(!dkimpy_verify(&second_from, &keys, app.data_dir.path()).0);

    // A key that is not the published one: fail, not pass.
    let other_dir = tempfile::tempdir().unwrap();
    let other_zone = mail_dns(
        &format!(
            "sqlite://{}?mode=rwc",
            other_dir.path().join("other.db").display()
        ),
        other_dir.path(),
        &[],
    );
    let other_keys = dkim_records(&other_zone);
    assert_ne!(other_keys, keys, "each database has keys of its own");
    assert!(none_pass(&mail_auth_verify(raw, &other_keys).await));
    assert!(!dkimpy_verify(raw, &other_keys, app.data_dir.path()).0);
}

#[tokio::test]
async fn mail_dns_prints_the_stored_keys_spf_dmarc_and_mx() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("switchboard.db").display()
    );
    // Before any server start: the keys are made and kept.
    let first = mail_dns(
        &db,
        dir.path(),
        &["--public-url", "https://chat.shop.example"],
    );
    let again = mail_dns(
        &db,
        dir.path(),
        &["--public-url", "https://chat.shop.example"],
    );
    assert_eq!(first, again, "the same keys every time");

    let all = records(&first);
    assert_eq!(
        all["reply.shop.example"],
        ("MX".to_string(), "10 chat.shop.example.".to_string())
    );
    let (kind, dmarc) = &all["_dmarc.shop.example"];
    assert_eq!(kind, "TXT");
    assert!(dmarc.starts_with("v=DMARC1; p=quarantine;"), "{dmarc}");
    // No relay configured: the SPF hint is there but commented out, to adapt.
    assert!(first.contains("\"v=spf1 "), "{first}");
    assert!(!all.contains_key("shop.example"), "{first}");
    // Every TXT character string fits DNS's 255 bytes.
    for line in first.lines().filter(|l| l.contains(" TXT ")) {
        assert!(
            line.split('"').skip(1).step_by(2).all(|s| s.len() <= 255),
            "{line}"
        );
    }

    // With a relay, SPF names it; without a public host name, the MX is left
    // for the admin to fill in (commented out).
    let relayed = mail_dns(
        &db,
        dir.path(),
        &["--smtp-out", "smtp://relay.shop.example:587"],
    );
    let relayed_records = records(&relayed);
    assert_eq!(
        relayed_records["shop.example"].1,
        "v=spf1 a:relay.shop.example ~all"
    );
    assert!(
        !relayed_records.contains_key("reply.shop.example"),
        "{relayed}"
    );
    assert!(
        relayed.contains("IN MX 10 <this host's name>."),
        "{relayed}"
    );
    assert_eq!(dkim_records(&relayed), dkim_records(&first));

    // A new selector is a new key pair (rotation); the old one stays stored.
    let rotated = mail_dns(&db, dir.path(), &["--dkim-selector", "sb2"]);
    let rotated_keys = dkim_records(&rotated);
    let first_keys = dkim_records(&first);
    assert_eq!(rotated_keys.len(), 2);
    assert!(rotated_keys.contains_key("sb2._domainkey.shop.example"));
    assert!(rotated_keys.contains_key("sb2e._domainkey.shop.example"));
    assert_ne!(
        rotated_keys["sb2._domainkey.shop.example"],
        first_keys["sb1._domainkey.shop.example"]
    );
    assert_eq!(dkim_records(&mail_dns(&db, dir.path(), &[])), first_keys);

    // One algorithm, or none.
    let rsa_only = dkim_records(&mail_dns(&db, dir.path(), &["--dkim-sign", "rsa"]));
    assert_eq!(rsa_only.len(), 1);
    assert_eq!(
        rsa_only["sb1._domainkey.shop.example"],
        first_keys["sb1._domainkey.shop.example"]
    );
    assert!(dkim_records(&mail_dns(&db, dir.path(), &["--dkim-sign", "off"])).is_empty());

    // A selector that is not a DNS name is refused.
    let bad = Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .args(["--dkim-selector", "sb 1;", "mail", "dns"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--dkim-selector"));
}

#[tokio::test]
async fn one_algorithm_or_none_as_configured() {
    let (app, mut sink) = spawn_signing_app(DkimSign::Ed25519).await;
    visitor_writes(&app, "ed25519 only, please").await;
    let mail = sink.next_to(ADMIN_EMAIL).await;
    let zone = mail_dns(
        &app.server.state.config.database_url,
        app.data_dir.path(),
        &["--dkim-sign", "ed25519"],
    );
    let keys = dkim_records(&zone);
    let results = mail_auth_verify(&mail.raw, &keys).await;
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0], ("sb1e".to_string(), DkimResult::Pass));
    assert!(dkimpy_verify(&mail.raw, &keys, app.data_dir.path()).0);

    let (app, mut sink) = spawn_signing_app(DkimSign::Off).await;
    visitor_writes(&app, "no signature, a relay signs").await;
    let mail = sink.next_to(ADMIN_EMAIL).await;
    assert_eq!(mail.parsed().header_values("DKIM-Signature").count(), 0);
    sink.assert_quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn admins_see_the_same_records_in_settings() {
    let (app, mut sink) = spawn_signing_app(DkimSign::Both).await;
    let body = app.get_json(&app.admin_token, "/mail/dns").await;
    assert_eq!(body["signing_domain"], "shop.example");
    assert_eq!(body["reply_domain"], "reply.shop.example");
    assert_eq!(body["selectors"], json!(["sb1", "sb1e"]));
    let shown: HashMap<String, String> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"].as_str().unwrap().contains("._domainkey."))
        .map(|r| {
            assert_eq!(r["type"], "TXT");
            assert_eq!(r["complete"], true);
            (
                r["name"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let printed = dkim_records(&mail_dns(
        &app.server.state.config.database_url,
        app.data_dir.path(),
        &[],
    ));
    assert_eq!(shown, printed);
    let kinds: Vec<_> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string() + " " + r["type"].as_str().unwrap())
        .collect();
    for expected in [
        "shop.example TXT",
        "_dmarc.shop.example TXT",
        "reply.shop.example MX",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} in {kinds:?}"
        );
    }

    // Colleagues who don't manage the team don't see them.
    let (_, operator) = app
        .onboard(&mut sink, "oleg@shop.example", "operator")
        .await;
    let code = expect_error(app.get(&operator, "/mail/dns").await, StatusCode::FORBIDDEN).await;
    assert_eq!(code, "forbidden");
    expect_error(app.get("", "/mail/dns").await, StatusCode::UNAUTHORIZED).await;
}
