//! Per-segment copies of what search checks for every matching document (group id,
//! category, area code, flags, location) as plain arrays indexed by doc id, built once when
//! a segment first becomes searchable. Reading a tantivy column per document costs several
//! times an array load, and a text search visits tens of thousands of documents.
//!
//! Each segment also keeps the match sets of recently searched words with their facets,
//! brought up to date after deletions from the documents deleted since.
//!
//! The warmer that builds these at every commit also touches every page of a new segment's
//! files once, so the first queries after a start, a commit or a reindex do not pay a page
//! fault per posting block.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use tantivy::index::{SegmentComponent, SegmentId};
use tantivy::schema::IndexRecordOption;
use tantivy::{Directory, DocId, DocSet, Searcher, SearcherGeneration, SegmentReader, Term, Warmer, TERMINATED};

use super::geocells::CellSize;
use super::matchset::Bits;
use crate::geo::{haversine_m, unit_xyz, EARTH_RADIUS_M};
use crate::memory::PREFETCH_AHEAD;

/// Bit 0 of `flags`: the group has room; bit 1: it can be joined without approval.
pub const FLAG_ROOM: u8 = 1;
pub const FLAG_OPEN: u8 = 2;

/// The deleted documents of a segment at one count of deletions (deletions only grow).
pub struct Dead {
    deletes: u32,
    words: Vec<u64>,
}

impl Dead {
    fn of(reader: &SegmentReader) -> Option<Arc<Dead>> {
        let alive = reader.alive_bitset()?;
        let mut words = vec![0u64; (reader.max_doc() as usize).div_ceil(64)];
        for doc in 0..reader.max_doc() {
            if !alive.is_alive(doc) {
                words[doc as usize >> 6] |= 1 << (doc & 63);
            }
        }
        Some(Arc::new(Dead { deletes: reader.num_deleted_docs(), words }))
    }
}

/// One word's match set in one segment, with its live documents counted per category
/// when first asked (a radius search needs only how many documents the set holds).
pub struct WordMatch {
    pub bits: Arc<Bits>,
    /// How many documents the set holds, deleted ones included, when first asked.
    len: OnceLock<usize>,
    facets: OnceLock<Box<[u32; 256]>>,
    /// The deletions the facets are counted at.
    dead: Option<Arc<Dead>>,
    /// When it was last used, in lookups of its segment's cache.
    used: AtomicU64,
}

impl WordMatch {
    fn deletes(&self) -> u32 {
        self.dead.as_ref().map_or(0, |d| d.deletes)
    }

    fn new(bits: Arc<Bits>, dead: Option<Arc<Dead>>) -> WordMatch {
        WordMatch { bits, len: OnceLock::new(), facets: OnceLock::new(), dead, used: AtomicU64::new(0) }
    }

    /// How many documents the set holds, deleted ones included.
    pub fn documents(&self) -> usize {
        *self.len.get_or_init(|| self.bits.len())
    }

    /// The set's live documents per category (`data`: the set's segment).
    pub fn facets(&self, data: &SegmentData) -> &[u32; 256] {
        self.facets.get_or_init(|| {
            let mut facets = Box::new([0u32; 256]);
            let dead = &self.dead;
            let is_dead =
                |doc: DocId| dead.as_ref().is_some_and(|d| d.words[doc as usize >> 6] & (1 << (doc & 63)) != 0);
            self.bits.for_each(|doc| {
                if !is_dead(doc) {
                    facets[data.category(doc) as usize] += 1;
                }
            });
            facets
        })
    }

    /// The same set with its facets brought up to later deletions: only the documents
    /// deleted since are looked at (facets not counted yet are counted when asked).
    fn after(&self, data: &SegmentData, dead: Option<Arc<Dead>>) -> WordMatch {
        let fresh = WordMatch::new(self.bits.clone(), dead);
        // Deletions only grow; an older view (a reader still answering) counts afresh.
        let (Some(counted), Some(new)) =
            (self.facets.get(), fresh.dead.as_ref().filter(|d| d.deletes >= self.deletes()))
        else {
            return fresh;
        };
        let mut facets = counted.clone();
        let old = self.dead.as_ref().map(|d| &d.words);
        for (i, (set, now)) in self.bits.words().iter().zip(&new.words).enumerate() {
            let before = old.map_or(0, |o| o[i]);
            let mut gone = set & now & !before;
            while gone != 0 {
                let doc = (i * 64 + gone.trailing_zeros() as usize) as DocId;
                facets[data.category(doc) as usize] -= 1;
                gone &= gone - 1;
            }
        }
        let _ = fresh.facets.set(facets);
        fresh
    }
}

