//! The `changes` outbox: one row per write that affects a group, tailed by every node's
//! indexer ("seq > last seen").
//!
//! Tailing by seq is only safe if no change can become visible with a seq lower than one
//! already read. A sequence number is drawn when a row is inserted, not when its
//! transaction commits, so two writers could commit out of order. PostgreSQL writers
//! therefore append their changes last, just before COMMIT, while holding a transaction
//! advisory lock: the next writer draws its numbers only after this one committed, so seq
//! order is commit order (`tests/postgres.rs` races many writers against a tailer). The
//! lock is held for one INSERT and the commit, never while a transaction waits on rows.
//! SQLite has one writer at a time, which gives the same order.

use super::db::{Db, DbResult, Kind};
use super::groups::{group_text, GroupText};
use super::now_secs;
use crate::p;

/// The advisory lock key that orders appends to the outbox.
const OUTBOX_LOCK: i64 = 0x6772_6f75_7073_0002;

/// Appends one change per distinct group in `ids` (the changes a transaction noted).
pub fn append(db: &Db<'_>, ids: &[i64]) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let now = now_secs();
    match db.kind() {
        Kind::Sqlite => {
            for id in ids {
                db.exec("INSERT INTO changes (group_id, at) VALUES (?1, ?2)", p![id, now])?;
            }
        }
        Kind::Postgres => {
            db.exec("SELECT pg_advisory_xact_lock(?1)", p![OUTBOX_LOCK])?;
            db.exec_ids(
                "INSERT INTO changes (group_id, at) SELECT g, $2 FROM unnest($1::bigint[]) AS g",
                &ids,
                Some(now),
            )?;
        }
    }
    Ok(())
}

pub fn max_seq(db: &Db<'_>) -> DbResult<i64> {
    db.value("SELECT COALESCE(MAX(seq), 0) FROM changes", p![])
}

/// How far the outbox is ahead of `seq`: the number of changes after it and the time
/// (unix seconds) of the oldest of them, if any.
pub fn behind(db: &Db<'_>, seq: i64) -> DbResult<(i64, Option<i64>)> {
    db.row("SELECT COUNT(*), MIN(at) FROM changes WHERE seq > ?1", p![seq], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// The changes after `seq`, oldest first: (seq, group_id).
pub fn after(db: &Db<'_>, seq: i64, limit: usize) -> DbResult<Vec<(i64, i64)>> {
    db.rows("SELECT seq, group_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2", p![seq, limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// A batch of the outbox, (seq, group_id), and the current text of each group it names.
pub type ChangeBatch = (Vec<(i64, i64)>, Vec<(i64, Option<GroupText>)>);

/// The next changes after `seq` (as `after`) and the current text of each group they
/// name, once per group (`None` for a group that is gone), read in one snapshot.
pub fn with_texts(db: &Db<'_>, seq: i64, limit: usize) -> DbResult<ChangeBatch> {
    let batch = after(db, seq, limit)?;
    let ids: std::collections::BTreeSet<i64> = batch.iter().map(|(_, g)| *g).collect();
    let texts = ids.into_iter().map(|id| Ok((id, group_text(db, id)?))).collect::<DbResult<_>>()?;
    Ok((batch, texts))
}

/// Deletes up to `limit` changes at or below `seq` that are older than `before` (unix
/// seconds), and notes how far pruning went (`nodes::pruned_through`); returns how many
/// went.
pub fn prune(db: &Db<'_>, seq: i64, before: i64, limit: usize) -> DbResult<u64> {
    let through: Option<i64> = db.value(
        "SELECT MAX(seq) FROM (SELECT seq FROM changes WHERE seq <= ?1 AND at < ?2 ORDER BY seq LIMIT ?3) AS p",
        p![seq, before, limit as i64],
    )?;
    let Some(through) = through else { return Ok(0) };
    let n = db.exec("DELETE FROM changes WHERE seq <= ?1", p![through])?;
    if through > super::nodes::pruned_through(db)? {
        super::activity::set_meta(db, "pruned_through", &through.to_string())?;
    }
    Ok(n)
}
