//! The shared engine: PostgreSQL through the synchronous `postgres` driver and an `r2d2`
//! pool. The store's calls already run off the async workers (on the blocking pool or the
//! indexer's thread), so a blocking driver fits them without a second async runtime in
//! every call path; each pooled connection keeps its own prepared statements.

use std::collections::HashMap;

use anyhow::Context;
use postgres::{Client, IsolationLevel, NoTls};

use super::db::{Db, DbError, PgHandle, StatementCache};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_init.sql"),
    include_str!("migrations/postgres/0002_nodes.sql"),
    include_str!("migrations/postgres/0003_moderation.sql"),
    include_str!("migrations/postgres/0004_reports.sql"),
    include_str!("migrations/postgres/0005_rings.sql"),
];

/// Secondary indexes a bulk load into an empty database builds once at the end instead of
/// row by row (the same definitions as the migrations).
const BULK_INDEXES: &[(&str, &str)] = &[
    ("follows_dst", "CREATE INDEX IF NOT EXISTS follows_dst ON follows (dst, src)"),
    ("members_user", "CREATE INDEX IF NOT EXISTS members_user ON members (user_id, group_id)"),
    ("activity_day", "CREATE INDEX IF NOT EXISTS activity_day ON activity (day, group_id)"),
];

/// The advisory lock key that serialises migrations between nodes starting at once.
const MIGRATION_LOCK: i64 = 0x6772_6f75_7073_0001;

pub struct PgConn {
    client: Client,
    stmts: StatementCache,
}

pub struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn { client: self.config.connect(NoTls)?, stmts: HashMap::new() })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

pub struct Postgres {
    pool: r2d2::Pool<Manager>,
}

fn config(url: &str) -> anyhow::Result<postgres::Config> {
    let mut config: postgres::Config = url.parse().with_context(|| "GROUPSCOUT_DB is not a valid PostgreSQL URL")?;
    config.application_name("groupscout");
    config.connect_timeout(std::time::Duration::from_secs(10));
    Ok(config)
}

fn migrate(client: &mut Client) -> anyhow::Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let exists: bool = tx.query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?.get(0);
    if !exists {
        tx.batch_execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")?;
    }
    let version: Option<i64> = tx.query_opt("SELECT version FROM schema_version", &[])?.map(|r| r.get(0));
    let version = version.unwrap_or(0) as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.batch_execute(sql).with_context(|| format!("migration {} failed", i + 1))?;
    }
    tx.execute("DELETE FROM schema_version", &[])?;
    tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&(MIGRATIONS.len() as i64)])?;
    tx.commit()?;
    Ok(())
}

/// See `super::kept_in_database`.
pub fn kept_value(url: &str, key: &str, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    let mut client = config(url)?.connect(NoTls).with_context(|| "failed to connect to PostgreSQL")?;
    migrate(&mut client)?;
    client.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", &[&key, &make()])?;
    Ok(client.query_one("SELECT value FROM meta WHERE key = $1", &[&key])?.get(0))
}

impl Postgres {
    pub fn open(url: &str, size: usize) -> anyhow::Result<Postgres> {
        let config = config(url)?;
        let mut first = config.connect(NoTls).with_context(|| "failed to connect to PostgreSQL")?;
        migrate(&mut first)?;
        // A bulk load that died before its end left these out.
        for (_, sql) in BULK_INDEXES {
            first.batch_execute(sql)?;
        }
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(size.max(2) as u32)
            .min_idle(Some(1))
            // No round trip to test each connection on every checkout: a broken one is
            // noticed by `has_broken` and the failed call, and the pool replaces it.
            .test_on_check_out(false)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(Manager { config })
            .with_context(|| "failed to open the PostgreSQL pool")?;
        Ok(Postgres { pool })
    }

    /// One READ COMMITTED transaction. Statements that read before they write lock what
    /// they read (`FOR UPDATE` on the group row, see `groups::lock`), so the rules see the
    /// same state they change.
    pub fn write<T, E: From<DbError>>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.pool.get().map_err(DbError::from)?;
        let PgConn { client, stmts } = &mut *conn;
        let tx = client.transaction().map_err(DbError::from)?;
        let db = Db::pg(PgHandle::Tx(tx), stmts);
        let out = f(&db)?;
        let pg = db.into_pg().expect("a PostgreSQL transaction");
        pg.tx.commit().map_err(DbError::from)?;
        Ok(out)
    }

    /// A read: with `snapshot`, one REPEATABLE READ read-only transaction (one snapshot for
    /// all its statements); else statements on the bare connection, each seeing what was
    /// committed when it ran.
    pub fn read<T, E: From<DbError>>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>, snapshot: bool) -> Result<T, E> {
        let mut conn = self.pool.get().map_err(DbError::from)?;
        let PgConn { client, stmts } = &mut *conn;
        let handle = if snapshot {
            PgHandle::Tx(
                client
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .map_err(DbError::from)?,
            )
        } else {
            PgHandle::Client(client)
        };
        let db = Db::pg(handle, stmts);
        let out = f(&db)?;
        let pg = db.into_pg().expect("a PostgreSQL transaction");
        pg.tx.commit().map_err(DbError::from)?;
        Ok(out)
    }

    /// Into an empty database, the secondary indexes are built once at the end of a bulk
    /// load. Returns whether they were dropped.
    pub fn begin_bulk(&self) -> anyhow::Result<bool> {
        let mut conn = self.pool.get()?;
        let empty: bool = conn.client.query_one("SELECT NOT EXISTS (SELECT 1 FROM users)", &[])?.get(0);
        if empty {
            for (name, _) in BULK_INDEXES {
                conn.client.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))?;
            }
        }
        Ok(empty)
    }

    pub fn end_bulk(&self, dropped: bool) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        if dropped {
            conn.client.batch_execute("SET maintenance_work_mem = '512MB'")?;
            for (_, sql) in BULK_INDEXES {
                conn.client.batch_execute(sql)?;
            }
        }
        // Imported groups keep their ids; the next created group must not reuse one.
        conn.client.batch_execute(
            "SELECT setval(pg_get_serial_sequence('groups', 'id'), GREATEST((SELECT MAX(id) FROM groups), 1)); \
             ANALYZE users, follows, groups, members, join_requests, activity, activity_events, changes",
        )?;
        Ok(())
    }

    pub fn exclusive<T>(&self, name: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<Option<T>> {
        let mut conn = self.pool.get()?;
        let got: bool = conn.client.query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&name])?.get(0);
        if !got {
            return Ok(None);
        }
        let out = f();
        let _ = conn.client.execute("SELECT pg_advisory_unlock(hashtext($1))", &[&name]);
        out.map(Some)
    }
}

/// Creates a fresh, empty database on the server `admin_url` points at and returns the
/// URL of the new database (tests and benchmarks: one database each).
pub fn create_database(admin_url: &str, prefix: &str) -> anyhow::Result<String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000
    );
    let mut client = config(admin_url)?.connect(NoTls).with_context(|| format!("failed to connect to {admin_url}"))?;
    client.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let (base, _) = admin_url.rsplit_once('/').ok_or_else(|| anyhow::anyhow!("{admin_url} names no database"))?;
    let query = admin_url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    Ok(format!("{base}/{name}{query}"))
}
