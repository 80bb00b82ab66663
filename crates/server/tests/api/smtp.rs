//! Attack tests of the SMTP edge (issue 11): what a hostile or clumsy mail
//! server does to `--smtp-in`, and what it gets. Real SMTP over loopback: raw
//! sockets, lettre, and Python's smtplib for STARTTLS.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use crate::email::*;
use crate::helpers::*;

/// A conversation with an unread visitor message, and the reply address of
/// the notification the admin got about it.
async fn conversation_and_reply_address(mail: &mut MailApp) -> (i64, String) {
    let visitor = mail.app.visitor().await;
    let first: Value = mail
        .app
        .visitor_says(&visitor, "Where is my parcel?", "p-1")
        .await
        .json()
        .await
        .unwrap();
    let note = mail.sink.next_to(ADMIN_EMAIL).await;
    (
        first["conversation_id"].as_i64().unwrap(),
        reply_address(&note),
    )
}

/// A raw SMTP client that reads one reply (multi-line ones whole).
pub struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(port: u16) -> Client {
        Self::from(TcpStream::connect(("127.0.0.1", port)).await.unwrap())
    }

    /// From another loopback address (127.0.0.0/8), as another host would.
    async fn connect_from(source: &str, port: u16) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        Self::from(
            socket
                .connect(format!("127.0.0.1:{port}").parse().unwrap())
                .await
                .unwrap(),
        )
    }

    fn from(stream: TcpStream) -> Client {
        let (read, writer) = stream.into_split();
        Client {
            reader: BufReader::new(read),
            writer,
        }
    }

    pub async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
                .await
                .expect("a reply within 10 s")
                .unwrap_or(0);
            if n == 0 {
                return all; // closed
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    pub async fn say(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }
}

#[tokio::test]
async fn sixty_four_idle_sessions_do_not_block_a_real_reply() {
    let mut mail = spawn_mail_app(60_000).await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    let port = mail.smtp_in;
    // 64 connections that say nothing, from eight other hosts.
    let mut idle = Vec::new();
    for n in 0..64 {
        let mut client = Client::connect_from(&format!("127.0.0.{}", 2 + n % 8), port).await;
        assert!(client.reply().await.starts_with("220"));
        idle.push(client);
    }
    // A real reply goes through at once.
    let started = std::time::Instant::now();
    let raw = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<real@mail>",
        "<x>",
        "It arrived, thanks",
        "",
    );
    smtp_send(port, ADMIN_EMAIL, &reply_to, &raw).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "served in {:?}",
        started.elapsed()
    );
    let messages = mail
        .app
        .get_json(
            &mail.app.admin_token,
            &format!("/conversations/{conversation}/messages"),
        )
        .await;
    assert!(messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["body"] == "It arrived, thanks"));
    // One host cannot take every slot: its 21st session is turned away.
    let mut crowd = Vec::new();
    for _ in 0..20 {
        let mut client = Client::connect_from("127.0.0.50", port).await;
        assert!(client.reply().await.starts_with("220"));
        crowd.push(client);
    }
    let mut one_more = Client::connect_from("127.0.0.50", port).await;
    assert!(one_more.reply().await.starts_with("421"));
    drop(idle);
}

