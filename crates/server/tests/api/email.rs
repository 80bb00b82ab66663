//! Chat and email are one: real SMTP both ways.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const VISITOR_EMAIL: &str = "anna.visitor@example.org";

pub struct MailApp {
    pub app: TestApp,
    pub sink: SmtpSink,
    pub smtp_in: u16,
}

pub async fn spawn_mail_app(window_ms: i64) -> MailApp {
    spawn_mail_app_with(window_ms, |_| {}).await
}

pub async fn spawn_mail_app_with(
    window_ms: i64,
    adjust: impl FnOnce(&mut switchboard_server::Config),
) -> MailApp {
    let sink = SmtpSink::start();
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(data_dir.path(), Some(sink.url())).await;
    config.smtp_in = Some("127.0.0.1:0".parse().unwrap());
    config.notify_window_ms = window_ms;
    config.ingress_secret = Some("test-ingress-secret".into());
    adjust(&mut config);
    let app = start_app(data_dir, config).await;
    let smtp_in = app.server.smtp_in.unwrap().port();
    MailApp { app, sink, smtp_in }
}

pub async fn smtp_send(
    port: u16,
    from: &str,
    to: &str,
    raw: &[u8],
) -> Result<(), lettre::transport::smtp::Error> {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .build();
    let envelope = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
    transport.send_raw(&envelope, raw).await.map(|_| ())
}

pub fn reply_email(
    from: &str,
    to: &str,
    message_id: &str,
    in_reply_to: &str,
    body: &str,
    extra_headers: &str,
) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Re: conversation\r\nMessage-ID: {message_id}\r\nIn-Reply-To: {in_reply_to}\r\n\
         Date: Wed, 25 Nov 2026 15:04:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n{extra_headers}\r\n{body}\r\n"
    )
    .into_bytes()
}

