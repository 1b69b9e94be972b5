//! The embedded engine: one SQLite file in WAL mode, one write connection behind a mutex
//! and a small pool of read-only connections.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use super::db::{Db, DbError};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/0001_init.sql"),
    include_str!("migrations/sqlite/0002_nodes.sql"),
    include_str!("migrations/sqlite/0003_moderation.sql"),
    include_str!("migrations/sqlite/0004_reports.sql"),
    include_str!("migrations/sqlite/0005_rings.sql"),
];

/// Secondary indexes that a bulk load into an empty database builds once at the end
/// instead of row by row (the same definitions as the migrations).
const BULK_INDEXES: &[(&str, &str)] = &[
    ("follows_dst", "CREATE INDEX IF NOT EXISTS follows_dst ON follows (dst, src)"),
    ("members_user", "CREATE INDEX IF NOT EXISTS members_user ON members (user_id, group_id)"),
    ("activity_day", "CREATE INDEX IF NOT EXISTS activity_day ON activity (day, group_id)"),
];

/// Prepared statements kept by the write connection, while serving and during a bulk load.
const STATEMENTS: usize = 16;
const BULK_STATEMENTS: usize = 64;

pub struct Sqlite {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
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

fn create_bulk_indexes(conn: &Connection) -> rusqlite::Result<()> {
    for (_, sql) in BULK_INDEXES {
        conn.execute_batch(sql)?;
    }
    Ok(())
}

impl Sqlite {
    pub fn open(path: &Path, readers: usize) -> anyhow::Result<Sqlite> {
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
            // 8 MiB each holds the B-trees' upper levels that every read walks; the leaves of
            // a 1 GB file are scattered reads that the OS page cache serves anyway, and at
            // 32 MiB each the pool alone could grow to 128 MiB of a serving process.
            conn.pragma_update(None, "cache_size", -8192)?;
            pool.push(Mutex::new(conn));
        }
        Ok(Sqlite { writer: Mutex::new(writer), readers: pool, next_reader: AtomicUsize::new(0) })
    }

    /// One IMMEDIATE transaction on the write connection.
    pub fn write<T, E: From<DbError>>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(DbError::from)?;
        let out = f(&Db::lite(&tx))?;
        tx.commit().map_err(DbError::from)?;
        Ok(out)
    }

    // The bindings before each return keep `db` from outliving the guard it borrows.
    #[allow(clippy::let_and_return)]
    pub fn read<T, E>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(conn) = self.readers[(start + i) % n].try_lock() {
                let db = Db::lite(&conn);
                let out = f(&db);
                return out;
            }
        }
        let conn = self.readers[start % n].lock();
        let db = Db::lite(&conn);
        let out = f(&db);
        out
    }

    pub fn snapshot<T, E: From<DbError>>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E> {
        self.read(|db| {
            db.batch("BEGIN")?;
            let out = f(db);
            db.batch("COMMIT")?;
            out
        })
    }

    pub fn begin_bulk(&self) -> anyhow::Result<bool> {
        let conn = self.writer.lock();
        // A bulk load touches B-tree pages all over the file: a page cache of 1 GiB (instead
        // of 64 MiB) keeps them in SQLite's own memory, and rarer checkpoints write them once.
        conn.execute_batch("PRAGMA cache_size = -1048576; PRAGMA wal_autocheckpoint = 20000;")?;
        // The import cycles through more statements than the default cache holds (16);
        // one evicted is parsed again.
        conn.set_prepared_statement_cache_capacity(BULK_STATEMENTS);
        // Into an empty database, secondary indexes are built once at the end: sorting all
        // keys once is far cheaper than millions of random B-tree inserts.
        let empty: bool = conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?;
        if empty {
            for (name, _) in BULK_INDEXES {
                conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
            }
        }
        Ok(empty)
    }

    pub fn end_bulk(&self, dropped: bool) -> anyhow::Result<()> {
        let conn = self.writer.lock();
        if dropped {
            // Building an index is mostly a sort. With temporary storage in memory, SQLite's
            // sorter keeps every key in one list and merge-sorts it on this thread (a quarter
            // of a heavy import went there, mostly in cache misses); with temporary files it
            // sorts runs of the page cache's size on helper threads and merges them. Runs
            // of 8 MiB fit the CPU caches: the three builds of the 1M world took 11 s
            // instead of 42 s in the sqlite3 shell.
            conn.execute_batch("PRAGMA cache_size = -8192; PRAGMA temp_store = FILE; PRAGMA threads = 2")?;
            create_bulk_indexes(&conn)?;
            conn.execute_batch("PRAGMA threads = 0; PRAGMA temp_store = MEMORY")?;
        }
        conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 1000;")?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS);
        Ok(())
    }
}
