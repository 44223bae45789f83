//! `gatehouse-broker`: serve, check a config, hash a password, manage users, clients and
//! sessions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use gatehouse_broker::api::client::{
    read_password_stdin, run_clients, run_users, ApiArgs, ClientsCommand, UsersCommand,
};
use gatehouse_broker::api::sessions_client::{run_sessions, SessionsCommand};
use gatehouse_broker::config::{Config, LogFormat};
use gatehouse_broker::connector::{configure, ConfiguredConnector};

#[derive(Parser)]
#[command(
    name = "gatehouse-broker",
    version,
    about = "OpenID Connect provider speaking Dex's configuration language"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the provider with a Dex-style YAML config.
    Serve { config: PathBuf },
    /// Validate a config file and exit.
    CheckConfig { config: PathBuf },
    /// Read a password from standard input and print its bcrypt hash (for staticPasswords).
    HashPassword {
        /// bcrypt cost (4–16); each step doubles the work.
        #[arg(long, default_value_t = 10)]
        cost: u32,
    },
    /// Users of the password database, through a running broker's gRPC API.
    Users {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Sign-in sessions (end them), through a running broker's gRPC API.
    Sessions {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// OAuth2 clients, through a running broker's gRPC API.
    Clients {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(&config),
        Command::CheckConfig { config } => check_config(&config),
        Command::HashPassword { cost } => hash_password(cost),
        Command::Users { api, command } => admin(run_users(&api, command)),
        Command::Clients { api, command } => admin(run_clients(&api, command)),
        Command::Sessions { api, command } => admin(run_sessions(&api, command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error chain on one line. Library errors already quote their cause in their message, so a
/// cause whose text the line already ends with is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// The config file, with each connector's `config:` block read by its type.
fn load(path: &Path) -> anyhow::Result<(Config, Vec<ConfiguredConnector>)> {
    let config =
        Config::load(path).with_context(|| format!("invalid config {}", path.display()))?;
    let connectors =
        configure(&config).with_context(|| format!("invalid config {}", path.display()))?;
    Ok((config, connectors))
}

fn serve(path: &Path) -> anyhow::Result<()> {
    let (config, connectors) = load(path)?;
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime
        .block_on(gatehouse_broker::server::serve(config, &connectors))
        .context("broker stopped with an error")
}

fn check_config(path: &Path) -> anyhow::Result<()> {
    let (config, connectors) = load(path)?;
    // What `serve` logs at start as warnings (settings accepted but not used as written).
    for warning in &config.warnings {
        eprintln!("WARNING: {warning}");
    }
    for warning in gatehouse_broker::connector::warnings(&connectors) {
        eprintln!("WARNING: {warning}");
    }
    println!(
        "config OK: issuer {}, {} client(s), {} static password(s)",
        config.issuer.url,
        config.clients.len(),
        config.static_passwords.len()
    );
    Ok(())
}

fn hash_password(cost: u32) -> anyhow::Result<()> {
    if !(4..=16).contains(&cost) {
        bail!("--cost must be between 4 and 16");
    }
    let password = read_password_stdin()?;
    let hash = bcrypt::hash(password, cost).context("hashing failed")?;
    println!("{hash}");
    Ok(())
}

/// Runs one administration call on a small runtime of its own.
fn admin(call: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(call)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{},sqlx=warn",
            config.logger.level.as_str().to_ascii_lowercase()
        ))
    });
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.logger.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
