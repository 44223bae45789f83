//! `type: ldap` connector config: Dex's keys and meanings (connector/ldap/ldap.go, 2.44, plus the
//! list form of `userSearch.username` of later releases). Every string is `$VAR`-expanded, as Dex
//! expands connector configs. Where Dex would only fail at the first sign-in (a missing `idAttr`,
//! a filter that does not parse, half a client key pair), the config is refused here, naming the key.

use super::filter;
use super::raw::{Names, Raw, RawGroupSearch, RawUserMatcher, RawUserSearch, SHAPE};
use super::tls::{self, TlsSettings};
use crate::config::{parse_block, required, ConfigError};
use crate::connector::types::ParseContext;
use crate::secret::Secret;

/// How far below the base DN a search looks (`scope`: `sub`, the default, or `one`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Sub,
    One,
}

#[derive(Debug, Clone)]
pub struct UserSearch {
    pub base_dn: String,
    /// The configured extra filter, e.g. `(objectClass=person)`.
    pub filter: Option<String>,
    /// Attributes compared with what the user typed (OR-ed when several).
    pub username: Vec<String>,
    pub scope: Scope,
    pub id_attr: String,
    /// None when `emailSuffix` makes the address.
    pub email_attr: Option<String>,
    pub name_attr: Option<String>,
    pub preferred_username_attr: Option<String>,
    pub email_suffix: Option<String>,
}

/// One way of finding a user's groups: groups whose `group_attr` holds the user's `user_attr`
/// (`DN` meaning the entry's DN); with `recursion_group_attr`, also the groups whose
/// `recursion_group_attr` holds a found group's DN, level after level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMatcher {
    pub user_attr: String,
    pub group_attr: String,
    pub recursion_group_attr: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GroupSearch {
    pub base_dn: String,
    pub filter: Option<String>,
    pub scope: Scope,
    pub user_matchers: Vec<UserMatcher>,
    pub name_attr: String,
}

#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    pub start_tls: bool,
    pub insecure_no_ssl: bool,
    pub tls: TlsSettings,
    /// Service account; None for an anonymous search bind (both keys empty, as in Dex).
    pub bind: Option<(String, Secret)>,
    pub username_prompt: String,
    pub user_search: UserSearch,
    /// None without `groupSearch.baseDN`: users have no groups.
    pub group_search: Option<GroupSearch>,
    /// The deprecated `groupSearch.userAttr`/`groupAttr` were used (said at start).
    pub legacy_group_keys: bool,
}

pub fn parse(
    value: &serde_json::Value,
    path: &str,
    context: &ParseContext,
) -> Result<LdapConfig, ConfigError> {
    let mut value = value.clone();
    crate::config::expand_env_value(&mut value, path, context.env)
        .map_err(|(key, message)| ConfigError::key(key, message))?;
    let raw: Raw = parse_block(&value, &SHAPE, path)?;
    let key = |k: &str| format!("{path}.{k}");
    let host = required(raw.host, &key("host"))?;
    let insecure_no_ssl = raw.insecure_no_ssl.unwrap_or(false);
    let start_tls = raw.start_tls.unwrap_or(false);
    if insecure_no_ssl && start_tls {
        return Err(ConfigError::key(
            key("startTLS"),
            "contradicts insecureNoSSL: true (a plain connection); remove insecureNoSSL to use StartTLS",
        ));
    }
    let url = server_url(&host, insecure_no_ssl, start_tls, &key("host"))?;
    let tls = tls::settings(
        tls::Keys {
            root_ca: raw.root_ca,
            root_ca_data: raw.root_ca_data,
            client_cert: raw.client_cert,
            client_key: raw.client_key,
            insecure_skip_verify: raw.insecure_skip_verify.unwrap_or(false),
        },
        path,
        context.read_file,
    )?;
    let bind_dn = raw.bind_dn.unwrap_or_default();
    let bind_pw = raw.bind_pw.unwrap_or_default();
    let bind = match (bind_dn.is_empty(), bind_pw.is_empty()) {
        (true, true) => None,
        // A DN with an empty password is an unauthenticated bind on many servers: it would
        // "succeed" and then search with no rights.
        (false, true) => {
            return Err(ConfigError::key(
                key("bindPW"),
                "missing while bindDN is set (an empty password is an unauthenticated bind); set it, e.g. bindPW: $LDAP_BIND_PW",
            ))
        }
        (true, false) => return Err(ConfigError::key(key("bindDN"), "missing while bindPW is set")),
        (false, false) => Some((bind_dn, Secret::new(bind_pw))),
    };
    let user_search = user_search(
        raw.user_search
            .ok_or_else(|| ConfigError::key(key("userSearch"), "missing"))?,
        &key("userSearch"),
    )?;
    let (group_search, legacy_group_keys) = match raw.group_search {
        Some(g) => group_search(g, &key("groupSearch"))?,
        None => (None, false),
    };
    Ok(LdapConfig {
        url,
        start_tls,
        insecure_no_ssl,
        tls,
        bind,
        username_prompt: raw
            .username_prompt
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "Username".into()),
        user_search,
        group_search,
        legacy_group_keys,
    })
}

