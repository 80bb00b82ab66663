//! The desktop core against the real `switchboard-server` binary and, inside
//! `tests/desktop-env.sh`, the real keyring, audio path and notification bus.
//!
//!     cargo build -p switchboard-server
//!     bash tests/desktop-env.sh cargo test -p switchboard-core --test core
//!
//! Without the desktop environment the keyring/sound/notification tests say so and
//! pass vacuously; everything that only needs the server always runs.

mod attachments;
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use switchboard_core::{
    ConnState, CoreEvent, Filter, LocalPrefs, OutboxItem, SoundChoice, TokenStore,
};
use switchboard_protocol::{AuthorKind, ConversationStatus, UpdateConversation};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_and_changes_nothing() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let e = core
        .sign_in(&server.url, ADMIN_EMAIL, "wrong password", false)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");
    assert!(core.session().await.is_err());
    assert!(core.settings().accounts.is_empty());
    let e = core
        .sign_in("http://127.0.0.1:9", ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap_err();
    assert!(e.is_network(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_the_team_and_the_invitation_email_is_sent() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let info = core
        .sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    assert_eq!(info.user.email, ADMIN_EMAIL);
    let s = core.session().await.unwrap();

    let invited = s.invite("olga@example.com", "operator").await.unwrap();
    assert_eq!(invited.email, "olga@example.com");
    let team = s.team().await.unwrap();
    assert!(team.iter().any(|u| u.email == "olga@example.com"));
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = server.mailbox().await;
        if mails
            .iter()
            .any(|m| m["to"].as_str().unwrap_or("").contains("olga@example.com"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        mails
            .iter()
            .any(|m| m["to"].as_str().unwrap_or("").contains("olga@example.com")),
        "no invitation email in {mails:?}"
    );

    // Settings → Mail: the DNS records that make our email trusted.
    let dns = s.mail_dns().await.unwrap();
    assert_eq!(dns.selectors, ["sb1", "sb1e"]);
    assert!(
        dns.records.iter().any(|r| r.kind == "TXT"
            && r.name == format!("sb1._domainkey.{}", dns.signing_domain)
            && r.value.starts_with("v=DKIM1; k=rsa; p=")),
        "{dns:?}"
    );

    // bad input: a clear error and nothing changes
    assert!(s.invite("not-an-email", "operator").await.is_err());
    let e = s.invite("olga@example.com", "operator").await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e:?}");
    let e = s.invite("x@example.com", "boss").await.unwrap_err();
    assert_eq!(e.status(), Some(422), "{e:?}");

    s.resend_invitation(invited.id).await.unwrap();
    let u = s.change_role(invited.id, "marketer").await.unwrap();
    assert_eq!(u.role.as_str(), "marketer");
    s.remove_member(invited.id).await.unwrap();
    let team = s.team().await.unwrap();
    assert!(!team.iter().any(|u| u.email == "olga@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_avatar_and_notification_switches() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();

    let u = s
        .update_me(Some("Анна Петрова".into()), None)
        .await
        .unwrap();
    assert_eq!(u.name, "Анна Петрова");
    assert!(s.update_me(Some("   ".into()), None).await.is_err());

    // a real 1x1 PNG
    let png: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8,
        0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    let u = s.upload_avatar(png.to_vec()).await.unwrap();
    let url = u.avatar_url.clone().expect("avatar url");
    let got = server
        .http()
        .get(s.api().absolute(&url))
        .send()
        .await
        .unwrap();
    assert!(got.status().is_success());

    // over 1 MB: refused before upload, the avatar stays
    let mut big = png.to_vec();
    big.resize(1_048_577, 0);
    let e = s.upload_avatar(big).await.unwrap_err();
    assert!(e.to_string().contains("1 MB"), "{e}");
    assert_eq!(s.refresh_me().await.unwrap().avatar_url, Some(url));

    let u = s
        .set_notifications(switchboard_protocol::NotificationSettings {
            sound: false,
            email: false,
        })
        .await
        .unwrap();
    assert!(!u.notifications.sound && !u.notifications.email);
    let u = s.delete_avatar().await.unwrap();
    assert_eq!(u.avatar_url, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_live_then_resume_after_restart_with_cache() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let service = unique("sb-test");
    let core = new_core(dir.path(), &service);
    let events = record(&core);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();

    let visitor = Visitor::new(&server).await;
    visitor.contact("Boris", "boris@example.net").await;
    let first = visitor.say("hello 1").await;
    let cid = first.conversation_id;
    eventually("the live message", 20, || {
        s.conversations(Filter::All).iter().any(|c| {
            c.id == cid
                && c.last_message.as_ref().map(|m| m.body.as_str()) == Some("hello 1")
                && c.unread == 1
        })
    })
    .await;
    assert!(s
        .conversations(Filter::Unassigned)
        .iter()
        .any(|c| c.id == cid));
    assert_eq!(s.unread_total(), 1);
    let log = s.messages(cid).await.unwrap();
    assert_eq!(log.items.iter().filter(|m| m.body == "hello 1").count(), 1);
    let seq_before = s.seq().expect("a stream position");

    // the app closes; the visitor keeps writing
    core.stop().await;
    drop(s);
    visitor.say("hello 2").await;
    visitor.say("hello 3").await;

    // the app opens again: the cached dialogs are there at once, then the stream resumes
    let core = new_core(dir.path(), &service);
    let events2 = record(&core);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    assert!(
        s.conversations(Filter::All).iter().any(|c| c.id == cid),
        "the cache did not open with the last known dialogs"
    );
    eventually("the missed messages", 20, || {
        s.cached_messages(cid)
            .items
            .iter()
            .any(|m| m.body == "hello 3")
    })
    .await;
    wait_online(&core).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = s.cached_messages(cid);
    for body in ["hello 1", "hello 2", "hello 3"] {
        assert_eq!(
            log.items.iter().filter(|m| m.body == body).count(),
            1,
            "{body} in {:?}",
            log.items
        );
    }
    // resumed with `since`, not reloaded
    assert!(
        !events2
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, CoreEvent::Reloaded)),
        "the core reloaded instead of resuming"
    );
    let shown: usize = events2
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, CoreEvent::Message { message } if message.body == "hello 2"))
        .count();
    assert_eq!(shown, 1, "hello 2 shown {shown} times");
    assert!(s.seq().unwrap() > seq_before);
    assert_eq!(s.conversation(cid).unwrap().unread, 3);
    let _ = events;

    // the same operator on a second computer: reading on one clears the count on both
    let dir2 = tempfile::tempdir().unwrap();
    let other = new_core(dir2.path(), &unique("sb-test"));
    other
        .sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&other).await;
    let s2 = other.session().await.unwrap();
    assert_eq!(s2.conversation(cid).unwrap().unread, 3);
    s.mark_read(cid).await.unwrap();
    assert_eq!(s.unread_total(), 0);
    eventually("the read on the other computer", 20, || {
        s2.conversation(cid).is_some_and(|c| c.unread == 0)
    })
    .await;

    // assign and close over REST; the list follows
    let me = s.user().id;
    s.update_conversation(
        cid,
        UpdateConversation {
            status: None,
            assignee_id: Some(Some(me)),
        },
    )
    .await
    .unwrap();
    assert!(s.conversations(Filter::Mine).iter().any(|c| c.id == cid));
    s.update_conversation(
        cid,
        UpdateConversation {
            status: Some(ConversationStatus::Closed),
            assignee_id: None,
        },
    )
    .await
    .unwrap();
    assert!(s.conversations(Filter::Closed).iter().any(|c| c.id == cid));
    assert!(!s.conversations(Filter::All).iter().any(|c| c.id == cid));
}

