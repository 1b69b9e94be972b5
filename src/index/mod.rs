//! The derived side: the tantivy index of group text, the in-memory catalog of cards,
//! and the one indexer task that keeps both in step with the store's `changes` outbox.
//! Only this folder imports tantivy, and only the indexer thread holds the `IndexWriter`.

pub mod audit;
pub mod catalog;
pub mod generation;
pub mod geocells;
pub mod matchset;
pub mod nearby;
pub mod schema;
pub mod search;
pub mod searcher;
pub mod segments;
pub mod terms;
pub mod text;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex, RwLock};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use self::catalog::Catalog;
use self::schema::{document_signature, fields_of, make_document, register_tokenizers, Fields};
use self::segments::Segments;
use crate::config::RankingWeights;
use crate::store::{changes, groups, nodes, Store};

/// How long the indexer waits for a wake-up before polling `changes` again (other
/// processes, such as `import` and `rollup`, write there too).
const POLL: Duration = Duration::from_millis(100);
/// Commits are at least this far apart, so bursts of writes share one commit.
const MIN_COMMIT_GAP: Duration = Duration::from_millis(100);
/// The longest a change waits for its commit while changes keep coming.
const MAX_COMMIT_DELAY: Duration = Duration::from_millis(400);
/// Changes read per step.
const BATCH: usize = 5_000;
/// How often applied changes are pruned, and how old they must be.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const CHANGES_KEPT_SECS: i64 = 3600;
/// How often a node reports itself and looks for a raised index epoch.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// The file in the index folder naming the index epoch its generations were built for.
const EPOCH_FILE: &str = "EPOCH";
/// The file in the index folder holding this node's id.
const NODE_FILE: &str = "NODE";

fn local_epoch(root: &Path) -> i64 {
    std::fs::read_to_string(root.join(EPOCH_FILE)).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn set_local_epoch(root: &Path, epoch: i64) -> anyhow::Result<()> {
    let tmp = root.join(format!("{EPOCH_FILE}.tmp"));
    std::fs::write(&tmp, epoch.to_string())?;
    std::fs::rename(&tmp, root.join(EPOCH_FILE))?;
    Ok(())
}

/// This node's id, kept in its index folder (so a restart is the same node).
fn node_id(root: &Path) -> anyhow::Result<String> {
    let path = root.join(NODE_FILE);
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_string());
        }
    }
    let bytes: [u8; 6] = rand::random();
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let id = format!("{}-{}", host.trim(), bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    std::fs::write(&path, &id)?;
    Ok(id)
}

/// One open generation: the index, its reader and its fields.
pub struct Generation {
    pub name: String,
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    /// Dense per-segment columns, kept current by the reader's warming.
    pub segments: Arc<Segments>,
}

/// The read side shared with request handlers.
pub struct Engine {
    pub catalog: RwLock<Catalog>,
    generation: ArcSwap<Generation>,
    /// Synonyms, related terms and noise words (`data/related_terms.txt`), swapped whole on
    /// a reload.
    terms: ArcSwap<terms::RelatedTerms>,
    /// The gazetteer and category list, to tell place words in queries.
    ctx: Arc<crate::store::StoreContext>,
    wake: (Mutex<bool>, Condvar),
    applied_seq: AtomicI64,
    committed_seq: AtomicI64,
    stop: AtomicBool,
    /// Set by the indexer when it has stopped (after its last commit).
    stopped: (Mutex<bool>, Condvar),
    root: PathBuf,
}

fn open_generation(root: &Path, name: &str) -> anyhow::Result<(Generation, IndexWriter<TantivyDocument>)> {
    let index =
        Index::open_in_dir(root.join(name)).with_context(|| format!("failed to open index generation {name}"))?;
    register_tokenizers(&index);
    let fields = fields_of(&index.schema())?;
    let segments = Arc::new(Segments::default());
    let warmer: Arc<dyn tantivy::Warmer> = segments.clone();
    let reader: IndexReader =
        index.reader_builder().reload_policy(ReloadPolicy::Manual).warmers(vec![Arc::downgrade(&warmer)]).try_into()?;
    let writer = index.writer_with_num_threads(1, 100_000_000)?;
    Ok((Generation { name: name.to_string(), index, reader, fields, segments }, writer))
}