/// Dex's `host`: `name` or `name:port`; without a port 636 (ldaps), or 389 for a plain or
/// StartTLS connection.
fn server_url(
    host: &str,
    insecure_no_ssl: bool,
    start_tls: bool,
    key: &str,
) -> Result<String, ConfigError> {
    let scheme = if insecure_no_ssl || start_tls {
        "ldap"
    } else {
        "ldaps"
    };
    let bad = || {
        ConfigError::key(
            key,
            format!("{host:?} is not a host name or host:port (no scheme, no path)"),
        )
    };
    if host.contains(['/', '@', '?', '#', ' ']) {
        return Err(bad());
    }
    let parsed = url::Url::parse(&format!("{scheme}://{host}")).map_err(|_| bad())?;
    let name = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(bad)?;
    let port = parsed
        .port()
        .unwrap_or(if scheme == "ldaps" { 636 } else { 389 });
    Ok(format!("{scheme}://{name}:{port}"))
}

fn user_search(raw: RawUserSearch, path: &str) -> Result<UserSearch, ConfigError> {
    let key = |k: &str| format!("{path}.{k}");
    let base_dn = required(raw.base_dn, &key("baseDN"))?;
    let username = match raw.username {
        Some(Names::One(name)) => vec![name],
        Some(Names::Many(names)) => names,
        None => Vec::new(),
    };
    if username.is_empty() {
        return Err(ConfigError::key(
            key("username"),
            "missing (e.g. uid, or [uid, mail])",
        ));
    }
    for name in &username {
        attribute(name, &key("username"))?;
    }
    let id_attr = required(raw.id_attr, &key("idAttr")).map_err(|_| {
        ConfigError::key(
            key("idAttr"),
            "missing (the attribute that identifies a user for good, e.g. uid or entryUUID)",
        )
    })?;
    attribute(&id_attr, &key("idAttr"))?;
    let optional = |value: Option<String>, k: &str| -> Result<Option<String>, ConfigError> {
        match value.filter(|v| !v.is_empty()) {
            Some(v) => attribute(&v, &key(k)).map(|()| Some(v)),
            None => Ok(None),
        }
    };
    let name_attr = optional(raw.name_attr, "nameAttr")?;
    let preferred_username_attr = optional(raw.preferred_username_attr, "preferredUsernameAttr")?;
    let email_attr = optional(raw.email_attr, "emailAttr")?;
    let email_suffix = raw.email_suffix.filter(|s| !s.is_empty());
    if let Some(suffix) = &email_suffix {
        if suffix.contains('@') {
            return Err(ConfigError::key(
                key("emailSuffix"),
                "must not contain '@' (write example.com)",
            ));
        }
        // Dex makes the address from the name attribute.
        if name_attr.is_none() {
            return Err(ConfigError::key(
                key("nameAttr"),
                "missing: emailSuffix makes the e-mail address from it",
            ));
        }
    } else if email_attr.is_none() {
        return Err(ConfigError::key(
            key("emailAttr"),
            "missing (e.g. mail), or set emailSuffix",
        ));
    }
    let filter = configured_filter(raw.filter, &key("filter"))?;
    Ok(UserSearch {
        base_dn,
        filter,
        username,
        scope: scope(raw.scope, &key("scope"))?,
        id_attr,
        email_attr: if email_suffix.is_some() {
            None
        } else {
            email_attr
        },
        name_attr,
        preferred_username_attr,
        email_suffix,
    })
}

