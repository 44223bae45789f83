//! A header map as the proxy-wasm host hands it (`proxy_get_header_map_pairs`), read in place:
//! `count: u32`, then `count` pairs of lengths (`name: u32`, `value: u32`), then each name and
//! value followed by a NUL, all little-endian. Read as borrowed byte slices of the one buffer
//! the host wrote: no allocation per header (the SDK's reader makes two `String`s per header),
//! and a value that is not UTF-8 is data here, not a panic (the SDK's reader unwraps
//! `String::from_utf8`, which would trap the VM on a client's Latin-1 byte).

/// The buffer does not follow the format (lengths past its end, a missing NUL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the host's header map is malformed")]
pub struct Malformed;

fn u32_at(buf: &[u8], at: usize) -> Result<usize, Malformed> {
    let b = buf
        .get(at..at.checked_add(4).ok_or(Malformed)?)
        .ok_or(Malformed)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// One header as the host wrote it: name and value, borrowed from the buffer.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Every `(name, value)` of the map, in the host's order; an empty buffer is an empty map.
pub fn parse(buf: &[u8]) -> Result<Vec<Pair<'_>>, Malformed> {
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    let count = u32_at(buf, 0)?;
    let mut data = count
        .checked_mul(8)
        .and_then(|n| n.checked_add(4))
        .filter(|&n| n <= buf.len())
        .ok_or(Malformed)?;
    let mut out = Vec::with_capacity(count);
    let mut take = |len: usize| -> Result<&[u8], Malformed> {
        let end = data.checked_add(len).ok_or(Malformed)?;
        if buf.get(end) != Some(&0) {
            return Err(Malformed);
        }
        let s = &buf[data..end];
        data = end + 1;
        Ok(s)
    };
    for i in 0..count {
        let name_len = u32_at(buf, 4 + i * 8)?;
        let value_len = u32_at(buf, 8 + i * 8)?;
        let name = take(name_len)?;
        let value = take(value_len)?;
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's encoding of `pairs`.
    fn encode(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend((k.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend(*k);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn reads_what_the_host_writes() {
        let pairs: [(&[u8], &[u8]); 4] = [
            (b":path", b"/x"),
            (b"cookie", b"a=1"),
            (b"x-latin1", b"caf\xe9"),
            (b"empty", b""),
        ];
        assert_eq!(parse(&encode(&pairs)).unwrap(), pairs);
        assert_eq!(parse(&[]).unwrap(), Vec::<(&[u8], &[u8])>::new());
        assert_eq!(parse(&encode(&[])).unwrap(), Vec::<(&[u8], &[u8])>::new());
    }

    #[test]
    fn refuses_malformed_buffers() {
        let good = encode(&[(b"a", b"bc"), (b"d", b"e")]);
        // Every truncation, and a count that claims more pairs than the buffer holds.
        for n in 1..good.len() {
            assert_eq!(parse(&good[..n]), Err(Malformed), "cut at {n}");
        }
        let mut more = good.clone();
        more[0] = 3;
        assert_eq!(parse(&more), Err(Malformed));
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&huge), Err(Malformed));
        // A length running past the end, and a missing NUL terminator.
        let mut long = good.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&long), Err(Malformed));
        let mut no_nul = good.clone();
        let at = 4 + 16 + 1;
        no_nul[at] = b'x';
        assert_eq!(parse(&no_nul), Err(Malformed));
    }
}
