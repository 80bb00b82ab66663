//! The Switchboard server: REST and websockets (axum), SQL storage (SQLite or
//! PostgreSQL), email out through a durable outbox, email in, the widget.

pub mod auth;
pub mod avatar;
pub mod client_addr;
pub mod cluster_sends;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod extract;
pub mod files;
pub mod group_commit;
pub mod hub;
pub mod json;
pub mod limits;
pub mod listener;
pub mod mail;
pub mod openapi;
pub mod postgres_sends;
pub mod retention;
pub mod routes;
pub mod sends;
pub mod services;
pub mod smtp_in;
pub mod sqlite_sends;
pub mod state;
pub mod store;
pub mod store_fault;
pub mod throttle;
pub mod visitor_tokens;
pub mod wal_checkpoint;
pub mod widget_view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use config::Config;
use db::Db;
use mail::sender::OutboxSender;
use mail::Transport;
use state::{AppState, SharedState};

/// A server that is up: its address and its shared state.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The inbound SMTP listener's address, when it runs.
    pub smtp_in: Option<SocketAddr>,
    pub state: SharedState,
    pub http: JoinHandle<()>,
    pub background: Vec<JoinHandle<()>>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving (tests restart servers on the same data dir).
    pub fn stop(self) {
        self.http.abort();
        for task in self.background {
            task.abort();
        }
    }
}

/// Opens the database (running migrations) and builds the shared state.
pub async fn prepare(config: Config, public_url: String) -> anyhow::Result<SharedState> {
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
    let db = Db::connect_with(&config.database_url, config.sqlite_sync).await?;
    let hub = hub::Hub::start(db.clone()).await?;
    if let Some(url) = &config.nats_url {
        hub.connect_nats(url).await?;
    }
    let files = match hub.nats() {
        Some(nats) => files::FileStore::shared(nats, &config.file_bucket, &config.data_dir).await?,
        None => files::FileStore::local(&config.data_dir),
    };
    let mail_from = config
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("--mail-from {:?}: {e}", config.mail_from))?;
    let dev_mailbox = config
        .smtp_out
        .is_none()
        .then(|| config.data_dir.join("mailbox"));
    let reply_keys = services::reply_keys::load(&db).await?;
    let file_link_key = services::attachments::link_key(&db).await?;
    let widget =
        services::widget_settings::publish(&db, |f| state::avatar_url(&public_url, f)).await?;
    // Random per start unless configured; `serve` prints it.
    let ingress_secret = config
        .ingress_secret
        .clone()
        .unwrap_or_else(|| domain::secret::new_token("ing"));
    Ok(Arc::new(AppState {
        files,
        messages_writer: group_commit::GroupCommit::start(db.clone(), config.limits.write_queue),
        sqlite_sends: sqlite_sends::SqliteSends::start(
            &db,
            config.limits.write_queue,
            send_views(&public_url),
            Box::new({
                let hub = hub.clone();
                move |events| hub.publish_committed(events)
            }),
        )?,
        postgres_sends: postgres_sends::PostgresSends::start(
            &db,
            config.limits.write_queue,
            send_views(&public_url),
            Box::new({
                let hub = hub.clone();
                move || hub.wake()
            }),
        ),
        cluster_sends: Default::default(),
        visitor_tokens: Default::default(),
        limits: limits::Limits::new(config.limits.clone()),
        db,
        public_url,
        mail_from,
        outbox_wake: Arc::new(Notify::new()),
        hub,
        login_throttle: throttle::Throttle::new(10, Duration::from_secs(15 * 60)),
        dev_mailbox,
        reply_keys: std::sync::RwLock::new(reply_keys),
        mail_auth: mail::auth_in::MailAuth::new(config.dns_txt_override.as_deref()),
        ingress_secret,
        file_link_key,
        widget,
        config,
    }))
}

/// How the writers of visitors' sends (`sqlite_sends`, `postgres_sends`)
/// show what they store.
fn send_views(public_url: &str) -> sends::Views {
    let public_url = public_url.to_string();
    sends::Views {
        message: Box::new(move |m| {
            services::conversations::message_view_without_files(&public_url, m)
        }),
        opened: services::conversations::opened_view,
    }
}

/// Binds the listener, starts the background workers and serves.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(config.http)
        .await
        .with_context(|| format!("binding the HTTP listener to {}", config.http))?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let state = prepare(config, public_url).await?;

    let transport =
        Transport::from_config(state.config.smtp_out.as_deref(), &state.config.data_dir)?;
    let sender = OutboxSender {
        db: state.db.clone(),
        transport,
        wake: state.outbox_wake.clone(),
        retry_base: state.config.outbox_retry_base,
        dkim: Arc::new(mail::dkim::Signer::load(&state.db, &state.config).await?),
    };
    let notifier = services::notify::NotificationWorker {
        state: state.clone(),
        window_ms: state.config.notify_window_ms,
        flood: Default::default(),
    };
    let mut background = vec![
        tokio::spawn(sender.run()),
        tokio::spawn(notifier.run()),
        tokio::spawn(retention::Sweeper::new(state.clone()).run()),
        tokio::spawn(services::search::backfill(state.clone())),
        tokio::spawn(services::widget_settings::follow_changes(state.clone())),
        tokio::spawn(wal_checkpoint::run(state.db.clone())),
    ];
    // With PostgreSQL and NATS this node may write the other nodes' sends.
    if state.postgres_sends.is_some() {
        background.push(tokio::spawn(cluster_sends::serve(state.hub.clone(), {
            let state = state.clone();
            move |send| {
                let state = state.clone();
                async move {
                    match &state.postgres_sends {
                        Some(writer) => writer.write(send).await,
                        None => Ok(None),
                    }
                }
            }
        })));
    }
    let smtp_in = match state.config.smtp_in {
        Some(addr) => Some(smtp_in::start(state.clone(), addr)?),
        None => None,
    };

    // The OpenAPI document lists the routes, so it is mounted here, above them.
    let app = routes::router(state.clone())
        .route("/api/openapi.json", axum::routing::get(openapi::serve));
    let limits = listener::ConnectionLimits {
        max_connections: state.config.max_connections,
        header_read_timeout: state.config.header_read_timeout,
    };
    let http = tokio::spawn(listener::serve(listener, app, limits));
    Ok(RunningServer {
        addr,
        smtp_in,
        state,
        http,
        background,
    })
}
