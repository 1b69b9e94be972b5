//! `groupscout bench-engines`: the two engines side by side, in one run.
//!
//! 1. Import: the same generated world into a fresh SQLite file and a fresh PostgreSQL
//!    database, timed; then every group's statistics compared between the two, and the
//!    PostgreSQL ones audited against its rows.
//! 2. Serving: two `serve` nodes on the PostgreSQL database and one on the SQLite file,
//!    each in turn under the same mixed HTTP read load (text search, text + radius,
//!    nearby, suggest, detail) while writes stream in at a fixed rate (renames, joins,
//!    activity) to the PostgreSQL nodes alternately, or to the SQLite node. A rename on
//!    one PostgreSQL node is looked for on the other: that is cross-node freshness.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::bench::{name_words, percentile};
use crate::config::Settings;
use crate::store::{groups, users, GroupRow, Store};

pub struct EngineBenchOptions {
    pub groups: usize,
    pub dir: PathBuf,
    /// An admin URL of a PostgreSQL server whose role may create databases.
    pub postgres: String,
    pub seconds: u64,
    pub writes_per_second: f64,
    pub connections: usize,
    /// Keep the databases of an earlier run (skips the import figures).
    pub reuse: Option<String>,
}

#[derive(Debug, Serialize, Default)]
pub struct ImportFigures {
    pub lines: u64,
    pub sqlite_seconds: f64,
    pub postgres_seconds: f64,
    pub ratio: f64,
}

#[derive(Debug, Serialize, Default)]
pub struct Statistics {
    pub groups_compared: u64,
    pub groups_differing: u64,
    pub audit_discrepancies: u64,
}

#[derive(Debug, Serialize, Default, Clone)]
pub struct LoadFigures {
    pub node: String,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub writes: u64,
    pub write_errors: u64,
}

#[derive(Debug, Serialize, Default)]
pub struct EngineReport {
    pub date: String,
    pub groups: usize,
    pub postgres_database: String,
    pub import: Option<ImportFigures>,
    pub statistics: Option<Statistics>,
    pub sqlite_bytes: u64,
    pub postgres_bytes: u64,
    /// Each node's resident memory after its load run.
    pub node_rss_bytes: Vec<(String, u64)>,
    pub loads: Vec<LoadFigures>,
    pub freshness_samples: usize,
    pub freshness_p50_ms: f64,
    pub freshness_p99_ms: f64,
    pub freshness_max_ms: f64,
}

/// A keep-alive HTTP/1.1 connection, just enough for a load run.
pub(super) struct Conn {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
}

impl Conn {
    pub(super) fn new(addr: &str) -> Conn {
        Conn { addr: addr.to_string(), reader: None }
    }

    /// One request; a failed one drops the connection (the next call opens another).
    pub(super) fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: Option<&str>,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let result = self.exchange(method, path, body, auth);
        if result.is_err() {
            self.reader = None;
        }
        result
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: Option<&str>,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        if self.reader.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.reader = Some(BufReader::new(s));
        }
        let reader = self.reader.as_mut().expect("connected");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(t) = auth {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body);
        reader.get_mut().write_all(head.as_bytes())?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 =
            line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad status line {line:?}"))
            })?;
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut out = vec![0; length];
        reader.read_exact(&mut out)?;
        Ok((status, out))
    }
}

