//! `groupscout soak`: the service under steady load for a long while, to see whether it
//! stays well: 64 keep-alive connections of mixed reads (text search, text + radius,
//! nearby, suggest, detail) in a closed loop, and writes streaming in at 200 a second
//! (renames, joins, activity), against a `serve` process on a freshly imported world.
//!
//! What it reports: errors (a read not answered 200, a write answered 5xx or not at all),
//! the server's RSS after the first window (a minute) and at the end, and the latency of
//! the first window against the last. The targets: no error, the end RSS within 10 % of
//! the first window's, the last window's p99 within 1.5× of the first's.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::bench::percentile;
use super::engines::{import_file, read_urls, rss_of, start_node, Conn};
use crate::config::Settings;
use crate::store::{users, GroupRow, Store};

/// Streams of writes, each paced to its share of the rate. A write waits for its answer,
/// and with 64 connections reading on 2 cores an answer can take 30 ms, so 4 streams
/// reached only 140 writes a second.
const WRITE_STREAMS: u64 = 16;

pub struct SoakOptions {
    pub groups: usize,
    /// Where the world, the database and the index live.
    pub dir: PathBuf,
    pub seconds: u64,
    /// The length of the windows compared (the first against the last).
    pub window_seconds: u64,
    pub connections: usize,
    pub writes_per_second: f64,
}

/// One window's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub start_s: u64,
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rss_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub date: String,
    pub groups: usize,
    pub seconds: u64,
    pub connections: usize,
    pub requests: u64,
    pub read_errors: u64,
    pub writes: u64,
    pub write_errors: u64,
    /// Writes answered 4xx (a join to a full group, say): refused, not failed.
    pub writes_refused: u64,
    pub windows: Vec<Window>,
    pub rss_first_window: u64,
    pub rss_end: u64,
    /// Lines of the server's log at warning level or above.
    pub log_warnings: usize,
}

impl SoakReport {
    pub fn rss_ratio(&self) -> f64 {
        self.rss_end as f64 / self.rss_first_window.max(1) as f64
    }

    pub fn p99_ratio(&self) -> f64 {
        match (self.windows.first(), self.windows.last()) {
            (Some(a), Some(b)) => b.p99_ms / a.p99_ms.max(1e-9),
            _ => 0.0,
        }
    }

    pub fn errors(&self) -> u64 {
        self.read_errors + self.write_errors
    }

    /// The report as lines for the terminal, each target with its verdict.
    pub fn summary(&self) -> String {
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
        let mut out = format!(
            "soak: {} groups, {} s, {} connections: {} reads ({:.0}/s), {} read errors; {} writes ({:.0}/s), {} failed, {} refused (4xx)\n",
            self.groups,
            self.seconds,
            self.connections,
            self.requests,
            self.requests as f64 / self.seconds.max(1) as f64,
            self.read_errors,
            self.writes,
            self.writes as f64 / self.seconds.max(1) as f64,
            self.write_errors,
            self.writes_refused
        );
        for w in &self.windows {
            out.push_str(&format!(
                "  from {:>4} s: {:>8} reads, p50 {:.3} ms, p99 {:.3} ms, RSS {:.1} MiB\n",
                w.start_s,
                w.requests,
                w.p50_ms,
                w.p99_ms,
                mib(w.rss_bytes)
            ));
        }
        let (first, last) = (self.windows.first(), self.windows.last());
        out.push_str(&format!("errors: {} ({})\n", self.errors(), verdict(self.errors() == 0)));
        out.push_str(&format!(
            "RSS: {:.1} MiB after the first window, {:.1} MiB at the end: {:.3}× ({}, target within 10 %)\n",
            mib(self.rss_first_window),
            mib(self.rss_end),
            self.rss_ratio(),
            verdict((self.rss_ratio() - 1.0).abs() <= 0.10)
        ));
        if let (Some(a), Some(b)) = (first, last) {
            out.push_str(&format!(
                "p99: {:.3} ms in the first window, {:.3} ms in the last: {:.2}× ({}, target within 1.5×)\n",
                a.p99_ms,
                b.p99_ms,
                self.p99_ratio(),
                verdict(self.p99_ratio() <= 1.5)
            ));
        }
        out.push_str(&format!("server log lines at warning or above: {}\n", self.log_warnings));
        out
    }
}

