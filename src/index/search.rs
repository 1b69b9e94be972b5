//! Text search. Text matching and scoring run in tantivy; the count, facets and filters over
//! per-segment columns (`segments.rs`, `matchset.rs`); the final checks, distances and the
//! blended ranking over the in-memory catalog.

use std::cmp::Ordering;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::BlockSegmentPostings;
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::query::{EnableScoring, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, Term, TERMINATED};

use super::catalog::{Catalog, Hot};
use super::matchset::{for_each_in_intersection, for_each_in_union, Bits, DocFilter, Source};
use super::schema::Fields;
use super::searcher::{page_after, MAX_DEPTH};
use super::segments::{Near, SegmentData, Segments, TopDocs, WordMatch, FLAG_OPEN, FLAG_ROOM};
use super::terms::{Kind, RelatedTerms};
use super::text;
use super::{Engine, Generation};
use crate::config::RankingWeights;
use crate::geo::{haversine_m, AreaPrefix};
use crate::memory::PREFETCH_AHEAD;
use crate::ranking::{self, Explain};
use crate::store::GroupRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Relevance,
    Distance,
    Activity,
    Newest,
}

/// A search, validated by the route.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub q: String,
    pub category: Option<String>,
    pub areas: Vec<AreaPrefix>,
    pub origin: Option<(f64, f64)>,
    pub radius_m: Option<f64>,
    pub sort: SortBy,
    pub has_room: bool,
    pub open_join: bool,
    pub offset: usize,
    pub limit: usize,
    /// The groups earlier pages of the same cursor chain showed (sorted): a page is the
    /// next `limit` groups of the current order not among them, so a group that moved
    /// while writes streamed in is never shown twice. On a quiet index they are exactly
    /// the first `offset`, and the page is the plain slice after them.
    pub seen: Vec<i64>,
    /// Whether each hit carries the explanation of its rank (`explain=true`).
    pub explain: bool,
    /// Whether words also find their synonyms, related terms and typo corrections
    /// (`terms.rs`); off only to measure what that costs.
    pub expand: bool,
}

impl SearchQuery {
    /// A plain text search: relevance order, no filters, the first 20.
    pub fn text(q: &str) -> SearchQuery {
        SearchQuery {
            q: q.to_string(),
            category: None,
            areas: Vec::new(),
            origin: None,
            radius_m: None,
            sort: SortBy::Relevance,
            has_room: false,
            open_join: false,
            offset: 0,
            limit: 20,
            seen: Vec::new(),
            explain: false,
            expand: true,
        }
    }
}

/// One result.
#[derive(Debug, Clone)]
pub struct Hit {
    pub group: Arc<GroupRow>,
    pub distance_m: Option<f64>,
    pub highlight: Option<String>,
    /// With `SearchQuery::explain`: why the hit sits where it does.
    pub explain: Option<Explain>,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: BTreeMap<String, u64>,
    pub has_more: bool,
}

/// The searcher's BM25 statistics as an index rebuilt from the store would give them. tantivy
/// counts deleted documents in every figure BM25 reads (documents, document frequencies,
/// terms of a field) until a merge drops them, so a node that had served writes for a
/// while scored otherwise than a fresh one, and pages moved between equal searches. Here:
/// - documents are the live ones;
/// - a term's document frequency leaves out the deleted documents holding it
///   (`SegmentData::dead_holding`, kept per segment and term at each count of deletions);
/// - a field's average number of terms is fixed (`SCORED_LENGTHS`): the text fields keep no
///   lengths, so nothing can tell how many terms the deleted documents took with them.
///
/// Every scored search reads these.
struct Statistics<'a> {
    searcher: &'a tantivy::Searcher,
    fields: Fields,
    segments: &'a Segments,
}

/// The average terms of a group in each text field that BM25 is given, as measured on the
/// generated world (`groupscout gen --groups 100000 --seed 7`, 97,028 discoverable groups):
/// name 4.41, name bigrams 6.16, characters 7.28, n-grams 8.55, place 14.88, description
/// 18.92 and pinyin 26.95 (27, as the 1M world has it). A score of a term weighs against
/// the other fields' as the fields' own averages made it weigh.
fn scored_length(f: &Fields, field: tantivy::schema::Field) -> f64 {
    match field {
        x if x == f.name => 4.41,
        x if x == f.name_bi => 6.16,
        x if x == f.name_ch => 7.28,
        x if x == f.name_ng => 8.55,
        x if x == f.place => 14.88,
        x if x == f.body => 18.92,
        _ => 27.0,
    }
}

impl<'a> Statistics<'a> {
    fn new(searcher: &'a tantivy::Searcher, f: &Fields, segments: &'a Segments) -> Self {
        Statistics { searcher, fields: *f, segments }
    }

    fn scoring(&self) -> EnableScoring<'_> {
        EnableScoring::enabled_from_statistics_provider(self, self.searcher)
    }
}

impl Bm25StatisticsProvider for Statistics<'_> {
    fn total_num_tokens(&self, field: tantivy::schema::Field) -> tantivy::Result<u64> {
        let docs = self.total_num_docs()? as f64;
        Ok((scored_length(&self.fields, field) * docs).round() as u64)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.searcher.num_docs())
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        live_doc_freq(self.searcher, self.segments, term)
    }
}

/// How many live documents hold `term`.
fn live_doc_freq(searcher: &tantivy::Searcher, segments: &Segments, term: &Term) -> tantivy::Result<u64> {
    let mut n = 0;
    for reader in searcher.segment_readers() {
        let held = reader.inverted_index(term.field())?.doc_freq(term)?;
        let dead = if held > 0 { segments.get(reader)?.dead_holding(reader, term)? } else { 0 };
        n += u64::from(held - dead);
    }
    Ok(n)
}

/// The same match set as `word_clauses`, for counting, without frequencies: the word in
/// any field that holds a form of it (the whole-word name term matches a subset of these),
/// with the pinyin of a Chinese word; only a word longer than the n-grams still needs its
/// bigram phrase.
fn count_sources(f: &Fields, word: &str, fields: Reach) -> Vec<Source> {
    let cjk_len = word.chars().filter(|c| text::is_cjk(*c)).count();
    if fields == Reach::NameOnly {
        return labelled_clauses(f, word, fields).into_iter().map(|(_, q)| Source::Query(q)).collect();
    }
    let mut sources: Vec<Source> = held_terms(f, word).into_iter().map(Source::Postings).collect();
    if cjk_len == word.chars().count() && cjk_len >= 2 {
        let (full, _) = text::pinyin_of(word);
        if !full.is_empty() {
            sources.push(Source::Postings(Term::from_field_text(f.pinyin, &full)));
        }
        if cjk_len > text::NGRAM_MAX {
            let grams = text::word_bigrams(word);
            let phrase = PhraseQuery::new(grams.iter().map(|g| Term::from_field_text(f.name_bi, g)).collect());
            sources.push(Source::Query(Box::new(phrase)));
        }
    }
    if fields == Reach::WithDescriptions {
        sources.push(Source::Postings(Term::from_field_text(f.body, word)));
    }
    sources
}

/// The terms a word is in names and places as: a bigram (or a Latin or digit run), a
/// character (or the start of a Latin word), an n-gram, a pinyin or initials, a place word.
fn held_terms(f: &Fields, word: &str) -> [Term; 5] {
    [f.name_bi, f.name_ch, f.name_ng, f.pinyin, f.place].map(|field| Term::from_field_text(field, word))
}

/// How many groups hold `word` in a name or place (`held_terms`), exactly up to `upto`;
/// above, some number above it.
fn groups_holding(
    searcher: &tantivy::Searcher,
    f: &Fields,
    segments: &Segments,
    word: &str,
    upto: u64,
) -> tantivy::Result<u64> {
    let terms = held_terms(f, word);
    let mut most = 0;
    for t in &terms {
        most = most.max(live_doc_freq(searcher, segments, t)?);
    }
    if most > upto {
        return Ok(most);
    }
    // Each list is short: the union, document by document.
    let mut count = 0;
    for reader in searcher.segment_readers() {
        let alive = reader.alive_bitset();
        let mut docs: Vec<DocId> = Vec::new();
        for t in &terms {
            let inverted = reader.inverted_index(t.field())?;
            if let Some(mut postings) = inverted.read_postings(t, IndexRecordOption::Basic)? {
                while postings.doc() != TERMINATED {
                    if alive.is_none_or(|a| a.is_alive(postings.doc())) {
                        docs.push(postings.doc());
                    }
                    postings.advance();
                }
            }
        }
        docs.sort_unstable();
        docs.dedup();
        count += docs.len() as u64;
    }
    Ok(count)
}

/// Which part of a group a clause of `word_clauses` matches, as an explanation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clause {
    /// The place, city, district or category label.
    Place,
    /// A whole word of the name.
    Name,
    /// Any part of the name (bigrams, n-grams, a bigram phrase).
    NameInfix,
    /// One character of the name, or the start of a Latin word in it.
    NameCharacter,
    /// The pinyin of the name: full, initials, or the pinyin of a Chinese query word
    /// (a homophone).
    Pinyin,
    /// The description or announcement.
    Description,
}

/// The query for one word: any field may match it, with boosts by field.
fn word_clauses(f: &Fields, word: &str, fields: Reach) -> Vec<(Occur, Box<dyn Query>)> {
    labelled_clauses(f, word, fields).into_iter().map(|(_, q)| (Occur::Should, q)).collect()
}

/// `word_clauses`, each with the part of a group it matches.
fn labelled_clauses(f: &Fields, word: &str, fields: Reach) -> Vec<(Clause, Box<dyn Query>)> {
    word_parts(f, word, fields).into_iter().map(|p| (p.clause, p.query())).collect()
}

/// One scored part of a word's query: a term, or the bigrams of a long word in a row, with
/// its boost.
struct Part {
    clause: Clause,
    /// One term, or a phrase of bigrams.
    terms: Vec<Term>,
    boost: f32,
}

impl Part {
    fn term(clause: Clause, field: tantivy::schema::Field, word: &str, boost: f32) -> Part {
        Part { clause, terms: vec![Term::from_field_text(field, word)], boost }
    }

    fn query(&self) -> Box<dyn Query> {
        let q: Box<dyn Query> = match &self.terms[..] {
            [term] => Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
            phrase => Box::new(PhraseQuery::new(phrase.to_vec())),
        };
        Box::new(BoostQuery::new(q, self.boost))
    }
}