/// Opens the live generation, building one from the store when there is none or it is
/// unreadable.
fn open_or_build(store: &Store, root: &Path) -> anyhow::Result<(Generation, IndexWriter<TantivyDocument>)> {
    let (epoch, pruned) =
        store.read(|db| -> anyhow::Result<_> { Ok((nodes::epoch(db)?, nodes::pruned_through(db)?)) })?;
    if let Some(name) = generation::current(root) {
        match open_generation(root, &name) {
            // An index built before the last `reindex` of the cluster, or committed below
            // what pruning removed from the outbox, cannot be caught up: build anew.
            Ok(_) if local_epoch(root) < epoch => {
                tracing::info!(epoch, "the cluster was reindexed; building a new index from the store")
            }
            Ok(opened) if generation::committed_seq(&opened.0.index)? < pruned => {
                tracing::info!(pruned, "the index is older than the kept changes; building a new one from the store")
            }
            Ok(opened) => return Ok(opened),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the index is unreadable; rebuilding it from the store")
            }
        }
    }
    let summary = generation::build(store, root, 300_000_000, |_| {})?;
    set_local_epoch(root, epoch)?;
    tracing::info!(generation = %summary.generation, documents = summary.documents, seconds = summary.seconds, "built the index");
    open_generation(root, &summary.generation)
}

impl Engine {
    /// Opens the index and the catalog and starts the indexer thread.
    pub fn start(store: Arc<Store>, root: &Path, weights: RankingWeights) -> anyhow::Result<Arc<Engine>> {
        text::warm_up();
        std::fs::create_dir_all(root).with_context(|| format!("failed to create {}", root.display()))?;
        let (gen, writer) = open_or_build(&store, root)?;
        generation::remove_generations_except(root, &[gen.name.as_str()]);
        let index_seq = generation::committed_seq(&gen.index)?;
        // The catalog comes from one snapshot; changes after its seq are applied again
        // (idempotently) by the indexer.
        // Rows go into the catalog as they are read: holding them all first would double
        // the peak memory of a start.
        let (catalog_seq, catalog) = store.snapshot(|db| -> anyhow::Result<_> {
            let seq = changes::max_seq(db)?;
            let mut catalog = Catalog::builder(store.ctx.categories.ids().map(String::from).collect(), weights);
            groups::for_each(db, |r| catalog.add(r))?;
            Ok((seq, catalog.finish()))
        })?;
        let start_seq = index_seq.min(catalog_seq);
        let engine = Arc::new(Engine {
            catalog: RwLock::new(catalog),
            generation: ArcSwap::from_pointee(gen),
            terms: ArcSwap::from_pointee(terms::RelatedTerms::from_data_dir(&crate::config::data_dir())),
            ctx: store.ctx.clone(),
            wake: (Mutex::new(false), Condvar::new()),
            applied_seq: AtomicI64::new(start_seq),
            committed_seq: AtomicI64::new(start_seq),
            stop: AtomicBool::new(false),
            stopped: (Mutex::new(false), Condvar::new()),
            root: root.to_path_buf(),
        });
        let mut indexer = Indexer {
            engine: engine.clone(),
            store,
            writer,
            signatures: HashMap::new(),
            last_seq: start_seq,
            node: node_id(root)?,
            rebuild: None,
            writer_failed: false,
            writer_unlocked: false,
            failures: 0,
            last_failure_log: None,
        };
        std::thread::Builder::new().name("indexer".into()).spawn(move || {
            indexer.run();
            let (lock, cv) = &indexer.engine.stopped;
            *lock.lock() = true;
            cv.notify_all();
        })?;
        Ok(engine)
    }

    /// The related terms searches expand with now.
    pub fn terms(&self) -> Arc<terms::RelatedTerms> {
        self.terms.load_full()
    }

    /// Whether a query word names a province, city or district.
    pub fn is_place(&self, word: &str) -> bool {
        !self.ctx.gazetteer.resolve(word).is_empty()
    }

