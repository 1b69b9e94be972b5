//! The import's writes: groups with the ids they are given, and owners seated with them.

use super::db::{Db, DbResult};
use super::groups::Place;
use crate::domain::{Announcement, Category, Description, GroupName};
use crate::p;

/// A group line, validated.
pub struct ImportedGroup<'a> {
    pub id: i64,
    pub owner_id: i64,
    pub name: &'a GroupName,
    pub category: &'a Category,
    pub description: &'a Description,
    pub announcement: &'a Announcement,
    pub place: &'a Place,
    pub join_approval: bool,
    pub members_can_invite: bool,
    pub discoverable: bool,
    pub capacity: i64,
    pub created_at: i64,
}

/// Inserts a group with its own id, or updates every field a group line gives.
pub fn upsert_group(db: &Db<'_>, g: &ImportedGroup<'_>) -> DbResult<()> {
    db.exec(
        "INSERT INTO groups (id, owner_id, name, category, description, announcement, lat, lon, place_name, city, \
         district, adcode, join_approval, members_can_invite, discoverable, capacity, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17) \
         ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id, name = excluded.name, category = excluded.category, \
         description = excluded.description, announcement = excluded.announcement, lat = excluded.lat, lon = excluded.lon, \
         place_name = excluded.place_name, city = excluded.city, district = excluded.district, adcode = excluded.adcode, \
         join_approval = excluded.join_approval, members_can_invite = excluded.members_can_invite, \
         discoverable = excluded.discoverable, created_at = excluded.created_at",
        p![
            g.id,
            g.owner_id,
            g.name.as_str(),
            g.category.as_str(),
            g.description.as_str(),
            g.announcement.as_str(),
            g.place.location.as_ref().map(|l| l.lat),
            g.place.location.as_ref().map(|l| l.lon),
            g.place.location.as_ref().and_then(|l| l.place_name.clone()),
            g.place.city.clone(),
            g.place.district.clone(),
            g.place.adcode,
            g.join_approval,
            g.members_can_invite,
            g.discoverable,
            g.capacity,
            g.created_at
        ],
    )?;
    Ok(())
}