/// The scored parts of a word: any field may match it, with boosts by field.
fn word_parts(f: &Fields, word: &str, fields: Reach) -> Vec<Part> {
    let cjk_len = word.chars().filter(|c| text::is_cjk(*c)).count();
    let all_cjk = cjk_len == word.chars().count();
    let mut parts = vec![Part::term(Clause::Name, f.name, word, 3.0)];
    if fields != Reach::NameOnly {
        parts.insert(0, Part::term(Clause::Place, f.place, word, 2.0));
    }
    if fields == Reach::WithDescriptions {
        parts.push(Part::term(Clause::Description, f.body, word, 0.4));
    }
    if all_cjk && cjk_len >= 2 {
        // Any substring of a name: its bigrams in a row.
        let grams = text::word_bigrams(word);
        let infix = if grams.len() == 1 {
            vec![Term::from_field_text(f.name_bi, &grams[0])]
        } else if cjk_len <= text::NGRAM_MAX {
            vec![Term::from_field_text(f.name_ng, word)]
        } else {
            grams.iter().map(|g| Term::from_field_text(f.name_bi, g)).collect()
        };
        parts.push(Part { clause: Clause::NameInfix, terms: infix, boost: 2.0 });
        // Homophones: the same pinyin in other characters, well below the characters.
        let (full, _) = text::pinyin_of(word);
        if !full.is_empty() && fields != Reach::NameOnly {
            parts.push(Part::term(Clause::Pinyin, f.pinyin, &full, 0.3));
        }
    } else if all_cjk && cjk_len == 1 {
        parts.push(Part::term(Clause::NameCharacter, f.name_ch, word, 1.5));
    } else if word.chars().all(|c| c.is_ascii_alphabetic()) {
        // Pinyin or initials typed in Latin letters, or the start of a Latin word.
        parts.push(Part::term(Clause::Pinyin, f.pinyin, word, 1.2));
        parts.push(Part::term(Clause::NameInfix, f.name_bi, word, 1.0));
        parts.push(Part::term(Clause::NameCharacter, f.name_ch, word, 0.8));
    } else {
        parts.push(Part::term(Clause::NameInfix, f.name_bi, word, 1.0));
    }
    parts
}

/// Which fields a word may match: names, places and categories only, or descriptions and
/// announcements too. Name matches are what people look for; description matches widen
/// the match set and come after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Names,
    WithDescriptions,
    /// The characters of names only: what a word stands for (a synonym, a related term,
    /// a typo's correction) is looked for where people name groups, not in places,
    /// category labels or descriptions (健身 for 撸铁 is not every sports group).
    NameOnly,
}

/// A candidate in the match set, with every key any sort needs.
#[derive(Clone, Copy)]
struct Candidate {
    id: i64,
    tier: u32,
    /// The text score the blend used, and the word whose pass gave it (`FIXED`: the
    /// group holds every word and ranks by quality, or there is no text).
    text: f32,
    by: u16,
    /// text × quality × proximity.
    blend: f32,
    /// What a relevance list is ordered by: `ranking::rank_key(tier, blend)`.
    key: f64,
    distance_m: Option<f64>,
    yesterday_messages: u32,
    active_members: u32,
    created_at: i64,
}

fn compare(sort: SortBy, a: &Candidate, b: &Candidate) -> Ordering {
    let by_id = a.id.cmp(&b.id);
    match sort {
        SortBy::Relevance => b.key.total_cmp(&a.key).then(by_id),
        SortBy::Distance => {
            a.distance_m.unwrap_or(f64::INFINITY).total_cmp(&b.distance_m.unwrap_or(f64::INFINITY)).then(by_id)
        }
        SortBy::Activity => {
            b.yesterday_messages.cmp(&a.yesterday_messages).then(b.active_members.cmp(&a.active_members)).then(by_id)
        }
        SortBy::Newest => b.created_at.cmp(&a.created_at).then(by_id),
    }
}

/// The top `k` documents by score among those passing the column-checked filters
/// (category, area, room, open join, radius), through tantivy's scorers: for the words
/// with a phrase part, which `best_by_text` does not score itself (see `Keeper`).
struct FilteredTop<'a> {
    k: usize,
    filter: DocFilter,
    segments: &'a Segments,
    /// The word and reach the query scores, and the searcher generation, under which
    /// each segment's best score is kept.
    key: String,
    generation: u64,
}

struct FilteredTopSegment {
    ord: SegmentOrdinal,
    out: Vec<(Score, DocAddress)>,
}

impl Collector for FilteredTop<'_> {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = FilteredTopSegment;

    fn for_segment(&self, ord: SegmentOrdinal, _segment: &SegmentReader) -> tantivy::Result<FilteredTopSegment> {
        Ok(FilteredTopSegment { ord, out: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Score, DocAddress)>>) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        Ok(best_of(fruits.into_iter().flatten().collect(), self.k))
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let data = self.segments.get(reader)?;
        let filter = self.filter.for_segment(&data);
        let every = filter.admits_all();
        let alive = reader.alive_bitset();
        let best = data.best_score(self.generation, &self.key);
        let mut seen_best = Score::MIN;
        let mut keeper = Keeper::new(self.k, best);
        let mut scorer = weight.scorer(reader, 1.0)?;
        let mut doc = scorer.doc();
        // Until a full pass has measured the segment's best score every document is scored;
        // after, one the filters turn away (most of them, within a radius) is not.
        let measure = best.is_none();
        while doc != TERMINATED {
            let admitted = alive.is_none_or(|a| a.is_alive(doc)) && (every || filter.passes(doc));
            if admitted || measure {
                let score = scorer.score();
                seen_best = seen_best.max(score);
                if admitted && keeper.offer(score, doc) {
                    break;
                }
            }
            doc = scorer.advance();
        }
        if best.is_none() && doc == TERMINATED {
            data.note_best_score(self.generation, &self.key, seen_best);
        }
        Ok(keeper.top(ord))
    }
}

/// The best `k` admitted documents of one segment by score, offered in doc order; ties go
/// to the earlier document (documents are written most active first).
///
/// Documents are scored one by one: tantivy's Block-WAND would skip blocks by their stored
/// maximum, which fields without length norms record as zero, and so would drop good
/// matches once the top is full. What makes a pass short instead is the segment's best
/// score, once a full pass has measured it: many documents share it, a reindex writes the
/// most active first, and once the top holds `k` of them nothing later can enter.
struct Keeper {
    k: usize,
    /// Up to twice `k` before the weaker half is dropped; once `k` are kept, a document
    /// must score above the `k`-th to enter (an equal score is a later document's).
    kept: Vec<(Score, DocId)>,
    threshold: Score,
    best: Option<Score>,
    at_best: usize,
}

impl Keeper {
    fn new(k: usize, best: Option<Score>) -> Keeper {
        Keeper { k, kept: Vec::with_capacity(2 * k), threshold: Score::MIN, best, at_best: 0 }
    }

    /// Offers an admitted document; true once nothing later can enter.
    #[inline]
    fn offer(&mut self, score: Score, doc: DocId) -> bool {
        if score <= self.threshold {
            return false;
        }
        self.kept.push((score, doc));
        if self.best == Some(score) {
            // Nothing scores above the best: these are final.
            self.at_best += 1;
            if self.at_best == self.k {
                return true;
            }
        }
        if self.kept.len() == 2 * self.k {
            self.keep_best();
            self.threshold = self.kept[self.k - 1].0;
        }
        false
    }

    /// Drops all but the best `k` kept (in no particular order).
    fn keep_best(&mut self) {
        if self.kept.len() > self.k {
            self.kept.select_nth_unstable_by(self.k - 1, best_first);
            self.kept.truncate(self.k);
        }
    }

    fn top(mut self, ord: SegmentOrdinal) -> Vec<(Score, DocAddress)> {
        self.keep_best();
        self.kept.into_iter().map(|(score, doc)| (score, DocAddress::new(ord, doc))).collect()
    }
}

/// The best `k` documents by text score of a word's `parts`, among those `filter` admits,
/// best first; ties go to the earlier document. A word of term parts (all but the longest
/// words) is scored term by term, a window of documents at a time, from its posting blocks:
/// the scores tantivy's term scorers give, summed in the parts' order as `score_each` sums
/// them, without a scorer call per document.
///
/// With `counted`, it also collects each segment's documents holding the word (deleted ones
/// included), which is the word's match set (`count_sources`): reading the lists once
/// where a count and a pass would read them twice. A word with a phrase part is not
/// counted here (`counted` is left empty).
#[allow(clippy::too_many_arguments)]
fn best_by_text(
    searcher: &tantivy::Searcher,
    statistics: &Statistics,
    segments: &Segments,
    parts: &[Part],
    filter: &DocFilter,
    key: &str,
    generation: u64,
    k: usize,
    mut counted: Option<&mut Vec<Bits>>,
) -> tantivy::Result<TopDocs> {
    if parts.iter().any(|p| p.terms.len() > 1) {
        let query = BooleanQuery::new(parts.iter().map(|p| (Occur::Should, p.query())).collect());
        let top = FilteredTop { k, filter: filter.clone(), segments, key: key.to_string(), generation };
        return searcher.search_with_statistics_provider(&query, &top, statistics);
    }
    let weights = parts
        .iter()
        .map(|p| Ok((p.terms[0].clone(), Bm25Weight::for_terms(statistics, &p.terms)?.boost_by(p.boost))))
        .collect::<tantivy::Result<Vec<_>>>()?;
    let mut all = Vec::new();
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let data = segments.get(reader)?;
        let mut held = counted.is_some().then(Vec::new);
        let ord = ord as SegmentOrdinal;
        all.extend(best_in_segment(reader, ord, &data, &weights, filter, key, generation, k, held.as_mut())?);
        if let (Some(counted), Some(held)) = (counted.as_deref_mut(), held) {
            counted.push(Bits::from_words(held));
        }
    }
    Ok(best_of(all, k))
}

