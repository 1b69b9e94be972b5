//! Text search. Text matching and scoring run in tantivy; the count, facets and filters over
//! per-segment columns (`segments.rs`, `matchset.rs`); the final checks, distances and the
//! blended ranking over the in-memory catalog.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::query::{EnableScoring, Scorer, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, Term, TERMINATED};

use super::catalog::{Catalog, Hot};
use super::matchset::{for_each_in_intersection, for_each_in_union, Bits, DocFilter};
use super::schema::Fields;
use super::searcher::{page_after, MAX_DEPTH};
use super::segments::{Near, SegmentData, Segments, WordMatch, FLAG_OPEN, FLAG_ROOM};
use super::text;
use super::{Engine, Generation};
use crate::config::RankingWeights;
use crate::geo::{haversine_m, AreaPrefix};
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

fn term_query(field: tantivy::schema::Field, word: &str, boost: f32) -> Box<dyn Query> {
    let q = TermQuery::new(Term::from_field_text(field, word), IndexRecordOption::WithFreqs);
    Box::new(BoostQuery::new(Box::new(q), boost))
}

/// The same match set as `word_clauses`, for counting: one posting list of the `all` field
/// stands for the bigram, n-gram, character, pinyin and place fields (the whole-word name
/// term matches a subset of the n-grams); only a word longer than the n-grams still needs
/// its bigram phrase.
fn count_clauses(f: &Fields, word: &str, fields: Reach) -> Vec<(Occur, Box<dyn Query>)> {
    let basic = |field: tantivy::schema::Field, t: &str| -> (Occur, Box<dyn Query>) {
        (Occur::Should, Box::new(TermQuery::new(Term::from_field_text(field, t), IndexRecordOption::Basic)))
    };
    let cjk_len = word.chars().filter(|c| text::is_cjk(*c)).count();
    let mut clauses = vec![basic(f.all, word)];
    if cjk_len == word.chars().count() && cjk_len >= 2 {
        let (full, _) = text::pinyin_of(word);
        if !full.is_empty() {
            clauses.push(basic(f.all, &full));
        }
        if cjk_len > text::NGRAM_MAX {
            let grams = text::word_bigrams(word);
            let phrase = PhraseQuery::new(grams.iter().map(|g| Term::from_field_text(f.name_bi, g)).collect());
            clauses.push((Occur::Should, Box::new(phrase)));
        }
    }
    if fields == Reach::WithDescriptions {
        clauses.push(basic(f.body, word));
    }
    clauses
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
    let cjk_len = word.chars().filter(|c| text::is_cjk(*c)).count();
    let all_cjk = cjk_len == word.chars().count();
    let mut clauses: Vec<(Clause, Box<dyn Query>)> =
        vec![(Clause::Place, term_query(f.place, word, 2.0)), (Clause::Name, term_query(f.name, word, 3.0))];
    if fields == Reach::WithDescriptions {
        clauses.push((Clause::Description, term_query(f.body, word, 0.4)));
    }
    if all_cjk && cjk_len >= 2 {
        // Any substring of a name: its bigrams in a row.
        let grams = text::word_bigrams(word);
        let q: Box<dyn Query> = if grams.len() == 1 {
            Box::new(TermQuery::new(Term::from_field_text(f.name_bi, &grams[0]), IndexRecordOption::WithFreqs))
        } else if cjk_len <= text::NGRAM_MAX {
            Box::new(TermQuery::new(Term::from_field_text(f.name_ng, word), IndexRecordOption::WithFreqs))
        } else {
            Box::new(PhraseQuery::new(grams.iter().map(|g| Term::from_field_text(f.name_bi, g)).collect()))
        };
        clauses.push((Clause::NameInfix, Box::new(BoostQuery::new(q, 2.0))));
        // Homophones: the same pinyin in other characters, well below the characters.
        let (full, _) = text::pinyin_of(word);
        if !full.is_empty() {
            clauses.push((Clause::Pinyin, term_query(f.name_py, &full, 0.3)));
        }
    } else if all_cjk && cjk_len == 1 {
        clauses.push((Clause::NameCharacter, term_query(f.name_ch, word, 1.5)));
    } else if word.chars().all(|c| c.is_ascii_alphabetic()) {
        // Pinyin or initials typed in Latin letters, or the start of a Latin word.
        clauses.push((Clause::Pinyin, term_query(f.name_py, word, 1.2)));
        clauses.push((Clause::NameInfix, term_query(f.name_bi, word, 1.0)));
        clauses.push((Clause::NameCharacter, term_query(f.name_ch, word, 0.8)));
    } else {
        clauses.push((Clause::NameInfix, term_query(f.name_bi, word, 1.0)));
    }
    clauses
}