/// A long list is read a window at a time: the same dialogs in the same order
/// as the whole list, with the whole list's length, and an empty window past
/// its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialog_list_is_read_a_window_at_a_time() {
    let server = Server::start().await;
    let (_dir, _core, s) = admin_online(&server).await;
    for n in 0..5 {
        Visitor::new(&server).await.say(&format!("hello {n}")).await;
    }
    eventually("five dialogs", 20, || {
        s.conversations(Filter::All).len() == 5
    })
    .await;

    let whole: Vec<i64> = s.conversations(Filter::All).iter().map(|c| c.id).collect();
    let window = s.conversations_window(Filter::All, 1, 3);
    assert_eq!(window.total, 5);
    assert_eq!(window.start, 1);
    let ids: Vec<i64> = window.items.iter().map(|c| c.id).collect();
    assert_eq!(ids, whole[1..4]);

    let tail = s.conversations_window(Filter::All, 3, 10);
    assert_eq!(tail.items.len(), 2, "only what is left of the list");
    let past = s.conversations_window(Filter::All, 9, 10);
    assert_eq!((past.total, past.start, past.items.len()), (5, 5, 0));
    let closed = s.conversations_window(Filter::Closed, 0, 10);
    assert_eq!((closed.total, closed.items.len()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_reloads_over_rest() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let service = unique("sb-test");
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let visitor = Visitor::new(&server).await;
    let m = visitor.say("before reset").await;
    let s = core.session().await.unwrap();
    eventually("the message", 20, || {
        s.conversation(m.conversation_id).is_some()
    })
    .await;
    let cache_dir = s.cache().dir().to_path_buf();
    core.stop().await;
    drop(s);

    // a position the server cannot resume from
    let state_path = cache_dir.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    state["seq"] = serde_json::json!(1_000_000_000i64);
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    // and a stale dialog the server does not have
    let conv_path = cache_dir.join("conversations.json");
    let mut convs: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&conv_path).unwrap()).unwrap();
    let mut ghost = convs[0].clone();
    ghost["id"] = serde_json::json!(987654321);
    convs.push(ghost);
    std::fs::write(&conv_path, serde_json::to_vec(&convs).unwrap()).unwrap();

    let m2 = visitor.say("after reset").await;
    let core = new_core(dir.path(), &service);
    let events = record(&core);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();
    eventually("the reload", 20, || {
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, CoreEvent::Reloaded))
    })
    .await;
    assert!(s.conversation(987654321).is_none(), "stale dialog kept");
    let c = s.conversation(m2.conversation_id).unwrap();
    assert_eq!(c.last_message.unwrap().body, "after reset");
    assert!(s.seq().unwrap() < 1_000_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_outbox_is_delivered_exactly_once_across_a_restart() {
    let mut server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let service = unique("sb-test");
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let visitor = Visitor::new(&server).await;
    let cid = visitor.say("are you there?").await.conversation_id;
    let s = core.session().await.unwrap();
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;

    // the server goes away; the operator answers anyway
    server.stop().await;
    eventually("offline", 60, || s.connection() != ConnState::Online).await;
    let item = s.send_message(cid, "typed offline", &[]).unwrap();
    assert!(s.flush_outbox().await.unwrap_err().is_network());
    assert_eq!(s.outbox().len(), 1);
    assert_eq!(s.outbox()[0].retrying.as_deref(), Some("offline"));
    // the app is closed before the network comes back
    core.stop().await;
    drop(s);
    drop(core);
    let outbox_file = std::fs::read_to_string(
        walk(dir.path())
            .into_iter()
            .find(|p| p.ends_with("outbox.json"))
            .expect("outbox on disk"),
    )
    .unwrap();
    assert!(outbox_file.contains(&item.client_id));

    server.restart().await;
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    assert_eq!(
        s.outbox().len(),
        1,
        "the outbox did not survive the restart"
    );
    eventually("the outbox to drain", 30, || s.outbox().is_empty()).await;
    let seen = visitor.messages().await;
    let copies: Vec<_> = seen.iter().filter(|m| m.body == "typed offline").collect();
    assert_eq!(copies.len(), 1, "{seen:?}");
    assert_eq!(copies[0].author.kind, AuthorKind::Operator);
    assert_eq!(
        copies[0].client_id.as_deref(),
        Some(item.client_id.as_str())
    );

    // a crash after the POST but before the outbox was written: the same client_id
    // goes again and the server answers with the first message, not a copy
    let cache_dir = s.cache().dir().to_path_buf();
    core.stop().await;
    drop(s);
    std::fs::write(
        cache_dir.join("outbox.json"),
        serde_json::to_vec(&vec![item.clone()]).unwrap(),
    )
    .unwrap();
    let core = new_core(dir.path(), &service);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    let s = core.session().await.unwrap();
    eventually("the outbox to drain again", 30, || s.outbox().is_empty()).await;
    let seen = visitor.messages().await;
    assert_eq!(
        seen.iter().filter(|m| m.body == "typed offline").count(),
        1,
        "{seen:?}"
    );
    assert_eq!(
        s.cached_messages(cid)
            .items
            .iter()
            .filter(|m| m.body == "typed offline")
            .count(),
        1
    );
}

/// The server's disk is full (its data directory on an 8 MB tmpfs, filled up): a
/// message the operator sends is answered 507 `storage_full`, stays in the outbox
/// marked `retrying: storage_full` (and the UI is told), and once space is back
/// it goes by itself, once, with the same client_id; the outbox is empty after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_disk_marks_the_outbox_retrying_and_delivers_once_when_space_is_back() {
    let disk = Tmpfs::mount("8m");
    let server = Server::start_in(tempfile::tempdir_in(&disk.0).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let events = record(&core);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();
    // no alert sound, not even a silent one: the audio device is the alerts test's
    s.set_notifications(switchboard_protocol::NotificationSettings {
        sound: false,
        email: false,
    })
    .await
    .unwrap();
    let visitor = Visitor::new(&server).await;
    let cid = visitor.say("is the tin airtight?").await.conversation_id;
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;

    // Fill the disk, then write as the visitor until the server refuses several
    // times running (SQLite may still have room in its journal for a few).
    let ballast = disk.fill("ballast");
    let mut refused_in_a_row = 0;
    for n in 0.. {
        assert!(n < 5_000, "the server never answered 507");
        let r = visitor.try_say(&"filling the disk.".repeat(100)).await;
        match r.status().as_u16() {
            507 => refused_in_a_row += 1,
            201 => refused_in_a_row = 0,
            // the visitor's own rate limit: wait for it
            429 => tokio::time::sleep(Duration::from_millis(600)).await,
            other => panic!("a full disk answered {other}: {}", r.text().await.unwrap()),
        }
        if refused_in_a_row == 5 {
            break;
        }
    }

    // long, so it needs more room than the visitor's refused messages
    let body = "Yes, airtight, and it keeps for two years.".repeat(100);
    let item = s.send_message(cid, &body, &[]).unwrap();
    let retrying = |items: &[OutboxItem]| {
        items
            .iter()
            .any(|i| i.client_id == item.client_id && i.retrying.as_deref() == Some("storage_full"))
    };
    // the UI is told (an Outbox event), and reads the same back
    eventually(
        "the UI told the message is retrying: storage_full",
        30,
        || {
            events
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, CoreEvent::Outbox { items } if retrying(items)))
        },
    )
    .await;
    assert!(retrying(&s.outbox()), "{:?}", s.outbox());
    assert!(
        !visitor.messages().await.iter().any(|m| m.body == body),
        "nothing is stored while the disk is full"
    );

    std::fs::remove_file(&ballast).unwrap();
    eventually("the outbox to drain", 60, || s.outbox().is_empty()).await;
    let seen = visitor.messages().await;
    let copies: Vec<_> = seen.iter().filter(|m| m.body == body).collect();
    assert_eq!(copies.len(), 1, "one copy");
    assert_eq!(copies[0].author.kind, AuthorKind::Operator);
    assert_eq!(
        copies[0].client_id.as_deref(),
        Some(item.client_id.as_str()),
        "sent again with the same client_id"
    );
    assert_eq!(
        s.cached_messages(cid)
            .items
            .iter()
            .filter(|m| m.body == body)
            .count(),
        1
    );
    // the last word to the UI: nothing waits
    eventually("the UI told the outbox is empty", 10, || {
        let ev = events.lock().unwrap();
        let last = ev.iter().rev().find_map(|e| match e {
            CoreEvent::Outbox { items } => Some(items),
            _ => None,
        });
        last.is_some_and(|items| items.is_empty())
    })
    .await;
    core.stop().await;
}