/// The order of scored documents: best score first, ties to the earlier document.
fn best_first<D: Ord>(a: &(Score, D), b: &(Score, D)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The best `k` of the segments' scored documents, in `best_first` order.
fn best_of(mut all: TopDocs, k: usize) -> TopDocs {
    all.sort_unstable_by(best_first);
    all.truncate(k);
    all
}

/// One term's posting list in one segment, read block by block, with the scores its term
/// scorer would give.
struct TermList {
    postings: BlockSegmentPostings,
    /// The next document's place in the current block.
    at: usize,
    norms: FieldNormReader,
    weight: Bm25Weight,
    /// Without lengths, the score of each small frequency; else of each length at a
    /// frequency of 1 (the scores `weight` gives, worked out once).
    by_freq: Option<[Score; 8]>,
    by_norm: [Score; 256],
}

impl TermList {
    /// The term's list in the segment (`None`: no document holds it there).
    fn open(reader: &SegmentReader, term: &Term, weight: &Bm25Weight) -> tantivy::Result<Option<TermList>> {
        let inverted = reader.inverted_index(term.field())?;
        let Some(postings) = inverted.read_block_postings(term, IndexRecordOption::WithFreqs)? else {
            return Ok(None);
        };
        // As a term scorer reads lengths: a field without them has one length for all.
        let stored = reader.fieldnorms_readers().get_field(term.field())?;
        let by_freq = match stored {
            None => {
                let id = FieldNormReader::constant(1, 1).fieldnorm_id(0);
                Some(std::array::from_fn(|tf| weight.score(id, tf as u32)))
            }
            Some(_) => None,
        };
        let norms = stored.unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1));
        let by_norm = std::array::from_fn(|id| weight.score(id as u8, 1));
        Ok(Some(TermList { postings, at: 0, norms, weight: weight.clone(), by_freq, by_norm }))
    }

    /// The score of `doc`, holding the term `tf` times (1 in a list without frequencies).
    #[inline]
    fn score(&self, doc: DocId, tf: u32) -> Score {
        match &self.by_freq {
            Some(by_freq) => match by_freq.get(tf as usize) {
                Some(score) => *score,
                None => self.weight.score(self.norms.fieldnorm_id(doc), tf),
            },
            None if tf == 1 => self.by_norm[self.norms.fieldnorm_id(doc) as usize],
            None => self.weight.score(self.norms.fieldnorm_id(doc), tf),
        }
    }
}

/// Documents scored together in `best_in_segment`: sums of 64 KB, in the fastest cache.
const WINDOW: usize = 1 << 14;

/// `best_by_text` in one segment, for term parts; with `held`, the documents holding any
/// part as bitset words.
#[allow(clippy::too_many_arguments)]
fn best_in_segment(
    reader: &SegmentReader,
    ord: SegmentOrdinal,
    data: &SegmentData,
    weights: &[(Term, Bm25Weight)],
    filter: &DocFilter,
    key: &str,
    generation: u64,
    k: usize,
    mut held: Option<&mut Vec<u64>>,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    let mut lists = Vec::with_capacity(weights.len());
    for (term, weight) in weights {
        lists.extend(TermList::open(reader, term, weight)?);
    }
    let filter = filter.for_segment(data);
    let every = filter.admits_all();
    let alive = reader.alive_bitset();
    let best = data.best_score(generation, key);
    let mut keeper = Keeper::new(k, best);
    let mut seen_best = Score::MIN;
    let mut sums = vec![0.0 as Score; WINDOW];
    let mut marks = vec![0u64; WINDOW / 64];
    let mut complete = true;
    // Each window starts at the first document any list has left.
    while let Some(first) = lists.iter().filter_map(|l| l.postings.docs().get(l.at).copied()).min() {
        let base = first - first % WINDOW as DocId;
        let end = base + WINDOW as DocId;
        for list in &mut lists {
            loop {
                let (docs, freqs) = (list.postings.docs(), list.postings.freqs());
                let start = list.at;
                let stop = start + docs[start..].partition_point(|d| *d < end);
                let mut add = |doc: DocId, score: Score| {
                    let slot = (doc - base) as usize;
                    sums[slot] += score;
                    marks[slot >> 6] |= 1 << (slot & 63);
                };
                // A list without frequencies (`freqs` empty) has 1 for each; once the top
                // is final, the documents are only counted.
                if !complete {
                    for d in &docs[start..stop] {
                        let slot = (d - base) as usize;
                        marks[slot >> 6] |= 1 << (slot & 63);
                    }
                } else if freqs.is_empty() {
                    docs[start..stop].iter().for_each(|d| add(*d, list.score(*d, 1)));
                } else {
                    for (d, tf) in docs[start..stop].iter().zip(&freqs[start..stop]) {
                        add(*d, list.score(*d, *tf));
                    }
                }
                if stop < docs.len() || docs.is_empty() {
                    list.at = stop;
                    break;
                }
                list.postings.advance();
                list.at = 0;
            }
        }
        if let Some(held) = held.as_deref_mut() {
            if held.is_empty() {
                held.resize((reader.max_doc() as usize).div_ceil(64), 0);
            }
            let at = base as usize / 64;
            let n = marks.len().min(held.len() - at);
            held[at..at + n].iter_mut().zip(&marks).for_each(|(h, m)| *h |= m);
        }
        if !complete {
            marks.fill(0);
            continue;
        }
        'walk: for (w, mark) in marks.iter_mut().enumerate() {
            let mut bits = std::mem::take(mark);
            while bits != 0 {
                let slot = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let score = std::mem::take(&mut sums[slot]);
                let doc = base + slot as DocId;
                seen_best = seen_best.max(score);
                if alive.is_none_or(|a| a.is_alive(doc)) && (every || filter.passes(doc)) && keeper.offer(score, doc) {
                    complete = false;
                    break 'walk;
                }
            }
        }
        if !complete {
            if held.is_none() {
                break;
            }
            // The rest of this window, before the next (later windows are not scored).
            marks.fill(0);
            sums.fill(0.0);
        }
    }
    if best.is_none() && complete {
        data.note_best_score(generation, key, seen_best);
    }
    Ok(keeper.top(ord))
}

impl SegmentCollector for FilteredTopSegment {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.out.push((score, DocAddress::new(self.ord, doc)));
    }

    fn harvest(self) -> Vec<(Score, DocAddress)> {
        self.out
    }
}

/// What a query word is to the tier: what the group is about, where it is, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Interest,
    /// A province, city or district the gazetteer knows.
    Place,
    /// A noise word of the related-terms file (周末, 约).
    Noise,
}

/// What a group's tier is made of, in the order it counts: the interest words it holds as
/// typed, then the place words held as typed, then the points of how it holds the
/// interest and place words (`Kind::points`: as typed or by a synonym 3, by a typo
/// correction 2, by a related term 1), then the noise words it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TierParts {
    interests: u32,
    places: u32,
    points: u32,
    noise: u32,
}

impl TierParts {
    fn of(roles: &[Role], best: &[Option<Kind>]) -> TierParts {
        let mut t = TierParts::default();
        for (role, kind) in roles.iter().zip(best) {
            let Some(kind) = kind else { continue };
            match role {
                Role::Noise => t.noise += u32::from(*kind == Kind::Exact),
                _ => {
                    t.points += kind.points();
                    if *kind == Kind::Exact {
                        if *role == Role::Place {
                            t.places += 1;
                        } else {
                            t.interests += 1;
                        }
                    }
                }
            }
        }
        t
    }

    /// One whole number that orders as the parts do, for a query of `len` words.
    fn tier(&self, len: u32) -> u32 {
        ((self.interests * (len + 1) + self.places) * (3 * len + 1) + self.points) * (len + 1) + self.noise
    }
}

/// One term of an expanded query: a word as typed, or a word it stands for (`terms.rs`).
#[derive(Debug, Clone)]
struct QueryTerm {
    text: String,
    /// The query word it stands for.
    word: usize,
    kind: Kind,
    /// Its text scores count this much (`RankingWeights::synonym`, `typo`, `related`).
    weight: f32,
}

/// At most this many admitted documents, a word's candidates are all of them, each scored
/// where it lies; above, a pruned top-N pass by text score finds them.
const EXHAUSTIVE: usize = 1000;

/// Within a radius whose cells hold fewer documents than the words' matches, up to this
/// many admitted documents of a word are scored where they lie: cheaper than a pass over
/// every document of a common word that the radius turns away.
const NEAR_LISTED: usize = 5000;

/// A radius search walks the documents under its circle's cells instead of its words'
/// matches while the cells hold up to this many times as many: a document from the cells
/// costs a bit test or two, a match the circle's check (its cell, perhaps its distance).
/// On the 1M world, text within 10 km, in-process: the walks took 0.039 ms a search at 1,
/// 0.030 ms at 4.
const NEAR_FACTOR: usize = 4;

/// Where one word's best documents by text score come from.
enum Pass {
    /// Every admitted document (or, from a pruned pass, the best `MAX_DEPTH`), scored,
    /// best first.
    Scored(Arc<TopDocs>),
    /// A pruned top-N pass over the index, for the word's parts.
    Pruned(Vec<Part>),
    /// Every admitted document, to be scored when first needed.
    Unscored,
}

/// What the counting pass keeps of one segment for the page pass.
struct SegmentMatch {
    data: Arc<SegmentData>,
    /// Each term's match set (deleted documents included).
    terms: Vec<Arc<WordMatch>>,
    /// Per term, its admitted documents in doc order, while it has at most `EXHAUSTIVE`.
    admitted: Vec<Vec<DocId>>,
}

/// One search in progress: the query, the snapshot it reads and what it has found.
struct Run<'a> {
    sq: &'a SearchQuery,
    weights: &'a RankingWeights,
    /// The query's words as typed.
    words: Vec<String>,
    /// What each word is to the tier: an interest, a place, or noise.
    roles: Vec<Role>,
    /// The words as typed (the first `words.len()`, in word order), then what they stand
    /// for, in order of priority: by kind, then by word.
    terms: Vec<QueryTerm>,
    gen: &'a Generation,
    searcher: &'a tantivy::Searcher,
    catalog: &'a Catalog,
    /// The requested category's index.
    wanted: Option<u8>,
    /// The area, room, open-join and radius filters, checked from the segments' columns.
    filter: DocFilter,
    reach: Reach,
    segments: Vec<SegmentMatch>,
    facets: [u64; 256],
    /// Whether the words as typed match any group (under every filter but the category).
    typed_found: bool,
    /// Admitted documents per term, across segments.
    admitted: Vec<usize>,
    /// Up to how many admitted documents per term the count listed in every segment:
    /// `EXHAUSTIVE`, or `NEAR_LISTED` when each segment walked the cells under a circle.
    listed: usize,
    ordered: Vec<Candidate>,
    seen: HashSet<i64, ahash::RandomState>,
    /// While ranking: the best keys of `ordered`, up to as many as the page needs (with the
    /// groups the client has seen), lowest on top (as bits, which order as non-negative
    /// keys do). A group whose key cannot reach the lowest is not looked up.
    best_keys: BinaryHeap<Reverse<u64>>,
    best_wanted: usize,
}

