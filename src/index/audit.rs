//! The index as `groupscout check` sees it: every live document of the current generation
//! read from its columns and name postings through a reader (never a writer, so a running
//! server is undisturbed), and the offline catch-up that `check --repair` applies when no
//! server holds the generation's writer.

use std::path::Path;

use anyhow::Context;
use tantivy::directory::error::LockError;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, TERMINATED};

use super::generation::{self, committed_seq};
use super::schema::{fields_of, make_document, register_tokenizers};
use super::text;
use crate::domain::CategoryList;
use crate::store::{changes, GroupRow, Store};

/// What one document of the index holds, in the terms of a group row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexedDoc {
    pub id: i64,
    /// The category's position in the category list.
    pub cat_ord: u64,
    pub adcode: u64,
    /// Bit 0: room left; bit 1: no approval needed.
    pub flags: u64,
    pub location: Option<(f64, f64)>,
    /// `name_print` of the name the document was made from, summed from its bigram terms.
    pub name_print: u64,
}

impl IndexedDoc {
    /// The document a group row should have (the row must be discoverable).
    pub fn expected(row: &GroupRow, categories: &CategoryList) -> IndexedDoc {
        IndexedDoc {
            id: row.id,
            cat_ord: categories.position(&row.category) as u64,
            adcode: row.adcode,
            flags: u64::from(row.has_room()) | (u64::from(!row.join_approval) << 1),
            location: row.location(),
            name_print: name_print(&row.name),
        }
    }
}

/// The live documents of a generation, sorted by group id (a duplicate shows as two
/// neighbours with the same id).
pub struct IndexContents {
    pub generation: String,
    /// The seq of the `changes` outbox the read commit covers.
    pub seq: i64,
    pub docs: Vec<IndexedDoc>,
}

/// A fingerprint of a name as the index holds it: the sum of a hash of each distinct
/// bigram term (`name_bi`). Two names with the same bigram set share it; a rename almost
/// never does.
pub fn name_print(name: &str) -> u64 {
    let mut terms = text::bigrams(name);
    terms.sort_unstable();
    terms.dedup();
    terms.iter().fold(0u64, |sum, t| sum.wrapping_add(term_hash(t.as_bytes())))
}

/// FNV-1a with a final mix, so that sums of hashes of different sets rarely meet.
fn term_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// Reads the current generation's live documents; `None` when there is no index yet.
/// The covered seq is read before the reader opens, so the documents are at least as new
/// as the seq says (a commit in between only makes them newer).
pub fn read_current(root: &Path) -> anyhow::Result<Option<IndexContents>> {
    let Some(name) = generation::current(root) else {
        return Ok(None);
    };
    let index =
        Index::open_in_dir(root.join(&name)).with_context(|| format!("failed to open index generation {name}"))?;
    let seq = committed_seq(&index)?;
    let fields = fields_of(&index.schema())?;
    let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
    let searcher = reader.searcher();
    let mut docs = Vec::with_capacity(searcher.num_docs() as usize);
    for segment in searcher.segment_readers() {
        let max_doc = segment.max_doc() as usize;
        let mut prints = vec![0u64; max_doc];
        let names = segment.inverted_index(fields.name_bi)?;
        let mut terms = names.terms().stream()?;
        while let Some((term, info)) = terms.next() {
            let h = term_hash(term);
            let mut postings = names.read_postings_from_terminfo(info, IndexRecordOption::Basic)?;
            let mut doc = postings.doc();
            while doc != TERMINATED {
                prints[doc as usize] = prints[doc as usize].wrapping_add(h);
                doc = postings.advance();
            }
        }
        let fast = segment.fast_fields();
        let column = |name: &str| fast.column_opt::<u64>(name);
        let (ids, cats, adcodes, flags) = (column("id")?, column("cat_ord")?, column("adcode")?, column("flag_bits")?);
        let (lats, lons) = (fast.column_opt::<f64>("lat")?, fast.column_opt::<f64>("lon")?);
        let alive = segment.alive_bitset();
        for (doc, print) in prints.iter().enumerate() {
            let d = doc as u32;
            if alive.is_some_and(|a| !a.is_alive(d)) {
                continue;
            }
            let first = |c: &Option<tantivy::columnar::Column<u64>>| c.as_ref().and_then(|c| c.first(d));
            let lat = lats.as_ref().and_then(|c| c.first(d));
            let lon = lons.as_ref().and_then(|c| c.first(d));
            docs.push(IndexedDoc {
                id: first(&ids).map_or(-1, |v| v as i64),
                cat_ord: first(&cats).unwrap_or(u64::MAX),
                adcode: first(&adcodes).unwrap_or(u64::MAX),
                flags: first(&flags).unwrap_or(u64::MAX),
                location: lat.zip(lon),
                name_print: *print,
            });
        }
    }
    docs.sort_by_key(|d| d.id);
    Ok(Some(IndexContents { generation: name, seq, docs }))
}

/// What an offline catch-up did.
#[derive(Debug, Clone, Copy)]
pub enum CatchUp {
    /// No server holds the writer: the changes after the generation's seq were applied and
    /// committed, up to this seq.
    Applied { changes: usize, seq: i64 },
    /// A server holds the writer; its indexer applies the changes itself.
    ServerRunning,
    /// There is no index; the next `serve` builds one.
    NoIndex,
}

/// Applies the changes after the current generation's seq to it, as the indexer would,
/// when no server is running (tantivy's writer lock tells: a server holds it for as long
/// as it runs). The catalog needs nothing: a server builds it from the store at start.
pub fn catch_up(store: &Store, root: &Path) -> anyhow::Result<CatchUp> {
    let Some(name) = generation::current(root) else {
        return Ok(CatchUp::NoIndex);
    };
    let index =
        Index::open_in_dir(root.join(&name)).with_context(|| format!("failed to open index generation {name}"))?;
    register_tokenizers(&index);
    let fields = fields_of(&index.schema())?;
    let mut writer: IndexWriter<TantivyDocument> = match index.writer_with_num_threads(1, 50_000_000) {
        Ok(w) => w,
        Err(tantivy::TantivyError::LockFailure(LockError::LockBusy, _)) => return Ok(CatchUp::ServerRunning),
        Err(e) => return Err(e.into()),
    };
    let mut seq = committed_seq(&index)?;
    let mut applied = 0;
    loop {
        let (batch, texts) = store.snapshot(|db| changes::with_texts(db, seq, 5_000))?;
        let Some(&(last, _)) = batch.last() else {
            break;
        };
        for (id, text) in &texts {
            writer.delete_term(Term::from_field_u64(fields.id, *id as u64));
            if let Some(doc) = text.as_ref().and_then(|t| make_document(&fields, t, &store.ctx.categories)) {
                writer.add_document(doc)?;
            }
        }
        applied += batch.len();
        seq = last;
    }
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&seq.to_string());
    prepared.commit()?;
    writer.wait_merging_threads()?;
    Ok(CatchUp::Applied { changes: applied, seq })
}
