//! The tantivy schema: one document per discoverable group. Text arrives pre-analysed by
//! `text.rs` (space-separated terms), so the index only splits on whitespace and every
//! field of documents and queries goes through the same pipeline.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{Index, TantivyDocument};

use super::text;
use crate::domain::CategoryList;
use crate::geo::short_name;
use crate::store::groups::GroupText;

/// The name of the one tokenizer: the terms are already analysed.
pub const TOKENIZER: &str = "gs_terms";

/// The fields of a group document.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub id: Field,
    pub name: Field,
    pub name_bi: Field,
    pub name_ch: Field,
    /// 3- and 4-character substrings of the name's CJK runs.
    pub name_ng: Field,
    pub place: Field,
    pub body: Field,
    /// The category's position in the category list, for counting facets from a column.
    pub cat_ord: Field,
    /// The adcode, for checking an area filter from a column.
    pub adcode: Field,
    /// Bit 0: the group has room; bit 1: it needs no approval (filters checked from a column).
    pub flag_bits: Field,
    /// The location, for checking a radius from columns (absent without one).
    pub lat: Field,
    pub lon: Field,
    /// The name's pinyin: full and initials of its words and spans (`text::pinyin_terms`),
    /// without frequencies (each is in a name once), scored from here. On disk the field is
    /// still called `all`: until the 2026-12-02 builds it also held a copy of every name and
    /// place term, for counting from one list a word; the copy was more than a quarter of
    /// a build's terms, and counting reads the name and place fields instead
    /// (`search::count_sources`), which match the same documents in an index of either kind.
    /// Indexes built with a `name_py` field still open; it is no longer read.
    pub pinyin: Field,
}

fn filter_field() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::Basic),
    )
}

/// Text fields keep no length norms: group names and places are all short, so length says
/// little about relevance, and equal scores let a top-k search take the first (most
/// active, see `groups::for_each_text`) of many equally good matches and stop.
fn text_field(positions: bool) -> TextOptions {
    let record = if positions { IndexRecordOption::WithFreqsAndPositions } else { IndexRecordOption::WithFreqs };
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(record).set_fieldnorms(false),
    )
}

pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | FAST),
        name: b.add_text_field("name", text_field(false)),
        name_bi: b.add_text_field("name_bi", text_field(true)),
        name_ch: b.add_text_field("name_ch", text_field(false)),
        name_ng: b.add_text_field("name_ng", text_field(false)),
        place: b.add_text_field("place", text_field(false)),
        body: b.add_text_field("body", text_field(false)),
        cat_ord: b.add_u64_field("cat_ord", FAST),
        adcode: b.add_u64_field("adcode", FAST),
        flag_bits: b.add_u64_field("flag_bits", FAST),
        lat: b.add_f64_field("lat", FAST),
        lon: b.add_f64_field("lon", FAST),
        pinyin: b.add_text_field("all", filter_field()),
    };
    (b.build(), fields)
}

pub fn fields_of(schema: &Schema) -> tantivy::Result<Fields> {
    Ok(Fields {
        id: schema.get_field("id")?,
        name: schema.get_field("name")?,
        name_bi: schema.get_field("name_bi")?,
        name_ch: schema.get_field("name_ch")?,
        name_ng: schema.get_field("name_ng")?,
        place: schema.get_field("place")?,
        body: schema.get_field("body")?,
        cat_ord: schema.get_field("cat_ord")?,
        adcode: schema.get_field("adcode")?,
        flag_bits: schema.get_field("flag_bits")?,
        lat: schema.get_field("lat")?,
        lon: schema.get_field("lon")?,
        pinyin: schema.get_field("all")?,
    })
}

pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(TOKENIZER, TextAnalyzer::builder(WhitespaceTokenizer::default()).build());
}

/// The document of a group; `None` for a group that must not be found.
pub fn make_document(f: &Fields, g: &GroupText, categories: &CategoryList) -> Option<TantivyDocument> {
    Analyser::uncached().document(f, g, categories)
}

/// The analysed terms of one name, each field's terms space-separated as the tokenizer splits
/// them.
struct NameTerms {
    words: String,
    bigrams: String,
    unigrams: String,
    ngrams: String,
    pinyin: String,
}

impl NameTerms {
    fn of(name: &str) -> Self {
        NameTerms {
            words: text::index_words(name).join(" "),
            bigrams: text::bigrams(name).join(" "),
            unigrams: text::unigrams(name).join(" "),
            ngrams: text::ngrams(name).join(" "),
            pinyin: text::pinyin_terms(name).join(" "),
        }
    }
}

