//! Reading the `sub` claim back into (user id, connector id), as Dex's `ListRefresh` and
//! `RevokeRefresh` take it: base64url (no padding) of a protobuf message with those two strings.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use prost::Message;

#[derive(Clone, PartialEq, Message)]
struct IdTokenSubject {
    #[prost(string, tag = "1")]
    user_id: String,
    #[prost(string, tag = "2")]
    conn_id: String,
}

/// (user id, connector id), or why the text is not a subject.
pub fn decode_subject(sub: &str) -> Result<(String, String), &'static str> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sub.trim_end_matches('='))
        .map_err(|_| "user_id is not a subject (base64url) from an ID token")?;
    let s = IdTokenSubject::decode(bytes.as_slice())
        .map_err(|_| "user_id does not decode to a subject")?;
    if s.user_id.is_empty() || s.conn_id.is_empty() {
        return Err("user_id lacks the user or the connector");
    }
    Ok((s.user_id, s.conn_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::encode_subject;

    #[test]
    fn reverses_the_token_subject() {
        let sub = encode_subject("08a8684b-db88-4b73-90a9-3cd1661f5466", "local");
        assert_eq!(
            decode_subject(&sub).unwrap(),
            (
                "08a8684b-db88-4b73-90a9-3cd1661f5466".into(),
                "local".into()
            )
        );
        assert!(decode_subject("not base64!").is_err());
        assert!(decode_subject("").is_err());
        assert!(decode_subject(&URL_SAFE_NO_PAD.encode([0xff, 0xff])).is_err());
    }
}
