//! From what schemars derives (Draft 7, `$ref`s into `definitions`) to the plain Draft 4 that
//! Kong reads: references inlined, keywords Draft 4 lacks dropped, and a final check that no
//! keyword is left that a Draft-4 validator would silently ignore.

use serde_json::{json, Value};

use super::SchemaError;

/// Replaces `{"$ref": "#/definitions/X"}` by a copy of X (Kong's validator and Draft 4 tools
/// differ in how they resolve references; an inlined schema reads the same everywhere).
pub(super) fn inline_refs(v: &mut Value, defs: &Value, depth: usize) -> Result<(), SchemaError> {
    if depth > 16 {
        return Err(SchemaError::Shape("recursive $ref".into()));
    }
    match v {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get("$ref") {
                let name = r
                    .strip_prefix("#/definitions/")
                    .ok_or_else(|| SchemaError::Shape(format!("unexpected $ref {r}")))?;
                let mut target = defs
                    .get(name)
                    .cloned()
                    .ok_or_else(|| SchemaError::Shape(format!("missing definition {name}")))?;
                inline_refs(&mut target, defs, depth + 1)?;
                obj.remove("$ref");
                if let Value::Object(t) = target {
                    for (k, val) in t {
                        obj.entry(k).or_insert(val);
                    }
                }
            }
            for val in obj.values_mut() {
                inline_refs(val, defs, depth)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                inline_refs(item, defs, depth)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Drops what Draft 4 lacks or Kong should not act on: `format` values such as `uint64`
/// (ranges are stated with `minimum`), `default` (the filter applies its own defaults),
/// titles; `const` becomes a one-value `enum`.
pub(super) fn to_draft4(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            for key in ["format", "default", "title", "examples", "$schema"] {
                obj.remove(key);
            }
            if let Some(c) = obj.remove("const") {
                obj.insert("enum".into(), json!([c]));
            }
            for val in obj.values_mut() {
                to_draft4(val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_draft4),
        _ => {}
    }
}

const DRAFT4_KEYWORDS: &[&str] = &[
    "$schema",
    "id",
    "description",
    "type",
    "properties",
    "additionalProperties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "enum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// Refuses any keyword a Draft-4 validator would silently ignore.
pub(super) fn check_draft4(schema: &Value) -> Result<(), SchemaError> {
    let Some(obj) = schema.as_object() else {
        return Err(SchemaError::Shape("schema is not an object".into()));
    };
    for (key, val) in obj {
        if !DRAFT4_KEYWORDS.contains(&key.as_str()) {
            return Err(SchemaError::NotDraft4(key.clone()));
        }
        match key.as_str() {
            "properties" => {
                for sub in val.as_object().into_iter().flat_map(|m| m.values()) {
                    check_draft4(sub)?;
                }
            }
            "items" | "not" => check_draft4(val)?,
            "additionalProperties" if val.is_object() => check_draft4(val)?,
            "allOf" | "anyOf" | "oneOf" => {
                for sub in val.as_array().into_iter().flatten() {
                    check_draft4(sub)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
