//! `groupscout bench`: builds (or reuses) a generated world, imports it, reindexes, opens the
//! service in-process and measures p50/p99 of every kind of read over varied queries, one
//! thread, warm. Prints a table and writes the same figures as JSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::config::Settings;
use crate::index::searcher::{self, NearbyFrom, NearbyQuery, NearbySort, SearchQuery};
use crate::index::text;
use crate::service::App;
use crate::store::GroupRow;

/// What to run.
pub struct BenchOptions {
    pub groups: usize,
    pub dir: PathBuf,
    pub queries: usize,
    pub out: PathBuf,
    /// Write one URL per line here for the HTTP load run.
    pub urls: Option<PathBuf>,
    /// How long to stream writes for the freshness measurement (0: skip it).
    pub freshness_seconds: u64,
    pub writes_per_second: f64,
    /// Measure on the index as it stands instead of rebuilding it first.
    pub reuse_index: bool,
    /// Measure only the kinds whose name starts with one of these (empty: all).
    pub only: Vec<String>,
}

/// Latency figures of one kind of query, in milliseconds.
#[derive(Debug, Serialize, Clone)]
pub struct Figure {
    pub kind: String,
    pub queries: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub mean_results: f64,
    /// The share of per-segment word-set lookups the cache answered (text kinds).
    pub word_set_hit_rate: Option<f64>,
}

#[derive(Debug, Serialize, Default)]
pub struct Report {
    pub date: String,
    pub groups: u64,
    pub import_lines: u64,
    pub import_seconds: f64,
    pub import_lines_per_second: f64,
    pub reindex_seconds: f64,
    pub index_bytes: u64,
    pub open_seconds: f64,
    pub rss_bytes_after_open: u64,
    pub figures: Vec<Figure>,
    pub freshness: Option<Freshness>,
}

/// Visibility of writes, and read latency, while writes stream in.
#[derive(Debug, Serialize, Default, Clone)]
pub struct Freshness {
    pub writes_per_second: f64,
    pub renames: usize,
    pub visible_p50_ms: f64,
    pub visible_p99_ms: f64,
    pub read_p50_ms: f64,
    pub read_p99_ms: f64,
    pub idle_read_p99_ms: f64,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0)
}