pub(super) struct Node {
    pub(super) child: Child,
    pub(super) addr: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn start_node(settings: &Settings, db: &str, index: &Path, log: &Path, port: u16) -> anyhow::Result<Node> {
    let out = std::fs::File::create(log)?;
    let child = Command::new(std::env::current_exe()?)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("GROUPSCOUT_DB", db)
        .env("GROUPSCOUT_INDEX", index)
        .env("GROUPSCOUT_SECRET", &settings.secret)
        .env("GROUPSCOUT_ADMIN_TOKEN", &settings.admin_token)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()?;
    let node = Node { child, addr: format!("127.0.0.1:{port}") };
    let started = Instant::now();
    loop {
        if Conn::new(&node.addr).request("GET", "/healthz", None, None).is_ok_and(|(s, _)| s == 200) {
            return Ok(node);
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(1800), "node {port} did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Varied read URLs drawn from the data: every 1 in `stride` live discoverable groups.
pub(super) fn read_urls(store: &Store, want: usize) -> anyhow::Result<(Vec<String>, Vec<GroupRow>)> {
    let total = store.read(|db| groups::count_live(db, true))? as usize;
    let stride = (total / want.max(1)).max(1);
    let mut sample = Vec::new();
    let mut i = 0usize;
    store.read(|db| {
        groups::for_each(db, |g| {
            if g.listed() {
                if i.is_multiple_of(stride) {
                    sample.push(g);
                }
                i += 1;
            }
        })
    })?;
    let mut rng = StdRng::seed_from_u64(5);
    let mut urls = Vec::new();
    for (n, g) in sample.iter().enumerate() {
        let Some(word) = name_words(&g.name).into_iter().next() else { continue };
        let (lat, lon) = g.location().unwrap_or((39.9, 116.4));
        let (lat, lon) = (lat + rng.gen_range(-0.02..0.02), lon + rng.gen_range(-0.02..0.02));
        match n % 5 {
            0 => urls.push(format!("/v1/search?q={}", enc(&word))),
            1 => urls.push(format!("/v1/nearby?lat={lat:.5}&lon={lon:.5}&radius_km=5")),
            2 => urls.push(format!("/v1/suggest?q={}", enc(&word.chars().take(2).collect::<String>()))),
            3 => urls.push(format!("/v1/groups/{}", g.id)),
            _ => urls.push(format!("/v1/search?q={}&lat={lat:.5}&lon={lon:.5}&radius_km=10", enc(&word))),
        }
    }
    Ok((urls, sample))
}

/// A word of letters only, found in no group.
fn fresh_word(run: i64, n: u64) -> String {
    format!("zq{run}x{n}")
        .chars()
        .map(|c| if c.is_ascii_digit() { (b'a' + (c as u8 - b'0')) as char } else { c })
        .collect()
}

/// Streams writes at `rate` to `targets` in turn until `stop`; renames are queued in
/// `pending` with the index of the node that took them.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_stream(
    settings: &Settings,
    targets: &[String],
    sample: &[GroupRow],
    max_user: i64,
    rate: f64,
    stop: &AtomicBool,
    pending: &Mutex<Vec<(String, i64, usize, Instant)>>,
    today_at: &str,
) -> (u64, u64) {
    let mut conns: Vec<Conn> = targets.iter().map(|a| Conn::new(a)).collect();
    let mut rng = StdRng::seed_from_u64(17);
    let run = chrono::Utc::now().timestamp_millis();
    let (mut writes, mut errors) = (0u64, 0u64);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let g = &sample[rng.gen_range(0..sample.len())];
        let t = (writes as usize) % targets.len();
        let owner = crate::auth::issue_user_token(&settings.secret, g.owner_id, chrono::Utc::now().timestamp(), 3600);
        let result = match writes % 10 {
            0 => {
                let word = fresh_word(run, writes);
                let body = serde_json::json!({"description": format!("周末见 {word}")}).to_string();
                let r = conns[t].request("PATCH", &format!("/v1/groups/{}", g.id), Some(&body), Some(&owner));
                if matches!(r, Ok((200, _))) {
                    pending.lock().unwrap().push((word, g.id, t, Instant::now()));
                }
                r
            }
            1..=4 => {
                let user = rng.gen_range(1..=max_user);
                let token = crate::auth::issue_user_token(&settings.secret, user, chrono::Utc::now().timestamp(), 3600);
                conns[t].request("POST", &format!("/v1/groups/{}/join", g.id), Some("{}"), Some(&token))
            }
            _ => {
                let body = serde_json::json!({"events": [{"group_id": g.id, "user_id": g.owner_id, "at": today_at,
                    "messages": 1, "event_id": format!("bench-{run}-{writes}")}]})
                .to_string();
                conns[t].request("POST", "/v1/activity", Some(&body), Some(&settings.admin_token))
            }
        };
        writes += 1;
        match result {
            Ok((s, _)) if s < 500 => {}
            _ => errors += 1,
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    (writes, errors)
}

/// Runs `connections` closed-loop readers over `urls` against `addr` for `seconds`.
fn read_load(addr: &str, urls: &[String], connections: usize, seconds: u64) -> (Vec<f64>, u64) {
    let errors = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..connections)
        .map(|c| {
            let (addr, urls, errors) = (addr.to_string(), urls.to_vec(), errors.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::new(&addr);
                let mut lat = Vec::new();
                let started = Instant::now();
                let mut i = c * 7919;
                while started.elapsed() < Duration::from_secs(seconds) {
                    let url = &urls[i % urls.len()];
                    i += connections;
                    let t = Instant::now();
                    match conn.request("GET", url, None, None) {
                        Ok((200, _)) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<f64> = handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
    all.sort_by(f64::total_cmp);
    (all, errors.load(Ordering::Relaxed))
}

/// Polls the node that did not take each pending rename until it finds it.
fn watch_freshness(
    nodes: &[String],
    pending: &Mutex<Vec<(String, i64, usize, Instant)>>,
    stop: &AtomicBool,
) -> Vec<f64> {
    let mut conns: Vec<Conn> = nodes.iter().map(|a| Conn::new(a)).collect();
    let mut seen = Vec::new();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let work: Vec<_> = pending.lock().unwrap().clone();
        let mut found = Vec::new();
        for (word, id, took, at) in &work {
            let other = (took + 1) % conns.len();
            if let Ok((200, body)) = conns[other].request("GET", &format!("/v1/search?q={word}"), None, None) {
                let needle = format!("\"id\":{id},");
                if String::from_utf8_lossy(&body).contains(&needle) {
                    seen.push(at.elapsed().as_secs_f64() * 1000.0);
                    found.push(word.clone());
                }
            }
        }
        pending.lock().unwrap().retain(|(w, ..)| !found.contains(w));
        if stopping
            && (pending.lock().unwrap().is_empty() || work.iter().all(|w| w.3.elapsed() > Duration::from_secs(10)))
        {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(super) fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .map(|kb: u64| kb * 1024)
        .unwrap_or(0)
}

pub(super) fn import_file(store: &Store, world: &Path) -> anyhow::Result<super::import::ImportSummary> {
    let file = std::fs::File::open(world).with_context(|| format!("failed to open {}", world.display()))?;
    let len = file.metadata()?.len();
    let bar = super::progress_bar(Some(len), "import");
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let s = super::import::import(store, &mut reader, |b, _| bar.set_position(b))?;
    bar.finish_and_clear();
    Ok(s)
}

/// Every group's statistics, in id order, as one comparable row each.
fn stats_of(store: &Store) -> anyhow::Result<Vec<[i64; 7]>> {
    let mut out = Vec::new();
    store.snapshot(|db| {
        groups::for_each(db, |g| {
            out.push([
                g.id,
                g.member_count,
                g.female_count,
                g.birth_sum,
                g.birth_n,
                g.yesterday_messages,
                g.active_members,
            ])
        })
    })?;
    Ok(out)
}

pub fn run(settings: Settings, opts: &EngineBenchOptions) -> anyhow::Result<EngineReport> {
    let mut report =
        EngineReport { date: chrono::Utc::now().to_rfc3339(), groups: opts.groups, ..EngineReport::default() };
    std::fs::create_dir_all(&opts.dir)?;
    let ctx = Arc::new(crate::service::load_context(&settings)?);
    let world = opts.dir.join(format!("world-{}.jsonl", opts.groups));
    if !world.exists() {
        eprintln!("bench-engines: generating {} groups into {}", opts.groups, world.display());
        let mut f = std::io::BufWriter::new(std::fs::File::create(&world)?);
        let o = super::gen::GenOptions { groups: opts.groups, seed: 42, today: ctx.today() };
        super::generate(&ctx.gazetteer, &o, &mut f)?;
        f.flush()?;
    }
    let lite_path = opts.dir.join(format!("engines-{}.db", opts.groups));
    let pg_url = match &opts.reuse {
        Some(url) => url.clone(),
        None => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", lite_path.display()));
            }
            let url = crate::store::create_postgres_database(&opts.postgres, "gs_bench")?;
            let lite = Store::open(&lite_path.to_string_lossy(), ctx.clone(), 2)?;
            let pg = Store::open(&url, ctx.clone(), 2)?;
            eprintln!("bench-engines: importing into SQLite");
            let s = import_file(&lite, &world)?;
            eprintln!("bench-engines: SQLite {} lines in {:.1} s; importing into PostgreSQL", s.lines, s.seconds);
            let p = import_file(&pg, &world)?;
            eprintln!("bench-engines: PostgreSQL {} lines in {:.1} s", p.lines, p.seconds);
            super::rollup(&lite, None)?;
            super::rollup(&pg, None)?;
            report.import = Some(ImportFigures {
                lines: s.lines,
                sqlite_seconds: s.seconds,
                postgres_seconds: p.seconds,
                ratio: s.seconds / p.seconds,
            });
            url
        }
    };
    {
        let lite = Store::open(&lite_path.to_string_lossy(), ctx.clone(), 2)?;
        let pg = Store::open(&pg_url, ctx.clone(), 2)?;
        // Compared right after the import (reused databases have taken different writes).
        let (a, b) =
            if report.import.is_some() { (stats_of(&lite)?, stats_of(&pg)?) } else { (Vec::new(), Vec::new()) };
        let differing = a.len().abs_diff(b.len()) + a.iter().zip(&b).filter(|(x, y)| x != y).count();
        let mut audit = 0u64;
        pg.snapshot(|db| {
            crate::store::audit::scan_groups(db, 0, |f| {
                let g = &f.group.row;
                let t = f.members;
                if (g.member_count, g.female_count, g.birth_sum, g.birth_n)
                    != (t.members, t.female, t.birth_sum, t.birth_n)
                    || (g.yesterday_messages, g.active_members)
                        != (f.activity.yesterday_messages, f.activity.active_members)
                {
                    audit += 1;
                }
                Ok(())
            })
        })?;
        report.statistics = Some(Statistics {
            groups_compared: a.len() as u64,
            groups_differing: differing as u64,
            audit_discrepancies: audit,
        });
        report.sqlite_bytes = std::fs::metadata(&lite_path).map(|m| m.len()).unwrap_or(0);
        report.postgres_bytes =
            pg.read(|db| db.value::<i64>("SELECT pg_database_size(current_database())", &[]))? as u64;
    }
    report.postgres_database = pg_url.clone();
    if opts.seconds == 0 {
        return Ok(report);
    }

    let lite = Store::open(&lite_path.to_string_lossy(), ctx.clone(), 2)?;
    let (urls, sample) = read_urls(&lite, 2_000)?;
    let max_user = lite.read(users::max_id)?;
    drop(lite);
    let port = |n: u16| 18_400 + n + (std::process::id() % 500) as u16;
    eprintln!("bench-engines: starting nodes (each builds its index first)");
    let base = opts.dir.join("engines-nodes");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base)?;
    let lite_db = lite_path.to_string_lossy().into_owned();
    let specs = [("sqlite", lite_db.as_str()), ("postgres-a", pg_url.as_str()), ("postgres-b", pg_url.as_str())];
    let nodes: Vec<(String, Node)> = std::thread::scope(|s| -> anyhow::Result<_> {
        let handles: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(i, (name, db))| {
                let (settings, base) = (&settings, &base);
                s.spawn(move || {
                    start_node(settings, db, &base.join(name), &base.join(format!("{name}.log")), port(i as u16))
                        .map(|n| (name.to_string(), n))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a starter thread")).collect()
    })?;
    let addr = |name: &str| nodes.iter().find(|(n, _)| n == name).map(|(_, n)| n.addr.clone()).expect("a node");
    let today_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut fresh_all = Vec::new();
    for (measured, targets) in [
        ("sqlite", vec![addr("sqlite")]),
        ("postgres-a", vec![addr("postgres-a"), addr("postgres-b")]),
        ("postgres-b", vec![addr("postgres-b"), addr("postgres-a")]),
    ] {
        // Warm the node's caches with one pass of the reads first.
        let _ = read_load(&addr(measured), &urls, 2, 3);
        let stop = AtomicBool::new(false);
        let pending = Mutex::new(Vec::new());
        let (writes, fresh, (lat, errors)) = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                write_stream(&settings, &targets, &sample, max_user, opts.writes_per_second, &stop, &pending, &today_at)
            });
            let watcher = (targets.len() > 1).then(|| s.spawn(|| watch_freshness(&targets, &pending, &stop)));
            let loaded = read_load(&addr(measured), &urls, opts.connections, opts.seconds);
            stop.store(true, Ordering::Relaxed);
            let writes = writer.join().expect("the writer");
            let fresh = watcher.map(|w| w.join().expect("the watcher")).unwrap_or_default();
            (writes, fresh, loaded)
        });
        let f = LoadFigures {
            node: measured.to_string(),
            requests: lat.len() as u64,
            requests_per_second: lat.len() as f64 / opts.seconds as f64,
            p50_ms: percentile(&lat, 0.5),
            p99_ms: percentile(&lat, 0.99),
            errors,
            writes: writes.0,
            write_errors: writes.1,
        };
        eprintln!(
            "bench-engines: {}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors; {} writes ({} failed)",
            f.node, f.requests_per_second, f.p50_ms, f.p99_ms, f.errors, f.writes, f.write_errors
        );
        report.loads.push(f);
        fresh_all.extend(fresh);
        let pid = nodes.iter().find(|(n, _)| n == measured).map(|(_, n)| n.child.id()).expect("a node");
        report.node_rss_bytes.push((measured.to_string(), rss_of(pid)));
    }
    fresh_all.sort_by(f64::total_cmp);
    report.freshness_samples = fresh_all.len();
    report.freshness_p50_ms = percentile(&fresh_all, 0.5);
    report.freshness_p99_ms = percentile(&fresh_all, 0.99);
    report.freshness_max_ms = fresh_all.last().copied().unwrap_or(0.0);
    Ok(report)
}

/// The report as lines for the terminal.
pub fn summary(r: &EngineReport) -> String {
    let mut out = String::new();
    if let Some(i) = &r.import {
        out += &format!(
            "import of {} lines: SQLite {:.1} s ({:.0} lines/s), PostgreSQL {:.1} s ({:.0} lines/s): {:.2}x\n",
            i.lines,
            i.sqlite_seconds,
            i.lines as f64 / i.sqlite_seconds,
            i.postgres_seconds,
            i.lines as f64 / i.postgres_seconds,
            i.ratio
        );
    }
    if let Some(i) = &r.statistics {
        out += &format!(
            "statistics: {} groups compared, {} differ between engines; PostgreSQL audit: {} discrepancies\n",
            i.groups_compared, i.groups_differing, i.audit_discrepancies
        );
    }
    out += &format!("database size: SQLite {} MiB, PostgreSQL {} MiB\n", r.sqlite_bytes >> 20, r.postgres_bytes >> 20);
    for (node, rss) in &r.node_rss_bytes {
        out += &format!("{node}: RSS {} MiB after its load\n", rss >> 20);
    }
    let lite = r.loads.iter().find(|l| l.node == "sqlite").map(|l| (l.p50_ms, l.p99_ms));
    for l in &r.loads {
        let vs = match lite {
            Some((p50, p99)) if l.node != "sqlite" => {
                format!(" ({:.2}x / {:.2}x of SQLite)", l.p50_ms / p50, l.p99_ms / p99)
            }
            _ => String::new(),
        };
        out += &format!(
            "{:<11} {:>7.0} req/s  p50 {:.3} ms  p99 {:.3} ms{vs}  errors {}  writes {} ({} failed)\n",
            l.node, l.requests_per_second, l.p50_ms, l.p99_ms, l.errors, l.writes, l.write_errors
        );
    }
    if r.freshness_samples > 0 {
        out += &format!(
            "cross-node freshness over {} renames: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n",
            r.freshness_samples, r.freshness_p50_ms, r.freshness_p99_ms, r.freshness_max_ms
        );
    }
    out
}