/// Word-set lookups answered from the cache, recounted after deletions, and built, since
/// the process started (for `/metrics` and the bench).
pub static WORD_HITS: AtomicU64 = AtomicU64::new(0);
pub static WORD_RECOUNTS: AtomicU64 = AtomicU64::new(0);
pub static WORD_MISSES: AtomicU64 = AtomicU64::new(0);

/// Word sets kept per segment; past that, the least recently used goes. A set costs a bit
/// a document: 120 KiB in a segment of a million.
const CACHED_WORDS: usize = 256;

/// The dense columns of one segment.
pub struct SegmentData {
    pub ids: Vec<i64>,
    /// Per document, its category: a common word's documents touch nearly every cache
    /// line of these arrays, so the one every search reads is one byte a document.
    category: Vec<u8>,
    /// Per document: flags (bits 0–3) and the area's ordinal in `area_codes` (bits 4–31),
    /// read only by searches that filter on them.
    packed: Vec<u32>,
    /// The segment's distinct area codes, sorted: an area prefix is a range of codes, and
    /// so a range of ordinals.
    area_codes: Vec<u64>,
    /// Per document, its location on the unit sphere (NaN without one), for a quick
    /// radius check.
    xyz: Vec<[f32; 3]>,
    /// A document's location in degrees, for the exact check within metres of the edge:
    /// read from the index's columns when asked (rarely), not held.
    degrees: Degrees,
    /// Per document, its location quantised to a 16-bit grid (latitude in the high half),
    /// a third of the bytes of `xyz`: its coarse cell places it outside a circle, or inside
    /// one, without reading its location.
    grid: Vec<u32>,
    /// The located documents by coarse cell, sorted by (cell, doc): a radius search walks
    /// the cells under its circle rather than every match of its words when they hold fewer
    /// documents (`within_docs`).
    cells: Cells,
    /// Recently searched words' match sets (a large segment never changes but for
    /// deletions, which only the facets depend on).
    words: Mutex<HashMap<String, Arc<WordMatch>>>,
    /// Hashes of words missed once lately: a word enters the cache on its second miss, so
    /// one-off searches do not push out the words people keep searching.
    missed: Mutex<HashSet<u64>>,
    lookups: AtomicU64,
    /// The deleted documents at the latest count seen (built by the warmer at each commit).
    dead: Mutex<Option<Arc<Dead>>>,
    /// Per term, how many deleted documents of the segment hold it, at one count of
    /// deletions (`dead_holding`).
    dead_terms: Mutex<HashMap<Term, (Arc<Dead>, u32)>>,
    /// Per searched word, the best text score any document of the segment has, under one
    /// searcher generation (scores move with the index-wide statistics): a page pass that
    /// has filled its top with that score can stop, for nothing later can beat it.
    best: Mutex<(u64, HashMap<String, f32>)>,
}

const AREA_SHIFT: u32 = 4;
const AREA_MAX: usize = (1 << (32 - AREA_SHIFT)) - 1;

impl SegmentData {
    /// Packs the columns; the slices are per document and of equal length.
    pub fn new(
        ids: Vec<i64>,
        category: &[u64],
        adcode: &[u64],
        flags: &[u64],
        lat_lon: &[(f64, f64)],
        degrees: Degrees,
    ) -> SegmentData {
        let mut area_codes = adcode.to_vec();
        area_codes.sort_unstable();
        area_codes.dedup();
        // Area codes are districts, a few thousand at most; should a segment ever hold more
        // than the bits allow, the excess shares the last ordinal.
        let ordinal = |code: u64| area_codes.binary_search(&code).unwrap_or(0).min(AREA_MAX) as u32;
        let packed = (0..ids.len()).map(|d| (flags[d] as u32 & 0xf) | (ordinal(adcode[d]) << AREA_SHIFT)).collect();
        let category = category.iter().map(|c| (*c).min(255) as u8).collect();
        let xyz = lat_lon
            .iter()
            .map(|(lat, lon)| if lat.is_nan() { [f32::NAN; 3] } else { unit_xyz(*lat, *lon).map(|v| v as f32) })
            .collect();
        let grid: Vec<u32> = lat_lon.iter().map(|(lat, lon)| grid_cell(*lat, *lon)).collect();
        let cells = Cells::of(&grid);
        SegmentData {
            ids,
            category,
            packed,
            area_codes,
            xyz,
            degrees,
            grid,
            cells,
            words: Mutex::default(),
            missed: Mutex::default(),
            lookups: AtomicU64::new(0),
            dead: Mutex::default(),
            dead_terms: Mutex::default(),
            best: Mutex::default(),
        }
    }

