//! Message activity: daily buckets per (group, day, user), and the two statistics derived
//! from them, `yesterday_messages` and `active_members` (SPEC §1).

use std::collections::BTreeSet;

use rusqlite::{params, Connection};

use super::{day_number, record_change, Store};
use crate::error::{ApiError, ApiResult};

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
pub fn refresh_activity_stats(tx: &Connection, group_id: i64, yesterday: i64) -> rusqlite::Result<()> {
    let messages: i64 = tx
        .prepare_cached("SELECT COALESCE(SUM(messages), 0) FROM activity WHERE group_id = ?1 AND day = ?2")?
        .query_row([group_id, yesterday], |r| r.get(0))?;
    let active: i64 = tx
        .prepare_cached(
            "SELECT COUNT(DISTINCT a.user_id) FROM activity a \
             JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
             WHERE a.group_id = ?1 AND a.day BETWEEN ?2 AND ?3 AND a.messages > 0",
        )?
        .query_row(params![group_id, yesterday - (ACTIVE_WINDOW_DAYS - 1), yesterday], |r| r.get(0))?;
    tx.prepare_cached("UPDATE groups SET yesterday_messages = ?2, active_members = ?3, stats_day = ?4 WHERE id = ?1")?
        .execute(params![group_id, messages, active, yesterday])?;
    Ok(())
}

/// Adds events to their buckets; events whose `event_id` was seen before count once.
/// Returns how many were applied. The caller checks ids beforehand.
pub fn apply_events(tx: &Connection, events: &[ActivityEvent], yesterday: i64) -> rusqlite::Result<usize> {
    let mut touched = BTreeSet::new();
    let mut applied = 0;
    for e in events {
        if let Some(id) = &e.event_id {
            let fresh =
                tx.prepare_cached("INSERT OR IGNORE INTO activity_events (event_id) VALUES (?1)")?.execute([id])?;
            if fresh == 0 {
                continue;
            }
        }
        tx.prepare_cached(
            "INSERT INTO activity (group_id, day, user_id, messages) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (group_id, day, user_id) DO UPDATE SET messages = messages + excluded.messages",
        )?
        .execute(params![e.group_id, e.day, e.user_id, e.messages])?;
        applied += 1;
        // Only the last seven days feed the live statistics; older late events reach the
        // history through `rollup --date`.
        if e.day <= yesterday && e.day > yesterday - ACTIVE_WINDOW_DAYS {
            touched.insert(e.group_id);
        }
    }
    for g in touched {
        refresh_activity_stats(tx, g, yesterday)?;
        record_change(tx, g)?;
    }
    Ok(applied)
}

/// What a roll-up did.
#[derive(Debug, Clone, Copy, Default)]
pub struct RollupSummary {
    pub groups: u64,
    pub changed: u64,
    pub history_rows: u64,
}

impl Store {
    /// Records a batch of events in one transaction; unknown groups or users refuse the
    /// whole batch (nothing is kept), naming the first offending event.
    pub fn record_activity(&self, events: &[ActivityEvent]) -> ApiResult<usize> {
        let yesterday = day_number(self.ctx.today()) - 1;
        self.write(|tx| {
            let mut group_ok = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM groups WHERE id = ?1)")?;
            let mut user_ok = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?;
            for (i, e) in events.iter().enumerate() {
                if !group_ok.query_row([e.group_id], |r| r.get::<_, bool>(0))? {
                    return Err(ApiError::invalid(&format!("events[{i}].group_id"), "no such group"));
                }
                if !user_ok.query_row([e.user_id], |r| r.get::<_, bool>(0))? {
                    return Err(ApiError::invalid(&format!("events[{i}].user_id"), "no such user"));
                }
            }
            Ok(apply_events(tx, events, yesterday)?)
        })
    }

    /// Recomputes the statistics of `day` for every live group: the history row of that day
    /// and, when `day` is yesterday, the live figures on the cards. Idempotent.
    pub fn rollup(&self, day: i64) -> anyhow::Result<RollupSummary> {
        let yesterday = day_number(self.ctx.today()) - 1;
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch("DROP TABLE IF EXISTS temp.rolled; CREATE TEMP TABLE rolled (group_id INTEGER PRIMARY KEY, messages INTEGER NOT NULL, active INTEGER NOT NULL);")?;
        tx.execute(
            "INSERT INTO temp.rolled (group_id, messages, active) \
             SELECT g.id, COALESCE(y.messages, 0), COALESCE(w.active, 0) FROM groups g \
             LEFT JOIN (SELECT group_id, SUM(messages) AS messages FROM activity WHERE day = ?1 GROUP BY group_id) y ON y.group_id = g.id \
             LEFT JOIN (SELECT a.group_id, COUNT(DISTINCT a.user_id) AS active FROM activity a \
                        JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
                        WHERE a.day BETWEEN ?2 AND ?1 AND a.messages > 0 GROUP BY a.group_id) w ON w.group_id = g.id \
             WHERE g.dissolved_at IS NULL",
            params![day, day - (ACTIVE_WINDOW_DAYS - 1)],
        )?;
        let groups: i64 = tx.query_row("SELECT COUNT(*) FROM temp.rolled", [], |r| r.get(0))?;
        tx.execute("DELETE FROM daily_stats WHERE day = ?1", [day])?;
        let history = tx.execute(
            "INSERT INTO daily_stats (group_id, day, messages, active_members) \
             SELECT group_id, ?1, messages, active FROM temp.rolled WHERE messages > 0 OR active > 0",
            [day],
        )?;
        let mut changed = 0;
        if day == yesterday {
            let now = super::now_secs();
            changed = tx.execute(
                "INSERT INTO changes (group_id, at) SELECT r.group_id, ?1 FROM temp.rolled r JOIN groups g ON g.id = r.group_id \
                 WHERE g.yesterday_messages != r.messages OR g.active_members != r.active ORDER BY r.group_id",
                [now],
            )?;
            tx.execute(
                "UPDATE groups SET yesterday_messages = r.messages, active_members = r.active, stats_day = ?1 \
                 FROM temp.rolled r WHERE groups.id = r.group_id",
                [day],
            )?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('rollup_day', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [day.to_string()])?;
        }
        tx.execute_batch("DROP TABLE temp.rolled;")?;
        tx.commit()?;
        Ok(RollupSummary { groups: groups as u64, changed: changed as u64, history_rows: history as u64 })
    }

    /// The day the live figures were last rolled up for.
    pub fn last_rollup_day(&self) -> anyhow::Result<Option<i64>> {
        use rusqlite::OptionalExtension;
        let v: Option<String> =
            self.read(|c| c.query_row("SELECT value FROM meta WHERE key = 'rollup_day'", [], |r| r.get(0)).optional())?;
        Ok(v.and_then(|s| s.parse().ok()))
    }
}
