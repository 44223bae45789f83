//! Microsoft Graph calls, as documented: `GET /v1.0/me`, `POST /v1.0/me/getMemberGroups`
//! (transitive group ids, paged through `@odata.nextLink`) and
//! `POST /v1.0/directoryObjects/getByIds` (at most 1000 ids per call).

use reqwest::Method;
use serde_json::{json, Value};

use super::upstream_http::{Auth, Body, UpstreamClient};
use super::ConnectorError;

/// Graph refuses more ids than this in one getByIds call.
pub const GET_BY_IDS_MAX: usize = 1000;
/// A user cannot be in more groups than this many pages' worth; stops a looping nextLink.
const MAX_PAGES: usize = 100;

/// The `/me` fields the connectors use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphUser {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub mail_nickname: Option<String>,
    pub on_premises_sam_account_name: Option<String>,
}

/// Graph as one signed-in user (a delegated access token).
pub struct Graph<'a> {
    pub http: &'a UpstreamClient,
    /// e.g. `https://graph.microsoft.com`, no trailing slash.
    pub base: &'a str,
    pub access_token: &'a str,
}

impl Graph<'_> {
    pub async fn me(&self) -> Result<GraphUser, ConnectorError> {
        let url = format!(
            "{}/v1.0/me?$select=id,displayName,userPrincipalName,mail,mailNickname,onPremisesSamAccountName",
            self.base
        );
        let v = self
            .http
            .call(
                "Graph /me",
                Method::GET,
                &url,
                Auth::Bearer(self.access_token),
                Body::Empty,
            )
            .await?;
        let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        let id = text("id")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConnectorError::Upstream("Graph /me: no user id".into()))?;
        Ok(GraphUser {
            id,
            display_name: text("displayName").unwrap_or_default(),
            user_principal_name: text("userPrincipalName").unwrap_or_default(),
            mail: text("mail"),
            mail_nickname: text("mailNickname"),
            on_premises_sam_account_name: text("onPremisesSamAccountName"),
        })
    }

    /// Ids of every group the user is in, directly or through nested groups.
    pub async fn member_group_ids(
        &self,
        security_enabled_only: bool,
    ) -> Result<Vec<String>, ConnectorError> {
        let url = format!("{}/v1.0/me/getMemberGroups", self.base);
        self.member_groups_at(&url, security_enabled_only).await
    }

    /// The getMemberGroups action at `url` (also used for the `_claim_sources` endpoint of an
    /// Entra ID token with group overage).
    pub async fn member_groups_at(
        &self,
        url: &str,
        security_enabled_only: bool,
    ) -> Result<Vec<String>, ConnectorError> {
        let body = json!({ "securityEnabledOnly": security_enabled_only });
        let mut ids = Vec::new();
        let mut next = Some(url.to_string());
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(ConnectorError::Upstream(
                    "Graph getMemberGroups: too many pages".into(),
                ));
            }
            let page = self
                .http
                .call(
                    "Graph getMemberGroups",
                    Method::POST,
                    &url,
                    Auth::Bearer(self.access_token),
                    Body::Json(&body),
                )
                .await?;
            ids.extend(strings(&page, "Graph getMemberGroups")?);
            next = self.next_link(&page, &url)?;
        }
        Ok(ids)
    }

    /// `(id, displayName)` of these groups, in batches of at most 1000 ids.
    pub async fn group_names(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, ConnectorError> {
        let url = format!("{}/v1.0/directoryObjects/getByIds", self.base);
        let mut out = Vec::with_capacity(ids.len());
        for batch in ids.chunks(GET_BY_IDS_MAX) {
            let body = json!({ "ids": batch, "types": ["group"] });
            let page = self
                .http
                .call(
                    "Graph getByIds",
                    Method::POST,
                    &url,
                    Auth::Bearer(self.access_token),
                    Body::Json(&body),
                )
                .await?;
            let objects = page
                .get("value")
                .and_then(Value::as_array)
                .ok_or_else(|| ConnectorError::Upstream("Graph getByIds: no value list".into()))?;
            for o in objects {
                let id = o.get("id").and_then(Value::as_str);
                let name = o.get("displayName").and_then(Value::as_str);
                if let (Some(id), Some(name)) = (id, name) {
                    out.push((id.to_string(), name.to_string()));
                }
            }
        }
        Ok(out)
    }

    /// The next page, which must stay on the same origin: the access token goes with it.
    fn next_link(&self, page: &Value, current: &str) -> Result<Option<String>, ConnectorError> {
        let Some(link) = page.get("@odata.nextLink").and_then(Value::as_str) else {
            return Ok(None);
        };
        let same_origin = |a: &str, b: &str| match (url::Url::parse(a), url::Url::parse(b)) {
            (Ok(a), Ok(b)) => a.origin() == b.origin(),
            _ => false,
        };
        if !same_origin(link, current) {
            return Err(ConnectorError::Upstream(
                "Graph: @odata.nextLink points to another host".into(),
            ));
        }
        Ok(Some(link.to_string()))
    }
}

fn strings(page: &Value, what: &str) -> Result<Vec<String>, ConnectorError> {
    let list = page
        .get("value")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Upstream(format!("{what}: no value list")))?;
    Ok(list
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect())
}