fn group_search(
    raw: RawGroupSearch,
    path: &str,
) -> Result<(Option<GroupSearch>, bool), ConfigError> {
    let key = |k: &str| format!("{path}.{k}");
    let Some(base_dn) = raw.base_dn.filter(|b| !b.trim().is_empty()) else {
        // Dex: no baseDN, no group search.
        return Ok((None, false));
    };
    // As Dex: userMatchers when its first entry names a userAttr, else the deprecated keys.
    let given = raw.user_matchers.unwrap_or_default();
    let use_list = given
        .first()
        .is_some_and(|m| m.user_attr.as_deref().is_some_and(|a| !a.is_empty()));
    let (matchers, at, legacy) = if use_list {
        (given, "userMatchers", false)
    } else {
        let legacy = raw.user_attr.is_some() || raw.group_attr.is_some();
        (
            vec![RawUserMatcher {
                user_attr: raw.user_attr,
                group_attr: raw.group_attr,
                recursion_group_attr: raw.recursion_group_attr,
            }],
            "",
            legacy,
        )
    };
    let mut user_matchers = Vec::with_capacity(matchers.len());
    for (i, m) in matchers.into_iter().enumerate() {
        let k = |name: &str| {
            if at.is_empty() {
                key(name)
            } else {
                key(&format!("{at}[{i}].{name}"))
            }
        };
        let user_attr = required(m.user_attr, &k("userAttr"))?;
        let group_attr = required(m.group_attr, &k("groupAttr"))?;
        attribute(&user_attr, &k("userAttr"))?;
        attribute(&group_attr, &k("groupAttr"))?;
        let recursion_group_attr = m.recursion_group_attr.filter(|a| !a.is_empty());
        if let Some(a) = &recursion_group_attr {
            attribute(a, &k("recursionGroupAttr"))?;
        }
        user_matchers.push(UserMatcher {
            user_attr,
            group_attr,
            recursion_group_attr,
        });
    }
    let name_attr = required(raw.name_attr, &key("nameAttr"))?;
    attribute(&name_attr, &key("nameAttr"))?;
    Ok((
        Some(GroupSearch {
            base_dn,
            filter: configured_filter(raw.filter, &key("filter"))?,
            scope: scope(raw.scope, &key("scope"))?,
            user_matchers,
            name_attr,
        }),
        legacy,
    ))
}

fn scope(value: Option<String>, key: &str) -> Result<Scope, ConfigError> {
    match value.as_deref().unwrap_or("") {
        "" | "sub" => Ok(Scope::Sub),
        "one" => Ok(Scope::One),
        other => Err(ConfigError::key(
            key,
            format!("{other:?} is not a scope: use sub (the whole subtree, the default) or one"),
        )),
    }
}

/// An attribute description goes into filters unescaped: it must be one (RFC 4512 §2.5).
fn attribute(name: &str, key: &str) -> Result<(), ConfigError> {
    if filter::is_attribute_description(name) {
        Ok(())
    } else {
        Err(ConfigError::key(
            key,
            format!("{name:?} is not an attribute name (letters, digits and '-', starting with a letter, or an OID)"),
        ))
    }
}

fn configured_filter(value: Option<String>, key: &str) -> Result<Option<String>, ConfigError> {
    match value.filter(|f| !f.trim().is_empty()) {
        None => Ok(None),
        Some(f) => {
            let f = f.trim().to_string();
            if filter::is_filter(&f) {
                Ok(Some(f))
            } else {
                Err(ConfigError::key(
                    key,
                    format!("{f:?} is not an LDAP filter (RFC 4515), e.g. (objectClass=person)"),
                ))
            }
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
