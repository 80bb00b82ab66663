//! One SMTP session: commands parsed by `smtp-proto`, the envelope checked as it
//! comes (RCPT refused unless its reply token verifies), the message read with
//! its size bounded while reading, and `250` after DATA only once the reply is
//! stored. Every read has a deadline, so an idle or trickling client holds its
//! slot for `idle_timeout` at most.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{EhloResponse, Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::domain::reply_token::Recipient;
use crate::error::ApiError;

/// After a write fails for lack of space, MAIL is answered 452 for this long:
/// at the edge of a full disk some writes fit and some don't, and mail we
/// may not be able to keep is better left with the sender a little longer.
const STORAGE_HOLD: Duration = Duration::from_secs(2);
use crate::services::bounces;
use crate::services::inbound_mail::{self, Outcome, MAX_BYTES};
use crate::services::reply_keys;
use crate::state::SharedState;
use crate::store::users::{self, AccountStatus};

/// Recipients one message may have (a reply goes to one address).
const MAX_RECIPIENTS: usize = 10;
/// Bad commands tolerated before the session is closed.
const MAX_ERRORS: usize = 10;
/// Commands are short: an idle session holds this small buffer only; the
/// larger one for a message is allocated while DATA is read.
const COMMAND_CHUNK: usize = 1024;
const READ_CHUNK: usize = 8 * 1024;
/// A message this far over the size limit is not read to its end: the
/// connection is cut.
const DISCARD_LIMIT: usize = 64 * 1024 * 1024;

/// How a session ended.
pub enum End {
    /// QUIT, a timeout, an error or the client hung up.
    Closed,
    /// The client asked for STARTTLS and was told to go ahead: the caller wraps
    /// the connection and starts a fresh session over TLS.
    StartTls,
}

pub struct Session<'a, S> {
    state: &'a SharedState,
    stream: S,
    tls: bool,
    /// The sending host (SPF checks it).
    peer: IpAddr,
    idle_timeout: Duration,
    hostname: String,
    helo: Option<String>,
    mail_from: Option<String>,
    recipients: Vec<String>,
    /// Visitors whose bounce addresses are among the recipients.
    bounces: Vec<i64>,
    errors: usize,
}

enum Step {
    Continue,
    Data,
    Close,
    StartTls,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Session<'a, S> {
    pub fn new(state: &'a SharedState, stream: S, tls: bool, peer: IpAddr) -> Self {
        Session {
            state,
            stream,
            tls,
            peer,
            idle_timeout: state.config.smtp.idle_timeout,
            hostname: state.config.reply_domain.clone(),
            helo: None,
            mail_from: None,
            recipients: Vec::new(),
            bounces: Vec::new(),
            errors: 0,
        }
    }

    pub fn into_stream(self) -> S {
        self.stream
    }

    async fn reply(&mut self, line: &str) -> std::io::Result<()> {
        self.stream.write_all(line.as_bytes()).await?;
        self.stream.write_all(b"\r\n").await?;
        self.stream.flush().await
    }

    /// Reads the next chunk; None when the client is gone or too slow.
    async fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        match tokio::time::timeout(self.idle_timeout, self.stream.read(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => None,
            Ok(Ok(n)) => Some(n),
            Err(_) => {
                let _ = self
                    .reply("421 4.4.2 idle for too long, closing the connection")
                    .await;
                None
            }
        }
    }

