//! Kong validates a filter's configuration against the `config_schema` of
//! `<filter name>.meta.json` (JSON Schema Draft 4) before the filter ever sees it, so an
//! operator gets the refusal from the Admin API / `kong config parse` instead of a 500 at
//! request time. The schema is derived from [`FilterConfig`] with `schemars`, then turned
//! into plain Draft 4 and given the semantic rules of [`Settings::validate`] that Draft 4 can
//! state. Rules it cannot state (listed in `kong/README.md`) are still enforced by the parser
//! at plugin start.
//!
//! Regular expressions are written for the engines that read them: ECMA 262 (what Draft 4
//! names), Python's `re` (our tests), and PCRE as Kong runs it (`ngx.re.find` with no UTF-8
//! flag, so it reads bytes). Hence: no `$` (Python lets it match before a final newline;
//! [`END`] is used instead), no `\s` (each engine reads it differently), no flags
//! (`[Ll][Aa][Xx]`), and non-ASCII characters only as whole literals in alternations, never
//! inside a character class (a byte-reading engine would see their UTF-8 bytes there).
//!
//! [`Settings::validate`]: super::Settings::validate

use serde_json::{json, Map, Value};

use super::FilterConfig;
use draft4::{check_draft4, inline_refs, to_draft4};

mod draft4;

/// The Draft-4 meta-schema URI Kong requires in `config_schema`.
pub const DRAFT4: &str = "http://json-schema.org/draft-04/schema#";

/// End of input in every engine (`$` may match before a trailing newline in Python).
const END: &str = r"(?![\s\S])";