// ----- the real desktop: keyring, sound, notifications -------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_round_trip_and_restore_without_password() {
    if !real_desktop() {
        eprintln!("SKIPPED: run inside tests/desktop-env.sh for the real keyring");
        return;
    }
    // the store itself: a fresh Entry finds what another one saved (no mock)
    let store = TokenStore::with_service(unique("sb-keyring"));
    store.save("acct", "tok-123").unwrap();
    let again = TokenStore::with_service(store_service(&store));
    assert_eq!(again.load("acct").unwrap().as_deref(), Some("tok-123"));
    again.delete("acct").unwrap();
    assert_eq!(store.load("acct").unwrap(), None);

    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let service = unique("sb-test");
    let core = new_core(dir.path(), &service);
    let info = core
        .sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    assert!(info.token_saved);
    core.stop().await;
    drop(core);
    // the token is in no file of the app
    let token = TokenStore::with_service(&service)
        .load(&info.account)
        .unwrap()
        .expect("token in the keyring");
    for f in walk(dir.path()) {
        let text = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains(&token),
            "token written in plain text to {}",
            f.display()
        );
    }
    // a new start signs in with no password
    let core = new_core(dir.path(), &service);
    let restored = core.restore().await.unwrap().expect("restored session");
    assert_eq!(restored.user.email, ADMIN_EMAIL);
    wait_online(&core).await;
    core.sign_out().await.unwrap();
    assert_eq!(
        TokenStore::with_service(&service)
            .load(&info.account)
            .unwrap(),
        None
    );
    let core = new_core(dir.path(), &service);
    assert!(core.restore().await.unwrap().is_none());
}

