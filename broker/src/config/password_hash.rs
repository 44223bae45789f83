//! bcrypt hashes as Dex accepts them: raw (`$2a$12$…`) or base64 of the raw form.

use base64::Engine;

use crate::secret::Secret;

/// Highest bcrypt cost accepted, as in Dex: higher costs make each login a denial-of-service lever.
const MAX_COST: u32 = 16;
const MIN_COST: u32 = 4;

/// A syntactically valid bcrypt hash and its cost.
#[derive(Debug, Clone)]
pub struct BcryptHash {
    hash: Secret,
    cost: u32,
}

impl BcryptHash {
    pub fn as_str(&self) -> &str {
        self.hash.expose()
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }
}

/// Accepts a raw bcrypt hash or base64 (standard alphabet) of one.
pub fn decode_bcrypt_hash(text: &str) -> Result<BcryptHash, String> {
    let text = text.trim();
    let raw = if text.starts_with('$') {
        text.to_string()
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                "is neither a bcrypt hash ($2a$…/$2b$…/$2y$…) nor base64 of one".to_string()
            })?;
        String::from_utf8(bytes)
            .map_err(|_| "base64 does not decode to a bcrypt hash".to_string())?
    };
    let cost = check_bcrypt_syntax(&raw)?;
    Ok(BcryptHash {
        hash: Secret::new(raw),
        cost,
    })
}

fn check_bcrypt_syntax(raw: &str) -> Result<u32, String> {
    const BAD: &str =
        "is not a bcrypt hash (expected $2a$, $2b$ or $2y$, a cost, and 53 characters)";
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| raw.strip_prefix(p))
        .ok_or_else(|| BAD.to_string())?;
    let (cost, body) = rest.split_once('$').ok_or_else(|| BAD.to_string())?;
    if cost.len() != 2 || body.len() != 53 {
        return Err(BAD.into());
    }
    let cost: u32 = cost.parse().map_err(|_| BAD.to_string())?;
    if !body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        return Err(BAD.into());
    }
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(format!(
            "bcrypt cost {cost} is outside {MIN_COST}..={MAX_COST}"
        ));
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_B64: &str =
        "JDJhJDEyJEwycXBiTjRjNThHTHd1YXo4Wnhoa2UvSzF1cHMvWnVyRnhvNU9iRnAxQWhILmllNGdUNXZD";

    #[test]
    fn decodes_base64_seed_hash() {
        let h = decode_bcrypt_hash(SEED_B64).unwrap();
        assert_eq!(h.cost(), 12);
        assert!(h.as_str().starts_with("$2a$12$"));
        assert!(bcrypt::verify("password", h.as_str()).unwrap());
    }

    #[test]
    fn accepts_raw_hash() {
        let raw = bcrypt::hash("pw", 4).unwrap();
        let h = decode_bcrypt_hash(&raw).unwrap();
        assert_eq!(h.cost(), 4);
        assert_eq!(h.as_str(), raw);
    }

    #[test]
    fn refuses_garbage_and_extreme_costs() {
        assert!(decode_bcrypt_hash("password").is_err());
        assert!(decode_bcrypt_hash("$2a$12$short").is_err());
        assert!(decode_bcrypt_hash("$1$abc$def").is_err());
        let too_costly = format!("$2b$20${}", "a".repeat(53));
        assert!(decode_bcrypt_hash(&too_costly)
            .unwrap_err()
            .contains("cost 20"));
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let h = decode_bcrypt_hash(SEED_B64).unwrap();
        assert!(!format!("{h:?}").contains("$2a$"));
    }
}