    /// How many of the reader's deleted documents hold `term`. tantivy's document
    /// frequencies count deleted documents until a merge drops them; searches subtract these
    /// so that scores, and every choice made on how many groups hold a word, are those of
    /// an index rebuilt from the store. Kept per term at one count of deletions and brought
    /// up to later deletions from the documents deleted since.
    pub fn dead_holding(&self, reader: &SegmentReader, term: &Term) -> tantivy::Result<u32> {
        let Some(dead) = self.dead(reader) else { return Ok(0) };
        let known = self.dead_terms.lock().get(term).cloned();
        let (mut count, since) = match known {
            Some((at, n)) if at.deletes == dead.deletes => return Ok(n),
            // Deletions only grow: those counted stay counted.
            Some((at, n)) if at.deletes < dead.deletes => (n, Some(at)),
            _ => (0, None),
        };
        let inverted = reader.inverted_index(term.field())?;
        let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? else { return Ok(0) };
        let newly = |i: usize| dead.words[i] & !since.as_ref().map_or(0, |s| s.words[i]);
        let fresh: u32 = (0..dead.words.len()).map(|i| newly(i).count_ones()).sum();
        if since.is_none() && postings.doc_freq() <= fresh.saturating_mul(4) {
            // A short list: walked whole.
            while postings.doc() != TERMINATED {
                let doc = postings.doc();
                count += (dead.words[doc as usize >> 6] >> (doc & 63)) as u32 & 1;
                postings.advance();
            }
        } else {
            // Few deletions against a long list: each looked up by skipping ahead.
            for i in 0..dead.words.len() {
                let mut gone = newly(i);
                while gone != 0 {
                    let doc = (i * 64 + gone.trailing_zeros() as usize) as DocId;
                    gone &= gone - 1;
                    if postings.doc() <= doc && postings.seek(doc) == doc {
                        count += 1;
                    }
                }
            }
        }
        let mut kept = self.dead_terms.lock();
        if kept.len() >= 4096 {
            kept.clear();
        }
        kept.insert(term.clone(), (dead, count));
        Ok(count)
    }

    /// The best score of `key`'s documents in this segment under searcher `generation`,
    /// if a full pass measured it.
    pub fn best_score(&self, generation: u64, key: &str) -> Option<f32> {
        let best = self.best.lock();
        if best.0 != generation {
            return None;
        }
        best.1.get(key).copied()
    }

    /// Records what a full pass measured (a few thousand words at most).
    pub fn note_best_score(&self, generation: u64, key: &str, score: f32) {
        let mut best = self.best.lock();
        if best.0 != generation || best.1.len() >= 4096 {
            *best = (generation, HashMap::new());
        }
        best.1.insert(key.to_string(), score);
    }

    fn load(reader: &SegmentReader) -> tantivy::Result<SegmentData> {
        let fast = reader.fast_fields();
        let n = reader.max_doc() as usize;
        let docs: Vec<DocId> = (0..reader.max_doc()).collect();
        // A column no document of the segment has a value for is absent altogether.
        let read = |name: &str| -> tantivy::Result<Vec<u64>> {
            let mut out = vec![None; n];
            if let Some(column) = fast.column_opt::<u64>(name)? {
                for (chunk, slot) in docs.chunks(4096).zip(out.chunks_mut(4096)) {
                    column.first_vals(chunk, slot);
                }
            }
            Ok(out.into_iter().map(|v| v.unwrap_or(0)).collect())
        };
        let ids = read("id")?.into_iter().map(|v| v as i64).collect();
        let (lat, lon) = (fast.column_opt::<f64>("lat")?, fast.column_opt::<f64>("lon")?);
        let at = |column: &Option<tantivy::columnar::Column<f64>>, doc| {
            column.as_ref().and_then(|c| c.first(doc)).unwrap_or(f64::NAN)
        };
        let lat_lon: Vec<(f64, f64)> = (0..reader.max_doc()).map(|d| (at(&lat, d), at(&lon, d))).collect();
        let degrees: Degrees = Box::new(move |doc| (at(&lat, doc), at(&lon, doc)));
        Ok(SegmentData::new(ids, &read("cat_ord")?, &read("adcode")?, &read("flag_bits")?, &lat_lon, degrees))
    }

    #[inline]
    pub fn category(&self, doc: DocId) -> u8 {
        self.category[doc as usize]
    }

    #[inline]
    pub fn flags(&self, doc: DocId) -> u8 {
        (self.packed[doc as usize] & 0xf) as u8
    }

    #[inline]
    pub fn area_ordinal(&self, doc: DocId) -> u32 {
        self.packed[doc as usize] >> AREA_SHIFT
    }

