//! Groups: their rows, texts and settings, and the reads that list them.

use serde::Serialize;

use super::db::{Db, DbError, DbResult, Kind};
use super::rows::{GROUP_COLUMNS, GROUP_COLUMN_COUNT as N};
use super::GroupRow;
use crate::domain::{Announcement, Category, Description, GroupName, Location};
use crate::p;

/// A group with the text fields only the index and the detail page need.
#[derive(Debug, Clone)]
pub struct GroupText {
    pub row: GroupRow,
    pub description: String,
    pub announcement: String,
}

/// An admin as the detail page lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminEntry {
    pub user_id: i64,
    pub nickname: String,
}

/// Where a group is: the location and what the gazetteer says of it.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub location: Option<Location>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub adcode: i64,
}

/// A new group, validated.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: GroupName,
    pub category: Category,
    pub description: Description,
    pub announcement: Announcement,
    pub location: Option<Location>,
    pub join_approval: bool,
    pub members_can_invite: bool,
    pub discoverable: bool,
}

/// A partial update of a group; `location: Some(None)` removes the location.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    pub name: Option<GroupName>,
    pub category: Option<Category>,
    pub description: Option<Description>,
    pub announcement: Option<Announcement>,
    pub location: Option<Option<Location>>,
    pub join_approval: Option<bool>,
    pub members_can_invite: Option<bool>,
    pub discoverable: Option<bool>,
}

impl GroupPatch {
    /// Whether the patch changes a text the screen reads.
    pub fn touches_texts(&self) -> bool {
        self.name.is_some() || self.description.is_some() || self.announcement.is_some()
    }

    /// Whether the patch touches the owner's settings.
    pub fn touches_settings(&self) -> bool {
        self.join_approval.is_some() || self.members_can_invite.is_some() || self.discoverable.is_some()
    }
}

fn text_from(r: &super::db::Row<'_>) -> DbResult<GroupText> {
    Ok(GroupText { row: GroupRow::from_row(r)?, description: r.get(N)?, announcement: r.get(N + 1)? })
}

/// A live (not dissolved) group.
pub fn live(db: &Db<'_>, group_id: i64) -> DbResult<Option<GroupRow>> {
    db.opt(
        &format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1 AND g.dissolved_at IS NULL"),
        p![group_id],
        GroupRow::from_row,
    )
}

/// A live group, its row held until the transaction ends (PostgreSQL `FOR UPDATE`;
/// SQLite has one writer). Every write that checks a rule against a group's state reads
/// it this way, so two nodes cannot both admit the last member.
pub fn live_locked(db: &Db<'_>, group_id: i64) -> DbResult<Option<GroupRow>> {
    match db.kind() {
        Kind::Sqlite => live(db, group_id),
        Kind::Postgres => db.opt(
            &format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1 AND g.dissolved_at IS NULL FOR UPDATE"),
            p![group_id],
            GroupRow::from_row,
        ),
    }
}

/// Holds a group's row until the transaction ends (see `live_locked`).
pub fn lock(db: &Db<'_>, group_id: i64) -> DbResult<()> {
    if db.kind() == Kind::Postgres {
        db.opt("SELECT 1 FROM groups WHERE id = ?1 FOR UPDATE", p![group_id], |_| Ok(()))?;
    }
    Ok(())
}

/// Whether a group with this id exists (live or dissolved).
pub fn exists(db: &Db<'_>, group_id: i64) -> DbResult<bool> {
    db.value("SELECT EXISTS (SELECT 1 FROM groups WHERE id = ?1)", p![group_id])
}

/// The owner of a live group.
pub fn owner_of(db: &Db<'_>, group_id: i64) -> DbResult<Option<i64>> {
    db.opt("SELECT owner_id FROM groups WHERE id = ?1 AND dissolved_at IS NULL", p![group_id], |r| r.get(0))
}

/// The live groups `owner` owns.
pub fn owned_ids(db: &Db<'_>, owner: i64) -> DbResult<Vec<i64>> {
    db.rows("SELECT id FROM groups WHERE owner_id = ?1 AND dissolved_at IS NULL ORDER BY id", p![owner], |r| r.get(0))
}