/// Rust's `char::is_whitespace` (Unicode White_Space): ASCII ones in a class, the others
/// as literal alternatives (see the module note).
fn ws() -> String {
    let mut alts = vec![r"[\x09-\x0d\x20]".to_string()];
    let others =
        (0x2000..=0x200a).chain([0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
    alts.extend(others.filter_map(char::from_u32).map(String::from));
    format!("(?:{})", alts.join("|"))
}

/// The C1 control characters U+0080-U+009F, as literal alternatives.
fn c1_controls() -> String {
    let alts: Vec<String> = (0x80..=0x9f)
        .filter_map(char::from_u32)
        .map(String::from)
        .collect();
    format!("(?:{})", alts.join("|"))
}

/// Keys whose parser rule is only their type (no overlay below): reviewed, nothing to add.
const TYPE_ONLY_KEYS: &[&str] = &[
    "allowed_groups",
    "allowed_emails",
    "pass_access_token",
    "skip_jwt_bearer_tokens",
    "insecure_oidc_allow_unverified_email",
    "cookie_secure",
    "revocation_admit_when_stale",
];
const TYPE_ONLY_ROUTE_KEYS: &[&str] = &["allowed_groups", "allowed_emails", "public", "api"];

/// Why the schema could not be produced: the config type changed under the overlay.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error("schema derivation: {0}")]
    Shape(String),
    #[error("config key `{0}` has no schema rules yet: add them in config/schema.rs (or list it as type-only)")]
    Unreviewed(String),
    #[error("schema keyword `{0}` is not Draft 4")]
    NotDraft4(String),
}

/// `{"config_schema": …}`, the content of `kong/gatehouse.meta.json`.
pub fn kong_meta() -> Result<Value, SchemaError> {
    Ok(json!({ "config_schema": config_schema()? }))
}

/// The Draft-4 JSON Schema of the filter configuration.
pub fn config_schema() -> Result<Value, SchemaError> {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut root: Value = generator.into_root_schema_for::<FilterConfig>().into();
    let definitions = match root.as_object_mut() {
        Some(obj) => obj.remove("definitions").unwrap_or(Value::Null),
        None => return Err(SchemaError::Shape("root schema is not an object".into())),
    };
    inline_refs(&mut root, &definitions, 0)?;
    to_draft4(&mut root);

    add_top_level_rules(&mut root)?;
    let route = root
        .pointer_mut("/properties/routes/items")
        .ok_or_else(|| SchemaError::Shape("routes has no item schema".into()))?;
    add_route_rules(route)?;

    let obj = object(&mut root)?;
    obj.remove("title");
    obj.insert("$schema".into(), DRAFT4.into());
    check_draft4(&root)?;
    Ok(root)
}

// ---- semantic rules of Settings::validate -------------------------------------------------

fn add_top_level_rules(root: &mut Value) -> Result<(), SchemaError> {
    let ws = ws();
    // Refuses strings made only of whitespace (`non_empty` trims before testing).
    let not_blank = json!({"pattern": format!("^{ws}*{END}")});
    let secret = secret_pattern();
    let path_key = format!("^/(?:[^/?# ][^?# ]*)?{END}");

    let mut rules: Vec<(&str, Value)> = vec![
        // Required, non-null, and not only whitespace (`non_empty`).
        (
            "issuer",
            json!({"type": "string", "pattern": http_url_pattern()}),
        ),
        (
            "broker_upstream",
            json!({"type": "string", "not": not_blank}),
        ),
        ("client_id", json!({"type": "string", "not": not_blank})),
        ("client_secret", json!({"type": "string", "not": not_blank})),
        (
            "broker_authority",
            json!({"not": {"type": "string", "pattern": not_blank["pattern"]}}),
        ),
        ("cookie_secret", json!({"pattern": secret})),
        (
            "cookie_secrets",
            json!({"minItems": 1, "items": {"type": "string", "pattern": secret}}),
        ),
        ("redirect_path", json!({"pattern": path_key})),
        ("sign_out_path", json!({"pattern": path_key})),
        ("userinfo_path", json!({"pattern": path_key})),
        ("sign_out_redirect", return_path_rules()),
        // Only "absolute URL" is stated; "its path equals redirect_path" crosses keys.
        (
            "redirect_url",
            json!({"pattern": "^[A-Za-z][A-Za-z0-9+.-]*:"}),
        ),
        // Must contain "openid" (Draft 4 has no `contains`: "not every item is not openid").
        (
            "scopes",
            json!({
                "items": {"type": "string", "pattern": format!(r"^(?:(?!{ws})[\s\S])+{END}")},
                "not": {"type": "array", "items": {"not": {"enum": ["openid"]}}}
            }),
        ),
        (
            "email_domains",
            json!({"items": {"type": "string", "pattern": domain_rule_pattern()}}),
        ),
        (
            "jwt_bearer_audiences",
            json!({"minItems": 1, "items": {"type": "string", "minLength": 1}}),
        ),
        (
            "bearer_cache_size",
            json!({"minimum": 0, "maximum": 100_000}),
        ),
        (
            "cookie_name",
            json!({"pattern": format!("^[A-Za-z0-9_-]{{1,64}}{END}")}),
        ),
        (
            "cookie_domain",
            json!({"pattern": format!("^[A-Za-z0-9.-]+{END}")}),
        ),
        ("cookie_path", json!({"pattern": format!("^/[^;, ]*{END}")})),
        ("cookie_samesite", json!({"pattern": samesite_pattern()})),
        (
            "cookie_expire_s",
            json!({"minimum": 60, "maximum": u64::MAX}),
        ),
        ("login_timeout_s", json!({"minimum": 30, "maximum": 3600})),
        (
            "broker_timeout_ms",
            json!({"minimum": 100, "maximum": 60_000}),
        ),
        ("jwks_refresh_s", json!({"minimum": 5, "maximum": 86_400})),
        ("revocation_poll_s", json!({"minimum": 1, "maximum": 300})),
        (
            "revocation_max_stale_s",
            json!({"minimum": 5, "maximum": 86_400}),
        ),
        ("routes", json!({})),
    ];
    let required = ["issuer", "broker_upstream", "client_id", "client_secret"];
    overlay(root, &mut rules, TYPE_ONLY_KEYS)?;

    let obj = object(root)?;
    obj.insert("required".into(), json!(required));
    obj.insert(
        "allOf".into(),
        json!([
            // Exactly one of cookie_secret / cookie_secrets (null counts as absent).
            {"oneOf": [
                {"required": ["cookie_secret"],
                 "properties": {"cookie_secret": {"type": "string"}, "cookie_secrets": {"type": "null"}}},
                {"required": ["cookie_secrets"],
                 "properties": {"cookie_secrets": {"type": "array"}, "cookie_secret": {"type": "null"}}}
            ]},
            // SameSite=None needs Secure (browsers drop the cookie otherwise).
            {"not": {
                "required": ["cookie_samesite", "cookie_secure"],
                "properties": {
                    "cookie_samesite": {"type": "string", "pattern": format!("^[Nn][Oo][Nn][Ee]{END}")},
                    "cookie_secure": {"enum": [false]}
                }
            }}
        ]),
    );
    Ok(())
}

fn add_route_rules(route: &mut Value) -> Result<(), SchemaError> {
    let path = route_path_pattern();
    let mut rules: Vec<(&str, Value)> = vec![
        ("path_prefix", json!({"pattern": path})),
        ("path_exact", json!({"pattern": path})),
        // Whether it compiles as a regex-lite expression is left to the parser.
        ("path_regex", json!({})),
        (
            "methods",
            json!({"items": {"type": "string", "pattern": format!("^[A-Za-z]+{END}")}}),
        ),
        (
            "email_domains",
            json!({"items": {"type": "string", "pattern": domain_rule_pattern()}}),
        ),
    ];
    overlay(route, &mut rules, TYPE_ONLY_ROUTE_KEYS)?;
    let keys = ["path_prefix", "path_exact", "path_regex"];
    let one_of: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut props = Map::new();
            for other in keys {
                let t = if other == *k { "string" } else { "null" };
                props.insert(other.to_string(), json!({ "type": t }));
            }
            json!({"required": [k], "properties": props})
        })
        .collect();
    object(route)?.insert(
        "allOf".into(),
        json!([
            {"oneOf": one_of},
            // A public route cannot also restrict who passes.
            {"anyOf": [
                {"not": {"required": ["public"], "properties": {"public": {"enum": [true]}}}},
                {"properties": {
                    "allowed_groups": {"type": "null"},
                    "allowed_emails": {"type": "null"},
                    "email_domains": {"type": "null"}
                }}
            ]}
        ]),
    );
    Ok(())
}