/// Which fields a word may match: names, places and categories only, or descriptions and
/// announcements too. Name matches are what people look for; description matches widen
/// the match set and come after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Names,
    WithDescriptions,
}

/// Documents matching the word, scored: one flat union of its term clauses, which is what
/// Block-WAND can prune.
fn word_query(f: &Fields, word: &str, reach: Reach) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(word_clauses(f, word, reach)))
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
/// (category, area, room, open join). The filters run inside tantivy's pruning loop, so
/// Block-WAND still skips what cannot beat the k-th best admitted score. Ties go to the
/// earlier document (documents are written most active first).
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
        let mut all: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(self.k);
        Ok(all)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let data = self.segments.get(reader)?;
        let filter = self.filter.for_segment(&data);
        let alive = reader.alive_bitset();
        // A min-heap on (score, later doc first): the root is the weakest kept entry.
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(OrderedScore, std::cmp::Reverse<DocId>)>> =
            std::collections::BinaryHeap::with_capacity(self.k + 1);
        // Documents are scored one by one: tantivy's Block-WAND would skip blocks by their
        // stored maximum, which fields without length norms record as zero, and so would
        // drop good matches once the heap is full. What makes the pass short instead is
        // the segment's best score, once a full pass has measured it: many documents share
        // it, a reindex writes the most active first, and once the top holds k of them
        // nothing later can enter.
        let best = data.best_score(self.generation, &self.key);
        let mut seen_best = Score::MIN;
        let mut threshold = Score::MIN;
        let mut scorer = weight.scorer(reader, 1.0)?;
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            let score = scorer.score();
            seen_best = seen_best.max(score);
            if score > threshold && alive.is_none_or(|a| a.is_alive(doc)) && filter.passes(doc) {
                heap.push(std::cmp::Reverse((OrderedScore(score), std::cmp::Reverse(doc))));
                if heap.len() > self.k {
                    heap.pop();
                }
                if heap.len() == self.k {
                    threshold = heap.peek().map_or(Score::MIN, |r| r.0 .0 .0);
                    if best.is_some_and(|b| threshold >= b) {
                        break;
                    }
                }
            }
            doc = scorer.advance();
        }
        if best.is_none() && doc == TERMINATED {
            data.note_best_score(self.generation, &self.key, seen_best);
        }
        Ok(heap
            .into_iter()
            .map(|std::cmp::Reverse((OrderedScore(score), std::cmp::Reverse(doc)))| (score, DocAddress::new(ord, doc)))
            .collect())
    }
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

/// A score with a total order, for the heap.
#[derive(Clone, Copy, PartialEq)]
struct OrderedScore(Score);

impl Eq for OrderedScore {}

