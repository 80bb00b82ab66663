//! The inbound SMTP listener (`--smtp-in`): takes replies for the reply domain
//! only (other recipients are refused at RCPT), bounds the size, and answers
//! the end of DATA only once the reply has been handled, so a sender's "250"
//! means the reply is stored.

use std::net::{SocketAddr, TcpListener};

use mailin_embedded::{response, Handler, Response, Server, SslConfig};
use tokio::runtime::Handle;

use super::inbound::{self, Outcome, MAX_BYTES};
use crate::state::SharedState;

#[derive(Clone)]
struct ReplyHandler {
    state: SharedState,
    runtime: Handle,
    recipients: Vec<String>,
    data: Vec<u8>,
    too_large: bool,
}

fn rcpt_refused() -> Response {
    Response::custom(
        550,
        "5.1.1 this server only takes replies to its own addresses".into(),
    )
}
fn too_large() -> Response {
    Response::custom(552, "5.3.4 message too large".into())
}
fn temporary() -> Response {
    Response::custom(451, "4.3.0 temporary failure, try again later".into())
}

impl Handler for ReplyHandler {
    fn rcpt(&mut self, to: &str) -> Response {
        let domain = self.state.config.reply_domain.to_ascii_lowercase();
        let lower = to.trim_matches(['<', '>']).to_ascii_lowercase();
        match lower.rsplit_once('@') {
            Some((local, d)) if d == domain && local.starts_with("reply+") => {
                self.recipients.push(lower);
                response::OK
            }
            _ => rcpt_refused(),
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.data.clear();
        self.too_large = false;
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > MAX_BYTES {
            self.too_large = true;
        } else {
            self.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let recipients = std::mem::take(&mut self.recipients);
        let raw = std::mem::take(&mut self.data);
        if self.too_large {
            return too_large();
        }
        let state = self.state.clone();
        match self
            .runtime
            .block_on(async move { inbound::receive(&state, &raw, &recipients).await })
        {
            // Refused mail is accepted at the SMTP level (and logged): bouncing
            // it back would only tell a forger what we check.
            Ok(Outcome::Posted { .. } | Outcome::Duplicate | Outcome::Refused(_)) => response::OK,
            Err(e) => {
                tracing::error!(error = %e, "inbound email could not be stored");
                temporary()
            }
        }
    }
}

/// Binds the listener and serves on its own threads; returns the bound address.
pub fn start(state: SharedState, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener =
        TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("binding --smtp-in {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let handler = ReplyHandler {
        runtime: Handle::current(),
        recipients: Vec::new(),
        data: Vec::new(),
        too_large: false,
        state: state.clone(),
    };
    let name = state.config.reply_domain.clone();
    std::thread::Builder::new()
        .name("smtp-in".into())
        .spawn(move || {
            let mut server = Server::new(handler);
            server
                .with_name(name)
                .with_num_threads(32)
                .with_tcp_listener(listener);
            if let Err(e) = server.with_ssl(SslConfig::None) {
                tracing::error!(error = %e, "smtp-in: setting up the listener failed");
                return;
            }
            if let Err(e) = server.serve() {
                tracing::error!(error = %e, "smtp-in stopped");
            }
        })?;
    Ok(bound)
}
