//! Search quality on a labelled relevance set.
//!
//! `tests/relevance/corpus.jsonl` holds 1,170 groups made for this test and
//! `tests/relevance/queries.json` over 100 queries labelled with the ids a person typing them
//! wants (both written by `tests/relevance/make_corpus.py`, which derives every label from the
//! corpus with substring rules). The corpus is imported into a fresh app, every query runs
//! through the searcher (relevance order, ten results), and the test prints recall@10 and MRR
//! per kind of query and overall. It fails below recall@10 0.95 or MRR 0.85, or when a query
//! that must find nothing finds something.
//!
//! Run with `cargo test --release --test relevance -- --nocapture` to see the table.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use groupscout::config::{RankingWeights, Rules, Settings};
use groupscout::geo::AreaPrefix;
use groupscout::index::searcher::{search, Page, SearchQuery};
use groupscout::service::App;
use serde::Deserialize;

const MIN_RECALL: f64 = 0.95;
const MIN_MRR: f64 = 0.85;
const K: usize = 10;

/// One labelled query of `queries.json`.
#[derive(Debug, Deserialize)]
struct Labelled {
    q: String,
    kind: String,
    relevant: Vec<i64>,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    category: Option<String>,
}

/// The figures of one query.
struct Scored {
    recall: f64,
    reciprocal_rank: f64,
}

/// Sums per kind of query.
#[derive(Default)]
struct Totals {
    queries: usize,
    recall: f64,
    mrr: f64,
    empty_ok: usize,
}

fn relevance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/relevance")
}

/// Settings for an app whose database and index live in `dir` (as in tests/api/helpers.rs).
fn settings_in(dir: &Path) -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        db: dir.join("db").join("groupscout.db"),
        index: dir.join("index"),
        secret: "test-secret-0123456789abcdef".into(),
        admin_token: "test-admin-token-0123456789".into(),
        timezone: chrono_tz::Asia::Shanghai,
        rules: Rules::default(),
        ranking: RankingWeights::default(),
        data_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data"),
        rate_limit: 0.0,
        request_timeout: std::time::Duration::from_secs(30),
        client_timeout: std::time::Duration::from_secs(10),
    }
}

