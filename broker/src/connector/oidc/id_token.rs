//! ID token validation (OpenID Connect Core §3.1.3.7): signature by the provider's published
//! key, `iss`, `aud` (and `azp` with several audiences), `exp`/`iat`, and `nonce`.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::provider::Provider;
use crate::connector::ConnectorError;

/// Clock skew tolerated between us and the provider.
const LEEWAY_SECS: u64 = 30;

/// Asymmetric algorithms only: `none` and HMAC (keyed with the client secret) are refused.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn refused(why: impl Into<String>) -> ConnectorError {
    ConnectorError::Upstream(format!(
        "the provider's ID token was refused: {}",
        why.into()
    ))
}

/// The verified claims. `nonce`: the one sent at login (None on refresh, where none is sent).
pub async fn verify(
    provider: &Provider,
    client_id: &str,
    token: &str,
    nonce: Option<&str>,
) -> Result<Map<String, Value>, ConnectorError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| refused(e.to_string()))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(refused(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let jwk = provider.key(header.kid.as_deref()).await?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| refused(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[provider.issuer()]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECS;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| refused(e.to_string()))?;
    let claims = data.claims;
    // §3.1.3.7 (3)/(4)-(5): several audiences need azp, which must be us.
    let several_audiences = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1);
    let azp = claims.get("azp").and_then(Value::as_str);
    if (several_audiences || azp.is_some()) && azp != Some(client_id) {
        return Err(refused("azp is not this client"));
    }
    if !claims.get("iat").is_some_and(Value::is_number) {
        return Err(refused("iat is missing"));
    }
    if let Some(expected) = nonce {
        let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        let same: bool = subtle::ConstantTimeEq::ct_eq(got.as_bytes(), expected.as_bytes()).into();
        if !same {
            return Err(refused("nonce does not match this sign-in"));
        }
    }
    Ok(claims)
}
