//! REST client for API.md.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use switchboard_protocol::{
    Attachment, ChangePassword, ChangeRole, Conversation, ErrorBody, Invitation, LoginRequest,
    LoginResponse, MarkRead, Message, NewMessage, NotificationSettings, Page, Presence, Report,
    SearchHit, SetPresence, UpdateConversation, UpdateMe, User, VisitorProfile, WidgetSettings,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// The error code of a 403 while the user still has the emailed password.
pub const PASSWORD_CHANGE_REQUIRED: &str = "password_change_required";

/// Largest avatar the server accepts (API.md: 1 MiB).
pub const MAX_AVATAR_BYTES: usize = 1_048_576;

/// A file transfer that moves no byte for this long has failed (the connection is dead).
pub const STALL: Duration = Duration::from_secs(60);

/// Bytes read from disk per piece of an upload.
const UPLOAD_CHUNK: usize = 64 * 1024;

/// When a transfer last moved a byte, for the stall watchdog.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for [`STALL`].
    async fn stalled(&self) {
        loop {
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let idle = self.start.elapsed().saturating_sub(last);
            if idle >= STALL {
                return;
            }
            tokio::time::sleep(STALL - idle + Duration::from_millis(10)).await;
        }
    }
}

/// Checks and normalises a server URL typed by a user: `https://host[:port][/base]`, no
/// trailing slash. An address without a scheme is `https://`. Plain `http://` sends the
/// password and the token in clear text, so it is refused unless the host is this
/// computer (localhost, 127.0.0.0/8, ::1) or the user explicitly chose `allow_http`.
pub fn normalize_server_url(input: &str, allow_http: bool) -> Result<String> {
    let s = input.trim();
    if s.trim_end_matches('/').is_empty() {
        return Err(Error::Invalid("enter the server address".into()));
    }
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| Error::Invalid(format!("not a valid server address: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Invalid(
            "the server address must start with https:// or http://".into(),
        ));
    }
    check_transport(&url, allow_http)?;
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// `Err(Insecure)` for an `http://` URL to another computer without the user's opt-in.
fn check_transport(url: &reqwest::Url, allow_http: bool) -> Result<()> {
    if url.scheme() == "http" && !allow_http && !is_loopback(url) {
        return Err(Error::Insecure(format!(
            "{} is not encrypted (http://): the password and the token would travel in \
             clear text. Use https://, or allow an unencrypted connection explicitly",
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(())
}

/// Whether the URL's host is this computer: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed: `[::1]`
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// What the server said about the credentials of a signed-in client, on any call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSignal {
    /// 401: the token no longer works (`code`: `unauthorized`, `session_expired`, …).
    Unauthorized { code: String, message: String },
    /// 403 `password_change_required`: only the password may be changed now.
    PasswordChangeRequired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatusFilter {
    Open,
    Closed,
}

#[derive(Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    signals: Option<mpsc::UnboundedSender<AuthSignal>>,
}

/// Never prints the token.
impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Api {
    /// `allow_http`: the user chose to allow plain `http://` to another computer.
    pub fn new(base: &str, allow_http: bool) -> Result<Api> {
        // a redirect must not lead the password or the token to plain http either
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if let Err(e) = check_transport(attempt.url(), allow_http) {
                attempt.error(e)
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(redirects)
            .user_agent(concat!("switchboard-desktop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(Api {
            base: normalize_server_url(base, allow_http)?,
            token: None,
            http,
            signals: None,
        })
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Api {
        self.token = Some(token.into());
        self
    }

    /// Reports every 401 and 403 `password_change_required` answered to this token.
    pub fn with_auth_signals(mut self, tx: mpsc::UnboundedSender<AuthSignal>) -> Api {
        self.signals = Some(tx);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `ws(s)://…/api/v1/stream?since=…`
    pub fn stream_url(&self, since: Option<i64>) -> String {
        let ws = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        match since {
            Some(s) => format!("{ws}/api/v1/stream?since={s}"),
            None => format!("{ws}/api/v1/stream"),
        }
    }

    /// Resolves a server-relative URL (e.g. an `avatar_url`) to an absolute one.
    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") || url.starts_with("data:") {
            url.to_string()
        } else if url.starts_with('/') {
            format!("{}{}", self.base, url)
        } else {
            format!("{}/{}", self.base, url)
        }
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn check(&self, resp: Response) -> Result<Response> {
        let r = Self::status_error(resp).await;
        if let Err(e) = &r {
            self.signal(e);
        }
        r
    }

    /// The error of a failed answer, without signalling: a signed link refused says
    /// nothing about the token.
    async fn status_error(resp: Response) -> Result<Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (
                status_code_name(status),
                if text.trim().is_empty() {
                    status
                        .canonical_reason()
                        .unwrap_or("request failed")
                        .to_string()
                } else {
                    text.chars().take(300).collect()
                },
            ),
        };
        Err(Error::Api {
            status: status.as_u16(),
            code,
            message,
        })
    }

    fn signal(&self, e: &Error) {
        let (Some(tx), Some(_)) = (&self.signals, &self.token) else {
            return;
        };
        let s = match e {
            Error::Api {
                status: 401,
                code,
                message,
            } => AuthSignal::Unauthorized {
                code: code.clone(),
                message: message.clone(),
            },
            Error::Api {
                status: 403, code, ..
            } if code == PASSWORD_CHANGE_REQUIRED => AuthSignal::PasswordChangeRequired,
            _ => return,
        };
        let _ = tx.send(s);
    }

    async fn json<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T> {
        let resp = self.check(rb.send().await?).await?;
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(e.to_string()))
    }

    async fn empty(&self, rb: RequestBuilder) -> Result<()> {
        self.check(rb.send().await?).await?;
        Ok(())
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.json(self.req(method, path).json(body)).await
    }

    pub async fn health(&self) -> Result<()> {
        self.empty(self.req(Method::GET, "/healthz")).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<LoginResponse> {
        let body = LoginRequest {
            email: email.trim().to_string(),
            password: password.to_string(),
        };
        self.json(
            self.http
                .post(format!("{}/api/v1/auth/login", self.base))
                .json(&body),
        )
        .await
    }

    pub async fn logout(&self) -> Result<()> {
        self.empty(self.req(Method::POST, "/api/v1/auth/logout"))
            .await
    }

    pub async fn me(&self) -> Result<User> {
        self.json(self.req(Method::GET, "/api/v1/me")).await
    }

    pub async fn update_me(&self, update: &UpdateMe) -> Result<User> {
        self.send_json(Method::PATCH, "/api/v1/me", update).await
    }

    pub async fn change_password(&self, current: &str, new: &str) -> Result<()> {
        let body = ChangePassword {
            current_password: current.to_string(),
            new_password: new.to_string(),
        };
        self.empty(self.req(Method::PUT, "/api/v1/me/password").json(&body))
            .await
    }

    pub async fn upload_avatar(&self, bytes: Vec<u8>, content_type: &str) -> Result<User> {
        self.json(
            self.req(Method::PUT, "/api/v1/me/avatar")
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes),
        )
        .await
    }

    pub async fn delete_avatar(&self) -> Result<User> {
        self.json(self.req(Method::DELETE, "/api/v1/me/avatar"))
            .await
    }

    pub async fn set_notifications(&self, n: NotificationSettings) -> Result<User> {
        self.send_json(Method::PUT, "/api/v1/me/notifications", &n)
            .await
    }

    pub async fn set_presence(&self, presence: Presence) -> Result<User> {
        self.send_json(
            Method::PUT,
            "/api/v1/me/presence",
            &SetPresence { presence },
        )
        .await
    }

    pub async fn team(&self) -> Result<Vec<User>> {
        self.json(self.req(Method::GET, "/api/v1/team")).await
    }

    pub async fn invite(&self, email: &str, role: &str) -> Result<User> {
        let body = Invitation {
            email: email.trim().to_string(),
            role: role.to_string(),
        };
        self.send_json(Method::POST, "/api/v1/team/invitations", &body)
            .await
    }

    /// Settings → Mail (admins): the DNS records to publish.
    pub async fn mail_dns(&self) -> Result<switchboard_protocol::MailDns> {
        self.json(self.req(Method::GET, "/api/v1/mail/dns")).await
    }

    /// Settings → Mail → Check: what DNS answers for each record.
    pub async fn mail_dns_check(&self) -> Result<switchboard_protocol::DnsCheck> {
        self.json(self.req(Method::GET, "/api/v1/mail/dns/check"))
            .await
    }

    pub async fn resend_invitation(&self, user_id: i64) -> Result<()> {
        self.empty(self.req(Method::POST, &format!("/api/v1/team/{user_id}/invitation")))
            .await
    }

    pub async fn change_role(&self, user_id: i64, role: &str) -> Result<User> {
        let body = ChangeRole {
            role: role.to_string(),
        };
        self.send_json(Method::PATCH, &format!("/api/v1/team/{user_id}"), &body)
            .await
    }

    pub async fn remove_member(&self, user_id: i64) -> Result<()> {
        self.empty(self.req(Method::DELETE, &format!("/api/v1/team/{user_id}")))
            .await
    }

    pub async fn conversations(
        &self,
        status: Option<ConversationStatusFilter>,
        assignee: Option<&str>,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<Conversation>> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(s) = status {
            q.push((
                "status",
                match s {
                    ConversationStatusFilter::Open => "open",
                    ConversationStatusFilter::Closed => "closed",
                }
                .to_string(),
            ));
        }
        if let Some(a) = assignee {
            q.push(("assignee", a.to_string()));
        }
        if let Some(b) = before {
            q.push(("before", b.to_string()));
        }
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        self.json(self.req(Method::GET, "/api/v1/conversations").query(&q))
            .await
    }

    pub async fn conversation(&self, id: i64) -> Result<Conversation> {
        self.json(self.req(Method::GET, &format!("/api/v1/conversations/{id}")))
            .await
    }

    /// `GET /api/v1/visitors/{id}`: who the visitor is (browser, OS, language, time
    /// zone, referrer, pages seen, earlier conversations), shown beside the dialog.
    pub async fn visitor(&self, id: i64) -> Result<VisitorProfile> {
        self.json(self.req(Method::GET, &format!("/api/v1/visitors/{id}")))
            .await
    }

    /// `GET /api/v1/widget-settings`: how the widget looks and what it says (any member).
    pub async fn widget_settings(&self) -> Result<WidgetSettings> {
        self.json(self.req(Method::GET, "/api/v1/widget-settings"))
            .await
    }

    /// `PUT /api/v1/widget-settings` (admins and marketers): the settings as stored.
    pub async fn put_widget_settings(&self, settings: &WidgetSettings) -> Result<WidgetSettings> {
        self.send_json(Method::PUT, "/api/v1/widget-settings", settings)
            .await
    }

    pub async fn update_conversation(
        &self,
        id: i64,
        update: &UpdateConversation,
    ) -> Result<Conversation> {
        self.send_json(
            Method::PATCH,
            &format!("/api/v1/conversations/{id}"),
            update,
        )
        .await
    }

    pub async fn messages(
        &self,
        id: i64,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<Message>> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(b) = before {
            q.push(("before", b.to_string()));
        }
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        self.json(
            self.req(Method::GET, &format!("/api/v1/conversations/{id}/messages"))
                .query(&q),
        )
        .await
    }

    /// Posts a message; `attachments` are ids of files this user uploaded and has not
    /// sent yet. The same `client_id` again returns the first message, not a copy.
    pub async fn post_message(
        &self,
        id: i64,
        body: &str,
        client_id: &str,
        attachments: &[i64],
    ) -> Result<Message> {
        let b = NewMessage {
            body: body.to_string(),
            client_id: client_id.to_string(),
            attachments: attachments.to_vec(),
            greeting_id: None,
        };
        self.send_json(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            &b,
        )
        .await
    }

    /// `POST /api/v1/attachments?name=…`: the file at `path`, streamed from disk (never
    /// read whole into memory), with its length announced so the server can refuse a
    /// file over its limit (413) at once. `progress` hears the bytes sent so far.
    /// A transfer that moves no byte for [`STALL`] fails as a network error.
    pub async fn upload_attachment(
        &self,
        path: &Path,
        name: &str,
        content_type: &str,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<Attachment> {
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        let activity = Arc::new(Activity::new());
        let act = activity.clone();
        let chunks = futures_util::stream::unfold(
            (file, 0u64, act, progress),
            |(mut file, sent, act, progress)| async move {
                let mut buf = vec![0u8; UPLOAD_CHUNK];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        let sent = sent + n as u64;
                        act.touch();
                        progress(sent);
                        Some((Ok::<_, std::io::Error>(buf), (file, sent, act, progress)))
                    }
                    Err(e) => Some((Err(e), (file, sent, act, progress))),
                }
            },
        );
        let rb = self
            .req(Method::POST, "/api/v1/attachments")
            .query(&[("name", name)])
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, len)
            // big files on slow links: no overall deadline, the stall watchdog instead
            .timeout(Duration::from_secs(24 * 3600))
            .body(reqwest::Body::wrap_stream(chunks));
        let send = async {
            let resp = self.check(rb.send().await?).await?;
            let bytes = resp.bytes().await?;
            serde_json::from_slice::<Attachment>(&bytes).map_err(|e| Error::Protocol(e.to_string()))
        };
        tokio::select! {
            r = send => r,
            _ = activity.stalled() => Err(Error::Network(format!(
                "the upload stalled: nothing moved for {} s", STALL.as_secs()
            ))),
        }
    }

    /// Downloads `url` (a signed attachment URL, absolute or relative to the server)
    /// into `dest`, streamed: written to a temporary file beside it and renamed when
    /// complete, so `dest` is never half a file. `progress` hears `(received, total)`.
    /// Returns the bytes written.
    pub async fn download(
        &self,
        url: &str,
        dest: &Path,
        progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    ) -> Result<u64> {
        let url = self.absolute(url);
        // a signed URL carries its own authorisation: the token stays home
        let rb = self.http.get(&url).timeout(Duration::from_secs(24 * 3600));
        let mut resp = Self::status_error(rb.send().await?).await?;
        let total = resp.content_length();
        let dir = dest
            .parent()
            .ok_or_else(|| Error::Invalid("no folder to save into".into()))?;
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(
            ".{}.part{}",
            dest.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("download"),
            std::process::id()
        ));
        let result = async {
            let mut out = tokio::fs::File::create(&tmp).await?;
            let mut received = 0u64;
            progress(0, total);
            loop {
                let chunk = tokio::time::timeout(STALL, resp.chunk())
                    .await
                    .map_err(|_| {
                        Error::Network(format!(
                            "the download stalled: nothing came for {} s",
                            STALL.as_secs()
                        ))
                    })??;
                let Some(chunk) = chunk else { break };
                out.write_all(&chunk).await?;
                received += chunk.len() as u64;
                progress(received, total);
            }
            if let Some(t) = total {
                if received != t {
                    return Err(Error::Network(format!(
                        "the download ended after {received} of {t} bytes"
                    )));
                }
            }
            out.sync_all().await?;
            drop(out);
            tokio::fs::rename(&tmp, dest).await?;
            Ok(received)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// `GET /api/v1/search`: messages, visitor names and emails matching `q` (other
    /// word forms too), newest first; `before` is the `next` of the previous page.
    pub async fn search(
        &self,
        q: &str,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<SearchHit>> {
        let mut query: Vec<(&str, String)> = vec![("q", q.to_string())];
        if let Some(b) = before {
            query.push(("before", b.to_string()));
        }
        if let Some(l) = limit {
            query.push(("limit", l.to_string()));
        }
        self.json(self.req(Method::GET, "/api/v1/search").query(&query))
            .await
    }

    /// `GET /api/v1/reports`: the figures of the days `from`..=`to` (`YYYY-MM-DD`)
    /// counted in the IANA time zone `tz`; a conversation is missed when its first
    /// answer took longer than `missed_after` minutes (admins and analysts).
    pub async fn reports(
        &self,
        from: &str,
        to: &str,
        tz: &str,
        missed_after: Option<i64>,
    ) -> Result<Report> {
        let mut query: Vec<(&str, String)> = vec![
            ("from", from.to_string()),
            ("to", to.to_string()),
            ("tz", tz.to_string()),
        ];
        if let Some(m) = missed_after {
            query.push(("missed_after", m.to_string()));
        }
        self.json(self.req(Method::GET, "/api/v1/reports").query(&query))
            .await
    }

    pub async fn mark_read(&self, id: i64, message_id: i64) -> Result<()> {
        self.empty(
            self.req(Method::POST, &format!("/api/v1/conversations/{id}/read"))
                .json(&MarkRead { message_id }),
        )
        .await
    }
}

fn status_code_name(s: StatusCode) -> String {
    match s.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "too_many_requests",
        500..=599 => "server_error",
        _ => "http_error",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_normalised() {
        assert_eq!(
            normalize_server_url(" http://127.0.0.1:8080/ ", false).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_server_url("https://x.example/base/", false).unwrap(),
            "https://x.example/base"
        );
        assert!(normalize_server_url("", false).is_err());
        assert!(normalize_server_url("ftp://x", false).is_err());
        assert!(normalize_server_url("https://", false).is_err());
    }

    #[test]
    fn an_address_without_a_scheme_is_https() {
        assert_eq!(
            normalize_server_url("chat.example.com", false).unwrap(),
            "https://chat.example.com"
        );
        assert_eq!(
            normalize_server_url("chat.example.com:8443/sb/", false).unwrap(),
            "https://chat.example.com:8443/sb"
        );
        // even for this computer: the scheme typed is the only way to get http
        assert_eq!(
            normalize_server_url("localhost:8080", false).unwrap(),
            "https://localhost:8080"
        );
    }

    #[test]
    fn plain_http_only_to_this_computer() {
        for ok in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://localhost.:8080",
            "http://127.0.0.1:8080",
            "http://127.10.20.30",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]:8080",
        ] {
            assert!(normalize_server_url(ok, false).is_ok(), "{ok} was refused");
        }
        for bad in [
            "http://chat.example.com",
            "http://10.0.0.5:8080",
            "http://192.168.1.2",
            "http://128.0.0.1",
            "http://[::2]",
            "http://[fe80::1]",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
        ] {
            let e = normalize_server_url(bad, false).unwrap_err();
            assert_eq!(e.code(), "insecure_http", "{bad}: {e:?}");
            assert!(e.to_string().contains("clear text"), "{e}");
            assert!(Api::new(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_elsewhere_after_an_explicit_choice() {
        assert_eq!(
            normalize_server_url("http://chat.example.com/", true).unwrap(),
            "http://chat.example.com"
        );
        assert_eq!(
            normalize_server_url("http://10.0.0.5:8080", true).unwrap(),
            "http://10.0.0.5:8080"
        );
        // the choice allows http; it does not turn a typed-without-scheme address into it
        assert_eq!(
            normalize_server_url("chat.example.com", true).unwrap(),
            "https://chat.example.com"
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let a = Api::new("https://x.example", false)
            .unwrap()
            .with_token("secret-token-123");
        let d = format!("{a:?}");
        assert!(!d.contains("secret-token-123"), "{d}");
        assert!(d.contains("x.example"));
    }

    #[test]
    fn stream_url_follows_scheme() {
        let a = Api::new("https://x.example", false).unwrap();
        assert_eq!(
            a.stream_url(Some(5)),
            "wss://x.example/api/v1/stream?since=5"
        );
        let a = Api::new("http://127.0.0.1:1", false).unwrap();
        assert_eq!(a.stream_url(None), "ws://127.0.0.1:1/api/v1/stream");
        assert_eq!(
            a.absolute("/avatars/a.png"),
            "http://127.0.0.1:1/avatars/a.png"
        );
    }
}
