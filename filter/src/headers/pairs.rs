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

#[inline(always)]
fn u32_at(buf: &[u8], at: usize) -> Result<usize, Malformed> {
    let b = buf
        .get(at..at.checked_add(4).ok_or(Malformed)?)
        .ok_or(Malformed)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// One header as the host wrote it: name and value, borrowed from the buffer.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// The pairs of a map, read in the host's order as they are asked for (see [`parse`]).
#[derive(Debug)]
pub struct Pairs<'a> {
    buf: &'a [u8],
    /// Entries not read yet, where the next one's lengths are, where its bytes start.
    left: usize,
    lengths: usize,
    data: usize,
    malformed: bool,
}

impl<'a> Pairs<'a> {
    #[inline(always)]
    fn read(&mut self) -> Result<Pair<'a>, Malformed> {
        let name_len = u32_at(self.buf, self.lengths)?;
        let value_len = u32_at(self.buf, self.lengths + 4)?;
        let name = self.take(name_len)?;
        let value = self.take(value_len)?;
        self.lengths += 8;
        Ok((name, value))
    }

    #[inline(always)]
    fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        let end = self.data.checked_add(len).ok_or(Malformed)?;
        if self.buf.get(end).copied() != Some(0) {
            return Err(Malformed);
        }
        let s = &self.buf[self.data..end];
        self.data = end + 1;
        Ok(s)
    }

    /// Whether the whole map followed the format; reads what was not asked for yet. What the
    /// pairs told is only to be used when this holds.
    pub fn finish(mut self) -> Result<(), Malformed> {
        while self.next().is_some() {}
        if self.malformed {
            Err(Malformed)
        } else {
            Ok(())
        }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Pair<'a>;

    /// The next pair; none once the buffer stops following the format (then
    /// [`Pairs::finish`] says so).
    #[inline(always)]
    fn next(&mut self) -> Option<Pair<'a>> {
        if self.left == 0 || self.malformed {
            return None;
        }
        match self.read() {
            Ok(pair) => {
                self.left -= 1;
                Some(pair)
            }
            Err(Malformed) => {
                self.malformed = true;
                None
            }
        }
    }
}

/// The `(name, value)` pairs of the map, in the host's order; an empty buffer is an empty
/// map. Read in place as they are asked for, in the one pass the caller makes: no list is
/// built per request. The count is checked here, each pair when it is read, and
/// [`Pairs::finish`] tells whether the whole map followed the format.
pub fn parse(buf: &[u8]) -> Result<Pairs<'_>, Malformed> {
    let mut pairs = Pairs {
        buf,
        left: 0,
        lengths: 4,
        data: 0,
        malformed: false,
    };
    if buf.is_empty() {
        return Ok(pairs);
    }
    pairs.left = u32_at(buf, 0)?;
    pairs.data = pairs
        .left
        .checked_mul(8)
        .and_then(|n| n.checked_add(4))
        .filter(|&n| n <= buf.len())
        .ok_or(Malformed)?;
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of `buf`, or why it does not follow the format.
    fn read_all(buf: &[u8]) -> Result<Vec<Pair<'_>>, Malformed> {
        let mut pairs = parse(buf)?;
        let all = pairs.by_ref().collect();
        pairs.finish().map(|()| all)
    }

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
        assert_eq!(read_all(&encode(&pairs)).unwrap(), pairs);
        assert_eq!(read_all(&[]).unwrap(), []);
        assert_eq!(read_all(&encode(&[])).unwrap(), []);
    }

    #[test]
    fn refuses_malformed_buffers() {
        let good = encode(&[(b"a", b"bc"), (b"d", b"e")]);
        // Every truncation, and a count that claims more pairs than the buffer holds.
        for n in 1..good.len() {
            assert_eq!(read_all(&good[..n]), Err(Malformed), "cut at {n}");
        }
        let mut more = good.clone();
        more[0] = 3;
        assert_eq!(read_all(&more), Err(Malformed));
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_all(&huge), Err(Malformed));
        // A length running past the end, and a missing NUL terminator.
        let mut long = good.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_all(&long), Err(Malformed));
        let mut no_nul = good.clone();
        let at = 4 + 16 + 1;
        no_nul[at] = b'x';
        assert_eq!(read_all(&no_nul), Err(Malformed));
    }
}
