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
    /// 3- and 4-character substrings of the name's CJK runs.
    pub name_ng: Field,
    pub name_py: Field,
    pub place: Field,
    pub body: Field,
    /// Filter terms: the category id.
    pub cat: Field,
    /// Filter terms: the area prefixes of the adcode (p11, c1101, d110108).
    pub area: Field,
    /// Filter terms: `room` while the group has room, `open` without join approval.
    pub flags: Field,
    /// Filter terms: the grid cells of the location at a few sizes (see `covering_cells`).
    pub cell: Field,
    /// The category's position in the category list, for counting facets from a column.
    pub cat_ord: Field,
    /// The adcode, for checking an area filter from a column.
    pub adcode: Field,
    /// Bit 0: the group has room; bit 1: it needs no approval (filters checked from a column).
    pub flag_bits: Field,
    /// Every term of the name fields and the place field in one field without frequencies:
    /// counting a match set reads one posting list a word instead of merging several.
    pub all: Field,
}

/// Grid cell sizes in degrees, finest first.
pub const CELL_SIZES: [f64; 3] = [0.05, 0.25, 1.0];

/// The cell term of a point at one size.
pub fn cell_term(level: usize, lat: f64, lon: f64) -> String {
    let size = CELL_SIZES[level];
    format!("{level}:{}:{}", ((lat + 90.0) / size).floor() as i64, ((lon + 180.0) / size).floor() as i64)
}

/// The cell terms whose union covers a circle (as its bounding box), at the finest size
/// that needs no more than 64 cells; `None` when the box wraps a pole or the date line.
pub fn covering_cells(lat: f64, lon: f64, radius_m: f64) -> Option<Vec<String>> {
    let dlat = radius_m / 111_195.0 * 1.01;
    let (south, north) = (lat - dlat, lat + dlat);
    if south <= -89.0 || north >= 89.0 {
        return None;
    }
    let widest = south.abs().max(north.abs()).to_radians().cos().max(0.01);
    let dlon = dlat / widest;
    let (west, east) = (lon - dlon, lon + dlon);
    if west <= -180.0 || east >= 180.0 {
        return None;
    }
    for (level, size) in CELL_SIZES.iter().enumerate() {
        let (i0, i1) = (((south + 90.0) / size).floor() as i64, ((north + 90.0) / size).floor() as i64);
        let (j0, j1) = (((west + 180.0) / size).floor() as i64, ((east + 180.0) / size).floor() as i64);
        if (i1 - i0 + 1) * (j1 - j0 + 1) <= 64 {
            let mut out = Vec::new();
            for i in i0..=i1 {
                for j in j0..=j1 {
                    out.push(format!("{level}:{i}:{j}"));
                }
            }
            return Some(out);
        }
    }
    None
}

fn filter_field() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::Basic),
    )
}

/// Text fields keep no length norms: group names and places are all short, so length says
/// little about relevance, and equal scores let a top-k search take the first (most
/// active, see `reads::for_each_group_text`) of many equally good matches and stop.
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
        cat: b.add_text_field("cat", filter_field()),
        area: b.add_text_field("area", filter_field()),
        flags: b.add_text_field("flags", filter_field()),
        cell: b.add_text_field("cell", filter_field()),
        cat_ord: b.add_u64_field("cat_ord", FAST),
        adcode: b.add_u64_field("adcode", FAST),
        flag_bits: b.add_u64_field("flag_bits", FAST),
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
        cat: schema.get_field("cat")?,
        area: schema.get_field("area")?,
        flags: schema.get_field("flags")?,
        cell: schema.get_field("cell")?,
        cat_ord: schema.get_field("cat_ord")?,
        adcode: schema.get_field("adcode")?,
        flag_bits: schema.get_field("flag_bits")?,
        all: schema.get_field("all")?,
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
    let mut areas = Vec::new();
    if row.adcode != 0 {
        areas.push(format!("p{}", row.adcode / 10_000_000_000));
        areas.push(format!("c{}", row.adcode / 100_000_000));
        areas.push(format!("d{}", row.adcode / 1_000_000));
    }
    let mut flags = Vec::new();
    if row.has_room() {
        flags.push("room");
    }
    if !row.join_approval {
        flags.push("open");
    }
    let cells: Vec<String> = match row.location() {
        Some((lat, lon)) => (0..CELL_SIZES.len()).map(|level| cell_term(level, lat, lon)).collect(),
        None => Vec::new(),
    };
    let bigrams = text::bigrams(&row.name).join(" ");
    let unigrams = text::unigrams(&row.name).join(" ");
    let ngrams = text::ngrams(&row.name).join(" ");
    let pinyin = text::pinyin_terms(&row.name).join(" ");
    let place = text::index_words(&place_text).join(" ");
    let all = format!("{bigrams} {unigrams} {ngrams} {pinyin} {place}");
    Some(doc!(
        f.id => row.id as u64,
        f.name => text::index_words(&row.name).join(" "),
        f.name_bi => bigrams,
        f.name_ch => unigrams,
        f.name_ng => ngrams,
        f.name_py => pinyin,
        f.place => place,
        f.body => text::index_words(&body).join(" "),
        f.cat => row.category.clone(),
        f.area => areas.join(" "),
        f.flags => flags.join(" "),
        f.cell => cells.join(" "),
        f.cat_ord => categories.position(&row.category) as u64,
        f.all => all,
        f.adcode => row.adcode,
        f.flag_bits => u64::from(row.has_room()) | (u64::from(!row.join_approval) << 1),
    ))
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
