//! Moderation (SPEC §5, §7): a group's status (`clear`, `review`, `held`, `released`,
//! `confirmed`) on its
//! row, for discovery to filter on; the finding behind it in `moderation`; every decision
//! in `moderation_log`.

use serde::Serialize;

use super::db::{Db, DbResult};
use crate::moderation::Flag;
use crate::p;

/// A group under review, as the admin list shows it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Item {
    pub group_id: i64,
    pub status: String,
    pub field: String,
    pub reason: String,
    pub evidence: String,
    pub at: String,
    /// The open reports of people (how many, and their reasons; never who).
    pub reports: Reports,
    #[serde(skip)]
    #[schema(ignore)]
    pub at_secs: i64,
}

const ITEM_COLUMNS: &str = "group_id, status, field, reason, evidence, at";

fn item(r: &super::db::Row<'_>) -> DbResult<Item> {
    let at: i64 = r.get(5)?;
    Ok(Item {
        group_id: r.get(0)?,
        status: r.get(1)?,
        field: r.get(2)?,
        reason: r.get(3)?,
        evidence: r.get(4)?,
        at: chrono::DateTime::from_timestamp(at, 0).unwrap_or_default().to_rfc3339(),
        reports: Reports::default(),
        at_secs: at,
    })
}

/// The group's moderation item, if it was ever flagged and not cleared since, with its
/// open reports.
pub fn get(db: &Db<'_>, group_id: i64) -> DbResult<Option<Item>> {
    current(db, group_id)?.map(|i| with_reports(db, i)).transpose()
}

/// The item alone, for the decisions made here (its reports are not read).
fn current(db: &Db<'_>, group_id: i64) -> DbResult<Option<Item>> {
    db.opt(&format!("SELECT {ITEM_COLUMNS} FROM moderation WHERE group_id = ?1"), p![group_id], item)
}

/// Writes the group's item and status, and logs who decided (`by`).
#[allow(clippy::too_many_arguments)]
fn put_item(
    db: &Db<'_>,
    group_id: i64,
    status: &str,
    field: &str,
    reason: &str,
    evidence: &str,
    by: &str,
    now: i64,
) -> DbResult<()> {
    db.exec(
        "INSERT INTO moderation (group_id, status, field, reason, evidence, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (group_id) DO UPDATE SET status = excluded.status, field = excluded.field, \
         reason = excluded.reason, evidence = excluded.evidence, at = excluded.at",
        p![group_id, status, field, reason, evidence, now],
    )?;
    log(db, group_id, status, by, now)?;
    set_status(db, group_id, status)
}

fn with_reports(db: &Db<'_>, mut i: Item) -> DbResult<Item> {
    i.reports = open_reports(db, i.group_id)?;
    Ok(i)
}

fn set_status(db: &Db<'_>, group_id: i64, status: &str) -> DbResult<()> {
    db.exec("UPDATE groups SET moderation = ?2 WHERE id = ?1 AND moderation <> ?2", p![group_id, status])?;
    Ok(())
}

fn log(db: &Db<'_>, group_id: i64, status: &str, by: &str, now: i64) -> DbResult<()> {
    db.exec(
        "INSERT INTO moderation_log (group_id, status, decided_by, field, reason, evidence, at) \
         SELECT group_id, ?2, ?3, field, reason, evidence, CAST(?4 AS BIGINT) FROM moderation WHERE group_id = ?1",
        p![group_id, status, by, now],
    )?;
    Ok(())
}

/// After a group's texts changed: the screen's verdict on the new texts decides afresh (a
/// released group is held again if it still matches). Notes the group as changed when its
/// status moves.
pub fn texts_changed(db: &Db<'_>, group_id: i64, flag: Option<&Flag>, now: i64) -> DbResult<()> {
    // What people's reports or a ring put in review or held is not undone by new texts, nor
    // eased by a milder verdict of the screen: an admin decides it.
    let existing = current(db, group_id)?;
    if let Some(item) = existing.as_ref().filter(|i| {
        matches!(i.field.as_str(), "reports" | "ring" | "owner") && matches!(i.status.as_str(), "review" | "held")
    }) {
        let milder = flag.is_none_or(|f| item.status == "held" && f.outcome.status() == "review");
        if milder {
            return Ok(());
        }
    }
    match flag {
        Some(f) => {
            let (reason, evidence) = (f.finding.reason.as_str(), f.finding.evidence.as_str());
            put_item(db, group_id, f.outcome.status(), f.field, reason, evidence, "screen", now)?;
        }
        None => {
            if existing.is_some() {
                log(db, group_id, "clear", "screen", now)?;
                db.exec("DELETE FROM moderation WHERE group_id = ?1", p![group_id])?;
            }
            set_status(db, group_id, "clear")?;
        }
    }
    db.record_change(group_id);
    Ok(())
}

