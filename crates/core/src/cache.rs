//! The on-disk cache of one account: the last known dialogs, messages, team, the stream
//! position and the offline outbox. Plain JSON files written atomically (temp file, fsync,
//! rename), so a crash leaves either the old or the new version, never half of one.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use switchboard_protocol::{Attachment, Conversation, Message, User};

use crate::error::Result;

/// A message typed by the operator that the server has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxItem {
    pub client_id: String,
    pub conversation_id: i64,
    pub body: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Set when the server refused it for good (e.g. the dialog is gone); kept so the
    /// text is never lost.
    #[serde(default)]
    pub failed: Option<String>,
    /// Set while it waits to be sent again: the server answered "try later" (its
    /// code: `storage_full`, `database_unavailable`, `overloaded`, …) or could not
    /// be reached (`offline`). Cleared once the server takes a message again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub retrying: Option<String>,
    /// Files sent with it, in order. Their copies wait in the account's data dir
    /// (`files/<local_id>`) until the message is sent, so the originals may move.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<OutboxFile>>"))]
    pub files: Vec<OutboxFile>,
}

/// A file queued with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxFile {
    /// The copy's name in the account's `files/` folder (a UUID), also the id of
    /// its upload events.
    pub local_id: String,
    /// The name the file is sent under.
    pub name: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// The server's copy, once uploaded: its id goes with the message.
    #[serde(default)]
    pub uploaded: Option<Attachment>,
    /// When it was uploaded (ms since the Unix epoch). The server deletes uploads not
    /// sent within a day, so an older one is uploaded again before sending.
    #[serde(default)]
    pub uploaded_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountState {
    /// Sequence number of the last stream event applied to this cache.
    pub seq: Option<i64>,
    pub user: Option<User>,
    #[serde(default)]
    pub team: Vec<User>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MessageLog {
    /// Oldest first, unique by id.
    pub items: Vec<Message>,
    /// Cursor of the page before `items[0]`, `None` when the beginning is known.
    pub next: Option<String>,
    /// True once `next` reflects a real server answer.
    #[serde(default)]
    pub paged: bool,
}

impl MessageLog {
    /// Adds messages, keeping the log sorted and unique. Returns the ones that were new.
    pub fn merge(&mut self, msgs: impl IntoIterator<Item = Message>) -> Vec<Message> {
        let mut added = Vec::new();
        for m in msgs {
            if let Some(existing) = self.items.iter_mut().find(|x| x.id == m.id) {
                *existing = m;
            } else {
                added.push(m.clone());
                self.items.push(m);
            }
        }
        self.items.sort_by_key(|m| (m.created_at, m.id));
        added
    }
}

pub struct Cache {
    dir: PathBuf,
    /// Held while a dialog's log is read, changed and written back, so a message from
    /// the stream and a page loaded at the same moment both end up in it.
    messages_lock: Mutex<()>,
}

impl Cache {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Cache> {
        let dir = dir.into();
        fs::create_dir_all(dir.join("messages"))?;
        Ok(Cache {
            dir,
            messages_lock: Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn load_state(&self) -> AccountState {
        read_json(&self.dir.join("state.json")).unwrap_or_default()
    }

    pub fn save_state(&self, s: &AccountState) -> Result<()> {
        write_json(&self.dir.join("state.json"), s)
    }

    pub fn load_conversations(&self) -> HashMap<i64, Conversation> {
        let v: Vec<Conversation> =
            read_json(&self.dir.join("conversations.json")).unwrap_or_default();
        v.into_iter().map(|c| (c.id, c)).collect()
    }

    pub fn save_conversations(&self, convs: &HashMap<i64, Conversation>) -> Result<()> {
        let mut v: Vec<&Conversation> = convs.values().collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.updated_at));
        write_json(&self.dir.join("conversations.json"), &v)
    }

    pub fn load_messages(&self, conversation_id: i64) -> MessageLog {
        read_json(&self.messages_path(conversation_id)).unwrap_or_default()
    }

    /// Reads a dialog's log, applies `change` and writes it back, with no other change
    /// of a log in between. Returns what `change` returned and the log as written.
    pub fn update_messages<R>(
        &self,
        conversation_id: i64,
        change: impl FnOnce(&mut MessageLog) -> R,
    ) -> Result<(R, MessageLog)> {
        let _held = self.messages_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut log = self.load_messages(conversation_id);
        let r = change(&mut log);
        write_json(&self.messages_path(conversation_id), &log)?;
        Ok((r, log))
    }

    /// Files waiting to be sent (attached in the composer or queued in the outbox).
    pub fn files_dir(&self) -> PathBuf {
        self.dir.join("files")
    }

    /// Received files kept to open them with the OS.
    pub fn downloads_dir(&self) -> PathBuf {
        self.dir.join("downloads")
    }

    pub fn clear_messages(&self) -> Result<()> {
        let _held = self.messages_lock.lock().unwrap_or_else(|e| e.into_inner());
        let d = self.dir.join("messages");
        if d.exists() {
            fs::remove_dir_all(&d)?;
        }
        fs::create_dir_all(&d)?;
        Ok(())
    }

    fn messages_path(&self, id: i64) -> PathBuf {
        self.dir.join("messages").join(format!("{id}.json"))
    }

    pub fn load_outbox(&self) -> Vec<OutboxItem> {
        read_json(&self.dir.join("outbox.json")).unwrap_or_default()
    }

    pub fn save_outbox(&self, items: &[OutboxItem]) -> Result<()> {
        write_json(&self.dir.join("outbox.json"), &items)
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable cache file");
            None
        }
    }
}

pub(crate) fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)?;
    // A name of its own for every write: two threads saving the same file at once must
    // not rename each other's temp file away.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocol::{Author, AuthorKind, Channel};

    fn msg(id: i64, at: i64) -> Message {
        Message {
            id,
            conversation_id: 1,
            client_id: None,
            author: Author {
                kind: AuthorKind::Visitor,
                id: None,
                name: None,
                avatar_url: None,
            },
            body: format!("m{id}"),
            channel: Channel::Chat,
            created_at: at,
            attachments: vec![],
        }
    }

    #[test]
    fn merge_dedupes_and_sorts() {
        let mut log = MessageLog::default();
        assert_eq!(log.merge([msg(2, 20), msg(1, 10)]).len(), 2);
        assert_eq!(log.merge([msg(2, 20), msg(3, 30)]).len(), 1);
        let ids: Vec<i64> = log.items.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
    }

    /// Two threads writing the same file at once (the stream and a page load saving
    /// one dialog's log) both succeed: each write has a temp file of its own.
    #[test]
    fn concurrent_writes_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("same.json");
        std::thread::scope(|s| {
            for t in 0..4 {
                let path = &path;
                s.spawn(move || {
                    for i in 0..200 {
                        write_json(path, &(t, i)).expect("a write of its own");
                    }
                });
            }
        });
        assert!(read_json::<(i32, i32)>(&path).is_some());
    }

    /// Messages merged into one dialog's log from several threads are all kept.
    #[test]
    fn concurrent_merges_into_one_log_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for t in 0..4i64 {
                let c = &c;
                s.spawn(move || {
                    for i in 0..50 {
                        let id = t * 1000 + i;
                        c.update_messages(1, |log| log.merge([msg(id, id)]))
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(c.load_messages(1).items.len(), 200);
    }

    #[test]
    fn outbox_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::open(dir.path()).unwrap();
        let item = OutboxItem {
            client_id: "abc".into(),
            conversation_id: 7,
            body: "hello".into(),
            created_at: 1,
            failed: None,
            retrying: Some("storage_full".into()),
            files: vec![OutboxFile {
                local_id: "4f1c".into(),
                name: "invoice.pdf".into(),
                content_type: "application/pdf".into(),
                size: 3,
                uploaded: None,
                uploaded_at: None,
            }],
        };
        c.save_outbox(std::slice::from_ref(&item)).unwrap();
        drop(c);
        let c = Cache::open(dir.path()).unwrap();
        assert_eq!(c.load_outbox(), vec![item]);
    }

    /// An outbox written before `retrying` existed still loads, nothing lost.
    #[test]
    fn outbox_of_the_previous_version_loads() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::open(dir.path()).unwrap();
        fs::write(
            dir.path().join("outbox.json"),
            r#"[{"client_id":"abc","conversation_id":7,"body":"hello","created_at":1,"failed":null},
                {"client_id":"def","conversation_id":7,"body":"gone","created_at":2,"failed":"not_found"}]"#,
        )
        .unwrap();
        let items = c.load_outbox();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0],
            OutboxItem {
                client_id: "abc".into(),
                conversation_id: 7,
                body: "hello".into(),
                created_at: 1,
                failed: None,
                retrying: None,
                files: vec![],
            }
        );
        assert_eq!(items[1].failed.as_deref(), Some("not_found"));
        assert_eq!(items[1].retrying, None);
        // and nothing new is written for an item that is not retrying
        let json = serde_json::to_string(&items[0]).unwrap();
        assert!(!json.contains("retrying"), "{json}");
        assert!(!json.contains("files"), "{json}");
    }
}