impl PartialOrd for OrderedScore {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedScore {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The weights (scoring disabled) of each word's counting clauses.
fn count_weights(
    searcher: &tantivy::Searcher,
    f: &Fields,
    words: &[String],
    reach: Reach,
) -> tantivy::Result<Vec<Vec<Box<dyn Weight>>>> {
    words
        .iter()
        .map(|w| {
            count_clauses(f, w, reach)
                .into_iter()
                .map(|(_, q)| q.weight(EnableScoring::disabled_from_searcher(searcher)))
                .collect()
        })
        .collect()
}

/// At most this many admitted documents, a word's candidates are all of them, each scored
/// where it lies; above, a pruned top-N pass by text score finds them.
const EXHAUSTIVE: usize = 1000;

/// Where one word's best documents by text score come from.
enum Pass {
    /// Every admitted document, scored, best first.
    Scored(Vec<(Score, DocAddress)>),
    /// A pruned top-N pass over the index, for the word.
    Pruned(String, Box<dyn Query>),
}

/// What the counting pass keeps of one segment for the page pass.
struct SegmentMatch {
    data: Arc<SegmentData>,
    /// Each word's match set (deleted documents included).
    words: Vec<Arc<WordMatch>>,
    /// Per word, its admitted documents in doc order, while it has at most `EXHAUSTIVE`.
    admitted: Vec<Vec<DocId>>,
}

/// One search in progress: the query, the snapshot it reads and what it has found.
struct Run<'a> {
    sq: &'a SearchQuery,
    weights: &'a RankingWeights,
    words: Vec<String>,
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
    /// Admitted documents per word, across segments.
    admitted: Vec<usize>,
    ordered: Vec<Candidate>,
    seen: HashSet<i64, ahash::RandomState>,
}

impl Run<'_> {
    /// Counts the match set at the current reach: facets, the admitted documents per word,
    /// every candidate for the plain sorts, and for relevance the groups holding every word.
    fn count(&mut self) -> tantivy::Result<()> {
        let sq = self.sq;
        // Built on the first segment that has not cached a word's set.
        let mut word_weights: Option<Vec<Vec<Box<dyn Weight>>>> = None;
        let reach_tag = if self.reach == Reach::Names { "n" } else { "d" };
        let keys: Vec<String> = self.words.iter().map(|w| format!("{reach_tag}:{w}")).collect();
        // For relevance, counted from the index's columns (as of the last commit, at most
        // half a second behind the store); the plain sorts need every candidate's keys from
        // the catalog anyway.
        let relevance = sq.sort == SortBy::Relevance;
        let several = self.words.len() > 1;
        // Without area, room, open-join or radius filters, the words' own facets add up to
        // the count (less their intersection's, for two words).
        let unfiltered = relevance && self.filter.without_category_admits_all();
        self.facets = [0; 256];
        self.admitted = vec![0; self.words.len()];
        self.ordered.clear();
        self.seen.clear();
        self.segments.clear();
        let mut every: Vec<i64> = Vec::new();
        for reader in self.searcher.segment_readers() {
            let data = self.gen.segments.get(reader)?;
            let mut word_sets: Vec<Arc<WordMatch>> = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                word_sets.push(data.word(key, reader, || {
                    let weights = match &mut word_weights {
                        Some(w) => w,
                        none => none.insert(count_weights(self.searcher, &self.gen.fields, &self.words, self.reach)?),
                    };
                    Bits::of(&weights[i], reader)
                })?);
            }
            let bits: Vec<&Bits> = word_sets.iter().map(|w| &*w.bits).collect();
            let alive = reader.alive_bitset();
            let mut lists: Vec<Vec<DocId>> = vec![Vec::new(); self.words.len()];
            let (catalog, wanted, weights) = (self.catalog, self.wanted, self.weights);
            let (facets, admitted, ordered) = (&mut self.facets, &mut self.admitted, &mut self.ordered);
            let filter = self.filter.for_segment(&data);
            let keep = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc)) && filter.passes(doc);
            if unfiltered && bits.len() <= 2 {
                for w in &word_sets {
                    facets.iter_mut().zip(w.facets.iter()).for_each(|(f, n)| *f += u64::from(*n));
                }
                if several {
                    for_each_in_intersection(&bits, |doc| {
                        if alive.is_none_or(|a| a.is_alive(doc)) {
                            let category = data.category(doc);
                            facets[category as usize] -= 1;
                            if wanted.is_none_or(|c| c == category) {
                                every.push(data.ids[doc as usize]);
                            }
                        }
                    });
                }
            } else if unfiltered {
                for_each_in_union(&bits, |doc| {
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        facets[data.category(doc) as usize] += 1;
                    }
                });
            } else {
                for_each_in_union(&bits, |doc| {
                    if !keep(doc) {
                        return;
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
                        for (i, set) in bits.iter().enumerate() {
                            if set.contains(doc) {
                                admitted[i] += 1;
                                if admitted[i] <= EXHAUSTIVE {
                                    lists[i].push(doc);
                                }
                            }
                        }
                    }
                });
            }
            if unfiltered {
                // Each word's admitted documents: its live matches (in the category).
                for (i, w) in word_sets.iter().enumerate() {
                    admitted[i] += match wanted {
                        Some(c) => w.facets[c as usize] as usize,
                        None => w.facets.iter().map(|n| *n as usize).sum(),
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
            // The two-word count above walked the intersection already.
            if relevance && several && !(unfiltered && bits.len() <= 2) {
                for_each_in_intersection(&bits, |doc| {
                    if keep(doc) && wanted.is_none_or(|c| c == data.category(doc)) {
                        every.push(data.ids[doc as usize]);
                    }
                });
            }
            self.segments.push(SegmentMatch { data, words: word_sets, admitted: lists });
        }
        if several {
            self.take_every(every);
        }
        Ok(())
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
        let tier = self.words.len() as u32;
        for id in ids {
            let Some(hot) = self.catalog.hot(id) else { continue };
            let Some(distance_m) = admits(self.sq, hot) else { continue };
            if self.wanted.is_none_or(|c| c == hot.category) && self.seen.insert(id) {
                self.ordered.push(candidate(id, hot, tier, (1.0, FIXED), distance_m, self.weights));
            }
        }
    }

    /// Adds one scored document as a candidate, once.
    fn consider(&mut self, segment_ord: usize, doc: DocId, score: Score, word: usize) {
        let seg = &self.segments[segment_ord];
        let id = seg.data.ids[doc as usize];
        if !self.seen.insert(id) {
            return;
        }
        let Some(hot) = self.catalog.hot(id) else { return };
        let Some(distance_m) = admits(self.sq, hot) else { return };
        if self.wanted.is_some_and(|c| c != hot.category) {
            return;
        }
        // How many of the words' match sets hold the group; holding every word ranks by
        // quality alone, as `take_every` does.
        let tier = seg.words.iter().filter(|w| w.bits.contains(doc)).count().max(1) as u32;
        let text = if tier > 1 && tier as usize == self.words.len() { (1.0, FIXED) } else { (score, word as u16) };
        self.ordered.push(candidate(id, hot, tier, text, distance_m, self.weights));
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
        let f = &self.gen.fields;
        let mut passes: Vec<(usize, Pass)> = Vec::new();
        for i in 0..self.words.len() {
            if self.admitted[i] == 0 {
                continue;
            }
            let query = word_query(f, &self.words[i], self.reach);
            if self.admitted[i] > EXHAUSTIVE {
                passes.push((i, Pass::Pruned(self.words[i].clone(), query)));
                continue;
            }
            // Few enough to score each where it lies.
            let weight = query.weight(EnableScoring::enabled_from_searcher(self.searcher))?;
            let mut scored: Vec<(Score, DocAddress)> = Vec::with_capacity(self.admitted[i]);
            for ord in 0..self.segments.len() {
                let docs = std::mem::take(&mut self.segments[ord].admitted[i]);
                if docs.is_empty() {
                    continue;
                }
                let mut scorer = weight.scorer(self.searcher.segment_reader(ord as SegmentOrdinal), 1.0)?;
                for doc in docs {
                    if scorer.doc() < doc {
                        scorer.seek(doc);
                    }
                    let score = if scorer.doc() == doc { scorer.score() } else { 0.0 };
                    scored.push((score, DocAddress::new(ord as SegmentOrdinal, doc)));
                }
            }
            scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            passes.push((i, Pass::Scored(scored)));
        }
        // Every pass's top `n` by text score, re-ranked by the blend. The order is the same
        // whatever page asked: a page is taken from a pool once no document outside it
        // could rank above the page's last, and otherwise from the pool of each word's
        // best `MAX_DEPTH`, the pool of the deepest page; so pages never overlap or skip.
        let mut n = (need * 3).clamp(100, MAX_DEPTH);
        loop {
            let mut exhausted = true;
            // The best text score a document outside the pool can have.
            let mut outside: Score = 0.0;
            for (word, pass) in &passes {
                let top = match pass {
                    Pass::Scored(all) => all[..n.min(all.len())].to_vec(),
                    Pass::Pruned(word, query) => {
                        let key = format!(
                            "{word}|{:?}|{n}|{:?}|{:?}|{}|{}|{:?}|{:?}",
                            self.reach, self.wanted, sq.areas, sq.has_room, sq.open_join, sq.origin, sq.radius_m
                        );
                        let generation = self.searcher.generation().generation_id();
                        let top = self.gen.segments.pass(generation, &key, || {
                            let filter = self.filter.with_category(self.wanted);
                            self.searcher.search(
                                query.as_ref(),
                                &FilteredTop {
                                    k: n,
                                    filter,
                                    segments: &self.gen.segments,
                                    key: format!("{word}|{:?}", self.reach),
                                    generation,
                                },
                            )
                        })?;
                        top.as_ref().clone()
                    }
                };
                if top.len() >= n {
                    exhausted = false;
                    outside = outside.max(top.iter().map(|t| t.0).fold(Score::INFINITY, Score::min));
                }
                for (score, addr) in top {
                    self.consider(addr.segment_ord as usize, addr.doc_id, score, *word);
                }
            }
            if exhausted || n >= MAX_DEPTH || self.settled(need, outside) {
                break;
            }
            n = (n * 4).min(MAX_DEPTH);
        }
        Ok(())
    }

    /// Whether the best `need` candidates are final: none outside the pool, whose text
    /// scores are at most `outside`, could rank above the last of them. Groups holding
    /// every word (of several) are all in the pool and rank first. Of one or two words,
    /// any other group outside holds one word, seen by one pass only, and its blend is at
    /// most `outside` times the best quality there is (proximity only lowers it). With
    /// more words, a partial match's score depends on which pass saw it first, so only
    /// the pool of the deepest page settles it.
    fn settled(&mut self, need: usize, outside: Score) -> bool {
        if need == 0 || self.ordered.len() < need {
            return false;
        }
        let sort = self.sq.sort;
        self.ordered.select_nth_unstable_by(need - 1, |a, b| compare(sort, a, b));
        let last = &self.ordered[need - 1];
        let len = self.words.len() as u32;
        if len > 1 && last.tier == len {
            return true;
        }
        len <= 2 && last.blend > outside * self.catalog.top_quality()
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
    let mut words = text::query_words(&sq.q);
    if words.is_empty() {
        // Text with nothing searchable in it (only punctuation or emoji) matches nothing;
        // no text at all browses.
        if !sq.q.trim().is_empty() {
            return Ok(Page { total: 0, hits: Vec::new(), facets: BTreeMap::new(), has_more: false });
        }
        return Ok(browse(&engine.catalog.read(), weights, sq));
    }
    let gen = engine.generation();
    let searcher = gen.reader.searcher();
    // Pinyin typed with spaces (hu wai) means one word when the joined form is one.
    if words.len() > 1 && words.iter().all(|w| w.chars().all(|c| c.is_ascii_alphabetic())) {
        let joined = words.concat();
        if searcher.doc_freq(&Term::from_field_text(gen.fields.name_py, &joined))? > 0 {
            words = vec![joined];
        }
    }
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
        gen: &gen,
        searcher: &searcher,
        catalog: &catalog,
        wanted: sq.category.as_deref().map(|c| catalog.category_index(c)),
        filter: DocFilter::new(&sq.areas, flags, None).within(near),
        reach: Reach::Names,
        segments: Vec::new(),
        facets: [0; 256],
        admitted: Vec::new(),
        ordered: Vec::new(),
        seen: HashSet::default(),
    };
    // The match set is the groups whose name, place or category matches a word; only when
    // there are none do descriptions and announcements count, so a query whose words exist
    // somewhere never comes back empty.
    run.count()?;
    if run.facets.iter().all(|n| *n == 0) {
        run.reach = Reach::WithDescriptions;
        run.count()?;
    }
    let total = run.total();
    if sq.sort == SortBy::Relevance && total > 0 {
        run.rank()?;
    }
    let page = page_after(run.ordered, sq.offset, sq.limit, &sq.seen, |c| c.id, |a, b| compare(sq.sort, a, b));
    let explainer = Explainer {
        index: Some((&searcher, &gen.fields)),
        words: &run.words,
        reach: run.reach,
        weights,
        sort: sq.sort,
    };
    Ok(finish(&catalog, sq, &run.words, total, page, &run.facets, sq.explain.then_some(&explainer)))
}

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
    let explainer = Explainer { index: None, words: &[], reach: Reach::Names, weights, sort: sq.sort };
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