fn header(mail: &ReceivedMail, name: &str) -> String {
    mail.parsed()
        .header_raw(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .trim()
        .to_string()
}

pub fn reply_address(mail: &ReceivedMail) -> String {
    let parsed = mail.parsed();
    parsed
        .reply_to()
        .and_then(|r| r.first())
        .and_then(|a| a.address())
        .unwrap()
        .to_string()
}

async fn conversation_messages(app: &TestApp, conversation: i64) -> Vec<Value> {
    let page: Value = app
        .get(
            &app.admin_token,
            &format!("/conversations/{conversation}/messages"),
        )
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

pub async fn leave_email(app: &TestApp, visitor: &Visitor, email: &str) {
    let response = app
        .http
        .put(app.api("/widget/contact"))
        .header("x-visitor-token", &visitor.token)
        .json(&json!({ "email": email, "name": "Anna" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_lesson_both_ways_over_real_smtp() {
    let MailApp {
        app,
        mut sink,
        smtp_in,
    } = spawn_mail_app(60_000).await;
    let visitor = app.visitor().await;
    leave_email(&app, &visitor, VISITOR_EMAIL).await;
    let first: Value = app
        .visitor_says(&visitor, "Do you ship to Kazan?", "v1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();

    // The admin is not in the app: the notification is emailed at once.
    let note = sink.next().await;
    assert_eq!(note.to, vec![ADMIN_EMAIL.to_string()]);
    assert!(note.subject().contains("Anna"), "{}", note.subject());
    assert!(note.text().contains("Do you ship to Kazan?"));
    assert!(note
        .text()
        .contains("-- Reply above this line to answer in the chat --"));
    let reply_to = reply_address(&note);
    assert!(
        reply_to.starts_with(&format!("reply+c{conversation}-u"))
            && reply_to.ends_with("@switchboard.localhost")
    );
    assert!(
        note.text().contains(&reply_to),
        "the reply address is in the body too"
    );
    assert_eq!(header(&note, "Auto-Submitted"), "auto-generated");
    assert_eq!(header(&note, "X-Auto-Response-Suppress"), "All");
    let root = format!("<conversation.{conversation}@switchboard.localhost>");
    assert_eq!(header(&note, "In-Reply-To"), root);
    assert_eq!(header(&note, "References"), root);
    assert!(header(&note, "Message-ID").ends_with("@switchboard.localhost>"));
    assert!(note.html().contains("Do you ship to Kazan?"));

    // The visitor is on the site, watching the chat... then leaves.
    let mut widget =
        connect(&app.ws_url(&format!("/widget/stream?visitor_token={}", visitor.token))).await;
    next_frame(&mut widget).await;
    drop(widget);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The admin answers from the mailbox, quoting as Gmail does.
    let answer = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<answer-1@mail.example.com>",
        &header(&note, "Message-ID"),
        &format!("Yes, we do: 3 days.\r\n\r\nOn Wed, Nov 25, 2026 at 3:04 PM Switchboard <{reply_to}> wrote:\r\n> Do you ship to Kazan?\r\n"),
        "",
    );
    smtp_send(smtp_in, ADMIN_EMAIL, &reply_to, &answer)
        .await
        .unwrap();
    let messages = conversation_messages(&app, conversation).await;
    let posted = messages.last().unwrap();
    assert_eq!(posted["body"], "Yes, we do: 3 days.");
    assert_eq!(posted["channel"], "email");
    assert_eq!(posted["author"]["kind"], "operator");
    assert_eq!(posted["author"]["name"], "Ada Admin");

    // ...and it reaches the visitor by email (they are not on the site).
    let to_visitor = sink.next().await;
    assert_eq!(to_visitor.to, vec![VISITOR_EMAIL.to_string()]);
    assert!(to_visitor.text().starts_with("Yes, we do: 3 days."));
    assert!(
        to_visitor.parsed().header_raw("Auto-Submitted").is_none(),
        "a person's answer"
    );
    let visitor_reply_to = reply_address(&to_visitor);
    assert!(visitor_reply_to.starts_with(&format!("reply+c{conversation}-v{}", visitor.id)));

    // The visitor replies by email: the operator gets it in the app and by email.
    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    next_frame(&mut ops).await;
    let back = reply_email(
        VISITOR_EMAIL,
        &visitor_reply_to,
        "<visitor-1@example.org>",
        &header(&to_visitor, "Message-ID"),
        "Great, ordering now!\r\n\r\n> Yes, we do: 3 days.\r\n",
        "",
    );
    smtp_send(smtp_in, VISITOR_EMAIL, &visitor_reply_to, &back)
        .await
        .unwrap();
    let live = next_event(&mut ops, "message.created").await;
    assert_eq!(live["data"]["body"], "Great, ordering now!");
    assert_eq!(live["data"]["channel"], "email");
    assert_eq!(live["data"]["author"]["kind"], "visitor");
    // The admin has been answered since the last email, so this is news again,
    // even though they are connected now? No: connected and online means the
    // email waits for the window. Their presence decides; here they are online.
    sink.assert_quiet(Duration::from_millis(500)).await;

    // The widget history keeps the whole correspondence.
    let bodies = app.visitor_history(&visitor).await;
    assert_eq!(
        bodies,
        [
            "Do you ship to Kazan?",
            "Yes, we do: 3 days.",
            "Great, ordering now!"
        ]
    );
}

#[tokio::test]
async fn an_operator_answer_from_the_app_is_emailed_to_an_absent_visitor_only() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(60_000).await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "hello", "v1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    sink.next().await; // the admin's notification
                       // No email address left: nothing to send.
    app.operator_says(&app.admin_token, conversation, "hi there", "o1")
        .await;
    sink.assert_quiet(Duration::from_millis(400)).await;
    // On the site: they read it in the chat.
    leave_email(&app, &visitor, VISITOR_EMAIL).await;
    let mut widget =
        connect(&app.ws_url(&format!("/widget/stream?visitor_token={}", visitor.token))).await;
    next_frame(&mut widget).await;
    app.operator_says(&app.admin_token, conversation, "still there?", "o2")
        .await;
    sink.assert_quiet(Duration::from_millis(400)).await;
    drop(widget);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.operator_says(&app.admin_token, conversation, "we'll email you", "o3")
        .await;
    let mail = sink.next().await;
    assert_eq!(mail.to, vec![VISITOR_EMAIL.to_string()]);
    assert!(mail.text().starts_with("we'll email you"));
    assert!(mail.text().contains("hello"), "history below the separator");
}

#[tokio::test]
async fn follow_ups_are_collected_and_skipped_when_read() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(1_500).await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "one", "1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    assert!(sink.next().await.text().starts_with("one"));
    app.visitor_says(&visitor, "two", "2").await;
    app.visitor_says(&visitor, "three", "3").await;
    // One follow-up with both, after the window.
    let follow_up = sink.next().await;
    let text = follow_up.text();
    assert!(text.starts_with("two\n\nthree"), "{text}");
    sink.assert_quiet(Duration::from_millis(2_000)).await;

    // Silence again: the next one is immediate; a follow-up read in the app is skipped.
    app.visitor_says(&visitor, "four", "4").await;
    assert!(sink.next().await.text().starts_with("four"));
    let five: Value = app
        .visitor_says(&visitor, "five", "5")
        .await
        .json()
        .await
        .unwrap();
    let read = app
        .send_json(
            Method::POST,
            &app.admin_token,
            &format!("/conversations/{conversation}/read"),
            json!({ "message_id": five["id"] }),
        )
        .await;
    assert_eq!(read.status(), StatusCode::NO_CONTENT);
    sink.assert_quiet(Duration::from_millis(2_500)).await;
}

#[tokio::test]
async fn online_members_get_an_email_only_for_what_stays_unread() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(1_000).await;
    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    next_frame(&mut ops).await;
    let visitor = app.visitor().await;
    app.visitor_says(&visitor, "are you there?", "1").await;
    // Not at once: they may see it in the app.
    sink.assert_quiet(Duration::from_millis(600)).await;
    let mail = sink.next().await;
    assert!(mail.text().starts_with("are you there?"));

    // Read in time: no email.
    let m: Value = app
        .visitor_says(&visitor, "hello again", "2")
        .await
        .json()
        .await
        .unwrap();
    app.send_json(
        Method::POST,
        &app.admin_token,
        &format!("/conversations/{}/read", m["conversation_id"]),
        json!({ "message_id": m["id"] }),
    )
    .await;
    sink.assert_quiet(Duration::from_millis(1_800)).await;
    ops.close(None).await.ok();
}

#[tokio::test]
async fn the_email_switch_and_the_assignee_decide_who_is_emailed() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(60_000).await;
    let (op_id, op) = app.onboard(&mut sink, "op@example.com", "operator").await;
    let (_, _analyst) = app.onboard(&mut sink, "an@example.com", "analyst").await;
    app.send_json(
        Method::PUT,
        &app.admin_token,
        "/me/notifications",
        json!({ "sound": true, "email": false }),
    )
    .await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "unassigned", "1")
        .await
        .json()
        .await
        .unwrap();
    let mail = sink.next().await;
    assert_eq!(
        mail.to,
        vec!["op@example.com".to_string()],
        "admins with the switch off and analysts get nothing"
    );
    sink.assert_quiet(Duration::from_millis(300)).await;
    let conversation = first["conversation_id"].as_i64().unwrap();
    app.send_json(
        Method::PUT,
        &op,
        "/me/notifications",
        json!({ "sound": true, "email": true }),
    )
    .await;
    app.send_json(
        Method::PATCH,
        &app.admin_token,
        &format!("/conversations/{conversation}"),
        json!({ "assignee_id": op_id }),
    )
    .await;
    app.operator_says(&op, conversation, "hello", "o").await;
    app.visitor_says(&visitor, "for my operator", "2").await;
    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["op@example.com".to_string()]);
    assert!(mail.text().starts_with("for my operator"));
}

