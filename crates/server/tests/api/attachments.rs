//! Files in the correspondence (issue 12): uploads, signed links, limits,
//! retention, and files in email both ways — against the real server.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_server::domain::attachment::{sign, Variant};

use crate::email::{leave_email, reply_address, smtp_send, spawn_mail_app, MailApp};
use crate::helpers::*;

/// Uploads as a visitor; returns the response.
pub async fn visitor_upload(
    app: &TestApp,
    visitor: &Visitor,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.http
        .post(app.api("/widget/attachments"))
        .query(&[("name", name)])
        .header("x-visitor-token", &visitor.token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// Uploads as a colleague; returns the response.
pub async fn colleague_upload(
    app: &TestApp,
    token: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.http
        .post(app.api("/attachments"))
        .query(&[("name", name)])
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn uploaded(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn visitor_sends(app: &TestApp, visitor: &Visitor, body: Value) -> reqwest::Response {
    app.http
        .post(app.api("/widget/messages"))
        .header("x-visitor-token", &visitor.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn download(app: &TestApp, url: &str) -> reqwest::Response {
    app.http.get(url).send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n% Switchboard test invoice\n".to_vec();
    bytes.extend((0..size).map(|i| b'a' + (i % 26) as u8));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

#[tokio::test]
async fn a_visitor_sends_a_png_and_the_operator_gets_the_same_bytes() {
    let (app, _sink) = spawn_app().await;
    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    next_frame(&mut ops).await;
    let visitor = app.visitor().await;
    let png = crate::profile::noisy_png(300_000);
    let file =
        uploaded(visitor_upload(&app, &visitor, "parcel.png", "image/png", png.clone()).await)
            .await;
    assert_eq!(file["name"], "parcel.png");
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(file["size"], png.len());
    let url = file["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/files/", app.url)), "{url}");
    assert!(url.contains("sig=") && url.contains("expires="), "{url}");
    assert!(!url.contains(&visitor.token), "no token in links");

    // Sent with no text: a photo says it all.
    let response = visitor_sends(
        &app,
        &visitor,
        json!({"body": "", "client_id": "photo-1", "attachments": [file["id"]]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["body"], "");
    assert_eq!(message["attachments"][0]["id"], file["id"]);

    // The operator's stream shows it, and its link gives the very bytes.
    let event = next_event(&mut ops, "message.created").await;
    let shown = &event["data"]["attachments"][0];
    assert_eq!(shown["name"], "parcel.png");
    let response = download(&app, shown["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "image/png");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert!(header(&response, "content-disposition").starts_with("inline;"));
    assert_eq!(response.bytes().await.unwrap().to_vec(), png);

    // The preview: a small JPEG.
    let response = download(&app, shown["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "image/jpeg");
    let preview = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert!(preview.width() <= 480 && preview.height() <= 480);

    // History (REST) has it too, for both sides.
    let conversation = message["conversation_id"].as_i64().unwrap();
    let page = app
        .get_json(
            &app.admin_token,
            &format!("/conversations/{conversation}/messages"),
        )
        .await;
    assert_eq!(page["items"][0]["attachments"][0]["size"], png.len());
    let history: Value = app
        .http
        .get(app.api("/widget/messages"))
        .header("x-visitor-token", &visitor.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["items"][0]["attachments"][0]["name"], "parcel.png");

    // A retry of the same send gets the first message back, not a copy.
    let response = visitor_sends(
        &app,
        &visitor,
        json!({"body": "", "client_id": "photo-1", "attachments": [file["id"]]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let again: Value = response.json().await.unwrap();
    assert_eq!(again["id"], message["id"]);
}

#[tokio::test]
async fn an_operator_sends_an_invoice_and_the_visitor_downloads_it() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "Can I have the invoice?", "v1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    let invoice = pdf(40_000);
    let file = uploaded(
        colleague_upload(
            &app,
            &app.admin_token,
            "Счёт 4512.pdf",
            "application/pdf",
            invoice.clone(),
        )
        .await,
    )
    .await;
    assert!(file["thumbnail_url"].is_null());
    let response = app
        .send_json(
            Method::POST,
            &app.admin_token,
            &format!("/conversations/{conversation}/messages"),
            json!({"body": "Here it is.", "client_id": "o1", "attachments": [file["id"]]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = download(&app, file["url"].as_str().unwrap()).await;
    assert_eq!(header(&response, "content-type"), "application/pdf");
    let disposition = header(&response, "content-disposition").to_string();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%204512.pdf"),
        "{disposition}"
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), invoice);
}

#[tokio::test]
async fn html_svg_and_disguised_files_are_downloads_never_pages() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let cases = [
        (
            "page.html",
            "text/html",
            b"<script>alert(document.cookie)</script>".to_vec(),
            "text/html",
        ),
        (
            "logo.svg",
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
            "image/svg+xml",
        ),
        // Claims to be a PNG, is not one: served as bytes, not as an image.
        (
            "fake.png",
            "image/png",
            b"<html><script>alert(1)</script></html>".to_vec(),
            "application/octet-stream",
        ),
    ];
    for (name, declared, bytes, stored) in cases {
        let file =
            uploaded(visitor_upload(&app, &visitor, name, declared, bytes.clone()).await).await;
        assert_eq!(file["content_type"], stored, "{name}");
        assert!(file["thumbnail_url"].is_null(), "{name}");
        let response = download(&app, file["url"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            header(&response, "content-disposition").starts_with("attachment;"),
            "{name} is a download"
        );
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert!(header(&response, "content-security-policy").contains("sandbox"));
        assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
    }
}

#[tokio::test]
async fn links_are_signed_per_file_and_expire() {
    let (app, _sink) = spawn_app().await;
    let alice = app.visitor().await;
    let bob = app.visitor().await;
    let mine =
        uploaded(visitor_upload(&app, &alice, "a.pdf", "application/pdf", pdf(100)).await).await;
    let theirs =
        uploaded(visitor_upload(&app, &bob, "b.pdf", "application/pdf", pdf(200)).await).await;
    let my_url = mine["url"].as_str().unwrap();
    let their_id = theirs["id"].as_i64().unwrap();
    let my_id = mine["id"].as_i64().unwrap();

    // My link's signature does not open another file.
    let forged = my_url.replacen(
        &format!("/files/{my_id}/"),
        &format!("/files/{their_id}/"),
        1,
    );
    let code = expect_error(download(&app, &forged).await, StatusCode::FORBIDDEN).await;
    assert_eq!(code, "forbidden");
    // Nor does a link without its signature, or with a later expiry.
    let unsigned = my_url.split('?').next().unwrap().to_string();
    expect_error(download(&app, &unsigned).await, StatusCode::BAD_REQUEST).await;
    let stretched = my_url.replace("expires=", "expires=9");
    expect_error(download(&app, &stretched).await, StatusCode::FORBIDDEN).await;

    // A correctly signed link past its time is refused.
    let key = &app.server.state.file_link_key;
    let past = switchboard_server::db::now_ms() / 1000 - 60;
    let expired = format!(
        "{}/files/{my_id}/a.pdf?expires={past}&sig={}",
        app.url,
        sign(key, my_id, Variant::Original, past)
    );
    let response = download(&app, &expired).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // Bob cannot send Alice's upload (it is not his): 404, as if absent.
    let response = visitor_sends(
        &app,
        &bob,
        json!({"body": "look", "client_id": "b1", "attachments": [my_id]}),
    )
    .await;
    assert_eq!(
        expect_error(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_change_nothing() {
    let (app, mut sink) = spawn_app_configured_with_sink().await;
    let visitor = app.visitor().await;

    // Over the limit (25 MiB): 413, whether the length is declared or not.
    let big = vec![7u8; 26 * 1024 * 1024];
    let code = expect_error(
        visitor_upload(
            &app,
            &visitor,
            "big.bin",
            "application/octet-stream",
            big.clone(),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(code, "payload_too_large");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(1024 * 1024).map(|c| Ok(c.to_vec())).collect();
    let response = app
        .http
        .post(app.api("/widget/attachments"))
        .query(&[("name", "big.bin")])
        .header("x-visitor-token", &visitor.token)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Nothing of them is left behind.
    let uploads = app.data_dir.path().join("uploads");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0);

    // Empty, nameless, unauthenticated.
    let code = expect_error(
        visitor_upload(&app, &visitor, "empty.txt", "text/plain", Vec::new()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "empty_file");
    let code = expect_error(
        visitor_upload(&app, &visitor, " ../ ", "text/plain", b"x".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "invalid_name");
    let response = app
        .http
        .post(app.api("/widget/attachments?name=x.txt"))
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED).await;

    // A role that does not answer visitors cannot upload.
    let (_, marketer) = app.onboard(&mut sink, "mia@example.com", "marketer").await;
    let code = expect_error(
        colleague_upload(&app, &marketer, "a.txt", "text/plain", b"x".to_vec()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(code, "forbidden");

    // At most ten files a message, each once, each unsent.
    let mut ids = Vec::new();
    for i in 0..11 {
        let file = uploaded(
            visitor_upload(
                &app,
                &visitor,
                &format!("{i}.txt"),
                "text/plain",
                format!("file {i}").into_bytes(),
            )
            .await,
        )
        .await;
        ids.push(file["id"].as_i64().unwrap());
    }
    let code = expect_error(
        visitor_sends(
            &app,
            &visitor,
            json!({"body": "", "client_id": "m1", "attachments": ids}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "too_many_attachments");
    let code = expect_error(
        visitor_sends(
            &app,
            &visitor,
            json!({"body": "x", "client_id": "m2", "attachments": [ids[0], ids[0]]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "duplicate_attachment");
    let code = expect_error(
        visitor_sends(&app, &visitor, json!({"body": "  ", "client_id": "m3"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "empty_body");
    let sent = visitor_sends(
        &app,
        &visitor,
        json!({"body": "", "client_id": "m4", "attachments": [ids[0]]}),
    )
    .await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    // Sent once; another message cannot take it again.
    let code = expect_error(
        visitor_sends(
            &app,
            &visitor,
            json!({"body": "", "client_id": "m5", "attachments": [ids[0]]}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "not_found");
    assert_eq!(app.visitor_history(&visitor).await.len(), 1);
}

async fn spawn_app_configured_with_sink() -> (TestApp, SmtpSink) {
    spawn_app().await
}

#[tokio::test]
async fn the_same_file_is_kept_once_and_unsent_uploads_go_after_a_day() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let bytes = pdf(5_000);
    let a =
        uploaded(visitor_upload(&app, &visitor, "a.pdf", "application/pdf", bytes.clone()).await)
            .await;
    let b =
        uploaded(visitor_upload(&app, &visitor, "b.pdf", "application/pdf", bytes.clone()).await)
            .await;
    assert_ne!(a["id"], b["id"]);
    let stored = || {
        walk(&app.data_dir.path().join("files"))
            .into_iter()
            .filter(|p| p.is_file())
            .count()
    };
    assert_eq!(stored(), 1, "content-addressed: one copy");
    let lone = uploaded(
        visitor_upload(
            &app,
            &visitor,
            "lone.txt",
            "text/plain",
            b"forgotten".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(stored(), 2);

    // `a` is sent; `b` (same bytes) and `lone` never are.
    let sent = visitor_sends(
        &app,
        &visitor,
        json!({"body": "", "client_id": "s1", "attachments": [a["id"]]}),
    )
    .await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    let usage = app.get_json(&app.admin_token, "/attachments/usage").await;
    assert_eq!(usage["files"], 2);

    // A day later the sweep takes the unsent rows; `lone`'s bytes go too,
    // `b`'s stay (they are `a`'s).
    let tomorrow = switchboard_server::db::now_ms() + 25 * 3600 * 1000;
    let swept = switchboard_server::retention::sweep(&app.server.state, tomorrow)
        .await
        .unwrap();
    assert_eq!(swept.unsent_uploads, 2);
    assert_eq!(stored(), 1);
    let response = download(&app, a["url"].as_str().unwrap()).await;
    assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
    expect_error(
        download(&app, lone["url"].as_str().unwrap()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let usage = app.get_json(&app.admin_token, "/attachments/usage").await;
    assert_eq!(usage["files"], 1);
    assert_eq!(usage["bytes"], bytes.len());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// A reply as Gmail sends one with a PDF attached and a picture pasted into
/// the text (multipart/related, `cid:`), names in Russian in both encodings.
fn reply_with_files(from: &str, to: &str, pdf: &[u8], png: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = |bytes: &[u8]| {
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Re: conversation\r\nMessage-ID: <files-1@mail.example.com>\r\n\
Date: Wed, 25 Nov 2026 15:04:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
--mixed\r\nContent-Type: multipart/related; boundary=\"related\"\r\n\r\n\
--related\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
--alt\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHere is the damaged parcel and the invoice.\r\n[image: фото.png]\r\n\r\n\
--alt\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<div>Here is the damaged parcel and the invoice.<br><img src=\"cid:photo@example\"></div>\r\n\
--alt--\r\n\
--related\r\nContent-Type: image/png; name=\"=?UTF-8?B?0YTQvtGC0L4ucG5n?=\"\r\nContent-Disposition: inline; filename=\"=?UTF-8?B?0YTQvtGC0L4ucG5n?=\"\r\n\
Content-Transfer-Encoding: base64\r\nContent-ID: <photo@example>\r\n\r\n{png}\r\n--related--\r\n\
--mixed\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--mixed--\r\n",
        png = b64(png),
        pdf = b64(pdf),
    )
    .into_bytes()
}

#[tokio::test]
async fn files_of_an_emailed_reply_become_the_message_attachments_byte_for_byte() {
    let MailApp {
        app,
        mut sink,
        smtp_in,
    } = spawn_mail_app(60_000).await;
    let visitor = app.visitor().await;
    let visitor_email = "olga.files@example.org";
    leave_email(&app, &visitor, visitor_email).await;
    let first: Value = app
        .visitor_says(&visitor, "My parcel arrived broken", "v1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    sink.next().await; // the admin's notification
                       // The operator answers from the app; the visitor is away: emailed.
    app.operator_says(
        &app.admin_token,
        conversation,
        "Sorry! Please send a photo.",
        "o1",
    )
    .await;
    let to_visitor = sink.next_to(visitor_email).await;
    let reply_to = reply_address(&to_visitor);

    let invoice = pdf(20_000);
    let photo = crate::profile::noisy_png(30_000);
    let raw = reply_with_files(visitor_email, &reply_to, &invoice, &photo);
    smtp_send(smtp_in, visitor_email, &reply_to, &raw)
        .await
        .unwrap();

    let page = app
        .get_json(
            &app.admin_token,
            &format!("/conversations/{conversation}/messages"),
        )
        .await;
    let posted = page["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(posted["channel"], "email");
    assert!(posted["body"]
        .as_str()
        .unwrap()
        .starts_with("Here is the damaged parcel"));
    let files = posted["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{posted}");
    let by_name = |name: &str| {
        files
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {files:?}"))
    };
    let image = by_name("фото.png");
    assert_eq!(image["content_type"], "image/png");
    assert!(image["thumbnail_url"].is_string());
    let got = download(&app, image["url"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), photo);
    let document = by_name("счёт.pdf");
    let got = download(&app, document["url"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), invoice);

    // The operator is emailed the reply with both files attached.
    let note = sink.next_to(ADMIN_EMAIL).await;
    let parsed = note.parsed();
    let mut attached: Vec<(String, Vec<u8>)> = parsed
        .attachments()
        .map(|a| {
            use mail_parser::MimeHeaders;
            (
                a.attachment_name().unwrap_or_default().to_string(),
                a.contents().to_vec(),
            )
        })
        .collect();
    attached.sort();
    let names: Vec<&str> = attached.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["счёт.pdf", "фото.png"]);
    assert!(
        attached[0].1 == invoice && attached[1].1 == photo,
        "the same bytes"
    );
}

#[tokio::test]
async fn an_answer_with_files_is_emailed_attached_or_linked_when_large() {
    let MailApp { app, mut sink, .. } = spawn_mail_app(60_000).await;
    let visitor = app.visitor().await;
    let visitor_email = "ivan.files@example.org";
    leave_email(&app, &visitor, visitor_email).await;
    let first: Value = app
        .visitor_says(&visitor, "Send me the manual please", "v1")
        .await
        .json()
        .await
        .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    sink.next().await;
    let send = |client_id: &'static str, ids: Vec<Value>| {
        let app = &app;
        async move {
            let response = app
                .send_json(
                    Method::POST,
                    &app.admin_token,
                    &format!("/conversations/{conversation}/messages"),
                    json!({"body": "The manual", "client_id": client_id, "attachments": ids}),
                )
                .await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
    };

    // Small: attached.
    let manual = pdf(50_000);
    let file = uploaded(
        colleague_upload(
            &app,
            &app.admin_token,
            "manual.pdf",
            "application/pdf",
            manual.clone(),
        )
        .await,
    )
    .await;
    send("o1", vec![file["id"].clone()]).await;
    let mail = sink.next_to(visitor_email).await;
    let parsed = mail.parsed();
    let parts: Vec<Vec<u8>> = parsed
        .attachments()
        .map(|a| a.contents().to_vec())
        .collect();
    assert!(parts == vec![manual], "the manual, attached as it is");
    assert!(mail.text().contains("manual.pdf"));

    // Over 10 MiB in all: linked, and the link works.
    let large = pdf(11 * 1024 * 1024);
    let file = uploaded(
        colleague_upload(
            &app,
            &app.admin_token,
            "scan.pdf",
            "application/pdf",
            large.clone(),
        )
        .await,
    )
    .await;
    send("o2", vec![file["id"].clone()]).await;
    let mail = sink.next_to(visitor_email).await;
    assert_eq!(mail.parsed().attachments().count(), 0);
    let text = mail.text();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/files/"))
        .unwrap_or_else(|| panic!("a link in {text}"));
    let response = download(&app, link).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len(), large.len());
}
