//! Outbound email: where the sender delivers (an SMTP relay or the dev mailbox),
//! the durable outbox worker, and the emails we write.

pub mod auth_in;
pub mod compose;
pub mod dev_mailbox;
pub mod digest;
pub mod dkim;
pub mod dns_check;
pub mod invitation;
pub mod notification;
pub mod sender;

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// Where delivered email goes.
#[derive(Clone)]
pub enum Transport {
    /// A real SMTP relay (`--smtp-out`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No relay configured: every email becomes an `.eml` file to read locally.
    DevMailbox(PathBuf),
}

impl Transport {
    pub fn from_config(smtp_out: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        match smtp_out {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("--smtp-out {url:?}: {e}"))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build();
                Ok(Transport::Smtp(transport))
            }
            None => Ok(Transport::DevMailbox(data_dir.join("mailbox"))),
        }
    }

    pub async fn deliver(&self, from: &str, to: &str, message: &[u8]) -> anyhow::Result<()> {
        match self {
            Transport::Smtp(smtp) => {
                let envelope = Envelope::new(Some(from.parse()?), vec![to.parse()?])?;
                smtp.send_raw(&envelope, message).await?;
                Ok(())
            }
            Transport::DevMailbox(dir) => dev_mailbox::store(dir, message).await,
        }
    }
}
