//! Valid but dangerous settings: said loudly at start (`serve`) and by `check-config`.

use super::{Config, ConnectorKind};
use crate::connector::microsoft::config::is_multi_tenant;

/// One line per dangerous setting, naming the key and what to do.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in config.connectors.iter().enumerate() {
        match &c.kind {
            ConnectorKind::Microsoft(m) if is_multi_tenant(&m.tenant) && m.groups.is_empty() => {
                out.push(format!(
                    "connectors[{i}] ({id}): tenant {tenant:?} with no groups admits ANY Microsoft account in the world{which}; set tenant to your tenant id or domain, or restrict access with the gateway's rules",
                    id = c.id,
                    tenant = m.tenant,
                    which = match m.tenant.to_ascii_lowercase().as_str() {
                        "consumers" => " (every personal Microsoft account)",
                        "organizations" => " (every work or school account of every organisation)",
                        _ => " (every personal account and every organisation's accounts)",
                    },
                ));
            }
            ConnectorKind::Oidc(o) if o.insecure_skip_email_verified => out.push(format!(
                "connectors[{i}] ({id}): insecureSkipEmailVerified is on: e-mail addresses the provider does not mark verified are reported as verified",
                id = c.id,
            )),
            ConnectorKind::Saml(s) if s.insecure_skip_signature_validation => out.push(format!(
                "connectors[{i}] ({id}): insecureSkipSignatureValidation is on: anyone can sign in as anyone through this connector",
                id = c.id,
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tenant: &str, groups: &str) -> Config {
        Config::from_yaml(&format!(
            r#"
issuer: http://127.0.0.1:5556/dex
storage: {{type: memory}}
web: {{http: "127.0.0.1:5556"}}
staticClients:
- {{id: c, secret: s, redirectURIs: ["http://a/cb"]}}
connectors:
- type: microsoft
  id: ms
  name: Microsoft
  config:
    clientID: x
    clientSecret: y
    redirectURI: http://127.0.0.1:5556/dex/callback
    tenant: {tenant}
{groups}"#
        ))
        .unwrap()
    }

    #[test]
    fn multi_tenant_without_groups_is_warned_about() {
        for tenant in ["common", "organizations", "Consumers"] {
            let w = warnings(&config(tenant, ""));
            assert_eq!(w.len(), 1, "{tenant}: {w:?}");
            assert!(w[0].contains("ANY Microsoft account"), "{}", w[0]);
            assert!(w[0].contains("connectors[0]"), "{}", w[0]);
        }
        assert!(warnings(&config("contoso.onmicrosoft.com", "")).is_empty());
        assert!(warnings(&config(
            "11111111-2222-3333-4444-555555555555",
            "    groups: [admins]\n"
        ))
        .is_empty());
    }
}
