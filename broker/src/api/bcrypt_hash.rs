//! A bcrypt hash given over the API is checked before it is stored, as Dex does: its format,
//! and a cost between bcrypt's default (10) and 16, so a stored hash can neither be trivially
//! cracked nor make every sign-in a denial-of-service lever.

use crate::config::decode_bcrypt_hash;

/// Dex's lower bound (Go's `bcrypt.DefaultCost`).
const MIN_API_COST: u32 = 10;

/// The hash as text, or why it is refused (the message never contains the hash).
pub fn checked_hash(bytes: &[u8]) -> Result<String, String> {
    if bytes.is_empty() {
        return Err("no password hash supplied".into());
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| "the hash is not a bcrypt hash".to_string())?;
    // Only the raw form ($2a$…): the config's base64 form is not what Dex's API takes.
    if !text.starts_with('$') {
        return Err("the hash is not a bcrypt hash ($2a$, $2b$ or $2y$)".into());
    }
    let hash = decode_bcrypt_hash(text).map_err(|e| format!("the hash {e}"))?;
    if hash.cost() < MIN_API_COST {
        return Err(format!(
            "bcrypt cost {} is below the minimum of {MIN_API_COST}",
            hash.cost()
        ));
    }
    Ok(hash.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_costs_10_to_16_only() {
        let ok = bcrypt::hash("pw", 10).unwrap();
        assert_eq!(checked_hash(ok.as_bytes()).unwrap(), ok);
        let cheap = bcrypt::hash("pw", 4).unwrap();
        assert!(checked_hash(cheap.as_bytes())
            .unwrap_err()
            .contains("below"));
        let costly = format!("$2b$17${}", "a".repeat(53));
        assert!(checked_hash(costly.as_bytes()).is_err());
    }

    #[test]
    fn refuses_non_hashes_without_echoing_them() {
        for bad in [&b"hunter2"[..], b"", b"$2a$10$short", &[0xff, 0xfe]] {
            let e = checked_hash(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
