//! Files in the correspondence: uploads streamed to disk while they are
//! counted and hashed (never held whole in memory), kept once per content,
//! previewed once, and handed out as signed links that expire.

use std::path::{Path, PathBuf};

use axum::body::Body;
use futures_util::StreamExt;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use sha2::{Digest, Sha256};
use switchboard_protocol::Attachment;
use tokio::io::AsyncWriteExt;

use crate::db::now_ms;
use crate::domain::attachment::{self as rules, Variant};
use crate::error::{ApiError, ApiResult};
use crate::files::io_error;
use crate::state::{AppState, SharedState};
use crate::store::attachments::{self, AttachmentRecord, NewAttachment, Uploader};

/// The default limit of one file (`--max-attachment`).
pub const DEFAULT_MAX_BYTES: u64 = 25 * 1024 * 1024;
/// Links are valid for at least a week; every answer hands out fresh ones.
const LINK_DAYS: i64 = 7;
/// Previews fit in this square.
const THUMBNAIL_SIDE: u32 = 480;
/// Decoding an image for its preview may not take more memory than this.
const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;
/// A visitor may keep this many uploads that are not sent yet.
pub const MAX_UNSENT_PER_VISITOR: i64 = 30;

/// A file being written under `<data-dir>/uploads`, deleted unless kept.
struct PartFile {
    path: PathBuf,
    kept: bool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn part_file(state: &AppState) -> ApiResult<(PartFile, tokio::fs::File)> {
    let dir = state.config.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir).await.map_err(io_error)?;
    let path = dir.join(format!("{:016x}.part", rand::random::<u64>()));
    let file = tokio::fs::File::create(&path).await.map_err(io_error)?;
    Ok((PartFile { path, kept: false }, file))
}

fn too_large(max: u64) -> ApiError {
    ApiError::too_large(format!(
        "a file may be at most {} MiB ({max} bytes)",
        max / (1024 * 1024)
    ))
}

/// What was written: the content hash, the size and the first bytes.
struct Written {
    sha256: String,
    size: u64,
    head: Vec<u8>,
}

#[derive(Default)]
struct Writer {
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

impl Writer {
    async fn write(&mut self, file: &mut tokio::fs::File, chunk: &[u8], max: u64) -> ApiResult<()> {
        self.size += chunk.len() as u64;
        if self.size > max {
            return Err(too_large(max));
        }
        self.hasher.update(chunk);
        if self.head.len() < 64 {
            let take = (64 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        file.write_all(chunk).await.map_err(io_error)
    }

    async fn finish(self, mut file: tokio::fs::File) -> ApiResult<Written> {
        file.flush().await.map_err(io_error)?;
        // The row that names the file is committed after this: the bytes must
        // be on disk first.
        file.sync_data().await.map_err(io_error)?;
        if self.size == 0 {
            return Err(ApiError::unprocessable("empty_file", "the file is empty"));
        }
        Ok(Written {
            sha256: self
                .hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            size: self.size,
            head: self.head,
        })
    }
}

/// The key that signs links, made on the first start (random, 32 bytes).
pub async fn link_key(db: &crate::db::Db) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let fresh = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let stored: String =
        crate::store::settings::get_or_init(db, crate::store::settings::FILE_LINK_KEY, &fresh)
            .await?;
    Ok(base64::engine::general_purpose::STANDARD.decode(stored)?)
}

/// Checks what an upload says of itself before a byte is read.
pub fn parse_name(name: Option<&str>) -> ApiResult<String> {
    name.filter(|n| n.chars().count() <= MAX_NAME_CHARS)
        .and_then(rules::clean_name)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_name",
                "give the file's name: ?name=<file name> (1 to 255 characters)",
            )
        })
}

/// The longest name an upload may give (it is kept cut to 200 characters).
const MAX_NAME_CHARS: usize = 255;