pub fn run(settings: Settings, opts: &SoakOptions) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(opts.window_seconds > 0 && opts.seconds >= opts.window_seconds, "the run is shorter than a window");
    std::fs::create_dir_all(&opts.dir)?;
    let ctx = Arc::new(crate::service::load_context(&settings)?);
    let world = opts.dir.join(format!("world-{}.jsonl", opts.groups));
    if !world.exists() {
        eprintln!("soak: generating {} groups into {}", opts.groups, world.display());
        let mut f = std::io::BufWriter::new(std::fs::File::create(&world)?);
        let o = super::gen::GenOptions { groups: opts.groups, seed: 1, today: ctx.today() };
        super::generate(&ctx.gazetteer, &o, &mut f)?;
        std::io::Write::flush(&mut f)?;
    }
    // A fresh database and index each run: the writes of an earlier run would make the
    // figures of two runs incomparable.
    let db = opts.dir.join(format!("soak-{}.db", opts.groups));
    let index = opts.dir.join(format!("soak-index-{}", opts.groups));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let _ = std::fs::remove_dir_all(&index);
    let (urls, sample, max_user) = {
        let store = Store::open(&db.to_string_lossy(), ctx.clone(), 2)?;
        let s = import_file(&store, &world)?;
        eprintln!("soak: imported {} lines in {:.1} s", s.lines, s.seconds);
        super::rollup(&store, None)?;
        let (urls, sample) = read_urls(&store, 2_000)?;
        (urls, sample, store.read(users::max_id)?)
    };
    let log = opts.dir.join("soak-serve.log");
    let port = 18_900 + (std::process::id() % 500) as u16;
    eprintln!("soak: starting serve (it builds its index first)");
    let node = start_node(&settings, &db.to_string_lossy(), &index, &log, port)?;
    let pid = node.child.id();
    let addr = node.addr.clone();
    let today_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let windows = opts.seconds.div_ceil(opts.window_seconds) as usize;
    let latencies: Vec<Mutex<Vec<f64>>> = (0..windows).map(|_| Mutex::new(Vec::new())).collect();
    let read_errors = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let mut rss = vec![0u64; windows];
    eprintln!(
        "soak: {} s of load, {} connections, {} writes/s",
        opts.seconds, opts.connections, opts.writes_per_second
    );
    let started = Instant::now();
    let writes = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITE_STREAMS)
            .map(|n| {
                let rate = opts.writes_per_second / WRITE_STREAMS as f64;
                let (settings, addr, sample, stop, today_at) = (&settings, &addr, &sample, &stop, &today_at);
                s.spawn(move || write_stream(settings, addr, sample, max_user, rate, stop, today_at, n))
            })
            .collect();
        for c in 0..opts.connections {
            let (urls, addr, latencies, read_errors, stop) = (&urls, &addr, &latencies, &read_errors, &stop);
            s.spawn(move || {
                let mut conn = Conn::new(addr);
                let mut i = c * 7919;
                let mut local: Vec<Vec<f64>> = vec![Vec::new(); windows];
                while !stop.load(Ordering::Relaxed) {
                    let url = &urls[i % urls.len()];
                    i += opts.connections;
                    let t = Instant::now();
                    let window = (started.elapsed().as_secs() / opts.window_seconds) as usize;
                    match conn.request("GET", url, None, None) {
                        Ok((200, _)) if window < windows => local[window].push(t.elapsed().as_secs_f64() * 1000.0),
                        Ok((200, _)) => {}
                        _ => {
                            read_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                for (w, l) in local.into_iter().enumerate() {
                    latencies[w].lock().expect("latencies").extend(l);
                }
            });
        }
        for (w, slot) in rss.iter_mut().enumerate() {
            let end = started + Duration::from_secs(((w as u64 + 1) * opts.window_seconds).min(opts.seconds));
            std::thread::sleep(end.saturating_duration_since(Instant::now()));
            *slot = rss_of(pid);
            eprintln!("soak: {} s, RSS {:.1} MiB", started.elapsed().as_secs(), *slot as f64 / (1 << 20) as f64);
        }
        stop.store(true, Ordering::Relaxed);
        writers
            .into_iter()
            .map(|w| w.join().expect("a writer"))
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    });
    drop(node);
    let log_warnings = std::fs::read_to_string(&log)
        .map(|t| t.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).count())
        .unwrap_or(0);
    let mut report = SoakReport {
        date: chrono::Utc::now().to_rfc3339(),
        groups: opts.groups,
        seconds: opts.seconds,
        connections: opts.connections,
        requests: 0,
        read_errors: read_errors.load(Ordering::Relaxed),
        writes: writes.0,
        write_errors: writes.1,
        writes_refused: writes.2,
        windows: Vec::new(),
        rss_first_window: rss.first().copied().unwrap_or(0),
        rss_end: rss.last().copied().unwrap_or(0),
        log_warnings,
    };
    for (w, lat) in latencies.into_iter().enumerate() {
        let mut lat = lat.into_inner().expect("latencies");
        lat.sort_by(f64::total_cmp);
        report.requests += lat.len() as u64;
        report.windows.push(Window {
            start_s: w as u64 * opts.window_seconds,
            requests: lat.len() as u64,
            p50_ms: percentile(&lat, 0.5),
            p99_ms: percentile(&lat, 0.99),
            rss_bytes: rss[w],
        });
    }
    Ok(report)
}

