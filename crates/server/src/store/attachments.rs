//! Uploaded files' rows (their bytes are in the file store, see `files`).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{now_ms, Db};

/// Who uploaded a file: a visitor, a colleague, or an inbound email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    Visitor(i64),
    Operator(i64),
    Email,
}

impl Uploader {
    fn kind(self) -> &'static str {
        match self {
            Uploader::Visitor(_) => "visitor",
            Uploader::Operator(_) => "operator",
            Uploader::Email => "email",
        }
    }

    fn id(self) -> Option<i64> {
        match self {
            Uploader::Visitor(id) | Uploader::Operator(id) => Some(id),
            Uploader::Email => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub id: i64,
    pub sha256: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub has_thumbnail: bool,
    pub message_id: Option<i64>,
}

impl AttachmentRecord {
    /// Where the bytes are in the file store: content-addressed, so one file
    /// uploaded twice is kept once.
    pub fn blob(&self) -> String {
        blob_name(&self.sha256)
    }

    pub fn thumbnail_blob(&self) -> String {
        thumbnail_name(&self.sha256)
    }
}

pub fn blob_name(sha256: &str) -> String {
    format!("files/{}/{sha256}", &sha256[..2])
}

pub fn thumbnail_name(sha256: &str) -> String {
    format!("thumbnails/{}/{sha256}.jpg", &sha256[..2])
}

const COLUMNS: &str = "id, sha256, name, content_type, size, has_thumbnail, message_id";

fn from_row(row: &AnyRow) -> Result<AttachmentRecord, sqlx::Error> {
    Ok(AttachmentRecord {
        id: row.try_get("id")?,
        sha256: row.try_get("sha256")?,
        name: row.try_get("name")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        has_thumbnail: row.try_get::<i64, _>("has_thumbnail")? != 0,
        message_id: row.try_get("message_id")?,
    })
}

pub struct NewAttachment<'a> {
    pub sha256: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub has_thumbnail: bool,
    pub uploader: Uploader,
}

pub async fn insert(db: &Db, a: NewAttachment<'_>) -> Result<AttachmentRecord, sqlx::Error> {
    let row = sqlx::query(&format!(
        "INSERT INTO attachments (sha256, name, content_type, size, has_thumbnail, uploader_kind, uploader_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(a.sha256)
    .bind(a.name)
    .bind(a.content_type)
    .bind(a.size)
    .bind(i64::from(a.has_thumbnail))
    .bind(a.uploader.kind())
    .bind(a.uploader.id())
    .bind(now_ms())
    .fetch_one(&db.pool)
    .await?;
    from_row(&row)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<AttachmentRecord>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM attachments WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The uploads named by `ids` that `uploader` made and has not sent yet, in
/// the order of `ids`; None if any of them is not such an upload.
pub async fn unsent_of(
    db: &Db,
    uploader: Uploader,
    ids: &[i64],
) -> Result<Option<Vec<AttachmentRecord>>, sqlx::Error> {
    let mut found = Vec::with_capacity(ids.len());
    for &id in ids {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE id = $1 AND uploader_kind = $2 \
             AND uploader_id IS NOT DISTINCT FROM $3 AND message_id IS NULL"
        ))
        .bind(id)
        .bind(uploader.kind())
        .bind(uploader.id())
        .fetch_optional(&db.pool)
        .await?;
        match row {
            Some(row) => found.push(from_row(&row)?),
            None => return Ok(None),
        }
    }
    Ok(Some(found))
}

/// Attaches uploads to a message, in order. False (and the caller rolls
/// back) if one of them was sent meanwhile.
pub async fn attach(
    conn: &mut AnyConnection,
    message_id: i64,
    ids: &[i64],
) -> Result<bool, sqlx::Error> {
    for (position, &id) in ids.iter().enumerate() {
        let done = sqlx::query(
            "UPDATE attachments SET message_id = $1, position = $2 WHERE id = $3 AND message_id IS NULL",
        )
        .bind(message_id)
        .bind(position as i64)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The attachments of these messages, each message's in order.
pub async fn of_messages(
    conn: &mut AnyConnection,
    message_ids: &[i64],
) -> Result<Vec<AttachmentRecord>, sqlx::Error> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=message_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments WHERE message_id IN ({}) ORDER BY message_id, position",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in message_ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// How many uploads a visitor has not sent yet.
pub async fn unsent_count(db: &Db, uploader: Uploader) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "SELECT COUNT(*) AS n FROM attachments WHERE uploader_kind = $1 \
         AND uploader_id IS NOT DISTINCT FROM $2 AND message_id IS NULL",
    )
    .bind(uploader.kind())
    .bind(uploader.id())
    .fetch_one(&db.pool)
    .await?
    .try_get("n")
}

/// Deletes up to `limit` uploads never sent and older than `before_ms`;
/// returns their content hashes (their bytes may now be unused).
pub async fn delete_unsent(
    db: &Db,
    before_ms: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "DELETE FROM attachments WHERE id IN (SELECT id FROM attachments \
         WHERE message_id IS NULL AND created_at < $1 LIMIT $2) RETURNING sha256",
    )
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| r.try_get("sha256")).collect()
}

/// Whether any attachment still uses these bytes.
pub async fn sha256_in_use(db: &Db, sha256: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM attachments WHERE sha256 = $1 LIMIT 1")
            .bind(sha256)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

/// Files kept and the bytes they take (each distinct file counted once).
pub async fn usage(db: &Db) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS files, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM \
         (SELECT sha256, MAX(size) AS size FROM attachments GROUP BY sha256) AS distinct_files",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok((row.try_get("files")?, row.try_get("bytes")?))
}
