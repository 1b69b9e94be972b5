//! The SQL of `groupscout check`: the stored statistics and owner memberships next to
//! their recomputation from members and activity, read set-wise from one snapshot, and
//! the per-group repairs of `check --repair`.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, Transaction};

use super::activity::{refresh_activity_stats, ACTIVE_WINDOW_DAYS};
use super::rows::GROUP_COLUMNS;
use super::{record_change, GroupRow};

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

/// Reads every live group with its recomputed statistics from one read transaction and
/// calls `f` for each, in id order. The members are counted in one pass over `members`
/// grouped by group (its primary key order) and merged with the groups as both stream;
/// the activity figures are counted per distinct stats day (normally one) into maps,
/// which only hold the groups with activity.
pub fn scan_groups(
    conn: &Connection,
    index_seq: i64,
    mut f: impl FnMut(GroupFacts) -> anyhow::Result<()>,
) -> anyhow::Result<AuditTail> {
    conn.execute_batch("BEGIN")?;
    let out = scan_in_snapshot(conn, index_seq, &mut f);
    conn.execute_batch("COMMIT")?;
    out
}

fn scan_in_snapshot(
    conn: &Connection,
    index_seq: i64,
    f: &mut dyn FnMut(GroupFacts) -> anyhow::Result<()>,
) -> anyhow::Result<AuditTail> {
    let mut tail = AuditTail {
        max_seq: conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| r.get(0))?,
        ..AuditTail::default()
    };
    tail.changed_after_index = conn
        .prepare("SELECT DISTINCT group_id FROM changes WHERE seq > ?1")?
        .query_map([index_seq], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let days: Vec<i64> = conn
        .prepare("SELECT DISTINCT stats_day FROM groups WHERE dissolved_at IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut activity: HashMap<i64, HashMap<i64, ActivityTally>> = HashMap::new();
    for day in days {
        activity.insert(day, activity_of_day(conn, day)?);
    }

    let mut groups = conn.prepare(&format!(
        "SELECT {GROUP_COLUMNS}, g.stats_day, \
         (SELECT m.role FROM members m WHERE m.group_id = g.id AND m.user_id = g.owner_id) \
         FROM groups g WHERE g.dissolved_at IS NULL ORDER BY g.id"
    ))?;
    let mut tallies = conn.prepare(
        "SELECT m.group_id, COUNT(*), COALESCE(SUM(u.gender = 'female'), 0), COALESCE(SUM(u.birth_year), 0), \
         COUNT(u.birth_year), COALESCE(SUM(m.role = 'owner'), 0) \
         FROM members m LEFT JOIN users u ON u.id = m.user_id GROUP BY m.group_id ORDER BY m.group_id",
    )?;
    let mut group_rows = groups.query([])?;
    let mut tally_rows = tallies.query([])?;
    let next_tally = |rows: &mut rusqlite::Rows<'_>| -> rusqlite::Result<Option<(i64, MemberTally)>> {
        Ok(match rows.next()? {
            Some(r) => Some((
                r.get(0)?,
                MemberTally {
                    members: r.get(1)?,
                    female: r.get(2)?,
                    birth_sum: r.get(3)?,
                    birth_n: r.get(4)?,
                    owner_roles: r.get(5)?,
                },
            )),
            None => None,
        })
    };
    let mut tally = next_tally(&mut tally_rows)?;
    while let Some(r) = group_rows.next()? {
        let group = StoredGroup { row: GroupRow::from_row(r)?, stats_day: r.get(21)?, owner_role: r.get(22)? };
        let id = group.row.id;
        // Member rows of groups before this one belong to no live group.
        while let Some((g, t)) = tally.filter(|(g, _)| *g < id) {
            tail.orphan_members.push((g, t.members));
            tally = next_tally(&mut tally_rows)?;
        }
        let members = match tally {
            Some((g, t)) if g == id => {
                tally = next_tally(&mut tally_rows)?;
                t
            }
            _ => MemberTally::default(),
        };
        let activity = activity.get(&group.stats_day).and_then(|m| m.get(&id)).copied().unwrap_or_default();
        let changed_after_index = tail.changed_after_index.contains(&id);
        f(GroupFacts { group, members, activity, changed_after_index })?;
    }
    while let Some((g, t)) = tally {
        tail.orphan_members.push((g, t.members));
        tally = next_tally(&mut tally_rows)?;
    }
    Ok(tail)
}

