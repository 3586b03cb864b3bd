//! A request's headers, kept for a replay in one flat buffer.
//!
//! Every retryable request keeps a copy of its head, and almost none is ever replayed. A
//! `HeaderMap` clone costs two allocations plus, for each value built from owned bytes, one
//! more on its first clone (`Bytes` turns shared); dropping it undoes all that. Copying the
//! names and values into one byte buffer costs one allocation and a few `memcpy`s, and the
//! map is rebuilt only for a replay.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Per header: name length (u16), value length (u32), sensitive flag (u8), then the name
/// and value bytes.
pub(crate) struct FlatHeaders {
    bytes: Vec<u8>,
    count: usize,
}

const ENTRY_HEAD: usize = 2 + 4 + 1;
/// An entry's head, a name and a value of a usual request (`x-forwarded-for: 10.1.2.3`).
const TYPICAL_ENTRY: usize = 64;

impl FlatHeaders {
    pub(crate) fn new(headers: &HeaderMap) -> Self {
        // Room for a usual head at once, rather than a first pass over the map to size it
        // exactly: a head with long values (cookies) grows the buffer once or twice.
        let mut bytes = Vec::with_capacity(headers.len() * TYPICAL_ENTRY);
        for (name, value) in headers {
            let name = name.as_str().as_bytes();
            // hyper refuses heads far smaller than these limits.
            let name_len = u16::try_from(name.len()).expect("a header name under 64 KiB");
            let value_len = u32::try_from(value.len()).expect("a header value under 4 GiB");
            let [n0, n1] = name_len.to_le_bytes();
            let [v0, v1, v2, v3] = value_len.to_le_bytes();
            let entry_head: [u8; ENTRY_HEAD] = [n0, n1, v0, v1, v2, v3, value.is_sensitive() as u8];
            bytes.extend_from_slice(&entry_head);
            bytes.extend_from_slice(name);
            bytes.extend_from_slice(value.as_bytes());
        }
        FlatHeaders {
            bytes,
            count: headers.len(),
        }
    }

    /// The headers again, in the same order.
    pub(crate) fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.count);
        let mut rest = &self.bytes[..];
        while rest.len() >= ENTRY_HEAD {
            let name_len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
            let value_len = u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize;
            let sensitive = rest[6] != 0;
            let (name, after) = rest[ENTRY_HEAD..].split_at(name_len);
            let (value, after) = after.split_at(value_len);
            rest = after;
            // Both were valid when copied, so they parse back.
            let (Ok(name), Ok(mut value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            else {
                continue;
            };
            value.set_sensitive(sensitive);
            map.append(name, value);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_come_back_as_they_were() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        let mut secret = HeaderValue::from_static("Basic YTpi");
        secret.set_sensitive(true);
        headers.insert("authorization", secret);
        headers.insert("x-empty", HeaderValue::from_static(""));
        headers.insert("x-bytes", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());

        let copy = FlatHeaders::new(&headers).to_map();
        assert_eq!(copy, headers);
        assert!(copy["authorization"].is_sensitive());
        assert!(!copy["host"].is_sensitive());
        let order: Vec<_> = copy.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        let original: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        assert_eq!(order, original);
        assert!(FlatHeaders::new(&HeaderMap::new()).to_map().is_empty());
    }
}
