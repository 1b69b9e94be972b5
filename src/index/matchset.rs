//! Match sets of one segment as bitsets: a word's set is the union of its clauses' posting
//! lists, and a search walks the union (what it counts) or the intersection (the groups
//! holding every word) of its words' sets. Walking a bitset of a million documents costs
//! a few microseconds; merging posting lists through scorers costs far more per document.

use tantivy::query::Weight;
use tantivy::{DocId, DocSet, SegmentReader, COLLECT_BLOCK_BUFFER_LEN};

use super::segments::SegmentData;
use crate::geo::AreaPrefix;

/// A set of documents of one segment.
pub struct Bits {
    words: Vec<u64>,
}

impl Bits {
    /// The documents matching any of `weights` (scoring disabled), deleted ones included.
    pub fn of(weights: &[Box<dyn Weight>], reader: &SegmentReader) -> tantivy::Result<Bits> {
        let mut words = vec![0u64; (reader.max_doc() as usize).div_ceil(64)];
        let mut buffer = [0 as DocId; COLLECT_BLOCK_BUFFER_LEN];
        for weight in weights {
            let mut scorer = weight.scorer(reader, 1.0)?;
            loop {
                let n = scorer.fill_buffer(&mut buffer);
                for &doc in &buffer[..n] {
                    words[doc as usize >> 6] |= 1 << (doc & 63);
                }
                if n == 0 {
                    break;
                }
            }
        }
        Ok(Bits { words })
    }

    #[inline]
    pub fn contains(&self, doc: DocId) -> bool {
        self.words.get(doc as usize >> 6).is_some_and(|w| w & (1 << (doc & 63)) != 0)
    }
}

fn for_each_bit(mut word: u64, base: usize, f: &mut impl FnMut(DocId)) {
    while word != 0 {
        f((base + word.trailing_zeros() as usize) as DocId);
        word &= word - 1;
    }
}

/// Calls `f` with every document in any of `sets`, in doc order.
pub fn for_each_in_union(sets: &[Bits], mut f: impl FnMut(DocId)) {
    let Some(first) = sets.first() else { return };
    for i in 0..first.words.len() {
        let word = sets.iter().fold(0, |acc, s| acc | s.words[i]);
        for_each_bit(word, i * 64, &mut f);
    }
}

/// Calls `f` with every document in all of `sets`, in doc order.
pub fn for_each_in_intersection(sets: &[Bits], mut f: impl FnMut(DocId)) {
    let Some(first) = sets.first() else { return };
    for i in 0..first.words.len() {
        let word = sets.iter().fold(u64::MAX, |acc, s| acc & s.words[i]);
        for_each_bit(word, i * 64, &mut f);
    }
}

/// The filters a search checks per document from the segment's columns: area, room,
/// open join and (when given) category.
pub struct DocFilter<'a> {
    pub areas: &'a [AreaPrefix],
    pub flags: u8,
    pub category: Option<u8>,
}

impl DocFilter<'_> {
    #[inline]
    pub fn passes(&self, data: &SegmentData, doc: DocId) -> bool {
        let d = doc as usize;
        self.category.is_none_or(|c| data.category[d] == c)
            && data.flags[d] & self.flags == self.flags
            && (self.areas.is_empty() || self.areas.iter().any(|p| p.contains(data.adcode[d])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(docs: &[DocId], max: usize) -> Bits {
        let mut words = vec![0u64; max.div_ceil(64)];
        for &d in docs {
            words[d as usize >> 6] |= 1 << (d & 63);
        }
        Bits { words }
    }

    #[test]
    fn union_and_intersection_walk_in_doc_order() {
        let a = bits(&[0, 5, 63, 64, 130], 200);
        let b = bits(&[5, 64, 199], 200);
        let mut union = Vec::new();
        for_each_in_union(&[bits(&[0, 5, 63, 64, 130], 200), bits(&[5, 64, 199], 200)], |d| union.push(d));
        assert_eq!(union, vec![0, 5, 63, 64, 130, 199]);
        let mut both = Vec::new();
        for_each_in_intersection(&[a, b], |d| both.push(d));
        assert_eq!(both, vec![5, 64]);
        assert!(bits(&[199], 200).contains(199) && !bits(&[199], 200).contains(198));
        assert!(!bits(&[1], 64).contains(1000));
    }
}
