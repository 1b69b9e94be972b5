//! The tantivy schema: one document per discoverable group. Text arrives pre-analysed by
//! `text.rs` (space-separated terms), so the index only splits on whitespace and every
//! field of documents and queries goes through the same pipeline.

use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{doc, Index, TantivyDocument};

use super::text;
use crate::domain::CategoryList;
use crate::geo::short_name;
use crate::store::reads::GroupText;

/// The name of the one tokenizer: the terms are already analysed.
pub const TOKENIZER: &str = "gs_terms";

/// The fields of a group document.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub id: Field,
    pub name: Field,
    pub name_bi: Field,
    pub name_ch: Field,
    pub name_py: Field,
    pub place: Field,
    pub body: Field,
}

fn text_field(positions: bool) -> TextOptions {
    let record = if positions { IndexRecordOption::WithFreqsAndPositions } else { IndexRecordOption::WithFreqs };
    TextOptions::default()
        .set_indexing_options(TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(record))
}

pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | FAST),
        name: b.add_text_field("name", text_field(false)),
        name_bi: b.add_text_field("name_bi", text_field(true)),
        name_ch: b.add_text_field("name_ch", text_field(false)),
        name_py: b.add_text_field("name_py", text_field(false)),
        place: b.add_text_field("place", text_field(false)),
        body: b.add_text_field("body", text_field(false)),
    };
    (b.build(), fields)
}

pub fn fields_of(schema: &Schema) -> tantivy::Result<Fields> {
    Ok(Fields {
        id: schema.get_field("id")?,
        name: schema.get_field("name")?,
        name_bi: schema.get_field("name_bi")?,
        name_ch: schema.get_field("name_ch")?,
        name_py: schema.get_field("name_py")?,
        place: schema.get_field("place")?,
        body: schema.get_field("body")?,
    })
}

pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(TOKENIZER, TextAnalyzer::builder(WhitespaceTokenizer::default()).build());
}

/// The document of a group; `None` for a group that must not be found.
pub fn make_document(f: &Fields, g: &GroupText, categories: &CategoryList) -> Option<TantivyDocument> {
    let row = &g.row;
    if !row.discoverable {
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
    Some(doc!(
        f.id => row.id as u64,
        f.name => text::index_words(&row.name).join(" "),
        f.name_bi => text::bigrams(&row.name).join(" "),
        f.name_ch => text::unigrams(&row.name).join(" "),
        f.name_py => text::pinyin_terms(&row.name).join(" "),
        f.place => text::index_words(&place_text).join(" "),
        f.body => text::index_words(&body).join(" "),
    ))
}

/// A signature of everything the document depends on, to skip re-indexing when only the
/// statistics of a group changed.
pub fn document_signature(g: &GroupText) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let r = &g.row;
    (&r.name, &r.category, &r.place_name, &r.city, &r.district, r.discoverable, &g.description, &g.announcement)
        .hash(&mut h);
    h.finish()
}
