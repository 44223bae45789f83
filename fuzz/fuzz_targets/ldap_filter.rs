//! The `ldap` connector on arbitrary text, twice: as what a user types into the username field
//! (the search filter built from it stays one well-formed filter with no wildcard, however the
//! text tries to close parentheses or escape), and as the connector's `config:` block (a config
//! or an error naming the key, never a panic).
#![no_main]

use gatehouse_broker::config::Config;
use gatehouse_broker::connector::configure_with;
use gatehouse_broker::connector::ldap::filter;
use libfuzzer_sys::fuzz_target;

const BASE: &str = "issuer: https://gate.example.com/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\nconnectors:\n- type: ldap\n  id: ldap\n  config:\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let attributes = ["uid".to_string(), "mail".to_string()];
    let built = filter::equality_any(Some("(objectClass=person)"), &attributes, text);
    assert!(filter::is_filter(&built), "{built:?}");
    assert!(!built.contains('*'), "{built:?}");
    let block: String = text.lines().map(|l| format!("    {l}\n")).collect();
    if let Ok(config) = Config::from_yaml(&format!("{BASE}{block}")) {
        let no_files = |_: &str| Err(std::io::Error::other("no files while fuzzing"));
        let env = |name: &str| (name == "PW").then(|| "pw".to_string());
        let _ = configure_with(&config, &no_files, &env);
    }
});
