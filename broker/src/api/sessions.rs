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

#[cfg(test)]
mod tests {
    use super::super::proto::sessions::SessionUser;
    use super::*;

    #[test]
    fn a_request_naming_nothing_or_a_blank_id_is_refused() {
        let user = |u: &str, c: &str| {
            Some(Which::User(SessionUser {
                user_id: u.into(),
                connector_id: c.into(),
            }))
        };
        for which in [
            None,
            Some(Which::SessionId(String::new())),
            Some(Which::SessionId(" \t".into())),
            Some(Which::ConnectorId(" ".into())),
            user("", "local"),
            user("alice", ""),
            user(" ", " "),
        ] {
            let err = selector(&which).err().map(|s| s.code());
            assert_eq!(err, Some(tonic::Code::InvalidArgument), "{which:?}");
        }
    }

    #[test]
    fn each_kind_of_id_selects_its_sessions() {
        let sid = Some(Which::SessionId("s1".into()));
        assert!(matches!(
            selector(&sid).map(|x| x.0),
            Ok(SessionSelector::Sid("s1"))
        ));
        let conn = Some(Which::ConnectorId("ldap".into()));
        assert!(matches!(
            selector(&conn).map(|x| x.0),
            Ok(SessionSelector::Connector("ldap"))
        ));
    }
}