/// The activity figures of every group with activity for the stats day `day`, exactly as
/// `refresh_activity_stats` and the roll-up define them.
fn activity_of_day(conn: &Connection, day: i64) -> rusqlite::Result<HashMap<i64, ActivityTally>> {
    let mut out: HashMap<i64, ActivityTally> = HashMap::new();
    let mut stmt = conn.prepare("SELECT group_id, SUM(messages) FROM activity WHERE day = ?1 GROUP BY group_id")?;
    let mut rows = stmt.query([day])?;
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?).or_default().yesterday_messages = r.get(1)?;
    }
    let mut stmt = conn.prepare(
        "SELECT a.group_id, COUNT(DISTINCT a.user_id) FROM activity a \
         JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
         WHERE a.day BETWEEN ?1 AND ?2 AND a.messages > 0 GROUP BY a.group_id",
    )?;
    let mut rows = stmt.query(params![day - (ACTIVE_WINDOW_DAYS - 1), day])?;
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?).or_default().active_members = r.get(1)?;
    }
    Ok(out)
}

/// Mends one group from its rows, whatever was wrong with it, and records a change so the
/// indexer re-reads it. For a live group: the owner becomes a member with the role
/// `owner` (joined when the group was created) if the owner is a known user, any other
/// member holding the role `owner` becomes a plain member, and every statistic is
/// recomputed (the activity figures for the group's own stats day). For a dissolved or
/// unknown group: its member rows go. Returns whether the group is live.
pub fn repair_group(tx: &Transaction<'_>, group_id: i64) -> rusqlite::Result<bool> {
    let stats_day: Option<i64> = {
        use rusqlite::OptionalExtension;
        tx.prepare_cached("SELECT stats_day FROM groups WHERE id = ?1 AND dissolved_at IS NULL")?
            .query_row([group_id], |r| r.get(0))
            .optional()?
    };
    let Some(stats_day) = stats_day else {
        tx.prepare_cached("DELETE FROM members WHERE group_id = ?1")?.execute([group_id])?;
        record_change(tx, group_id)?;
        return Ok(false);
    };
    tx.prepare_cached(
        "INSERT INTO members (group_id, user_id, role, joined_at) \
         SELECT g.id, g.owner_id, 'owner', g.created_at FROM groups g \
         WHERE g.id = ?1 AND EXISTS (SELECT 1 FROM users u WHERE u.id = g.owner_id) \
         ON CONFLICT (group_id, user_id) DO UPDATE SET role = 'owner' WHERE role != 'owner'",
    )?
    .execute([group_id])?;
    tx.prepare_cached(
        "DELETE FROM join_requests WHERE group_id = ?1 AND user_id = (SELECT owner_id FROM groups WHERE id = ?1)",
    )?
    .execute([group_id])?;
    tx.prepare_cached(
        "UPDATE members SET role = 'member' WHERE group_id = ?1 AND role = 'owner' \
         AND user_id != (SELECT owner_id FROM groups WHERE id = ?1)",
    )?
    .execute([group_id])?;
    tx.prepare_cached(
        "UPDATE groups SET member_count = t.n, female_count = t.f, birth_sum = t.s, birth_n = t.b \
         FROM (SELECT COUNT(*) AS n, COALESCE(SUM(u.gender = 'female'), 0) AS f, COALESCE(SUM(u.birth_year), 0) AS s, \
               COUNT(u.birth_year) AS b \
               FROM members m LEFT JOIN users u ON u.id = m.user_id WHERE m.group_id = ?1) AS t \
         WHERE groups.id = ?1",
    )?
    .execute([group_id])?;
    refresh_activity_stats(tx, group_id, stats_day)?;
    record_change(tx, group_id)?;
    Ok(true)
}
