//! The dev mailbox: with no SMTP relay, each outgoing email is kept as an `.eml`
//! file under `<data-dir>/mailbox/`, listed at `GET /dev/mailbox`.

use std::path::Path;

use serde::Serialize;

use crate::db::now_ms;

pub async fn store(dir: &Path, message: &[u8]) -> anyhow::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let name = format!("{}-{:08x}.eml", now_ms(), rand::random::<u32>());
    // Write then rename, so a reader never sees half an email.
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, message).await?;
    tokio::fs::rename(&tmp, dir.join(&name)).await?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MailboxEntry {
    pub file: String,
    pub to: String,
    pub subject: String,
    pub date: String,
    /// Where to read the raw message.
    pub url: String,
}

/// The stored emails, newest first.
pub async fn list(dir: &Path) -> anyhow::Result<Vec<MailboxEntry>> {
    let mut entries = Vec::new();
    let mut read = match tokio::fs::read_dir(dir).await {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
        Err(e) => return Err(e.into()),
    };
    while let Some(entry) = read.next_entry().await? {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".eml") || file.starts_with('.') {
            continue;
        }
        let raw = tokio::fs::read(entry.path()).await?;
        let parsed = mail_parser::MessageParser::default().parse(&raw);
        let header = |f: fn(&mail_parser::Message) -> Option<String>| {
            parsed.as_ref().and_then(f).unwrap_or_default()
        };
        entries.push(MailboxEntry {
            url: format!("/dev/mailbox/{file}"),
            to: header(|m| {
                m.to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .map(str::to_string)
            }),
            subject: header(|m| m.subject().map(str::to_string)),
            date: header(|m| m.date().map(|d| d.to_rfc3339())),
            file,
        });
    }
    entries.sort_by(|a, b| b.file.cmp(&a.file));
    Ok(entries)
}

/// One stored email's raw bytes; the name must be one `list` gives.
pub async fn read(dir: &Path, file: &str) -> Option<Vec<u8>> {
    let valid = file.ends_with(".eml")
        && !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return None;
    }
    tokio::fs::read(dir.join(file)).await.ok()
}