    /// The match set of the word `key` (built by `build` unless cached), with facets
    /// current for the reader's deletions.
    pub fn word(
        &self,
        key: &str,
        reader: &SegmentReader,
        build: impl FnOnce() -> tantivy::Result<Bits>,
    ) -> tantivy::Result<Arc<WordMatch>> {
        let now = self.lookups.fetch_add(1, Ordering::Relaxed);
        let cached = self.words.lock().get(key).cloned();
        let found = match cached {
            Some(m) if m.deletes() == reader.num_deleted_docs() => {
                m.used.store(now, Ordering::Relaxed);
                WORD_HITS.fetch_add(1, Ordering::Relaxed);
                return Ok(m);
            }
            Some(m) => {
                WORD_RECOUNTS.fetch_add(1, Ordering::Relaxed);
                Arc::new(m.after(self, self.dead(reader)))
            }
            None => {
                WORD_MISSES.fetch_add(1, Ordering::Relaxed);
                let built = Arc::new(WordMatch::new(Arc::new(build()?), self.dead(reader)));
                let hash = ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(key);
                let mut missed = self.missed.lock();
                if missed.len() >= 4 * CACHED_WORDS {
                    missed.clear();
                }
                if missed.insert(hash) {
                    return Ok(built);
                }
                built
            }
        };
        found.used.store(now, Ordering::Relaxed);
        let mut words = self.words.lock();
        if words.len() >= CACHED_WORDS && !words.contains_key(key) {
            let oldest = words.iter().min_by_key(|(_, m)| m.used.load(Ordering::Relaxed)).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                words.remove(&k);
            }
        }
        words.insert(key.to_string(), found.clone());
        Ok(found)
    }

    /// Whether the set of the word `key` is cached (perhaps to be brought up to date).
    pub fn holds_word(&self, key: &str) -> bool {
        self.words.lock().contains_key(key)
    }

    /// The deleted documents as the reader sees them.
    fn dead(&self, reader: &SegmentReader) -> Option<Arc<Dead>> {
        let deletes = reader.num_deleted_docs();
        if deletes == 0 {
            return None;
        }
        let mut latest = self.dead.lock();
        match &*latest {
            Some(d) if d.deletes == deletes => Some(d.clone()),
            // An older reader still answering: its own view, not kept.
            Some(d) if d.deletes > deletes => Dead::of(reader),
            _ => {
                *latest = Dead::of(reader);
                latest.clone()
            }
        }
    }

    /// Announces reads of a document's id and location (see `memory::prefetch`).
    #[inline]
    pub fn prefetch(&self, doc: DocId) {
        crate::memory::prefetch(&self.ids, doc as usize);
        crate::memory::prefetch(&self.xyz, doc as usize);
    }

    /// Whether the document lies within `near`.
    #[inline]
    pub fn within(&self, doc: DocId, near: &Near) -> bool {
        // Documents without a location are in no cell under any circle.
        match near.place(COARSE.of_grid(self.grid[doc as usize])) {
            Placed::Outside => return false,
            Placed::Inside => return true,
            Placed::Edge => {}
        }
        self.beyond_cells(doc, near)
    }

    /// Whether a document of a cell at the circle's edge lies within it.
    #[inline]
    fn beyond_cells(&self, doc: DocId, near: &Near) -> bool {
        let chord2 = self.chord2(doc, near);
        if chord2.is_nan() || chord2 >= near.surely_out {
            // NaN: no location.
            return false;
        }
        if chord2 <= near.surely_in {
            return true;
        }
        let (lat, lon) = (self.degrees)(doc);
        haversine_m(near.lat, near.lon, lat, lon) <= near.radius_m
    }

    /// The squared single-precision chord from `near`'s centre to the document (NaN
    /// without a location).
    #[inline]
    fn chord2(&self, doc: DocId, near: &Near) -> f32 {
        let p = self.xyz[doc as usize];
        let (dx, dy, dz) = (p[0] - near.xyz[0], p[1] - near.xyz[1], p[2] - near.xyz[2]);
        dx * dx + dy * dy + dz * dz
    }

    /// At most the great-circle distance in metres from `near`'s centre to the document
    /// (0 without a location): from the single-precision check's vectors, less its margin.
    #[inline]
    pub fn distance_at_least(&self, doc: DocId, near: &Near) -> f64 {
        let chord = f64::from(self.chord2(doc, near)).sqrt();
        if chord.is_nan() {
            return 0.0;
        }
        let angle = 2.0 * (chord / 2.0).min(1.0).asin();
        (angle * EARTH_RADIUS_M - Near::MARGIN_M).max(0.0)
    }

    /// The documents within `near` that `wanted` accepts, in doc order, found from the cells
    /// that each row of cells has under its circle (`wanted` is asked first: it is cheaper
    /// than the distance, which cells wholly inside the circle skip); `None` when those
    /// cells hold more than `most` documents (walking the word sets is then cheaper) or the
    /// circle's box wraps a pole or the date line.
    pub fn within_docs(&self, near: &Near, most: usize, wanted: impl Fn(DocId) -> bool) -> Option<Vec<DocId>> {
        let spans = near.spans.as_ref()?;
        let keys = &self.cells.keys;
        // Per row: the run of its cells under the circle, and within it the run of cells
        // wholly inside.
        let mut runs: Vec<[usize; 4]> = Vec::with_capacity(spans.rows.len());
        let mut under = 0;
        for (row, span) in (spans.south..).zip(&spans.rows) {
            if span.west > span.east {
                continue;
            }
            let (from, to) = (self.cells.rows[row as usize] as usize, self.cells.rows[row as usize + 1] as usize);
            let in_row = |column: u32| from + keys[from..to].partition_point(|k| *k < (row << 16 | column));
            let (start, end) = (in_row(span.west), in_row(span.east + 1));
            let (inner_start, inner_end) = if span.inner_start < span.inner_end {
                (in_row(span.inner_start).clamp(start, end), in_row(span.inner_end).clamp(start, end))
            } else {
                (start, start)
            };
            under += end - start;
            if under > most {
                return None;
            }
            runs.push([start, inner_start, inner_end, end]);
        }
        let docs = &self.cells.docs;
        let mut found: Vec<DocId> = Vec::new();
        // The cells at the edge: their wanted documents, whose distances are read after.
        let mut edge: Vec<DocId> = Vec::new();
        for [start, inner_start, inner_end, end] in runs {
            edge.extend(docs[start..inner_start].iter().copied().filter(|doc| wanted(*doc)));
            found.extend(docs[inner_start..inner_end].iter().copied().filter(|doc| wanted(*doc)));
            edge.extend(docs[inner_end..end].iter().copied().filter(|doc| wanted(*doc)));
        }
        for (i, doc) in edge.iter().enumerate() {
            // Scattered reads: each location is announced a few documents ahead.
            if let Some(ahead) = edge.get(i + PREFETCH_AHEAD) {
                crate::memory::prefetch(&self.xyz, *ahead as usize);
            }
            if self.beyond_cells(*doc, near) {
                found.push(*doc);
            }
        }
        found.sort_unstable();
        Some(found)
    }

    /// The ordinals of the codes in `[lo, hi)`, as a half-open range.
    pub fn area_ordinals(&self, lo: u64, hi: u64) -> (u32, u32) {
        let start = self.area_codes.partition_point(|c| *c < lo).min(AREA_MAX);
        let end = self.area_codes.partition_point(|c| *c < hi).min(AREA_MAX + 1);
        (start as u32, end as u32)
    }
}

