//! Request bodies as every HTTP front end receives them: gzip decoding within a size limit.

use std::io::Read;

/// Why a gzip body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    /// The bytes are not gzip, or a member is damaged or cut short.
    #[error("the gzip body cannot be decompressed: {0}")]
    Corrupt(String),
    /// The body decompresses to more than the limit.
    #[error("the body decompresses to more than {limit} bytes; send smaller requests")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// Decompresses a gzip body of one or more members (as `cat a.gz b.gz` makes, and as some
/// clients send), whole: every member is decoded, never only the first. Fails on damage, and
/// as soon as the output would exceed `limit` bytes, so a small body that inflates enormously
/// costs at most `limit` bytes of memory.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    // A gzip member ends with its uncompressed size (modulo 2^32): room for that at once
    // rather than growing step by step. Only a hint, held to the limit and to what deflate
    // can expand the body to (at most 1032 times), so a lying trailer reserves no more.
    let hint = body
        .last_chunk::<4>()
        .map_or(0, |size| u32::from_le_bytes(*size) as usize);
    let room = hint.min(limit).min(body.len().saturating_mul(1032));
    let mut out = Vec::with_capacity(room.saturating_add(1));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| GzipError::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(GzipError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// A body, a limit, and the bytes or the error message expected.
    type Case<'a> = (&'a [u8], usize, Result<&'a [u8], &'a str>);

    #[test]
    fn every_member_is_decoded_and_limits_hold() {
        let mut two = gzip(b"cpu v=1 1\n");
        two.extend(gzip(b"cpu v=2 2\n"));
        let cut = gzip(b"cpu v=1 1\n")[..12].to_vec();
        let cases: [Case<'_>; 4] = [
            (&two, 100, Ok(b"cpu v=1 1\ncpu v=2 2\n")),
            (&two, 15, Err("more than 15 bytes")),
            (&cut, 100, Err("cannot be decompressed")),
            (b"not gzip", 100, Err("cannot be decompressed")),
        ];
        for (body, limit, want) in cases {
            match (gunzip(body, limit), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
                (got, want) => panic!("{got:?}, expected {want:?}"),
            }
        }
    }
}
