//! Lists in the configuration. Kong re-encodes a filter's configuration with Lua's cjson,
//! which writes an empty list as `{}`; such an empty object is read as an empty list so a
//! config that Kong validated is not refused by the filter afterwards.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
        match map.next_key::<String>()? {
            None => Ok(Vec::new()),
            Some(_) => Err(serde::de::Error::custom("expected a list, found an object")),
        }
    }
}

pub fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    d.deserialize_any(ListVisitor(PhantomData))
}

struct OptListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OptListVisitor<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        vec(d).map(Some)
    }
}

/// Like [`vec`] for optional keys, where `null` means absent.
pub fn opt_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_option(OptListVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::vec")]
        a: Vec<String>,
        #[serde(default, deserialize_with = "super::opt_vec")]
        b: Option<Vec<String>>,
    }

    #[test]
    fn empty_object_is_an_empty_list() {
        let t: T = serde_json::from_str(r#"{"a":{},"b":{}}"#).unwrap();
        assert!(t.a.is_empty());
        assert_eq!(t.b, Some(vec![]));
        let t: T = serde_json::from_str(r#"{"a":["x"]}"#).unwrap();
        assert_eq!(t.a, ["x"]);
        assert_eq!(t.b, None);
        assert!(serde_json::from_str::<T>(r#"{"a":{"k":1}}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":"x"}"#).is_err());
        assert_eq!(serde_json::from_str::<T>(r#"{"b":null}"#).unwrap().b, None);
        assert!(serde_json::from_str::<T>(r#"{"a":null}"#).is_err());
    }
}
