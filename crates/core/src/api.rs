//! REST client for API.md.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use switchboard_protocol::{
    ChangePassword, ChangeRole, Conversation, ErrorBody, Invitation, LoginRequest, LoginResponse,
    MarkRead, Message, NewMessage, NotificationSettings, Page, Presence, SetPresence,
    UpdateConversation, UpdateMe, User,
};

use crate::error::{Error, Result};

/// Largest avatar the server accepts (API.md: 1 MiB).
pub const MAX_AVATAR_BYTES: usize = 1_048_576;

/// Checks and normalises a server URL typed by a user: `http(s)://host[:port][/base]`,
/// no trailing slash.
pub fn normalize_server_url(input: &str) -> Result<String> {
    let s = input.trim().trim_end_matches('/');
    if s.is_empty() {
        return Err(Error::Invalid("enter the server address".into()));
    }
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| Error::Invalid(format!("not a valid server address: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Invalid(
            "the server address must start with http:// or https://".into(),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatusFilter {
    Open,
    Closed,
}

#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Result<Api> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("switchboard-desktop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok(Api {
            base: normalize_server_url(base)?,
            token: None,
            http,
        })
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Api {
        self.token = Some(token.into());
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

    async fn check(resp: Response) -> Result<Response> {
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

    async fn json<T: DeserializeOwned>(rb: RequestBuilder) -> Result<T> {
        let resp = Self::check(rb.send().await?).await?;
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(e.to_string()))
    }

    async fn empty(rb: RequestBuilder) -> Result<()> {
        Self::check(rb.send().await?).await?;
        Ok(())
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        Self::json(self.req(method, path).json(body)).await
    }

    pub async fn health(&self) -> Result<()> {
        Self::empty(self.req(Method::GET, "/healthz")).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<LoginResponse> {
        let body = LoginRequest {
            email: email.trim().to_string(),
            password: password.to_string(),
        };
        Self::json(
            self.http
                .post(format!("{}/api/v1/auth/login", self.base))
                .json(&body),
        )
        .await
    }

    pub async fn logout(&self) -> Result<()> {
        Self::empty(self.req(Method::POST, "/api/v1/auth/logout")).await
    }

    pub async fn me(&self) -> Result<User> {
        Self::json(self.req(Method::GET, "/api/v1/me")).await
    }

    pub async fn update_me(&self, update: &UpdateMe) -> Result<User> {
        self.send_json(Method::PATCH, "/api/v1/me", update).await
    }

    pub async fn change_password(&self, current: &str, new: &str) -> Result<()> {
        let body = ChangePassword {
            current_password: current.to_string(),
            new_password: new.to_string(),
        };
        Self::empty(self.req(Method::PUT, "/api/v1/me/password").json(&body)).await
    }

    pub async fn upload_avatar(&self, bytes: Vec<u8>, content_type: &str) -> Result<User> {
        Self::json(
            self.req(Method::PUT, "/api/v1/me/avatar")
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes),
        )
        .await
    }

    pub async fn delete_avatar(&self) -> Result<User> {
        Self::json(self.req(Method::DELETE, "/api/v1/me/avatar")).await
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
        Self::json(self.req(Method::GET, "/api/v1/team")).await
    }

    pub async fn invite(&self, email: &str, role: &str) -> Result<User> {
        let body = Invitation {
            email: email.trim().to_string(),
            role: role.to_string(),
        };
        self.send_json(Method::POST, "/api/v1/team/invitations", &body)
            .await
    }

    pub async fn resend_invitation(&self, user_id: i64) -> Result<()> {
        Self::empty(self.req(Method::POST, &format!("/api/v1/team/{user_id}/invitation"))).await
    }

    pub async fn change_role(&self, user_id: i64, role: &str) -> Result<User> {
        let body = ChangeRole {
            role: role.to_string(),
        };
        self.send_json(Method::PATCH, &format!("/api/v1/team/{user_id}"), &body)
            .await
    }

    pub async fn remove_member(&self, user_id: i64) -> Result<()> {
        Self::empty(self.req(Method::DELETE, &format!("/api/v1/team/{user_id}"))).await
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
        Self::json(self.req(Method::GET, "/api/v1/conversations").query(&q)).await
    }

    pub async fn conversation(&self, id: i64) -> Result<Conversation> {
        Self::json(self.req(Method::GET, &format!("/api/v1/conversations/{id}"))).await
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
        Self::json(
            self.req(Method::GET, &format!("/api/v1/conversations/{id}/messages"))
                .query(&q),
        )
        .await
    }

    pub async fn post_message(&self, id: i64, body: &str, client_id: &str) -> Result<Message> {
        let b = NewMessage {
            body: body.to_string(),
            client_id: client_id.to_string(),
        };
        self.send_json(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            &b,
        )
        .await
    }

    pub async fn mark_read(&self, id: i64, message_id: i64) -> Result<()> {
        Self::empty(
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
            normalize_server_url(" http://127.0.0.1:8080/ ").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_server_url("chat.example.com").unwrap(),
            "http://chat.example.com"
        );
        assert_eq!(
            normalize_server_url("https://x.example/base/").unwrap(),
            "https://x.example/base"
        );
        assert!(normalize_server_url("").is_err());
        assert!(normalize_server_url("ftp://x").is_err());
    }

    #[test]
    fn stream_url_follows_scheme() {
        let a = Api::new("https://x.example").unwrap();
        assert_eq!(
            a.stream_url(Some(5)),
            "wss://x.example/api/v1/stream?since=5"
        );
        let a = Api::new("http://127.0.0.1:1").unwrap();
        assert_eq!(a.stream_url(None), "ws://127.0.0.1:1/api/v1/stream");
        assert_eq!(
            a.absolute("/avatars/a.png"),
            "http://127.0.0.1:1/avatars/a.png"
        );
    }
}