/// Stores an upload streamed in a request body.
pub async fn upload(
    state: &SharedState,
    uploader: Uploader,
    name: &str,
    declared_type: &str,
    declared_len: Option<u64>,
    body: Body,
) -> ApiResult<Attachment> {
    let max = state.config.max_attachment_bytes;
    let mut stream = body.into_data_stream();
    if declared_len.is_some_and(|n| n > max) {
        drain(&mut stream).await;
        return Err(too_large(max));
    }
    if let Uploader::Visitor(_) = uploader {
        if attachments::unsent_count(&state.db, uploader).await? >= MAX_UNSENT_PER_VISITOR {
            return Err(ApiError::too_many(
                60,
                "too many files uploaded and not sent; send or drop some first",
            ));
        }
    }
    let (part, mut file) = part_file(state).await?;
    let mut writer = Writer::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("upload_interrupted", format!("the upload broke off: {e}"))
        })?;
        if let Err(e) = writer.write(&mut file, &chunk, max).await {
            if e.status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                drain(&mut stream).await;
            }
            return Err(e);
        }
    }
    let written = writer.finish(file).await?;
    let record = keep(state, part, written, uploader, name, declared_type).await?;
    Ok(view(state, &record))
}

/// Reads and drops what is left of a refused upload (up to 64 MiB, for 10 s)
/// before the 413 goes out: a client still sending when the answer comes and
/// the connection closes sees a broken pipe, not the reason.
async fn drain(stream: &mut axum::body::BodyDataStream) {
    const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
    let mut left = DRAIN_BYTES;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = stream.next().await {
            left = left.saturating_sub(chunk.len() as u64);
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

/// Stores a file that arrived whole (an email's attachment).
pub async fn store_bytes(
    state: &AppState,
    uploader: Uploader,
    name: &str,
    declared_type: &str,
    bytes: &[u8],
) -> ApiResult<AttachmentRecord> {
    let (part, mut file) = part_file(state).await?;
    let mut writer = Writer::default();
    writer.write(&mut file, bytes, u64::MAX).await?;
    let written = writer.finish(file).await?;
    keep(state, part, written, uploader, name, declared_type).await
}

async fn keep(
    state: &AppState,
    mut part: PartFile,
    written: Written,
    uploader: Uploader,
    name: &str,
    declared_type: &str,
) -> ApiResult<AttachmentRecord> {
    let image = image::guess_format(&written.head)
        .ok()
        .and_then(|format| match format {
            ImageFormat::Png => Some("image/png"),
            ImageFormat::Jpeg => Some("image/jpeg"),
            ImageFormat::WebP => Some("image/webp"),
            ImageFormat::Gif => Some("image/gif"),
            _ => None,
        });
    let content_type = rules::content_type(image, declared_type, name);
    let mut has_thumbnail = false;
    if image.is_some() {
        let thumbnail = attachments::thumbnail_name(&written.sha256);
        has_thumbnail = state.files.exists(&thumbnail).await;
        if !has_thumbnail {
            let path = part.path.clone();
            let made = tokio::task::spawn_blocking(move || make_thumbnail(&path))
                .await
                .map_err(ApiError::internal)?;
            match made {
                Ok(jpeg) => {
                    state.files.put(&thumbnail, &jpeg).await?;
                    has_thumbnail = true;
                }
                // Still an attachment, shown as a file.
                Err(e) => tracing::debug!(error = %e, "no preview for an uploaded image"),
            }
        }
    }
    state
        .files
        .put_file(&attachments::blob_name(&written.sha256), &part.path)
        .await?;
    part.kept = true;
    let record = attachments::insert(
        &state.db,
        NewAttachment {
            sha256: &written.sha256,
            name,
            content_type: &content_type,
            size: written.size as i64,
            has_thumbnail,
            uploader,
        },
    )
    .await?;
    Ok(record)
}

/// A JPEG preview that fits `THUMBNAIL_SIDE`, turned as the camera said
/// (EXIF orientation) and carrying no metadata (a new encoding).
fn make_thumbnail(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut reader = ImageReader::open(path)?.with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut decoded = DynamicImage::from_decoder(decoder)?;
    decoded.apply_orientation(orientation);
    let small = if decoded.width() > THUMBNAIL_SIDE || decoded.height() > THUMBNAIL_SIDE {
        decoded.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        decoded
    };
    let mut out = std::io::Cursor::new(Vec::new());
    small.to_rgb8().write_to(&mut out, ImageFormat::Jpeg)?;
    Ok(out.into_inner())
}

/// The uploads a sender names in a message, checked before the write: theirs,
/// not sent yet, at most ten. An id that names no such upload is 404, like a
/// path that names nothing.
pub async fn for_message(
    state: &AppState,
    uploader: Uploader,
    ids: &[i64],
) -> ApiResult<Vec<AttachmentRecord>> {
    if ids.len() > rules::MAX_PER_MESSAGE {
        return Err(ApiError::unprocessable(
            "too_many_attachments",
            format!(
                "a message may carry at most {} files",
                rules::MAX_PER_MESSAGE
            ),
        ));
    }
    if ids.iter().any(|&id| id < 1) {
        return Err(ApiError::unprocessable(
            "invalid_attachment",
            "attachments are the ids of uploads (positive whole numbers)",
        ));
    }
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(ApiError::unprocessable(
            "duplicate_attachment",
            "the same file is attached twice",
        ));
    }
    attachments::unsent_of(&state.db, uploader, ids)
        .await?
        .ok_or_else(|| ApiError::not_found("attachment"))
}

/// The API's view of a file, with links signed now.
pub fn view(state: &AppState, a: &AttachmentRecord) -> Attachment {
    let signed = |variant| signed_query(state, a.id, variant, LINK_DAYS);
    Attachment {
        id: a.id,
        name: a.name.clone(),
        content_type: a.content_type.clone(),
        size: a.size,
        url: format!(
            "{}/files/{}/{}?{}",
            state.public_url,
            a.id,
            percent_encode(&a.name),
            signed(Variant::Original)
        ),
        thumbnail_url: a.has_thumbnail.then(|| {
            format!(
                "{}/thumbnails/{}?{}",
                state.public_url,
                a.id,
                signed(Variant::Thumbnail)
            )
        }),
    }
}

/// `expires=…&sig=…` for a link valid at least `days` (whole days, so a
/// link stays the same for a day and browsers cache what it shows).
fn signed_query(state: &AppState, id: i64, variant: Variant, days: i64) -> String {
    let day = 24 * 3600;
    let expires = (now_ms() / 1000 / day + days + 1) * day;
    let sig = rules::sign(&state.file_link_key, id, variant, expires);
    format!("expires={expires}&sig={sig}")
}

/// A link to the file valid for at least `days` (for emails).
pub fn link(state: &AppState, a: &AttachmentRecord, days: i64) -> String {
    format!(
        "{}/files/{}/{}?{}",
        state.public_url,
        a.id,
        percent_encode(&a.name),
        signed_query(state, a.id, Variant::Original, days)
    )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Uploads never sent are kept this long (a visitor who picked a file and
/// left), then deleted with their bytes unless another upload has the same.
pub const UNSENT_KEPT_MS: i64 = 24 * 3600 * 1000;

/// Deletes uploads that were never sent, as of `now`; returns how many.
pub async fn sweep_unsent(state: &AppState, now: i64, batch: i64) -> anyhow::Result<u64> {
    let hashes = attachments::delete_unsent(&state.db, now - UNSENT_KEPT_MS, batch).await?;
    let mut unused: Vec<&String> = hashes.iter().collect();
    unused.sort();
    unused.dedup();
    for sha256 in unused {
        if !attachments::sha256_in_use(&state.db, sha256).await? {
            state.files.delete(&attachments::blob_name(sha256)).await?;
            state
                .files
                .delete(&attachments::thumbnail_name(sha256))
                .await?;
        }
    }
    Ok(hashes.len() as u64)
}
