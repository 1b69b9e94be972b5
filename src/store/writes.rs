//! Every write of the API, each one transaction that enforces the product rules
//! (`domain::rules`), keeps the membership statistics and appends to `changes`.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::activity::refresh_activity_stats;
use super::rows::{UserRow, GROUP_COLUMNS, USER_COLUMNS};
use super::{day_number, now_secs, record_change, GroupRow, Store};
use crate::domain::rules::{self, JoinOutcome, Role, Viewer};
use crate::domain::{Announcement, Category, Description, Gender, GroupName, Location, Nickname};
use crate::error::{ApiError, ApiResult, Code};

/// A user as the main app syncs it.
#[derive(Debug, Clone)]
pub struct UserInput {
    pub nickname: Nickname,
    pub gender: Gender,
    pub birth_year: Option<i32>,
    pub tier: Option<String>,
    pub show_joined_groups: Option<bool>,
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
    /// Whether the patch touches the owner's settings.
    pub fn touches_settings(&self) -> bool {
        self.join_approval.is_some() || self.members_can_invite.is_some() || self.discoverable.is_some()
    }
}

/// A user's membership-relevant attributes.
#[derive(Debug, Clone)]
pub struct Person {
    pub female: bool,
    pub birth_year: Option<i32>,
    pub tier: String,
}

pub fn person(tx: &Connection, user_id: i64) -> rusqlite::Result<Option<Person>> {
    tx.prepare_cached("SELECT gender, birth_year, tier FROM users WHERE id = ?1")?
        .query_row([user_id], |r| {
            Ok(Person { female: r.get::<_, String>(0)? == "female", birth_year: r.get(1)?, tier: r.get(2)? })
        })
        .optional()
}

fn require_person(tx: &Connection, user_id: i64) -> ApiResult<Person> {
    person(tx, user_id)?.ok_or_else(|| ApiError::not_found("user"))
}

/// A live (not dissolved) group.
pub fn live_group(tx: &Connection, group_id: i64) -> rusqlite::Result<Option<GroupRow>> {
    tx.prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1 AND g.dissolved_at IS NULL"))?
        .query_row([group_id], GroupRow::from_row)
        .optional()
}

fn require_group(tx: &Connection, group_id: i64) -> ApiResult<GroupRow> {
    live_group(tx, group_id)?.ok_or_else(|| ApiError::not_found("group"))
}

/// How a user relates to a group.
pub fn viewer_of(conn: &Connection, group_id: i64, user_id: i64) -> rusqlite::Result<Viewer> {
    let role: Option<String> = conn
        .prepare_cached("SELECT role FROM members WHERE group_id = ?1 AND user_id = ?2")?
        .query_row([group_id, user_id], |r| r.get(0))
        .optional()?;
    if let Some(role) = role.as_deref().and_then(Role::parse) {
        return Ok(Viewer::Member(role));
    }
    let pending: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM join_requests WHERE group_id = ?1 AND user_id = ?2)")?
        .query_row([group_id, user_id], |r| r.get(0))?;
    Ok(if pending { Viewer::Pending } else { Viewer::Outsider })
}

/// Outsiders cannot see a group that is not discoverable; it answers 404 to them.
pub fn require_visible(group: &GroupRow, viewer: Viewer) -> ApiResult<()> {
    if !group.discoverable && viewer.role().is_none() {
        return Err(ApiError::not_found("group"));
    }
    Ok(())
}

/// Whether two users follow each other (互关好友).
pub fn are_friends(conn: &Connection, a: i64, b: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM follows f1 JOIN follows f2 ON f2.src = f1.dst AND f2.dst = f1.src \
         WHERE f1.src = ?1 AND f1.dst = ?2)",
    )?
    .query_row([a, b], |r| r.get(0))
}

fn mutual_friend_count(conn: &Connection, user_id: i64, at_most: u32) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM (SELECT 1 FROM follows f1 JOIN follows f2 ON f2.src = f1.dst AND f2.dst = f1.src \
         WHERE f1.src = ?1 LIMIT ?2)",
    )?
    .query_row(params![user_id, at_most], |r| r.get::<_, i64>(0))
    .map(|n| n as u64)
}