/// Sends a reply to the listener and returns the conversation's message count after.
pub async fn count_after(app: &TestApp, conversation: i64) -> usize {
    tokio::time::sleep(Duration::from_millis(150)).await;
    conversation_messages(app, conversation).await.len()
}

#[tokio::test]
async fn forged_tampered_automatic_duplicate_oversized_and_foreign_mail_is_refused() {
    let MailApp {
        app,
        mut sink,
        smtp_in,
    } = spawn_mail_app(60_000).await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "hello", "v")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    let note = sink.next().await;
    let reply_to = reply_address(&note);
    let baseline = count_after(&app, conversation).await;

    // Forged sender: the right token, someone else's address.
    let forged = reply_email(
        "mallory@evil.example",
        &reply_to,
        "<f1@evil>",
        "<x>",
        "I am the admin",
        "",
    );
    smtp_send(smtp_in, "mallory@evil.example", &reply_to, &forged)
        .await
        .unwrap();
    assert_eq!(count_after(&app, conversation).await, baseline);

    // Tampered token: moved to another conversation, or a flipped signature byte.
    let other = reply_to.replacen(
        &format!("reply+c{conversation}-"),
        &format!("reply+c{}-", conversation + 1),
        1,
    );
    // Refused at RCPT, before any data is sent.
    let tampered = reply_email(ADMIN_EMAIL, &other, "<t1@mail>", "<x>", "moved token", "");
    let refused = smtp_send(smtp_in, ADMIN_EMAIL, &other, &tampered)
        .await
        .expect_err("a moved token is refused at RCPT");
    assert!(refused.is_permanent(), "{refused}");
    let mut flipped = reply_to.clone();
    let at = flipped.find('@').unwrap();
    let last = flipped.as_bytes()[at - 1];
    flipped.replace_range(at - 1..at, if last == b'0' { "1" } else { "0" });
    let tampered = reply_email(
        ADMIN_EMAIL,
        &flipped,
        "<t2@mail>",
        "<x>",
        "flipped token",
        "",
    );
    let refused = smtp_send(smtp_in, ADMIN_EMAIL, &flipped, &tampered)
        .await
        .expect_err("a flipped token is refused at RCPT");
    assert!(refused.is_permanent(), "{refused}");
    assert_eq!(count_after(&app, conversation).await, baseline);

    // Automatic replies.
    for (i, extra) in [
        "Auto-Submitted: auto-replied\r\n",
        "Precedence: bulk\r\n",
        "X-Autoreply: yes\r\n",
    ]
    .iter()
    .enumerate()
    {
        let auto = reply_email(
            ADMIN_EMAIL,
            &reply_to,
            &format!("<auto{i}@mail>"),
            "<x>",
            "I am away until Monday",
            extra,
        );
        smtp_send(smtp_in, ADMIN_EMAIL, &reply_to, &auto)
            .await
            .unwrap();
    }
    let ooo = String::from_utf8(reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<ooo@mail>",
        "<x>",
        "Away",
        "",
    ))
    .unwrap()
    .replace(
        "Subject: Re: conversation",
        "Subject: Out of Office: Re: conversation",
    );
    smtp_send(smtp_in, ADMIN_EMAIL, &reply_to, ooo.as_bytes())
        .await
        .unwrap();
    assert_eq!(count_after(&app, conversation).await, baseline);

    // The same Message-ID twice is posted once.
    let genuine = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<once@mail>",
        "<x>",
        "Posted once",
        "",
    );
    smtp_send(smtp_in, ADMIN_EMAIL, &reply_to, &genuine)
        .await
        .unwrap();
    smtp_send(smtp_in, ADMIN_EMAIL, &reply_to, &genuine)
        .await
        .unwrap();
    assert_eq!(count_after(&app, conversation).await, baseline + 1);

    // Oversized: refused at the end of DATA; a foreign domain: refused at RCPT.
    let huge = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<huge@mail>",
        "<x>",
        &format!("{}\r\n", "x".repeat(998))
            .repeat(switchboard_server::services::inbound_mail::MAX_BYTES / 1000 + 100),
        "",
    );
    let replies = raw_smtp(smtp_in, ADMIN_EMAIL, &reply_to, &huge).await;
    assert!(replies.last().unwrap().starts_with("552"), "{replies:?}");
    let foreign = reply_email(
        ADMIN_EMAIL,
        "someone@gmail.com",
        "<foreign@mail>",
        "<x>",
        "relay me",
        "",
    );
    let replies = raw_smtp(smtp_in, ADMIN_EMAIL, "someone@gmail.com", &foreign).await;
    assert!(replies.iter().any(|r| r.starts_with("550")), "{replies:?}");
    assert_eq!(count_after(&app, conversation).await, baseline + 1);
    let refused: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refused_emails")
        .fetch_one(&app.server.state.db.pool)
        .await
        .unwrap();
    // Forged sender, three automatic replies, out of office (bad tokens never
    // got past RCPT).
    assert!(refused >= 5, "refusals are logged: {refused}");
}