/// Streams writes (joins, activity, renames) through the store at `rate` per second for
/// `seconds`, while one thread searches (and searched alone for as long before); every
/// rename gives a fresh word whose time to become searchable is measured.
fn freshness(
    app: &Arc<App>,
    reads: &[SearchQuery],
    sample: &[Arc<GroupRow>],
    seconds: u64,
    rate: f64,
) -> anyhow::Result<Freshness> {
    use crate::store::activity::ActivityEvent;
    use crate::store::groups::GroupPatch;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    // One reader searches every 2 ms throughout: first alone for as long as the writes will
    // last (the idle figure), then beside the writes, so both figures come from the same
    // queries at the same pace.
    let writing = Arc::new(AtomicBool::new(false));
    let reader = {
        let (app, stop, writing, reads) = (app.clone(), stop.clone(), writing.clone(), reads.to_vec());
        std::thread::spawn(move || {
            let (mut idle, mut loaded) = (Vec::new(), Vec::new());
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let during_writes = writing.load(Ordering::Relaxed);
                let t = Instant::now();
                let _ = searcher::search(&app.engine, &app.settings.ranking, &reads[i % reads.len()]);
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if during_writes {
                    loaded.push(ms);
                } else {
                    idle.push(ms);
                }
                i += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            (idle, loaded)
        })
    };
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    writing.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let mut writes = 0usize;
    let mut visible = Vec::new();
    let mut rng = StdRng::seed_from_u64(11);
    let users: i64 = app.store.read(crate::store::users::max_id)?;
    let yesterday = crate::store::day_number(app.store.ctx.today()) - 1;
    let mut pending: Vec<(String, i64, Instant)> = Vec::new();
    let run = chrono::Utc::now().timestamp_millis();
    let mut last_check = Instant::now();
    let interval = std::time::Duration::from_secs_f64(1.0 / rate);
    let mut next = Instant::now();
    while started.elapsed().as_secs() < seconds {
        let g = &sample[rng.gen_range(0..sample.len())];
        match writes % 10 {
            0 => {
                // A word of letters only, found in no other group (nor in an earlier run).
                let word: String = format!("zq{run}x{writes}")
                    .chars()
                    .map(|c| if c.is_ascii_digit() { (b'a' + (c as u8 - b'0')) as char } else { c })
                    .collect();
                let patch = GroupPatch {
                    description: Some(crate::domain::Description::parse("d", &word)?),
                    ..GroupPatch::default()
                };
                if crate::service::groups::patch(&app.store, g.owner_id, g.id, &patch).is_ok() {
                    pending.push((word, g.id, Instant::now()));
                }
            }
            1..=4 => {
                let _ = crate::service::groups::join(&app.store, rng.gen_range(1..=users), g.id, "");
            }
            _ => {
                let e =
                    ActivityEvent { group_id: g.id, user_id: g.owner_id, day: yesterday, messages: 1, event_id: None };
                crate::service::activity::record(&app.store, &[e])?;
            }
        }
        app.engine.notify();
        writes += 1;
        // Check the renames still waiting to be seen, every 10 ms (checking after every
        // write would add more searches than the reader makes).
        if last_check.elapsed() >= std::time::Duration::from_millis(10) {
            last_check = Instant::now();
            pending.retain(|(word, id, at)| {
                let found = searcher::search(&app.engine, &app.settings.ranking, &SearchQuery::text(word))
                    .map(|p| p.hits.iter().any(|h| h.group.id == *id))
                    .unwrap_or(false);
                if found {
                    visible.push(at.elapsed().as_secs_f64() * 1000.0);
                }
                !found && at.elapsed().as_secs() < 10
            });
        }
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Renames never seen within 10 s count as 10 s.
    visible.extend(pending.iter().map(|_| 10_000.0));
    stop.store(true, Ordering::Relaxed);
    let (mut idle, mut read_times) = reader.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    read_times.sort_by(|a, b| a.total_cmp(b));
    idle.sort_by(|a, b| a.total_cmp(b));
    visible.sort_by(|a, b| a.total_cmp(b));
    Ok(Freshness {
        writes_per_second: writes as f64 / elapsed,
        renames: visible.len(),
        visible_p50_ms: percentile(&visible, 0.5),
        visible_p99_ms: percentile(&visible, 0.99),
        read_p50_ms: percentile(&read_times, 0.5),
        read_p99_ms: percentile(&read_times, 0.99),
        idle_read_p99_ms: percentile(&idle, 0.99),
    })
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Resident memory of this process, from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

fn measure<T>(kind: &str, inputs: &[T], run: impl FnMut(&T) -> usize) -> Figure {
    measure_after(kind, inputs, || {}, run)
}

/// Like `measure`, calling `before` ahead of every query, outside the timing.
fn measure_after<T>(kind: &str, inputs: &[T], mut before: impl FnMut(), mut run: impl FnMut(&T) -> usize) -> Figure {
    use crate::index::segments::{WORD_HITS, WORD_MISSES, WORD_RECOUNTS};
    use std::sync::atomic::Ordering::Relaxed;
    // Warm up on a tenth of the inputs, then measure every input once.
    for input in inputs.iter().take(inputs.len() / 10 + 1) {
        before();
        run(input);
    }
    let counters = || [WORD_HITS.load(Relaxed), WORD_RECOUNTS.load(Relaxed), WORD_MISSES.load(Relaxed)];
    let start = counters();
    let mut times = Vec::with_capacity(inputs.len());
    let mut results = 0usize;
    for input in inputs {
        before();
        let t = Instant::now();
        results += run(input);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let end = counters();
    let (hits, lookups) = (end[0] - start[0], (0..3).map(|i| end[i] - start[i]).sum::<u64>());
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    times.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| times.get(((times.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    Figure {
        kind: kind.to_string(),
        queries: inputs.len(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        mean_ms: mean,
        mean_results: results as f64 / inputs.len().max(1) as f64,
        word_set_hit_rate: (lookups > 0).then(|| hits as f64 / lookups as f64),
    }
}

/// A search word from a group name: a jieba word of two or more CJK characters.
pub(crate) fn name_words(name: &str) -> Vec<String> {
    text::query_words(name).into_iter().filter(|w| w.chars().count() >= 2 && w.chars().all(text::is_cjk)).collect()
}

/// Queries that expand, drawn from the sample's names: a word of a name that the related
/// terms know, or one of its synonyms (a third of them); a word of three or four
/// characters with its last character changed (a typo: a rare word whose corrections are
/// looked up, a third); and a city, a known word and noise words (a third).
fn meaning_queries(
    sample: &[Arc<GroupRow>],
    terms: &crate::index::terms::RelatedTerms,
    rng: &mut StdRng,
) -> Vec<(String, usize)> {
    use crate::index::terms::Kind;
    let mut out = Vec::new();
    for (i, g) in sample.iter().enumerate() {
        let words = name_words(&g.name);
        let known: Vec<&String> = words.iter().filter(|w| !terms.expand(w).is_empty()).collect();
        let q = match i % 3 {
            0 => known.first().map(|w| {
                let synonyms: Vec<String> =
                    terms.expand(w).into_iter().filter(|(_, k)| *k == Kind::Synonym).map(|(t, _)| t).collect();
                synonyms.choose(rng).cloned().unwrap_or_else(|| (*w).clone())
            }),
            1 => words.iter().find(|w| (3..=4).contains(&w.chars().count())).map(|w| {
                let mut chars: Vec<char> = w.chars().collect();
                let other: Vec<char> = g.name.chars().filter(|c| text::is_cjk(*c) && !chars.contains(c)).collect();
                let last = chars.len() - 1;
                chars[last] = other.choose(rng).copied().unwrap_or('沙');
                chars.into_iter().collect()
            }),
            _ => match (g.city.as_deref(), known.first()) {
                (Some(city), Some(w)) => Some(format!("{} {w} 周末 约", crate::geo::short_name(city))),
                _ => None,
            },
        };
        out.extend(q.map(|q| (q, i % 3)));
    }
    out
}

/// Builds the world if needed and measures. `settings` points at the bench database and index.
pub fn run(settings: Settings, opts: &BenchOptions) -> anyhow::Result<Report> {
    let mut report = Report { date: chrono::Utc::now().to_rfc3339(), ..Report::default() };
    std::fs::create_dir_all(&opts.dir)?;
    {
        let store = crate::service::open_store(&settings)?;
        let have: i64 = store.read(crate::store::groups::count_all)?;
        if (have as usize) < opts.groups {
            let world = opts.dir.join(format!("world-{}.jsonl", opts.groups));
            if !world.exists() {
                eprintln!("bench: generating {} groups into {}", opts.groups, world.display());
                let mut f = std::io::BufWriter::new(std::fs::File::create(&world)?);
                let o = super::gen::GenOptions { groups: opts.groups, seed: 42, today: store.ctx.today() };
                super::generate(&store.ctx.gazetteer, &o, &mut f)?;
                use std::io::Write;
                f.flush()?;
            }
            let file = std::fs::File::open(&world).with_context(|| format!("failed to open {}", world.display()))?;
            let len = file.metadata()?.len();
            let bar = super::progress_bar(Some(len), "import");
            let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
            let s = super::import::import(&store, &mut reader, |b, _| bar.set_position(b))?;
            bar.finish_and_clear();
            eprintln!("bench: imported {} lines in {:.1} s ({:.0} lines/s)", s.lines, s.seconds, s.lines_per_second());
            report.import_lines = s.lines;
            report.import_seconds = s.seconds;
            report.import_lines_per_second = s.lines_per_second();
            super::rollup(&store, None)?;
        }
        if opts.reuse_index && crate::index::generation::current(&settings.index).is_some() {
            report.groups = store.read(|db| crate::store::groups::count_live(db, true))? as u64;
        } else {
            let r = super::reindex(&store, &settings.index)?;
            // No server reads this index, so the previous generation can go now.
            crate::index::generation::remove_generations_except(&settings.index, &[r.generation.as_str()]);
            eprintln!("bench: reindexed {} documents in {:.1} s", r.documents, r.seconds);
            report.reindex_seconds = r.seconds;
            report.groups = r.documents;
        }
    }
    report.index_bytes = dir_size(&settings.index);
    let started = Instant::now();
    let app: Arc<App> = App::open(settings)?;
    report.open_seconds = started.elapsed().as_secs_f64();
    report.rss_bytes_after_open = rss_bytes();
    eprintln!("bench: opened in {:.1} s, RSS {} MiB", report.open_seconds, report.rss_bytes_after_open >> 20);

    // Varied inputs drawn from the data itself.
    let mut rng = StdRng::seed_from_u64(7);
    let sample: Vec<Arc<GroupRow>> = {
        let catalog = app.engine.catalog.read();
        let mut all: Vec<i64> = catalog.hot_iter().map(|(id, _)| id).collect();
        // The catalog iterates partly in hash order; the sample must not depend on it.
        all.sort_unstable();
        (0..opts.queries.max(100))
            .filter_map(|_| catalog.get(*all.choose(&mut rng).expect("a world with groups")))
            .collect()
    };
    let words: Vec<String> = sample.iter().flat_map(|g| name_words(&g.name).into_iter().take(1)).collect();
    let text1: Vec<String> = sample
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let w = name_words(&g.name);
            if i % 2 == 0 {
                w.first().cloned()
            } else {
                w.first().map(|a| format!("{a} {}", words[(i * 7) % words.len()]))
            }
        })
        .collect();
    let with_category: Vec<SearchQuery> = sample
        .iter()
        .zip(text1.iter().cycle())
        .map(|(g, q)| SearchQuery { category: Some(g.category.clone()), ..SearchQuery::text(q) })
        .collect();
    let with_place: Vec<SearchQuery> = sample
        .iter()
        .zip(text1.iter().cycle())
        .filter_map(|(g, q)| {
            let city = g.city.as_deref()?;
            let areas = app.store.ctx.gazetteer.resolve(city).iter().map(|p| p.prefix()).collect();
            Some(SearchQuery { areas, ..SearchQuery::text(q) })
        })
        .collect();
    let located: Vec<(f64, f64)> = sample
        .iter()
        .filter_map(|g| g.location())
        .map(|(lat, lon)| (lat + rng.gen_range(-0.02..0.02), lon + rng.gen_range(-0.02..0.02)))
        .collect();
    let with_radius: Vec<SearchQuery> = located
        .iter()
        .zip(text1.iter().cycle())
        .map(|(o, q)| SearchQuery { origin: Some(*o), radius_m: Some(10_000.0), ..SearchQuery::text(q) })
        .collect();
    let prefixes: Vec<String> = sample
        .iter()
        .enumerate()
        .map(|(i, g)| {
            // Any key of the name: text, pinyin or initials, from any word on.
            let keys = text::suggest_keys(&g.name);
            let Some(k) = keys.get(i % keys.len().max(1)) else { return String::new() };
            let take = match k.kind {
                text::KeyKind::Text => 2,
                text::KeyKind::Pinyin => 5,
                text::KeyKind::Initials => 3,
            };
            k.key.chars().take(take).collect()
        })
        .collect();
    let ids: Vec<i64> = sample.iter().map(|g| g.id).collect();
    let owners: Vec<i64> = sample.iter().map(|g| g.owner_id).collect();
    let weights = app.settings.ranking.clone();

    let mut figures = Vec::new();
    let wanted = |kind: &str| opts.only.is_empty() || opts.only.iter().any(|o| kind.starts_with(o.as_str()));
    // Measures a kind unless `--only` leaves it out.
    macro_rules! measure {
        ($kind:expr, $inputs:expr, $run:expr) => {
            if wanted($kind) {
                figures.push(measure($kind, $inputs, $run));
            }
        };
    }
    // For searches the results column is the size of the whole match set.
    let run_search = |sq: &SearchQuery| searcher::search(&app.engine, &weights, sq).map(|p| p.total).unwrap_or(0);
    // Before each search of the no-caches kinds: every cached word set, pass and best score.
    let forget = || app.engine.generation().segments.forget_words();
    let plain: Vec<SearchQuery> = text1.iter().map(|q| SearchQuery::text(q)).collect();
    measure!("text, top 20", &plain, run_search);
    if wanted("text, top 20, no caches") {
        figures.push(measure_after("text, top 20, no caches", &plain, forget, run_search));
    }
    // The same searches asking for no page: what their exact totals and facets cost on
    // their own, read from the posting lists.
    if wanted("text, totals only, no caches") {
        let counts: Vec<SearchQuery> = plain.iter().map(|sq| SearchQuery { limit: 0, ..sq.clone() }).collect();
        figures.push(measure_after("text, totals only, no caches", &counts, forget, run_search));
    }
    // Expansion (related terms, typo corrections): the same queries as typed and expanded.
    let (meaning, meaning_shapes): (Vec<String>, Vec<usize>) =
        meaning_queries(&sample, &app.engine.terms(), &mut rng).into_iter().unzip();
    let as_typed: Vec<SearchQuery> =
        meaning.iter().map(|q| SearchQuery { expand: false, ..SearchQuery::text(q) }).collect();
    let expanded: Vec<SearchQuery> = meaning.iter().map(|q| SearchQuery::text(q)).collect();
    if wanted("meaning") {
        // Both lists once first, so the caches hold what either needs.
        for sq in as_typed.iter().chain(&expanded) {
            run_search(sq);
        }
    }
    measure!("meaning, as typed", &as_typed, run_search);
    measure!("meaning, expanded", &expanded, run_search);
    // The same by shape of query (every third is of one shape).
    for (shape, name) in [(0, "synonyms"), (1, "typos"), (2, "place + noise")] {
        let pick = |list: &[SearchQuery]| -> Vec<SearchQuery> {
            list.iter().zip(&meaning_shapes).filter(|(_, s)| **s == shape).map(|(q, _)| q.clone()).collect()
        };
        measure!(&format!("meaning: {name}, as typed"), &pick(&as_typed), run_search);
        measure!(&format!("meaning: {name}, expanded"), &pick(&expanded), run_search);
    }
    if wanted("meaning, no caches") {
        figures.push(measure_after("meaning, as typed, no caches", &as_typed, forget, run_search));
        figures.push(measure_after("meaning, expanded, no caches", &expanded, forget, run_search));
    }
    let plain_as_typed: Vec<SearchQuery> =
        text1.iter().map(|q| SearchQuery { expand: false, ..SearchQuery::text(q) }).collect();
    measure!("text, top 20, as typed", &plain_as_typed, run_search);
    measure!("text + category", &with_category, run_search);
    measure!("text + place", &with_place, run_search);
    measure!("text + 10 km, ranked", &with_radius, run_search);
    for (kind, radius) in [("nearby 5 km", 5_000.0), ("nearby 30 km", 30_000.0)] {
        measure!(kind, &located, |o: &(f64, f64)| {
            let catalog = app.engine.catalog.read();
            let nq = NearbyQuery {
                origin: *o,
                radius_m: radius,
                category: None,
                sort: NearbySort::Distance,
                from: NearbyFrom::Start,
                limit: 20,
                seen: Vec::new(),
                explain: false,
            };
            searcher::nearby(&catalog, &weights, &nq).hits.len()
        });
    }
    measure!("suggest", &prefixes, |p: &String| {
        let catalog = app.engine.catalog.read();
        searcher::suggest(&catalog, p, 10).len()
    });
    measure!("group detail", &ids, |id: &i64| app.group_detail(*id, Some(1), None).map(|_| 1).unwrap_or(0));
    measure!("profile list", &owners, |u: &i64| {
        app.profile_groups(*u, Some(*u), false).map(|l| l.groups.len()).unwrap_or(0)
    });
    let rec_inputs: Vec<(i64, (f64, f64))> = owners.iter().copied().zip(located.iter().copied()).collect();
    measure!("recommendations", &rec_inputs, |(u, o): &(i64, (f64, f64))| {
        app.recommendations(*u, Some(*o), 20).map(|r| r.len()).unwrap_or(0)
    });
    report.figures = figures;

    if opts.freshness_seconds > 0 && wanted("freshness") {
        let f = freshness(&app, &plain, &sample, opts.freshness_seconds, opts.writes_per_second)?;
        eprintln!(
            "bench: freshness under {:.0} writes/s: visible p50 {:.0} ms, p99 {:.0} ms over {} renames; read p99 {:.3} ms loaded vs {:.3} ms idle",
            f.writes_per_second, f.visible_p50_ms, f.visible_p99_ms, f.renames, f.read_p99_ms, f.idle_read_p99_ms
        );
        report.freshness = Some(f);
    }

    if let Some(path) = &opts.urls {
        let mut lines = Vec::new();
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect()
        };
        for (i, q) in text1.iter().enumerate() {
            let (lat, lon) = located[i % located.len()];
            lines.push(format!("/v1/search?q={}", enc(q)));
            lines.push(format!("/v1/nearby?lat={lat:.5}&lon={lon:.5}&radius_km=5"));
            lines.push(format!("/v1/suggest?q={}", enc(&prefixes[i % prefixes.len()])));
            lines.push(format!("/v1/groups/{}", ids[i % ids.len()]));
            lines.push(format!("/v1/search?q={}&lat={lat:.5}&lon={lon:.5}&radius_km=10", enc(q)));
        }
        std::fs::write(path, lines.join("\n") + "\n")?;
    }
    std::fs::write(&opts.out, serde_json::to_string_pretty(&report)?)?;
    Ok(report)
}

/// The report as a table.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "groups {} | import {:.0} lines/s ({} lines, {:.1} s) | reindex {:.1} s | index {} MiB | open {:.1} s | RSS {} MiB\n",
        r.groups,
        r.import_lines_per_second,
        r.import_lines,
        r.import_seconds,
        r.reindex_seconds,
        r.index_bytes >> 20,
        r.open_seconds,
        r.rss_bytes_after_open >> 20
    ));
    out.push_str(&format!(
        "{:<32} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9}\n",
        "query", "n", "p50 ms", "p99 ms", "mean ms", "results", "set hits"
    ));
    for f in &r.figures {
        let hits = f.word_set_hit_rate.map_or("-".to_string(), |h| format!("{:.0}%", h * 100.0));
        out.push_str(&format!(
            "{:<32} {:>6} {:>8.3} {:>8.3} {:>8.3} {:>9.1} {:>9}\n",
            f.kind, f.queries, f.p50_ms, f.p99_ms, f.mean_ms, f.mean_results, hits
        ));
    }
    let p50 = |kind: &str| r.figures.iter().find(|f| f.kind == kind).map(|f| f.p50_ms);
    for (typed, expanded) in [
        ("meaning, as typed", "meaning, expanded"),
        ("meaning: synonyms, as typed", "meaning: synonyms, expanded"),
        ("meaning: typos, as typed", "meaning: typos, expanded"),
        ("meaning: place + noise, as typed", "meaning: place + noise, expanded"),
        ("meaning, as typed, no caches", "meaning, expanded, no caches"),
        ("text, top 20, as typed", "text, top 20"),
    ] {
        if let (Some(a), Some(b)) = (p50(typed), p50(expanded)) {
            out.push_str(&format!(
                "expansion: {expanded} p50 {b:.3} ms against {a:.3} ms as typed: {:.2}×\n",
                b / a.max(1e-9)
            ));
        }
    }
    if let Some(f) = &r.freshness {
        out.push_str(&format!(
            "freshness at {:.0} writes/s: visible p50 {:.0} ms, p99 {:.0} ms ({} renames); search p99 {:.3} ms under writes vs {:.3} ms idle\n",
            f.writes_per_second, f.visible_p50_ms, f.visible_p99_ms, f.renames, f.read_p99_ms, f.idle_read_p99_ms
        ));
    }
    out
}
