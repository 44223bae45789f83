//! Additions to the standard broker YAML (`BrokerConfig::standard`) for tests that need
//! more users, a second client or the password grant. They only append or insert, so the
//! standard users and client stay as they are.

use crate::broker::{yaml_quoted as q, TestUser};

/// A user whose address has two `@`: a naive "domain = after the last `@`" check would
/// read it as `example.com`.
pub const EVE: TestUser = TestUser {
    email: "eve@evil.example@example.com",
    password: "password",
    username: "eve",
    user_id: "9d0f4b2e-1c3a-4e5f-8a7b-6c5d4e3f2a10",
    groups: &["admins"],
};

/// A user on a subdomain of `example.org`.
pub const CAROL: TestUser = TestUser {
    email: "carol@dept.example.org",
    password: "password",
    username: "carol",
    user_id: "2b7c9e1d-4f6a-4b8c-9d0e-1f2a3b4c5d6e",
    groups: &["partners"],
};

/// A second static client: its tokens carry `aud: reports-cli`.
pub const OTHER_CLIENT_ID: &str = "reports-cli";
pub const OTHER_CLIENT_SECRET: &str = "reports-secret";

pub use crate::broker::append_users;

/// Turns on the resource-owner password grant through the local connector, so tests can
/// get tokens from the broker without a browser.
pub fn enable_password_grant(yaml: &mut String) {
    *yaml = yaml.replacen("oauth2:\n", "oauth2:\n  passwordConnector: local\n", 1);
}

/// Adds the `reports-cli` client (before the password database settings).
pub fn add_other_client(yaml: &mut String) {
    add_static_clients(
        yaml,
        &format!(
            "- id: {}\n  secret: {}\n  name: Reports\n  redirectURIs: [\"http://127.0.0.1:9/callback\"]\n",
            q(OTHER_CLIENT_ID),
            q(OTHER_CLIENT_SECRET)
        ),
    );
}

/// Appends `entries` (`staticClients` list items, each line ending in `\n`) to the clients.
pub fn add_static_clients(yaml: &mut String, entries: &str) {
    *yaml = yaml.replacen(
        "enablePasswordDB:",
        &format!("{entries}enablePasswordDB:"),
        1,
    );
}

/// Sets `oauth2.grantTypes` to `list` (YAML flow syntax, e.g. `[authorization_code]`).
pub fn set_grant_types(yaml: &mut String, list: &str) {
    *yaml = yaml.replacen("oauth2:\n", &format!("oauth2:\n  grantTypes: {list}\n"), 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerConfig;

    #[test]
    fn additions_land_in_the_right_lists() {
        let mut config = BrokerConfig::standard(1, 2, std::path::Path::new("/tmp"));
        let standard = config.yaml.clone();
        enable_password_grant(&mut config.yaml);
        add_other_client(&mut config.yaml);
        append_users(&mut config.yaml, &[EVE]);
        let yaml = &config.yaml;
        assert!(yaml.contains("oauth2:\n  passwordConnector: local\n"));
        let client = yaml.find("reports-cli").unwrap();
        assert!(client > yaml.find("staticClients:").unwrap());
        assert!(client < yaml.find("enablePasswordDB:").unwrap());
        assert!(yaml.ends_with("  groups: [\"admins\"]\n"));
        assert!(yaml.find(EVE.email).unwrap() > yaml.find("staticPasswords:").unwrap());
        assert!(yaml.len() > standard.len());
    }
}
