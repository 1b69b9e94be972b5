//! The SQL of `groupscout check`: the stored statistics and owner memberships next to
//! their recomputation from members and activity, read set-wise from one snapshot, and
//! the per-group repairs of `check --repair`.

use std::collections::{HashMap, HashSet};

use super::activity::{refresh_stats, ACTIVE_WINDOW_DAYS};
use super::db::{Db, DbResult};
use super::rows::{GROUP_COLUMNS, GROUP_COLUMN_COUNT as N};
use super::GroupRow;
use crate::p;

/// A live group as stored, with what the audit needs beyond its row.
#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub row: GroupRow,
    /// The day the activity figures were computed for.
    pub stats_day: i64,
    /// The role of the owner's membership row, `None` when the owner is not a member.
    pub owner_role: Option<String>,
}

/// The membership statistics of one group, counted from its member rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberTally {
    pub members: i64,
    pub female: i64,
    pub birth_sum: i64,
    pub birth_n: i64,
    /// Member rows with the role `owner`, the owner's own included.
    pub owner_roles: i64,
}

/// The activity statistics of one group for its stats day, counted from the buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityTally {
    pub yesterday_messages: i64,
    pub active_members: i64,
}

/// One live group with its figures recomputed, handed out in id order.
#[derive(Debug, Clone)]
pub struct GroupFacts {
    pub group: StoredGroup,
    pub members: MemberTally,
    pub activity: ActivityTally,
    /// Whether the group has a change newer than `index_seq` (the index may not show it yet).
    pub changed_after_index: bool,
}

/// What else one audit pass saw.
#[derive(Debug, Clone, Default)]
pub struct AuditTail {
    /// The newest change in the snapshot.
    pub max_seq: i64,
    /// Groups with member rows that are dissolved or do not exist, with their row counts.
    pub orphan_members: Vec<(i64, i64)>,
    /// The ids with changes newer than `index_seq` (also for groups that are not live).
    pub changed_after_index: HashSet<i64>,
}

/// Reads every live group with its recomputed statistics from one snapshot (the caller
/// opens it with `Store::snapshot`) and calls `f` for each, in id order. The members are
/// counted in one pass over `members` grouped by group and merged with the groups as they
/// stream; the activity figures are counted per distinct stats day (normally one) into
/// maps, which only hold the groups with activity.
pub fn scan_groups(
    db: &Db<'_>,
    index_seq: i64,
    mut f: impl FnMut(GroupFacts) -> anyhow::Result<()>,
) -> anyhow::Result<AuditTail> {
    let mut tail = AuditTail { max_seq: super::changes::max_seq(db)?, ..AuditTail::default() };
    tail.changed_after_index = db
        .rows("SELECT DISTINCT group_id FROM changes WHERE seq > ?1", p![index_seq], |r| r.get(0))?
        .into_iter()
        .collect();
    let days: Vec<i64> =
        db.rows("SELECT DISTINCT stats_day FROM groups WHERE dissolved_at IS NULL", p![], |r| r.get(0))?;
    let mut activity: HashMap<i64, HashMap<i64, ActivityTally>> = HashMap::new();
    for day in days {
        activity.insert(day, activity_of_day(db, day)?);
    }
    let tallies: Vec<(i64, MemberTally)> = db.rows(
        "SELECT m.group_id, COUNT(*), \
         CAST(COALESCE(SUM(CASE WHEN u.gender = 'female' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(u.birth_year), 0) AS BIGINT), COUNT(u.birth_year), \
         CAST(COALESCE(SUM(CASE WHEN m.role = 'owner' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM members m LEFT JOIN users u ON u.id = m.user_id GROUP BY m.group_id ORDER BY m.group_id",
        p![],
        |r| {
            Ok((
                r.get(0)?,
                MemberTally {
                    members: r.get(1)?,
                    female: r.get(2)?,
                    birth_sum: r.get(3)?,
                    birth_n: r.get(4)?,
                    owner_roles: r.get(5)?,
                },
            ))
        },
    )?;
    let mut next = 0;
    db.each(
        &format!(
            "SELECT {GROUP_COLUMNS}, g.stats_day, \
             (SELECT m.role FROM members m WHERE m.group_id = g.id AND m.user_id = g.owner_id) \
             FROM groups g WHERE g.dissolved_at IS NULL ORDER BY g.id"
        ),
        p![],
        |r| -> anyhow::Result<()> {
            let group = StoredGroup { row: GroupRow::from_row(r)?, stats_day: r.get(N)?, owner_role: r.get(N + 1)? };
            let id = group.row.id;
            // Member rows of groups before this one belong to no live group.
            while next < tallies.len() && tallies[next].0 < id {
                tail.orphan_members.push((tallies[next].0, tallies[next].1.members));
                next += 1;
            }
            let members = match tallies.get(next) {
                Some((g, t)) if *g == id => {
                    next += 1;
                    *t
                }
                _ => MemberTally::default(),
            };
            let activity = activity.get(&group.stats_day).and_then(|m| m.get(&id)).copied().unwrap_or_default();
            let changed_after_index = tail.changed_after_index.contains(&id);
            f(GroupFacts { group, members, activity, changed_after_index })
        },
    )?;
    for (g, t) in &tallies[next..] {
        tail.orphan_members.push((*g, t.members));
    }
    Ok(tail)
}

