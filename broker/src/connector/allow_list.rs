//! Group allow-lists (Dex's `groups` for Microsoft, `allowedGroups` for OIDC), enforced before
//! any code or token is issued.

use super::ConnectorError;

/// Refuses a user in none of `allowed` (when the list is not empty). With `keep_only_allowed`
/// the user's groups are narrowed to the allowed ones (Dex's `useGroupsAsWhitelist`, and the
/// OIDC connector's `allowedGroups`).
pub fn enforce(
    groups: Vec<String>,
    allowed: &[String],
    keep_only_allowed: bool,
) -> Result<Vec<String>, ConnectorError> {
    if allowed.is_empty() {
        return Ok(groups);
    }
    let matching: Vec<String> = groups
        .iter()
        .filter(|g| allowed.contains(g))
        .cloned()
        .collect();
    if matching.is_empty() {
        return Err(ConnectorError::NotAllowed(
            "you are not a member of any group allowed to sign in here".into(),
        ));
    }
    Ok(if keep_only_allowed { matching } else { groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_list_allows_everyone() {
        assert_eq!(enforce(v(&["a"]), &[], true).unwrap(), v(&["a"]));
    }

    #[test]
    fn member_of_one_is_allowed_and_optionally_narrowed() {
        let allowed = v(&["admin", "developer"]);
        assert_eq!(
            enforce(v(&["x", "developer"]), &allowed, false).unwrap(),
            v(&["x", "developer"])
        );
        assert_eq!(
            enforce(v(&["x", "developer"]), &allowed, true).unwrap(),
            v(&["developer"])
        );
    }

    #[test]
    fn member_of_none_is_refused() {
        let allowed = v(&["admin"]);
        assert!(matches!(
            enforce(v(&["Admin", "x"]), &allowed, false),
            Err(ConnectorError::NotAllowed(_))
        ));
        assert!(enforce(vec![], &allowed, false).is_err());
    }
}