/// `http(s)://host[:port][/path]`, no query or fragment. Stricter than `url::Url::parse`
/// (no userinfo, no whitespace the URL parser would strip); see kong/README.md.
fn http_url_pattern() -> String {
    format!(
        r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?(?:/(?:(?![?#]|{ws})[\s\S])*)?{END}",
        ws = ws()
    )
}

/// `email_domains` entries: `*`, `example.com` or `.example.com` (a lone `.` is refused).
fn domain_rule_pattern() -> String {
    format!(r"^(?:\*|[A-Za-z0-9-][A-Za-z0-9.-]*|\.[A-Za-z0-9.-]+){END}")
}

fn samesite_pattern() -> String {
    format!("^(?:[Ll][Aa][Xx]|[Ss][Tt][Rr][Ii][Cc][Tt]|[Nn][Oo][Nn][Ee]){END}")
}

/// Base64 (standard or URL-safe alphabet, padded or not, canonical trailing bits, as the
/// `base64` engines the parser tries) of at least 32 bytes, i.e. at least 43 symbols,
/// with surrounding whitespace allowed (the parser trims).
fn secret_pattern() -> String {
    let body = |a: &str| {
        format!("(?={a}{{43}})(?:{a}{{4}})*(?:{a}[AQgw](?:==)?|{a}{a}[AEIMQUYcgkosw048]=?)?")
    };
    format!(
        "^{ws}*(?:{}|{}){ws}*{END}",
        body("[A-Za-z0-9+/]"),
        body("[A-Za-z0-9_-]"),
        ws = ws()
    )
}

/// A route path the parser accepts as already normalised: `/` or segments that are not
/// `.`/`..`, hold no `/ \ ? #` and no `%XX` escape; one extra trailing `/` is tolerated.
/// `path::decide` on a route path: raw `pchar`s (no `;`), escapes only where one is needed
/// (never of `/`, `\`, `;`, controls or characters allowed raw; `%25` not before an escape),
/// no `.`/`..` or empty segments but a trailing `/`. Whether escaped bytes form UTF-8 is left to
/// the parser.
fn route_path_pattern() -> String {
    let raw = r"[A-Za-z0-9\-._~!$&'()*+,=:@|^\[\]]";
    let escape = r"%(?:2[023]|3[CcEeFf]|60|7[BbDd]|[89A-Fa-f][0-9A-Fa-f])|%25(?!%[0-9A-Fa-f]{2})";
    format!(r"^(?:/(?!\.\.?(?:/|{END}))(?:{raw}|{escape})+)*/?{END}")
}

/// `return_url::is_safe`: a same-origin path that stays one after a later percent-decode.
fn return_path_rules() -> Value {
    // Encoded control characters a browser drops: %00-%1F, %7F, and U+0080-U+009F in UTF-8.
    let encoded_control = "%[01][0-9A-Fa-f]|%7[Ff]|%[Cc]2%[89][0-9A-Fa-f]";
    json!({
        "maxLength": 2048,
        "allOf": [
            {"pattern": "^/"},
            {"not": {"pattern": "^//"}},
            {"not": {"pattern": format!(r"[\\\x00-\x1f\x7f]|{}|{}", c1_controls(), ws())}},
            {"not": {"pattern": format!("^/(?:{encoded_control})*(?:/|%2[Ff]|%5[Cc])")}}
        ]
    })
}

// ---- plumbing -------------------------------------------------------------------------------

/// Merges each rule into the derived property schema of that key; every derived key must be
/// covered by a rule or listed as type-only, so a new config key cannot slip through unreviewed.
fn overlay(
    schema: &mut Value,
    rules: &mut [(&str, Value)],
    type_only: &[&str],
) -> Result<(), SchemaError> {
    let props = schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| SchemaError::Shape("object schema without properties".into()))?;
    for key in props.keys() {
        if !type_only.contains(&key.as_str()) && !rules.iter().any(|(k, _)| k == key) {
            return Err(SchemaError::Unreviewed(key.clone()));
        }
    }
    for (key, rule) in rules.iter_mut() {
        let target = props
            .get_mut(*key)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| SchemaError::Shape(format!("no derived property `{key}`")))?;
        if let Value::Object(extra) = rule.take() {
            for (k, v) in extra {
                target.insert(k, v);
            }
        }
    }
    Ok(())
}

fn object(v: &mut Value) -> Result<&mut Map<String, Value>, SchemaError> {
    v.as_object_mut()
        .ok_or_else(|| SchemaError::Shape("schema is not an object".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_plain_draft4_with_inlined_routes() {
        let s = config_schema().unwrap();
        assert_eq!(s["$schema"], DRAFT4);
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(
            s["properties"]["routes"]["items"]["additionalProperties"],
            false
        );
        let text = s.to_string();
        assert!(!text.contains("$ref") && !text.contains("uint"), "{text}");
    }
}