/// The activity figures of every group with activity for the stats day `day`, exactly as
/// `activity::refresh_stats` and the roll-up define them.
fn activity_of_day(db: &Db<'_>, day: i64) -> DbResult<HashMap<i64, ActivityTally>> {
    let mut out: HashMap<i64, ActivityTally> = HashMap::new();
    for (g, n) in db.rows(
        "SELECT group_id, CAST(SUM(messages) AS BIGINT) FROM activity WHERE day = ?1 GROUP BY group_id",
        p![day],
        |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
    )? {
        out.entry(g).or_default().yesterday_messages = n;
    }
    for (g, n) in db.rows(
        "SELECT a.group_id, COUNT(DISTINCT a.user_id) FROM activity a \
         JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
         WHERE a.day BETWEEN ?1 AND ?2 AND a.messages > 0 GROUP BY a.group_id",
        p![day - (ACTIVE_WINDOW_DAYS - 1), day],
        |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
    )? {
        out.entry(g).or_default().active_members = n;
    }
    Ok(out)
}

/// Mends one group from its rows, whatever was wrong with it, and notes a change so the
/// indexer re-reads it. For a live group: the owner becomes a member with the role
/// `owner` (joined when the group was created) if the owner is a known user, any other
/// member holding the role `owner` becomes a plain member, and every statistic is
/// recomputed (the activity figures for the group's own stats day). For a dissolved or
/// unknown group: its member rows go. Returns whether the group is live.
pub fn repair_group(db: &Db<'_>, group_id: i64) -> DbResult<bool> {
    super::groups::lock(db, group_id)?;
    let stats_day: Option<i64> =
        db.opt("SELECT stats_day FROM groups WHERE id = ?1 AND dissolved_at IS NULL", p![group_id], |r| r.get(0))?;
    let Some(stats_day) = stats_day else {
        db.exec("DELETE FROM members WHERE group_id = ?1", p![group_id])?;
        db.record_change(group_id);
        return Ok(false);
    };
    db.exec(
        "INSERT INTO members (group_id, user_id, role, joined_at) \
         SELECT g.id, g.owner_id, 'owner', g.created_at FROM groups g \
         WHERE g.id = ?1 AND EXISTS (SELECT 1 FROM users u WHERE u.id = g.owner_id) \
         ON CONFLICT (group_id, user_id) DO UPDATE SET role = 'owner' WHERE members.role != 'owner'",
        p![group_id],
    )?;
    db.exec(
        "DELETE FROM join_requests WHERE group_id = ?1 AND user_id = (SELECT owner_id FROM groups WHERE id = ?1)",
        p![group_id],
    )?;
    db.exec(
        "UPDATE members SET role = 'member' WHERE group_id = ?1 AND role = 'owner' \
         AND user_id != (SELECT owner_id FROM groups WHERE id = ?1)",
        p![group_id],
    )?;
    db.exec(
        "UPDATE groups SET member_count = t.n, female_count = t.f, birth_sum = t.s, birth_n = t.b \
         FROM (SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN u.gender = 'female' THEN 1 ELSE 0 END), 0) AS BIGINT) AS f, \
               CAST(COALESCE(SUM(u.birth_year), 0) AS BIGINT) AS s, COUNT(u.birth_year) AS b \
               FROM members m LEFT JOIN users u ON u.id = m.user_id WHERE m.group_id = ?1) AS t \
         WHERE groups.id = ?1",
        p![group_id],
    )?;
    refresh_stats(db, group_id, stats_day)?;
    db.record_change(group_id);
    Ok(true)
}
