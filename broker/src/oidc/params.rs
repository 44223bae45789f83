//! OAuth parameters from a query string or form body. RFC 6749 §3.1: a parameter sent twice is
//! refused, and one sent without a value counts as absent.

use std::collections::HashMap;

pub struct Params(HashMap<String, String>);

impl Params {
    /// Err names the repeated parameter.
    pub fn parse(input: &[u8]) -> Result<Params, String> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(input) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(k.to_string());
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_and_empty_is_absent() {
        assert_eq!(Params::parse(b"a=1&a=2").err().as_deref(), Some("a"));
        let p = Params::parse(b"a=&b=x%20y").unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("x y"));
    }
}
