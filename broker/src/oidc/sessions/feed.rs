//! `GET /revocations`: the revocation feed gateways poll (issue 17). A JWS (RFC 7515) signed
//! with the current signing key, so a gateway verifies it with the JWKS it already holds, typed
//! `revocations+jwt` so no other token of ours passes for it. Its claims:
//!
//! `iss`, `iat`; `epoch` (the feed's generation: a new database starts a new one); `seq` (the
//! number of the latest ended session); `floor` (entries below it are no longer listed: the
//! holder drops them); `from` (the number of `sids[0]`; the sids run gapless to `seq`).
//!
//! Query `?epoch=E&since=S` (what the gateway holds) returns only newer entries; without it, or
//! from another epoch, every listed one. Session ids are random and name nobody without the ID
//! token that carries them, so the feed is public, as the JWKS is.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::super::params::Params;
use super::super::AppState;
use crate::storage::{now, FeedPage};

/// The JWS `typ` of a feed.
pub const FEED_TYP: &str = "revocations+jwt";

#[derive(Serialize)]
struct FeedClaims<'a> {
    iss: &'a str,
    iat: i64,
    epoch: i64,
    seq: i64,
    floor: i64,
    from: i64,
    sids: &'a [String],
}

fn bad_request(why: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

/// `epoch` and `since` from the query: both or neither, non-negative integers.
fn held(query: Option<&str>) -> Result<(i64, i64), &'static str> {
    let params = Params::parse(query.unwrap_or_default().as_bytes())
        .map_err(|_| "a parameter was sent twice")?;
    let number = |name| {
        params
            .get(name)
            .map(|v| v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or(name))
            .transpose()
    };
    match (number("epoch"), number("since")) {
        (Ok(Some(e)), Ok(Some(s))) => Ok((e, s)),
        (Ok(None), Ok(None)) => Ok((0, 0)),
        (Err(_), _) | (_, Err(_)) => Err("epoch and since must be non-negative integers"),
        _ => Err("epoch and since go together"),
    }
}

/// The signed feed document for `page`.
fn sign_feed(
    issuer: &str,
    iat: i64,
    page: &FeedPage,
    key: &crate::keys::SigningKey,
) -> Result<String, String> {
    let claims = FeedClaims {
        iss: issuer,
        iat,
        epoch: page.epoch,
        seq: page.seq,
        floor: page.floor,
        from: page.from,
        sids: &page.sids,
    };
    let json = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
    key.sign_typed(FEED_TYP, &json).map_err(|e| e.to_string())
}

pub async fn revocations(State(app): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let held = match held(query.as_deref()) {
        Ok(h) => h,
        Err(why) => return bad_request(why),
    };
    let t = now();
    let page: FeedPage = match app.storage.revocation_feed(held, t).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "revocation feed: storage failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let signed = sign_feed(
        &app.config.issuer.url,
        t,
        &page,
        &app.keys.current().signing,
    );
    let body = match signed {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "revocation feed: signing failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if page.from == page.floor {
        app.metrics.sessions.full_feed(page.sids.len(), body.len());
    }
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwt"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{held, sign_feed};
    use crate::keys::{KeyManager, SigningAlgorithm};
    use crate::random::random_session_id;
    use crate::storage::{EndCause, MemoryStorage, SessionRecord, SessionSelector, Storage};

    /// The measure issue 17 asks for: the feed of 100 000 ended sessions, in full (a gateway's
    /// first fetch) and as the delta a gateway up to date gets after one more.
    #[tokio::test]
    async fn size_of_a_feed_of_100k_ended_sessions() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let keys = KeyManager::start(storage.clone(), SigningAlgorithm::Rs256, 3600, 3600)
            .await
            .unwrap();
        let n = 100_000;
        for i in 0..=n {
            let sid = random_session_id();
            let record = SessionRecord {
                sid: sid.clone(),
                family: format!("f{i}"),
                client_id: "c".into(),
                connector_id: if i < n { "bulk" } else { "last" }.into(),
                user_id: format!("u{i}"),
                created_at: 0,
                expires_at: i64::MAX,
                ended: None,
            };
            storage.create_session(&record).await.unwrap();
        }
        let end =
            |c| storage.end_sessions(SessionSelector::Connector(c), EndCause::Admin, 1, 86_400);
        assert_eq!(end("bulk").await.unwrap().len(), n);
        let key = keys.current().signing.clone();
        let issuer = "https://sso.example.com/dex";
        let full = storage.revocation_feed((0, 0), 2).await.unwrap();
        assert_eq!(full.sids.len(), n);
        let full_bytes = sign_feed(issuer, 2, &full, &key).unwrap().len();
        end("last").await.unwrap();
        let delta = storage
            .revocation_feed((full.epoch, full.seq), 3)
            .await
            .unwrap();
        assert_eq!(delta.sids.len(), 1);
        let delta_bytes = sign_feed(issuer, 3, &delta, &key).unwrap().len();
        println!(
            "revocation feed, {n} ended sessions: full {full_bytes} bytes ({:.1} per entry), delta of one {delta_bytes} bytes",
            full_bytes as f64 / n as f64
        );
        // 16-character sids: about 25 bytes an entry once quoted, listed and base64-encoded.
        assert!(full_bytes < 2_600_000, "{full_bytes}");
        assert!(delta_bytes < 1_000, "{delta_bytes}");
    }

    #[test]
    fn the_query_is_both_numbers_or_none() {
        assert_eq!(held(None), Ok((0, 0)));
        assert_eq!(held(Some("epoch=7&since=3")), Ok((7, 3)));
        for bad in [
            "epoch=7",
            "since=3",
            "epoch=x&since=1",
            "epoch=1&since=-1",
            "epoch=1&since=1&since=2",
            "epoch=99999999999999999999&since=1",
        ] {
            assert!(held(Some(bad)).is_err(), "{bad}");
        }
    }
}
