//! Files both ways.
//!
//! Out: a file the operator attaches (picked, dropped from the desktop, pasted) is
//! first copied into the account's data dir (`files/<local_id>`), so moving or
//! deleting the original later loses nothing, then uploaded at once, streamed, with
//! progress events ([`CoreEvent::Upload`]). Sending a message hands its files to the
//! outbox, which uploads whatever is not uploaded yet (after a restart, or a day
//! later) before posting the message; the copies go once the server has the message.
//! One upload per file at a time: the composer's and the outbox's wait for each other.
//!
//! In: a received file is saved where the operator chose, or kept under
//! `downloads/` to be opened with the OS, streamed to disk either way. Signed links
//! expire: an expired one is fetched again with the dialog's latest page.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use switchboard_protocol::Attachment;

use super::Session;
use crate::cache::OutboxFile;
use crate::error::{Error, Result};
use crate::files::{guess_content_type, risky_to_open, safe_file_name, upload_name};
use crate::CoreEvent;

/// At most this many files go with one message (API.md).
pub const MAX_FILES: usize = 10;

/// The server deletes an upload not sent within a day; one older than this is sent
/// again rather than risk it.
const UPLOAD_FRESH_MS: i64 = 12 * 3600 * 1000;

/// A file on its way to the server, as the UI shows it (a composer chip, or a file
/// of a message still in the outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Upload {
    pub local_id: String,
    pub name: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    pub state: UploadState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    /// Not started yet, or waiting for the server (`reason`: `offline`, or the code of
    /// its "try later" answer); it goes by itself.
    Waiting {
        reason: Option<String>,
    },
    Uploading {
        sent: i64,
    },
    Done {
        attachment: Attachment,
    },
    /// The server refused the file (`payload_too_large`, a bad name, …), or its copy
    /// is gone: retry or remove it.
    Failed {
        code: String,
        message: String,
    },
}

/// One file's upload: its state, and a lock held while it is being uploaded.
pub(super) struct Slot {
    lock: tokio::sync::Mutex<()>,
    state: Mutex<SlotState>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct SlotState {
    upload: Upload,
    uploaded_at: Option<i64>,
}

impl Slot {
    fn new(upload: Upload, uploaded_at: Option<i64>) -> Arc<Slot> {
        Arc::new(Slot {
            lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(SlotState {
                upload,
                uploaded_at,
            }),
            task: Mutex::new(None),
        })
    }

    fn upload(&self) -> Upload {
        self.state.lock().unwrap().upload.clone()
    }

    pub(super) fn abort(&self) {
        if let Some(t) = self.task.lock().unwrap().take() {
            t.abort();
        }
    }
}

pub(super) type Slots = Mutex<HashMap<String, Arc<Slot>>>;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether an upload error is "try later" (offline, 5xx, 429, 408) rather than a refusal.
pub(super) fn is_temporary(e: &Error) -> bool {
    e.is_network()
        || matches!(e.status(), Some(408) | Some(429))
        || e.status().is_some_and(|s| s >= 500)
}

fn check_local_id(local_id: &str) -> Result<()> {
    uuid::Uuid::parse_str(local_id)
        .map(|_| ())
        .map_err(|_| Error::Invalid("unknown file".into()))
}

impl Session {
    /// Where a file waiting to be sent is kept.
    pub fn file_path(&self, local_id: &str) -> PathBuf {
        self.cache.files_dir().join(local_id)
    }

