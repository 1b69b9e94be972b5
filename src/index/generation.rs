//! Index generations: `index/gen-<n>/` directories and the `CURRENT` pointer naming the
//! live one. A new generation is built beside the old from one SQLite snapshot and
//! switched to by an atomic rename; readers pick it up without a failed request.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use parking_lot::Mutex;
use tantivy::{Index, IndexWriter, TantivyDocument};

use super::schema::{build_schema, register_tokenizers, Analyser, Fields};
use crate::store::groups::GroupText;
use crate::store::{changes, groups, Store};

const POINTER: &str = "CURRENT";

/// The generation `CURRENT` names, if any.
pub fn current(root: &Path) -> Option<String> {
    let name = fs::read_to_string(root.join(POINTER)).ok()?.trim().to_string();
    (!name.is_empty() && root.join(&name).is_dir()).then_some(name)
}

fn generation_number(name: &str) -> Option<u64> {
    name.strip_prefix("gen-")?.parse().ok()
}

fn generations(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(root)
        .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    out.retain(|n| generation_number(n).is_some());
    out.sort_by_key(|n| generation_number(n));
    out
}

/// Points `CURRENT` at a generation: write a temporary file, sync it, rename it over.
pub fn switch_to(root: &Path, name: &str) -> anyhow::Result<()> {
    let tmp = root.join(format!("{POINTER}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(name.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, root.join(POINTER))?;
    if let Ok(dir) = fs::File::open(root) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Removes every generation except those named in `keep`.
pub fn remove_generations_except(root: &Path, keep: &[&str]) {
    for g in generations(root) {
        if !keep.contains(&g.as_str()) {
            if let Err(e) = fs::remove_dir_all(root.join(&g)) {
                tracing::warn!(generation = %g, error = %e, "failed to remove an old index generation");
            }
        }
    }
}

/// What building a generation did.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    pub generation: String,
    pub seq: i64,
    pub documents: u64,
    pub seconds: f64,
}

/// Builds a new generation from one consistent snapshot of the store and switches to it.
/// `progress` is called with the number of groups read so far.
pub fn build(
    store: &Store,
    root: &Path,
    writer_budget: usize,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<BuildSummary> {
    let started = Instant::now();
    fs::create_dir_all(root).with_context(|| format!("failed to create {}", root.display()))?;
    let next = generations(root).last().and_then(|g| generation_number(g)).unwrap_or(0) + 1;
    let name = format!("gen-{next}");
    let dir: PathBuf = root.join(&name);
    fs::create_dir_all(&dir)?;
    let (schema, fields) = build_schema();
    let index = Index::create_in_dir(&dir, schema)
        .with_context(|| format!("failed to create an index in {}", dir.display()))?;
    register_tokenizers(&index);
    // Half the cores index, the others read and analyse. On two cores one indexing thread
    // with the whole budget keeps pace with two (analysis fills the other core either way)
    // and writes one segment where two would need the merge at the end: at 1M groups, 35 s
    // of CPU time against 37 to 39, in the same 22 s.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let indexing = (cores / 2).clamp(1, 4);
    let mut writer: IndexWriter<TantivyDocument> = index.writer_with_num_threads(indexing, writer_budget)?;
    // The one merge is the explicit one at the end: a background merge still running then
    // would hold segments that merge names, and it fails ("segments that were merged could
    // not be found"), as seen with three nodes building at once.
    writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    let threads = (cores - indexing).clamp(1, 8);
    let (seq, read, documents) = index_snapshot(store, &fields, &writer, threads, &mut progress)?;
    progress(read);
    let analysed = started.elapsed().as_secs_f64();
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&seq.to_string());
    commit.commit()?;
    // One segment: every query looks each term up once instead of once per segment, and
    // the activity order of the documents holds across the whole index.
    let segments = index.searchable_segment_ids()?;
    if segments.len() > 1 {
        writer.merge(&segments).wait()?;
    }
    writer.wait_merging_threads()?;
    tracing::info!(
        documents,
        analysed_s = analysed,
        merged_s = started.elapsed().as_secs_f64() - analysed,
        "index generation built"
    );
    let previous = current(root);
    switch_to(root, &name)?;
    // The previous generation may still be open in a running server, which removes it
    // once it has switched; anything older goes now.
    let mut keep = vec![name.as_str()];
    if let Some(p) = previous.as_deref() {
        keep.push(p);
    }
    remove_generations_except(root, &keep);
    Ok(BuildSummary { generation: name, seq, documents, seconds: started.elapsed().as_secs_f64() })
}

/// Groups read from the store per message to the analysing threads.
const BATCH: usize = 256;

/// Reads every live group from one snapshot of the store and adds its document to `writer`:
/// this thread reads rows, `threads` others analyse them (with one `Analyser`, so each
/// distinct name, place and description is analysed once) and hand the documents to the
/// writer, whose own threads index them side by side. Returns the seq the snapshot covers,
/// the groups read and the documents added.
fn index_snapshot(
    store: &Store,
    fields: &Fields,
    writer: &IndexWriter<TantivyDocument>,
    threads: usize,
    progress: &mut impl FnMut(u64),
) -> anyhow::Result<(i64, u64, u64)> {
    let categories = &store.ctx.categories;
    let analyser = Analyser::with_capacity(ANALYSES_KEPT);
    let (send, receive) = mpsc::sync_channel::<Vec<GroupText>>(threads * 4);
    let receive = Mutex::new(receive);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                // Each returns how many documents it added.
                scope.spawn(|| -> anyhow::Result<u64> {
                    let mut documents = 0;
                    loop {
                        let Ok(batch) = receive.lock().recv() else { return Ok(documents) };
                        for g in &batch {
                            if let Some(doc) = analyser.document(fields, g, categories) {
                                writer.add_document(doc)?;
                                documents += 1;
                            }
                        }
                    }
                })
            })
            .collect();
        let mut read = 0u64;
        // One snapshot: the seq and the rows agree.
        let snapshot = store.snapshot(|db| -> anyhow::Result<i64> {
            let seq = changes::max_seq(db)?;
            let mut batch = Vec::with_capacity(BATCH);
            groups::for_each_text(db, |g| {
                batch.push(g);
                read += 1;
                if batch.len() == BATCH {
                    // A closed channel means a worker failed; its error is reported below.
                    if send.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err() {
                        anyhow::bail!("an analysing thread stopped");
                    }
                }
                if read.is_multiple_of(10_000) {
                    progress(read);
                }
                Ok(())
            })?;
            if !batch.is_empty() {
                let _ = send.send(batch);
            }
            Ok(seq)
        });
        drop(send);
        let mut documents = 0;
        for worker in workers {
            documents += worker.join().map_err(|_| anyhow::anyhow!("an analysing thread panicked"))??;
        }
        Ok((snapshot?, read, documents))
    })
}

/// The most analyses of each kind (names, places, descriptions) a build keeps: about 300 MB
/// when full.
const ANALYSES_KEPT: usize = 600_000;

/// The seq a generation's last commit covers.
pub fn committed_seq(index: &Index) -> anyhow::Result<i64> {
    let metas = index.load_metas()?;
    Ok(metas.payload.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0))
}
