//! `GetDiscovery`: the HTTP discovery document in the API's message.

use tonic::Status;

use super::DexApi;
use crate::api::proto::*;
use crate::oidc::discovery_document;

impl DexApi {
    pub(super) fn discovery(&self) -> Result<DiscoveryResp, Status> {
        let doc = discovery_document(&self.app);
        let text = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
        let list = |k: &str| -> Vec<String> {
            doc[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(DiscoveryResp {
            issuer: text("issuer"),
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            jwks_uri: text("jwks_uri"),
            userinfo_endpoint: text("userinfo_endpoint"),
            device_authorization_endpoint: text("device_authorization_endpoint"),
            introspection_endpoint: text("introspection_endpoint"),
            grant_types_supported: list("grant_types_supported"),
            response_types_supported: list("response_types_supported"),
            subject_types_supported: list("subject_types_supported"),
            id_token_signing_alg_values_supported: list("id_token_signing_alg_values_supported"),
            code_challenge_methods_supported: list("code_challenge_methods_supported"),
            scopes_supported: list("scopes_supported"),
            token_endpoint_auth_methods_supported: list("token_endpoint_auth_methods_supported"),
            claims_supported: list("claims_supported"),
        })
    }
}