impl Run<'_> {
    /// Counts the match set at the current reach: facets, the admitted documents per word,
    /// every candidate for the plain sorts, and for relevance the groups holding every word.
    fn count(&mut self) -> tantivy::Result<()> {
        let sq = self.sq;
        // Built on the first segment that has not cached a word's set.
        let mut word_sources: Option<Vec<Vec<Source>>> = None;
        let keys: Vec<String> = (0..self.terms.len())
            .map(|t| {
                let tag = match self.reach_of(t) {
                    Reach::Names => "n",
                    Reach::WithDescriptions => "d",
                    Reach::NameOnly => "o",
                };
                format!("{tag}:{}", self.terms[t].text)
            })
            .collect();
        // For relevance, counted from the index's columns (as of the last commit, at most
        // half a second behind the store); the plain sorts need every candidate's keys from
        // the catalog anyway.
        let relevance = sq.sort == SortBy::Relevance;
        let several = self.words.len() > 1;
        // Whether the terms are the words as typed, nothing else.
        let plain = self.terms.len() == self.words.len();
        // Without area, room, open-join or radius filters, the terms' own facets add up to
        // the count (less their intersection's, for two).
        let unfiltered = relevance && self.filter.without_category_admits_all();
        self.facets = [0; 256];
        self.typed_found = false;
        self.admitted = vec![0; self.terms.len()];
        self.listed = NEAR_LISTED;
        self.ordered.clear();
        self.seen.clear();
        self.segments.clear();
        let mut every: Vec<i64> = Vec::new();
        // The first term's documents per segment, if its pass counted them.
        let mut walked = self.walk_for_pages(&keys[0], unfiltered)?;
        for (ord, reader) in self.searcher.segment_readers().iter().enumerate() {
            let data = self.gen.segments.get(reader)?;
            let mut word_sets: Vec<Arc<WordMatch>> = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                word_sets.push(data.word(key, reader, || {
                    if i == 0 {
                        if let Some(bits) = walked.get_mut(ord).and_then(Option::take) {
                            return Ok(bits);
                        }
                    }
                    let sources = word_sources.get_or_insert_with(|| {
                        let f = &self.gen.fields;
                        self.terms
                            .iter()
                            .enumerate()
                            .map(|(t, q)| count_sources(f, &q.text, self.reach_of(t)))
                            .collect()
                    });
                    Bits::of(&sources[i], self.searcher, reader)
                })?);
            }
            let bits: Vec<&Bits> = word_sets.iter().map(|w| &*w.bits).collect();
            let alive = reader.alive_bitset();
            let mut lists: Vec<Vec<DocId>> = vec![Vec::new(); self.terms.len()];
            let (catalog, wanted, weights) = (self.catalog, self.wanted, self.weights);
            let (facets, admitted, ordered) = (&mut self.facets, &mut self.admitted, &mut self.ordered);
            let filter = self.filter.for_segment(&data);
            let keep = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc)) && filter.passes(doc);
            let typed = self.words.len();
            let typed_found = &mut self.typed_found;
            let listed = &mut self.listed;
            if unfiltered {
                *typed_found |= word_sets[..typed].iter().any(|w| w.facets(&data).iter().any(|n| *n > 0));
            }
            if unfiltered && bits.len() <= 2 {
                for w in &word_sets {
                    facets.iter_mut().zip(w.facets(&data).iter()).for_each(|(f, n)| *f += u64::from(*n));
                }
                if bits.len() == 2 {
                    for_each_in_intersection(&bits, |doc| {
                        if alive.is_none_or(|a| a.is_alive(doc)) {
                            let category = data.category(doc);
                            facets[category as usize] -= 1;
                            if several && plain && wanted.is_none_or(|c| c == category) {
                                every.push(data.ids[doc as usize]);
                            }
                        }
                    });
                }
            } else if unfiltered {
                // The union's facets, kept like a word's: a query of several words, or a
                // word with what it stands for, repeats its union as often as its words.
                let union = data.word(&format!("u:{}", keys.join("\u{1f}")), reader, || Ok(Bits::union(&bits)))?;
                facets.iter_mut().zip(union.facets(&data).iter()).for_each(|(f, n)| *f += u64::from(*n));
            } else {
                // Within a radius, the documents under the circle, unless they are many
                // more than the words' matches (`NEAR_FACTOR`), are checked against the
                // word sets instead; the admitted ones, all within the circle, are few
                // enough to list every one, to be scored where it lies.
                // (Deleted documents included: this only chooses the walk.)
                let matches: usize = word_sets.iter().map(|w| w.documents()).sum();
                let near = filter.near_docs(matches * NEAR_FACTOR, |doc| bits.iter().any(|b| b.contains(doc)));
                let cap = if near.is_some() { NEAR_LISTED } else { EXHAUSTIVE };
                *listed = (*listed).min(cap);
                // Documents from the cells are within the circle already.
                let placed = filter.without_circle();
                let from_cells = near.is_some();
                let visit = |doc: DocId| {
                    let kept = if from_cells {
                        alive.is_none_or(|a| a.is_alive(doc)) && placed.passes(doc)
                    } else {
                        keep(doc)
                    };
                    if !kept {
                        return;
                    }
                    if !*typed_found && bits[..typed].iter().any(|b| b.contains(doc)) {
                        *typed_found = true;
                    }
                    let category = if relevance {
                        data.category(doc)
                    } else {
                        let id = data.ids[doc as usize];
                        let Some(hot) = catalog.hot(id) else { return };
                        let Some(distance_m) = admits(sq, hot) else { return };
                        if wanted.is_none_or(|c| c == hot.category) {
                            ordered.push(candidate(id, hot, 0, (1.0, FIXED), distance_m, weights));
                        }
                        hot.category
                    };
                    facets[category as usize] += 1;
                    if relevance && wanted.is_none_or(|c| c == category) {
                        // The groups holding every word are among those walked here.
                        if several && bits[..typed].iter().all(|b| b.contains(doc)) {
                            every.push(data.ids[doc as usize]);
                        }
                        for (i, set) in bits.iter().enumerate() {
                            if set.contains(doc) {
                                admitted[i] += 1;
                                if admitted[i] <= cap {
                                    lists[i].push(doc);
                                }
                            }
                        }
                    }
                };
                match near {
                    Some(near) => near.into_iter().for_each(visit),
                    None => for_each_in_union(&bits, visit),
                }
            }
            if unfiltered {
                *listed = (*listed).min(EXHAUSTIVE);
                // Each word's admitted documents: its live matches (in the category).
                for (i, w) in word_sets.iter().enumerate() {
                    admitted[i] += match wanted {
                        Some(c) => w.facets(&data)[c as usize] as usize,
                        None => w.facets(&data).iter().map(|n| *n as usize).sum(),
                    };
                    if admitted[i] <= EXHAUSTIVE {
                        w.bits.for_each(|doc| {
                            if keep(doc) && wanted.is_none_or(|c| c == data.category(doc)) {
                                lists[i].push(doc);
                            }
                        });
                    }
                }
            }
            // The two-word count above walked the intersection already, and a filtered
            // walk takes the groups holding every word as it passes them.
            if relevance && several && unfiltered && !(bits.len() <= 2 && plain) {
                for_each_in_intersection(&bits[..self.words.len()], |doc| {
                    if keep(doc) && wanted.is_none_or(|c| c == data.category(doc)) {
                        every.push(data.ids[doc as usize]);
                    }
                });
            }
            self.segments.push(SegmentMatch { data, terms: word_sets, admitted: lists });
        }
        if several {
            self.take_every(every);
        }
        Ok(())
    }

    /// For an unfiltered relevance search of one word that a page will need a pruned pass
    /// for (more matches than are scored one by one) and that some segment has not
    /// counted: the word is counted by that pass, which reads its posting lists once where
    /// the count and the pass would read them twice. The pass is kept for `rank`; returned
    /// are the word's documents per segment (none if the pass was kept already). A search of
    /// several words often fills its page from the groups holding them all, with no pass.
    fn walk_for_pages(&self, key: &str, unfiltered: bool) -> tantivy::Result<Vec<Option<Bits>>> {
        let no_page = self.sq.offset + self.sq.limit == 0;
        if no_page || !unfiltered || self.wanted.is_some() || self.words.len() != 1 {
            return Ok(Vec::new());
        }
        let segments = &self.gen.segments;
        let mut readers = self.searcher.segment_readers().iter();
        if readers.all(|r| segments.get(r).is_ok_and(|d| d.holds_word(key))) {
            return Ok(Vec::new());
        }
        let parts = word_parts(&self.gen.fields, &self.terms[0].text, self.reach_of(0));
        // A word with a phrase part is not counted by its pass: no need to look its terms up.
        if parts.iter().any(|p| p.terms.len() > 1) {
            return Ok(Vec::new());
        }
        let mut most = 0;
        for p in &parts {
            most = most.max(self.searcher.doc_freq(&p.terms[0])?);
        }
        if most <= EXHAUSTIVE as u64 {
            return Ok(Vec::new());
        }
        let mut counted = Vec::new();
        self.pruned_pass(0, &parts, Some(&mut counted))?;
        Ok(counted.into_iter().map(Some).collect())
    }

    /// Groups holding every word come first, ordered by the blend with a text score of 1:
    /// only the best `need` of them by quality can reach the page.
    fn take_every(&mut self, mut ids: Vec<i64>) {
        let keep = 2 * (self.sq.offset + self.sq.limit) + 32;
        if self.sq.origin.is_none() && ids.len() > keep {
            let catalog = self.catalog;
            let mut ranked: Vec<(f32, i64)> = ids.iter().filter_map(|id| Some((catalog.quality(*id)?, *id))).collect();
            let by_quality = |a: &(f32, i64), b: &(f32, i64)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            if ranked.len() > keep {
                ranked.select_nth_unstable_by(keep - 1, by_quality);
                ranked.truncate(keep);
            }
            ids = ranked.into_iter().map(|(_, id)| id).collect();
        }
        let tier = self.every_tier();
        for id in ids {
            let Some(hot) = self.catalog.hot(id) else { continue };
            let Some(distance_m) = admits(self.sq, hot) else { continue };
            if self.wanted.is_none_or(|c| c == hot.category) && self.seen.insert(id) {
                self.ordered.push(candidate(id, hot, tier, (1.0, FIXED), distance_m, self.weights));
            }
        }
    }

    /// Adds one document scored by `term`'s pass as a candidate, once. Its text score is
    /// the one of its first term (in priority order) that holds it, whatever pass saw it
    /// first: so its place in the order does not depend on how deep each pass went, and a
    /// group outside that term's pool scores at most the pool's lowest.
    fn consider(&mut self, segment_ord: usize, doc: DocId, score: Score, term: usize) {
        let seg = &self.segments[segment_ord];
        if seg.terms.iter().position(|t| t.bits.contains(doc)) != Some(term) {
            return;
        }
        // How the group holds each word; holding every word (of several) as typed ranks by
        // quality alone, as `take_every` does.
        let mut best: Vec<Option<Kind>> = vec![None; self.words.len()];
        for (t, set) in seg.terms.iter().enumerate() {
            if set.bits.contains(doc) {
                let q = &self.terms[t];
                best[q.word] = Some(best[q.word].map_or(q.kind, |k| k.min(q.kind)));
            }
        }
        let tier = self.tier(&best);
        let every = self.words.len() > 1 && best.iter().all(|k| *k == Some(Kind::Exact));
        let text = if every { (1.0, FIXED) } else { (score * self.terms[term].weight, term as u16) };
        // Once the page could be filled, the most its key can be, from what costs least to
        // read first: within a circle, its distance from the segment's vectors (which the
        // count read just before) with the best quality there is; then its own quality (4
        // bytes a group); only then its `Hot` (56). A group that cannot reach the page is not
        // marked seen: nothing else would admit it either.
        let lowest = self.lowest_best_key();
        let most = |quality: f32, proximity: f32| {
            ranking::rank_key(tier, text.0.max(0.0) * quality * proximity * (1.0 + 1e-6))
        };
        let proximity = match (lowest, self.filter.near()) {
            (Some(_), Some(near)) => ranking::proximity(Some(seg.data.distance_at_least(doc, near)), self.weights),
            _ => 1.0,
        };
        if lowest.is_some_and(|lowest| most(self.catalog.top_quality(), proximity) < lowest) {
            return;
        }
        let id = seg.data.ids[doc as usize];
        if self.seen.contains(&id) {
            return;
        }
        if let Some(lowest) = lowest {
            let Some(quality) = self.catalog.quality(id) else { return };
            if most(quality, proximity) < lowest {
                return;
            }
        }
        self.seen.insert(id);
        let Some(hot) = self.catalog.hot(id) else { return };
        let Some(distance_m) = admits(self.sq, hot) else { return };
        if self.wanted.is_some_and(|c| c != hot.category) {
            return;
        }
        let c = candidate(id, hot, tier, text, distance_m, self.weights);
        self.note_key(c.key);
        self.ordered.push(c);
    }

    /// The lowest of the best keys, once there are as many as the page needs.
    fn lowest_best_key(&self) -> Option<f64> {
        if self.best_keys.len() < self.best_wanted {
            return None;
        }
        self.best_keys.peek().map(|k| f64::from_bits(k.0))
    }

    fn note_key(&mut self, key: f64) {
        self.best_keys.push(Reverse(key.to_bits()));
        if self.best_keys.len() > self.best_wanted {
            self.best_keys.pop();
        }
    }

    /// The candidates for a relevance page: per word, every admitted document scored where
    /// it lies when there are few, else the best by text score from a pruned pass with the
    /// filters (radius included) checked from columns inside it.
    fn rank(&mut self) -> tantivy::Result<()> {
        let sq = self.sq;
        let need = sq.offset + sq.limit;
        let total = self.total();
        if self.ordered.len() >= need.min(total) {
            return Ok(());
        }
        self.best_wanted = need + sq.seen.len();
        self.best_keys.clear();
        for i in 0..self.ordered.len() {
            self.note_key(self.ordered[i].key);
        }
        let f = &self.gen.fields;
        let mut passes: Vec<(usize, Pass)> = Vec::new();
        for i in 0..self.terms.len() {
            if self.admitted[i] == 0 {
                continue;
            }
            let reach = self.reach_of(i);
            if self.admitted[i] > self.listed {
                let parts = word_parts(f, &self.terms[i].text, reach);
                passes.push((i, Pass::Pruned(parts)));
                continue;
            }
            if i >= self.words.len() {
                // What a word stands for is scored only if the page needs it.
                passes.push((i, Pass::Unscored));
                continue;
            }
            passes.push((i, Pass::Scored(Arc::new(self.score_each(i)?))));
        }
        // Every pass's top `n` by text score, re-ranked by the blend. The order is the same
        // whatever page asked: a page is taken from a pool once no document outside it
        // could rank above the page's last, and otherwise from the pool of each word's
        // best `MAX_DEPTH`, the pool of the deepest page; so pages never overlap or skip.
        let mut n = (need * 3).clamp(100, MAX_DEPTH);
        let mut considered = vec![0; self.terms.len()];
        loop {
            let mut exhausted = true;
            // Per term, the best text score a document outside its pool can have (`None`:
            // the pool holds all of the term's documents).
            let mut outside: Vec<Option<Score>> = vec![None; self.terms.len()];
            for (term, pass) in passes.iter_mut() {
                // A term whose groups all rank below `need` groups already found is not
                // needed for the page (nor for any page up to it): its groups stay out of
                // the pool, and they cannot outrank its last.
                if *term >= self.words.len() && self.filled_above(need, self.bound_tier(*term)) {
                    outside[*term] = Some(Score::INFINITY);
                    continue;
                }
                if let Pass::Unscored = pass {
                    *pass = Pass::Scored(Arc::new(self.score_each(*term)?));
                }
                if let Pass::Pruned(parts) = pass {
                    *pass = Pass::Scored(self.pruned_pass(*term, parts, None)?);
                }
                let Pass::Scored(all) = pass else { unreachable!("scored above") };
                let top = &all[..n.min(all.len())];
                if top.len() >= n {
                    exhausted = false;
                    outside[*term] = Some(top.iter().map(|t| t.0).fold(Score::INFINITY, Score::min));
                }
                // The pool of a smaller `n` was considered already, and would be again to
                // the same end: a group kept then is seen, one turned away still would be.
                for i in considered[*term]..top.len() {
                    // The candidates' reads are scattered over large arrays: each is
                    // announced ahead, its document's id and location, then its group's
                    // quality and `Hot` (the id read here arrived meanwhile).
                    if let Some((_, a)) = top.get(i + 2 * PREFETCH_AHEAD) {
                        self.segments[a.segment_ord as usize].data.prefetch(a.doc_id);
                    }
                    if let Some((_, a)) = top.get(i + PREFETCH_AHEAD) {
                        let data = &self.segments[a.segment_ord as usize].data;
                        self.catalog.prefetch(data.ids[a.doc_id as usize]);
                    }
                    let (score, addr) = top[i];
                    self.consider(addr.segment_ord as usize, addr.doc_id, score, *term);
                }
                considered[*term] = top.len();
            }
            if exhausted || n >= MAX_DEPTH || self.settled(need, &outside) {
                break;
            }
            n = (n * 4).min(MAX_DEPTH);
        }
        Ok(())
    }

    /// Scores every admitted document of a term where it lies, best first: the sum of its
    /// clauses' scores, as the word's query sums them, but each clause seeks on its own
    /// (a union of clauses seeking to scattered documents refills a window of thousands
    /// of documents per seek).
    fn score_each(&mut self, term: usize) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let statistics = Statistics::new(self.searcher, &self.gen.fields, &self.gen.segments);
        let scoring = statistics.scoring();
        let weights = word_clauses(&self.gen.fields, &self.terms[term].text, self.reach_of(term))
            .into_iter()
            .map(|(_, q)| q.weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let mut scored: Vec<(Score, DocAddress)> = Vec::with_capacity(self.admitted[term]);
        for ord in 0..self.segments.len() {
            let docs = std::mem::take(&mut self.segments[ord].admitted[term]);
            if docs.is_empty() {
                continue;
            }
            let reader = self.searcher.segment_reader(ord as SegmentOrdinal);
            let mut scorers = weights.iter().map(|w| w.scorer(reader, 1.0)).collect::<tantivy::Result<Vec<_>>>()?;
            for doc in docs {
                let mut score = 0.0;
                for scorer in &mut scorers {
                    if scorer.doc() < doc {
                        scorer.seek(doc);
                    }
                    if scorer.doc() == doc {
                        score += scorer.score();
                    }
                }
                scored.push((score, DocAddress::new(ord as SegmentOrdinal, doc)));
            }
        }
        scored.sort_unstable_by(best_first);
        Ok(scored)
    }

    /// Whether at least `need` candidates have a tier above `tier`.
    fn filled_above(&self, need: usize, tier: u32) -> bool {
        self.ordered.iter().filter(|c| c.tier > tier).take(need).count() >= need
    }

    /// Whether the best `need` candidates are final: no group outside the pool could rank
    /// above the last of them. Groups holding every word (of several) as typed are all in
    /// the pool and rank first. Any other group outside is scored by its first term, whose
    /// pool it is not in: its text score is at most that pool's lowest (`outside`), its
    /// blend at most that times the term's weight and the best quality there is (proximity
    /// only lowers it), and its tier at most what a group holding that term and every
    /// later one would have.
    fn settled(&mut self, need: usize, outside: &[Option<Score>]) -> bool {
        if need == 0 || self.ordered.len() < need {
            return false;
        }
        let sort = self.sq.sort;
        self.ordered.select_nth_unstable_by(need - 1, |a, b| compare(sort, a, b));
        let last = self.ordered[need - 1];
        let every = self.every_tier();
        let several = self.words.len() > 1;
        if several && last.tier >= every {
            return true;
        }
        let top = self.catalog.top_quality();
        outside.iter().enumerate().all(|(t, bound)| {
            let Some(score) = bound else { return true };
            let mut tier = self.bound_tier(t);
            if several && tier >= every {
                tier = every - 1;
            }
            tier < last.tier || (tier == last.tier && last.blend > score * self.terms[t].weight * top)
        })
    }

    /// The pruned pass of a term with `parts`: its best `MAX_DEPTH` by text score under
    /// this query's filters, kept for the commit. One pass keeps them whatever pool a page
    /// asks for: a pass that has not measured the word's best score reads every document
    /// anyway, and a deeper pool is then more of the same list, not another pass. With
    /// `counted`, a pass run now also collects the term's match set (`best_by_text`); a
    /// pass kept from an earlier search leaves it empty.
    fn pruned_pass(
        &self,
        term: usize,
        parts: &[Part],
        counted: Option<&mut Vec<Bits>>,
    ) -> tantivy::Result<Arc<TopDocs>> {
        let sq = self.sq;
        let word = format!("{}|{:?}", self.terms[term].text, self.reach_of(term));
        let filters = format!(
            "{:?}|{:?}|{}|{}|{:?}|{:?}",
            self.wanted, sq.areas, sq.has_room, sq.open_join, sq.origin, sq.radius_m
        );
        let generation = self.searcher.generation().generation_id();
        self.gen.segments.pass(generation, &format!("{word}|{filters}"), || {
            best_by_text(
                self.searcher,
                &Statistics::new(self.searcher, &self.gen.fields, &self.gen.segments),
                &self.gen.segments,
                parts,
                &self.filter.with_category(self.wanted),
                &word,
                generation,
                MAX_DEPTH,
                counted,
            )
        })
    }

    /// Where a term is looked for: the words as typed at the run's reach, what they stand
    /// for in names only.
    fn reach_of(&self, term: usize) -> Reach {
        if self.terms[term].kind == Kind::Exact {
            self.reach
        } else {
            Reach::NameOnly
        }
    }

    /// The tier of a group holding each word as `best` says (`None`: not at all).
    fn tier(&self, best: &[Option<Kind>]) -> u32 {
        TierParts::of(&self.roles, best).tier(self.words.len() as u32)
    }

    /// The tier of a group holding every word as typed.
    fn every_tier(&self) -> u32 {
        self.tier(&vec![Some(Kind::Exact); self.words.len()])
    }

    /// The best tier of a group whose first term (in priority order) is `term`: it holds
    /// none before it.
    fn bound_tier(&self, term: usize) -> u32 {
        let mut best: Vec<Option<Kind>> = vec![None; self.words.len()];
        for q in &self.terms[term..] {
            best[q.word] = Some(best[q.word].map_or(q.kind, |k| k.min(q.kind)));
        }
        self.tier(&best)
    }

    fn total(&self) -> usize {
        match self.wanted {
            Some(c) => self.facets[c as usize] as usize,
            None => self.facets.iter().sum::<u64>() as usize,
        }
    }
}

