//! One way to speak SQL to either engine. Statements are written once with SQLite's
//! numbered placeholders (`?1`, `?2`, …) in the SQL both engines share; on PostgreSQL they
//! are rewritten to `$1`, `$2`, … and prepared once per connection. Parameters and columns
//! go through types both drivers know (`i64`, `f64`, `bool`, `String`, `&str`, `Option`s
//! of them), so integers are always `i64` (`BIGINT` in PostgreSQL).
//!
//! A `Db` is one open transaction (or, for reads on SQLite, one connection). Changes to
//! groups are collected with `record_change` and written to the `changes` outbox when the
//! transaction commits (see `Store::write`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;

/// Which engine a `Db` talks to, for the few places whose SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// An error of either driver.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// No connection came free within the pool's wait.
    #[error("no free database connection: {0}")]
    Busy(String),
    #[error("{0}")]
    Other(String),
}

impl DbError {
    /// The store stayed busy past its wait: SQLite's busy timeout ran out on a lock held
    /// elsewhere, or no pooled connection came free.
    pub fn is_busy(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            }
            DbError::Busy(_) => true,
            _ => false,
        }
    }

    /// A failure the whole transaction may be retried after (PostgreSQL serialization
    /// failures and deadlocks).
    pub fn is_retryable(&self) -> bool {
        match self {
            DbError::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            ),
            _ => false,
        }
    }
}

impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> Self {
        DbError::Busy(e.to_string())
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// A value both drivers can bind.
pub trait Param: rusqlite::ToSql + postgres::types::ToSql + Sync {
    fn lite(&self) -> &dyn rusqlite::ToSql;
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync);
}

impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync> Param for T {
    fn lite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// A value both drivers can read.
pub trait Col: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a> {}
impl<T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>> Col for T {}

/// Parameters for a statement: `p![a, b]`.
#[macro_export]
macro_rules! p {
    () => { &[] as &[&dyn $crate::store::db::Param] };
    ($($x:expr),+ $(,)?) => { &[$(&$x as &dyn $crate::store::db::Param),+] as &[&dyn $crate::store::db::Param] };
}

/// One row of a result.
pub enum Row<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

impl Row<'_> {
    pub fn get<T: Col>(&self, i: usize) -> DbResult<T> {
        Ok(match self {
            Row::Lite(r) => r.get(i)?,
            Row::Pg(r) => r.try_get(i)?,
        })
    }
}

/// Prepared statements of one PostgreSQL connection, by their SQLite-style text.
pub type StatementCache = HashMap<String, postgres::Statement>;

/// A PostgreSQL transaction, or the bare connection for reads that need no snapshot
/// (each statement then runs on its own, one round trip instead of three).
pub(crate) enum PgHandle<'a> {
    Tx(postgres::Transaction<'a>),
    Client(&'a mut postgres::Client),
}

/// Calls the same method on either handle.
macro_rules! on {
    ($h:expr, $c:ident => $e:expr) => {
        match $h {
            PgHandle::Tx($c) => $e,
            PgHandle::Client($c) => $e,
        }
    };
}

impl PgHandle<'_> {
    /// Commits a transaction (a bare connection has nothing to commit).
    pub fn commit(self) -> Result<(), postgres::Error> {
        match self {
            PgHandle::Tx(t) => t.commit(),
            PgHandle::Client(_) => Ok(()),
        }
    }
}

pub(crate) struct PgTx<'a> {
    pub tx: PgHandle<'a>,
    pub stmts: &'a mut StatementCache,
}

enum Inner<'a> {
    Lite(&'a rusqlite::Connection),
    Pg(RefCell<PgTx<'a>>),
}

/// One transaction (or SQLite read connection) of either engine.
pub struct Db<'a> {
    inner: Inner<'a>,
    changes: RefCell<Vec<i64>>,
    retryable: Cell<bool>,
}

