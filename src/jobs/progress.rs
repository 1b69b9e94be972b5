//! What a running batch job reports of itself: its progress in the store's `meta`
//! (`job.<name>`), written at most once a second from a thread of its own so the job never
//! waits on it, and its end. `/metrics` on any node shows the latest.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::activity::set_meta;
use crate::store::{now_secs, Db, DbError, DbResult, Store};

/// The meta key prefix of job reports.
pub const KEY_PREFIX: &str = "job.";

/// A job's report as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobReport {
    /// `running`, `done` or `failed`.
    pub state: String,
    pub done: u64,
    /// Unknown for input of unknown length.
    pub total: Option<u64>,
    /// Unix seconds.
    pub started: i64,
    pub updated: i64,
}

/// The live counters a job moves.
#[derive(Default)]
pub struct Progress {
    done: AtomicU64,
    /// 0 when unknown.
    total: AtomicU64,
}

impl Progress {
    pub fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }

    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }
}

fn save(store: &Store, job: &str, report: &JobReport) -> Result<(), DbError> {
    let value = serde_json::to_string(report).unwrap_or_default();
    store.write(|db| set_meta(db, &format!("{KEY_PREFIX}{job}"), &value))
}

/// Runs `work`, reporting its progress as `job`. A report that cannot be written is
/// logged and skipped: the job matters more than its report.
pub fn tracked<T>(
    store: &Store,
    job: &str,
    total: Option<u64>,
    work: impl FnOnce(&Progress) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let progress = Progress::default();
    progress.set_total(total.unwrap_or(0));
    let started = now_secs();
    let report = |state: &str| JobReport {
        state: state.to_string(),
        done: progress.done.load(Ordering::Relaxed),
        total: Some(progress.total.load(Ordering::Relaxed)).filter(|t| *t > 0),
        started,
        updated: now_secs(),
    };
    let stop = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Acquire) {
                if let Err(e) = save(store, job, &report("running")) {
                    tracing::warn!(job, error = %e, "could not record the job's progress");
                }
                for _ in 0..10 {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        let out = work(&progress);
        stop.store(true, Ordering::Release);
        out
    });
    let state = if result.is_ok() { "done" } else { "failed" };
    if let Err(e) = save(store, job, &report(state)) {
        tracing::warn!(job, error = %e, "could not record the job's end");
    }
    result
}

/// Every job's latest report, by name.
pub fn reports(db: &Db<'_>) -> DbResult<Vec<(String, JobReport)>> {
    let rows = crate::store::activity::meta_with_prefix(db, KEY_PREFIX)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(KEY_PREFIX)?.to_string(), serde_json::from_str(&v).ok()?)))
        .collect())
}