/// Adds a member and moves the group's statistics in the same transaction.
pub fn insert_member(
    tx: &Connection,
    group_id: i64,
    user_id: i64,
    role: Role,
    joined_at: i64,
    yesterday: i64,
) -> ApiResult<()> {
    insert_member_row(tx, group_id, user_id, role, joined_at)?;
    refresh_activity_stats(tx, group_id, yesterday)?;
    record_change(tx, group_id)?;
    Ok(())
}

/// The membership row and the membership statistics; the caller refreshes the activity
/// statistics and records the change (the importer does both once per batch).
pub fn insert_member_row(tx: &Connection, group_id: i64, user_id: i64, role: Role, joined_at: i64) -> ApiResult<()> {
    let p = require_person(tx, user_id)?;
    insert_member_of(tx, group_id, user_id, &p, role, joined_at)
}

/// `insert_member_row` for a caller that already holds the user's attributes.
pub fn insert_member_of(
    tx: &Connection,
    group_id: i64,
    user_id: i64,
    p: &Person,
    role: Role,
    joined_at: i64,
) -> ApiResult<()> {
    tx.prepare_cached("INSERT INTO members (group_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![group_id, user_id, role.as_str(), joined_at])?;
    tx.prepare_cached("DELETE FROM join_requests WHERE group_id = ?1 AND user_id = ?2")?
        .execute([group_id, user_id])?;
    tx.prepare_cached(
        "UPDATE groups SET member_count = member_count + 1, female_count = female_count + ?2, \
         birth_sum = birth_sum + ?3, birth_n = birth_n + ?4 WHERE id = ?1",
    )?
    .execute(params![group_id, p.female as i64, p.birth_year.unwrap_or(0), p.birth_year.is_some() as i64])?;
    Ok(())
}

/// Removes a member and moves the group's statistics back.
fn delete_member(tx: &Connection, group_id: i64, user_id: i64, yesterday: i64) -> ApiResult<()> {
    let p = require_person(tx, user_id)?;
    let n =
        tx.prepare_cached("DELETE FROM members WHERE group_id = ?1 AND user_id = ?2")?.execute([group_id, user_id])?;
    if n == 0 {
        return Err(ApiError::not_found("member"));
    }
    tx.prepare_cached(
        "UPDATE groups SET member_count = member_count - 1, female_count = female_count - ?2, \
         birth_sum = birth_sum - ?3, birth_n = birth_n - ?4 WHERE id = ?1",
    )?
    .execute(params![group_id, p.female as i64, p.birth_year.unwrap_or(0), p.birth_year.is_some() as i64])?;
    refresh_activity_stats(tx, group_id, yesterday)?;
    record_change(tx, group_id)?;
    Ok(())
}

/// The city and district of a location, from the gazetteer.
pub fn locality(store: &Store, loc: Option<&Location>) -> (Option<String>, Option<String>, i64) {
    match loc {
        Some(l) => {
            let found = store.ctx.gazetteer.locate(l.lat, l.lon);
            (found.city, found.district, found.adcode as i64)
        }
        None => (None, None, 0),
    }
}

impl Store {
    pub fn yesterday(&self) -> i64 {
        day_number(self.ctx.today()) - 1
    }

    /// Creates or updates a user; a changed gender or birth year moves the statistics of
    /// every group the user is in.
    pub fn upsert_user(&self, id: i64, input: &UserInput) -> ApiResult<UserRow> {
        let tier = input.tier.clone();
        if let Some(t) = &tier {
            if !self.ctx.rules.tiers.contains_key(t) {
                return Err(ApiError::invalid("tier", format!("unknown tier {t:?}")));
            }
        }
        self.write(|tx| {
            upsert_user_tx(tx, id, input, now_secs())?;
            let row = tx
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([id], UserRow::from_row)?;
            Ok(row)
        })
    }

    pub fn set_show_joined_groups(&self, id: i64, show: bool) -> ApiResult<UserRow> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE users SET show_joined_groups = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, show, now_secs()],
            )?;
            if n == 0 {
                return Err(ApiError::not_found("user"));
            }
            Ok(tx.query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), [id], UserRow::from_row)?)
        })
    }

    pub fn set_follow(&self, src: i64, dst: i64, follow: bool) -> ApiResult<()> {
        if src == dst {
            return Err(ApiError::invalid("target", "a user cannot follow themself"));
        }
        self.write(|tx| {
            require_person(tx, src)?;
            require_person(tx, dst)?;
            if follow {
                tx.execute(
                    "INSERT OR IGNORE INTO follows (src, dst, created_at) VALUES (?1, ?2, ?3)",
                    params![src, dst, now_secs()],
                )?;
            } else {
                tx.execute("DELETE FROM follows WHERE src = ?1 AND dst = ?2", [src, dst])?;
            }
            Ok(())
        })
    }

    /// Creates a group owned by `owner`, enforcing the friend and quota rules.
    pub fn create_group(&self, owner: i64, g: &NewGroup) -> ApiResult<i64> {
        let (city, district, adcode) = locality(self, g.location.as_ref());
        let yesterday = self.yesterday();
        self.write(|tx| {
            let p = person(tx, owner)?.ok_or_else(|| ApiError::forbidden("the caller is not a known user"))?;
            let tier = self.ctx.rules.tier(&p.tier);
            let friends = mutual_friend_count(tx, owner, self.ctx.rules.min_mutual_friends.max(1))?;
            let owned: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM groups WHERE owner_id = ?1 AND dissolved_at IS NULL")?
                .query_row([owner], |r| r.get(0))?;
            rules::check_create(&self.ctx.rules, &tier, friends, owned as u64)?;
            let now = now_secs();
            tx.execute(
                "INSERT INTO groups (owner_id, name, category, description, announcement, lat, lon, place_name, city, \
                 district, adcode, join_approval, members_can_invite, discoverable, capacity, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
                params![
                    owner,
                    g.name.as_str(),
                    g.category.as_str(),
                    g.description.as_str(),
                    g.announcement.as_str(),
                    g.location.as_ref().map(|l| l.lat),
                    g.location.as_ref().map(|l| l.lon),
                    g.location.as_ref().and_then(|l| l.place_name.clone()),
                    city,
                    district,
                    adcode,
                    g.join_approval,
                    g.members_can_invite,
                    g.discoverable,
                    tier.capacity,
                    now
                ],
            )?;
            let id = tx.last_insert_rowid();
            insert_member(tx, id, owner, Role::Owner, now, yesterday)?;
            Ok(id)
        })
    }

    /// Changes a group's fields (owner or admin) and settings (owner only).
    pub fn patch_group(&self, actor: i64, group_id: i64, patch: &GroupPatch) -> ApiResult<()> {
        let located = patch.location.as_ref().map(|l| (l.clone(), locality(self, l.as_ref())));
        self.write(|tx| {
            let group = require_group(tx, group_id)?;
            let viewer = viewer_of(tx, group_id, actor)?;
            require_visible(&group, viewer)?;
            rules::check_manage(viewer)?;
            if patch.touches_settings() {
                rules::check_owner(viewer)?;
            }
            let now = now_secs();
            if let Some(v) = &patch.name {
                tx.execute("UPDATE groups SET name = ?2 WHERE id = ?1", params![group_id, v.as_str()])?;
            }
            if let Some(v) = &patch.category {
                tx.execute("UPDATE groups SET category = ?2 WHERE id = ?1", params![group_id, v.as_str()])?;
            }
            if let Some(v) = &patch.description {
                tx.execute("UPDATE groups SET description = ?2 WHERE id = ?1", params![group_id, v.as_str()])?;
            }
            if let Some(v) = &patch.announcement {
                tx.execute("UPDATE groups SET announcement = ?2 WHERE id = ?1", params![group_id, v.as_str()])?;
            }
            if let Some((loc, (city, district, adcode))) = &located {
                tx.execute(
                    "UPDATE groups SET lat = ?2, lon = ?3, place_name = ?4, city = ?5, district = ?6, adcode = ?7 WHERE id = ?1",
                    params![
                        group_id,
                        loc.as_ref().map(|l| l.lat),
                        loc.as_ref().map(|l| l.lon),
                        loc.as_ref().and_then(|l| l.place_name.clone()),
                        city,
                        district,
                        adcode
                    ],
                )?;
            }
            for (col, v) in [
                ("join_approval", patch.join_approval),
                ("members_can_invite", patch.members_can_invite),
                ("discoverable", patch.discoverable),
            ] {
                if let Some(v) = v {
                    tx.execute(&format!("UPDATE groups SET {col} = ?2 WHERE id = ?1"), params![group_id, v])?;
                }
            }
            tx.execute("UPDATE groups SET updated_at = ?2 WHERE id = ?1", params![group_id, now])?;
            record_change(tx, group_id)?;
            Ok(())
        })
    }

    /// Dissolves a group (owner only): members and applications go, the quota slot frees.
    pub fn dissolve_group(&self, actor: i64, group_id: i64) -> ApiResult<()> {
        self.write(|tx| {
            let group = require_group(tx, group_id)?;
            let viewer = viewer_of(tx, group_id, actor)?;
            require_visible(&group, viewer)?;
            rules::check_owner(viewer)?;
            tx.execute(
                "UPDATE groups SET dissolved_at = ?2, updated_at = ?2 WHERE id = ?1",
                params![group_id, now_secs()],
            )?;
            tx.execute("DELETE FROM members WHERE group_id = ?1", [group_id])?;
            tx.execute("DELETE FROM join_requests WHERE group_id = ?1", [group_id])?;
            record_change(tx, group_id)?;
            Ok(())
        })
    }

    /// Makes a member an admin, or an admin a plain member again (owner only).
    pub fn set_admin(&self, actor: i64, group_id: i64, user_id: i64, admin: bool) -> ApiResult<()> {
        self.write(|tx| {
            let group = require_group(tx, group_id)?;
            let viewer = viewer_of(tx, group_id, actor)?;
            require_visible(&group, viewer)?;
            rules::check_owner(viewer)?;
            match viewer_of(tx, group_id, user_id)? {
                Viewer::Member(Role::Owner) => {
                    return Err(ApiError::new(Code::Conflict, "the owner's role cannot change"));
                }
                Viewer::Member(_) => {}
                _ => return Err(ApiError::new(Code::NotAMember, "the user is not a member of this group")),
            }
            let role = if admin { Role::Admin } else { Role::Member };
            tx.execute(
                "UPDATE members SET role = ?3 WHERE group_id = ?1 AND user_id = ?2",
                params![group_id, user_id, role.as_str()],
            )?;
            record_change(tx, group_id)?;
            Ok(())
        })
    }

    pub fn set_announcement(&self, actor: i64, group_id: i64, text: &Announcement) -> ApiResult<()> {
        self.patch_group(actor, group_id, &GroupPatch { announcement: Some(text.clone()), ..GroupPatch::default() })
    }

    /// Applies to join: open groups admit at once, approval groups queue the application.
    pub fn join_group(&self, user: i64, group_id: i64, message: &str) -> ApiResult<JoinOutcome> {
        let yesterday = self.yesterday();
        self.write(|tx| {
            require_person(tx, user).map_err(|_| ApiError::forbidden("the caller is not a known user"))?;
            let group = require_group(tx, group_id)?;
            let viewer = viewer_of(tx, group_id, user)?;
            require_visible(&group, viewer)?;
            let outcome = rules::decide_join(viewer, group.join_approval, group.member_count, group.capacity)?;
            match outcome {
                JoinOutcome::Joined => insert_member(tx, group_id, user, Role::Member, now_secs(), yesterday)?,
                JoinOutcome::Pending => {
                    tx.execute(
                        "INSERT INTO join_requests (group_id, user_id, message, created_at) VALUES (?1, ?2, ?3, ?4)",
                        params![group_id, user, message, now_secs()],
                    )?;
                    record_change(tx, group_id)?;
                }
            }
            Ok(outcome)
        })
    }

    /// Approves or rejects a pending application (owner or admin).
    pub fn decide_request(&self, actor: i64, group_id: i64, user_id: i64, approve: bool) -> ApiResult<()> {
        let yesterday = self.yesterday();
        self.write(|tx| {
            let group = require_group(tx, group_id)?;
            let viewer = viewer_of(tx, group_id, actor)?;
            require_visible(&group, viewer)?;
            rules::check_manage(viewer)?;
            if viewer_of(tx, group_id, user_id)? != Viewer::Pending {
                return Err(ApiError::not_found("pending request"));
            }
            if approve {
                rules::check_room(group.member_count, group.capacity)?;
                insert_member(tx, group_id, user_id, Role::Member, now_secs(), yesterday)?;
            } else {
                tx.execute("DELETE FROM join_requests WHERE group_id = ?1 AND user_id = ?2", [group_id, user_id])?;
                record_change(tx, group_id)?;
            }
            Ok(())
        })
    }

    /// A member invites a mutual-follow friend, who joins at once.
    pub fn invite(&self, inviter: i64, group_id: i64, invitee: i64) -> ApiResult<()> {
        let yesterday = self.yesterday();
        self.write(|tx| {
            let group = require_group(tx, group_id)?;
            let viewer = viewer_of(tx, group_id, inviter)?;
            require_visible(&group, viewer)?;
            require_person(tx, invitee).map_err(|_| ApiError::invalid("invitee", "no such user"))?;
            let friends = are_friends(tx, inviter, invitee)?;
            rules::check_invite(viewer, group.members_can_invite, friends)?;
            if let Viewer::Member(_) = viewer_of(tx, group_id, invitee)? {
                return Err(ApiError::new(Code::AlreadyMember, "the invitee is already a member"));
            }
            rules::check_room(group.member_count, group.capacity)?;
            insert_member(tx, group_id, invitee, Role::Member, now_secs(), yesterday)
        })
    }

    /// Leaving (the member themself) or removing (owner or admin).
    pub fn remove_member(&self, actor: i64, group_id: i64, user_id: i64) -> ApiResult<()> {
        let yesterday = self.yesterday();
        self.write(|tx| {
            let group = require_group(tx, group_id)?;
            let viewer = viewer_of(tx, group_id, actor)?;
            require_visible(&group, viewer)?;
            let target = match viewer_of(tx, group_id, user_id)? {
                Viewer::Member(r) => r,
                _ => return Err(ApiError::not_found("member")),
            };
            rules::check_remove(viewer, actor == user_id, target)?;
            delete_member(tx, group_id, user_id, yesterday)
        })
    }
}