/// How many live groups a user owns.
pub fn owned_count(db: &Db<'_>, owner: i64) -> DbResult<i64> {
    db.value("SELECT COUNT(*) FROM groups WHERE owner_id = ?1 AND dissolved_at IS NULL", p![owner])
}

/// How many live groups there are (`discoverable_only`: only those discovery shows).
pub fn count_live(db: &Db<'_>, discoverable_only: bool) -> DbResult<i64> {
    db.value(
        "SELECT COUNT(*) FROM groups WHERE dissolved_at IS NULL AND (?1 = FALSE OR discoverable)",
        p![discoverable_only],
    )
}

/// How many groups were ever stored, dissolved ones included.
pub fn count_all(db: &Db<'_>) -> DbResult<i64> {
    db.value("SELECT COUNT(*) FROM groups", p![])
}

/// Inserts a new group with a fresh id and no members; returns the id.
pub fn insert(db: &Db<'_>, owner: i64, g: &NewGroup, place: &Place, capacity: i64, now: i64) -> DbResult<i64> {
    db.value(
        "INSERT INTO groups (owner_id, name, category, description, announcement, lat, lon, place_name, city, \
         district, adcode, join_approval, members_can_invite, discoverable, capacity, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16) RETURNING id",
        p![
            owner,
            g.name.as_str(),
            g.category.as_str(),
            g.description.as_str(),
            g.announcement.as_str(),
            place.location.as_ref().map(|l| l.lat),
            place.location.as_ref().map(|l| l.lon),
            place.location.as_ref().and_then(|l| l.place_name.clone()),
            place.city.clone(),
            place.district.clone(),
            place.adcode,
            g.join_approval,
            g.members_can_invite,
            g.discoverable,
            capacity,
            now
        ],
    )
}

/// Applies the fields a patch gives (`place` when it moves the group) and notes the change.
pub fn update(db: &Db<'_>, group_id: i64, patch: &GroupPatch, place: Option<&Place>, now: i64) -> DbResult<()> {
    if let Some(v) = &patch.name {
        db.exec("UPDATE groups SET name = ?2 WHERE id = ?1", p![group_id, v.as_str()])?;
    }
    if let Some(v) = &patch.category {
        db.exec("UPDATE groups SET category = ?2 WHERE id = ?1", p![group_id, v.as_str()])?;
    }
    if let Some(v) = &patch.description {
        db.exec("UPDATE groups SET description = ?2 WHERE id = ?1", p![group_id, v.as_str()])?;
    }
    if let Some(v) = &patch.announcement {
        db.exec("UPDATE groups SET announcement = ?2 WHERE id = ?1", p![group_id, v.as_str()])?;
    }
    if let Some(pl) = place {
        db.exec(
            "UPDATE groups SET lat = ?2, lon = ?3, place_name = ?4, city = ?5, district = ?6, adcode = ?7 WHERE id = ?1",
            p![
                group_id,
                pl.location.as_ref().map(|l| l.lat),
                pl.location.as_ref().map(|l| l.lon),
                pl.location.as_ref().and_then(|l| l.place_name.clone()),
                pl.city.clone(),
                pl.district.clone(),
                pl.adcode
            ],
        )?;
    }
    if let Some(v) = patch.join_approval {
        db.exec("UPDATE groups SET join_approval = ?2 WHERE id = ?1", p![group_id, v])?;
    }
    if let Some(v) = patch.members_can_invite {
        db.exec("UPDATE groups SET members_can_invite = ?2 WHERE id = ?1", p![group_id, v])?;
    }
    if let Some(v) = patch.discoverable {
        db.exec("UPDATE groups SET discoverable = ?2 WHERE id = ?1", p![group_id, v])?;
    }
    db.exec("UPDATE groups SET updated_at = ?2 WHERE id = ?1", p![group_id, now])?;
    db.record_change(group_id);
    Ok(())
}

/// Dissolves a group: members and applications go, the quota slot frees.
pub fn dissolve(db: &Db<'_>, group_id: i64, now: i64) -> DbResult<()> {
    db.exec("UPDATE groups SET dissolved_at = ?2, updated_at = ?2 WHERE id = ?1", p![group_id, now])?;
    db.exec("DELETE FROM members WHERE group_id = ?1", p![group_id])?;
    db.exec("DELETE FROM join_requests WHERE group_id = ?1", p![group_id])?;
    db.record_change(group_id);
    Ok(())
}