/// Runs a search. Text searches take two passes over the index: an unscored pass over
/// the whole match set, one bitset per word per segment, for `total` and the facets (and,
/// for the plain sorts, the order; for relevance, the groups holding every word), and for
/// relevance a pass per word by text score whose candidates are re-ranked by the blended
/// score. Every candidate is checked against the catalog, which is always current, so
/// the index lagging a write never leaks a group.
pub fn search(engine: &Engine, weights: &RankingWeights, sq: &SearchQuery) -> anyhow::Result<Page> {
    let gen = engine.generation();
    let searcher = gen.reader.searcher();
    search_in(engine, &gen, &searcher, weights, sq)
}

/// A search's `total` and facets twice over one searcher: as readers get them, through the
/// word sets, passes and best scores the generation keeps, and counted afresh from the
/// index's postings and deletions with nothing kept. `check` compares the two.
pub fn count_twice(engine: &Engine, weights: &RankingWeights, sq: &SearchQuery) -> anyhow::Result<(Page, Page)> {
    let gen = engine.generation();
    let searcher = gen.reader.searcher();
    let kept = search_in(engine, &gen, &searcher, weights, sq)?;
    let fresh = Generation {
        name: gen.name.clone(),
        index: gen.index.clone(),
        reader: gen.reader.clone(),
        fields: gen.fields,
        segments: Arc::new(Segments::default()),
    };
    let counted = search_in(engine, &fresh, &searcher, weights, sq)?;
    Ok((kept, counted))
}

