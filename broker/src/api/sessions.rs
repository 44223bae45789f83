//! `gatehouse.sessions.v1.Sessions`: an administrator ends sign-in sessions (issue 17) — one by
//! its `sid`, every one of a user, or every one through a connector.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::audit::{Call, Outcome};
use super::proto::sessions::end_sessions_req::Which;
use super::proto::sessions::sessions_server::Sessions;
use super::proto::sessions::{EndSessionsReq, EndSessionsResp};
use crate::oidc::sessions::end;
use crate::oidc::AppState;
use crate::storage::{EndCause, SessionSelector};

pub struct SessionsApi {
    app: Arc<AppState>,
}

impl SessionsApi {
    pub fn new(app: Arc<AppState>) -> Self {
        SessionsApi { app }
    }
}

impl Outcome for EndSessionsResp {
    fn outcome(&self) -> &'static str {
        if self.ended == 0 {
            "not_found"
        } else {
            "ended"
        }
    }
}

/// What the request names, and a label for the audit log.
fn selector(which: &Option<Which>) -> Result<(SessionSelector<'_>, String), Status> {
    let blank = |s: &str| s.trim().is_empty();
    match which {
        None => Err(Status::invalid_argument(
            "name a session_id, a user or a connector_id",
        )),
        Some(Which::SessionId(sid)) if !blank(sid) => {
            Ok((SessionSelector::Sid(sid), "session".to_string()))
        }
        Some(Which::User(u)) if !blank(&u.user_id) && !blank(&u.connector_id) => Ok((
            SessionSelector::User {
                user_id: &u.user_id,
                connector_id: &u.connector_id,
            },
            format!("user {}/{}", u.connector_id, u.user_id),
        )),
        Some(Which::ConnectorId(c)) if !blank(c) => {
            Ok((SessionSelector::Connector(c), format!("connector {c}")))
        }
        Some(_) => Err(Status::invalid_argument("the id given is empty")),
    }
}

#[tonic::async_trait]
impl Sessions for SessionsApi {
    async fn end_sessions(
        &self,
        request: Request<EndSessionsReq>,
    ) -> Result<Response<EndSessionsResp>, Status> {
        let call = Call::start("EndSessions", &request);
        let r = request.into_inner();
        let (which, target) = match selector(&r.which) {
            Ok(x) => x,
            Err(e) => return call.finish("-", Err(e)),
        };
        let result = end(&self.app, which, EndCause::Admin)
            .await
            .map(|ended| EndSessionsResp {
                ended: ended.len() as u64,
            })
            .map_err(|e| {
                tracing::error!(error = %e, "storage failed while ending sessions");
                if e.is_unavailable() {
                    Status::unavailable("storage is unavailable; try again")
                } else {
                    Status::internal("storage failed")
                }
            });
        call.finish(target, result)
    }
}
