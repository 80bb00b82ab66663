use clap::Parser;
use switchboard_server::config::{AdminCommand, Cli, Command, MailCommand};
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
        Command::Mail(MailCommand::Dns { .. }) => anyhow::bail!("mail dns: not built yet"),
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
            tokio::signal::ctrl_c().await?;
            tracing::info!("shutting down");
            Ok(())
        }
    }
}