    /// Serves these related terms from the next search on.
    pub fn set_terms(&self, terms: terms::RelatedTerms) {
        self.terms.store(Arc::new(terms));
    }

    /// The generation serving reads now.
    pub fn generation(&self) -> Arc<Generation> {
        self.generation.load_full()
    }

    /// Tells the indexer there is something new in `changes`.
    pub fn notify(&self) {
        let (lock, cv) = &self.wake;
        *lock.lock() = true;
        cv.notify_one();
    }

    /// The last seq visible to text search.
    pub fn committed_seq(&self) -> i64 {
        self.committed_seq.load(Ordering::Acquire)
    }

    pub fn applied_seq(&self) -> i64 {
        self.applied_seq.load(Ordering::Acquire)
    }

    /// Stops the indexer after its current step and waits (up to 30 s) until it has
    /// committed what it applied, so a clean stop leaves nothing for the next start to redo.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        self.notify();
        let (lock, cv) = &self.stopped;
        let mut stopped = lock.lock();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !*stopped && Instant::now() < deadline {
            cv.wait_until(&mut stopped, deadline);
        }
        if !*stopped {
            tracing::warn!("the indexer did not stop within 30 s");
        }
    }

    fn wait(&self, timeout: Duration) {
        let (lock, cv) = &self.wake;
        let mut woken = lock.lock();
        if !*woken {
            cv.wait_for(&mut woken, timeout);
        }
        *woken = false;
    }
}

/// The single owner of the `IndexWriter`.
struct Indexer {
    engine: Arc<Engine>,
    store: Arc<Store>,
    writer: IndexWriter<TantivyDocument>,
    /// The document signature of every group this generation holds, to skip re-indexing
    /// groups whose text did not change. Empty after a switch, so everything re-applied
    /// reaches the new generation.
    signatures: HashMap<i64, u64>,
    last_seq: i64,
    /// This node's id in the `nodes` table.
    node: String,
    /// A rebuild of the index running beside the serving one, and the epoch it is for.
    rebuild: Option<(i64, std::thread::JoinHandle<anyhow::Result<()>>)>,
    /// The writer refused a document: its uncommitted state is unknown.
    writer_failed: bool,
    /// A rollback failed after giving up the writer's lock: open a new writer instead.
    writer_unlocked: bool,
    /// Failed commits or writes in a row, and when the last was logged.
    failures: u32,
    last_failure_log: Option<Instant>,
}

