//! Dex's `sub`: base64url (no padding) of the protobuf message
//! `{ 1: user_id (string), 2: connector_id (string) }`, so users moving from Dex keep their subjects.
//! As proto3 does, an empty field is left out (client_credentials' empty connector id).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub fn encode_subject(user_id: &str, connector_id: &str) -> String {
    let mut bytes = Vec::with_capacity(user_id.len() + connector_id.len() + 6);
    put_string_field(&mut bytes, 1, user_id);
    put_string_field(&mut bytes, 2, connector_id);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn put_string_field(out: &mut Vec<u8>, field: u8, value: &str) {
    if value.is_empty() {
        return;
    }
    out.push((field << 3) | 2); // wire type 2: length-delimited
    let mut len = value.len();
    // Protobuf varint: equals a single length byte below 128, as in the short ids Dex users have.
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(value.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_dex_encoding() {
        // Dex's example user: userID 08a8684b-db88-4b73-90a9-3cd1661f5466, connector "local".
        assert_eq!(
            encode_subject("08a8684b-db88-4b73-90a9-3cd1661f5466", "local"),
            "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs"
        );
    }

    #[test]
    fn an_empty_connector_id_is_left_out_as_proto3_does() {
        // Dex's client_credentials subject for client "gatehouse": field 1 only.
        let raw = URL_SAFE_NO_PAD
            .decode(encode_subject("gatehouse", ""))
            .unwrap();
        assert_eq!(raw, b"\x0a\x09gatehouse");
        assert_eq!(encode_subject("gatehouse", ""), "CglnYXRlaG91c2U");
    }

    #[test]
    fn long_ids_use_varint_lengths() {
        let long = "x".repeat(200);
        let raw = URL_SAFE_NO_PAD.decode(encode_subject(&long, "c")).unwrap();
        assert_eq!(&raw[..3], &[0x0a, 0xc8, 0x01]);
        assert_eq!(&raw[203..], &[0x12, 1, b'c']);
    }
}