    /// The files of the outbox as upload slots, and the copies nobody needs any more
    /// (attached in a composer but never sent before the app closed) deleted.
    pub(super) fn restore_files(&self) {
        let outbox = self.state.lock().unwrap().outbox.clone();
        let mut keep = std::collections::HashSet::new();
        {
            let mut slots = self.uploads.lock().unwrap();
            for f in outbox.iter().flat_map(|i| i.files.iter()) {
                keep.insert(f.local_id.clone());
                let state = match &f.uploaded {
                    Some(a) => UploadState::Done {
                        attachment: a.clone(),
                    },
                    None => UploadState::Waiting { reason: None },
                };
                slots.insert(
                    f.local_id.clone(),
                    Slot::new(
                        Upload {
                            local_id: f.local_id.clone(),
                            name: f.name.clone(),
                            content_type: f.content_type.clone(),
                            size: f.size,
                            state,
                        },
                        f.uploaded_at,
                    ),
                );
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.cache.files_dir()) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if !keep.contains(&name) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// The state of the given files (unknown ids are left out).
    pub fn uploads(&self, local_ids: &[String]) -> Vec<Upload> {
        let slots = self.uploads.lock().unwrap();
        local_ids
            .iter()
            .filter_map(|id| slots.get(id).map(|s| s.upload()))
            .collect()
    }

    /// Attaches files from disk (picked or dropped): each is copied into the data dir
    /// and starts uploading. The first file that cannot be read fails the call and
    /// nothing of it is kept; the ones before it stay attached.
    pub async fn attach_paths(self: &Arc<Self>, paths: &[PathBuf]) -> Result<Vec<Upload>> {
        if paths.len() > MAX_FILES {
            return Err(Error::Invalid(format!(
                "at most {MAX_FILES} files go with one message"
            )));
        }
        let mut out = Vec::new();
        for p in paths {
            out.push(self.attach_path(p).await?);
        }
        Ok(out)
    }

    async fn attach_path(self: &Arc<Self>, path: &Path) -> Result<Upload> {
        let meta = tokio::fs::metadata(path).await?;
        let shown = path.display().to_string();
        if !meta.is_file() {
            return Err(Error::Invalid(format!("{shown} is not a file")));
        }
        if meta.len() == 0 {
            return Err(Error::Invalid(format!("{shown} is empty")));
        }
        let name = upload_name(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
        );
        let local_id = uuid::Uuid::new_v4().to_string();
        let dest = self.file_path(&local_id);
        tokio::fs::create_dir_all(self.cache.files_dir()).await?;
        let tmp = dest.with_extension("part");
        // streamed by the OS (copy_file_range / sendfile), never whole in memory
        if let Err(e) = tokio::fs::copy(path, &tmp).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        let head = read_head(&tmp).await;
        let size = tokio::fs::metadata(&tmp).await?.len() as i64;
        tokio::fs::rename(&tmp, &dest).await?;
        let content_type = guess_content_type(&name, &head).to_string();
        Ok(self.start_upload(local_id, name, content_type, size))
    }

    /// Attaches bytes the UI holds (a pasted image, a file dropped from another
    /// app): written into the data dir, then uploaded like a file from disk.
    pub async fn attach_bytes(self: &Arc<Self>, name: &str, bytes: &[u8]) -> Result<Upload> {
        if bytes.is_empty() {
            return Err(Error::Invalid(format!("{name} is empty")));
        }
        let name = upload_name(name);
        let local_id = uuid::Uuid::new_v4().to_string();
        let dest = self.file_path(&local_id);
        tokio::fs::create_dir_all(self.cache.files_dir()).await?;
        let tmp = dest.with_extension("part");
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &dest).await?;
        let content_type = guess_content_type(&name, &bytes[..bytes.len().min(64)]).to_string();
        Ok(self.start_upload(local_id, name, content_type, bytes.len() as i64))
    }

    fn start_upload(
        self: &Arc<Self>,
        local_id: String,
        name: String,
        content_type: String,
        size: i64,
    ) -> Upload {
        let upload = Upload {
            local_id: local_id.clone(),
            name,
            content_type,
            size,
            state: UploadState::Waiting { reason: None },
        };
        let slot = Slot::new(upload.clone(), None);
        self.uploads
            .lock()
            .unwrap()
            .insert(local_id.clone(), slot.clone());
        self.spawn_upload(&slot, local_id);
        upload
    }

    fn spawn_upload(self: &Arc<Self>, slot: &Arc<Slot>, local_id: String) {
        let me = self.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = me.ensure_uploaded(&local_id).await {
                tracing::info!(error = %e, "an attached file is not uploaded yet");
            }
        });
        if let Some(old) = slot.task.lock().unwrap().replace(task) {
            old.abort();
        }
    }

