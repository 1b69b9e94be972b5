//! Read queries: group details, profile lists, the changes tail and snapshots for the index.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::rows::{UserRow, GROUP_COLUMNS, USER_COLUMNS};
use super::writes::viewer_of;
use super::GroupRow;
use crate::domain::Viewer;

/// A group with the text fields only the index and the detail page need.
#[derive(Debug, Clone)]
pub struct GroupText {
    pub row: GroupRow,
    pub description: String,
    pub announcement: String,
}

/// An admin as the detail page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AdminEntry {
    pub user_id: i64,
    pub nickname: String,
}

/// A pending application.
#[derive(Debug, Clone, Serialize)]
pub struct RequestEntry {
    pub user_id: i64,
    pub message: String,
    pub created_at: String,
}

pub fn user(conn: &Connection, id: i64) -> rusqlite::Result<Option<UserRow>> {
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], UserRow::from_row)
        .optional()
}

pub fn group_text(conn: &Connection, id: i64) -> rusqlite::Result<Option<GroupText>> {
    conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS}, g.description, g.announcement FROM groups g WHERE g.id = ?1 AND g.dissolved_at IS NULL"
    ))?
    .query_row([id], |r| {
        Ok(GroupText { row: GroupRow::from_row(r)?, description: r.get(21)?, announcement: r.get(22)? })
    })
    .optional()
}

/// Calls `f` for every live group with its text, the most active first (index builds:
/// documents in this order let a top-k search that meets many equal text scores stop
/// after the first, most active, ones).
pub fn for_each_group_text(
    conn: &Connection,
    mut f: impl FnMut(GroupText) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {GROUP_COLUMNS}, g.description, g.announcement FROM groups g WHERE g.dissolved_at IS NULL \
         ORDER BY g.active_members DESC, g.yesterday_messages DESC, g.member_count DESC, g.id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(GroupText { row: GroupRow::from_row(r)?, description: r.get(21)?, announcement: r.get(22)? })?;
    }
    Ok(())
}

/// Calls `f` for every live group row (without text), in id order.
pub fn for_each_group(conn: &Connection, mut f: impl FnMut(GroupRow)) -> rusqlite::Result<()> {
    let mut stmt =
        conn.prepare(&format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.dissolved_at IS NULL ORDER BY g.id"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        f(GroupRow::from_row(r)?);
    }
    Ok(())
}

pub fn max_change_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| r.get(0))
}

/// The changes after `seq`, oldest first: (seq, group_id).
pub fn changes_after(conn: &Connection, seq: i64, limit: usize) -> rusqlite::Result<Vec<(i64, i64)>> {
    conn.prepare_cached("SELECT seq, group_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")?
        .query_map(params![seq, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// A batch of the outbox, (seq, group_id), and the current text of each group it names.
pub type ChangeBatch = (Vec<(i64, i64)>, Vec<(i64, Option<GroupText>)>);

/// The next changes after `seq` (as `changes_after`) and the current text of each group
/// they name, once per group (`None` for a group that is gone), read in one go.
pub fn changes_with_texts(conn: &Connection, seq: i64, limit: usize) -> rusqlite::Result<ChangeBatch> {
    let batch = changes_after(conn, seq, limit)?;
    let ids: std::collections::BTreeSet<i64> = batch.iter().map(|(_, g)| *g).collect();
    let texts = ids.into_iter().map(|id| Ok((id, group_text(conn, id)?))).collect::<rusqlite::Result<_>>()?;
    Ok((batch, texts))
}

/// A live group with its viewer relation (for the detail page).
pub fn group_for_viewer(
    conn: &Connection,
    id: i64,
    viewer: Option<i64>,
) -> rusqlite::Result<Option<(GroupText, Viewer)>> {
    let Some(g) = group_text(conn, id)? else {
        return Ok(None);
    };
    let v = match viewer {
        Some(u) => viewer_of(conn, id, u)?,
        None => Viewer::Outsider,
    };
    Ok(Some((g, v)))
}

pub fn admins(conn: &Connection, group_id: i64) -> rusqlite::Result<Vec<AdminEntry>> {
    conn.prepare_cached(
        "SELECT m.user_id, COALESCE(u.nickname, '') FROM members m LEFT JOIN users u ON u.id = m.user_id \
         WHERE m.group_id = ?1 AND m.role = 'admin' ORDER BY m.user_id",
    )?
    .query_map([group_id], |r| Ok(AdminEntry { user_id: r.get(0)?, nickname: r.get(1)? }))?
    .collect()
}

/// How many of the viewer's mutual-follow friends are members of the group.
pub fn friends_in_group(conn: &Connection, group_id: i64, viewer: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM follows f1 JOIN follows f2 ON f2.src = f1.dst AND f2.dst = f1.src \
         JOIN members m ON m.group_id = ?1 AND m.user_id = f1.dst WHERE f1.src = ?2",
    )?
    .query_row([group_id, viewer], |r| r.get(0))
}

pub fn pending_requests(conn: &Connection, group_id: i64) -> rusqlite::Result<Vec<RequestEntry>> {
    conn.prepare_cached(
        "SELECT user_id, message, created_at FROM join_requests WHERE group_id = ?1 ORDER BY created_at, user_id",
    )?
    .query_map([group_id], |r| {
        let at: i64 = r.get(2)?;
        Ok(RequestEntry {
            user_id: r.get(0)?,
            message: r.get(1)?,
            created_at: chrono::DateTime::from_timestamp(at, 0).unwrap_or_default().to_rfc3339(),
        })
    })?
    .collect()
}

/// The live groups a user is in, newest membership first; only discoverable ones unless
/// `include_hidden` (the user looking at their own list).
pub fn joined_groups(conn: &Connection, user_id: i64, include_hidden: bool) -> rusqlite::Result<Vec<GroupRow>> {
    conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS} FROM members m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = ?1 AND g.dissolved_at IS NULL AND (?2 OR g.discoverable) ORDER BY m.joined_at DESC, g.id"
    ))?
    .query_map(params![user_id, include_hidden], GroupRow::from_row)?
    .collect()
}

/// The ids of the groups a user is in or has applied to.
pub fn related_group_ids(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT group_id FROM members WHERE user_id = ?1 UNION SELECT group_id FROM join_requests WHERE user_id = ?1",
    )?
    .query_map([user_id], |r| r.get(0))?
    .collect()
}

/// A user's mutual-follow friends.
pub fn friends(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT f1.dst FROM follows f1 JOIN follows f2 ON f2.src = f1.dst AND f2.dst = f1.src WHERE f1.src = ?1",
    )?
    .query_map([user_id], |r| r.get(0))?
    .collect()
}

/// The groups the user's friends are in, with how many friends each: (group_id, friends).
pub fn friends_groups(conn: &Connection, user_id: i64, limit: usize) -> rusqlite::Result<Vec<(i64, i64)>> {
    conn.prepare_cached(
        "SELECT m.group_id, COUNT(*) AS n FROM follows f1 JOIN follows f2 ON f2.src = f1.dst AND f2.dst = f1.src \
         JOIN members m ON m.user_id = f1.dst WHERE f1.src = ?1 GROUP BY m.group_id ORDER BY n DESC, m.group_id LIMIT ?2",
    )?
    .query_map(params![user_id, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// Deletes up to `limit` changes at or below `seq` that are older than `before` (unix
/// seconds); returns how many went.
pub fn prune_changes(conn: &Connection, seq: i64, before: i64, limit: usize) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq <= ?1 AND at < ?2 ORDER BY seq LIMIT ?3)",
        params![seq, before, limit as i64],
    )
}