/// What the explanation of a search's hits reads: the index (for which fields each word
/// matched, and with what score) and the query as the search ran it.
struct Explainer<'a> {
    index: Option<(&'a tantivy::Searcher, &'a Fields)>,
    words: &'a [String],
    reach: Reach,
    weights: &'a RankingWeights,
    sort: SortBy,
}

impl Explainer<'_> {
    /// The explanation of one hit: the number it was ordered by and its parts.
    fn explain(&self, c: &Candidate, group: &GroupRow, quality: f32) -> Explain {
        let words: Vec<Value> = self.words.iter().map(|w| self.explain_word(w, group)).collect();
        let scored_by = match self.words.get(c.by as usize) {
            Some(w) if c.by != FIXED => json!(w),
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
            "the group holds every word: text fixed at 1, ranked by quality and proximity"
        } else if self.words.is_empty() {
            "no text: text fixed at 1"
        } else {
            "BM25 of the word named by scored_by, summed over the fields it matched"
        };
        Explain {
            score,
            parts: json!({
                "order": order,
                "formula": "score = tier + blend / (1 + blend); blend = text * quality * proximity",
                "tier": {
                    "value": c.tier,
                    "words_held": c.tier,
                    "words": self.words.len(),
                    "note": "how many of the query's words the group holds; a higher tier always ranks first",
                },
                "text": {"score": ranking::round(f64::from(c.text)), "scored_by": scored_by, "note": text_note, "words": words},
                "quality": quality_parts,
                "proximity": ranking::explain_proximity(c.distance_m, self.weights),
                "social": Value::Null,
                "blend": ranking::round(f64::from(c.blend)),
            }),
        }
    }

    /// Which fields of the group one query word matched, each with its part of the word's
    /// text score.
    fn explain_word(&self, word: &str, group: &GroupRow) -> Value {
        let mut matched = serde_json::Map::new();
        let mut total = 0.0f32;
        if let Some((searcher, fields)) = self.index {
            if let Some(addr) = doc_of(searcher, fields, group.id) {
                for (clause, query) in labelled_clauses(fields, word, self.reach) {
                    let Some(score) = clause_score(searcher, query.as_ref(), addr) else { continue };
                    total += score;
                    let name = clause_name(clause, word, group);
                    let entry = matched.entry(name).or_insert(json!(0.0));
                    *entry = json!(ranking::round(entry.as_f64().unwrap_or(0.0) + f64::from(score)));
                }
            }
        }
        json!({"word": word, "score": ranking::round(f64::from(total)), "fields": matched})
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
fn clause_score(searcher: &tantivy::Searcher, query: &dyn Query, addr: DocAddress) -> Option<Score> {
    let weight = query.weight(EnableScoring::enabled_from_searcher(searcher)).ok()?;
    let mut scorer = weight.scorer(searcher.segment_reader(addr.segment_ord), 1.0).ok()?;
    (scorer.seek(addr.doc_id) == addr.doc_id).then(|| scorer.score())
}
