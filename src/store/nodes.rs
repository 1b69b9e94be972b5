//! The search nodes of a cluster, as each reports itself, and the index epoch: `reindex`
//! against a shared database raises the epoch, and every node rebuilds its own index
//! from a snapshot when its epoch is behind.

use super::db::{Db, DbResult};
use crate::p;

/// A node as it last reported itself.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub id: String,
    pub index_epoch: i64,
    pub seq: i64,
    pub seen_at: i64,
}

pub fn heartbeat(db: &Db<'_>, id: &str, epoch: i64, seq: i64, now: i64) -> DbResult<()> {
    db.exec(
        "INSERT INTO nodes (id, index_epoch, seq, seen_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (id) DO UPDATE SET index_epoch = excluded.index_epoch, seq = excluded.seq, \
         seen_at = excluded.seen_at",
        p![id, epoch, seq, now],
    )?;
    Ok(())
}

/// The nodes seen since `since` (unix seconds).
pub fn seen_since(db: &Db<'_>, since: i64) -> DbResult<Vec<NodeRow>> {
    db.rows("SELECT id, index_epoch, seq, seen_at FROM nodes WHERE seen_at >= ?1 ORDER BY id", p![since], |r| {
        Ok(NodeRow { id: r.get(0)?, index_epoch: r.get(1)?, seq: r.get(2)?, seen_at: r.get(3)? })
    })
}

/// The index epoch every node's index should be built for.
pub fn epoch(db: &Db<'_>) -> DbResult<i64> {
    Ok(super::activity::meta(db, "index_epoch")?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Raises the index epoch; returns the new one.
pub fn raise_epoch(db: &Db<'_>) -> DbResult<i64> {
    let next = epoch(db)? + 1;
    super::activity::set_meta(db, "index_epoch", &next.to_string())?;
    Ok(next)
}

/// The highest seq pruning has removed: an index committed below it cannot catch up.
pub fn pruned_through(db: &Db<'_>) -> DbResult<i64> {
    Ok(super::activity::meta(db, "pruned_through")?.and_then(|v| v.parse().ok()).unwrap_or(0))
}
