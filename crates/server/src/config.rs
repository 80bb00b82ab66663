//! Command line and environment configuration (API.md, "The server binary").

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Outgoing mail set-up.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Print the DNS records to publish (DKIM, SPF, DMARC, MX) and exit. Reads
    /// the configured database, so the DKIM keys are the ones the server signs
    /// with (they are created there if this runs before the first start).
    Dns {
        /// Host name that receives replies (the MX of the reply domain);
        /// default: the host of --public-url.
        #[arg(long)]
        mx_host: Option<String>,
    },
}

/// Which DKIM signatures every outgoing email carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DkimSign {
    /// RSA-2048 and ed25519 (RFC 8463 dual signing): verifiers that do not know
    /// ed25519 still find the RSA one.
    Both,
    Rsa,
    Ed25519,
    /// No signature (a relay behind --smtp-out signs instead).
    Off,
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
    /// With --nats-url: the JetStream object store bucket where every node
    /// keeps and finds uploaded files (avatars, attachments).
    #[arg(
        long,
        env = "SWITCHBOARD_FILE_BUCKET",
        default_value = "switchboard-files",
        global = true
    )]
    pub file_bucket: String,
    /// The largest file a visitor or a colleague may attach, in MiB (413 above it).
    #[arg(
        long,
        env = "SWITCHBOARD_MAX_ATTACHMENT",
        default_value_t = 25,
        global = true
    )]
    pub max_attachment: u32,
    /// A session unused for this many days expires.
    #[arg(
        long,
        env = "SWITCHBOARD_SESSION_IDLE_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub session_idle_days: u32,
    /// A session expires this many days after sign-in, used or not.
    #[arg(
        long,
        env = "SWITCHBOARD_SESSION_MAX_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub session_max_days: u32,
    /// Reverse proxies (CIDR, repeatable or comma-separated) whose
    /// `X-Forwarded-For` names the client; nobody else's is believed.
    #[arg(
        long = "trusted-proxy",
        env = "SWITCHBOARD_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Multiplies every per-address limit (for a load generator that runs from
    /// one address); per-visitor limits stay.
    #[arg(
        long,
        env = "SWITCHBOARD_ADDRESS_LIMIT_FACTOR",
        default_value_t = 1,
        global = true
    )]
    pub address_limit_factor: u32,
    /// Multiplies the per-visitor message limit (for scripts that write as
    /// fast as they can: crash and load tests).
    #[arg(
        long,
        env = "SWITCHBOARD_VISITOR_LIMIT_FACTOR",
        default_value_t = 1,
        global = true
    )]
    pub visitor_limit_factor: u32,
    /// Most HTTP connections open at once; more wait in the kernel's backlog.
    #[arg(
        long,
        env = "SWITCHBOARD_MAX_CONNECTIONS",
        default_value_t = 20_000,
        global = true
    )]
    pub max_connections: usize,
    /// Visitors who never wrote a message are deleted after this many hours.
    #[arg(
        long,
        env = "SWITCHBOARD_SILENT_VISITOR_HOURS",
        default_value_t = 24,
        global = true
    )]
    pub silent_visitor_hours: u32,
    /// Keep visitors' IP addresses and show them to colleagues (off: no
    /// address is stored).
    #[arg(long, env = "SWITCHBOARD_STORE_VISITOR_IP", global = true)]
    pub store_visitor_ip: bool,
    /// `full` syncs every commit to disk before answering; `normal` only at
    /// checkpoints (faster, but the last answered writes can be lost on power
    /// loss). For measuring the cost; keep `full` in production.
    #[arg(
        long,
        env = "SWITCHBOARD_SQLITE_SYNC",
        value_enum,
        default_value = "full",
        global = true
    )]
    pub sqlite_sync: crate::db::SqliteSync,
    /// PEM certificate chain for the SMTP listener's STARTTLS (default: a
    /// self-signed one for the reply domain, generated into the data dir).
    #[arg(
        long,
        env = "SWITCHBOARD_SMTP_TLS_CERT",
        requires = "smtp_tls_key",
        global = true
    )]
    pub smtp_tls_cert: Option<PathBuf>,
    /// PEM private key of `--smtp-tls-cert`.
    #[arg(
        long,
        env = "SWITCHBOARD_SMTP_TLS_KEY",
        requires = "smtp_tls_cert",
        global = true
    )]
    pub smtp_tls_key: Option<PathBuf>,
    /// Most SMTP sessions at once (more are answered 421 and closed).
    #[arg(
        long,
        env = "SWITCHBOARD_SMTP_MAX_SESSIONS",
        default_value_t = 1000,
        global = true
    )]
    pub smtp_max_sessions: usize,
    /// Refused inbound emails (headers and reason) are kept this many days.
    #[arg(
        long,
        env = "SWITCHBOARD_REFUSED_MAIL_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub refused_mail_days: u32,
    /// Events older than this many days are compacted out of the stream log (a
    /// client further behind reloads over REST).
    #[arg(
        long,
        env = "SWITCHBOARD_EVENT_LOG_DAYS",
        default_value_t = 7,
        global = true
    )]
    pub event_log_days: u32,
    /// DKIM selector of the RSA-2048 key; the ed25519 key's selector is this
    /// with `e` appended (`sb1` and `sb1e`). A new selector gets new keys
    /// (rotation: publish the new records, then switch).
    #[arg(
        long,
        env = "SWITCHBOARD_DKIM_SELECTOR",
        default_value = "sb1",
        global = true
    )]
    pub dkim_selector: String,
    /// Which DKIM signatures every email carries: both, rsa, ed25519 or off.
    #[arg(
        long,
        env = "SWITCHBOARD_DKIM_SIGN",
        value_enum,
        default_value = "both",
        global = true
    )]
    pub dkim_sign: DkimSign,
}

