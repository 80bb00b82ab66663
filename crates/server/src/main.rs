use clap::Parser;
use std::time::Duration;
use switchboard_server::config::{AdminCommand, Cli, Command, DkimSign, MailCommand};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.options.resolve()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Admin(AdminCommand::Create {
            email,
            password,
            name,
        }) => {
            let state = switchboard_server::prepare(config, String::new()).await?;
            let id = switchboard_server::services::accounts::create_admin(
                &state,
                &email,
                &password,
                name.as_deref(),
            )
            .await?;
            println!("created admin {email} (id {id})");
            Ok(())
        }
        Command::Mail(MailCommand::Dns { mx_host }) => {
            // The same database as the server: the keys printed are the keys
            // it signs with (made now if this runs before the first start).
            let state = switchboard_server::prepare(config, String::new()).await?;
            let config = &state.config;
            let records =
                switchboard_server::mail::dkim::dns_records(&state.db, config, mx_host.as_deref())
                    .await?;
            println!(
                "; DNS records for Switchboard: email from {} (DKIM selector {}), replies to {}",
                switchboard_server::mail::dkim::signing_domain(config)?,
                match config.dkim.sign {
                    DkimSign::Off => "none: --dkim-sign off".to_string(),
                    DkimSign::Rsa => config.dkim.rsa_selector.clone(),
                    DkimSign::Ed25519 => config.dkim.ed25519_selector.clone(),
                    DkimSign::Both => format!(
                        "{} and {}",
                        config.dkim.rsa_selector, config.dkim.ed25519_selector
                    ),
                },
                config.reply_domain
            );
            println!("; Zone-file syntax; a DNS provider's web form takes each TXT value as one string.\n");
            print!("{}", switchboard_server::mail::dkim::zone_file(&records));
            Ok(())
        }
        Command::Serve => {
            let server = switchboard_server::start(config).await?;
            // Tests and scripts read this line to find the port.
            println!("switchboard-server listening on {}", server.url());
            tracing::info!(public_url = %server.state.public_url, data_dir = %server.state.config.data_dir.display(), "serving");
            if server.state.config.ingress_secret.is_none() {
                eprintln!(
                    "switchboard-server: inbound email ingress secret (POST /api/v1/inbound/email): {}",
                    server.state.ingress_secret
                );
            }
            if let Some(addr) = server.smtp_in {
                tracing::info!(%addr, reply_domain = %server.state.config.reply_domain, "inbound SMTP listener for replies");
            }
            if let Some(dir) = &server.state.dev_mailbox {
                tracing::info!(
                    "no --smtp-out: emails go to the dev mailbox {} (GET /dev/mailbox)",
                    dir.display()
                );
            }
            stop_requested().await?;
            tracing::info!("shutting down");
            // Other nodes stop showing this one's operators as online.
            let _ = tokio::time::timeout(Duration::from_secs(2), server.state.hub.leave()).await;
            Ok(())
        }
    }
}

/// Ctrl-C, or SIGTERM (what service managers and `kill` send).
async fn stop_requested() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            stop = tokio::signal::ctrl_c() => stop,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
