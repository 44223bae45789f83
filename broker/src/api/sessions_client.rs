//! `gatehouse-broker sessions end …`: ends sign-in sessions through the running broker's
//! gRPC API (Gatehouse's `Sessions` service), as `users`/`clients` manage the rest.

use anyhow::bail;

use super::client::{channel, ApiArgs};
use super::proto::sessions::end_sessions_req::Which;
use super::proto::sessions::sessions_client::SessionsClient;
use super::proto::sessions::{EndSessionsReq, SessionUser};

#[derive(Debug, clap::Subcommand)]
pub enum SessionsCommand {
    /// End sessions: their refresh tokens stop working and every gateway refuses them within
    /// its revocation-feed period. Name one session, a user (with --connector), or a connector.
    End {
        /// The session id (the ID token's `sid`).
        #[arg(long, conflicts_with_all = ["user_id"])]
        sid: Option<String>,
        /// The user's id at the connector (the `user_id` of `users list` for the password DB).
        #[arg(long, requires = "connector")]
        user_id: Option<String>,
        /// The connector id: alone, every session signed in through it.
        #[arg(long)]
        connector: Option<String>,
    },
}

pub async fn run_sessions(args: &ApiArgs, command: SessionsCommand) -> anyhow::Result<()> {
    let SessionsCommand::End {
        sid,
        user_id,
        connector,
    } = command;
    let which = match (sid, user_id, connector) {
        (Some(sid), None, None) => Which::SessionId(sid),
        (None, Some(user_id), Some(connector_id)) => Which::User(SessionUser {
            user_id,
            connector_id,
        }),
        (None, None, Some(c)) => Which::ConnectorId(c),
        _ => bail!("name --sid, --user-id with --connector, or --connector alone"),
    };
    let mut api = SessionsClient::new(channel(args).await?);
    let answer = api
        .end_sessions(EndSessionsReq { which: Some(which) })
        .await
        .map_err(|e| anyhow::anyhow!("the broker refused: {} ({:?})", e.message(), e.code()))?
        .into_inner();
    println!("ended {} session(s)", answer.ended);
    Ok(())
}