#[tokio::test]
async fn a_client_that_says_nothing_is_cut_off() {
    let mail = spawn_mail_app_with(60_000, |c| {
        c.smtp.idle_timeout = Duration::from_millis(800);
    })
    .await;
    let mut client = Client::connect(mail.smtp_in).await;
    assert!(client.reply().await.starts_with("220"));
    let started = std::time::Instant::now();
    let goodbye = client.reply().await;
    assert!(goodbye.starts_with("421 4.4.2"), "{goodbye}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(client.reply().await, "", "then the connection is closed");
}

#[tokio::test]
async fn a_fifty_megabyte_line_is_cut_off_with_memory_bounded() {
    let mail = spawn_mail_app(60_000).await;
    // As a command: refused after 4 KiB, and the connection closed.
    let mut client = Client::connect(mail.smtp_in).await;
    client.reply().await;
    let line = vec![b'x'; 1024 * 1024];
    let mut written = 0usize;
    for _ in 0..50 {
        if client.writer.write_all(&line).await.is_err() {
            break;
        }
        written += line.len();
    }
    let answer = client.reply().await;
    assert!(answer.starts_with("500 5.5.2"), "{answer}");
    assert!(
        written < 50 * 1024 * 1024,
        "the server read all {written} bytes of one line"
    );

    // Inside DATA: the message is dropped past 10 MiB as it arrives and the
    // sender gets 552 after the final dot; the session goes on.
    let mut mail = mail;
    let (_, reply_to) = conversation_and_reply_address(&mut mail).await;
    let mut client = Client::connect(mail.smtp_in).await;
    client.reply().await;
    assert!(client.say("EHLO big.test").await.starts_with("250"));
    assert!(client
        .say(&format!("MAIL FROM:<{ADMIN_EMAIL}>"))
        .await
        .starts_with("250"));
    assert!(client
        .say(&format!("RCPT TO:<{reply_to}>"))
        .await
        .starts_with("250"));
    assert!(client.say("DATA").await.starts_with("354"));
    client
        .writer
        .write_all(b"From: <admin@example.com>\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..50 {
        client.writer.write_all(&line).await.unwrap();
    }
    client.writer.write_all(b"\r\n.\r\n").await.unwrap();
    let answer = client.reply().await;
    assert!(answer.starts_with("552"), "{answer}");
    assert!(client.say("NOOP").await.starts_with("250"));
    assert!(client.say("QUIT").await.starts_with("221"));
}

#[tokio::test]
async fn forged_reply_addresses_are_refused_at_rcpt_before_any_data() {
    let mut mail = spawn_mail_app(60_000).await;
    let (_, reply_to) = conversation_and_reply_address(&mut mail).await;
    let domain = reply_to.rsplit_once('@').unwrap().1.to_string();
    let mut client = Client::connect(mail.smtp_in).await;
    client.reply().await;
    client.say("EHLO forger.test").await;
    assert!(client
        .say("MAIL FROM:<mallory@evil.example>")
        .await
        .starts_with("250"));
    for forged in [
        format!("reply+c1-u1-000000000000000000000000@{domain}"),
        format!("reply+anything@{domain}"),
        format!("postmaster@{domain}"),
        "someone@gmail.com".to_string(),
        reply_to.replacen("reply+c", "reply+c9", 1),
    ] {
        let answer = client.say(&format!("RCPT TO:<{forged}>")).await;
        assert!(answer.starts_with("550"), "{forged}: {answer}");
    }
    assert!(client.say("DATA").await.starts_with("503"));
    let answer = client.say(&format!("RCPT TO:<{reply_to}>")).await;
    assert!(answer.starts_with("250"), "{answer}");
}

#[tokio::test]
async fn rset_and_a_new_mail_clear_the_envelope() {
    let mut mail = spawn_mail_app(60_000).await;
    let (_, reply_to) = conversation_and_reply_address(&mut mail).await;
    let mut client = Client::connect(mail.smtp_in).await;
    client.reply().await;
    client.say("EHLO c.test").await;
    client.say(&format!("MAIL FROM:<{ADMIN_EMAIL}>")).await;
    assert!(client
        .say(&format!("RCPT TO:<{reply_to}>"))
        .await
        .starts_with("250"));
    assert!(client.say("RSET").await.starts_with("250"));
    assert!(
        client.say("DATA").await.starts_with("503"),
        "RSET dropped the recipients"
    );
    client.say(&format!("MAIL FROM:<{ADMIN_EMAIL}>")).await;
    client.say(&format!("RCPT TO:<{reply_to}>")).await;
    assert!(client
        .say(&format!("MAIL FROM:<{ADMIN_EMAIL}>"))
        .await
        .starts_with("250"));
    assert!(
        client.say("DATA").await.starts_with("503"),
        "a new MAIL starts a new envelope"
    );
}

async fn posted(mail: &MailApp, conversation: i64, body: &str) -> bool {
    for _ in 0..50 {
        let messages = mail
            .app
            .get_json(
                &mail.app.admin_token,
                &format!("/conversations/{conversation}/messages"),
            )
            .await;
        if messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == body)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn starttls_is_negotiated_by_lettre() {
    let mut mail = spawn_mail_app(60_000).await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    // The default certificate is self-signed for the reply domain.
    let tls = TlsParameters::builder("switchboard.localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .unwrap();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(mail.smtp_in)
        .tls(Tls::Required(tls))
        .build();
    let raw = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<tls-lettre@mail>",
        "<x>",
        "Sent over TLS by lettre",
        "",
    );
    let envelope = Envelope::new(
        Some(ADMIN_EMAIL.parse().unwrap()),
        vec![reply_to.parse().unwrap()],
    )
    .unwrap();
    transport.send_raw(&envelope, &raw).await.unwrap();
    assert!(posted(&mail, conversation, "Sent over TLS by lettre").await);
}

#[tokio::test]
async fn starttls_is_negotiated_by_python_smtplib() {
    let mut mail = spawn_mail_app(60_000).await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    let raw = String::from_utf8(reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<tls-python@mail>",
        "<x>",
        "Sent over TLS by Python",
        "",
    ))
    .unwrap();
    let script = r#"
import smtplib, ssl, sys
port, sender, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
message = sys.stdin.buffer.read()
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    s.ehlo("python.test")
    assert s.has_extn("starttls"), "STARTTLS is offered"
    s.starttls(context=context)
    s.ehlo("python.test")
    assert not s.has_extn("starttls"), "not offered twice"
    print(s.sock.version())
    s.sendmail(sender, [rcpt], message)
"#;
    let args = [
        mail.smtp_in.to_string(),
        ADMIN_EMAIL.to_string(),
        reply_to.clone(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(raw.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "smtplib: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.starts_with("TLSv1."), "{version}");
    assert!(posted(&mail, conversation, "Sent over TLS by Python").await);
}

#[tokio::test]
async fn refused_mail_keeps_its_headers_not_its_megabytes_and_is_swept() {
    let mut mail = spawn_mail_app(60_000).await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    // The right token, someone else's From: refused after DATA, logged.
    let body = "x".repeat(76) + "\r\n";
    let raw = reply_email(
        "mallory@evil.example",
        &reply_to,
        "<big-forgery@evil>",
        "<x>",
        &body.repeat(13_000),
        "",
    );
    smtp_send(mail.smtp_in, "mallory@evil.example", &reply_to, &raw)
        .await
        .unwrap();
    assert_eq!(count_after(&mail.app, conversation).await, 1);
    let state = &mail.app.server.state;
    let kept: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT reason, raw FROM refused_emails")
        .fetch_all(&state.db.pool)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    let (reason, stored) = &kept[0];
    assert!(!reason.is_empty());
    assert!(raw.len() > 1_000_000);
    assert!(stored.len() < 20 * 1024, "kept {} bytes", stored.len());
    assert!(String::from_utf8_lossy(stored).contains("Message-ID: <big-forgery@evil>"));
    let later = switchboard_server::db::now_ms() + 31 * 24 * 3600 * 1000;
    let swept = switchboard_server::retention::sweep(state, later)
        .await
        .unwrap();
    assert_eq!(swept.refused_emails, 1);
}

// ---- reply-token lifetime, rotation, revocation -----------------------------

fn token_of(address: &str) -> &str {
    address
        .strip_prefix("reply+")
        .and_then(|a| a.split_once('@'))
        .map(|(t, _)| t)
        .unwrap()
}

#[tokio::test]
async fn an_expired_reply_address_gets_a_polite_bounce() {
    use switchboard_server::domain::reply_token::{self, Recipient, ReplyToken};
    let mut mail = spawn_mail_app(60_000).await;
    let (conversation, fresh) = conversation_and_reply_address(&mut mail).await;
    let state = &mail.app.server.state;
    let admin = mail.app.get_json(&mail.app.admin_token, "/me").await;
    // The same conversation and person, as emailed 100 days ago.
    let hundred_days_ago = switchboard_server::db::now_ms() - 100 * 24 * 3600 * 1000;
    let old_token = reply_token::sign(
        &state.reply_keys.read().unwrap(),
        &ReplyToken {
            conversation_id: conversation,
            recipient: Recipient::User(admin["id"].as_i64().unwrap()),
        },
        hundred_days_ago,
    );
    let domain = fresh.rsplit_once('@').unwrap().1;
    let old = reply_token::address(&old_token, domain);
    let raw = reply_email(
        ADMIN_EMAIL,
        &old,
        "<late@mail>",
        "<x>",
        "Sorry for the delay",
        "",
    );
    let bounce = smtp_send(mail.smtp_in, ADMIN_EMAIL, &old, &raw)
        .await
        .expect_err("an expired address is refused");
    assert!(bounce.is_permanent());
    let text = bounce.to_string();
    assert!(text.contains("expired"), "{text}");
    assert!(text.contains(&mail.app.url), "says where to write: {text}");
    assert_eq!(count_after(&mail.app, conversation).await, 1);
    // The fresh one works.
    let raw = reply_email(ADMIN_EMAIL, &fresh, "<ontime@mail>", "<x>", "On time", "");
    smtp_send(mail.smtp_in, ADMIN_EMAIL, &fresh, &raw)
        .await
        .unwrap();
    assert!(posted(&mail, conversation, "On time").await);
}

#[tokio::test]
async fn a_removed_colleagues_reply_addresses_are_revoked() {
    let mut mail = spawn_mail_app(60_000).await;
    let (operator_id, _) = mail
        .app
        .onboard(&mut mail.sink, "leaver@example.com", "operator")
        .await;
    let visitor = mail.app.visitor().await;
    mail.app
        .visitor_says(&visitor, "Anyone there?", "a-1")
        .await;
    let note = mail.sink.next_to("leaver@example.com").await;
    let address = reply_address(&note);
    let removed = mail
        .app
        .send_json(
            reqwest::Method::DELETE,
            &mail.app.admin_token,
            &format!("/team/{operator_id}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(removed.status(), 204);
    let raw = reply_email(
        "leaver@example.com",
        &address,
        "<after-leaving@mail>",
        "<x>",
        "One last word",
        "",
    );
    let refused = smtp_send(mail.smtp_in, "leaver@example.com", &address, &raw)
        .await
        .expect_err("refused at RCPT");
    assert!(refused.is_permanent(), "{refused}");
}

#[tokio::test]
async fn keys_rotate_and_addresses_from_before_the_upgrade_and_the_rotation_still_work() {
    use hmac::{Hmac, Mac};
    let mut mail = spawn_mail_app(60_000).await;
    let (conversation, current) = conversation_and_reply_address(&mut mail).await;
    assert!(token_of(&current).contains("-k0-"), "{current}");
    let state = mail.app.server.state.clone();
    let admin_id = mail.app.get_json(&mail.app.admin_token, "/me").await["id"]
        .as_i64()
        .unwrap();
    // An address of the first format, as emailed by the previous version:
    // `c<conversation>-u<member>-<96-bit HMAC>` under the key kept since then.
    let legacy_key = state.reply_keys.read().unwrap().keys[0].secret.clone();
    let payload = format!("c{conversation}-u{admin_id}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(legacy_key.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let tag: String = mac.finalize().into_bytes()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let domain = current.rsplit_once('@').unwrap().1.to_string();
    let legacy = format!("reply+{payload}-{tag}@{domain}");

    // A month on, the key rotates; new emails carry the new key.
    let month_later = switchboard_server::db::now_ms() + 31 * 24 * 3600 * 1000;
    assert!(
        switchboard_server::services::reply_keys::rotate_if_due(&state, month_later)
            .await
            .unwrap()
    );
    let signed = state.sign_reply(&switchboard_server::domain::reply_token::ReplyToken {
        conversation_id: conversation,
        recipient: switchboard_server::domain::reply_token::Recipient::User(admin_id),
    });
    assert!(signed.contains("-k1-"), "{signed}");
    for (n, address) in [legacy, current].iter().enumerate() {
        let body = format!("Still works {n}");
        let raw = reply_email(
            ADMIN_EMAIL,
            address,
            &format!("<still{n}@mail>"),
            "<x>",
            &body,
            "",
        );
        smtp_send(mail.smtp_in, ADMIN_EMAIL, address, &raw)
            .await
            .unwrap_or_else(|e| panic!("{address}: {e}"));
        assert!(posted(&mail, conversation, &body).await, "{address}");
    }
}

#[tokio::test]
async fn commands_pipelined_behind_the_final_dot_are_answered_in_order() {
    let mut mail = spawn_mail_app(60_000).await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    let mut client = Client::connect(mail.smtp_in).await;
    client.reply().await;
    let ehlo = client.say("EHLO pipe.test").await;
    assert!(ehlo.contains("PIPELINING"), "{ehlo}");
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    client.say(&format!("MAIL FROM:<{ADMIN_EMAIL}>")).await;
    client.say(&format!("RCPT TO:<{reply_to}>")).await;
    assert!(client.say("DATA").await.starts_with("354"));
    let raw = String::from_utf8(reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<pipelined@mail>",
        "<x>",
        "Pipelined reply",
        "",
    ))
    .unwrap();
    client
        .writer
        .write_all(format!("{raw}\r\n.\r\nQUIT\r\n").as_bytes())
        .await
        .unwrap();
    assert!(client.reply().await.starts_with("250"));
    assert!(client.reply().await.starts_with("221"));
    assert!(posted(&mail, conversation, "Pipelined reply").await);
}

// ---- SPF, DKIM and DMARC of inbound replies ----------------------------------

/// The listener with DNS answered from these TXT records only.
async fn spawn_with_zone(records: &[(&str, &str)]) -> MailApp {
    let zone: Vec<(String, String)> = records
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    spawn_mail_app_with(60_000, move |c| c.dns_txt_override = Some(zone)).await
}

async fn email_auth_of(mail: &MailApp, body: &str) -> Option<String> {
    sqlx::query_scalar("SELECT email_auth FROM messages WHERE body = $1")
        .bind(body)
        .fetch_optional(&mail.app.server.state.db.pool)
        .await
        .unwrap()
        .flatten()
}

#[tokio::test]
async fn a_reply_that_passes_spf_and_dmarc_is_posted_with_its_results() {
    let mut mail = spawn_with_zone(&[
        ("example.com", "v=spf1 ip4:127.0.0.1 -all"),
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
    ])
    .await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    let raw = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<spf-ok@mail>",
        "<x>",
        "Authenticated",
        "",
    );
    smtp_send(mail.smtp_in, ADMIN_EMAIL, &reply_to, &raw)
        .await
        .unwrap();
    assert!(posted(&mail, conversation, "Authenticated").await);
    let results = email_auth_of(&mail, "Authenticated").await.unwrap();
    assert!(results.contains("spf=pass"), "{results}");
    assert!(results.contains("dmarc=pass (p=reject)"), "{results}");
    assert!(results.contains("header.from=example.com"), "{results}");
}

#[tokio::test]
async fn a_reply_failing_dmarc_with_p_reject_is_refused() {
    let mut mail = spawn_with_zone(&[
        // Only the domain's real mail server may send as it; we are not it.
        ("example.com", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
    ])
    .await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    let raw = reply_email(ADMIN_EMAIL, &reply_to, "<spoof@mail>", "<x>", "Spoofed", "");
    smtp_send(mail.smtp_in, ADMIN_EMAIL, &reply_to, &raw)
        .await
        .unwrap();
    assert_eq!(count_after(&mail.app, conversation).await, 1);
    let reason: String = sqlx::query_scalar("SELECT reason FROM refused_emails")
        .fetch_one(&mail.app.server.state.db.pool)
        .await
        .unwrap();
    assert!(reason.starts_with("DMARC"), "{reason}");
    assert!(reason.contains("spf=fail"), "{reason}");
}

#[tokio::test]
async fn without_a_dmarc_policy_only_the_tokens_recipient_may_reply() {
    let mut mail = spawn_with_zone(&[]).await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    // Someone else with the address: refused on the sender check.
    let raw = reply_email(
        "mallory@evil.example",
        &reply_to,
        "<other@evil>",
        "<x>",
        "Not the admin",
        "",
    );
    smtp_send(mail.smtp_in, "mallory@evil.example", &reply_to, &raw)
        .await
        .unwrap();
    assert_eq!(count_after(&mail.app, conversation).await, 1);
    // The recipient, with a fresh token: posted, the results say there was
    // nothing to check.
    let raw = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<nodmarc@mail>",
        "<x>",
        "No policy here",
        "",
    );
    smtp_send(mail.smtp_in, ADMIN_EMAIL, &reply_to, &raw)
        .await
        .unwrap();
    assert!(posted(&mail, conversation, "No policy here").await);
    let results = email_auth_of(&mail, "No policy here").await.unwrap();
    assert!(results.contains("dmarc=none"), "{results}");
}

/// The admin's reply, signed by their own domain (DKIM, ed25519), relayed by
/// a mailing list from the list's server with the list's envelope sender: SPF
/// passes for the list only (not aligned), the intact DKIM signature of the
/// author's domain carries DMARC. A list that rewrites the body breaks the
/// signature, and p=reject then refuses the copy.
#[tokio::test]
async fn a_reply_forwarded_through_a_mailing_list_passes_on_its_dkim_signature() {
    use base64::Engine;
    use mail_auth::common::crypto::Ed25519Key;
    use mail_auth::common::headers::HeaderWriter;
    use mail_auth::dkim::DkimSigner;
    let der = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&der).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    let record = format!("v=DKIM1; k=ed25519; p={public}");
    let mut mail = spawn_with_zone(&[
        // The author's domain sends only from its own server, and says reject.
        ("example.com", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
        ("author._domainkey.example.com", &record),
        // The list's server is the one that connects to us.
        ("lists.example", "v=spf1 ip4:127.0.0.1 -all"),
    ])
    .await;
    let (conversation, reply_to) = conversation_and_reply_address(&mut mail).await;
    let signer = DkimSigner::from_key(Ed25519Key::from_pkcs8_der(&der).unwrap())
        .domain("example.com")
        .selector("author")
        .headers(["From", "To", "Subject", "Message-ID", "Date"]);
    let signed = |body: &str, id: &str| {
        let raw = reply_email(ADMIN_EMAIL, &reply_to, id, "<x>", body, "");
        let signature = signer.sign(&raw).unwrap().to_header();
        let mut out = signature.into_bytes();
        out.extend_from_slice(&raw);
        out
    };
    let intact = signed("Through the list", "<list-1@example.com>");
    smtp_send(mail.smtp_in, "bounces@lists.example", &reply_to, &intact)
        .await
        .unwrap();
    assert!(posted(&mail, conversation, "Through the list").await);
    let results = email_auth_of(&mail, "Through the list").await.unwrap();
    assert!(results.contains("spf=pass"), "{results}");
    assert!(results.contains("dkim=pass"), "{results}");
    assert!(results.contains("dmarc=pass"), "{results}");

    // The list appends its footer: the signature no longer verifies.
    let mut footered = signed("Footered", "<list-2@example.com>");
    footered.extend_from_slice(b"--\r\nThe example list: unsubscribe at ...\r\n");
    smtp_send(mail.smtp_in, "bounces@lists.example", &reply_to, &footered)
        .await
        .unwrap();
    assert_eq!(count_after(&mail.app, conversation).await, 2);
    let reason: String = sqlx::query_scalar("SELECT reason FROM refused_emails")
        .fetch_one(&mail.app.server.state.db.pool)
        .await
        .unwrap();
    assert!(reason.contains("dkim=fail"), "{reason}");
}

// ---- bounces ------------------------------------------------------------------

fn delivery_report(to: &str, failed: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.org\r\nTo: <{to}>\r\n\
Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{failed}@mx.example.org>\r\n\
Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"report\"\r\n\r\n\
--report\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n\
--report\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; mx.example.org\r\n\r\n\
Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--report--\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_bounced_visitor_address_is_marked_and_emailed_no_more_until_changed() {
    let mut mail = spawn_mail_app(60_000).await;
    let visitor = mail.app.visitor().await;
    let first: Value = mail
        .app
        .visitor_says(&visitor, "Email me the invoice", "b-1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    mail.sink.next_to(ADMIN_EMAIL).await;
    leave_email(&mail.app, &visitor, "gone@example.org").await;
    // The visitor left the site: the answer goes by email, with an envelope
    // sender that names them.
    mail.app
        .operator_says(&mail.app.admin_token, conversation, "Here it is", "o-1")
        .await;
    let sent = mail.sink.next_to("gone@example.org").await;
    assert!(sent.from.starts_with("bounce+"), "{}", sent.from);
    // A forged bounce address is refused; the real one takes the report.
    let forged = sent.from.replacen("bounce+c", "bounce+c9", 1);
    let mut client = Client::connect(mail.smtp_in).await;
    client.reply().await;
    client.say("EHLO mx.example.org").await;
    assert!(client.say("MAIL FROM:<>").await.starts_with("250"));
    let answer = client.say(&format!("RCPT TO:<{forged}>")).await;
    assert!(answer.starts_with("550"), "{answer}");
    let envelope = lettre::address::Envelope::new(None, vec![sent.from.parse().unwrap()]).unwrap();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(mail.smtp_in)
        .build();
    transport
        .send_raw(&envelope, &delivery_report(&sent.from, "gone@example.org"))
        .await
        .unwrap();
    let dialog = mail
        .app
        .get_json(
            &mail.app.admin_token,
            &format!("/conversations/{conversation}"),
        )
        .await;
    assert_eq!(dialog["visitor"]["email_bouncing"], true, "{dialog}");
    // Not a reply: nothing posted, nothing kept as refused mail.
    assert_eq!(count_after(&mail.app, conversation).await, 2);
    let refused: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refused_emails")
        .fetch_one(&mail.app.server.state.db.pool)
        .await
        .unwrap();
    assert_eq!(refused, 0);
    // No more email to that address...
    mail.app
        .operator_says(
            &mail.app.admin_token,
            conversation,
            "Did you get it?",
            "o-2",
        )
        .await;
    mail.sink.assert_quiet(Duration::from_millis(800)).await;
    // ...until the visitor gives another.
    leave_email(&mail.app, &visitor, "anna@example.org").await;
    let dialog = mail
        .app
        .get_json(
            &mail.app.admin_token,
            &format!("/conversations/{conversation}"),
        )
        .await;
    assert_eq!(dialog["visitor"]["email_bouncing"], false);
    mail.app
        .operator_says(&mail.app.admin_token, conversation, "Sent again", "o-3")
        .await;
    let resent = mail.sink.next_to("anna@example.org").await;
    assert!(resent.text().starts_with("Sent again"));
}

// ---- Settings → Mail: the DNS check -------------------------------------------

#[tokio::test]
async fn the_dns_check_says_which_records_are_published_missing_or_different() {
    let dir = tempfile::tempdir().unwrap();
    // First start: the DKIM keys are made; read what to publish.
    let config = test_config(dir.path(), None).await;
    let server = switchboard_server::start(config.clone()).await.unwrap();
    switchboard_server::services::accounts::create_admin(
        &server.state,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        Some("Ada"),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let login = |url: String| {
        let http = http.clone();
        async move {
            let body: Value = http
                .post(format!("{url}/api/v1/auth/login"))
                .json(&serde_json::json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["token"].as_str().unwrap().to_string()
        }
    };
    let token = login(server.url()).await;
    let dns: Value = http
        .get(format!("{}/api/v1/mail/dns", server.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.stop();
    let records = dns["records"].as_array().unwrap().clone();
    let named = |part: &str| {
        records
            .iter()
            .find(|r| r["name"].as_str().unwrap().contains(part))
            .unwrap_or_else(|| panic!("a record named *{part}*"))
    };
    let rsa = named("sb1._domainkey.");
    let ed = named("sb1e._domainkey.");
    let dmarc = named("_dmarc.");
    let mx = records.iter().find(|r| r["type"] == "MX").unwrap();
    let s = |v: &Value| v.as_str().unwrap().to_string();

    // The zone as a half-done setup publishes it: the RSA key right, an old
    // ed25519 key, DMARC, no SPF, the MX pointing elsewhere.
    let mut config = config;
    config.dns_txt_override = Some(vec![
        (s(&rsa["name"]), s(&rsa["value"])),
        (
            s(&ed["name"]),
            "v=DKIM1; k=ed25519; p=c29tZSBvbGQga2V5".into(),
        ),
        (s(&dmarc["name"]), "v=DMARC1; p=none".into()),
        (s(&mx["name"]), "MX 10 old-mail.example.".into()),
    ]);
    let server = switchboard_server::start(config).await.unwrap();
    let token = login(server.url()).await;
    let check: Value = http
        .get(format!("{}/api/v1/mail/dns/check", server.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status = |name: &Value, kind: &str| {
        check["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["record"]["name"] == *name && c["record"]["type"] == kind)
            .map(|c| c["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status(&rsa["name"], "TXT"), "ok", "{check}");
    assert_eq!(status(&ed["name"], "TXT"), "different", "{check}");
    assert_eq!(status(&dmarc["name"], "TXT"), "ok", "{check}");
    assert_eq!(status(&mx["name"], "MX"), "different", "{check}");
    let spf = records
        .iter()
        .find(|r| r["type"] == "TXT" && r["value"].as_str().unwrap().starts_with("v=spf1"))
        .unwrap();
    assert_eq!(status(&spf["name"], "TXT"), "missing", "{check}");
    // Admins only.
    let operator_view = http
        .get(format!("{}/api/v1/mail/dns/check", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(operator_view.status(), 401);
    server.stop();
}