/// A circle to check documents against: the coarse cells each row has under it and those
/// wholly inside it, then squared chord bounds a few metres inside and outside the radius
/// for the single-precision check, and the exact distance between them.
#[derive(Debug, Clone)]
pub struct Near {
    lat: f64,
    lon: f64,
    radius_m: f64,
    xyz: [f32; 3],
    surely_in: f32,
    surely_out: f32,
    /// The cells under the circle, when its box wraps neither a pole nor the date line.
    spans: Option<Arc<Spans>>,
}

/// Per row of coarse cells under a circle, from its southern row: the columns under the
/// circle (inclusive), and the columns wholly inside it (half-open, empty when none).
#[derive(Debug)]
struct Spans {
    south: u32,
    rows: Vec<Span>,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    west: u32,
    east: u32,
    inner_start: u32,
    inner_end: u32,
}

impl Spans {
    fn of(lat: f64, lon: f64, radius_m: f64) -> Spans {
        let angle = radius_m / EARTH_RADIUS_M;
        let inner_angle = (radius_m - Near::MARGIN_M) / EARTH_RADIUS_M;
        let (south, _, north) = COARSE.rows_within(lat, angle);
        let rows = (south..=north)
            .map(|row| {
                let Some((west, east)) = COARSE.columns_within(lat, lon, angle, row) else {
                    // No column is under the circle.
                    return Span { west: 1, east: 0, inner_start: 0, inner_end: 0 };
                };
                let (inner_start, inner_end) = match COARSE.inner_columns(lat, lon, inner_angle, row) {
                    Some((first, last)) if inner_angle > 0.0 => (first, last + 1),
                    _ => (0, 0),
                };
                Span { west, east, inner_start, inner_end }
            })
            .collect();
        Spans { south, rows }
    }

    /// The row's span, if the row is under the circle.
    #[inline]
    fn row(&self, row: u32) -> Option<&Span> {
        self.rows.get(row.wrapping_sub(self.south) as usize)
    }
}

/// Where a coarse cell lies against a circle.
#[derive(Debug, PartialEq, Eq)]
enum Placed {
    Outside,
    Inside,
    Edge,
}

impl Near {
    /// Single-precision unit vectors are good to well under a metre on the Earth.
    const MARGIN_M: f64 = 5.0;

