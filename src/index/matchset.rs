//! Match sets of one segment as bitsets: a word's set is the union of its clauses' posting
//! lists, and a search walks the union of its words' sets (counting what passes its
//! filters) or their intersection (the groups holding every word). Walking a bitset of a
//! million documents costs microseconds; merging posting lists through scorers costs far
//! more per document. Also the per-document filters, checked from a segment's columns.

use tantivy::query::{EnableScoring, Query};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Searcher, SegmentReader, Term, COLLECT_BLOCK_BUFFER_LEN};

use super::segments::{Near, SegmentData};
#[cfg(test)]
use super::segments::{FLAG_OPEN, FLAG_ROOM};
use crate::geo::AreaPrefix;

/// A set of documents of one segment.
pub struct Bits {
    words: Vec<u64>,
}

/// Where part of a word's match set is read from.
pub enum Source {
    /// A term's posting list, decoded block by block (most of a word's parts).
    Postings(Term),
    /// Any other query (a bigram phrase, a boosted clause), through its scorer.
    Query(Box<dyn Query>),
}

impl Bits {
    /// The documents matching any of `sources`, deleted ones included. An empty set holds
    /// no words at all (a word nothing matches costs no allocation); any other holds one
    /// bit for every document of the segment.
    pub fn of(sources: &[Source], searcher: &Searcher, reader: &SegmentReader) -> tantivy::Result<Bits> {
        let mut words = Vec::new();
        let mut add = |docs: &[DocId]| {
            if words.is_empty() && !docs.is_empty() {
                words = vec![0u64; (reader.max_doc() as usize).div_ceil(64)];
            }
            for &doc in docs {
                words[doc as usize >> 6] |= 1 << (doc & 63);
            }
        };
        for source in sources {
            match source {
                Source::Postings(term) => {
                    let inverted = reader.inverted_index(term.field())?;
                    if let Some(mut block) = inverted.read_block_postings(term, IndexRecordOption::Basic)? {
                        while !block.docs().is_empty() {
                            add(block.docs());
                            block.advance();
                        }
                    }
                }
                Source::Query(query) => {
                    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
                    let mut scorer = weight.scorer(reader, 1.0)?;
                    let mut buffer = [0 as DocId; COLLECT_BLOCK_BUFFER_LEN];
                    loop {
                        let n = scorer.fill_buffer(&mut buffer);
                        if n == 0 {
                            break;
                        }
                        add(&buffer[..n]);
                    }
                }
            }
        }
        Ok(Bits { words })
    }

    /// The set of the given 64-document words (all of the segment's, or none).
    pub fn from_words(words: Vec<u64>) -> Bits {
        if words.iter().all(|w| *w == 0) {
            return Bits { words: Vec::new() };
        }
        Bits { words }
    }

    /// The documents of any of `sets`.
    pub fn union(sets: &[&Bits]) -> Bits {
        let len = sets.iter().map(|s| s.words.len()).max().unwrap_or(0);
        let mut words = vec![0u64; len];
        for set in sets {
            for (w, x) in words.iter_mut().zip(&set.words) {
                *w |= x;
            }
        }
        Bits::from_words(words)
    }

    /// The set as 64-document words.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// How many documents the set holds.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Calls `f` with every document of the set, in doc order.
    pub fn for_each(&self, mut f: impl FnMut(DocId)) {
        for (i, word) in self.words.iter().enumerate() {
            for_each_bit(*word, i * 64, &mut f);
        }
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
pub fn for_each_in_union(sets: &[&Bits], mut f: impl FnMut(DocId)) {
    let sets: Vec<&Bits> = sets.iter().copied().filter(|s| !s.words.is_empty()).collect();
    let Some(first) = sets.first() else { return };
    for i in 0..first.words.len() {
        let word = sets.iter().fold(0, |acc, s| acc | s.words[i]);
        for_each_bit(word, i * 64, &mut f);
    }
}

/// Calls `f` with every document in all of `sets`, in doc order.
pub fn for_each_in_intersection(sets: &[&Bits], mut f: impl FnMut(DocId)) {
    if sets.iter().any(|s| s.words.is_empty()) {
        return;
    }
    let Some(first) = sets.first() else { return };
    for i in 0..first.words.len() {
        let word = sets.iter().fold(u64::MAX, |acc, s| acc & s.words[i]);
        for_each_bit(word, i * 64, &mut f);
    }
}

/// The filters a search checks per document from the segment's columns: area, room,
/// open join and (when given) category.
#[derive(Clone)]
pub struct DocFilter {
    /// Area codes as half-open ranges (a prefix of a code is a range of codes).
    areas: Vec<(u64, u64)>,
    flags: u8,
    category: Option<u8>,
    near: Option<Near>,
}

impl DocFilter {
    pub fn new(areas: &[AreaPrefix], flags: u8, category: Option<u8>) -> DocFilter {
        let areas = areas.iter().map(|a| (a.prefix * a.div, (a.prefix + 1) * a.div)).collect();
        DocFilter { areas, flags, category, near: None }
    }

    /// The same filter, also keeping to a circle.
    pub fn within(self, near: Option<Near>) -> DocFilter {
        DocFilter { near, ..self }
    }

    /// The same filter with the category check too.
    pub fn with_category(&self, category: Option<u8>) -> DocFilter {
        DocFilter { category, ..self.clone() }
    }

    /// The circle, if the filter keeps to one.
    pub fn near(&self) -> Option<&Near> {
        self.near.as_ref()
    }

    /// Whether nothing but (perhaps) the category is filtered.
    pub fn without_category_admits_all(&self) -> bool {
        self.areas.is_empty() && self.flags == 0 && self.near.is_none()
    }

    /// The filter in terms of one segment's columns.
    pub fn for_segment<'a>(&self, data: &'a SegmentData) -> SegmentFilter<'a> {
        SegmentFilter {
            data,
            areas: self.areas.iter().map(|(lo, hi)| data.area_ordinals(*lo, *hi)).collect(),
            packed: !self.areas.is_empty() || self.flags != 0,
            flags: self.flags,
            category: self.category,
            near: self.near.clone(),
        }
    }
}