#[tokio::test]
async fn the_http_ingress_takes_raw_mime_with_its_secret() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(60_000).await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "hello", "v")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    let reply_to = reply_address(&sink.next().await);
    let url = app.api("/inbound/email");
    let raw = reply_email(
        ADMIN_EMAIL,
        &reply_to,
        "<ingress@mail>",
        "<x>",
        "Via the ingress",
        "",
    );

    let no_secret = app.http.post(&url).body(raw.clone()).send().await.unwrap();
    assert_eq!(
        expect_error(no_secret, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
    let wrong = app
        .http
        .post(&url)
        .bearer_auth("nope")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let garbage = app
        .http
        .post(&url)
        .bearer_auth("test-ingress-secret")
        .body(vec![0u8, 159, 146, 150])
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(garbage, StatusCode::UNPROCESSABLE_ENTITY).await,
        "malformed_email"
    );

    let ok = app
        .http
        .post(&url)
        .bearer_auth("test-ingress-secret")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    assert_eq!(ok.json::<Value>().await.unwrap()["status"], "posted");
    let again = app
        .http
        .post(&url)
        .bearer_auth("test-ingress-secret")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "duplicate");
    let messages = conversation_messages(&app, conversation).await;
    assert_eq!(messages.last().unwrap()["body"], "Via the ingress");
}