fn search_in(
    engine: &Engine,
    gen: &Generation,
    searcher: &tantivy::Searcher,
    weights: &RankingWeights,
    sq: &SearchQuery,
) -> anyhow::Result<Page> {
    let mut words = text::query_words(&sq.q);
    if words.is_empty() {
        // Text with nothing searchable in it (only punctuation or emoji) matches nothing;
        // no text at all browses.
        if !sq.q.trim().is_empty() {
            return Ok(Page { total: 0, hits: Vec::new(), facets: BTreeMap::new(), has_more: false });
        }
        return Ok(browse(&engine.catalog.read(), weights, sq));
    }
    let mut known_typos = Typos::new();
    if sq.expand {
        words = typo_parts(searcher, gen, text::query_parts(&sq.q), &mut known_typos)?;
    }
    // Pinyin typed with spaces (hu wai) means one word when the joined form is one.
    if words.len() > 1 && words.iter().all(|w| w.chars().all(|c| c.is_ascii_alphabetic())) {
        let joined = words.concat();
        if groups_holding(searcher, &gen.fields, &gen.segments, &joined, 0)? > 0 {
            words = vec![joined];
        }
    }
    let related = engine.terms();
    let words = related.join_known(words);
    let roles: Vec<Role> = words
        .iter()
        .map(|w| {
            if related.is_noise(w) {
                Role::Noise
            } else if engine.is_place(w) {
                Role::Place
            } else {
                Role::Interest
            }
        })
        .collect();
    let terms = query_terms(searcher, gen, &related, &words, weights, sq.expand, &mut known_typos)?;
    let catalog = engine.catalog.read();
    let flags = if sq.has_room { FLAG_ROOM } else { 0 } | if sq.open_join { FLAG_OPEN } else { 0 };
    let near = match (sq.origin, sq.radius_m) {
        (Some((lat, lon)), Some(r)) => Some(Near::new(lat, lon, r)),
        _ => None,
    };
    let mut run = Run {
        sq,
        weights,
        words,
        roles,
        terms,
        gen,
        searcher,
        catalog: &catalog,
        wanted: sq.category.as_deref().map(|c| catalog.category_index(c)),
        filter: DocFilter::new(&sq.areas, flags, None).within(near),
        reach: Reach::Names,
        segments: Vec::new(),
        facets: [0; 256],
        typed_found: false,
        admitted: Vec::new(),
        listed: EXHAUSTIVE,
        ordered: Vec::new(),
        seen: HashSet::default(),
        best_keys: BinaryHeap::new(),
        best_wanted: 0,
    };
    // The match set is the groups whose name, place or category matches a word; only when
    // there are none do descriptions and announcements count, so a query whose words exist
    // somewhere never comes back empty. What the words stand for does not count here: a
    // group holding a word as typed in its description ranks above one found through a
    // related term in its name.
    run.count()?;
    if !run.typed_found {
        run.reach = Reach::WithDescriptions;
        run.count()?;
    }
    let total = run.total();
    if sq.sort == SortBy::Relevance && total > 0 {
        run.rank()?;
    }
    let page = page_after(run.ordered, sq.offset, sq.limit, &sq.seen, |c| c.id, |a, b| compare(sq.sort, a, b));
    let explainer = Explainer {
        index: Some((searcher, &gen.fields, &gen.segments)),
        words: &run.words,
        roles: &run.roles,
        terms: &run.terms,
        reach: run.reach,
        weights,
        sort: sq.sort,
    };
    let marked: Vec<String> = run.terms.iter().map(|t| t.text.clone()).collect();
    Ok(finish(&catalog, sq, &marked, total, page, &run.facets, sq.explain.then_some(&explainer)))
}

/// At most this many terms stand for one word besides itself.
const MAX_EXPANSIONS: usize = 8;

/// A word of three or four characters found in at most this many groups as typed may be a
/// typo: it also finds the words one character away that the index holds.
const TYPO_RARE: u64 = 2;

/// The query's terms: each word as typed, then (with `expand`) the words it stands for:
/// its synonyms and related terms from the file, or for a rare Chinese word of three or
/// four characters, the words one character away (a typo). Noise words stand for nothing
/// else. Terms after the words as typed are in priority order: by kind, then by word.
fn query_terms(
    searcher: &tantivy::Searcher,
    gen: &Generation,
    related: &RelatedTerms,
    words: &[String],
    weights: &RankingWeights,
    expand: bool,
    known: &mut Typos,
) -> tantivy::Result<Vec<QueryTerm>> {
    let (f, segments) = (&gen.fields, &*gen.segments);
    let mut terms: Vec<QueryTerm> = words
        .iter()
        .enumerate()
        .map(|(word, text)| QueryTerm { text: text.clone(), word, kind: Kind::Exact, weight: 1.0 })
        .collect();
    if !expand {
        return Ok(terms);
    }
    for (word, text) in words.iter().enumerate() {
        if related.is_noise(text) {
            continue;
        }
        let mut found = related.expand(text);
        let len = text.chars().count();
        if found.is_empty() && (3..=text::NGRAM_MAX).contains(&len) && text.chars().all(text::is_cjk) {
            let rare = groups_holding(searcher, f, segments, text, TYPO_RARE)? <= TYPO_RARE;
            if rare {
                found = typos(searcher, f, segments, text, known)?.into_iter().map(|t| (t, Kind::Typo)).collect();
            }
        }
        if found.is_empty() && len >= 5 && text.chars().all(|c| c.is_ascii_lowercase()) {
            let rare = groups_holding(searcher, f, segments, text, TYPO_RARE)? <= TYPO_RARE;
            if rare {
                found = pinyin_start(searcher, f, segments, text)?.into_iter().map(|t| (t, Kind::Start)).collect();
            }
        }
        for (t, kind) in found.into_iter().take(MAX_EXPANSIONS) {
            if terms.iter().any(|q| q.text == t) {
                continue;
            }
            let weight = match kind {
                Kind::Exact => 1.0,
                Kind::Synonym => weights.synonym,
                Kind::Typo => weights.typo,
                Kind::Related | Kind::Start => weights.related,
            };
            terms.push(QueryTerm { text: t, word, kind, weight });
        }
    }
    terms[words.len()..].sort_by_key(|t| (t.kind, t.word));
    Ok(terms)
}

/// The longest start (three letters or more, shorter than the word) of a pinyin or
/// initials word that the names' pinyin holds: wzrykh finds the 王者荣耀 (wzry) groups
/// that are not 开黑 ones below those that are.
fn pinyin_start(
    searcher: &tantivy::Searcher,
    f: &Fields,
    segments: &Segments,
    word: &str,
) -> tantivy::Result<Option<String>> {
    for end in (3..word.len()).rev() {
        let start = &word[..end];
        if groups_holding(searcher, f, segments, start, 0)? > 0 {
            return Ok(Some(start.to_string()));
        }
    }
    Ok(None)
}

/// Query words again, with a part of three or four Chinese characters that jieba split
/// (车友汇 → 车友, 汇) taken whole when names hardly hold it and a typo's correction of
/// it exists: the person meant one word.
fn typo_parts(
    searcher: &tantivy::Searcher,
    gen: &Generation,
    parts: Vec<(String, Vec<String>)>,
    known: &mut Typos,
) -> tantivy::Result<Vec<String>> {
    let (f, segments) = (&gen.fields, &*gen.segments);
    let mut out = Vec::with_capacity(parts.len());
    for (part, words) in parts {
        let len = part.chars().count();
        let whole = words.len() > 1
            && (3..=text::NGRAM_MAX).contains(&len)
            && part.chars().all(text::is_cjk)
            && groups_holding(searcher, f, segments, &part, TYPO_RARE)? <= TYPO_RARE
            && !typos(searcher, f, segments, &part, known)?.is_empty();
        out.push(if whole { vec![part] } else { words });
    }
    Ok(text::words_of_parts(out))
}

/// At most this many corrections of one typo are searched.
const MAX_TYPOS: usize = 2;

