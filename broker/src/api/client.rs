//! `gatehouse-broker users …` and `clients …`: administration from a shell, through the
//! running broker's gRPC API (so it works against any replica and never touches the database
//! directly). TLS and client certificates as the server's `grpc:` block requires.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use super::proto::dex_client::DexClient;
use super::proto::*;
use crate::random::random_token;

/// Where the API is and how to reach it (before or after the subcommand).
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// host:port of the broker's gRPC API (its `grpc.addr`).
    #[arg(
        global = true,
        long,
        default_value = "127.0.0.1:5557",
        env = "GATEHOUSE_API_ADDR"
    )]
    pub api: String,
    /// PEM CA certificate that signed the server's certificate: connect with TLS.
    #[arg(global = true, long, env = "GATEHOUSE_API_CA")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate (when the server sets `grpc.tlsClientCA`).
    #[arg(
        global = true,
        long,
        requires = "client_key",
        env = "GATEHOUSE_API_CERT"
    )]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert.
    #[arg(
        global = true,
        long,
        requires = "client_cert",
        env = "GATEHOUSE_API_KEY"
    )]
    pub client_key: Option<PathBuf>,
    /// Name to expect in the server's certificate (default: the host of --api).
    #[arg(global = true, long)]
    pub server_name: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Create a user of the password database; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        /// Stable id (part of `sub`); generated when not given.
        #[arg(long)]
        user_id: Option<String>,
        /// bcrypt cost, 10–16.
        #[arg(long, default_value_t = 10)]
        cost: u32,
    },
    /// List users (static ones from the config included); never shows hashes.
    List,
    /// Delete a user: their sign-ins and refreshes stop at once.
    Remove { email: String },
    /// Set a new password, read from standard input.
    SetPassword {
        email: String,
        #[arg(long, default_value_t = 10)]
        cost: u32,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its id and secret (generated unless --public).
    Add {
        /// Generated when not given.
        #[arg(long)]
        id: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
        /// Exact callback URL; repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (no secret, PKCE required).
        #[arg(long)]
        public: bool,
    },
    /// List clients (static ones included); never shows secrets.
    List,
    /// Delete a client: its logins and refreshes stop at once.
    Remove { id: String },
}

/// Reads one password from standard input (a trailing newline is not part of it).
pub fn read_password_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the password from standard input")?;
    let password = input.strip_suffix('\n').unwrap_or(&input);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!("empty password on standard input");
    }
    Ok(password.to_string())
}

fn hash_password(password: &str, cost: u32) -> anyhow::Result<Vec<u8>> {
    if !(10..=16).contains(&cost) {
        bail!("--cost must be between 10 and 16 (the API refuses other costs)");
    }
    Ok(bcrypt::hash(password, cost)
        .context("hashing failed")?
        .into_bytes())
}

/// Connects to the API.
pub async fn connect(args: &ApiArgs) -> anyhow::Result<DexClient<Channel>> {
    Ok(DexClient::new(channel(args).await?))
}

/// A channel to the API, for any of its services.
pub async fn channel(args: &ApiArgs) -> anyhow::Result<Channel> {
    let scheme = if args.ca_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let mut endpoint = Channel::from_shared(format!("{scheme}://{}", args.api))
        .with_context(|| format!("--api {:?} is not host:port", args.api))?;
    if let Some(ca) = &args.ca_cert {
        let read =
            |p: &PathBuf| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
        if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
            tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        if let Some(name) = &args.server_name {
            tls = tls.domain_name(name.clone());
        }
        endpoint = endpoint.tls_config(tls).context("invalid TLS settings")?;
    } else if args.client_cert.is_some() {
        bail!("--client-cert needs --ca-cert (client certificates are sent over TLS)");
    }
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the gRPC API at {}", args.api))?;
    Ok(channel)
}

fn status(e: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("the broker refused: {} ({:?})", e.message(), e.code())
}

pub async fn run_users(args: &ApiArgs, command: UsersCommand) -> anyhow::Result<()> {
    let mut api = connect(args).await?;
    match command {
        UsersCommand::Add {
            email,
            username,
            user_id,
            cost,
        } => {
            let hash = hash_password(&read_password_stdin()?, cost)?;
            let user_id = user_id.unwrap_or_else(random_token);
            let resp = api
                .create_password(CreatePasswordReq {
                    password: Some(Password {
                        email: email.clone(),
                        hash,
                        username,
                        user_id: user_id.clone(),
                    }),
                })
                .await
                .map_err(status)?
                .into_inner();
            if resp.already_exists {
                bail!("a user with e-mail {email:?} already exists");
            }
            println!("created user {email} (user id {user_id})");
        }
        UsersCommand::List => {
            let resp = api
                .list_passwords(ListPasswordReq {})
                .await
                .map_err(status)?
                .into_inner();
            for p in resp.passwords {
                println!("{}\t{}\t{}", p.email, p.username, p.user_id);
            }
        }
        UsersCommand::Remove { email } => {
            let resp = api
                .delete_password(DeletePasswordReq {
                    email: email.clone(),
                })
                .await
                .map_err(status)?
                .into_inner();
            if resp.not_found {
                bail!("no user with e-mail {email:?}");
            }
            println!("removed user {email}");
        }
        UsersCommand::SetPassword { email, cost } => {
            let new_hash = hash_password(&read_password_stdin()?, cost)?;
            let resp = api
                .update_password(UpdatePasswordReq {
                    email: email.clone(),
                    new_hash,
                    new_username: String::new(),
                })
                .await
                .map_err(status)?
                .into_inner();
            if resp.not_found {
                bail!("no user with e-mail {email:?}");
            }
            println!("password of {email} changed");
        }
    }
    Ok(())
}

pub async fn run_clients(args: &ApiArgs, command: ClientsCommand) -> anyhow::Result<()> {
    let mut api = connect(args).await?;
    match command {
        ClientsCommand::Add {
            id,
            name,
            redirect_uris,
            public,
        } => {
            let resp = api
                .create_client(CreateClientReq {
                    client: Some(Client {
                        id: id.clone().unwrap_or_default(),
                        secret: String::new(),
                        redirect_uris,
                        trusted_peers: Vec::new(),
                        public,
                        name,
                        logo_url: String::new(),
                    }),
                })
                .await
                .map_err(status)?
                .into_inner();
            if resp.already_exists {
                bail!(
                    "a client with id {:?} already exists",
                    id.unwrap_or_default()
                );
            }
            let c = resp
                .client
                .context("the broker answered without the client")?;
            println!("id: {}", c.id);
            if !c.public {
                println!("secret: {}", c.secret);
            }
        }
        ClientsCommand::List => {
            let resp = api
                .list_clients(ListClientReq {})
                .await
                .map_err(status)?
                .into_inner();
            for c in resp.clients {
                let kind = if c.public { "public" } else { "confidential" };
                println!(
                    "{}\t{}\t{}\t{}",
                    c.id,
                    kind,
                    c.name,
                    c.redirect_uris.join(" ")
                );
            }
        }
        ClientsCommand::Remove { id } => {
            let resp = api
                .delete_client(DeleteClientReq { id: id.clone() })
                .await
                .map_err(status)?
                .into_inner();
            if resp.not_found {
                bail!("no client with id {id:?}");
            }
            println!("removed client {id}");
        }
    }
    Ok(())
}