/// One stream of writes at `rate` a second until `stop`: a description changed by the
/// owner, a join by a random user, or an activity event (with an event id). Returns the
/// writes sent, those that failed (5xx or no answer) and those refused (4xx).
#[allow(clippy::too_many_arguments)]
fn write_stream(
    settings: &Settings,
    addr: &str,
    sample: &[GroupRow],
    max_user: i64,
    rate: f64,
    stop: &AtomicBool,
    today_at: &str,
    stream: u64,
) -> (u64, u64, u64) {
    let mut conn = Conn::new(addr);
    let mut rng = StdRng::seed_from_u64(17 + stream);
    let run = chrono::Utc::now().timestamp_millis();
    let (mut writes, mut failed, mut refused) = (0u64, 0u64, 0u64);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let g = &sample[rng.gen_range(0..sample.len())];
        let now = chrono::Utc::now().timestamp();
        let result = match writes % 10 {
            0 => {
                let owner = crate::auth::issue_user_token(&settings.secret, g.owner_id, now, 3600);
                let body = serde_json::json!({"description": format!("周末见 第{writes}次 {stream}")}).to_string();
                conn.request("PATCH", &format!("/v1/groups/{}", g.id), Some(&body), Some(&owner))
            }
            1..=4 => {
                let token = crate::auth::issue_user_token(&settings.secret, rng.gen_range(1..=max_user), now, 3600);
                conn.request("POST", &format!("/v1/groups/{}/join", g.id), Some("{}"), Some(&token))
            }
            _ => {
                let body = serde_json::json!({"events": [{"group_id": g.id, "user_id": g.owner_id, "at": today_at,
                    "messages": 1, "event_id": format!("soak-{run}-{stream}-{writes}")}]})
                .to_string();
                conn.request("POST", "/v1/activity", Some(&body), Some(&settings.admin_token))
            }
        };
        writes += 1;
        match result {
            Ok((s, _)) if s < 400 => {}
            Ok((s, _)) if s < 500 => refused += 1,
            _ => failed += 1,
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    (writes, failed, refused)
}