    pub async fn run(&mut self, greet: bool) -> End {
        if greet
            && self
                .reply(&format!("220 {} ESMTP Switchboard", self.hostname))
                .await
                .is_err()
        {
            return End::Closed;
        }
        let mut buf = vec![0u8; COMMAND_CHUNK];
        let mut receiver = RequestReceiver::default();
        // Commands pipelined behind a message's final dot (RFC 2920 allows
        // them there) wait here for the command loop.
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let chunk = if pending.is_empty() {
                let Some(n) = self.read(&mut buf).await else {
                    return End::Closed;
                };
                buf[..n].to_vec()
            } else {
                std::mem::take(&mut pending)
            };
            let mut bytes = chunk.iter();
            loop {
                let step = match receiver.ingest(&mut bytes) {
                    Ok(request) => {
                        let request = request.into_owned();
                        self.command(request).await
                    }
                    Err(ProtoError::NeedsMoreData { .. }) => break,
                    Err(e) => self.protocol_error(e).await,
                };
                match step {
                    Ok(Step::Continue) => {}
                    Ok(Step::Data) => {
                        // Bytes already read after DATA belong to the message.
                        let Some(after) = self.data(bytes.as_slice().to_vec()).await else {
                            return End::Closed;
                        };
                        pending = after;
                        receiver = RequestReceiver::default();
                        break;
                    }
                    Ok(Step::StartTls) => {
                        if bytes.as_slice().is_empty() {
                            return End::StartTls;
                        }
                        // Plain-text commands pipelined after STARTTLS could be
                        // injected by a man in the middle: refuse them.
                        return End::Closed;
                    }
                    Ok(Step::Close) | Err(_) => return End::Closed,
                }
            }
        }
    }

    async fn protocol_error(&mut self, e: ProtoError) -> std::io::Result<Step> {
        self.errors += 1;
        let (line, close) = match e {
            ProtoError::ResponseTooLong => ("500 5.5.2 line too long".to_string(), true),
            ProtoError::UnknownCommand => ("500 5.5.1 command not recognised".into(), false),
            ProtoError::InvalidSenderAddress => ("501 5.1.7 bad sender address".into(), false),
            ProtoError::InvalidRecipientAddress => {
                ("501 5.1.3 bad recipient address".into(), false)
            }
            other => (format!("501 5.5.4 {other}"), false),
        };
        self.reply(&line).await?;
        self.close_if_abusive(close).await
    }

    async fn close_if_abusive(&mut self, close: bool) -> std::io::Result<Step> {
        if close || self.errors >= MAX_ERRORS {
            self.reply("421 4.7.0 too many errors, closing the connection")
                .await?;
            return Ok(Step::Close);
        }
        Ok(Step::Continue)
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.recipients.clear();
        self.bounces.clear();
    }

    async fn command(&mut self, request: Request<String>) -> std::io::Result<Step> {
        match request {
            Request::Ehlo { host } => {
                self.helo = Some(host);
                self.reset();
                let mut ehlo = EhloResponse::new(self.hostname.as_str());
                ehlo.capabilities = smtp_proto::EXT_8BIT_MIME
                    | smtp_proto::EXT_ENHANCED_STATUS_CODES
                    | smtp_proto::EXT_PIPELINING
                    | smtp_proto::EXT_SMTP_UTF8
                    | smtp_proto::EXT_SIZE;
                if !self.tls {
                    ehlo.capabilities |= smtp_proto::EXT_START_TLS;
                }
                ehlo.size = MAX_BYTES;
                let mut out = Vec::new();
                ehlo.write(&mut out)?;
                self.stream.write_all(&out).await?;
                self.stream.flush().await?;
                Ok(Step::Continue)
            }
            Request::Helo { host } | Request::Lhlo { host } => {
                self.helo = Some(host);
                self.reset();
                let line = format!("250 {}", self.hostname);
                self.reply(&line).await?;
                Ok(Step::Continue)
            }
            Request::StartTls if self.tls => {
                self.reply("503 5.5.1 TLS is already on").await?;
                Ok(Step::Continue)
            }
            Request::StartTls => {
                self.reply("220 2.0.0 ready to start TLS").await?;
                Ok(Step::StartTls)
            }
            Request::Mail { from } => {
                if self.helo.is_none() {
                    self.errors += 1;
                    self.reply("503 5.5.1 say EHLO first").await?;
                    return self.close_if_abusive(false).await;
                }
                if from.size > MAX_BYTES {
                    self.reply("552 5.3.4 message too large").await?;
                    return Ok(Step::Continue);
                }
                // Mail we cannot keep is not taken: while the disk is full
                // the sender keeps it and tries again later.
                if self.state.db.storage_full_within(STORAGE_HOLD) {
                    self.reply("452 4.3.1 insufficient system storage, try again later")
                        .await?;
                    return Ok(Step::Continue);
                }
                // A new MAIL starts a new envelope.
                self.reset();
                self.mail_from = Some(from.address.to_lowercase());
                self.reply("250 2.1.0 sender OK").await?;
                Ok(Step::Continue)
            }
            Request::Rcpt { to } => self.recipient(&to.address).await,
            Request::Data => {
                if self.recipients.is_empty() {
                    self.errors += 1;
                    self.reply("503 5.5.1 no valid recipients").await?;
                    return self.close_if_abusive(false).await;
                }
                self.reply("354 end the message with <CRLF>.<CRLF>").await?;
                Ok(Step::Data)
            }
            Request::Rset => {
                self.reset();
                self.reply("250 2.0.0 reset").await?;
                Ok(Step::Continue)
            }
            Request::Noop { .. } => {
                self.reply("250 2.0.0 OK").await?;
                Ok(Step::Continue)
            }
            Request::Quit => {
                self.reply("221 2.0.0 bye").await?;
                Ok(Step::Close)
            }
            Request::Vrfy { .. } => {
                self.reply("252 2.5.2 cannot verify, but will accept replies")
                    .await?;
                Ok(Step::Continue)
            }
            _ => {
                self.errors += 1;
                self.reply("502 5.5.1 command not implemented").await?;
                self.close_if_abusive(false).await
            }
        }
    }

    /// RCPT: only reply addresses of our domain whose token verifies.
    async fn recipient(&mut self, address: &str) -> std::io::Result<Step> {
        if self.mail_from.is_none() {
            self.errors += 1;
            self.reply("503 5.5.1 MAIL first").await?;
            return self.close_if_abusive(false).await;
        }
        if self.recipients.len() >= MAX_RECIPIENTS {
            self.reply("452 4.5.3 too many recipients").await?;
            return Ok(Step::Continue);
        }
        let lower = address.to_ascii_lowercase();
        let domain = self.state.config.reply_domain.to_ascii_lowercase();
        let local = lower
            .rsplit_once('@')
            .filter(|(_, d)| *d == domain)
            .map(|(local, _)| local);
        if let Some(token) = local.and_then(|l| l.strip_prefix("bounce+")) {
            // A delivery report about an email we sent to a visitor.
            return match bounces::visitor_of(self.state, token).await {
                Some(visitor) => {
                    self.bounces.push(visitor);
                    self.recipients.push(lower);
                    self.reply("250 2.1.5 recipient OK").await?;
                    Ok(Step::Continue)
                }
                None => {
                    self.errors += 1;
                    self.reply("550 5.1.1 no such address here").await?;
                    self.close_if_abusive(false).await
                }
            };
        }
        let token = local.and_then(|l| l.strip_prefix("reply+"));
        let verified = match token {
            Some(t) => self.state.verify_reply(t).await,
            None => None,
        };
        let answer = match verified {
            None => Err("550 5.1.1 no such reply address here".to_string()),
            Some(v) if !reply_keys::is_open(&v) => {
                // The sender's server turns this into a bounce that says what to do.
                Err(format!(
                    "550 5.7.1 this reply address has expired; please write to us again \
                     from the chat on {} (your message was not delivered)",
                    self.state.public_url
                ))
            }
            Some(v) if !self.recipient_may_answer(v.token.recipient).await => {
                // Revoked with its colleague's removal.
                Err("550 5.1.1 no such reply address here".to_string())
            }
            Some(_) => Ok(()),
        };
        match answer {
            Ok(()) => {
                self.recipients.push(lower);
                self.reply("250 2.1.5 recipient OK").await?;
                Ok(Step::Continue)
            }
            Err(line) => {
                self.errors += 1;
                self.reply(&line).await?;
                self.close_if_abusive(false).await
            }
        }
    }

    /// Whether the person a token was made for may still write through it: a
    /// removed colleague's reply addresses die with their account.
    async fn recipient_may_answer(&self, recipient: Recipient) -> bool {
        match recipient {
            Recipient::Visitor(_) => true,
            Recipient::User(id) => matches!(
                users::by_id(&self.state.db, id).await,
                Ok(Some(user)) if user.status != AccountStatus::Removed
            ),
        }
    }

    /// Reads the message after 354 and hands it on. Returns the bytes read
    /// past the final dot (pipelined commands), or None to close the session.
    ///
    /// Memory stays bounded: past `MAX_BYTES` the rest is read and dropped
    /// chunk by chunk (the sender gets its 552 after the final dot, as SMTP
    /// wants), and past `DISCARD_LIMIT` the connection is cut.
    async fn data(&mut self, already: Vec<u8>) -> Option<Vec<u8>> {
        let mut receiver = DataReceiver::new();
        let mut message = Vec::new();
        let mut discarded = 0usize;
        let mut fed = feed(&mut receiver, &already, &mut message);
        let mut buf = vec![0u8; READ_CHUNK];
        let after = loop {
            if message.len() > MAX_BYTES {
                discarded += message.len();
                message = Vec::new();
                if discarded > DISCARD_LIMIT {
                    let _ = self.reply("552 5.3.4 message too large").await;
                    return None;
                }
            }
            if let Some(after) = fed {
                break after;
            }
            let n = self.read(&mut buf).await?;
            fed = feed(&mut receiver, &buf[..n], &mut message);
        };
        if discarded > 0 {
            self.reset();
            self.reply("552 5.3.4 message too large").await.ok()?;
            return Some(after);
        }
        let recipients: Vec<String> = std::mem::take(&mut self.recipients)
            .into_iter()
            .filter(|r| !r.starts_with("bounce+"))
            .collect();
        let mail_from = self.mail_from.take().unwrap_or_default();
        for visitor in std::mem::take(&mut self.bounces) {
            if let Err(e) = bounces::receive(self.state, visitor, &message).await {
                tracing::error!(error = %e, "smtp-in: a bounce could not be handled");
                self.reply("451 4.3.0 temporary failure, try again later")
                    .await
                    .ok()?;
                return Some(after);
            }
        }
        if recipients.is_empty() {
            self.reply("250 2.0.0 report taken").await.ok()?;
            return Some(after);
        }
        let auth = self
            .state
            .mail_auth
            .check(
                &message,
                self.peer,
                self.helo.as_deref().unwrap_or_default(),
                &mail_from,
                &self.hostname,
            )
            .await;
        let received =
            inbound_mail::receive_checked(self.state, &message, &recipients, Some(&auth));
        let line = match received.await {
            Ok(Outcome::Posted { .. }) => "250 2.0.0 stored".to_string(),
            Ok(Outcome::Duplicate) => "250 2.0.0 already stored".to_string(),
            // Refused after DATA (not the token's sender, automatic mail):
            // taken and logged; bouncing would only tell a forger what we check.
            Ok(Outcome::Refused(_)) => "250 2.0.0 accepted".to_string(),
            Err(e) => {
                tracing::error!(error = %e, "smtp-in: a reply could not be stored");
                if ApiError::from(e).status == StatusCode::INSUFFICIENT_STORAGE {
                    "452 4.3.1 insufficient system storage, try again later".to_string()
                } else {
                    "451 4.3.0 temporary failure, try again later".to_string()
                }
            }
        };
        self.reply(&line).await.ok()?;
        Some(after)
    }
}

/// Feeds one chunk of the message (it grows by at most a chunk per call);
/// Some(the bytes after the final dot) once the message is complete.
fn feed(receiver: &mut DataReceiver, chunk: &[u8], message: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut bytes = chunk.iter();
    receiver
        .ingest(&mut bytes, message)
        .then(|| bytes.as_slice().to_vec())
}
