//! SQLite, the source of truth: opening, migrations, the connection pool, and every SQL
//! statement of the service. Each write that affects a group appends to `changes` in the
//! same transaction, so the index can be rebuilt or caught up from here at any time.

pub mod activity;
pub mod audit;
pub mod reads;
pub mod rows;
pub mod writes;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use chrono::{Datelike, NaiveDate, Utc};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OpenFlags, Transaction};

use crate::config::Rules;
use crate::domain::CategoryList;
use crate::geo::Gazetteer;

pub use rows::GroupRow;

const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

/// Secondary indexes that a bulk load into an empty database builds once at the end
/// instead of row by row (the same definitions as the migrations).
const BULK_INDEXES: &[(&str, &str)] = &[
    ("follows_dst", "CREATE INDEX IF NOT EXISTS follows_dst ON follows (dst, src)"),
    ("members_user", "CREATE INDEX IF NOT EXISTS members_user ON members (user_id, group_id)"),
    ("activity_day", "CREATE INDEX IF NOT EXISTS activity_day ON activity (day, group_id)"),
];

/// Everything a store call needs besides SQL: the rules, the fixed lists and the clock's zone.
pub struct StoreContext {
    pub rules: Rules,
    pub categories: CategoryList,
    pub gazetteer: Gazetteer,
    pub timezone: chrono_tz::Tz,
}

impl StoreContext {
    /// Today in the service timezone.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.timezone).date_naive()
    }

    pub fn current_year(&self) -> i32 {
        self.today().year()
    }
}

/// Days since 0001-01-01, the integer form of a calendar day in the database.
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

pub fn day_from_number(n: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
}

/// One write connection and a small pool of read connections.
pub struct Store {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    pub ctx: Arc<StoreContext>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL with synchronous=NORMAL: a committed transaction is in the WAL before COMMIT
    // returns, so it survives the process being killed (-9); only an OS crash could lose
    // the last transactions.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(path: &Path, ctx: Arc<StoreContext>, readers: usize) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
            }
        }
        let mut writer = Connection::open(path).with_context(|| format!("failed to open {}", path.display()))?;
        configure(&writer)?;
        migrate(&mut writer)?;
        // A bulk load that died before its end left these out.
        create_bulk_indexes(&writer)?;
        let mut pool = Vec::new();
        for _ in 0..readers.max(1) {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.pragma_update(None, "cache_size", -32768)?;
            pool.push(Mutex::new(conn));
        }
        Ok(Store { writer: Mutex::new(writer), readers: pool, next_reader: AtomicUsize::new(0), ctx })
    }

    /// Runs `f` in one write transaction; nothing is kept unless `f` returns Ok.
    pub fn write<T, E>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on a read connection (a consistent snapshot when `f` opens a transaction).
    pub fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.readers[start % n].lock();
        f(&conn)
    }

    /// The write connection, for jobs that manage their own transactions (import, rollup).
    pub fn writer(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.writer.lock()
    }
}

/// Drops the bulk-load indexes when the database holds no users yet (a first load), and
/// says whether it did.
pub fn drop_bulk_indexes_if_empty(conn: &Connection) -> rusqlite::Result<bool> {
    let empty: bool = conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?;
    if empty {
        for (name, _) in BULK_INDEXES {
            conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
    }
    Ok(empty)
}

/// Builds the bulk-load indexes if they are missing.
pub fn create_bulk_indexes(conn: &Connection) -> rusqlite::Result<()> {
    for (_, sql) in BULK_INDEXES {
        conn.execute_batch(sql)?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| format!("migration {} failed", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Appends a row to the `changes` outbox for a group.
pub fn record_change(tx: &Connection, group_id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO changes (group_id, at) VALUES (?1, ?2)")?
        .execute(params![group_id, Utc::now().timestamp()])?;
    Ok(())
}

pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}
