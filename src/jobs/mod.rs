//! Batch jobs of the one binary: import, reindex, rollup, check and gen. The CLI and the tests
//! call these; they share the store's code paths with the API.

pub mod bench;
pub mod check;
pub mod engines;
pub mod eval;
pub mod gen;
pub mod import;
pub mod progress;
pub mod screen_model;
pub mod soak;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::geo::Gazetteer;
use crate::index::generation::{self, BuildSummary};
use crate::store::activity::RollupSummary;
use crate::store::{day_number, Store};

/// A progress bar on standard error (hidden when it is not a terminal).
pub fn progress_bar(len: Option<u64>, what: &str) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = match len {
        Some(_) => {
            format!("{what} {{bar:40}} {{percent:>3}}% {{pos}}/{{len}} {{per_sec}} eta {{eta}}")
        }
        None => format!("{what} {{spinner}} {{pos}} {{per_sec}}"),
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// The indexing memory of a reindex: 1M groups fit in one segment (the whole reindex
/// peaks at 1.5 GB of RSS for them), so nothing is merged at the end; a larger world
/// writes a segment per 2 GB and merges them (5M groups: 113 s, 4.4 GB).
const REINDEX_BUDGET: usize = 2_000_000_000;

/// Rebuilds the whole index into a new generation and switches to it.
pub fn reindex(store: &Store, index_root: &Path) -> anyhow::Result<BuildSummary> {
    let total: i64 = store.read(|db| crate::store::groups::count_live(db, false))?;
    let bar = progress_bar(Some(total as u64), "reindex");
    let summary = generation::build(store, index_root, REINDEX_BUDGET, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    Ok(summary)
}

/// What `reindex` did against a shared database.
pub struct ClusterReindex {
    pub epoch: i64,
    /// The nodes that were serving and have rebuilt.
    pub nodes: usize,
    /// Built here because no node was serving.
    pub local: Option<BuildSummary>,
    pub seconds: f64,
}

/// A node that has not reported itself for this long is not waited for.
const NODE_ALIVE_SECS: i64 = 10;

/// `reindex` against PostgreSQL: raises the index epoch, so every node rebuilds its own
/// index from a snapshot while it keeps serving, and waits until each node serving now
/// reports the new epoch (a node started later builds for it at start). With no node
/// serving, the index folder given here is rebuilt instead.
pub fn reindex_cluster(store: &Store, index_root: &Path) -> anyhow::Result<ClusterReindex> {
    use crate::store::nodes;
    let started = std::time::Instant::now();
    let epoch = store.write(nodes::raise_epoch)?;
    let now = || chrono::Utc::now().timestamp();
    let serving = store.read(|db| nodes::seen_since(db, now() - NODE_ALIVE_SECS))?;
    if serving.is_empty() {
        let summary = reindex(store, index_root)?;
        std::fs::write(index_root.join("EPOCH"), epoch.to_string())?;
        return Ok(ClusterReindex { epoch, nodes: 0, local: Some(summary), seconds: started.elapsed().as_secs_f64() });
    }
    let bar = progress_bar(Some(serving.len() as u64), "nodes rebuilt");
    loop {
        let seen = store.read(|db| nodes::seen_since(db, now() - NODE_ALIVE_SECS))?;
        let waiting: Vec<_> =
            serving.iter().filter(|n| seen.iter().any(|s| s.id == n.id && s.index_epoch < epoch)).collect();
        bar.set_position((serving.len() - waiting.len()) as u64);
        if waiting.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    bar.finish_and_clear();
    Ok(ClusterReindex { epoch, nodes: serving.len(), local: None, seconds: started.elapsed().as_secs_f64() })
}

/// Recomputes the daily statistics of `day` (default: yesterday in the service timezone).
pub fn rollup(
    store: &Store,
    day: Option<chrono::NaiveDate>,
) -> anyhow::Result<(chrono::NaiveDate, RollupSummary, f64)> {
    let started = Instant::now();
    let day = day.unwrap_or_else(|| store.ctx.today() - chrono::Duration::days(1));
    let summary = crate::service::activity::rollup(store, day_number(day))?;
    Ok((day, summary, started.elapsed().as_secs_f64()))
}

/// The gazetteer's districts (and cities without districts) as places to generate around.
pub fn gen_places(gazetteer: &Gazetteer) -> Vec<gen::GenPlace> {
    gazetteer
        .localities()
        .filter_map(|p| {
            let city = gazetteer.city_of(p.adcode)?;
            Some(gen::GenPlace {
                adcode: p.adcode,
                district: p.name.clone(),
                short: p.short.clone(),
                city: city.name.clone(),
                city_short: city.short.clone(),
                lat: p.lat?,
                lon: p.lon?,
            })
        })
        .collect()
}

/// Writes a generated world as import lines.
pub fn generate(gazetteer: &Gazetteer, opts: &gen::GenOptions, out: &mut dyn Write) -> anyhow::Result<gen::GenSummary> {
    gen::generate_world(&gen_places(gazetteer), opts, out)
}

/// The sample world of `serve --sample N` as import lines: `groups` generated groups
/// (seed 42), or `None` when the store already has groups.
pub fn sample_world(store: &Store, groups: usize) -> anyhow::Result<Option<Vec<u8>>> {
    let existing: i64 = store.read(crate::store::groups::count_all)?;
    if existing > 0 {
        return Ok(None);
    }
    let opts = gen::GenOptions { groups, seed: 42, today: store.ctx.today() };
    let mut world = Vec::new();
    generate(&store.ctx.gazetteer, &opts, &mut world)?;
    Ok(Some(world))
}