    pub fn new(lat: f64, lon: f64, radius_m: f64) -> Near {
        Near {
            lat,
            lon,
            radius_m,
            xyz: unit_xyz(lat, lon).map(|v| v as f32),
            surely_in: if radius_m > Self::MARGIN_M { chord2(radius_m - Self::MARGIN_M) } else { -1.0 },
            surely_out: chord2(radius_m + Self::MARGIN_M),
            spans: fits_grid(lat, lon, radius_m).then(|| Arc::new(Spans::of(lat, lon, radius_m))),
        }
    }

    /// Where the coarse cell `key` lies against the circle (`Edge` when it cannot be told
    /// from cells).
    #[inline]
    fn place(&self, key: u32) -> Placed {
        let Some(spans) = &self.spans else { return Placed::Edge };
        let Some(span) = spans.row(key >> 16) else { return Placed::Outside };
        let column = key & 0xffff;
        if column < span.west || column > span.east {
            Placed::Outside
        } else if column >= span.inner_start && column < span.inner_end {
            Placed::Inside
        } else {
            Placed::Edge
        }
    }
}

/// A document's location in degrees (NaN without one).
pub type Degrees = Box<dyn Fn(DocId) -> (f64, f64) + Send + Sync>;

/// The located documents of a segment by coarse cell: 8 × 4 cells of the 16-bit grid,
/// about 2.4 km north to south and 2.4 km × cos(latitude) east to west. Eight bytes a
/// document, and 32 KiB of row starts.
struct Cells {
    /// Per located document, its cell (latitude row in the high half), sorted.
    keys: Vec<u32>,
    /// The documents in the same order (by cell, then doc).
    docs: Vec<DocId>,
    /// Where each row of cells starts in `keys` (`CellSize::row_starts`).
    rows: Vec<u32>,
}

/// The coarse cells of the segments.
const COARSE: CellSize = CellSize { lat_shift: 3, lon_shift: 2 };

impl Cells {
    fn of(grid: &[u32]) -> Cells {
        let mut pairs: Vec<(u32, DocId)> = grid
            .iter()
            .enumerate()
            .filter(|(_, cell)| **cell != u32::MAX)
            .map(|(doc, cell)| (COARSE.of_grid(*cell), doc as DocId))
            .collect();
        pairs.sort_unstable();
        let keys: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        let rows = COARSE.row_starts(&keys, |k| *k);
        Cells { keys, docs: pairs.iter().map(|p| p.1).collect(), rows }
    }
}

const GRID: f64 = 65_536.0;

/// The 16-bit grid cell of a location; documents without one get a cell no circle's cells
/// reach (circles with cells stop short of the poles, `fits_grid`).
pub(crate) fn grid_cell(lat: f64, lon: f64) -> u32 {
    if lat.is_nan() || lon.is_nan() {
        return u32::MAX;
    }
    let q = |v: f64, span: f64| ((v / span * GRID).floor() as i64).clamp(0, GRID as i64 - 1) as u32;
    (q(lat + 90.0, 180.0) << 16) | q(lon + 180.0, 360.0)
}

/// Whether a circle's box (a point within `radius_m` of (lat, lon) differs by at most the
/// radius's angle in latitude, and by at most that angle over the cosine of the box's
/// widest latitude in longitude) keeps a margin from the poles and the date line, where
/// the cells of the grid do not wrap: only then does a circle get its cells.
fn fits_grid(lat: f64, lon: f64, radius_m: f64) -> bool {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees() * 1.01 + 0.01;
    let (south, north) = (lat - dlat, lat + dlat);
    if south <= -89.0 || north >= 89.0 {
        return false;
    }
    let dlon = dlat / south.abs().max(north.abs()).to_radians().cos();
    lon - dlon > -180.0 && lon + dlon < 180.0
}

/// The squared chord on the unit sphere of a great-circle distance (infinite past half
/// the circumference, where every point is within).
fn chord2(meters: f64) -> f32 {
    let angle = meters / EARTH_RADIUS_M;
    if angle >= std::f64::consts::PI {
        return f32::INFINITY;
    }
    let chord = 2.0 * (angle / 2.0).sin();
    (chord * chord) as f32
}

/// The best documents of one pruned page pass, best first.
pub type TopDocs = Vec<(tantivy::Score, tantivy::DocAddress)>;

/// Page passes of recent searches: valid for one searcher generation (one commit), since
/// their scores and addresses belong to it.
const CACHED_PASSES: usize = 1024;

/// The dense columns of every searchable segment, kept in step by the reader's warming,
/// and the page passes of the current commit.
#[derive(Default)]
pub struct Segments {
    by_id: RwLock<HashMap<SegmentId, Arc<SegmentData>>>,
    passes: Mutex<(u64, HashMap<String, Arc<TopDocs>>)>,
}

