//! PEM blocks and the SP's RSA key.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;

/// Every `-----BEGIN {label}-----` … `-----END {label}-----` block in `text`, in order.
pub fn pem_blocks(text: &str, label: &str) -> Vec<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start..];
        let Some(stop) = after.find(&end) else { break };
        out.push(format!("{}\n", &after[..stop + end.len()]));
        rest = &after[stop + end.len()..];
    }
    out
}

/// An RSA private key from PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM.
pub fn load_rsa_private_key(pem: &str) -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::from_pkcs8_pem(pem.trim())
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem.trim()))
        .map_err(|_| "is not an unencrypted RSA private key in PEM (PKCS#8 or PKCS#1)".to_string())
}

/// The base64 body of a PEM block, on one line (for `<ds:X509Certificate>`).
pub fn pem_body(block: &str) -> String {
    block
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.split_whitespace())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_block() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n\
                    -----BEGIN CERTIFICATE-----\nREVG\nR0g=\n-----END CERTIFICATE-----\n";
        let blocks = pem_blocks(text, "CERTIFICATE");
        assert_eq!(blocks.len(), 2);
        assert_eq!(pem_body(&blocks[1]), "REVGR0g=");
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----\nQUJD", "CERTIFICATE").is_empty());
    }
}
