//! Finding the user's entry and reading an [`Identity`] from it, with Dex's attribute mapping.

use ldap3::SearchEntry;

use super::config::{LdapConfig, UserSearch};
use super::directory::{unavailable, Session};
use super::filter;
use crate::connector::ConnectorError;
use crate::identity::Identity;

/// A value of `name` in `entry` (matched case-insensitively, as directories treat names);
/// `DN` is the entry's DN unless the entry has an attribute called so (Dex's rule).
pub fn values<'a>(entry: &'a SearchEntry, name: &str) -> Vec<&'a str> {
    if let Some((_, v)) = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
    {
        return v.iter().map(String::as_str).collect();
    }
    if name.eq_ignore_ascii_case("dn") {
        return vec![entry.dn.as_str()];
    }
    Vec::new()
}

pub fn first<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    values(entry, name).into_iter().find(|v| !v.is_empty())
}

/// The attributes the user search asks for: those the identity and the group matchers read.
fn wanted(config: &LdapConfig) -> Vec<&str> {
    let search = &config.user_search;
    let mut names: Vec<&str> = vec![search.id_attr.as_str()];
    names.extend(search.email_attr.as_deref());
    names.extend(search.username.iter().map(String::as_str));
    names.extend(search.name_attr.as_deref());
    names.extend(search.preferred_username_attr.as_deref());
    if let Some(groups) = &config.group_search {
        names.extend(groups.user_matchers.iter().map(|m| m.user_attr.as_str()));
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// The one entry matching what the user typed, or None. Several matches are a directory (or
/// config) problem, not a wrong password.
pub async fn find(
    session: &mut Session,
    config: &LdapConfig,
    username: &str,
) -> Result<Option<SearchEntry>, ConnectorError> {
    let search: &UserSearch = &config.user_search;
    let query = filter::equality_any(search.filter.as_deref(), &search.username, username);
    let found = session
        .search(&search.base_dn, search.scope, &query, &wanted(config))
        .await?
        .map_err(|rc| {
            unavailable(
                "user search",
                format!(
                    "result code {rc} searching userSearch.baseDN {:?}",
                    search.base_dn
                ),
            )
        })?;
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (None, _) => Ok(None),
        (Some(entry), None) => Ok(Some(entry)),
        (Some(_), Some(_)) => Err(unavailable(
            "user search",
            "several entries match one username; make userSearch.filter/username select one entry",
        )),
    }
}

/// The identity Dex reads from a user entry; a required attribute that is missing is a
/// directory problem (reported with the DN and the attribute, never as a wrong password).
pub fn identity(search: &UserSearch, entry: &SearchEntry) -> Result<Identity, ConnectorError> {
    let mut missing = Vec::new();
    let mut read = |name: Option<&str>| -> String {
        let Some(name) = name else {
            return String::new();
        };
        match first(entry, name) {
            Some(v) => v.to_string(),
            None => {
                missing.push(name.to_string());
                String::new()
            }
        }
    };
    let user_id = read(Some(&search.id_attr));
    let username = read(search.name_attr.as_deref());
    let preferred_username = read(search.preferred_username_attr.as_deref());
    let email = match &search.email_suffix {
        Some(suffix) => format!("{username}@{suffix}"),
        None => read(search.email_attr.as_deref()),
    };
    if !missing.is_empty() {
        return Err(unavailable(
            "user entry",
            format!(
                "{:?} lacks the attribute(s) {}",
                entry.dn,
                missing.join(", ")
            ),
        ));
    }
    Ok(Identity {
        user_id,
        username,
        preferred_username,
        email,
        // As Dex: the directory vouches for its addresses.
        email_verified: true,
        groups: Vec::new(),
        connector_data: None,
    })
}