/// `?12` → `$12`, for PostgreSQL.
fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_params<'p>(params: &'p [&'p dyn Param]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p.pg()).collect()
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> DbResult<postgres::Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = on!(&mut self.tx, c => c.prepare(&dollar_placeholders(sql)))?;
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl<'a> Db<'a> {
    pub fn lite(conn: &'a rusqlite::Connection) -> Db<'a> {
        Db { inner: Inner::Lite(conn), changes: RefCell::new(Vec::new()), retryable: Cell::new(false) }
    }

    pub(crate) fn pg(tx: PgHandle<'a>, stmts: &'a mut StatementCache) -> Db<'a> {
        Db {
            inner: Inner::Pg(RefCell::new(PgTx { tx, stmts })),
            changes: RefCell::new(Vec::new()),
            retryable: Cell::new(false),
        }
    }

    pub fn kind(&self) -> Kind {
        match self.inner {
            Inner::Lite(_) => Kind::Sqlite,
            Inner::Pg(_) => Kind::Postgres,
        }
    }

    fn note<T>(&self, r: DbResult<T>) -> DbResult<T> {
        if let Err(e) = &r {
            if e.is_retryable() {
                self.retryable.set(true);
            }
        }
        r
    }

    /// Whether a statement of this transaction failed in a way a retry may cure.
    pub fn failed_retryably(&self) -> bool {
        self.retryable.get()
    }

    /// Runs a statement; returns the rows it changed.
    pub fn exec(&self, sql: &str, params: &[&dyn Param]) -> DbResult<u64> {
        let r = match &self.inner {
            Inner::Lite(c) => c
                .prepare_cached(sql)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(params.iter().map(|p| p.lite()))))
                .map(|n| n as u64)
                .map_err(DbError::from),
            Inner::Pg(cell) => {
                let mut pg = cell.borrow_mut();
                pg.statement(sql).and_then(|s| Ok(on!(&mut pg.tx, c => c.execute(&s, &pg_params(params)))?))
            }
        };
        self.note(r)
    }

    /// Runs statements without parameters, separated by semicolons.
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        let r = match &self.inner {
            Inner::Lite(c) => c.execute_batch(sql).map_err(DbError::from),
            Inner::Pg(cell) => on!(&mut cell.borrow_mut().tx, c => c.batch_execute(sql)).map_err(DbError::from),
        };
        self.note(r)
    }

    /// Calls `f` for each row, streaming.
    pub fn each<E: From<DbError>>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.inner {
            Inner::Lite(c) => {
                let mut stmt = self.note(c.prepare_cached(sql).map_err(DbError::from))?;
                let mut rows = self.note(
                    stmt.query(rusqlite::params_from_iter(params.iter().map(|p| p.lite()))).map_err(DbError::from),
                )?;
                while let Some(r) = self.note(rows.next().map_err(DbError::from))? {
                    f(&Row::Lite(r))?;
                }
            }
            Inner::Pg(cell) => {
                let mut pg = cell.borrow_mut();
                let stmt = self.note(pg.statement(sql))?;
                let mut rows =
                    self.note(on!(&mut pg.tx, c => c.query_raw(&stmt, pg_params(params))).map_err(DbError::from))?;
                while let Some(r) = self.note(rows.next().map_err(DbError::from))? {
                    f(&Row::Pg(&r))?;
                }
            }
        }
        Ok(())
    }

    /// Every row, each mapped by `f`.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let mut out = Vec::new();
        self.each(sql, params, |r| {
            out.push(f(r)?);
            Ok::<(), DbError>(())
        })?;
        Ok(out)
    }

    /// The first row, if any.
    pub fn opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        let r = match &self.inner {
            Inner::Lite(c) => (|| {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(|p| p.lite())))?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row::Lite(r))?)),
                    None => Ok(None),
                }
            })(),
            Inner::Pg(cell) => (|| {
                let mut pg = cell.borrow_mut();
                let stmt = pg.statement(sql)?;
                match on!(&mut pg.tx, c => c.query_opt(&stmt, &pg_params(params)))? {
                    Some(r) => Ok(Some(f(&Row::Pg(&r))?)),
                    None => Ok(None),
                }
            })(),
        };
        self.note(r)
    }

    /// The one row a statement returns.
    pub fn row<T>(&self, sql: &str, params: &[&dyn Param], f: impl FnOnce(&Row<'_>) -> DbResult<T>) -> DbResult<T> {
        self.opt(sql, params, f)?.ok_or_else(|| DbError::Other(format!("no row from {sql}")))
    }

    /// The first column of the one row a statement returns.
    pub fn value<T: Col>(&self, sql: &str, params: &[&dyn Param]) -> DbResult<T> {
        self.row(sql, params, |r| r.get(0))
    }

    /// Notes that a group changed; the outbox row is written at commit.
    pub fn record_change(&self, group_id: i64) {
        self.changes.borrow_mut().push(group_id);
    }

    pub(crate) fn take_changes(&self) -> Vec<i64> {
        std::mem::take(&mut *self.changes.borrow_mut())
    }

    /// Runs `f` on the PostgreSQL transaction; an error on SQLite (`what` says what).
    fn pg_only<T>(&self, what: &str, f: impl FnOnce(&mut PgTx<'a>) -> DbResult<T>) -> DbResult<T> {
        let r = match &self.inner {
            Inner::Lite(_) => Err(DbError::Other(format!("{what} is PostgreSQL only"))),
            Inner::Pg(cell) => f(&mut cell.borrow_mut()),
        };
        self.note(r)
    }

    /// PostgreSQL only: `COPY … FROM STDIN` of `data` (text format).
    pub fn copy_in(&self, sql: &str, data: &[u8]) -> DbResult<u64> {
        use std::io::Write;
        self.pg_only("COPY", |pg| {
            let mut w = on!(&mut pg.tx, c => c.copy_in(sql))?;
            w.write_all(data).map_err(|e| DbError::Other(format!("copy: {e}")))?;
            Ok(w.finish()?)
        })
    }

    /// PostgreSQL only: a statement with an array parameter (`$1::bigint[]`) and maybe a
    /// second, plain one.
    pub fn exec_ids(&self, sql: &str, ids: &[i64], extra: Option<i64>) -> DbResult<u64> {
        self.pg_only("an array parameter", |pg| {
            let stmt = pg.statement(sql)?;
            let v: Vec<i64> = ids.to_vec();
            Ok(match extra {
                Some(x) => on!(&mut pg.tx, c => c.execute(&stmt, &[&v, &x]))?,
                None => on!(&mut pg.tx, c => c.execute(&stmt, &[&v]))?,
            })
        })
    }

    /// PostgreSQL only: rows of a query whose one parameter is an array of ids
    /// (`$1::bigint[]`).
    pub fn rows_for_ids<T>(
        &self,
        sql: &str,
        ids: &[i64],
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        self.pg_only("an array parameter", |pg| {
            let stmt = pg.statement(sql)?;
            let v: Vec<i64> = ids.to_vec();
            on!(&mut pg.tx, c => c.query(&stmt, &[&v]))?.iter().map(|r| f(&Row::Pg(r))).collect()
        })
    }

    pub(crate) fn into_pg(self) -> Option<PgTx<'a>> {
        match self.inner {
            Inner::Pg(cell) => Some(cell.into_inner()),
            Inner::Lite(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(dollar_placeholders("SELECT ?1, ?12 WHERE a = '?'"), "SELECT $1, $12 WHERE a = '?'");
    }
}