impl Segments {
    /// The columns of a segment (built now if the warmer has not seen it).
    pub fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentData>> {
        if let Some(d) = self.by_id.read().get(&reader.segment_id()) {
            return Ok(d.clone());
        }
        let data = Arc::new(SegmentData::load(reader)?);
        self.by_id.write().insert(reader.segment_id(), data.clone());
        Ok(data)
    }

    /// Drops every cached word set, page pass and measured best score (the bench measures
    /// searches without them this way).
    pub fn forget_words(&self) {
        for data in self.by_id.read().values() {
            data.words.lock().clear();
            data.best.lock().1.clear();
        }
        self.passes.lock().1.clear();
    }

    /// Makes each kept set of the word `key` count one document more in a category it
    /// holds: a stale count planted for the test that `check` finds one (`service::totals`).
    /// Returns how many sets were changed.
    #[doc(hidden)]
    pub fn plant_stale_count(&self, key: &str) -> usize {
        let mut planted = 0;
        for data in self.by_id.read().values() {
            let mut words = data.words.lock();
            let Some(kept) = words.get(key).cloned() else { continue };
            let mut facets = *kept.facets(data);
            let Some(c) = facets.iter().position(|n| *n > 0) else { continue };
            facets[c] += 1;
            let stale = WordMatch::new(kept.bits.clone(), kept.dead.clone());
            let _ = stale.facets.set(Box::new(facets));
            words.insert(key.to_string(), Arc::new(stale));
            planted += 1;
        }
        planted
    }

    /// The page pass `key` of the searcher generation `generation`, run by `run` unless a
    /// search of the same commit ran it already.
    pub fn pass(
        &self,
        generation: u64,
        key: &str,
        run: impl FnOnce() -> tantivy::Result<TopDocs>,
    ) -> tantivy::Result<Arc<TopDocs>> {
        {
            let cache = self.passes.lock();
            if cache.0 == generation {
                if let Some(top) = cache.1.get(key) {
                    return Ok(top.clone());
                }
            }
        }
        let top = Arc::new(run()?);
        let mut cache = self.passes.lock();
        // A newer commit's passes replace an older one's; an older searcher's are not kept.
        if cache.0 < generation || cache.1.len() >= CACHED_PASSES {
            *cache = (generation, HashMap::new());
        }
        if cache.0 == generation {
            cache.1.insert(key.to_string(), top.clone());
        }
        Ok(top)
    }
}

impl Warmer for Segments {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let fresh: Vec<&SegmentReader> =
            searcher.segment_readers().iter().filter(|r| !self.by_id.read().contains_key(&r.segment_id())).collect();
        let ids: HashSet<SegmentId> = fresh.iter().map(|r| r.segment_id()).collect();
        touch_files(searcher, &ids);
        // Columns for new segments, and for every segment its deletions as of this commit,
        // so queries bring cached word sets up to date from the difference alone.
        for reader in searcher.segment_readers() {
            self.get(reader)?.dead(reader);
        }
        Ok(())
    }

    fn garbage_collect(&self, live: &[&SearcherGeneration]) {
        let keep: HashSet<SegmentId> = live.iter().flat_map(|g| g.segments().keys().copied()).collect();
        self.by_id.write().retain(|id, _| keep.contains(id));
    }
}

