//! A user's refresh tokens through the API (the user named by its encoded `sub`).

use tonic::Status;

use super::{invalid, storage_status, DexApi};
use crate::api::proto::*;
use crate::api::subject::decode_subject;
use crate::storage::UserRef;

impl DexApi {
    pub(super) async fn list_refresh_inner(
        &self,
        r: ListRefreshReq,
    ) -> Result<ListRefreshResp, Status> {
        let (user_id, connector_id) = decode_subject(&r.user_id).map_err(invalid)?;
        let user = UserRef {
            user_id: &user_id,
            connector_id: &connector_id,
        };
        let tokens = self
            .app
            .storage
            .list_user_refresh_tokens(user)
            .await
            .map_err(storage_status)?;
        Ok(ListRefreshResp {
            refresh_tokens: tokens
                .into_iter()
                .map(|t| RefreshTokenRef {
                    id: t.id,
                    client_id: t.client_id,
                    created_at: t.created_at,
                    last_used: t.last_used,
                })
                .collect(),
        })
    }

    pub(super) async fn revoke_refresh_inner(
        &self,
        r: RevokeRefreshReq,
    ) -> Result<RevokeRefreshResp, Status> {
        let (user_id, connector_id) = decode_subject(&r.user_id).map_err(invalid)?;
        if r.client_id.is_empty() {
            return Err(invalid("no client id supplied"));
        }
        let user = UserRef {
            user_id: &user_id,
            connector_id: &connector_id,
        };
        let revoked = self
            .app
            .storage
            .revoke_user_client_refresh(user, &r.client_id)
            .await
            .map_err(storage_status)?;
        Ok(RevokeRefreshResp {
            not_found: revoked == 0,
        })
    }
}
