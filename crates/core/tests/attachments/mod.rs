//! Files both ways and search, against the real server: uploads streamed from a
//! path with progress, messages with files only, downloads to a path and to open,
//! the outbox keeping queued files across the server's absence and a restart and
//! sending each message once, files over the limit, and search by other word forms.

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard_core::{CoreEvent, Upload, UploadState};
use switchboard_protocol::{Attachment, AuthorKind};

use crate::support::*;

const PNG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../icons/128x128.png");

/// `len` bytes that look like a PDF (the server keeps bytes as they are).
fn pdf_bytes(len: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut b = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut b);
    b[..8].copy_from_slice(b"%PDF-1.7");
    b
}

async fn get_bytes(server: &Server, url: &str) -> reqwest::Response {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", server.url)
    };
    reqwest::get(url).await.unwrap()
}

fn done(u: &Upload) -> Option<&Attachment> {
    match &u.state {
        UploadState::Done { attachment } => Some(attachment),
        _ => None,
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("files")))
        .collect()
}

/// The operator attaches a picture and a 3 MB PDF from disk (the originals then
/// move away), sees them upload with progress, sends them with no text; the visitor
/// gets one message with both, byte for byte. The operator saves the PDF to a path
/// and gets a copy of the picture to open; a script from the visitor is only saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_upload_from_disk_with_progress_and_go_with_a_message() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let events = record(&core);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();
    let visitor = Visitor::new(&server).await;
    let cid = visitor
        .say("can you send the invoice?")
        .await
        .conversation_id;
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;

    let desk = tempfile::tempdir().unwrap();
    let png_path = desk.path().join("screenshot.png");
    let pdf_path = desk.path().join("Счёт 4512.pdf");
    let png = std::fs::read(PNG).unwrap();
    let pdf = pdf_bytes(3 * 1024 * 1024 + 17);
    std::fs::write(&png_path, &png).unwrap();
    std::fs::write(&pdf_path, &pdf).unwrap();

    let ups = s
        .attach_paths(&[png_path.clone(), pdf_path.clone()])
        .await
        .unwrap();
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[0].name, "screenshot.png");
    assert_eq!(ups[0].content_type, "image/png");
    assert_eq!(ups[1].name, "Счёт 4512.pdf");
    assert_eq!(ups[1].content_type, "application/pdf");
    assert_eq!(ups[1].size, pdf.len() as i64);
    // the user tidies the desktop at once: the app has its own copies
    std::fs::remove_file(&png_path).unwrap();
    std::fs::remove_file(&pdf_path).unwrap();
    let ids: Vec<String> = ups.iter().map(|u| u.local_id.clone()).collect();
    eventually("both files uploaded", 30, || {
        s.uploads(&ids).iter().all(|u| done(u).is_some())
    })
    .await;
    let pdf_id = ids[1].clone();
    let progress: Vec<i64> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            CoreEvent::Upload { upload } if upload.local_id == pdf_id => match upload.state {
                UploadState::Uploading { sent } => Some(sent),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 3, "progress events: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(*progress.last().unwrap(), pdf.len() as i64);
    let uploaded = s.uploads(&ids);
    let png_att = done(&uploaded[0]).unwrap().clone();
    assert!(png_att.thumbnail_url.is_some(), "{png_att:?}");
    assert!(done(&uploaded[1]).unwrap().thumbnail_url.is_none());

    // files only, no text
    let item = s.send_message(cid, "", &ids).unwrap();
    assert_eq!(item.files.len(), 2);
    eventually("the outbox to drain", 30, || s.outbox().is_empty()).await;
    let seen = visitor.messages().await;
    let sent: Vec<_> = seen
        .iter()
        .filter(|m| m.author.kind == AuthorKind::Operator)
        .collect();
    assert_eq!(sent.len(), 1, "{seen:?}");
    let m = sent[0];
    assert_eq!(m.body, "");
    assert_eq!(m.client_id.as_deref(), Some(item.client_id.as_str()));
    let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["screenshot.png", "Счёт 4512.pdf"]);
    for (a, bytes) in m.attachments.iter().zip([&png, &pdf]) {
        let r = get_bytes(&server, &a.url).await;
        assert!(r.status().is_success(), "{} {}", a.url, r.status());
        assert_eq!(&r.bytes().await.unwrap()[..], &bytes[..], "{}", a.name);
    }
    // the copies waiting to be sent are gone once the server has the message
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
    // and the dialog in the app shows the message with its files
    let cached = s.cached_messages(cid);
    let mine = cached
        .items
        .iter()
        .find(|x| x.client_id.as_deref() == Some(item.client_id.as_str()))
        .expect("the sent message in the cache");
    assert_eq!(mine.attachments.len(), 2);

    // save the PDF where the operator chose, streamed, with progress
    let pdf_att = m.attachments[1].clone();
    let dest = desk.path().join("saved").join("invoice.pdf");
    let n = s.save_attachment(cid, pdf_att.id, &dest).await.unwrap();
    assert_eq!(n, pdf.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), pdf);
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        CoreEvent::Download { attachment_id, received, .. }
            if *attachment_id == pdf_att.id && *received == pdf.len() as i64
    )));
    // no temporary file is left beside it
    assert_eq!(
        std::fs::read_dir(dest.parent().unwrap()).unwrap().count(),
        1
    );

    // a copy to open with the OS, fetched once
    let copy = s.attachment_copy(cid, png_att.id).await.unwrap();
    assert_eq!(std::fs::read(&copy).unwrap(), png);
    assert!(copy.ends_with("screenshot.png"), "{copy:?}");
    let modified = std::fs::metadata(&copy).unwrap().modified().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = s.attachment_copy(cid, png_att.id).await.unwrap();
    assert_eq!(again, copy);
    assert_eq!(
        std::fs::metadata(&again).unwrap().modified().unwrap(),
        modified
    );

    // a visitor's script is saved, never opened straight away
    let script = visitor
        .upload(
            "../run me.sh",
            "text/x-sh",
            b"#!/bin/sh\necho hi\n".to_vec(),
        )
        .await;
    let with_script = visitor.say_with("here is the script", &[script.id]).await;
    eventually("the visitor's file in the app", 20, || {
        s.cached_messages(cid)
            .items
            .iter()
            .any(|x| x.id == with_script.id)
    })
    .await;
    let refused = s.attachment_copy(cid, script.id).await.unwrap_err();
    assert_eq!(refused.code(), "risky_file", "{refused:?}");
    let dest = desk.path().join("script.sh");
    s.save_attachment(cid, script.id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"#!/bin/sh\necho hi\n");
    core.stop().await;
}

