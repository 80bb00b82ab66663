//! The websocket connection: connect (resuming from the cached stream position), ping,
//! read frames, reconnect with backoff, and react to how the server ended it (close
//! codes via `crate::close`, HTTP 401/403 from REST calls): sign out, change password,
//! reconnect at once after a role change.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use switchboard_protocol::{ClientFrame, StreamFrame};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use super::{ConnState, Session};
use crate::api::AuthSignal;
use crate::close::{self, Reaction};
use crate::error::{Error, Result};
use crate::CoreEvent;

/// How often we ping the server, and how long silence means the connection is dead.
pub const PING_EVERY: Duration = Duration::from_secs(15);
pub const DEAD_AFTER: Duration = Duration::from_secs(40);
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A role change reconnects at once, but not twice within this (a server that keeps
/// closing with 4403 gets the usual backoff).
const ROLE_CHANGE_CALM: Duration = Duration::from_secs(5);

impl Session {
    /// Asks the sync loop to reconnect now instead of waiting out the backoff.
    pub fn reconnect_now(&self) {
        self.reconnect_wake.notify_one();
    }

    fn backoff(&self) -> Duration {
        let n = self.attempt.fetch_add(1, Ordering::SeqCst).min(16);
        let base = BACKOFF_MIN.as_millis() as u64 * (1u64 << n);
        let cap = base.min(BACKOFF_MAX.as_millis() as u64);
        // "equal jitter": half fixed, half random
        let ms = cap / 2 + rand::thread_rng().gen_range(0..=cap / 2);
        Duration::from_millis(ms)
    }

    pub(super) async fn sync_loop(
        self: Arc<Self>,
        mut typing_rx: mpsc::UnboundedReceiver<Option<i64>>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                break;
            }
            self.set_conn(ConnState::Connecting);
            let r = self.run_stream(&mut typing_rx, &mut stop).await;
            if *stop.borrow() {
                break;
            }
            let reaction = match r {
                Ok(End::Reset) => {
                    tracing::info!("stream reset: reloading over REST");
                    {
                        let mut st = self.state.lock().unwrap();
                        st.acct.seq = None;
                    }
                    continue;
                }
                Ok(End::Stopped) => break,
                Ok(End::Closed { code, reason }) => {
                    tracing::info!(?code, reason, "the server closed the stream");
                    close::on_close(code, &reason)
                }
                Err(e) => {
                    tracing::info!(error = %e, "stream disconnected");
                    close::on_error(&e)
                }
            };
            match reaction {
                Reaction::SignOut { code, reason } => {
                    self.end_signed_out(code, reason).await;
                    break;
                }
                Reaction::ChangePassword => self.password_change_required().await,
                Reaction::ReconnectNow if self.calm_role_change() => {
                    // the new role may see less: who we are now, then the stream again
                    let _ = self.refresh_me().await;
                    continue;
                }
                Reaction::ReconnectNow | Reaction::Backoff => {}
            }
            let delay = self.backoff();
            self.set_conn(ConnState::Offline {
                retry_in_ms: delay.as_millis() as u64,
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.reconnect_wake.notified() => {}
                _ = stop.changed() => break,
            }
        }
    }

    async fn run_stream(
        &self,
        typing_rx: &mut mpsc::UnboundedReceiver<Option<i64>>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<End> {
        let since = self.seq();
        let mut req = self
            .api
            .stream_url(since)
            .into_client_request()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {}", self.api.token().unwrap_or_default())
                .parse()
                .map_err(|_| Error::Protocol("bad token".into()))?,
        );
        let (mut ws, _) = match tokio::time::timeout(
            Duration::from_secs(15),
            tokio_tungstenite::connect_async(req),
        )
        .await
        {
            Err(_) => return Err(Error::Network("connection timed out".into())),
            Ok(Err(tungstenite::Error::Http(resp))) => {
                return Err(refused_upgrade(
                    resp.status().as_u16(),
                    resp.body().as_deref(),
                ));
            }
            Ok(Err(e)) => return Err(Error::Network(e.to_string())),
            Ok(Ok(x)) => x,
        };
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut last_heard = tokio::time::Instant::now();
        let mut ready = false;
        loop {
            let dead_at = last_heard + DEAD_AFTER;
            tokio::select! {
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return Ok(End::Stopped);
                }
                _ = tokio::time::sleep_until(dead_at) => {
                    return Err(Error::Network("the server stopped answering".into()));
                }
                _ = ping.tick() => {
                    ws.send(WsMessage::Ping(Vec::new().into())).await
                        .map_err(|e| Error::Network(e.to_string()))?;
                }
                Some(t) = typing_rx.recv(), if ready => {
                    let f = ClientFrame::Typing { conversation_id: t };
                    ws.send(WsMessage::text(serde_json::to_string(&f)?)).await
                        .map_err(|e| Error::Network(e.to_string()))?;
                }
                frame = ws.next() => {
                    last_heard = tokio::time::Instant::now();
                    let frame = match frame {
                        None => return Ok(End::Closed { code: None, reason: String::new() }),
                        Some(Err(e)) => return Err(Error::Network(e.to_string())),
                        Some(Ok(f)) => f,
                    };
                    let text = match frame {
                        WsMessage::Text(t) => t.to_string(),
                        WsMessage::Close(f) => {
                            return Ok(End::Closed {
                                code: f.as_ref().map(|f| u16::from(f.code)),
                                reason: f.map(|f| f.reason.to_string()).unwrap_or_default(),
                            });
                        }
                        _ => continue,
                    };
                    let f: StreamFrame = match serde_json::from_str(&text) {
                        Ok(f) => f,
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring an unknown stream frame");
                            continue;
                        }
                    };
                    match f {
                        StreamFrame::Ready { seq } => {
                            ready = true;
                            if since.is_none() {
                                self.reload().await?;
                                let mut st = self.state.lock().unwrap();
                                st.acct.seq = Some(seq);
                                st.dirty = true;
                            } else {
                                // a quick refresh of who we are (role, notification switches)
                                let _ = self.refresh_me().await;
                            }
                            let _ = self.persist();
                            self.attempt.store(0, Ordering::SeqCst);
                            self.set_conn(ConnState::Online);
                            self.emit_unread();
                            self.outbox_wake.notify_one();
                        }
                        StreamFrame::Reset => {
                            let _ = ws.close(None).await;
                            return Ok(End::Reset);
                        }
                        StreamFrame::Event { seq, event, data } => {
                            let cur = self.seq();
                            if cur.is_some_and(|c| seq <= c) {
                                continue; // already applied
                            }
                            self.apply(&event, data).await;
                            let mut st = self.state.lock().unwrap();
                            st.acct.seq = Some(seq);
                            st.dirty = true;
                        }
                        // visitors' widgets only; operators hear `widget.updated`
                        StreamFrame::Widget { .. } => {}
                    }
                }
            }
        }
    }

    /// Reacts to what REST calls learn about the token.
    pub(super) async fn auth_loop(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<AuthSignal>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let signal = tokio::select! {
                s = rx.recv() => s,
                _ = stop.changed() => None,
            };
            match signal {
                Some(AuthSignal::Unauthorized { code, message }) => {
                    self.end_signed_out(code, message).await;
                    break;
                }
                Some(AuthSignal::PasswordChangeRequired) => self.password_change_required().await,
                None => break,
            }
        }
    }

    /// The server no longer accepts the token: stop every loop, forget the token, tell
    /// the UI. Nothing is sent with the token afterwards.
    async fn end_signed_out(&self, code: String, reason: String) {
        if self.signed_out.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!(code, reason, "signed out by the server");
        let _ = self.stop_tx.send(true);
        let key = self.account.key();
        let tokens = self.shared.tokens.clone();
        match tokio::task::spawn_blocking(move || tokens.delete(&key)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot delete the token from the keyring"),
            Err(e) => tracing::warn!(error = %e, "cannot delete the token from the keyring"),
        }
        let _ = self.persist();
        self.set_conn(ConnState::Stopped);
        self.emit(CoreEvent::SignedOut { code, reason });
    }

    /// The server answered 403 `password_change_required`: the user's record says so
    /// (`must_change_password`), which sends the UI to the change-password screen.
    async fn password_change_required(&self) {
        match self.refresh_me().await {
            Ok(u) if u.must_change_password => {}
            _ => {
                let mut u = self.user();
                u.must_change_password = true;
                self.set_user(u);
            }
        }
    }

    /// Whether a role change may reconnect at once (not twice in `ROLE_CHANGE_CALM`).
    fn calm_role_change(&self) -> bool {
        let now = tokio::time::Instant::now();
        let mut last = self.last_role_change.lock().unwrap();
        let calm = last.is_none_or(|t| now.duration_since(t) >= ROLE_CHANGE_CALM);
        *last = Some(now);
        calm
    }
}

enum End {
    Reset,
    Closed { code: Option<u16>, reason: String },
    Stopped,
}

/// The error of a refused websocket upgrade, with the server's error code when its body
/// has one (`unauthorized`, `session_expired`, `password_change_required`, …).
fn refused_upgrade(status: u16, body: Option<&[u8]>) -> Error {
    match body.and_then(|b| serde_json::from_slice::<switchboard_protocol::ErrorBody>(b).ok()) {
        Some(b) => Error::Api {
            status,
            code: b.error.code,
            message: b.error.message,
        },
        None => Error::Api {
            status,
            code: if status == 401 {
                "unauthorized".into()
            } else {
                "stream_refused".into()
            },
            message: format!("the server refused the stream ({status})"),
        },
    }
}