/// A `DocFilter` bound to one segment: area ranges as ranges of the segment's ordinals.
pub struct SegmentFilter<'a> {
    data: &'a SegmentData,
    areas: Vec<(u32, u32)>,
    /// Whether the flags or the area need checking at all.
    packed: bool,
    flags: u8,
    category: Option<u8>,
    near: Option<Near>,
}

impl SegmentFilter<'_> {
    /// The documents within the filter's circle that `wanted` accepts, in doc order, when
    /// there is a circle and it holds at most about `most` of the segment's documents (see
    /// `SegmentData::within_docs`).
    pub fn near_docs(&self, most: usize, wanted: impl Fn(DocId) -> bool) -> Option<Vec<DocId>> {
        self.near.as_ref().and_then(|n| self.data.within_docs(n, most, wanted))
    }

    /// The same filter without its circle (for documents known to be within it).
    pub fn without_circle(&self) -> SegmentFilter<'_> {
        SegmentFilter { areas: self.areas.clone(), near: None, ..*self }
    }

    /// Whether every document passes (no filter at all).
    pub fn admits_all(&self) -> bool {
        self.category.is_none() && !self.packed && self.near.is_none()
    }

    #[inline]
    pub fn passes(&self, doc: DocId) -> bool {
        let d = self.data;
        self.category.is_none_or(|c| d.category(doc) == c)
            && (!self.packed
                || (d.flags(doc) & self.flags == self.flags
                    && (self.areas.is_empty() || {
                        let ordinal = d.area_ordinal(doc);
                        self.areas.iter().any(|(lo, hi)| (*lo..*hi).contains(&ordinal))
                    })))
            && self.near.as_ref().is_none_or(|n| d.within(doc, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::segments::Degrees;

    fn bits(docs: &[DocId], max: usize) -> Bits {
        let mut words = vec![0u64; max.div_ceil(64)];
        for &d in docs {
            words[d as usize >> 6] |= 1 << (d & 63);
        }
        Bits { words }
    }

    #[test]
    fn union_and_intersection_walk_every_document_once_in_doc_order() {
        let mut union = Vec::new();
        let (a, b) = (bits(&[0, 5, 63, 64, 130], 200), bits(&[5, 64, 199], 200));
        for_each_in_union(&[&a, &b], |d| union.push(d));
        assert_eq!(union, vec![0, 5, 63, 64, 130, 199]);
        let mut both = Vec::new();
        for_each_in_intersection(&[&a, &b], |d| both.push(d));
        assert_eq!(both, vec![5, 64]);
        let mut each = Vec::new();
        bits(&[3, 64, 130], 200).for_each(|d| each.push(d));
        assert_eq!(each, vec![3, 64, 130]);
        assert_eq!(bits(&[3, 64, 130], 200).len(), 3);
        // An empty set (no words at all) joins either walk.
        let none = Bits { words: Vec::new() };
        let mut union = Vec::new();
        for_each_in_union(&[&none, &b, &none], |d| union.push(d));
        assert_eq!(union, vec![5, 64, 199]);
        let mut both = Vec::new();
        for_each_in_intersection(&[&a, &none], |d| both.push(d));
        assert!(both.is_empty() && none.is_empty() && !none.contains(3));
        assert!(bits(&[199], 200).contains(199) && !bits(&[199], 200).contains(198));
        assert!(!bits(&[1], 64).contains(1000));
    }

    #[test]
    fn area_ranges_agree_with_area_prefixes() {
        let adcode = [110_101_000_000, 110_200_000_000, 0, 310_101_000_000, 110_101_000_000, 120_000_000_000];
        let flags = [FLAG_ROOM, FLAG_ROOM | FLAG_OPEN, 0, FLAG_OPEN, 0, FLAG_ROOM].map(u64::from);
        let nowhere = vec![(f64::NAN, f64::NAN); 6];
        let degrees: Degrees = Box::new(|_| (f64::NAN, f64::NAN));
        let data = SegmentData::new(vec![1, 2, 3, 4, 5, 6], &[0, 1, 0, 0, 2, 1], &adcode, &flags, &nowhere, degrees);
        let passing = |f: &DocFilter| -> Vec<DocId> {
            let f = f.for_segment(&data);
            (0..6).filter(|d| f.passes(*d)).collect()
        };
        let beijing = AreaPrefix { prefix: 11, div: 10_000_000_000 };
        let dongcheng = AreaPrefix { prefix: 110_101, div: 1_000_000 };
        for areas in [vec![beijing], vec![dongcheng], vec![dongcheng, AreaPrefix { prefix: 12, div: 10_000_000_000 }]] {
            let expected: Vec<DocId> =
                (0..6).filter(|d| areas.iter().any(|a| a.contains(adcode[*d as usize]))).collect();
            assert_eq!(passing(&DocFilter::new(&areas, 0, None)), expected, "{areas:?}");
        }
        assert_eq!(passing(&DocFilter::new(&[beijing], 0, None)), vec![0, 1, 4]);
        assert_eq!(passing(&DocFilter::new(&[], FLAG_ROOM | FLAG_OPEN, None)), vec![1]);
        assert_eq!(passing(&DocFilter::new(&[beijing], FLAG_ROOM, Some(1))), vec![1]);
        assert_eq!((0..6).map(|d| data.category(d)).collect::<Vec<_>>(), vec![0, 1, 0, 0, 2, 1]);
    }
}
