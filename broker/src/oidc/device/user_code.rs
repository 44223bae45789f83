//! User codes as Dex makes them: eight letters from an alphabet without vowels (no words, and
//! no 0/O or 1/I to confuse), shown as `XXXX-XXXX`. Read back forgivingly: any case, with or
//! without the dash or spaces.

use rand::Rng;

/// Dex's alphabet (20 consonants): 20^8 ≈ 2.6 × 10^10 codes, enough with attempts throttled
/// and codes living minutes.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const LEN: usize = 8;

/// A fresh code in display form (`BCDF-GHJK`).
pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    let letters: String = (0..LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}

/// The canonical form (eight letters, no dash) of what a user typed, or None when it cannot
/// be a code; what is stored (hashed) and looked up.
pub fn normalize(typed: &str) -> Option<String> {
    if typed.len() > 32 {
        return None;
    }
    let letters: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ok = letters.len() == LEN && letters.bytes().all(|b| ALPHABET.contains(&b));
    ok.then_some(letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_have_dex_shape_and_read_back() {
        for _ in 0..100 {
            let code = generate();
            assert_eq!(code.len(), 9);
            assert_eq!(&code[4..5], "-");
            assert_eq!(normalize(&code).unwrap(), code.replace('-', ""));
        }
        assert_ne!(generate(), generate());
    }

    #[test]
    fn typing_is_forgiven_but_other_letters_are_not() {
        assert_eq!(normalize("bcdf ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize(" BCDF-GHJK ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize("BCDF-GHJA"), None, "vowel");
        assert_eq!(normalize("BCDF-GHJ"), None, "short");
        assert_eq!(normalize("BCDF-GHJKL"), None, "long");
        assert_eq!(normalize("BCDF-GHJ\u{212A}"), None, "Kelvin sign is not K");
        assert_eq!(normalize(&"B".repeat(1000)), None);
    }
}
