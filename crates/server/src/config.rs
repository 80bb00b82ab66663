//! Command line and environment configuration (API.md, "The server binary").

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard-server",
    version,
    about = "Switchboard customer-chat server"
)]
pub struct Cli {
    #[command(flatten)]
    pub options: ServerOptions,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage accounts from the command line.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin account and exit.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
    },
}

/// Every flag has an environment variable; flags win.
#[derive(Debug, Clone, Args)]
pub struct ServerOptions {
    /// HTTP and websocket listener.
    #[arg(
        long = "http",
        env = "SWITCHBOARD_HTTP",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub http: SocketAddr,
    /// SQLite file, uploads, dev mailbox.
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite://…` (default: a file in the data dir) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Base of links in emails and the widget (default: http://<http>).
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Inbound SMTP listener for replies; `off` disables it.
    #[arg(
        long,
        env = "SWITCHBOARD_SMTP_IN",
        default_value = "127.0.0.1:2525",
        global = true
    )]
    pub smtp_in: String,
    /// `smtp://host:port` or `smtps://user:pass@host:port`; unset: the dev mailbox.
    #[arg(long, env = "SWITCHBOARD_SMTP_OUT", global = true)]
    pub smtp_out: Option<String>,
    /// From of every email we send (default: switchboard@<reply-domain>).
    #[arg(long, env = "SWITCHBOARD_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Domain of reply addresses.
    #[arg(
        long,
        env = "SWITCHBOARD_REPLY_DOMAIN",
        default_value = "switchboard.localhost",
        global = true
    )]
    pub reply_domain: String,
    /// Bearer secret of the HTTP email ingress (default: random, printed at start).
    #[arg(long, env = "SWITCHBOARD_INGRESS_SECRET", global = true)]
    pub ingress_secret: Option<String>,
    /// Fan-out between several server nodes.
    #[arg(long, env = "SWITCHBOARD_NATS_URL", global = true)]
    pub nats_url: Option<String>,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// None: derive from the bound address once it is known (port 0 in tests).
    pub public_url: Option<String>,
    pub smtp_in: Option<SocketAddr>,
    pub smtp_out: Option<String>,
    pub mail_from: String,
    pub reply_domain: String,
    pub ingress_secret: Option<String>,
    pub nats_url: Option<String>,
    /// How long the outbox waits after the first failed attempt; doubles each time.
    pub outbox_retry_base: std::time::Duration,
    /// How long notification emails wait or collect (two minutes).
    pub notify_window_ms: i64,
}

impl ServerOptions {
    pub fn resolve(self) -> anyhow::Result<Config> {
        let database_url = self.database_url.unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("switchboard.db").display()
            )
        });
        let smtp_in = match self.smtp_in.trim() {
            "off" | "" => None,
            addr => Some(
                addr.parse()
                    .map_err(|e| anyhow::anyhow!("--smtp-in {addr:?} is not an address: {e}"))?,
            ),
        };
        let mail_from = self
            .mail_from
            .unwrap_or_else(|| format!("switchboard@{}", self.reply_domain));
        Ok(Config {
            http: self.http,
            data_dir: self.data_dir,
            database_url,
            public_url: self.public_url.map(|u| u.trim_end_matches('/').to_string()),
            smtp_in,
            smtp_out: self.smtp_out,
            mail_from,
            reply_domain: self.reply_domain,
            ingress_secret: self.ingress_secret,
            nats_url: self.nats_url,
            outbox_retry_base: std::time::Duration::from_secs(5),
            notify_window_ms: crate::services::notify::WINDOW_MS,
        })
    }
}

impl Config {
    /// A configuration for tests and embedding: everything local, nothing listening
    /// on a fixed port.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        ServerOptions {
            http: "127.0.0.1:0".parse().expect("literal address"),
            data_dir: data_dir.into(),
            database_url: None,
            public_url: None,
            smtp_in: "off".into(),
            smtp_out: None,
            mail_from: None,
            reply_domain: "switchboard.localhost".into(),
            ingress_secret: None,
            nats_url: None,
        }
        .resolve()
        .expect("default configuration is valid")
    }
}
