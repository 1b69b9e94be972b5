//! Opaque, tamper-evident pagination cursors: a JSON position signed with the service
//! secret and bound to the query it pages, so a forged or foreign cursor is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Where the next page starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Position {
    /// A fingerprint of the query the cursor belongs to.
    pub q: String,
    /// An offset into the ordered results.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub o: Option<usize>,
    /// The sort key (distance, as its IEEE bits so it survives JSON exactly) and id of the
    /// last result shown.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub d: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub i: Option<i64>,
    /// The ids shown by the pages so far (`pack_ids`), for lists paged by offset.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub s: Option<String>,
}

impl Position {
    /// The position after `shown` results of a list paged by offset, `seen` the ids shown.
    pub fn after(fingerprint: String, shown: usize, seen: &[i64]) -> Position {
        Position { q: fingerprint, o: Some(shown), d: None, i: None, s: Some(pack_ids(seen)) }
    }

    /// The ids shown so far (sorted), when the cursor carries them and they are well formed.
    pub fn seen(&self) -> Option<Vec<i64>> {
        self.s.as_deref().map_or(Some(Vec::new()), unpack_ids)
    }
}

/// Positive ids as a compact string: sorted, then the gaps between them as LEB128
/// varints, base64. A thousand ids of a million take about 2.5 KB.
pub fn pack_ids(ids: &[i64]) -> String {
    let mut sorted: Vec<u64> = ids.iter().filter(|i| **i > 0).map(|i| *i as u64).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut bytes = Vec::with_capacity(sorted.len() * 2);
    let mut prev = 0u64;
    for id in sorted {
        let mut gap = id - prev;
        prev = id;
        loop {
            let low = (gap & 0x7f) as u8;
            gap >>= 7;
            if gap == 0 {
                bytes.push(low);
                break;
            }
            bytes.push(low | 0x80);
        }
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The ids of `pack_ids`, sorted; `None` when the text is not such a list.
pub fn unpack_ids(packed: &str) -> Option<Vec<i64>> {
    let bytes = URL_SAFE_NO_PAD.decode(packed).ok()?;
    let mut ids = Vec::new();
    let (mut prev, mut gap, mut shift) = (0u64, 0u64, 0u32);
    for b in bytes {
        if shift > 56 {
            return None;
        }
        gap |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            if gap == 0 {
                return None;
            }
            prev = prev.checked_add(gap).filter(|p| *p <= i64::MAX as u64)?;
            ids.push(prev as i64);
            (gap, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    (shift == 0).then_some(ids)
}

fn mac(secret: &str, data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(b"cursor:");
    m.update(data);
    m.finalize().into_bytes()[..16].to_vec()
}

pub fn encode(secret: &str, pos: &Position) -> String {
    let body = serde_json::to_vec(pos).unwrap_or_default();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(mac(secret, &body)))
}

/// The position of a cursor, if it is genuine and belongs to the query `fingerprint`.
pub fn decode(secret: &str, cursor: &str, fingerprint: &str) -> Option<Position> {
    let (body, sig) = cursor.split_once('.')?;
    let body = URL_SAFE_NO_PAD.decode(body).ok()?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(b"cursor:");
    m.update(&body);
    m.verify_truncated_left(&sig).ok()?;
    if sig.len() != 16 {
        return None;
    }
    let pos: Position = serde_json::from_slice(&body).ok()?;
    (pos.q == fingerprint).then_some(pos)
}

/// A stable fingerprint of the parameters that define a result list (all but the cursor).
pub fn fingerprint(params: &[(String, String)]) -> String {
    use std::hash::{Hash, Hasher};
    let mut p: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "cursor").collect();
    p.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.hash(&mut h);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_only_for_its_query() {
        let pos = Position::after("abc".into(), 20, &[3, 1]);
        let c = encode("secret-0123456789", &pos);
        assert_eq!(decode("secret-0123456789", &c, "abc"), Some(pos));
        assert_eq!(decode("secret-0123456789", &c, "other"), None);
        assert_eq!(decode("another-secret-000", &c, "abc"), None);
        let mut forged = c.clone();
        forged.replace_range(0..1, if c.starts_with('a') { "b" } else { "a" });
        assert_eq!(decode("secret-0123456789", &forged, "abc"), None);
        assert_eq!(decode("secret-0123456789", "garbage", "abc"), None);
    }

    #[test]
    fn packed_ids_come_back_sorted_and_whole() {
        let ids = vec![1_000_000_007, 5, 1, 130, 129, 16_384, i64::MAX];
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(unpack_ids(&pack_ids(&ids)), Some(sorted));
        assert_eq!(unpack_ids(&pack_ids(&[])), Some(vec![]));
        // A truncated varint or a zero gap is not a list.
        assert_eq!(unpack_ids(&URL_SAFE_NO_PAD.encode([0x81u8])), None);
        assert_eq!(unpack_ids(&URL_SAFE_NO_PAD.encode([1u8, 0])), None);
        assert_eq!(unpack_ids("not base64!"), None);
    }
}
