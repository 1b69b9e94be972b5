//! Memberships and applications. The membership statistics on the group row move in the
//! same transaction as every membership.

use serde::Serialize;

use super::db::{Db, DbResult};
use super::users::Person;
use crate::domain::rules::{Role, Viewer};
use crate::p;

/// A pending application.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestEntry {
    pub user_id: i64,
    pub message: String,
    pub created_at: String,
}

/// A member's role, if they are one.
pub fn role_of(db: &Db<'_>, group_id: i64, user_id: i64) -> DbResult<Option<(String, i64)>> {
    db.opt("SELECT role, joined_at FROM members WHERE group_id = ?1 AND user_id = ?2", p![group_id, user_id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// How a user relates to a group.
pub fn viewer_of(db: &Db<'_>, group_id: i64, user_id: i64) -> DbResult<Viewer> {
    if let Some(role) = role_of(db, group_id, user_id)?.and_then(|(r, _)| Role::parse(&r)) {
        return Ok(Viewer::Member(role));
    }
    let pending: bool = db.value(
        "SELECT EXISTS (SELECT 1 FROM join_requests WHERE group_id = ?1 AND user_id = ?2)",
        p![group_id, user_id],
    )?;
    Ok(if pending { Viewer::Pending } else { Viewer::Outsider })
}

/// Adds a member row (dropping their application) and moves the group's membership
/// statistics. The caller refreshes the activity statistics and notes the change.
pub fn insert(db: &Db<'_>, group_id: i64, user_id: i64, p: &Person, role: Role, joined_at: i64) -> DbResult<()> {
    db.exec(
        "INSERT INTO members (group_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)",
        p![group_id, user_id, role.as_str(), joined_at],
    )?;
    db.exec("DELETE FROM join_requests WHERE group_id = ?1 AND user_id = ?2", p![group_id, user_id])?;
    move_stats(db, group_id, p, 1)
}

/// Removes a member row and moves the statistics back; false if there was none.
pub fn delete(db: &Db<'_>, group_id: i64, user_id: i64, p: &Person) -> DbResult<bool> {
    let n = db.exec("DELETE FROM members WHERE group_id = ?1 AND user_id = ?2", p![group_id, user_id])?;
    if n == 0 {
        return Ok(false);
    }
    move_stats(db, group_id, p, -1)?;
    Ok(true)
}

/// Adds (`sign` 1) or takes away (`sign` -1) one member's share of the statistics.
fn move_stats(db: &Db<'_>, group_id: i64, p: &Person, sign: i64) -> DbResult<()> {
    db.exec(
        "UPDATE groups SET member_count = member_count + ?2, female_count = female_count + ?3, \
         birth_sum = birth_sum + ?4, birth_n = birth_n + ?5 WHERE id = ?1",
        p![
            group_id,
            sign,
            sign * p.female as i64,
            sign * i64::from(p.birth_year.unwrap_or(0)),
            sign * p.birth_year.is_some() as i64
        ],
    )?;
    Ok(())
}

pub fn set_role(db: &Db<'_>, group_id: i64, user_id: i64, role: Role) -> DbResult<()> {
    db.exec("UPDATE members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2", p![group_id, user_id, role.as_str()])?;
    Ok(())
}

pub fn set_role_and_joined(db: &Db<'_>, group_id: i64, user_id: i64, role: Role, joined_at: i64) -> DbResult<()> {
    db.exec(
        "UPDATE members SET role = ?3, joined_at = ?4 WHERE group_id = ?1 AND user_id = ?2",
        p![group_id, user_id, role.as_str(), joined_at],
    )?;
    Ok(())
}

/// Makes every owner of the group other than `owner_id` a plain member.
pub fn demote_other_owners(db: &Db<'_>, group_id: i64, owner_id: i64) -> DbResult<()> {
    db.exec(
        "UPDATE members SET role = 'member' WHERE group_id = ?1 AND role = 'owner' AND user_id <> ?2",
        p![group_id, owner_id],
    )?;
    Ok(())
}

pub fn add_request(db: &Db<'_>, group_id: i64, user_id: i64, message: &str, now: i64) -> DbResult<()> {
    db.exec(
        "INSERT INTO join_requests (group_id, user_id, message, created_at) VALUES (?1, ?2, ?3, ?4)",
        p![group_id, user_id, message, now],
    )?;
    Ok(())
}

pub fn delete_request(db: &Db<'_>, group_id: i64, user_id: i64) -> DbResult<()> {
    db.exec("DELETE FROM join_requests WHERE group_id = ?1 AND user_id = ?2", p![group_id, user_id])?;
    Ok(())
}

pub fn pending_requests(db: &Db<'_>, group_id: i64) -> DbResult<Vec<RequestEntry>> {
    db.rows(
        "SELECT user_id, message, created_at FROM join_requests WHERE group_id = ?1 ORDER BY created_at, user_id",
        p![group_id],
        |r| {
            let at: i64 = r.get(2)?;
            Ok(RequestEntry {
                user_id: r.get(0)?,
                message: r.get(1)?,
                created_at: chrono::DateTime::from_timestamp(at, 0).unwrap_or_default().to_rfc3339(),
            })
        },
    )
}

/// The ids of the groups a user is in or has applied to.
pub fn related_group_ids(db: &Db<'_>, user_id: i64) -> DbResult<Vec<i64>> {
    db.rows(
        "SELECT group_id FROM members WHERE user_id = ?1 UNION SELECT group_id FROM join_requests WHERE user_id = ?1",
        p![user_id],
        |r| r.get(0),
    )
}
