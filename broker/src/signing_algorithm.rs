//! Which JWS algorithm the broker signs with: Dex's `signer.config.algorithm` (a leaf: the config
//! names it, the keys use it).

use jsonwebtoken::Algorithm;

/// A signing algorithm of ours. RS256 is the default (and OIDC's mandatory one); ES256 and
/// EdDSA (Ed25519) sign two orders of magnitude faster with much shorter tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlgorithm {
    #[default]
    Rs256,
    Es256,
    EdDsa,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 3] = [
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Es256,
        SigningAlgorithm::EdDsa,
    ];

    /// The JOSE name, as in `alg` headers, JWKS and the config (`RS256`, `ES256`, `EdDSA`).
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }

    /// Exact JOSE names only: Dex compares them case-sensitively too.
    pub fn from_name(name: &str) -> Option<SigningAlgorithm> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The same algorithm as jsonwebtoken names it (for verification).
    pub fn jwt(self) -> Algorithm {
        match self {
            SigningAlgorithm::Rs256 => Algorithm::RS256,
            SigningAlgorithm::Es256 => Algorithm::ES256,
            SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for a in SigningAlgorithm::ALL {
            assert_eq!(SigningAlgorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(SigningAlgorithm::from_name("es256"), None);
        assert_eq!(SigningAlgorithm::from_name("HS256"), None);
        assert_eq!(SigningAlgorithm::from_name("none"), None);
        assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::Rs256);
    }
}
