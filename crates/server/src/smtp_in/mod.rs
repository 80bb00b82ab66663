//! The inbound SMTP listener (`--smtp-in`) for replies, on tokio: one task per
//! session, at most `--smtp-max-sessions` at once and 20 per client address
//! (more are answered 421 and closed, so idle connections cannot starve real
//! replies), TCP_NODELAY, STARTTLS always offered. The protocol is in
//! `session`, the certificate in `tls`.

mod session;
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::state::SharedState;
use session::{End, Session};

/// Binds the listener and serves in the background; returns the bound address.
pub fn start(state: SharedState, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("binding --smtp-in {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let listener = TcpListener::from_std(listener)?;
    let acceptor = tls::acceptor(&state.config)?;
    tokio::spawn(accept_loop(state, listener, acceptor));
    Ok(bound)
}

/// Sessions open per client address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

struct AddressSlot {
    ip: IpAddr,
    open: Arc<PerAddress>,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut open = self.0.lock().expect("smtp slots poisoned");
        let n = open.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            ip,
            open: self.clone(),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().expect("smtp slots poisoned");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

async fn accept_loop(state: SharedState, listener: TcpListener, acceptor: TlsAcceptor) {
    let settings = state.config.smtp.clone();
    let sessions = Arc::new(Semaphore::new(settings.max_sessions));
    let per_address = Arc::new(PerAddress::default());
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "smtp-in: accepting a connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let slots = sessions
            .clone()
            .try_acquire_owned()
            .ok()
            .zip(per_address.take(peer.ip(), settings.max_sessions_per_address));
        let Some((slot, address_slot)) = slots else {
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"421 4.3.2 too many connections, try again later\r\n")
                    .await;
            });
            continue;
        };
        let (state, acceptor) = (state.clone(), acceptor.clone());
        tokio::spawn(async move {
            serve(&state, stream, peer.ip(), &acceptor).await;
            drop((slot, address_slot));
        });
    }
}

async fn serve(state: &SharedState, stream: TcpStream, peer: IpAddr, acceptor: &TlsAcceptor) {
    let mut plain = Session::new(state, stream, false, peer);
    if let End::StartTls = plain.run(true).await {
        let stream = plain.into_stream();
        let handshake =
            tokio::time::timeout(state.config.smtp.idle_timeout, acceptor.accept(stream)).await;
        match handshake {
            Ok(Ok(tls)) => {
                // RFC 3207: the session starts afresh, the client says EHLO again.
                Session::new(state, tls, true, peer).run(false).await;
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "smtp-in: TLS handshake failed"),
            Err(_) => tracing::debug!("smtp-in: TLS handshake timed out"),
        }
    }
}
