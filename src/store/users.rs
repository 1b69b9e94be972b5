//! Users and follows. A changed gender or birth year moves the statistics of every group
//! the user is in, in the same transaction.

use super::db::{Db, DbResult, Kind};
use super::rows::{UserRow, USER_COLUMNS};
use crate::domain::{Gender, Nickname};
use crate::p;

/// Mutual follows (互关好友): `f1.src` and `f1.dst` follow each other.
macro_rules! mutual {
    () => {
        "follows f1 JOIN follows f2 ON f2.src = f1.dst AND f2.dst = f1.src"
    };
}

/// A user as the main app syncs it.
#[derive(Debug, Clone)]
pub struct UserInput {
    pub nickname: Nickname,
    pub gender: Gender,
    pub birth_year: Option<i32>,
    pub tier: Option<String>,
    pub show_joined_groups: Option<bool>,
}

/// A user's membership-relevant attributes.
#[derive(Debug, Clone)]
pub struct Person {
    pub female: bool,
    pub birth_year: Option<i32>,
    pub tier: String,
}

fn person_from(r: &super::db::Row<'_>) -> DbResult<Person> {
    Ok(Person {
        female: r.get::<String>(0)? == "female",
        birth_year: r.get::<Option<i64>>(1)?.map(|y| y as i32),
        tier: r.get(2)?,
    })
}

pub fn person(db: &Db<'_>, user_id: i64) -> DbResult<Option<Person>> {
    db.opt("SELECT gender, birth_year, tier FROM users WHERE id = ?1", p![user_id], person_from)
}

/// `person`, holding the row against a concurrent change of gender or birth year until
/// the transaction ends (PostgreSQL `FOR SHARE`; SQLite has one writer), so statistics
/// moved with a membership use the values that stay.
pub fn person_locked(db: &Db<'_>, user_id: i64) -> DbResult<Option<Person>> {
    match db.kind() {
        Kind::Sqlite => person(db, user_id),
        Kind::Postgres => {
            db.opt("SELECT gender, birth_year, tier FROM users WHERE id = ?1 FOR SHARE", p![user_id], person_from)
        }
    }
}

pub fn user(db: &Db<'_>, id: i64) -> DbResult<Option<UserRow>> {
    db.opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), p![id], UserRow::from_row)
}

/// Inserts or updates a user. A changed gender or birth
/// year moves the statistics of every group the user is in (each noted as changed).
pub fn upsert(db: &Db<'_>, id: i64, input: &UserInput, now: i64) -> DbResult<()> {
    let old = match db.kind() {
        Kind::Sqlite => person(db, id)?,
        Kind::Postgres => {
            db.opt("SELECT gender, birth_year, tier FROM users WHERE id = ?1 FOR UPDATE", p![id], person_from)?
        }
    };
    let tier = input.tier.clone().or_else(|| old.as_ref().map(|p| p.tier.clone())).unwrap_or_else(|| "normal".into());
    db.exec(
        "INSERT INTO users (id, nickname, gender, birth_year, tier, show_joined_groups, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, FALSE), ?7, ?7) \
         ON CONFLICT (id) DO UPDATE SET nickname = excluded.nickname, gender = excluded.gender, \
         birth_year = excluded.birth_year, tier = excluded.tier, \
         show_joined_groups = COALESCE(?6, users.show_joined_groups), updated_at = excluded.updated_at",
        p![
            id,
            input.nickname.as_str(),
            input.gender.as_str(),
            input.birth_year.map(i64::from),
            tier,
            input.show_joined_groups,
            now
        ],
    )?;
    if let Some(old) = old {
        let new_female = input.gender == Gender::Female;
        if old.female != new_female || old.birth_year != input.birth_year {
            // Move the statistics of every group this user is in from the old values to the new.
            let d_female = new_female as i64 - old.female as i64;
            let d_sum = input.birth_year.unwrap_or(0) as i64 - old.birth_year.unwrap_or(0) as i64;
            let d_n = input.birth_year.is_some() as i64 - old.birth_year.is_some() as i64;
            let groups: Vec<i64> =
                db.rows("SELECT group_id FROM members WHERE user_id = ?1 ORDER BY group_id", p![id], |r| r.get(0))?;
            for g in groups {
                db.exec(
                    "UPDATE groups SET female_count = female_count + ?2, birth_sum = birth_sum + ?3, \
                     birth_n = birth_n + ?4 WHERE id = ?1",
                    p![g, d_female, d_sum, d_n],
                )?;
                db.record_change(g);
            }
        }
    }
    Ok(())
}

