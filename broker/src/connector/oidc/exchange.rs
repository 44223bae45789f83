//! Token exchange (RFC 8693) for `type: oidc`, as Dex's oidc connector does it: an upstream ID
//! token is verified like the one of a sign-in (the provider's key, `iss`, `aud` = our
//! `clientID`, `azp`, `exp`/`iat`; no nonce, since no sign-in of ours asked for it), an upstream
//! access token by the provider's userinfo endpoint answering for it (needs `getUserInfo`, as in
//! Dex). Either way the claims go through the same mapping and group allow-list as a sign-in.

use async_trait::async_trait;

use super::{id_token, OidcConnector};
use crate::connector::{ConnectorError, Identity, SubjectTokenType, TokenIdentityConnector};

#[async_trait]
impl TokenIdentityConnector for OidcConnector {
    async fn token_identity(
        &self,
        kind: SubjectTokenType,
        token: &str,
    ) -> Result<Identity, ConnectorError> {
        match kind {
            SubjectTokenType::IdToken => {
                // Unlike Dex (which skips the audience check here), the ID token must be one
                // issued to this connector's client: any other client's ID token is refused.
                let claims =
                    id_token::verify(&self.provider, &self.config.client.client_id, token, None)
                        .await?;
                self.identity(None, &claims).await
            }
            SubjectTokenType::AccessToken => {
                // An access token is opaque to us: only the provider can say whom it is for.
                if !self.config.get_user_info {
                    return Err(ConnectorError::Upstream(
                        "exchanging an access token needs getUserInfo: true on this connector"
                            .into(),
                    ));
                }
                let claims = self.userinfo(token).await?;
                self.identity(Some(token), &claims).await
            }
        }
    }
}