/// The server is away: the operator attaches a file (its upload waits), sends a
/// message with it, deletes the original and closes the app. The server and the app
/// come back: the message goes once, with the file, byte for byte. Then a crash
/// after the send but before the outbox was written: the same message goes again
/// with the same client_id and the same (now used) upload, and the server answers
/// with the first message: still one copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_files_survive_the_server_away_and_a_restart_and_go_once() {
    let mut server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let service = unique("sb-test");
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();
    let visitor = Visitor::new(&server).await;
    let cid = visitor.say("where is my parcel?").await.conversation_id;
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;

    server.stop().await;
    eventually("offline", 60, || !s.is_online()).await;
    let desk = tempfile::tempdir().unwrap();
    let path = desk.path().join("tracking.pdf");
    let pdf = pdf_bytes(200_000);
    std::fs::write(&path, &pdf).unwrap();
    let up = s.attach_paths(std::slice::from_ref(&path)).await.unwrap();
    let id = up[0].local_id.clone();
    eventually("the upload waiting for the server", 30, || {
        matches!(
            &s.uploads(std::slice::from_ref(&id))[0].state,
            UploadState::Waiting { reason: Some(r) } if r == "offline"
        )
    })
    .await;
    let item = s
        .send_message(
            cid,
            "the tracking number is inside",
            std::slice::from_ref(&id),
        )
        .unwrap();
    assert!(s.flush_outbox().await.unwrap_err().is_network());
    assert_eq!(s.outbox()[0].retrying.as_deref(), Some("offline"));
    std::fs::remove_file(&path).unwrap();
    core.stop().await;
    drop(s);
    drop(core);
    let outbox = std::fs::read_to_string(
        walk(dir.path())
            .into_iter()
            .find(|p| p.ends_with("outbox.json"))
            .unwrap(),
    )
    .unwrap();
    assert!(outbox.contains(&id), "{outbox}");
    assert_eq!(files_in(dir.path()).len(), 1, "the queued copy is on disk");

    server.restart().await;
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    eventually("the outbox to drain", 60, || s.outbox().is_empty()).await;
    let seen = visitor.messages().await;
    let copies: Vec<_> = seen
        .iter()
        .filter(|m| m.body == "the tracking number is inside")
        .collect();
    assert_eq!(copies.len(), 1, "{seen:?}");
    assert_eq!(
        copies[0].client_id.as_deref(),
        Some(item.client_id.as_str())
    );
    assert_eq!(copies[0].attachments.len(), 1);
    let att = copies[0].attachments[0].clone();
    assert_eq!(att.name, "tracking.pdf");
    let got = get_bytes(&server, &att.url).await.bytes().await.unwrap();
    assert_eq!(&got[..], &pdf[..]);
    assert!(files_in(dir.path()).is_empty());

    // a crash after the send, before the outbox was written
    let cache_dir = s.cache().dir().to_path_buf();
    core.stop().await;
    drop(s);
    let mut replay = item.clone();
    replay.files[0].uploaded = Some(att.clone());
    replay.files[0].uploaded_at = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    std::fs::create_dir_all(cache_dir.join("files")).unwrap();
    std::fs::write(cache_dir.join("files").join(&id), &pdf).unwrap();
    std::fs::write(
        cache_dir.join("outbox.json"),
        serde_json::to_vec(&vec![replay]).unwrap(),
    )
    .unwrap();
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    eventually("the outbox to drain again", 60, || s.outbox().is_empty()).await;
    let seen = visitor.messages().await;
    assert_eq!(
        seen.iter()
            .filter(|m| m.body == "the tracking number is inside")
            .count(),
        1,
        "{seen:?}"
    );
    assert!(s.outbox().iter().all(|i| i.failed.is_none()));
    assert!(files_in(dir.path()).is_empty());

    // an upload the server no longer has (deleted unsent after a day; here one it
    // never had): the copy is uploaded again and the message goes, once
    core.stop().await;
    drop(s);
    let mut stale = item.clone();
    stale.client_id = "0f6d6d0e-5b7e-4a8e-9d6c-7d1c1e0a9b42".into();
    stale.body = "sent after a long while".into();
    stale.files[0].uploaded = Some(Attachment {
        id: 987_654_321,
        ..att.clone()
    });
    std::fs::write(cache_dir.join("files").join(&id), &pdf).unwrap();
    std::fs::write(
        cache_dir.join("outbox.json"),
        serde_json::to_vec(&vec![stale]).unwrap(),
    )
    .unwrap();
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    eventually("the outbox to drain a third time", 60, || {
        s.outbox().is_empty()
    })
    .await;
    let seen = visitor.messages().await;
    let late: Vec<_> = seen
        .iter()
        .filter(|m| m.body == "sent after a long while")
        .collect();
    assert_eq!(late.len(), 1, "{seen:?}");
    assert_eq!(late[0].attachments.len(), 1);
    assert_ne!(late[0].attachments[0].id, 987_654_321);
    let got = get_bytes(&server, &late[0].attachments[0].url)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &pdf[..]);
    assert!(files_in(dir.path()).is_empty());
    core.stop().await;
}

