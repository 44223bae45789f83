//! The `type: ldap` block as written: Dex's keys in their canonical spelling ([`SHAPE`]) and
//! the typed read of them, before `config.rs` checks what they mean.

use serde::Deserialize;

use crate::config::Shape;

const USER_MATCHER: Shape = Shape::Object(&[
    ("userAttr", Shape::Scalar),
    ("groupAttr", Shape::Scalar),
    ("recursionGroupAttr", Shape::Scalar),
]);

const USER_SEARCH: Shape = Shape::Object(&[
    ("baseDN", Shape::Scalar),
    ("filter", Shape::Scalar),
    // A string or a list of strings: checked by the typed read.
    ("username", Shape::Opaque),
    ("scope", Shape::Scalar),
    ("idAttr", Shape::Scalar),
    ("emailAttr", Shape::Scalar),
    ("nameAttr", Shape::Scalar),
    ("preferredUsernameAttr", Shape::Scalar),
    ("emailSuffix", Shape::Scalar),
]);

const GROUP_SEARCH: Shape = Shape::Object(&[
    ("baseDN", Shape::Scalar),
    ("filter", Shape::Scalar),
    ("scope", Shape::Scalar),
    ("userAttr", Shape::Scalar),
    ("groupAttr", Shape::Scalar),
    ("recursionGroupAttr", Shape::Scalar),
    ("userMatchers", Shape::List(&USER_MATCHER)),
    ("nameAttr", Shape::Scalar),
]);

pub const SHAPE: Shape = Shape::Object(&[
    ("host", Shape::Scalar),
    ("insecureNoSSL", Shape::Scalar),
    ("insecureSkipVerify", Shape::Scalar),
    ("startTLS", Shape::Scalar),
    ("rootCA", Shape::Scalar),
    ("rootCAData", Shape::Scalar),
    ("clientCert", Shape::Scalar),
    ("clientKey", Shape::Scalar),
    ("bindDN", Shape::Scalar),
    ("bindPW", Shape::Scalar),
    ("usernamePrompt", Shape::Scalar),
    ("userSearch", USER_SEARCH),
    ("groupSearch", GROUP_SEARCH),
    (
        "kerberos",
        Shape::Unsupported("Kerberos (SPNEGO) sign-in is not supported"),
    ),
]);

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Raw {
    pub host: Option<String>,
    #[serde(rename = "insecureNoSSL")]
    pub insecure_no_ssl: Option<bool>,
    pub insecure_skip_verify: Option<bool>,
    #[serde(rename = "startTLS")]
    pub start_tls: Option<bool>,
    #[serde(rename = "rootCA")]
    pub root_ca: Option<String>,
    #[serde(rename = "rootCAData")]
    pub root_ca_data: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    #[serde(rename = "bindDN")]
    pub bind_dn: Option<String>,
    #[serde(rename = "bindPW")]
    pub bind_pw: Option<String>,
    pub username_prompt: Option<String>,
    pub user_search: Option<RawUserSearch>,
    pub group_search: Option<RawGroupSearch>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawUserSearch {
    #[serde(rename = "baseDN")]
    pub base_dn: Option<String>,
    pub filter: Option<String>,
    pub username: Option<Names>,
    pub scope: Option<String>,
    pub id_attr: Option<String>,
    pub email_attr: Option<String>,
    pub name_attr: Option<String>,
    pub preferred_username_attr: Option<String>,
    pub email_suffix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGroupSearch {
    #[serde(rename = "baseDN")]
    pub base_dn: Option<String>,
    pub filter: Option<String>,
    pub scope: Option<String>,
    pub user_attr: Option<String>,
    pub group_attr: Option<String>,
    pub recursion_group_attr: Option<String>,
    pub user_matchers: Option<Vec<RawUserMatcher>>,
    pub name_attr: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawUserMatcher {
    pub user_attr: Option<String>,
    pub group_attr: Option<String>,
    pub recursion_group_attr: Option<String>,
}