/// How long notification emails wait or collect before they go (two minutes).
pub const NOTIFY_WINDOW_MS: i64 = 120_000;

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
    /// The shared file store's bucket (with `nats_url`).
    pub file_bucket: String,
    /// The largest attachment, in bytes.
    pub max_attachment_bytes: u64,
    /// How long the outbox waits after the first failed attempt; doubles each time.
    pub outbox_retry_base: std::time::Duration,
    /// How long notification emails wait or collect (two minutes).
    pub notify_window_ms: i64,
    pub sessions: SessionPolicy,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub limits: crate::limits::LimitSettings,
    pub max_connections: usize,
    /// Whether visitors' IP addresses are kept.
    pub store_visitor_ip: bool,
    /// A client that has not sent a request's headers within this time is cut off.
    pub header_read_timeout: Duration,
    pub retention: Retention,
    pub sqlite_sync: crate::db::SqliteSync,
    pub smtp: SmtpSettings,
    pub dkim: DkimSettings,
    /// TXT records to answer SPF/DKIM/DMARC questions from instead of DNS
    /// (name → value); None: the system's resolver. For tests and fixed setups.
    pub dns_txt_override: Option<Vec<(String, String)>>,
}

/// DKIM signing of outgoing email; the signing domain is the --mail-from domain.
#[derive(Debug, Clone)]
pub struct DkimSettings {
    pub rsa_selector: String,
    pub ed25519_selector: String,
    pub sign: DkimSign,
}

/// The inbound SMTP listener's limits and TLS.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Certificate and key (PEM); None: a self-signed pair in the data dir.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_sessions: usize,
    pub max_sessions_per_address: usize,
    /// A client that sends no command (or no DATA line) for this long is cut off.
    pub idle_timeout: Duration,
    /// How long a refused email's headers and reason are kept.
    pub refused_kept: Duration,
}

/// When a session stops working.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub max_age: Duration,
}

/// What the retention sweep deletes, and how often it runs.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub silent_visitors_after: Duration,
    pub events_after: Duration,
    pub sweep_every: Duration,
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
        let selector = self.dkim_selector.trim().to_ascii_lowercase();
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 62
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !selector.split('.').all(valid_label) {
            anyhow::bail!(
                "--dkim-selector {selector:?} is not a DNS name (letters, digits, '-', '.')"
            );
        }
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
            file_bucket: self.file_bucket,
            max_attachment_bytes: u64::from(self.max_attachment.max(1)) * 1024 * 1024,
            outbox_retry_base: std::time::Duration::from_secs(5),
            notify_window_ms: NOTIFY_WINDOW_MS,
            sessions: SessionPolicy {
                idle: days(self.session_idle_days),
                max_age: days(self.session_max_days),
            },
            trusted_proxies: self.trusted_proxies,
            limits: crate::limits::LimitSettings::default()
                .with_address_factor(self.address_limit_factor.max(1))
                .with_visitor_factor(self.visitor_limit_factor.max(1)),
            max_connections: self.max_connections.max(1),
            store_visitor_ip: self.store_visitor_ip,
            header_read_timeout: Duration::from_secs(10),
            retention: Retention {
                silent_visitors_after: hours(self.silent_visitor_hours),
                events_after: days(self.event_log_days),
                sweep_every: Duration::from_secs(3600),
            },
            sqlite_sync: self.sqlite_sync,
            smtp: SmtpSettings {
                tls: self.smtp_tls_cert.zip(self.smtp_tls_key),
                max_sessions: self.smtp_max_sessions.max(1),
                max_sessions_per_address: 20,
                idle_timeout: Duration::from_secs(30),
                refused_kept: days(self.refused_mail_days),
            },
            dns_txt_override: None,
            dkim: DkimSettings {
                ed25519_selector: format!("{selector}e"),
                rsa_selector: selector,
                sign: self.dkim_sign,
            },
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
            file_bucket: "switchboard-files".into(),
            max_attachment: 25,
            session_idle_days: 30,
            session_max_days: 90,
            trusted_proxies: Vec::new(),
            address_limit_factor: 1,
            visitor_limit_factor: 1,
            max_connections: 20_000,
            silent_visitor_hours: 24,
            store_visitor_ip: false,
            event_log_days: 7,
            sqlite_sync: crate::db::SqliteSync::Full,
            smtp_tls_cert: None,
            smtp_tls_key: None,
            smtp_max_sessions: 1000,
            refused_mail_days: 30,
            dkim_selector: "sb1".into(),
            dkim_sign: DkimSign::Both,
        }
        .resolve()
        .expect("default configuration is valid")
    }
}

fn hours(n: u32) -> Duration {
    Duration::from_secs(u64::from(n) * 3600)
}

fn days(n: u32) -> Duration {
    hours(n) * 24
}