/// Sets whether others see the user's joined groups; `None` when there is no such user.
pub fn set_show_joined_groups(db: &Db<'_>, id: i64, show: bool, now: i64) -> DbResult<Option<UserRow>> {
    let n = db.exec("UPDATE users SET show_joined_groups = ?2, updated_at = ?3 WHERE id = ?1", p![id, show, now])?;
    if n == 0 {
        return Ok(None);
    }
    user(db, id)
}

pub fn follow(db: &Db<'_>, src: i64, dst: i64, now: i64) -> DbResult<()> {
    db.exec(
        "INSERT INTO follows (src, dst, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        p![src, dst, now],
    )?;
    Ok(())
}

pub fn unfollow(db: &Db<'_>, src: i64, dst: i64) -> DbResult<()> {
    db.exec("DELETE FROM follows WHERE src = ?1 AND dst = ?2", p![src, dst])?;
    Ok(())
}

/// Whether two users follow each other.
pub fn are_friends(db: &Db<'_>, a: i64, b: i64) -> DbResult<bool> {
    db.value(concat!("SELECT EXISTS (SELECT 1 FROM ", mutual!(), " WHERE f1.src = ?1 AND f1.dst = ?2)"), p![a, b])
}

/// How many mutual-follow friends the user has, counting no further than `at_most`.
pub fn friend_count(db: &Db<'_>, user_id: i64, at_most: u32) -> DbResult<u64> {
    db.value::<i64>(
        concat!("SELECT COUNT(*) FROM (SELECT 1 FROM ", mutual!(), " WHERE f1.src = ?1 LIMIT ?2) AS f"),
        p![user_id, i64::from(at_most)],
    )
    .map(|n| n as u64)
}

/// A user's mutual-follow friends.
pub fn friends(db: &Db<'_>, user_id: i64) -> DbResult<Vec<i64>> {
    db.rows(concat!("SELECT f1.dst FROM ", mutual!(), " WHERE f1.src = ?1"), p![user_id], |r| r.get(0))
}

/// How many of the viewer's mutual-follow friends are members of the group.
pub fn friends_in_group(db: &Db<'_>, group_id: i64, viewer: i64) -> DbResult<i64> {
    db.value(
        concat!(
            "SELECT COUNT(*) FROM ",
            mutual!(),
            " JOIN members m ON m.group_id = ?1 AND m.user_id = f1.dst WHERE f1.src = ?2"
        ),
        p![group_id, viewer],
    )
}

/// The groups the user's friends are in, with how many friends each: (group_id, friends).
pub fn friends_groups(db: &Db<'_>, user_id: i64, limit: usize) -> DbResult<Vec<(i64, i64)>> {
    db.rows(
        concat!(
            "SELECT m.group_id, COUNT(*) AS n FROM ",
            mutual!(),
            " JOIN members m ON m.user_id = f1.dst WHERE f1.src = ?1 GROUP BY m.group_id ORDER BY n DESC, m.group_id LIMIT ?2"
        ),
        p![user_id, limit as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// How many users there are, and the highest id.
pub fn max_id(db: &Db<'_>) -> DbResult<i64> {
    db.value("SELECT COALESCE(MAX(id), 0) FROM users", p![])
}
