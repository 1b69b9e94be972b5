//! Batch jobs of the one binary: import, reindex, rollup, check and gen. The CLI and the tests
//! call these; they share the store's code paths with the API.

pub mod bench;
pub mod check;
pub mod eval;
pub mod gen;
pub mod import;

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

/// Rebuilds the whole index into a new generation and switches to it.
pub fn reindex(store: &Store, index_root: &Path) -> anyhow::Result<BuildSummary> {
    let total: i64 = store.read(|db| crate::store::groups::count_live(db, false))?;
    let bar = progress_bar(Some(total as u64), "reindex");
    let summary = generation::build(store, index_root, 400_000_000, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    Ok(summary)
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