/// Reads one byte of every page of the segments' files through the index's own memory
/// maps, so the pages are mapped before a query needs them.
fn touch_files(searcher: &Searcher, segments: &HashSet<SegmentId>) {
    let index = searcher.index();
    let Ok(metas) = index.searchable_segment_metas() else { return };
    let directory = index.directory();
    let mut sum = 0u8;
    for meta in metas.iter().filter(|m| segments.contains(&m.id())) {
        // The term dictionaries and the columns, which every query reads. Not the postings:
        // they are most of the index (231 of 267 MB at 1M groups) and most of them are never
        // read, so mapping them all would make them a quarter of a node's memory; a word's
        // list is a few pages, mapped by its first query from the page cache.
        let parts = [SegmentComponent::Terms, SegmentComponent::FastFields];
        for path in parts.map(|c| meta.relative_path(c)) {
            let Ok(file) = directory.open_read(&path) else { continue };
            let Ok(bytes) = file.read_bytes() else { continue };
            for page in bytes.as_slice().chunks(4096) {
                sum = sum.wrapping_add(page[0]);
            }
        }
    }
    std::hint::black_box(sum);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::matchset::Source;
    use rand::{Rng, SeedableRng};
    use tantivy::{doc, Index, IndexWriter, TantivyDocument, Term};

    #[test]
    fn a_cached_word_set_recounts_its_facets_after_deletions() {
        let (schema, f) = crate::index::schema::build_schema();
        let index = Index::create_in_ram(schema);
        crate::index::schema::register_tokenizers(&index);
        let mut writer: IndexWriter<TantivyDocument> = index.writer_with_num_threads(1, 50_000_000).unwrap();
        // One segment big enough to be cached; no document has a location.
        for id in 0..12_000u64 {
            let words = if id % 3 == 0 { "k j" } else { "j" };
            writer.add_document(doc!(f.id => id, f.cat_ord => id % 4, f.pinyin => words)).unwrap();
        }
        writer.commit().unwrap();
        let reader = index.reader().unwrap();
        let segments = Segments::default();
        let count = |reader: &tantivy::IndexReader| -> [u32; 4] {
            let searcher = reader.searcher();
            let segment = &searcher.segment_readers()[0];
            let data = segments.get(segment).unwrap();
            let source = Source::Postings(Term::from_field_text(f.pinyin, "k"));
            let m = data.word("n:k", segment, || Bits::of(&[source], &searcher, segment)).unwrap();
            let facets = m.facets(&data);
            [facets[0], facets[1], facets[2], facets[3]]
        };
        // Ids divisible by 3: 4,000 of them, categories 0, 3, 2, 1 in turn.
        // Built on the first lookup, kept on the second, taken from the cache on the third.
        for _ in 0..3 {
            assert_eq!(count(&reader), [1000, 1000, 1000, 1000]);
        }
        assert_eq!(segments.by_id.read().values().map(|d| d.words.lock().len()).sum::<usize>(), 1);
        for id in (0..12_000u64).step_by(12) {
            writer.delete_term(Term::from_field_u64(f.id, id));
        }
        writer.commit().unwrap();
        reader.reload().unwrap();
        // Ids divisible by 12 (category 0) are gone.
        assert_eq!(count(&reader), [0, 1000, 1000, 1000]);
        // Then half of the set's category 3 (ids 3, 27, 51, …: 3 mod 24).
        for id in (3..12_000u64).step_by(24) {
            writer.delete_term(Term::from_field_u64(f.id, id));
        }
        writer.commit().unwrap();
        reader.reload().unwrap();
        assert_eq!(count(&reader), [0, 1000, 1000, 500], "counted from the newly deleted documents");
        assert_eq!(segments.by_id.read().len(), 1);
    }

    #[test]
    fn within_agrees_with_the_exact_distance_including_near_the_edge() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let (lat, lon) = (rng.gen_range(-70.0..70.0), rng.gen_range(-170.0..170.0));
            let radius_m = 10f64.powf(rng.gen_range(1.0..5.0));
            let near = Near::new(lat, lon, radius_m);
            // Points scattered around the circle, many of them within metres of its edge.
            let spread = (radius_m * 1.5 / EARTH_RADIUS_M).to_degrees();
            let mut points: Vec<(f64, f64)> = (0..300)
                .map(|_| (lat + rng.gen_range(-spread..spread), lon + rng.gen_range(-spread..spread)))
                .collect();
            // And points a fraction of a metre either side of the edge.
            for _ in 0..100 {
                let bearing: f64 = rng.gen_range(0.0..std::f64::consts::TAU);
                let d = (radius_m + rng.gen_range(-0.5..0.5)) / EARTH_RADIUS_M;
                let (p1, l1) = (lat.to_radians(), lon.to_radians());
                let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * bearing.cos()).asin();
                let l2 = l1 + (bearing.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
                points.push((p2.to_degrees(), l2.to_degrees()));
            }
            points.push((f64::NAN, f64::NAN));
            let n = points.len();
            let zeros = vec![0u64; n];
            let at = points.clone();
            let degrees: Degrees = Box::new(move |doc| at[doc as usize]);
            let data = SegmentData::new((0..n as i64).collect(), &zeros, &zeros, &zeros, &points, degrees);
            for (doc, (plat, plon)) in points.iter().enumerate() {
                let exact = !plat.is_nan() && haversine_m(lat, lon, *plat, *plon) <= radius_m;
                assert_eq!(
                    data.within(doc as DocId, &near),
                    exact,
                    "({plat}, {plon}) from ({lat}, {lon}) r {radius_m}"
                );
            }
            // The cells under the circle find exactly the documents within it, in doc order.
            let expected: Vec<DocId> = (0..n as DocId).filter(|d| data.within(*d, &near)).collect();
            match data.within_docs(&near, usize::MAX, |_| true) {
                Some(found) => assert_eq!(found, expected, "from ({lat}, {lon}) r {radius_m}"),
                None => assert!(near.spans.is_none()),
            }
            if !expected.is_empty() {
                assert_eq!(data.within_docs(&near, 0, |_| true), None, "more than 0 documents under the circle");
            }
        }
    }
}