    /// Tries again a file the server refused or could not take (a composer chip's
    /// "retry"); a file already uploaded stays as it is.
    pub fn retry_upload(self: &Arc<Self>, local_id: &str) -> Result<()> {
        check_local_id(local_id)?;
        let slot = self
            .uploads
            .lock()
            .unwrap()
            .get(local_id)
            .cloned()
            .ok_or_else(|| Error::Invalid("unknown file".into()))?;
        self.spawn_upload(&slot, local_id.to_string());
        Ok(())
    }

    /// Starts the uploads that wait for the server (called when it is back).
    pub(super) fn resume_waiting_uploads(self: &Arc<Self>) {
        let waiting: Vec<(String, Arc<Slot>)> = self
            .uploads
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| {
                matches!(
                    s.state.lock().unwrap().upload.state,
                    UploadState::Waiting { reason: Some(_) }
                ) && s
                    .task
                    .lock()
                    .unwrap()
                    .as_ref()
                    .is_none_or(|t| t.is_finished())
            })
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        for (id, slot) in waiting {
            self.spawn_upload(&slot, id);
        }
    }

    /// Removes a file from the composer: its upload stops and its copy is deleted.
    /// A file of a message already sent (queued) cannot be removed this way.
    pub fn remove_upload(&self, local_id: &str) -> Result<()> {
        check_local_id(local_id)?;
        let queued = self
            .state
            .lock()
            .unwrap()
            .outbox
            .iter()
            .any(|i| i.files.iter().any(|f| f.local_id == local_id));
        if queued {
            return Err(Error::Invalid(
                "the file belongs to a message being sent".into(),
            ));
        }
        if let Some(slot) = self.uploads.lock().unwrap().remove(local_id) {
            slot.abort();
        }
        let _ = std::fs::remove_file(self.file_path(local_id));
        Ok(())
    }

    /// Forgets the files of a message the server now has (or that was discarded).
    pub(super) fn drop_files(&self, files: &[OutboxFile]) {
        for f in files {
            if let Some(slot) = self.uploads.lock().unwrap().remove(&f.local_id) {
                slot.abort();
            }
            let _ = std::fs::remove_file(self.file_path(&f.local_id));
        }
    }

    /// The composer's files as the outbox keeps them; each must be attached here and
    /// not already queued with another message.
    pub(super) fn files_for_message(&self, local_ids: &[String]) -> Result<Vec<OutboxFile>> {
        if local_ids.len() > MAX_FILES {
            return Err(Error::Invalid(format!(
                "at most {MAX_FILES} files go with one message"
            )));
        }
        let queued: std::collections::HashSet<String> = self
            .state
            .lock()
            .unwrap()
            .outbox
            .iter()
            .flat_map(|i| i.files.iter().map(|f| f.local_id.clone()))
            .collect();
        let slots = self.uploads.lock().unwrap();
        let mut out = Vec::new();
        for id in local_ids {
            check_local_id(id)?;
            if queued.contains(id) || out.iter().any(|f: &OutboxFile| &f.local_id == id) {
                return Err(Error::Invalid("a file is already being sent".into()));
            }
            let slot = slots
                .get(id)
                .ok_or_else(|| Error::Invalid("a file is no longer attached".into()))?;
            let st = slot.state.lock().unwrap();
            let u = &st.upload;
            let uploaded = match &u.state {
                UploadState::Done { attachment } => Some(attachment.clone()),
                _ => None,
            };
            out.push(OutboxFile {
                local_id: u.local_id.clone(),
                name: u.name.clone(),
                content_type: u.content_type.clone(),
                size: u.size,
                uploaded_at: uploaded.as_ref().and(st.uploaded_at),
                uploaded,
            });
        }
        Ok(out)
    }

    /// Marks files the server no longer takes (e.g. deleted after a day unsent) so the
    /// next send uploads them again.
    pub(super) fn forget_uploaded(&self, files: &[OutboxFile]) {
        let slots = self.uploads.lock().unwrap();
        for f in files {
            if let Some(slot) = slots.get(&f.local_id) {
                let mut st = slot.state.lock().unwrap();
                st.upload.state = UploadState::Waiting { reason: None };
                st.uploaded_at = None;
            }
        }
    }

    /// The server's attachment for a file, uploading it first unless that was done
    /// (recently enough). Waits for an upload of the same file already under way.
    pub(super) async fn ensure_uploaded(&self, local_id: &str) -> Result<(Attachment, i64)> {
        let slot = self
            .uploads
            .lock()
            .unwrap()
            .get(local_id)
            .cloned()
            .ok_or_else(|| Error::Invalid("unknown file".into()))?;
        let _busy = slot.lock.lock().await;
        {
            let st = slot.state.lock().unwrap();
            if let (UploadState::Done { attachment }, Some(at)) = (&st.upload.state, st.uploaded_at)
            {
                if now_ms() - at < UPLOAD_FRESH_MS {
                    return Ok((attachment.clone(), at));
                }
            }
        }
        let path = self.file_path(local_id);
        let (name, content_type, size) = {
            let st = slot.state.lock().unwrap();
            (
                st.upload.name.clone(),
                st.upload.content_type.clone(),
                st.upload.size,
            )
        };
        if !path.is_file() {
            let e = Error::Invalid(format!("the copy of {name} waiting to be sent is gone"));
            self.set_upload(
                &slot,
                UploadState::Failed {
                    code: "file_missing".into(),
                    message: e.to_string(),
                },
                None,
            );
            return Err(e);
        }
        self.set_upload(&slot, UploadState::Uploading { sent: 0 }, None);
        let progress = {
            let shared = self.shared.clone();
            let slot = slot.clone();
            let last_sent = AtomicU64::new(0);
            let last_at = Mutex::new(Instant::now());
            Arc::new(move |sent: u64| {
                // a few events a second, and every 2 %, is smooth enough for a bar
                let step = (size as u64 / 50).max(1);
                let prev = last_sent.load(Ordering::Relaxed);
                let mut at = last_at.lock().unwrap();
                if sent < size as u64
                    && sent - prev < step
                    && at.elapsed() < Duration::from_millis(150)
                {
                    return;
                }
                last_sent.store(sent, Ordering::Relaxed);
                *at = Instant::now();
                let upload = {
                    let mut st = slot.state.lock().unwrap();
                    st.upload.state = UploadState::Uploading { sent: sent as i64 };
                    st.upload.clone()
                };
                shared.emit(CoreEvent::Upload { upload });
            })
        };
        match self
            .api
            .upload_attachment(&path, &name, &content_type, progress)
            .await
        {
            Ok(a) => {
                let at = now_ms();
                self.set_upload(
                    &slot,
                    UploadState::Done {
                        attachment: a.clone(),
                    },
                    Some(at),
                );
                Ok((a, at))
            }
            Err(e) => {
                let state = if is_temporary(&e) {
                    UploadState::Waiting {
                        reason: Some(if e.is_network() {
                            "offline".into()
                        } else {
                            e.code().to_string()
                        }),
                    }
                } else {
                    UploadState::Failed {
                        code: e.code().to_string(),
                        message: e.to_string(),
                    }
                };
                self.set_upload(&slot, state, None);
                Err(e)
            }
        }
    }

    fn set_upload(&self, slot: &Slot, state: UploadState, uploaded_at: Option<i64>) {
        let upload = {
            let mut st = slot.state.lock().unwrap();
            st.upload.state = state;
            st.uploaded_at = uploaded_at;
            st.upload.clone()
        };
        self.emit(CoreEvent::Upload { upload });
    }

    /// An attachment of a message of this dialog, as last cached.
    fn cached_attachment(&self, conversation_id: i64, attachment_id: i64) -> Option<Attachment> {
        self.cache
            .load_messages(conversation_id)
            .items
            .into_iter()
            .flat_map(|m| m.attachments)
            .find(|a| a.id == attachment_id)
    }

    /// Downloads an attachment of a dialog to `dest`. A link that no longer works
    /// (expired) is fetched again with the dialog's latest messages.
    async fn fetch_attachment(
        &self,
        conversation_id: i64,
        attachment_id: i64,
        dest: &Path,
    ) -> Result<u64> {
        let mut att = self.cached_attachment(conversation_id, attachment_id);
        if att.is_none() {
            self.messages(conversation_id).await?;
            att = self.cached_attachment(conversation_id, attachment_id);
        }
        let att = att.ok_or_else(|| Error::Invalid("the file is not in this dialog".into()))?;
        let shared = self.shared.clone();
        let last = Mutex::new((Instant::now(), 0u64));
        let progress = move |received: u64, total: Option<u64>| {
            let mut l = last.lock().unwrap();
            let done = total == Some(received);
            if !done && received != 0 && l.0.elapsed() < Duration::from_millis(150) {
                return;
            }
            *l = (Instant::now(), received);
            shared.emit(CoreEvent::Download {
                conversation_id,
                attachment_id,
                received: received as i64,
                total: total.map(|t| t as i64),
            });
        };
        match self.api.download(&att.url, dest, &progress).await {
            Err(e) if matches!(e.status(), Some(401 | 403 | 404 | 410)) => {
                // the signed link expired: the latest page hands out fresh ones
                self.messages(conversation_id).await?;
                let fresh = self
                    .cached_attachment(conversation_id, attachment_id)
                    .filter(|a| a.url != att.url)
                    .ok_or(e)?;
                self.api.download(&fresh.url, dest, &progress).await
            }
            r => r,
        }
    }

    /// Saves an attachment where the operator chose. Returns the bytes written.
    pub async fn save_attachment(
        &self,
        conversation_id: i64,
        attachment_id: i64,
        dest: &Path,
    ) -> Result<u64> {
        self.fetch_attachment(conversation_id, attachment_id, dest)
            .await
    }

    /// A local copy of an attachment to open with the OS (kept under `downloads/`,
    /// fetched once). Programs, scripts and web pages are refused: the operator
    /// saves those and decides.
    pub async fn attachment_copy(
        &self,
        conversation_id: i64,
        attachment_id: i64,
    ) -> Result<PathBuf> {
        let mut att = self.cached_attachment(conversation_id, attachment_id);
        if att.is_none() {
            self.messages(conversation_id).await?;
            att = self.cached_attachment(conversation_id, attachment_id);
        }
        let att = att.ok_or_else(|| Error::Invalid("the file is not in this dialog".into()))?;
        if risky_to_open(&att.name) {
            return Err(Error::Risky(format!(
                "{} could run a program: save it and open it yourself if you trust it",
                att.name
            )));
        }
        let dest = self
            .cache
            .downloads_dir()
            .join(att.id.to_string())
            .join(safe_file_name(&att.name));
        if let Ok(m) = tokio::fs::metadata(&dest).await {
            if m.len() as i64 == att.size {
                return Ok(dest);
            }
        }
        self.fetch_attachment(conversation_id, attachment_id, &dest)
            .await?;
        Ok(dest)
    }
}

async fn read_head(path: &Path) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut head = vec![0u8; 64];
    let n = match tokio::fs::File::open(path).await {
        Ok(mut f) => f.read(&mut head).await.unwrap_or(0),
        Err(_) => 0,
    };
    head.truncate(n);
    head
}
