//! The source of truth, behind one interface with two engines: SQLite (embedded, the
//! default) and PostgreSQL (shared by a cluster of search nodes). All SQL of the service
//! lives in this folder, one file per entity; both engines run the same statements through
//! `db::Db`. Each write that affects a group notes it (`Db::record_change`), and the
//! `changes` outbox row is appended when the transaction commits, so the index can be
//! rebuilt or caught up from here at any time.

pub mod activity;
pub mod audit;
pub mod bulk;
pub mod changes;
pub mod db;
pub mod groups;
pub mod members;
pub mod moderation;
pub mod nodes;
mod pg;
pub mod rows;
mod sqlite;
pub mod users;

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Utc};

use crate::config::Rules;
use crate::domain::CategoryList;
use crate::geo::Gazetteer;

pub use db::{Db, DbError, DbResult, Kind};
pub use rows::GroupRow;

/// Everything a store call needs besides SQL: the rules, the fixed lists and the clock's zone.
pub struct StoreContext {
    pub rules: Rules,
    pub categories: CategoryList,
    pub gazetteer: Gazetteer,
    pub timezone: chrono_tz::Tz,
    /// The diversion screen (SPEC §5) every text change of a group goes through; `None`
    /// when `GROUPSCOUT_SCREEN=off` (for measuring what screening costs).
    pub screen: Option<crate::moderation::Screening>,
}

impl StoreContext {
    /// Today in the service timezone.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.timezone).date_naive()
    }

    pub fn current_year(&self) -> i32 {
        self.today().year()
    }

    /// The screen's verdict on a group's texts.
    pub fn screen_group(&self, name: &str, description: &str, announcement: &str) -> Option<crate::moderation::Flag> {
        self.screen.as_ref()?.group(name, description, announcement)
    }

    /// Yesterday as a day number, the day of the live activity figures.
    pub fn yesterday(&self) -> i64 {
        day_number(self.today()) - 1
    }
}

/// Days since 0001-01-01, the integer form of a calendar day in the database.
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

pub fn day_from_number(n: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
}

pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Whether `GROUPSCOUT_DB` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

enum Engine {
    Sqlite(sqlite::Sqlite),
    Postgres(pg::Postgres),
}

/// The store: one engine and the context its rules need.
pub struct Store {
    engine: Engine,
    pub ctx: Arc<StoreContext>,
}

/// How many times a PostgreSQL transaction that hit a deadlock or serialization failure
/// is run again before its error is returned.
const RETRIES: usize = 5;

impl Store {
    /// Opens (creating if needed) and migrates the database: a PostgreSQL URL, or else a
    /// SQLite path. `readers` is the number of read connections (SQLite) or the pool size
    /// (PostgreSQL).
    pub fn open(db: &str, ctx: Arc<StoreContext>, readers: usize) -> anyhow::Result<Store> {
        let engine = if is_postgres_url(db) {
            Engine::Postgres(pg::Postgres::open(db, readers + 2)?)
        } else {
            Engine::Sqlite(sqlite::Sqlite::open(std::path::Path::new(db), readers)?)
        };
        Ok(Store { engine, ctx })
    }

    pub fn kind(&self) -> Kind {
        match self.engine {
            Engine::Sqlite(_) => Kind::Sqlite,
            Engine::Postgres(_) => Kind::Postgres,
        }
    }

    pub fn yesterday(&self) -> i64 {
        self.ctx.yesterday()
    }

    /// Runs `f` in one write transaction; nothing is kept unless `f` returns Ok. The changes
    /// `f` noted are appended to the outbox just before the commit. On PostgreSQL a
    /// transaction that failed on a deadlock or serialization conflict runs again.
    pub fn write<T, E>(&self, mut f: impl FnMut(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        match &self.engine {
            Engine::Sqlite(s) => s.write(|db| {
                let out = f(db)?;
                changes::append(db, &db.take_changes())?;
                Ok(out)
            }),
            Engine::Postgres(p) => {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let mut retry = false;
                    let r = p.write(|db| {
                        let out = f(db);
                        let out = match out {
                            Ok(v) => v,
                            Err(e) => {
                                retry = db.failed_retryably();
                                return Err(e);
                            }
                        };
                        if let Err(e) = changes::append(db, &db.take_changes()) {
                            retry = e.is_retryable();
                            return Err(e.into());
                        }
                        Ok(out)
                    });
                    match r {
                        Err(_) if retry && attempt < RETRIES => {
                            std::thread::sleep(std::time::Duration::from_millis(5 * attempt as u64));
                            continue;
                        }
                        r => return r,
                    }
                }
            }
        }
    }

    /// Runs `f` on a read connection; each statement sees committed data.
    pub fn read<T, E>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        match &self.engine {
            Engine::Sqlite(s) => s.read(f),
            Engine::Postgres(p) => p.read(f, false),
        }
    }

    /// Runs `f` in one consistent snapshot (index builds, audits).
    pub fn snapshot<T, E>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        match &self.engine {
            Engine::Sqlite(s) => s.snapshot(f),
            Engine::Postgres(p) => p.read(f, true),
        }
    }

    /// Prepares for a bulk load: into an empty database, no secondary indexes until
    /// `end_bulk` (and on SQLite a larger page cache). Returns whether indexes were dropped.
    pub fn begin_bulk(&self) -> anyhow::Result<bool> {
        match &self.engine {
            Engine::Sqlite(s) => s.begin_bulk(),
            Engine::Postgres(p) => p.begin_bulk(),
        }
    }

    pub fn end_bulk(&self, dropped: bool) -> anyhow::Result<()> {
        match &self.engine {
            Engine::Sqlite(s) => s.end_bulk(dropped),
            Engine::Postgres(p) => p.end_bulk(dropped),
        }
    }

    /// Runs `f` only if no other process holds the job lock `name` (PostgreSQL: an advisory
    /// lock held for the call; SQLite: one process owns the file, so always). Returns
    /// `None` when another node is running it.
    pub fn exclusive<T>(&self, name: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<Option<T>> {
        match &self.engine {
            Engine::Sqlite(_) => f().map(Some),
            Engine::Postgres(p) => p.exclusive(name, f),
        }
    }
}

/// Creates a fresh database on a PostgreSQL server; returns its URL (tests, benchmarks).
pub fn create_postgres_database(admin_url: &str, prefix: &str) -> anyhow::Result<String> {
    pg::create_database(admin_url, prefix)
}

/// Reads a value kept in a PostgreSQL database's `meta` table, storing `make()` there first
/// if missing (the secret and admin token a cluster's nodes share).
pub fn kept_in_database(url: &str, key: &str, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    pg::kept_value(url, key, make)
}
