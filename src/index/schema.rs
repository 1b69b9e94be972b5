//! The tantivy schema: one document per discoverable group. Text arrives pre-analysed by
//! `text.rs` (space-separated terms), so the index only splits on whitespace and every
//! field of documents and queries goes through the same pipeline.

use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{doc, Index, TantivyDocument};

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
    pub name_py: Field,
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
    /// Every term of the name fields and the place field in one field without frequencies:
    /// counting a match set reads one posting list a word instead of merging several.
    pub all: Field,
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
        name_py: b.add_text_field("name_py", text_field(false)),
        place: b.add_text_field("place", text_field(false)),
        body: b.add_text_field("body", text_field(false)),
        cat_ord: b.add_u64_field("cat_ord", FAST),
        adcode: b.add_u64_field("adcode", FAST),
        flag_bits: b.add_u64_field("flag_bits", FAST),
        lat: b.add_f64_field("lat", FAST),
        lon: b.add_f64_field("lon", FAST),
        all: b.add_text_field("all", filter_field()),
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
        name_py: schema.get_field("name_py")?,
        place: schema.get_field("place")?,
        body: schema.get_field("body")?,
        cat_ord: schema.get_field("cat_ord")?,
        adcode: schema.get_field("adcode")?,
        flag_bits: schema.get_field("flag_bits")?,
        lat: schema.get_field("lat")?,
        lon: schema.get_field("lon")?,
        all: schema.get_field("all")?,
    })
}

pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(TOKENIZER, TextAnalyzer::builder(WhitespaceTokenizer::default()).build());
}

/// The document of a group; `None` for a group that must not be found.
pub fn make_document(f: &Fields, g: &GroupText, categories: &CategoryList) -> Option<TantivyDocument> {
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
    let body = format!("{} {}", g.description, g.announcement);
    let bigrams = text::bigrams(&row.name).join(" ");
    let unigrams = text::unigrams(&row.name).join(" ");
    let ngrams = text::ngrams(&row.name).join(" ");
    let pinyin = text::pinyin_terms(&row.name).join(" ");
    let place = text::index_words(&place_text).join(" ");
    let all = format!("{bigrams} {unigrams} {ngrams} {pinyin} {place}");
    let mut doc = doc!(
        f.id => row.id as u64,
        f.name => text::index_words(&row.name).join(" "),
        f.name_bi => bigrams,
        f.name_ch => unigrams,
        f.name_ng => ngrams,
        f.name_py => pinyin,
        f.place => place,
        f.body => text::index_words(&body).join(" "),
        f.cat_ord => categories.position(&row.category) as u64,
        f.all => all,
        f.adcode => row.adcode,
        f.flag_bits => u64::from(row.has_room()) | (u64::from(!row.join_approval) << 1),
    );
    if let Some((lat, lon)) = row.location() {
        doc.add_f64(f.lat, lat);
        doc.add_f64(f.lon, lon);
    }
    Some(doc)
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