/// Inserts or updates a user inside a transaction; shared by the API and the importer.
pub fn upsert_user_tx(tx: &Transaction<'_>, id: i64, input: &UserInput, now: i64) -> ApiResult<()> {
    let old = person(tx, id)?;
    let tier = input.tier.clone().or_else(|| old.as_ref().map(|p| p.tier.clone())).unwrap_or_else(|| "normal".into());
    tx.prepare_cached(
        "INSERT INTO users (id, nickname, gender, birth_year, tier, show_joined_groups, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, 0), ?7, ?7) \
         ON CONFLICT (id) DO UPDATE SET nickname = excluded.nickname, gender = excluded.gender, \
         birth_year = excluded.birth_year, tier = excluded.tier, \
         show_joined_groups = COALESCE(?6, users.show_joined_groups), updated_at = excluded.updated_at",
    )?
    .execute(params![
        id,
        input.nickname.as_str(),
        input.gender.as_str(),
        input.birth_year,
        tier,
        input.show_joined_groups,
        now
    ])?;
    if let Some(old) = old {
        let new_female = input.gender == Gender::Female;
        if old.female != new_female || old.birth_year != input.birth_year {
            // Move the statistics of every group this user is in from the old values to the new.
            let d_female = new_female as i64 - old.female as i64;
            let d_sum = input.birth_year.unwrap_or(0) as i64 - old.birth_year.unwrap_or(0) as i64;
            let d_n = input.birth_year.is_some() as i64 - old.birth_year.is_some() as i64;
            let groups: Vec<i64> = tx
                .prepare_cached("SELECT group_id FROM members WHERE user_id = ?1")?
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for g in groups {
                tx.prepare_cached(
                    "UPDATE groups SET female_count = female_count + ?2, birth_sum = birth_sum + ?3, birth_n = birth_n + ?4 WHERE id = ?1",
                )?
                .execute(params![g, d_female, d_sum, d_n])?;
                record_change(tx, g)?;
            }
        }
    }
    Ok(())
}