/// After the lists or the model changed (`rescreen`), texts unchanged: a clear group that
/// now matches is held or listed for review, one the screen held or listed that no longer
/// matches is clear, and one whose outcome moved (review to held, say) takes the new one;
/// an admin's decision (released, confirmed) stands. Returns whether the status moved.
pub fn rescreened(db: &Db<'_>, group_id: i64, flag: Option<&Flag>, now: i64) -> DbResult<bool> {
    let item = current(db, group_id)?;
    let status = item.as_ref().map(|i| i.status.as_str());
    match (status, flag) {
        (None, Some(_)) | (Some("held" | "review"), None) => {
            texts_changed(db, group_id, flag, now)?;
            Ok(true)
        }
        (Some(s @ ("held" | "review")), Some(f)) if s != f.outcome.status() => {
            texts_changed(db, group_id, flag, now)?;
            Ok(true)
        }
        (Some("held" | "review"), Some(f)) if item.as_ref().is_some_and(|i| i.evidence != f.finding.evidence) => {
            // Still held (or listed), for what the new screen found.
            texts_changed(db, group_id, flag, now)?;
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// An admin's decision on a group under review: `released` or `confirmed`. `None` when
/// the group has no moderation item.
pub fn decide(db: &Db<'_>, group_id: i64, status: &str, by: &str, now: i64) -> DbResult<Option<Item>> {
    let n = db.exec("UPDATE moderation SET status = ?2, at = ?3 WHERE group_id = ?1", p![group_id, status, now])?;
    if n == 0 {
        return Ok(None);
    }
    // A decision answers the reports made so far.
    db.exec("UPDATE reports SET closed_at = ?2 WHERE group_id = ?1 AND closed_at IS NULL", p![group_id, now])?;
    log(db, group_id, status, by, now)?;
    set_status(db, group_id, status)?;
    db.record_change(group_id);
    get(db, group_id)
}

/// A page of the items with `status`, oldest first, after the item (at, group_id)
/// `after`; and how many there are in all.
pub fn list(db: &Db<'_>, status: &str, after: Option<(i64, i64)>, limit: usize) -> DbResult<(i64, Vec<Item>)> {
    let total = db.value("SELECT COUNT(*) FROM moderation WHERE status = ?1", p![status])?;
    let (at, id) = after.unwrap_or((i64::MIN, i64::MIN));
    let items = db.rows(
        &format!(
            "SELECT {ITEM_COLUMNS} FROM moderation WHERE status = ?1 AND (at > ?2 OR (at = ?2 AND group_id > ?3)) \
             ORDER BY at, group_id LIMIT ?4"
        ),
        p![status, at, id, limit as i64],
        item,
    )?;
    let items = items.into_iter().map(|i| with_reports(db, i)).collect::<DbResult<Vec<_>>>()?;
    Ok((total, items))
}

/// Every decision on a group, oldest first: (status, decided_by, at).
pub fn history(db: &Db<'_>, group_id: i64) -> DbResult<Vec<(String, String, i64)>> {
    db.rows("SELECT status, decided_by, at FROM moderation_log WHERE group_id = ?1 ORDER BY id", p![group_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// People's reports of one group that no admin decision has closed yet: how many people,
/// and how many gave each reason. Never who.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Reports {
    pub count: i64,
    /// Reason → how many open reports gave it.
    pub reasons: std::collections::BTreeMap<String, i64>,
}

/// Files `reporter`'s report of a group: true when it is new (or a closed one reopened),
/// false when the person's report is open already (a repeat counts once).
pub fn report(db: &Db<'_>, group_id: i64, reporter: i64, reason: &str, note: &str, now: i64) -> DbResult<bool> {
    let n = db.exec(
        "INSERT INTO reports (group_id, reporter_id, reason, note, at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (group_id, reporter_id) DO UPDATE SET reason = excluded.reason, note = excluded.note, \
         at = excluded.at, closed_at = NULL WHERE reports.closed_at IS NOT NULL",
        p![group_id, reporter, reason, note, now],
    )?;
    Ok(n > 0)
}

/// How many reports `reporter` filed since `since` (for the rate limit).
pub fn reports_since(db: &Db<'_>, reporter: i64, since: i64) -> DbResult<i64> {
    db.value("SELECT COUNT(*) FROM reports WHERE reporter_id = ?1 AND at >= ?2", p![reporter, since])
}

/// The open reports of a group.
pub fn open_reports(db: &Db<'_>, group_id: i64) -> DbResult<Reports> {
    let rows: Vec<(String, i64)> = db.rows(
        "SELECT reason, COUNT(*) FROM reports WHERE group_id = ?1 AND closed_at IS NULL GROUP BY reason ORDER BY reason",
        p![group_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Reports { count: rows.iter().map(|r| r.1).sum(), reasons: rows.into_iter().collect() })
}

/// Moves a group to `status` (`review` or `held`) for its reports, unless an admin's
/// confirmation holds it already. The item names the reason most reports gave.
pub fn reported(db: &Db<'_>, group_id: i64, status: &str, reports: &Reports, now: i64) -> DbResult<bool> {
    let reason =
        reports.reasons.iter().max_by_key(|(r, n)| (**n, std::cmp::Reverse((*r).clone()))).map_or("other", |(r, _)| r);
    let evidence = format!(
        "reports: {} ({})",
        reports.count,
        reports.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ")
    );
    hold_for(db, group_id, status, "reports", reason, &evidence, now)
}

/// Moves a group to `status` (`review` or `held`) for what `field` (`reports`, `ring`,
/// `owner`) found, unless it is held already or an admin confirmed it; a released group
/// moves too (this is new evidence). Returns whether it moved.
pub fn hold_for(
    db: &Db<'_>,
    group_id: i64,
    status: &str,
    field: &str,
    reason: &str,
    evidence: &str,
    now: i64,
) -> DbResult<bool> {
    let moves = match current(db, group_id)?.as_ref().map(|i| i.status.as_str()) {
        None | Some("released") => true,
        Some("review") => status == "held",
        _ => false,
    };
    if !moves {
        return Ok(false);
    }
    put_item(db, group_id, status, field, reason, evidence, field, now)?;
    db.record_change(group_id);
    Ok(true)
}

/// Keeps the handles found in a confirmed group.
pub fn add_ring_handles(
    db: &Db<'_>,
    group_id: i64,
    handles: &[(crate::moderation::Reason, String)],
    now: i64,
) -> DbResult<()> {
    for (reason, handle) in handles {
        db.exec(
            "INSERT INTO ring_handles (handle, reason, group_id, at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (handle) DO NOTHING",
            p![handle.as_str(), reason.as_str(), group_id, now],
        )?;
    }
    Ok(())
}

/// Every kept handle: (handle, reason, the confirmed group it came from).
pub fn ring_handles(db: &Db<'_>) -> DbResult<Vec<(String, String, i64)>> {
    db.rows("SELECT handle, reason, group_id FROM ring_handles ORDER BY handle", p![], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// Live groups other than `except` whose texts, lower-cased, hold `handle` as written:
/// (id, owner). (A disguised copy is found when its texts next change, by the screen.)
pub fn groups_carrying(db: &Db<'_>, handle: &str, except: i64) -> DbResult<Vec<(i64, i64)>> {
    let escaped = handle.replace('!', "!!").replace('%', "!%").replace('_', "!_");
    let pattern = format!("%{escaped}%");
    db.rows(
        "SELECT id, owner_id FROM groups WHERE dissolved_at IS NULL AND id <> ?2 AND \
         (LOWER(name) LIKE ?1 ESCAPE '!' OR LOWER(description) LIKE ?1 ESCAPE '!' \
         OR LOWER(announcement) LIKE ?1 ESCAPE '!') ORDER BY id",
        p![pattern.as_str(), except],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// A group of `owner`'s that an admin confirmed since `since`, if any.
pub fn owner_confirmed_since(db: &Db<'_>, owner: i64, since: i64) -> DbResult<Option<i64>> {
    db.opt(
        "SELECT l.group_id FROM moderation_log l JOIN groups g ON g.id = l.group_id \
         WHERE g.owner_id = ?1 AND l.status = 'confirmed' AND l.decided_by = 'admin' AND l.at >= ?2 \
         ORDER BY l.id DESC LIMIT 1",
        p![owner, since],
        |r| r.get(0),
    )
}

/// An admin's last decision on a group, with the group's texts (for `moderation export`).
#[derive(Debug, Clone)]
pub struct Decision {
    pub group_id: i64,
    /// `confirmed` or `released`.
    pub status: String,
    pub field: String,
    pub reason: String,
    pub name: String,
    pub description: String,
    pub announcement: String,
}

/// Every group's last decision by an admin, in group order.
pub fn decisions(db: &Db<'_>) -> DbResult<Vec<Decision>> {
    db.rows(
        "SELECT l.group_id, l.status, l.field, l.reason, g.name, g.description, g.announcement \
         FROM moderation_log l JOIN groups g ON g.id = l.group_id \
         WHERE l.decided_by = 'admin' AND l.id = (SELECT MAX(x.id) FROM moderation_log x \
         WHERE x.group_id = l.group_id AND x.decided_by = 'admin') ORDER BY l.group_id",
        p![],
        |r| {
            Ok(Decision {
                group_id: r.get(0)?,
                status: r.get(1)?,
                field: r.get(2)?,
                reason: r.get(3)?,
                name: r.get(4)?,
                description: r.get(5)?,
                announcement: r.get(6)?,
            })
        },
    )
}