/// Words of names one character away from `word` (one character changed, or two
/// neighbours swapped), of the same length: those whose changed character sounds like the
/// typed one first (the usual slip of a pinyin keyboard: 狼人沙 for 狼人杀), then by how many
/// groups hold them. A correction that does not sound alike must be held by two groups.
fn typos(
    searcher: &tantivy::Searcher,
    f: &Fields,
    segments: &Segments,
    word: &str,
    known: &mut Typos,
) -> tantivy::Result<Vec<String>> {
    if let Some(found) = known.get(word) {
        return Ok(found.clone());
    }
    let typed: Vec<char> = word.chars().collect();
    let mut found: HashMap<String, u64> = HashMap::new();
    let fuzzy = FuzzyTermQuery::new(Term::from_field_text(f.name, word), 1, true);
    let automaton = fuzzy.automaton()?;
    // The whole words of names, not every n-gram of them: corrections are words people
    // name groups with, and the dictionary walked is many times smaller.
    for reader in searcher.segment_readers() {
        let inverted = reader.inverted_index(f.name)?;
        let mut stream = inverted.terms().search(&automaton).into_stream()?;
        while stream.advance() {
            let Ok(t) = std::str::from_utf8(stream.key()) else { continue };
            if t.chars().count() == typed.len() && t != word {
                // Live documents only: a word that only deleted groups held is no correction.
                let held = stream.value().doc_freq;
                let dead = segments.get(reader)?.dead_holding(reader, &Term::from_field_text(f.name, t))?;
                if held > dead {
                    *found.entry(t.to_string()).or_default() += u64::from(held - dead);
                }
            }
        }
    }
    let mut ranked: Vec<(bool, u64, String)> = found
        .into_iter()
        .map(|(t, n)| {
            let chars: Vec<char> = t.chars().collect();
            let changed: Vec<usize> = (0..typed.len()).filter(|i| chars[*i] != typed[*i]).collect();
            let alike = match changed.as_slice() {
                [i] => text::sounds_alike(typed[*i], chars[*i]),
                _ => true,
            };
            (alike, n, t)
        })
        .filter(|(alike, n, _)| *alike || *n >= 2)
        .collect();
    // A correction that sounds like the typed word beats any that does not.
    if ranked.iter().any(|r| r.0) {
        ranked.retain(|r| r.0);
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let found: Vec<String> = ranked.into_iter().take(MAX_TYPOS).map(|(_, _, t)| t).collect();
    known.insert(word.to_string(), found.clone());
    Ok(found)
}

/// The corrections of the typos one search looked up, by word.
type Typos = HashMap<String, Vec<String>>;

/// Whether a discoverable group passes the search's filters, other than the category;
/// `Some(distance)` when it does (the distance only when the search gave a location).
fn admits(sq: &SearchQuery, hot: &Hot) -> Option<Option<f64>> {
    if (sq.has_room && !hot.has_room) || (sq.open_join && hot.join_approval) {
        return None;
    }
    if !sq.areas.is_empty() && !sq.areas.iter().any(|a| a.contains(hot.adcode)) {
        return None;
    }
    let distance_m = match sq.origin {
        Some((lat, lon)) if hot.located => Some(haversine_m(lat, lon, hot.lat, hot.lon)),
        _ => None,
    };
    if let Some(r) = sq.radius_m {
        if distance_m.is_none_or(|d| d > r) {
            return None;
        }
    }
    Some(distance_m)
}

/// `Candidate::by` of a group whose text score is fixed at 1.
const FIXED: u16 = u16::MAX;

fn candidate(
    id: i64,
    hot: &Hot,
    tier: u32,
    (text, by): (f32, u16),
    distance_m: Option<f64>,
    weights: &RankingWeights,
) -> Candidate {
    let blend = ranking::blend(text, hot.quality, distance_m, weights);
    Candidate {
        id,
        tier,
        text,
        by,
        blend,
        key: ranking::rank_key(tier, blend),
        distance_m,
        yesterday_messages: hot.yesterday_messages,
        active_members: hot.active_members,
        created_at: hot.created_at,
    }
}

/// Search without text: every discoverable group (or those within the radius), filtered.
fn browse(catalog: &Catalog, weights: &RankingWeights, sq: &SearchQuery) -> Page {
    let wanted = sq.category.as_deref().map(|c| catalog.category_index(c));
    let mut facets = [0u64; 256];
    let mut ordered = Vec::new();
    let mut consider = |id: i64, hot: &Hot| {
        let Some(distance_m) = admits(sq, hot) else { return };
        facets[hot.category as usize] += 1;
        if wanted.is_none_or(|c| c == hot.category) {
            ordered.push(candidate(id, hot, 0, (1.0, FIXED), distance_m, weights));
        }
    };
    match (sq.origin, sq.radius_m) {
        (Some((lat, lon)), Some(r)) => {
            for (_, id) in catalog.within_ids(lat, lon, r, None) {
                if let Some(hot) = catalog.hot(id) {
                    consider(id, hot);
                }
            }
        }
        _ => {
            for (id, hot) in catalog.hot_iter() {
                consider(id, hot);
            }
        }
    }
    let total = ordered.len();
    let page = page_after(ordered, sq.offset, sq.limit, &sq.seen, |c| c.id, |a, b| compare(sq.sort, a, b));
    let explainer =
        Explainer { index: None, words: &[], roles: &[], terms: &[], reach: Reach::Names, weights, sort: sq.sort };
    finish(catalog, sq, &[], total, page, &facets, sq.explain.then_some(&explainer))
}

/// Turns a page of candidates into hits with rows and highlights.
fn finish(
    catalog: &Catalog,
    sq: &SearchQuery,
    words: &[String],
    total: usize,
    page: Vec<Candidate>,
    facets: &[u64; 256],
    explainer: Option<&Explainer<'_>>,
) -> Page {
    let hits = page
        .into_iter()
        .filter_map(|c| {
            let group = catalog.get(c.id)?.clone();
            let quality = catalog.quality(c.id).unwrap_or(1.0);
            Some(Hit {
                highlight: text::highlight(&group.name, words),
                explain: explainer.map(|e| e.explain(&c, &group, quality)),
                group,
                distance_m: c.distance_m,
            })
        })
        .collect();
    let facets = catalog
        .categories()
        .iter()
        .enumerate()
        .filter(|(i, _)| facets[*i] > 0)
        .map(|(i, c)| (c.clone(), facets[i]))
        .collect();
    let end = sq.offset + sq.limit;
    Page { total, hits, facets, has_more: end < total && end < MAX_DEPTH }
}

/// What the explanation of a search's hits reads: the index (for which fields each term
/// matched, and with what score) and the query as the search ran it.
struct Explainer<'a> {
    index: Option<(&'a tantivy::Searcher, &'a Fields, &'a Segments)>,
    words: &'a [String],
    roles: &'a [Role],
    terms: &'a [QueryTerm],
    reach: Reach,
    weights: &'a RankingWeights,
    sort: SortBy,
}

impl Explainer<'_> {
    /// The explanation of one hit: the number it was ordered by and its parts.
    fn explain(&self, c: &Candidate, group: &GroupRow, quality: f32) -> Explain {
        let matched: Vec<(Value, f32)> = self
            .terms
            .iter()
            .map(|t| {
                self.explain_term(&t.text, if t.kind == Kind::Exact { self.reach } else { Reach::NameOnly }, group)
            })
            .collect();
        let held = |t: usize| matched[t].0.as_object().is_some_and(|m| !m.is_empty());
        let mut best: Vec<Option<Kind>> = vec![None; self.words.len()];
        for (t, q) in self.terms.iter().enumerate() {
            if held(t) {
                best[q.word] = Some(best[q.word].map_or(q.kind, |k| k.min(q.kind)));
            }
        }
        let words: Vec<Value> = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let expansions: Vec<Value> = self
                    .terms
                    .iter()
                    .enumerate()
                    .filter(|(t, q)| q.word == i && q.kind != Kind::Exact && held(*t))
                    .map(|(t, q)| {
                        json!({
                            "term": q.text,
                            "kind": q.kind.name(),
                            "weight": ranking::round(f64::from(q.weight)),
                            "fields": matched[t].0,
                            "score": ranking::round(f64::from(matched[t].1)),
                        })
                    })
                    .collect();
                json!({
                    "word": w,
                    "role": match self.roles.get(i) {
                        Some(Role::Place) => "place",
                        Some(Role::Noise) => "noise",
                        _ => "interest",
                    },
                    "held_as": best[i].map(Kind::name),
                    "fields": matched[i].0,
                    "score": ranking::round(f64::from(matched[i].1)),
                    "expansions": expansions,
                })
            })
            .collect();
        let scored_by = match self.terms.get(c.by as usize) {
            Some(t) if c.by != FIXED => {
                json!({"term": t.text, "kind": t.kind.name(), "weight": ranking::round(f64::from(t.weight))})
            }
            _ => Value::Null,
        };
        let mut quality_parts = ranking::explain_quality(group, self.weights);
        quality_parts["factor"] = json!(ranking::round(f64::from(quality)));
        let (score, order) = match self.sort {
            SortBy::Relevance => (c.key, "relevance: score, highest first"),
            SortBy::Distance => (c.distance_m.unwrap_or(f64::INFINITY), "distance: score is metres, nearest first"),
            SortBy::Activity => {
                (f64::from(c.yesterday_messages), "activity: score is yesterday's messages, then active members")
            }
            SortBy::Newest => (c.created_at as f64, "newest: score is the creation time (Unix seconds)"),
        };
        let text_note = if c.by == FIXED && !self.words.is_empty() {
            "the group holds every word as typed: text fixed at 1, ranked by quality and proximity"
        } else if self.words.is_empty() {
            "no text: text fixed at 1"
        } else {
            "BM25 of the term named by scored_by (the group's first term in priority order), summed over the \
             fields it matched, times the term's weight"
        };
        let parts = TierParts::of(self.roles, &best);
        Explain {
            score,
            parts: json!({
                "order": order,
                "formula": "score = tier + blend / (1 + blend); blend = text * quality * proximity",
                "tier": {
                    "value": c.tier,
                    "words": self.words.len(),
                    "words_held": best.iter().filter(|k| k.is_some()).count(),
                    "words_as_typed": parts.interests + parts.places,
                    "interest_words_as_typed": parts.interests,
                    "place_words_as_typed": parts.places,
                    "points": parts.points,
                    "noise_words_as_typed": parts.noise,
                    "formula": "((interest_words_as_typed * (words + 1) + place_words_as_typed) * (3 * words + 1) \
                                + points) * (words + 1) + noise_words_as_typed; points: 3 an interest or place word \
                                held as typed or by a synonym, 2 by a typo correction, 1 by a related term",
                },
                "text": {
                    "score": ranking::round(f64::from(c.text)),
                    "scored_by": scored_by,
                    "note": text_note,
                    "words": words,
                },
                "quality": quality_parts,
                "proximity": ranking::explain_proximity(c.distance_m, self.weights),
                "social": Value::Null,
                "blend": ranking::round(f64::from(c.blend)),
            }),
        }
    }

    /// Which fields of the group one term matched, each with its part of the term's text
    /// score, and that score.
    fn explain_term(&self, word: &str, reach: Reach, group: &GroupRow) -> (Value, f32) {
        let mut matched = serde_json::Map::new();
        let mut total = 0.0f32;
        if let Some((searcher, fields, segments)) = self.index {
            if let Some(addr) = doc_of(searcher, fields, group.id) {
                for (clause, query) in labelled_clauses(fields, word, reach) {
                    let Some(score) = clause_score(searcher, fields, segments, query.as_ref(), addr) else { continue };
                    total += score;
                    let name = clause_name(clause, word, group);
                    let entry = matched.entry(name).or_insert(json!(0.0));
                    *entry = json!(ranking::round(entry.as_f64().unwrap_or(0.0) + f64::from(score)));
                }
            }
        }
        (Value::Object(matched), total)
    }
}

