//! Message activity: daily buckets per (group, day, user), and the two statistics derived
//! from them, `yesterday_messages` and `active_members` (SPEC §1).

use std::collections::BTreeSet;

use super::db::{Db, DbResult, Kind};
use crate::p;

/// One reported event, validated: `day` is its calendar day in the service timezone.
#[derive(Debug, Clone)]
pub struct ActivityEvent {
    pub group_id: i64,
    pub user_id: i64,
    pub day: i64,
    pub messages: i64,
    pub event_id: Option<String>,
}

/// The window of `active_members`: yesterday and the six days before it.
pub const ACTIVE_WINDOW_DAYS: i64 = 7;

/// Recomputes a group's activity statistics for the day `yesterday` from its buckets.
/// Only current members count as active; every message reported for the group counts.
pub fn refresh_stats(db: &Db<'_>, group_id: i64, yesterday: i64) -> DbResult<()> {
    super::groups::lock(db, group_id)?;
    let messages: i64 = db.value(
        "SELECT CAST(COALESCE(SUM(messages), 0) AS BIGINT) FROM activity WHERE group_id = ?1 AND day = ?2",
        p![group_id, yesterday],
    )?;
    let active: i64 = db.value(
        "SELECT COUNT(DISTINCT a.user_id) FROM activity a \
         JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
         WHERE a.group_id = ?1 AND a.day BETWEEN ?2 AND ?3 AND a.messages > 0",
        p![group_id, yesterday - (ACTIVE_WINDOW_DAYS - 1), yesterday],
    )?;
    db.exec(
        "UPDATE groups SET yesterday_messages = ?2, active_members = ?3, stats_day = ?4 WHERE id = ?1",
        p![group_id, messages, active, yesterday],
    )?;
    Ok(())
}

/// Adds events to their buckets; events whose `event_id` was seen before count once.
/// Returns how many were applied. The caller checks ids beforehand.
pub fn apply_events(db: &Db<'_>, events: &[ActivityEvent], yesterday: i64) -> DbResult<usize> {
    let mut touched = BTreeSet::new();
    let mut applied = 0;
    for e in events {
        if !add_event(db, e)? {
            continue;
        }
        applied += 1;
        if feeds_live_stats(e.day, yesterday) {
            touched.insert(e.group_id);
        }
    }
    for g in touched {
        refresh_stats(db, g, yesterday)?;
        db.record_change(g);
    }
    Ok(applied)
}

/// Adds an event's messages to its bucket, unless its id was seen before; returns whether
/// it was added.
pub fn add_event(db: &Db<'_>, e: &ActivityEvent) -> DbResult<bool> {
    if let Some(id) = &e.event_id {
        let fresh =
            db.exec("INSERT INTO activity_events (event_id) VALUES (?1) ON CONFLICT DO NOTHING", p![id.as_str()])?;
        if fresh == 0 {
            return Ok(false);
        }
    }
    db.exec(
        "INSERT INTO activity (group_id, day, user_id, messages) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (group_id, day, user_id) DO UPDATE SET messages = activity.messages + excluded.messages",
        p![e.group_id, e.day, e.user_id, e.messages],
    )?;
    Ok(true)
}

/// Whether activity of `day` counts in the live statistics: only the last seven days do;
/// older late events reach the history through `rollup --date`.
pub fn feeds_live_stats(day: i64, yesterday: i64) -> bool {
    day <= yesterday && day > yesterday - ACTIVE_WINDOW_DAYS
}

/// What a roll-up did.
#[derive(Debug, Clone, Copy, Default)]
pub struct RollupSummary {
    pub groups: u64,
    pub changed: u64,
    pub history_rows: u64,
}

/// Recomputes the statistics of `day` for every live group: the history row of that day
/// and, when `day` is `yesterday`, the live figures on the cards (each group whose figures
/// move is noted as changed). Idempotent.
pub fn rollup(db: &Db<'_>, day: i64, yesterday: i64) -> DbResult<RollupSummary> {
    db.batch(match db.kind() {
        Kind::Sqlite => {
            "DROP TABLE IF EXISTS temp.rolled; CREATE TEMP TABLE rolled (group_id INTEGER PRIMARY KEY, \
             messages INTEGER NOT NULL, active INTEGER NOT NULL)"
        }
        Kind::Postgres => {
            "DROP TABLE IF EXISTS rolled; CREATE TEMP TABLE rolled (group_id BIGINT PRIMARY KEY, \
             messages BIGINT NOT NULL, active BIGINT NOT NULL) ON COMMIT DROP"
        }
    })?;
    db.exec(
        "INSERT INTO rolled (group_id, messages, active) \
         SELECT g.id, COALESCE(y.messages, 0), COALESCE(w.active, 0) FROM groups g \
         LEFT JOIN (SELECT group_id, CAST(SUM(messages) AS BIGINT) AS messages FROM activity WHERE day = ?1 \
                    GROUP BY group_id) y ON y.group_id = g.id \
         LEFT JOIN (SELECT a.group_id, COUNT(DISTINCT a.user_id) AS active FROM activity a \
                    JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
                    WHERE a.day BETWEEN ?2 AND ?1 AND a.messages > 0 GROUP BY a.group_id) w ON w.group_id = g.id \
         WHERE g.dissolved_at IS NULL",
        p![day, day - (ACTIVE_WINDOW_DAYS - 1)],
    )?;
    let groups: i64 = db.value("SELECT COUNT(*) FROM rolled", p![])?;
    db.exec("DELETE FROM daily_stats WHERE day = ?1", p![day])?;
    let history = db.exec(
        "INSERT INTO daily_stats (group_id, day, messages, active_members) \
         SELECT group_id, CAST(?1 AS BIGINT), messages, active FROM rolled WHERE messages > 0 OR active > 0",
        p![day],
    )?;
    let mut changed = 0;
    if day == yesterday {
        let ids: Vec<i64> = db.rows(
            "SELECT r.group_id FROM rolled r JOIN groups g ON g.id = r.group_id \
             WHERE g.yesterday_messages != r.messages OR g.active_members != r.active ORDER BY r.group_id",
            p![],
            |r| r.get(0),
        )?;
        changed = ids.len();
        for id in ids {
            db.record_change(id);
        }
        db.exec(
            "UPDATE groups SET yesterday_messages = r.messages, active_members = r.active, stats_day = ?1 \
             FROM rolled r WHERE groups.id = r.group_id",
            p![day],
        )?;
        set_meta(db, "rollup_day", &day.to_string())?;
        set_meta(db, "rollup_at", &super::now_secs().to_string())?;
    }
    db.batch("DROP TABLE rolled")?;
    Ok(RollupSummary { groups: groups as u64, changed: changed as u64, history_rows: history })
}

pub fn set_meta(db: &Db<'_>, key: &str, value: &str) -> DbResult<()> {
    db.exec(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        p![key, value],
    )?;
    Ok(())
}

pub fn meta(db: &Db<'_>, key: &str) -> DbResult<Option<String>> {
    db.opt("SELECT value FROM meta WHERE key = ?1", p![key], |r| r.get(0))
}

/// Every meta entry whose key starts with `prefix` (no `%` or `_` in it), by key.
pub fn meta_with_prefix(db: &Db<'_>, prefix: &str) -> DbResult<Vec<(String, String)>> {
    db.rows("SELECT key, value FROM meta WHERE key LIKE ?1 ORDER BY key", p![format!("{prefix}%")], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// The day the live figures were last rolled up for.
pub fn last_rollup_day(db: &Db<'_>) -> DbResult<Option<i64>> {
    Ok(meta(db, "rollup_day")?.and_then(|s| s.parse().ok()))
}