fn store_service(s: &TokenStore) -> String {
    // TokenStore has no getter on purpose; Debug shows the service
    let d = format!("{s:?}");
    d.split('"').nth(1).unwrap().to_string()
}

/// The capture files ALSA wrote so far, one per opening of the output device.
fn capture_files() -> Vec<std::path::PathBuf> {
    let base = std::path::PathBuf::from(std::env::var("SWITCHBOARD_ALSA_CAPTURE").unwrap());
    let name = base.file_name().unwrap().to_string_lossy().to_string();
    let mut v: Vec<_> = std::fs::read_dir(base.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(name.as_str())
        })
        .collect();
    v.sort();
    v
}

/// Non-zero bytes of each sound played after the first `before` ones. The other
/// tests' cores alert at volume 0 on the same device while this test runs: their
/// captures hold nothing but zeros and are left out.
fn sounds_since(before: usize) -> Vec<usize> {
    capture_files()
        .iter()
        .skip(before)
        .map(|p| {
            std::fs::read(p)
                .unwrap()
                .iter()
                .filter(|b| **b != 0)
                .count()
        })
        .filter(|n| *n > 0)
        .collect()
}

/// Records the Notify calls of the session bus.
#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<(String, String, String)>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut c = self.calls.lock().unwrap();
        c.push((app_name, summary, body));
        c.len() as u32
    }

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        (
            "recorder".into(),
            "switchboard-tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    async fn close_notification(&self, _id: u32) {}
}