/// Analysed texts kept by the text they came from, shared by the threads of a build.
struct Cache<T> {
    map: Mutex<HashMap<String, Arc<T>, ahash::RandomState>>,
    capacity: usize,
}

impl<T> Cache<T> {
    fn new(capacity: usize) -> Self {
        Cache { map: Mutex::new(HashMap::default()), capacity }
    }

    /// The analysis of `key`, made by `analyse` unless it is kept. A full cache starts over
    /// (simpler than least-recently-used, and a build's repeats are spread evenly).
    fn get(&self, key: &str, analyse: impl FnOnce(&str) -> T) -> Arc<T> {
        if self.capacity == 0 {
            return Arc::new(analyse(key));
        }
        if let Some(found) = self.map.lock().get(key) {
            return Arc::clone(found);
        }
        let made = Arc::new(analyse(key));
        let mut map = self.map.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key.to_string(), Arc::clone(&made));
        made
    }
}

/// Makes group documents, analysing each distinct name, place and description once: a world
/// repeats them (the 1M generated world has 199,218 distinct names, 338,952 descriptions and
/// 337,518 places among its 1,000,000 groups), and analysis (jieba, pinyin readings,
/// n-grams) is most of what a document costs before the index takes it. Shared by the
/// threads of a build.
pub struct Analyser {
    names: Cache<NameTerms>,
    places: Cache<String>,
    bodies: Cache<String>,
}

impl Analyser {
    /// Keeps up to `capacity` analyses of each kind.
    pub fn with_capacity(capacity: usize) -> Self {
        Analyser { names: Cache::new(capacity), places: Cache::new(capacity), bodies: Cache::new(capacity) }
    }

    /// Analyses everything afresh (single documents, as the indexer makes them).
    pub fn uncached() -> Self {
        Self::with_capacity(0)
    }

    /// The document of a group; `None` for a group that must not be found.
    pub fn document(&self, f: &Fields, g: &GroupText, categories: &CategoryList) -> Option<TantivyDocument> {
        let row = &g.row;
        if !row.listed() {
            return None;
        }
        let mut place_text = String::new();
        for p in [row.place_name.as_deref(), row.city.as_deref(), row.district.as_deref()].into_iter().flatten() {
            place_text.push_str(p);
            place_text.push(' ');
            let short = short_name(p);
            if short != p {
                place_text.push_str(&short);
                place_text.push(' ');
            }
        }
        place_text.push_str(categories.label(&row.category));
        let place = self.places.get(&place_text, |t| text::index_words(t).join(" "));
        let mut body_text = String::with_capacity(g.description.len() + g.announcement.len() + 1);
        body_text.push_str(&g.description);
        body_text.push(' ');
        body_text.push_str(&g.announcement);
        let body = self.bodies.get(&body_text, |t| text::index_words(t).join(" "));
        let name = self.names.get(&row.name, NameTerms::of);
        // The document copies each text into one buffer of its own: no owned strings needed.
        let mut doc = TantivyDocument::new();
        doc.add_u64(f.id, row.id as u64);
        doc.add_text(f.name, &name.words);
        doc.add_text(f.name_bi, &name.bigrams);
        doc.add_text(f.name_ch, &name.unigrams);
        doc.add_text(f.name_ng, &name.ngrams);
        doc.add_text(f.place, place.as_str());
        doc.add_text(f.body, body.as_str());
        doc.add_u64(f.cat_ord, categories.position(&row.category) as u64);
        doc.add_text(f.pinyin, &name.pinyin);
        doc.add_u64(f.adcode, row.adcode);
        doc.add_u64(f.flag_bits, u64::from(row.has_room()) | (u64::from(!row.join_approval) << 1));
        if let Some((lat, lon)) = row.location() {
            doc.add_f64(f.lat, lat);
            doc.add_f64(f.lon, lon);
        }
        Some(doc)
    }
}

/// A signature of everything the document depends on, to skip re-indexing when only the
/// statistics of a group changed (room left counts only when it runs out or comes back).
pub fn document_signature(g: &GroupText) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let r = &g.row;
    (&r.name, &r.category, &r.place_name, &r.city, &r.district, r.discoverable, &g.description, &g.announcement)
        .hash(&mut h);
    // The filter terms: area, room left, join approval and location.
    (r.adcode, r.has_room(), r.join_approval, r.lat.map(f64::to_bits), r.lon.map(f64::to_bits)).hash(&mut h);
    h.finish()
}