impl Indexer {
    fn run(&mut self) {
        let mut dirty_since: Option<Instant> = None;
        let mut last_commit = Instant::now() - MIN_COMMIT_GAP;
        let mut last_pointer_check = Instant::now();
        let mut last_prune = Instant::now();
        let mut last_heartbeat = Instant::now() - HEARTBEAT_EVERY;
        loop {
            let stopping = self.engine.stop.load(Ordering::Acquire);
            let applied = match self.apply_step() {
                Ok(n) => n,
                Err(e) if self.writer_failed => {
                    self.writer_trouble("adding to the index failed", &e);
                    dirty_since = None;
                    0
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "indexer step failed; retrying");
                    std::thread::sleep(Duration::from_millis(500));
                    0
                }
            };
            if applied > 0 && dirty_since.is_none() {
                dirty_since = Some(Instant::now());
            }
            let caught_up = applied < BATCH;
            if let Some(since) = dirty_since {
                let due = (caught_up && last_commit.elapsed() >= MIN_COMMIT_GAP) || since.elapsed() >= MAX_COMMIT_DELAY;
                if due || stopping {
                    match self.commit() {
                        Ok(()) => {
                            dirty_since = None;
                            last_commit = Instant::now();
                            if self.failures > 0 {
                                tracing::info!(failures = self.failures, "index commits succeed again");
                                self.failures = 0;
                            }
                        }
                        Err(e) => {
                            self.writer_trouble("index commit failed", &e);
                            dirty_since = None;
                        }
                    }
                }
            }
            if stopping {
                break;
            }
            if last_pointer_check.elapsed() >= Duration::from_millis(300) {
                last_pointer_check = Instant::now();
                if let Err(e) = self.follow_pointer() {
                    tracing::error!(error = %format!("{e:#}"), "failed to switch index generation");
                }
            }
            if last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
                last_heartbeat = Instant::now();
                if let Err(e) = self.heartbeat() {
                    tracing::warn!(error = %format!("{e:#}"), "node heartbeat failed");
                }
            }
            if caught_up && last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                self.prune();
            }
            if caught_up {
                let wait = if dirty_since.is_some() { MIN_COMMIT_GAP } else { POLL };
                self.engine.wait(wait);
            }
        }
    }

    /// Applies the next batch of changes to the catalog and the writer.
    fn apply_step(&mut self) -> anyhow::Result<usize> {
        let last = self.last_seq;
        let (batch, texts) = self.store.snapshot(|db| changes::with_texts(db, last, BATCH))?;
        let Some(&(max_seq, _)) = batch.last() else {
            return Ok(0);
        };
        {
            let mut catalog = self.engine.catalog.write();
            for (id, text) in &texts {
                match text {
                    Some(t) => catalog.upsert(t.row.clone()),
                    None => catalog.remove(*id),
                }
            }
        }
        let gen = self.engine.generation();
        let categories = &self.store.ctx.categories;
        for (id, text) in &texts {
            let term = Term::from_field_u64(gen.fields.id, *id as u64);
            match text.as_ref().and_then(|t| make_document(&gen.fields, t, categories).map(|d| (t, d))) {
                Some((t, doc)) => {
                    let sig = document_signature(t);
                    if self.signatures.get(id) != Some(&sig) {
                        self.writer.delete_term(term);
                        if let Err(e) = self.writer.add_document(doc) {
                            self.writer_failed = true;
                            return Err(e.into());
                        }
                        self.signatures.insert(*id, sig);
                    }
                }
                None => {
                    self.writer.delete_term(term);
                    self.signatures.remove(id);
                }
            }
        }
        self.last_seq = max_seq;
        self.engine.applied_seq.store(max_seq, Ordering::Release);
        Ok(batch.len())
    }

    /// Reports this node in `nodes`, and starts a rebuild of the index beside the serving
    /// one when the cluster's index epoch was raised (`reindex`) or the outbox was pruned
    /// past what this index committed (a node stopped for longer than changes are kept).
    /// The rebuild switches `CURRENT` when done, and `follow_pointer` takes it up.
    fn heartbeat(&mut self) -> anyhow::Result<()> {
        let root = self.engine.root.clone();
        if let Some((epoch, handle)) = self.rebuild.take_if(|(_, h)| h.is_finished()) {
            match handle.join() {
                Ok(Ok(())) => set_local_epoch(&root, epoch)?,
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "index rebuild failed"),
                Err(_) => tracing::error!("index rebuild panicked"),
            }
        }
        let local = local_epoch(&root);
        let seq = self.engine.committed_seq();
        let (epoch, pruned) = self.store.write(|db| -> crate::store::DbResult<_> {
            nodes::heartbeat(db, &self.node, local, seq, chrono::Utc::now().timestamp())?;
            Ok((nodes::epoch(db)?, nodes::pruned_through(db)?))
        })?;
        if self.rebuild.is_none() && (epoch > local || seq < pruned) {
            tracing::info!(epoch, local, seq, pruned, "building a new index beside the serving one");
            let store = self.store.clone();
            let handle = std::thread::Builder::new().name("rebuild".into()).spawn(move || {
                let summary = generation::build(&store, &root, 300_000_000, |_| {})?;
                tracing::info!(generation = %summary.generation, documents = summary.documents, "rebuilt the index");
                Ok(())
            })?;
            self.rebuild = Some((epoch, handle));
        }
        Ok(())
    }

    /// Drops changes every node has committed once they are an hour old: a reindex
    /// snapshot younger than that may still need them to catch up from, and so may a
    /// node that stopped for a while (one that stopped for longer rebuilds).
    fn prune(&self) {
        let since = chrono::Utc::now().timestamp() - CHANGES_KEPT_SECS;
        let slowest = match self.store.read(|db| nodes::seen_since(db, since)) {
            Ok(nodes) => nodes.iter().map(|n| n.seq).min(),
            Err(e) => {
                tracing::warn!(error = %e, "failed to read the nodes");
                return;
            }
        };
        let committed = self.engine.committed_seq().min(slowest.unwrap_or(i64::MAX));
        let before = chrono::Utc::now().timestamp() - CHANGES_KEPT_SECS;
        match self.store.write(|db| changes::prune(db, committed, before, 50_000)) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "pruned applied changes"),
            Err(e) => tracing::warn!(error = %e, "failed to prune changes"),
        }
    }

    /// A commit or a write to the writer failed (a full disk, say). Searches keep
    /// answering from the last commit. What the writer held since then is lost or unknown:
    /// an indexing thread that fails to write its segment dies with the documents it held,
    /// and before this the indexer went on past them, so they never reached the index even
    /// after space returned. So the writer is rolled back to the last commit and every
    /// change since is applied again, after a pause that grows while the failures go on.
    /// The first failure is logged as an error, later ones at most every 30 s.
    fn writer_trouble(&mut self, what: &str, e: &anyhow::Error) {
        self.failures += 1;
        let loud = self.last_failure_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(30));
        if self.failures == 1 || loud {
            self.last_failure_log = Some(Instant::now());
            tracing::error!(
                error = %format!("{e:#}"),
                failures = self.failures,
                committed_seq = self.engine.committed_seq(),
                "{what}; searches answer from the last commit, and the changes since are applied again until it succeeds"
            );
        }
        if let Err(e) = self.reset_writer() {
            tracing::error!(error = %format!("{e:#}"), "failed to reopen the index writer; retrying");
        }
        let pause = Duration::from_millis(250 << self.failures.min(4)).min(Duration::from_secs(2));
        std::thread::sleep(pause);
    }

    /// Drops what the writer holds since the last commit and rewinds to that commit.
    fn reset_writer(&mut self) -> anyhow::Result<()> {
        self.signatures.clear();
        self.last_seq = self.engine.committed_seq();
        self.engine.applied_seq.store(self.last_seq, Ordering::Release);
        self.writer_failed = false;
        if !self.writer_unlocked {
            match self.writer.rollback() {
                Ok(_) => return Ok(()),
                // The rollback gave up the writer's lock before it failed.
                Err(e) => {
                    self.writer_unlocked = true;
                    tracing::warn!(error = %e, "index writer rollback failed; opening a new writer");
                }
            }
        }
        self.writer = self.engine.generation().index.writer_with_num_threads(1, 100_000_000)?;
        self.writer_unlocked = false;
        Ok(())
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&self.last_seq.to_string());
        prepared.commit()?;
        self.engine.generation().reader.reload()?;
        self.engine.committed_seq.store(self.last_seq, Ordering::Release);
        Ok(())
    }

    /// Switches to the generation `CURRENT` names when a reindex has moved it.
    fn follow_pointer(&mut self) -> anyhow::Result<()> {
        let root = self.engine.root.clone();
        let Some(name) = generation::current(&root) else {
            return Ok(());
        };
        let old = self.engine.generation();
        if name == old.name {
            return Ok(());
        }
        let (gen, writer) = open_generation(&root, &name)?;
        let seq = generation::committed_seq(&gen.index)?;
        // The new generation covers its snapshot; catch it up from there (re-applying to the
        // catalog is harmless).
        self.last_seq = self.last_seq.min(seq);
        self.signatures.clear();
        let old_writer = std::mem::replace(&mut self.writer, writer);
        drop(old_writer);
        self.writer_failed = false;
        self.writer_unlocked = false;
        self.engine.generation.store(Arc::new(gen));
        self.engine.committed_seq.store(self.last_seq, Ordering::Release);
        let old_name = old.name.clone();
        drop(old);
        generation::remove_generations_except(&root, &[name.as_str()]);
        tracing::info!(from = %old_name, to = %name, seq, "switched index generation");
        Ok(())
    }
}
