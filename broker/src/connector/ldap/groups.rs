//! A user's groups as Dex 2.44 finds them: per user matcher, the groups whose `groupAttr` holds
//! a value of the user's `userAttr`; with `recursionGroupAttr`, then the groups whose
//! `recursionGroupAttr` holds one of those groups' DN, level by level (nested groups), each
//! group once, so a cycle ends.

use ldap3::SearchEntry;

use super::config::{GroupSearch, UserMatcher};
use super::directory::{unavailable, Session, NO_SUCH_OBJECT};
use super::filter;
use super::user::{first, values};
use crate::connector::ConnectorError;

/// More group searches than this for one user is a loop or a misconfiguration.
const MAX_SEARCHES: usize = 500;

pub async fn of_user(
    session: &mut Session,
    search: &GroupSearch,
    user: &SearchEntry,
) -> Result<Vec<String>, ConnectorError> {
    let mut names: Vec<String> = Vec::new();
    let mut searches = 0;
    for matcher in &search.user_matchers {
        let mut level = Vec::new();
        for value in values(user, &matcher.user_attr) {
            level.extend(query(session, search, &matcher.group_attr, value, &mut searches).await?);
        }
        level_by_level(session, search, matcher, level, &mut names, &mut searches).await?;
    }
    Ok(names)
}

async fn level_by_level(
    session: &mut Session,
    search: &GroupSearch,
    matcher: &UserMatcher,
    mut level: Vec<SearchEntry>,
    names: &mut Vec<String>,
    searches: &mut usize,
) -> Result<(), ConnectorError> {
    while !level.is_empty() {
        let mut next = Vec::new();
        for group in level {
            let name = first(&group, &search.name_attr).ok_or_else(|| {
                unavailable(
                    "group search",
                    format!(
                        "group {:?} lacks groupSearch.nameAttr {:?}",
                        group.dn, search.name_attr
                    ),
                )
            })?;
            if names.iter().any(|n| n == name) {
                continue;
            }
            names.push(name.to_string());
            if let Some(parent_attr) = &matcher.recursion_group_attr {
                next.extend(query(session, search, parent_attr, &group.dn, searches).await?);
            }
        }
        level = next;
    }
    Ok(())
}

/// Groups under the base whose `attr` equals `value` (escaped), within the configured filter.
async fn query(
    session: &mut Session,
    search: &GroupSearch,
    attr: &str,
    value: &str,
    searches: &mut usize,
) -> Result<Vec<SearchEntry>, ConnectorError> {
    *searches += 1;
    if *searches > MAX_SEARCHES {
        return Err(unavailable(
            "group search",
            format!("more than {MAX_SEARCHES} group searches for one user"),
        ));
    }
    let query = filter::equality_any(search.filter.as_deref(), &[attr.to_string()], value);
    match session
        .search(
            &search.base_dn,
            search.scope,
            &query,
            &[search.name_attr.as_str()],
        )
        .await?
    {
        Ok(entries) => Ok(entries),
        // As Dex: a group base that does not exist (yet) means no groups.
        Err(NO_SUCH_OBJECT) => Ok(Vec::new()),
        Err(rc) => Err(unavailable(
            "group search",
            format!(
                "result code {rc} searching groupSearch.baseDN {:?}",
                search.base_dn
            ),
        )),
    }
}