/// A server that takes files up to 1 MB: a 2 MB file is refused with the server's
/// reason (not taken for a lost connection and retried forever), can be removed,
/// and a message sent with it anyway fails with the file's name and keeps its text
/// until discarded. An empty file is refused before anything is copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_limit_is_refused_with_the_reason() {
    let server = Server::start_with("127.0.0.1:0", &["--max-attachment", "1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();
    let visitor = Visitor::new(&server).await;
    let cid = visitor.say("a video of the damage?").await.conversation_id;
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;

    let desk = tempfile::tempdir().unwrap();
    let empty = desk.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(
        s.attach_paths(&[empty]).await.unwrap_err().code(),
        "invalid"
    );
    assert!(files_in(dir.path()).is_empty());

    let big = desk.path().join("video.mp4");
    std::fs::write(&big, vec![7u8; 2 * 1024 * 1024]).unwrap();
    let up = s.attach_paths(&[big]).await.unwrap();
    let id = up[0].local_id.clone();
    eventually("the server's refusal", 30, || {
        matches!(
            &s.uploads(std::slice::from_ref(&id))[0].state,
            UploadState::Failed { .. }
        )
    })
    .await;
    let UploadState::Failed { code, message } = &s.uploads(std::slice::from_ref(&id))[0].state
    else {
        unreachable!()
    };
    assert_eq!(code, "payload_too_large", "{message}");

    // sent anyway: the message fails, naming the file, and keeps its text
    let item = s
        .send_message(cid, "see the video", std::slice::from_ref(&id))
        .unwrap();
    eventually("the message marked failed", 30, || {
        s.outbox()
            .iter()
            .any(|i| i.client_id == item.client_id && i.failed.is_some())
    })
    .await;
    let failed = s.outbox()[0].failed.clone().unwrap();
    assert!(failed.contains("video.mp4"), "{failed}");
    assert!(
        s.remove_upload(&id).is_err(),
        "a queued file is removed with its message"
    );
    s.retry_outbox(&item.client_id, true).unwrap();
    assert!(s.outbox().is_empty());
    assert!(files_in(dir.path()).is_empty());

    // a composer file removed before sending: its copy goes too
    let small = desk.path().join("photo.png");
    std::fs::copy(PNG, &small).unwrap();
    let up = s.attach_paths(&[small]).await.unwrap();
    assert_eq!(files_in(dir.path()).len(), 1);
    s.remove_upload(&up[0].local_id).unwrap();
    assert!(files_in(dir.path()).is_empty());
    assert!(s.uploads(&[up[0].local_id.clone()]).is_empty());
    assert!(visitor
        .messages()
        .await
        .iter()
        .all(|m| m.author.kind == AuthorKind::Visitor));

    // a name longer than the server takes (255) is shortened first, keeping the extension
    let long = format!("{}.txt", "отчёт ".repeat(50));
    let up = s.attach_bytes(&long, b"quarterly numbers").await.unwrap();
    assert_eq!(up.name.chars().count(), 200);
    eventually("the long-named file uploaded", 30, || {
        done(&s.uploads(std::slice::from_ref(&up.local_id))[0])
            .is_some_and(|a| a.name.ends_with(".txt") && a.name.chars().count() == 200)
    })
    .await;
    core.stop().await;
}

/// Search finds "заказом" for "заказ" and "ordered" for "order", the visitor by
/// name, pages with `next` without repeats, and opening a hit far back in a long
/// dialog fetches its history back to the found message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_other_word_forms_and_opens_at_the_hit() {
    let server = Server::start().await;
    let (_dir, core, s) = admin_online(&server).await;
    let visitor = Visitor::new(&server).await;
    visitor.contact("Мария Петрова", "maria@example.net").await;
    let hit = visitor.say("Что с моим заказом 4512?").await;
    let cid = hit.conversation_id;
    let english = visitor.say("I ordered a lamp last week").await;
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;
    // a long answer history after it: the hit is several pages back
    for n in 0..70 {
        s.send_message(cid, &format!("Проверяю заказ, шаг {n}"), &[])
            .unwrap();
    }
    eventually("the answers sent", 60, || s.outbox().is_empty()).await;

    // newest first: the visitor's question comes after the 70 answers, pages on
    let is_hit =
        |h: &switchboard_protocol::SearchHit| h.message.as_ref().map(|m| m.id) == Some(hit.id);
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s.search("заказ", next.as_deref()).await.unwrap();
        pages += 1;
        all.extend(page.items);
        next = page.next;
        if all.iter().any(is_hit) || next.is_none() {
            break;
        }
        assert!(pages < 10, "the hit never came");
    }
    assert!(pages > 1, "70 answers fit one page of search results?");
    let ids: Vec<i64> = all
        .iter()
        .filter_map(|h| h.message.as_ref().map(|m| m.id))
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a hit repeated across pages");
    let h = all
        .iter()
        .find(|h| h.message.as_ref().map(|m| m.id) == Some(hit.id))
        .expect("the visitor's question found by another form of the word");
    assert_eq!(h.conversation.id, cid);
    assert!(
        h.matched.iter().any(|w| w.to_lowercase() == "заказом"),
        "{h:?}"
    );
    assert!(h.snippet.contains("заказом"), "{h:?}");

    let r = s.search("order", None).await.unwrap();
    let h = r
        .items
        .iter()
        .find(|h| h.message.as_ref().map(|m| m.id) == Some(english.id))
        .expect("'ordered' for 'order'");
    assert!(h.matched.iter().any(|w| w == "ordered"), "{h:?}");

    let r = s.search("Петрова", None).await.unwrap();
    assert!(
        r.items
            .iter()
            .any(|h| h.conversation.id == cid && h.message.is_none()),
        "the visitor by name: {:?}",
        r.items
    );
    assert!(s.search("   ", None).await.is_err());

    // opening the hit on a computer that has not seen the dialog's start: the
    // history back to it, not just the newest page
    s.cache().clear_messages().unwrap();
    let newest = s.messages(cid).await.unwrap();
    assert!(!newest.items.iter().any(|m| m.id == hit.id));
    let log = s.messages_until(cid, hit.id).await.unwrap();
    assert!(log.items.iter().any(|m| m.id == hit.id));
    let mut sorted = log.items.iter().map(|m| m.id).collect::<Vec<_>>();
    sorted.dedup();
    assert_eq!(sorted.len(), log.items.len(), "no repeats");
    core.stop().await;
}