/// Every reply in tests/email-corpus (one per client style and charset) goes in
/// through the ingress and must come out as exactly its expected text.
#[tokio::test]
async fn the_reply_corpus_extracts_what_people_wrote() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(60_000).await;
    let visitor = app.visitor().await;
    app.visitor_says(&visitor, "Hello, is the green tea in stock?", "v")
        .await;
    let reply_to = reply_address(&sink.next().await);
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/email-corpus");
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".eml"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 13, "the corpus is there: {names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let raw = std::fs::read(corpus.join(format!("{name}.eml"))).unwrap();
        let expected =
            std::fs::read_to_string(corpus.join(format!("{name}.expected.txt"))).unwrap();
        let raw = replace_bytes(
            &raw,
            &[
                ("{{FROM}}", ADMIN_EMAIL),
                ("{{REPLY_TO}}", &reply_to),
                ("{{MESSAGE_ID}}", &format!("<corpus-{name}@test.example>")),
                ("{{IN_REPLY_TO}}", "<conversation.1@switchboard.localhost>"),
            ],
        );
        let response = app
            .http
            .post(app.api("/inbound/email"))
            .bearer_auth("test-ingress-secret")
            .body(raw)
            .send()
            .await
            .unwrap();
        let result: Value = response.json().await.unwrap();
        if result["status"] != "posted" {
            failures.push(format!("{name}: {result}"));
            continue;
        }
        let id = result["message_id"].as_i64().unwrap();
        let conversation: Value = app
            .get(&app.admin_token, "/conversations")
            .await
            .json()
            .await
            .unwrap();
        let c = conversation["items"][0]["id"].as_i64().unwrap();
        let posted = conversation_messages(&app, c)
            .await
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap();
        if posted["body"].as_str().unwrap() != expected.trim() {
            failures.push(format!(
                "{name}:\n--- expected\n{}\n--- got\n{}",
                expected.trim(),
                posted["body"].as_str().unwrap()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} replies came out wrong:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
}

fn replace_bytes(raw: &[u8], pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = raw.to_vec();
    for (from, to) in pairs {
        let (from, to) = (from.as_bytes(), to.as_bytes());
        let mut next = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out[i..].starts_with(from) {
                next.extend_from_slice(to);
                i += from.len();
            } else {
                next.push(out[i]);
                i += 1;
            }
        }
        out = next;
    }
    out
}

/// A plain SMTP conversation over a socket; returns the server's reply lines
/// (the final line of each reply). Stops at the first refusal.
pub async fn raw_smtp(port: u16, from: &str, to: &str, data: &[u8]) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut replies = Vec::new();
    async fn reply(
        lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    ) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line;
            }
        }
    }
    replies.push(reply(&mut lines).await);
    for command in [
        "EHLO client.test".to_string(),
        format!("MAIL FROM:<{from}>"),
        format!("RCPT TO:<{to}>"),
        "DATA".to_string(),
    ] {
        write
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        let r = reply(&mut lines).await;
        let refused = r.starts_with('4') || r.starts_with('5');
        replies.push(r);
        if refused {
            return replies;
        }
    }
    write.write_all(data).await.unwrap();
    write.write_all(b"\r\n.\r\n").await.unwrap();
    replies.push(reply(&mut lines).await);
    write.write_all(b"QUIT\r\n").await.unwrap();
    replies
}

/// A script opens conversation after conversation while the team is away:
/// each member gets a handful of emails at once, then one digest with the
/// rest — every message in exactly one email, none twice.
#[tokio::test]
async fn a_flood_of_new_conversations_gives_a_digest_not_an_email_each() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(1500).await;
    for n in 0..9 {
        let visitor = app.visitor().await;
        let response = app
            .visitor_says(&visitor, &format!("flood message {n}"), "f-1")
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let mut immediate = Vec::new();
    let digest = loop {
        let mail = sink.next_to(ADMIN_EMAIL).await;
        if mail.subject().contains("new conversations are waiting") {
            break mail;
        }
        immediate.push(mail);
    };
    assert_eq!(immediate.len(), 5, "a handful at once");
    assert_eq!(digest.subject(), "4 new conversations are waiting");
    let mut bodies: Vec<String> = immediate.iter().map(|m| m.text()).collect();
    bodies.push(digest.text());
    for n in 0..9 {
        let needle = format!("flood message {n}");
        let found = bodies.iter().filter(|b| b.contains(&needle)).count();
        assert_eq!(found, 1, "{needle} in exactly one email");
    }
    assert!(
        digest.text().matches("reply+").count() >= 4,
        "each conversation has its reply address"
    );
    sink.assert_quiet(Duration::from_secs(2)).await;
}
