//! Attachments over HTTP: uploads (`POST …/attachments`) and the signed links
//! that serve them (`/files/…`, `/thumbnails/…`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_protocol::Attachment;
use tokio_util::io::ReaderStream;

use crate::auth::CurrentUser;
use crate::client_addr::ClientAddr;
use crate::db::now_ms;
use crate::domain::attachment::{self as rules, LinkError, Variant};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::json::Json;
use crate::routes::widget::CurrentVisitor;
use crate::services::attachments as service;
use crate::state::SharedState;
use crate::store::attachments::{self, Uploader};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadParams {
    /// The file's name, shown to the other side and offered when saving
    /// (paths, control characters and leading dots are dropped).
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\x00-\\x1f\\x7f-\\x9f/\\\\.\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub name: String,
}

fn declared(headers: &HeaderMap) -> (String, Option<u64>) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (content_type, length)
}

#[utoipa::path(post, path = "/api/v1/widget/attachments", tag = "widget", params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's bytes, with its Content-Type"),
    responses((status = 201, body = Attachment, description = "uploaded; send it with a message (`attachments: [id]`) within a day"),
              (status = 413, description = "`payload_too_large`: over the limit (25 MiB unless configured)"),
              (status = 422, description = "`empty_file` or `invalid_name`"),
              (status = 429, description = "`too_many_requests`: too many files from this visitor or address, or too many not sent yet")),
    security(("visitor" = [])))]
pub async fn visitor_upload(
    State(state): State<SharedState>,
    CurrentVisitor(visitor): CurrentVisitor,
    ClientAddr(client): ClientAddr,
    Query(params): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let name = service::parse_name(Some(&params.name))?;
    state.limits.visitor_upload(visitor.id, client)?;
    let (content_type, length) = declared(&headers);
    let attachment = service::upload(
        &state,
        Uploader::Visitor(visitor.id),
        &name,
        &content_type,
        length,
        body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(attachment)))
}

#[utoipa::path(post, path = "/api/v1/attachments", tag = "conversations", params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's bytes, with its Content-Type"),
    responses((status = 201, body = Attachment, description = "uploaded; send it with a message (`attachments: [id]`) within a day"),
              (status = 413, description = "`payload_too_large`: over the limit (25 MiB unless configured)"),
              (status = 422, description = "`empty_file` or `invalid_name`")),
    security(("bearer" = [])))]
pub async fn colleague_upload(
    State(state): State<SharedState>,
    me: CurrentUser,
    Query(params): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    me.require_answering()?;
    let name = service::parse_name(Some(&params.name))?;
    let (content_type, length) = declared(&headers);
    let attachment = service::upload(
        &state,
        Uploader::Operator(me.user.id),
        &name,
        &content_type,
        length,
        body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(attachment)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LinkParams {
    /// Unix seconds after which the link no longer works.
    pub expires: i64,
    /// The link's signature.
    #[param(max_length = 64)]
    pub sig: String,
}

fn check_link(state: &SharedState, id: i64, variant: Variant, link: &LinkParams) -> ApiResult<()> {
    rules::verify(
        &state.file_link_key,
        id,
        variant,
        link.expires,
        &link.sig,
        now_ms() / 1000,
    )
    .map_err(|e| match e {
        LinkError::Expired => {
            ApiError::forbidden("this link has expired; reload the conversation for a fresh one")
        }
        LinkError::BadSignature => ApiError::forbidden("this link is not valid"),
    })
}

#[utoipa::path(get, path = "/files/{id}/{name}", tag = "files",
    params(("id" = i64, Path), ("name" = String, Path, description = "the file's name (for the browser; not checked)"), LinkParams),
    responses((status = 200, description = "the file: PNG, JPEG, WebP and GIF images inline, anything else (SVG and HTML included) as a download; always `X-Content-Type-Options: nosniff`", content_type = "application/octet-stream"),
              (status = 403, description = "`forbidden`: the signature does not match, or the link has expired"),
              (status = 404, description = "`not_found`: no such file (any more)")))]
pub async fn original(
    State(state): State<SharedState>,
    Path((id, _name)): Path<(i64, String)>,
    Query(link): Query<LinkParams>,
) -> ApiResult<Response> {
    check_link(&state, id, Variant::Original, &link)?;
    let a = attachments::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    let inline = rules::is_inline_image(&a.content_type);
    let reader = state
        .files
        .open(&a.blob())
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    Ok(serve(
        reader,
        Some(a.size),
        &a.content_type,
        &rules::content_disposition(inline, &a.name),
    ))
}

#[utoipa::path(get, path = "/thumbnails/{id}", tag = "files", params(("id" = i64, Path), LinkParams),
    responses((status = 200, description = "the image's preview: a JPEG of at most 480×480", content_type = "image/jpeg"),
              (status = 403, description = "`forbidden`: the signature does not match, or the link has expired"),
              (status = 404, description = "`not_found`: no such file, or it has no preview")))]
pub async fn thumbnail(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    Query(link): Query<LinkParams>,
) -> ApiResult<Response> {
    check_link(&state, id, Variant::Thumbnail, &link)?;
    let a = attachments::get(&state.db, id)
        .await?
        .filter(|a| a.has_thumbnail)
        .ok_or_else(|| ApiError::not_found("preview"))?;
    let reader = state
        .files
        .open(&a.thumbnail_blob())
        .await?
        .ok_or_else(|| ApiError::not_found("preview"))?;
    Ok(serve(
        reader,
        None,
        "image/jpeg",
        &rules::content_disposition(true, &format!("{}.jpg", a.name)),
    ))
}

fn serve(
    reader: crate::files::FileReader,
    size: Option<i64>,
    content_type: &str,
    disposition: &str,
) -> Response {
    let mut response = Body::from_stream(ReaderStream::new(reader)).into_response();
    let headers = response.headers_mut();
    let value = |v: &str| {
        HeaderValue::from_str(v)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    };
    headers.insert(header::CONTENT_TYPE, value(content_type));
    if let Some(size) = size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if let Ok(v) = HeaderValue::from_str(disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Even opened directly, a file runs no script and loads nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        ),
    );
    // The link changes when it is signed again; what it names never changes.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    response
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct FileUsage {
    /// Distinct files kept (the same file sent twice counts once).
    pub files: i64,
    /// The bytes they take.
    pub bytes: i64,
}

#[utoipa::path(get, path = "/api/v1/attachments/usage", tag = "team",
    responses((status = 200, body = FileUsage, description = "what attachments take on disk (admins)")),
    security(("bearer" = [])))]
pub async fn usage(
    State(state): State<SharedState>,
    me: CurrentUser,
) -> ApiResult<Json<FileUsage>> {
    me.require_admin()?;
    let (files, bytes) = attachments::usage(&state.db).await?;
    Ok(Json(FileUsage { files, bytes }))
}
