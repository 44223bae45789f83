//! What reaches the XML parser: bounded in size, UTF-8, and free of DTDs (so no entity
//! expansion or external entities, whatever the parser would do with them).

/// Largest decoded SAMLResponse accepted. Real responses are a few KiB; 256 KiB leaves room
/// for many groups while bounding parse and canonicalisation work.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("document is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("document is not UTF-8")]
    NotUtf8,
    #[error("document contains a DTD or entity declaration (<!DOCTYPE/<!ENTITY), refused")]
    Dtd,
}

/// Checks `bytes` and returns them as text.
pub fn guard(bytes: &[u8]) -> Result<&str, GuardError> {
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(GuardError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| GuardError::NotUtf8)?;
    // Markup declarations start with "<!"; the only ones allowed are comments and CDATA.
    let mut rest = text;
    while let Some(i) = rest.find("<!") {
        let after = &rest[i + 2..];
        if !(after.starts_with("--") || after.starts_with("[CDATA[")) {
            return Err(GuardError::Dtd);
        }
        rest = after;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dtds_and_oversize() {
        assert_eq!(guard(b"<a/>"), Ok("<a/>"));
        assert_eq!(
            guard(b"<a><!-- c --><![CDATA[x]]></a>"),
            Ok("<a><!-- c --><![CDATA[x]]></a>")
        );
        assert_eq!(
            guard(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
            Err(GuardError::Dtd)
        );
        assert_eq!(guard(b"<a><!ENTITY x \"y\"></a>"), Err(GuardError::Dtd));
        assert_eq!(guard(&[0xff, 0xfe]), Err(GuardError::NotUtf8));
        assert_eq!(
            guard(&vec![b' '; MAX_RESPONSE_BYTES + 1]),
            Err(GuardError::TooLarge)
        );
    }
}
