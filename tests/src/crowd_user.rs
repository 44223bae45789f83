//! A user with hundreds of groups, whose session does not fit one cookie: the broker
//! config edit that adds it, and the groups it has.

use crate::broker::PASSWORD_HASH;

/// The user's e-mail; the password is `password`, like the other test users.
pub const CROWD_EMAIL: &str = "crowd@example.com";
pub const CROWD_PASSWORD: &str = "password";
pub const CROWD_USERNAME: &str = "crowd";
pub const CROWD_USER_ID: &str = "a7d3c1e2-5b4f-4e8a-9c6d-0f1e2d3c4b5a";
/// How many groups, each a 20-character name.
pub const CROWD_GROUP_COUNT: usize = 300;

/// `team-000-engineering` … `team-299-engineering`.
pub fn crowd_groups() -> Vec<String> {
    (0..CROWD_GROUP_COUNT)
        .map(|i| format!("team-{i:03}-engineering"))
        .collect()
}

/// A `StackOptions::broker_yaml` edit: adds the crowd user as the first `staticPasswords`
/// entry (so keys appended to the YAML afterwards stay valid).
pub fn add_crowd_user(yaml: &mut String) {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let groups: Vec<String> = crowd_groups().iter().map(|g| q(g)).collect();
    let entry = format!(
        "- email: {}\n  hash: {}\n  username: {}\n  userID: {}\n  groups: [{}]\n",
        q(CROWD_EMAIL),
        q(PASSWORD_HASH),
        q(CROWD_USERNAME),
        q(CROWD_USER_ID),
        groups.join(", ")
    );
    let anchor = "staticPasswords:\n";
    match yaml.find(anchor) {
        Some(at) => yaml.insert_str(at + anchor.len(), &entry),
        None => {
            yaml.push_str(anchor);
            yaml.push_str(&entry);
        }
    }
}