/// The one test that plays sound and shows notifications, so the capture file and the
/// recorder see only its alerts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_play_sound_and_show_notifications_for_real() {
    if !real_desktop() {
        eprintln!("SKIPPED: run inside tests/desktop-env.sh for ALSA capture and D-Bus");
        return;
    }
    let recorder = Recorder::default();
    let conn = zbus::connection::Builder::session()
        .name("org.freedesktop.Notifications")
        .serve_at("/org/freedesktop/Notifications", recorder.clone())
        .build()
        .await
        .expect("own org.freedesktop.Notifications");

    // the test button
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let before = capture_files().len();
    core.play_test_sound(SoundChoice::Knock, 1.0).await.unwrap();
    let played = sounds_since(before);
    assert!(
        played.len() == 1 && played[0] > 1000,
        "the test sound did not reach the audio device: {played:?}"
    );

    // a visitor writes: one sound and one notification (summary: the visitor's name)
    core.set_prefs(LocalPrefs {
        sound: SoundChoice::Chime,
        volume: 1.0,
        native_notifications: true,
        ..LocalPrefs::default()
    })
    .unwrap();
    let server = Server::start().await;
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let visitor = Visitor::new(&server).await;
    visitor.contact("Vera", "vera@example.org").await;
    // past the burst window of any earlier alert
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let before = capture_files().len();
    let m = visitor.say("Где мой заказ №42?").await;
    eventually("a Notify call", 20, || {
        recorder
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, body)| body == "Где мой заказ №42?")
    })
    .await;
    let calls = recorder.calls.lock().unwrap().clone();
    let (app, summary, _) = calls
        .iter()
        .find(|(_, _, b)| b == "Где мой заказ №42?")
        .unwrap();
    assert_eq!(app, "Switchboard");
    assert_eq!(summary, "Vera");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        recorder
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, b)| b == "Где мой заказ №42?")
            .count(),
        1,
        "one message, one notification"
    );
    // clicking the notification opens that dialog
    let events = record(&core);
    let id = calls
        .iter()
        .position(|(_, _, b)| b == "Где мой заказ №42?")
        .unwrap() as u32
        + 1;
    conn.emit_signal(
        None::<&str>,
        "/org/freedesktop/Notifications",
        "org.freedesktop.Notifications",
        "ActionInvoked",
        &(id, "default"),
    )
    .await
    .unwrap();
    eventually("the dialog to open from the notification", 10, || {
        events.lock().unwrap().iter().any(|e| {
            matches!(e, CoreEvent::OpenConversation { conversation_id } if *conversation_id == m.conversation_id)
        })
    })
    .await;

    let mut sound_ok = false;
    for _ in 0..100 {
        if sounds_since(before).iter().any(|n| *n > 1000) {
            sound_ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sound_ok, "no alert sound reached the audio device");

    // the dialog on screen in a focused window: no alert for it
    core.set_view(switchboard_core::ViewState {
        conversation: Some(m.conversation_id),
        focused: true,
    });
    tokio::time::sleep(Duration::from_secs(4)).await; // past the burst window
    let n = recorder.calls.lock().unwrap().len();
    visitor.say("still there?").await;
    let s = core.session().await.unwrap();
    eventually("the message", 20, || {
        s.cached_messages(m.conversation_id)
            .items
            .iter()
            .any(|x| x.body == "still there?")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        recorder.calls.lock().unwrap().len(),
        n,
        "alerted for the open dialog"
    );

    // a burst: many messages, one notification each but one sound
    core.set_view(switchboard_core::ViewState::default());
    let before = capture_files().len();
    for i in 0..5 {
        visitor.say(&format!("burst {i}")).await;
    }
    eventually("five notifications", 20, || {
        recorder
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, b)| b.starts_with("burst "))
            .count()
            == 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let played = sounds_since(before);
    assert_eq!(
        played.len(),
        1,
        "a burst of five messages played {played:?}"
    );
    assert!(played[0] > 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_back_without_gaps_or_repeats() {
    // 120 visitor messages as fast as the test can: over the per-visitor limit
    let server = Server::start_with("127.0.0.1:0", &["--visitor-limit-factor", "10"]).await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let visitor = Visitor::new(&server).await;
    let mut cid = 0;
    for i in 0..120 {
        cid = visitor.say(&format!("line {i:03}")).await.conversation_id;
    }
    let s = core.session().await.unwrap();
    eventually("all live messages", 30, || {
        s.conversation(cid)
            .and_then(|c| c.last_message)
            .is_some_and(|m| m.body == "line 119")
    })
    .await;
    let mut log = s.messages(cid).await.unwrap();
    let mut guard = 0;
    while log.next.is_some() {
        log = s.older_messages(cid).await.unwrap();
        guard += 1;
        assert!(guard < 20, "paging does not end");
    }
    let bodies: Vec<&str> = log.items.iter().map(|m| m.body.as_str()).collect();
    let want: Vec<String> = (0..120).map(|i| format!("line {i:03}")).collect();
    assert_eq!(bodies, want.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert_eq!(s.conversation(cid).unwrap().unread, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_by_itself_and_resumes_after_the_server_comes_back() {
    let mut server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let events = record(&core);
    core.sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();
    let visitor = Visitor::new(&server).await;
    let cid = visitor.say("first").await.conversation_id;
    eventually("the first message", 20, || s.conversation(cid).is_some()).await;

    server.stop().await;
    eventually("offline with a retry scheduled", 60, || {
        matches!(s.connection(), ConnState::Offline { .. })
    })
    .await;
    // cached dialogs stay readable offline
    assert!(s.conversations(Filter::All).iter().any(|c| c.id == cid));
    assert!(s
        .cached_messages(cid)
        .items
        .iter()
        .any(|m| m.body == "first"));
    tokio::time::sleep(Duration::from_secs(2)).await;

    server.restart().await;
    // the visitor writes while the app is still waiting out its backoff
    visitor.say("while you were away").await;
    eventually("reconnected and resumed", 60, || {
        s.cached_messages(cid)
            .items
            .iter()
            .any(|m| m.body == "while you were away")
    })
    .await;
    assert_eq!(s.connection(), ConnState::Online);
    let ev = events.lock().unwrap();
    let retries: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            CoreEvent::Connection {
                state: ConnState::Offline { retry_in_ms },
            } => Some(*retry_in_ms),
            _ => None,
        })
        .collect();
    assert!(!retries.is_empty());
    assert!(retries.iter().all(|r| *r <= 30_000), "{retries:?}");
    // one reload at sign-in; the reconnect resumed with `since`
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, CoreEvent::Reloaded))
            .count(),
        1,
        "reloaded after the reconnect instead of resuming"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_profile_and_widget_settings_with_their_live_event() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let core = new_core(dir.path(), &unique("sb-test"));
    let events = record(&core);
    let info = core
        .sign_in(&server.url, ADMIN_EMAIL, ADMIN_PASSWORD, false)
        .await
        .unwrap();
    wait_online(&core).await;
    let s = core.session().await.unwrap();

    // who the visitor is: their widget's pageview, sent from Chrome on Windows
    let visitor = Visitor::new(&server).await;
    reqwest::Client::new()
        .post(format!("{}/api/v1/widget/pageview", server.url))
        .header("x-visitor-token", &visitor.token)
        .header(
            "user-agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Safari/537.36",
        )
        .json(&serde_json::json!({
            "url": "https://northwind-tea.example/teas/da-hong-pao",
            "title": "Da Hong Pao — Northwind Tea",
            "language": "ru-RU",
            "time_zone": "Europe/Moscow",
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let cid = visitor.say("Is it good cold-brewed?").await.conversation_id;
    eventually("the dialog", 20, || s.conversation(cid).is_some()).await;
    let vid = s.conversation(cid).unwrap().visitor.id;
    let p = s.visitor_profile(vid).await.unwrap();
    assert!(
        p.browser.as_deref().unwrap_or("").contains("Chrome"),
        "{p:?}"
    );
    assert!(p.os.as_deref().unwrap_or("").contains("Windows"), "{p:?}");
    assert_eq!(p.time_zone.as_deref(), Some("Europe/Moscow"));
    assert_eq!(p.pages[0].title, "Da Hong Pao — Northwind Tea");
    assert!(p.conversations.iter().any(|c| c.id == cid), "{p:?}");

    // the widget's settings: a refused value keeps the server's code; a saved one
    // comes back with the greeting's id and is announced on the stream
    let mut w = s.widget_settings().await.unwrap();
    w.color = "#1f7a4d".into();
    w.title = "Northwind Tea".into();
    w.greetings.push(switchboard_protocol::GreetingRule {
        id: None,
        enabled: true,
        url_pattern: "teas".into(),
        delay_seconds: 20,
        on_exit_intent: false,
        message: "Choosing an oolong?".into(),
        from_user_id: info.user.id,
        per_visitor_cap: 1,
    });
    let e = s.save_widget_settings(&w).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(422), "invalid_url_pattern"));
    assert_ne!(s.widget_settings().await.unwrap().color, "#1f7a4d");
    w.greetings[0].url_pattern = "/teas/*".into();
    let saved = s.save_widget_settings(&w).await.unwrap();
    assert_eq!(saved.color, "#1f7a4d");
    assert!(saved.greetings[0].id.is_some());
    eventually("the widget event", 20, || {
        events.lock().unwrap().iter().any(|e| {
            matches!(e, CoreEvent::Widget { settings } if settings.color == "#1f7a4d" && settings.title == "Northwind Tea")
        })
    })
    .await;
}