pub fn group_text(db: &Db<'_>, id: i64) -> DbResult<Option<GroupText>> {
    db.opt(
        &format!(
            "SELECT {GROUP_COLUMNS}, g.description, g.announcement FROM groups g WHERE g.id = ?1 AND g.dissolved_at IS NULL"
        ),
        p![id],
        text_from,
    )
}

/// The most of the database file `for_each_text` maps (SQLite caps it at its own limit).
const MAP_BYTES: u64 = 1 << 40;

/// Calls `f` for every live group with its text, the most active first (index builds:
/// documents in this order let a top-k search that meets many equal text scores stop
/// after the first, most active, ones).
pub fn for_each_text(db: &Db<'_>, mut f: impl FnMut(GroupText) -> anyhow::Result<()>) -> anyhow::Result<()> {
    const ORDER: &str = "ORDER BY g.active_members DESC, g.yesterday_messages DESC, g.member_count DESC, g.id";
    if db.kind() == Kind::Postgres {
        return db.each(
            &format!(
                "SELECT {GROUP_COLUMNS}, g.description, g.announcement FROM groups g WHERE g.dissolved_at IS NULL {ORDER}"
            ),
            p![],
            |r| f(text_from(r)?),
        );
    }
    // SQLite sorts whole rows, texts and all, before it returns the first one: a reindex
    // of 1M groups would wait seconds with nothing to analyse. Sorting the ids alone and
    // reading each row by id streams from the start.
    // The rows by id are scattered over the file: through a memory map each is read where
    // it lies, not copied a page at a time by a system call (7% of a reindex's CPU time at
    // 1M groups). The map is set before the first read of the transaction, which
    // maps the file, and goes with the walk, so a serving process does not keep the
    // database's pages in its memory.
    db.batch(&format!("PRAGMA mmap_size = {MAP_BYTES}"))?;
    let walked = (|| {
        let ids: Vec<i64> =
            db.rows(&format!("SELECT g.id FROM groups g WHERE g.dissolved_at IS NULL {ORDER}"), p![], |r| r.get(0))?;
        let by_id = format!("SELECT {GROUP_COLUMNS}, g.description, g.announcement FROM groups g WHERE g.id = ?1");
        for id in ids {
            if let Some(text) = db.opt(&by_id, p![id], text_from)? {
                f(text)?;
            }
        }
        Ok(())
    })();
    db.batch("PRAGMA mmap_size = 0")?;
    walked
}

/// Calls `f` for every live group row (without text), in id order.
pub fn for_each(db: &Db<'_>, mut f: impl FnMut(GroupRow)) -> DbResult<()> {
    db.each(&format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.dissolved_at IS NULL ORDER BY g.id"), p![], |r| {
        f(GroupRow::from_row(r)?);
        Ok::<(), DbError>(())
    })
}

pub fn admins(db: &Db<'_>, group_id: i64) -> DbResult<Vec<AdminEntry>> {
    db.rows(
        "SELECT m.user_id, COALESCE(u.nickname, '') FROM members m LEFT JOIN users u ON u.id = m.user_id \
         WHERE m.group_id = ?1 AND m.role = 'admin' ORDER BY m.user_id",
        p![group_id],
        |r| Ok(AdminEntry { user_id: r.get(0)?, nickname: r.get(1)? }),
    )
}

/// The live groups a user is in, newest membership first; only listed ones (discoverable,
/// not held by moderation) unless `include_hidden` (the user looking at their own list).
pub fn joined_by(db: &Db<'_>, user_id: i64, include_hidden: bool) -> DbResult<Vec<GroupRow>> {
    db.rows(
        &format!(
            "SELECT {GROUP_COLUMNS} FROM members m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id = ?1 AND g.dissolved_at IS NULL \
             AND (?2 OR (g.discoverable AND g.moderation NOT IN ('held', 'confirmed'))) ORDER BY m.joined_at DESC, g.id"
        ),
        p![user_id, include_hidden],
        GroupRow::from_row,
    )
}