/// Waits until everything written so far is visible to search.
fn settle(app: &App) {
    let target = app.store.read(groupscout::store::changes::max_seq).expect("the change log is readable");
    app.engine.notify();
    let started = Instant::now();
    while app.engine.committed_seq() < target {
        assert!(started.elapsed() < Duration::from_secs(60), "the index did not catch up");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn load_queries() -> Vec<Labelled> {
    let path = relevance_dir().join("queries.json");
    let text = std::fs::read_to_string(path).expect("queries.json is readable");
    serde_json::from_str(&text).expect("queries.json is a list of labelled queries")
}

fn run(app: &App, l: &Labelled) -> Page {
    let areas: Vec<AreaPrefix> = match &l.place {
        Some(p) => {
            let found: Vec<AreaPrefix> = app.store.ctx.gazetteer.resolve(p).iter().map(|pl| pl.prefix()).collect();
            assert!(!found.is_empty(), "unknown place {p:?}");
            found
        }
        None => Vec::new(),
    };
    let sq = SearchQuery { category: l.category.clone(), areas, limit: K, ..SearchQuery::text(&l.q) };
    search(&app.engine, &app.settings.ranking, &sq).expect("the search runs")
}

/// recall@10 = |relevant ∩ top 10| / min(|relevant|, 10); reciprocal rank of the first hit.
fn score(relevant: &HashSet<i64>, ids: &[i64]) -> Scored {
    let found = ids.iter().filter(|id| relevant.contains(id)).count();
    let first = ids.iter().position(|id| relevant.contains(id));
    Scored {
        recall: found as f64 / relevant.len().min(K) as f64,
        reciprocal_rank: first.map_or(0.0, |i| 1.0 / (i + 1) as f64),
    }
}

fn describe(l: &Labelled) -> String {
    let mut s = format!("{:?}", l.q);
    if let Some(p) = &l.place {
        s.push_str(&format!(" place={p}"));
    }
    if let Some(c) = &l.category {
        s.push_str(&format!(" category={c}"));
    }
    s
}

#[test]
fn search_quality_meets_the_bar_on_the_labelled_set() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let app = App::open(settings_in(dir.path())).expect("the app opens");
    let corpus = relevance_dir().join("corpus.jsonl");
    let mut input = BufReader::new(File::open(corpus).expect("corpus.jsonl is readable"));
    let summary = groupscout::jobs::import::import(&app.store, &mut input, |_, _| {}).expect("the import runs");
    assert_eq!(summary.skipped, 0, "bad corpus lines: {:?}", summary.errors);
    settle(&app);

    let names: BTreeMap<i64, String> = app.engine.catalog.read().iter().map(|g| (g.id, g.name.clone())).collect();
    let name_of = |id: &i64| names.get(id).cloned().unwrap_or_default();

    let queries = load_queries();
    assert!(queries.len() >= 80, "the set has {} queries", queries.len());
    let mut by_kind: BTreeMap<String, Totals> = BTreeMap::new();
    let mut overall = Totals::default();
    let mut misses: Vec<String> = Vec::new();
    let mut empty_failures: Vec<String> = Vec::new();

    for l in &queries {
        let page = run(&app, l);
        let ids: Vec<i64> = page.hits.iter().map(|h| h.group.id).collect();
        let totals = by_kind.entry(l.kind.clone()).or_default();
        totals.queries += 1;
        if l.kind == "empty" {
            if page.total == 0 {
                totals.empty_ok += 1;
            } else {
                let top: Vec<String> = ids.iter().take(3).map(name_of).collect();
                empty_failures.push(format!("[empty] {}: {} results, e.g. {top:?}", describe(l), page.total));
            }
            continue;
        }
        assert!(!l.relevant.is_empty(), "{} has no label", describe(l));
        let relevant: HashSet<i64> = l.relevant.iter().copied().collect();
        let s = score(&relevant, &ids);
        totals.recall += s.recall;
        totals.mrr += s.reciprocal_rank;
        overall.queries += 1;
        overall.recall += s.recall;
        overall.mrr += s.reciprocal_rank;
        if s.recall < 1.0 || s.reciprocal_rank < 1.0 {
            let shown: Vec<String> = ids
                .iter()
                .map(|id| {
                    let mark = if relevant.contains(id) { "+" } else { "-" };
                    format!("{mark}{}", name_of(id))
                })
                .collect();
            let missing: Vec<&i64> = l.relevant.iter().filter(|id| !ids.contains(id)).collect();
            let missing_names: Vec<String> = missing.iter().take(5).map(|id| name_of(id)).collect();
            misses.push(format!(
                "[{}] {}: recall@10 {:.2}, RR {:.2}, {} results\n    top: {}\n    missing (first 5 of {}): {}",
                l.kind,
                describe(l),
                s.recall,
                s.reciprocal_rank,
                page.total,
                shown.join(" "),
                missing.len(),
                missing_names.join(" ")
            ));
        }
    }

    println!();
    println!("kind             queries  recall@10     MRR");
    for (kind, t) in &by_kind {
        if kind == "empty" {
            println!("{kind:<16} {:>7} {:>18}", t.queries, format!("{}/{} return nothing", t.empty_ok, t.queries));
        } else {
            let n = t.queries as f64;
            println!("{kind:<16} {:>7} {:>10.3} {:>7.3}", t.queries, t.recall / n, t.mrr / n);
        }
    }
    let n = overall.queries as f64;
    let (recall, mrr) = (overall.recall / n, overall.mrr / n);
    println!("overall          {:>7} {recall:>10.3} {mrr:>7.3}", overall.queries);
    if !misses.is_empty() || !empty_failures.is_empty() {
        println!("\nqueries below a perfect score:");
        for m in misses.iter().chain(&empty_failures) {
            println!("  {m}");
        }
    }
    app.engine.shutdown();

    assert!(empty_failures.is_empty(), "queries that must find nothing found something: {empty_failures:#?}");
    assert!(recall >= MIN_RECALL, "recall@10 {recall:.3} is below {MIN_RECALL}");
    assert!(mrr >= MIN_MRR, "MRR {mrr:.3} is below {MIN_MRR}");
}