/// What an explanation calls the part of a group a clause matched.
fn clause_name(clause: Clause, word: &str, group: &GroupRow) -> String {
    match clause {
        Clause::Place => {
            let place = [group.place_name.as_deref(), group.city.as_deref(), group.district.as_deref()];
            if place.into_iter().flatten().any(|p| text::normalize(p).contains(word)) {
                "place"
            } else {
                "category"
            }
        }
        Clause::Name => "name",
        Clause::NameInfix => "name_infix",
        Clause::NameCharacter => "name_character",
        Clause::Pinyin if word.chars().any(text::is_cjk) => "homophone",
        Clause::Pinyin if text::is_initials_of(&group.name, word) => "initials",
        Clause::Pinyin => "pinyin",
        Clause::Description => "description",
    }
    .to_string()
}

/// Where the live document of a group is.
fn doc_of(searcher: &tantivy::Searcher, f: &Fields, id: i64) -> Option<DocAddress> {
    let q = TermQuery::new(Term::from_field_u64(f.id, id as u64), IndexRecordOption::Basic);
    let found = searcher.search(&q, &tantivy::collector::DocSetCollector).ok()?;
    found.into_iter().next()
}

/// The score one clause gives a document, or `None` when it does not match it.
fn clause_score(
    searcher: &tantivy::Searcher,
    f: &Fields,
    segments: &Segments,
    query: &dyn Query,
    addr: DocAddress,
) -> Option<Score> {
    let weight = query.weight(Statistics::new(searcher, f, segments).scoring()).ok()?;
    let mut scorer = weight.scorer(searcher.segment_reader(addr.segment_ord), 1.0).ok()?;
    (scorer.seek(addr.doc_id) == addr.doc_id).then(|| scorer.score())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CategoryList;
    use crate::index::schema::{build_schema, make_document, register_tokenizers};
    use crate::store::groups::GroupText;
    use crate::store::GroupRow;
    use tantivy::collector::DocSetCollector;
    use tantivy::{Index, IndexWriter, TantivyDocument};

    /// Groups whose names, places and descriptions hold the words below in every way a
    /// word can be held: whole, inside a longer word, as characters, as pinyin or initials,
    /// in another reading, in Latin letters, in a place or only in a description.
    fn index() -> (Index, Fields) {
        let categories = CategoryList::from_text("outdoor 户外运动\ngaming 游戏\nfood 美食\n");
        let groups = [
            ("北京户外徒步群", "outdoor", Some(("北京市", "海淀区")), "周末一起去爬山"),
            ("户外爱好者", "outdoor", None, ""),
            ("重庆火锅美食群", "food", Some(("重庆市", "渝中区")), "火锅"),
            ("cosplay交流群", "gaming", None, "漫展"),
            ("AIGC创作者", "gaming", None, ""),
            ("海淀篮球", "outdoor", Some(("北京市", "海淀区")), ""),
            ("长沙音乐银行", "food", Some(("长沙市", "岳麓区")), ""),
            ("猫咪领养", "food", None, "爬山也带猫"),
            ("王者荣耀开黑", "gaming", None, ""),
            ("农业银行交流群", "food", None, ""),
            ("徒步旅行摄影俱乐部", "outdoor", None, ""),
            ("湖外钓鱼", "outdoor", None, ""),
        ];
        let (schema, f) = build_schema();
        let index = Index::create_in_ram(schema);
        register_tokenizers(&index);
        let mut writer: IndexWriter<TantivyDocument> = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for (id, (name, category, place, description)) in groups.into_iter().enumerate() {
            let row = GroupRow {
                name: name.into(),
                category: category.into(),
                city: place.map(|p| p.0.into()),
                district: place.map(|p| p.1.into()),
                ..GroupRow::sample(id as i64 + 1)
            };
            let text = GroupText { row, description: description.into(), announcement: String::new() };
            writer.add_document(make_document(&f, &text, &categories).expect("listed")).unwrap();
        }
        writer.commit().unwrap();
        (index, f)
    }

    fn matched(searcher: &tantivy::Searcher, clauses: Vec<(Occur, Box<dyn Query>)>) -> Vec<DocAddress> {
        let mut docs: Vec<DocAddress> =
            searcher.search(&BooleanQuery::new(clauses), &DocSetCollector).unwrap().into_iter().collect();
        docs.sort();
        docs
    }

    /// The documents of per-segment sets, in order.
    fn documents(sets: &[Bits]) -> Vec<DocAddress> {
        let mut docs = Vec::new();
        for (ord, bits) in sets.iter().enumerate() {
            bits.for_each(|doc| docs.push(DocAddress::new(ord as u32, doc)));
        }
        docs
    }

    fn counted(searcher: &tantivy::Searcher, sources: &[Source]) -> Vec<DocAddress> {
        let sets: Vec<Bits> =
            searcher.segment_readers().iter().map(|reader| Bits::of(sources, searcher, reader).unwrap()).collect();
        documents(&sets)
    }

    #[test]
    fn counting_matches_the_groups_the_scored_query_matches() {
        let (index, f) = index();
        let searcher = index.reader().unwrap().searcher();
        let words = [
            "户外",
            "徒步",
            "户",
            "猫",
            "hw",
            "huwai",
            "hwtb",
            "cos",
            "cosplay",
            "ai",
            "aigc",
            "海淀",
            "北京",
            "重庆",
            "chongqing",
            "火锅美食",
            "yinhang",
            "yinyue",
            "摄影俱乐部",
            "旅行摄影俱乐部",
            "爬山",
            "游戏",
            "漫展",
        ];
        let mut found = 0;
        for word in words {
            for reach in [Reach::Names, Reach::WithDescriptions, Reach::NameOnly] {
                let counted = counted(&searcher, &count_sources(&f, word, reach));
                let scored = matched(&searcher, word_clauses(&f, word, reach));
                assert_eq!(counted, scored, "{word} at {reach:?}");
                found += usize::from(!counted.is_empty());
            }
        }
        // Most of the words are found somewhere: the comparison is not of empty sets.
        assert!(found >= 50, "{found}");
    }

    #[test]
    fn scoring_term_by_term_finds_what_the_scored_query_finds() {
        let (index, f) = index();
        let searcher = index.reader().unwrap().searcher();
        let live = Segments::default();
        let statistics = Statistics::new(&searcher, &f, &live);
        let words = ["户外", "徒步", "户", "猫", "hw", "huwai", "cos", "海淀", "北京", "火锅美食", "爬山", "游戏"];
        let filters =
            [DocFilter::new(&[], 0, None), DocFilter::new(&[], 0, Some(0)), DocFilter::new(&[], FLAG_OPEN, None)];
        let mut compared = 0;
        for word in words {
            for reach in [Reach::Names, Reach::WithDescriptions, Reach::NameOnly] {
                let parts = word_parts(&f, word, reach);
                assert!(parts.iter().all(|p| p.terms.len() == 1), "{word}: term parts only");
                let query = BooleanQuery::new(parts.iter().map(|p| (Occur::Should, p.query())).collect());
                for filter in &filters {
                    // Few kept (the top halved and refilled), and all of them.
                    for k in [1, 2, 3, 100] {
                        let key = format!("{word}|{reach:?}|{k}");
                        let segments = Segments::default();
                        let by_query =
                            FilteredTop { k, filter: filter.clone(), segments: &segments, key, generation: 1 };
                        let expected =
                            searcher.search_with_statistics_provider(&query, &by_query, &statistics).unwrap();
                        // The first pass measures each segment's best score; the second
                        // may stop at it.
                        let segments = Segments::default();
                        for _ in 0..2 {
                            let mut held = Vec::new();
                            let found = best_by_text(
                                &searcher,
                                &statistics,
                                &segments,
                                &parts,
                                filter,
                                word,
                                1,
                                k,
                                Some(&mut held),
                            )
                            .unwrap();
                            assert_eq!(found, expected, "{word} at {reach:?}, k {k}");
                            // Counted as it went: the word's match set, whether the pass
                            // stopped early or not.
                            let expected = counted(&searcher, &count_sources(&f, word, reach));
                            assert_eq!(documents(&held), expected, "{word} at {reach:?}");
                        }
                        compared += usize::from(!expected.is_empty());
                    }
                }
            }
        }
        assert!(compared >= 150, "{compared}");
    }

    #[test]
    fn groups_holding_a_word_are_counted_exactly_when_few() {
        let (index, f) = index();
        let searcher = index.reader().unwrap().searcher();
        let s = Segments::default();
        // 海淀 is in two names' bigrams and two places, the same two groups.
        assert_eq!(groups_holding(&searcher, &f, &s, "海淀", 2).unwrap(), 2);
        // 户外 is in two names and in the category label of four groups.
        assert_eq!(groups_holding(&searcher, &f, &s, "户外", 10).unwrap(), 5);
        // huwai: 户外 in two names, and 湖外 sounds the same.
        assert_eq!(groups_holding(&searcher, &f, &s, "huwai", 2).unwrap(), 3);
        assert_eq!(groups_holding(&searcher, &f, &s, "cos", 0).unwrap(), 1);
        assert_eq!(groups_holding(&searcher, &f, &s, "爬山", 2).unwrap(), 0);
        assert!(groups_holding(&searcher, &f, &s, "户外", 1).unwrap() > 1);
    }
}
