//! The proxy-wasm header-map wire format: a count, `(key_len, value_len)` pairs, then each key
//! and value followed by a NUL byte (all little-endian u32).

use thiserror::Error;

#[derive(Debug, Error)]
#[error("malformed header map from the filter: {0}")]
pub struct PairsError(&'static str);

pub fn serialize<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Vec<u8> {
    let list: Vec<(&str, &str)> = pairs.into_iter().collect();
    let mut out = Vec::new();
    out.extend_from_slice(&(list.len() as u32).to_le_bytes());
    for (k, v) in &list {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in &list {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

pub fn deserialize(bytes: &[u8]) -> Result<Vec<(String, String)>, PairsError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let word = |at: usize| -> Result<usize, PairsError> {
        let b = bytes.get(at..at + 4).ok_or(PairsError("truncated sizes"))?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = word(0)?;
    if count > bytes.len() / 8 {
        return Err(PairsError("count larger than the map"));
    }
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        sizes.push((word(4 + i * 8)?, word(8 + i * 8)?));
    }
    let mut at = 4 + count * 8;
    let mut take = |len: usize| -> Result<String, PairsError> {
        let s = bytes
            .get(at..at + len)
            .ok_or(PairsError("truncated data"))?;
        at += len + 1;
        Ok(String::from_utf8_lossy(s).into_owned())
    };
    let mut out = Vec::with_capacity(count);
    for (k, v) in sizes {
        let key = take(k)?;
        let value = take(v)?;
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = serialize([(":path", "/a"), ("Cookie", "")]);
        assert_eq!(
            deserialize(&bytes).unwrap(),
            [
                (":path".into(), "/a".into()),
                ("Cookie".into(), String::new())
            ]
        );
        assert!(deserialize(&bytes[..bytes.len() - 3]).is_err());
        assert!(deserialize(&[255, 255, 255, 255]).is_err());
    }
}
