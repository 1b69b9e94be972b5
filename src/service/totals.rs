//! What readers see, audited: the `total` and facets a serving node answers for the most
//! frequent words of group names and for each category, against counts made afresh.
//!
//! A search counts through word sets, page passes and best scores that each index
//! generation keeps between searches and brings up to date after deletions; if one of them
//! missed a change, every later search of its word would answer a wrong total until the
//! next reindex, and the audit of the index's documents (`check`) would not see it. So:
//! - each word's answer as readers get it is compared with the same search counted from
//!   the index's postings and deletions with nothing kept (`search::count_twice`); the
//!   documents themselves are audited against the store by `check`;
//! - each category's total is compared with the listed groups the store holds in it.
//!
//! The store's snapshot and the index must describe the same moment: the audit waits for
//! the index to commit the snapshot's last change, and starts over when writes arrive
//! while it runs (up to three times; then it says it could not compare).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::index::searcher::{self, SearchQuery};
use crate::index::text;
use crate::service::App;
use crate::store::{changes, groups};

/// A search's figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub total: usize,
    /// Category id → matching groups.
    pub facets: BTreeMap<String, u64>,
}

/// One answer that differs from its fresh count.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServedDifference {
    /// The search, as a query string (`q=群` or `category=outdoor`).
    pub query: String,
    /// Counted afresh.
    pub expected: Figures,
    /// As readers are answered.
    pub found: Figures,
}

/// What one audit of the served totals found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServedAudit {
    /// The store's last change the comparison is at.
    pub seq: i64,
    /// Words and categories compared.
    pub words: usize,
    pub categories: usize,
    /// False when writes kept arriving and nothing could be compared.
    pub compared: bool,
    pub differences: Vec<ServedDifference>,
    /// With `repair`: the kept counts were dropped, and these are the differences after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_repair: Option<Vec<ServedDifference>>,
}

/// What the store holds at one seq: listed groups per category, and how many listed names
/// hold each word.
struct Truth {
    seq: i64,
    by_category: HashMap<String, u64>,
    words: Vec<String>,
}

fn truth(app: &App, words: usize) -> anyhow::Result<Truth> {
    app.store.snapshot(|db| -> anyhow::Result<Truth> {
        let seq = changes::max_seq(db)?;
        let mut by_category: HashMap<String, u64> = HashMap::new();
        let mut freq: HashMap<String, u64> = HashMap::new();
        groups::for_each(db, |row| {
            if !row.listed() {
                return;
            }
            *by_category.entry(row.category.clone()).or_default() += 1;
            // The words of the name, and its last character alone (群, 会, 团: what
            // people type alone), each once a group.
            let mut seen: HashSet<String> = text::index_words(&row.name).into_iter().collect();
            if let Some(last) = row.name.chars().last().filter(|c| text::is_cjk(*c)) {
                seen.insert(last.to_string());
            }
            for w in seen {
                *freq.entry(w).or_default() += 1;
            }
        })?;
        let mut ranked: Vec<(String, u64)> = freq.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Truth { seq, by_category, words: ranked.into_iter().take(words).map(|(w, _)| w).collect() })
    })
}

fn figures(page: &searcher::Page) -> Figures {
    Figures { total: page.total, facets: page.facets.clone() }
}

/// Compares once; `None` when the store moved on while it ran.
fn compare_once(app: &App, words: usize) -> anyhow::Result<Option<(Truth, Vec<ServedDifference>)>> {
    let truth = truth(app, words)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    app.engine.notify();
    while app.engine.committed_seq() < truth.seq {
        if Instant::now() > deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let weights = &app.settings.ranking;
    let mut differences = Vec::new();
    for word in &truth.words {
        let mut sq = SearchQuery::text(word);
        sq.limit = 0;
        let (kept, fresh) = searcher::count_twice(&app.engine, weights, &sq)?;
        if figures(&kept) != figures(&fresh) {
            differences.push(ServedDifference {
                query: format!("q={word}"),
                expected: figures(&fresh),
                found: figures(&kept),
            });
        }
    }
    for category in app.categories().ids() {
        let mut sq = SearchQuery::text("");
        sq.category = Some(category.to_string());
        sq.limit = 0;
        let served = searcher::search(&app.engine, weights, &sq)?;
        let held = truth.by_category.get(category).copied().unwrap_or(0);
        if served.total as u64 != held {
            let facets = if held > 0 { BTreeMap::from([(category.to_string(), held)]) } else { BTreeMap::new() };
            let expected = Figures { total: held as usize, facets };
            differences.push(ServedDifference {
                query: format!("category={category}"),
                expected,
                found: figures(&served),
            });
        }
    }
    // Writes that arrived meanwhile may explain a difference: compare again from the start.
    let now = app.store.read(changes::max_seq)?;
    if now != truth.seq || app.engine.committed_seq() != truth.seq {
        return Ok(None);
    }
    Ok(Some((truth, differences)))
}

/// Compares until a run is not overtaken by writes, three times at most.
fn compare_quiet(app: &App, words: usize) -> anyhow::Result<Option<(Truth, Vec<ServedDifference>)>> {
    (0..3).find_map(|_| compare_once(app, words).transpose()).transpose()
}

/// Audits the served totals of the `words` most frequent words and of every category; with
/// `repair`, drops every count the index generation keeps when any differs, and audits
/// again.
pub fn audit(app: &App, words: usize, repair: bool) -> anyhow::Result<ServedAudit> {
    let found = compare_quiet(app, words)?;
    let categories = app.categories().ids().count();
    let Some((truth, differences)) = found else {
        let seq = app.store.read(changes::max_seq)?;
        return Ok(ServedAudit {
            seq,
            words: 0,
            categories,
            compared: false,
            differences: Vec::new(),
            after_repair: None,
        });
    };
    let mut report = ServedAudit {
        seq: truth.seq,
        words: truth.words.len(),
        categories,
        compared: true,
        differences,
        after_repair: None,
    };
    if repair && !report.differences.is_empty() {
        app.engine.generation().segments.forget_words();
        let again = compare_quiet(app, words)?;
        report.after_repair = Some(again.map(|(_, d)| d).unwrap_or_default());
    }
    Ok(report)
}
