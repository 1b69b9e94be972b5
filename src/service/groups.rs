//! The group use cases: each one store transaction that checks the product rules
//! (`domain::rules`) against the state it changes.

use crate::domain::rules::{self, JoinOutcome, Role, Viewer};
use crate::domain::{Announcement, Location};
use crate::error::{ApiError, ApiResult, Code};
use crate::store::groups::{self, GroupPatch, NewGroup, Place};
use crate::store::{activity, members, moderation, now_secs, users, Db, GroupRow, Store};

/// The city and district of a location, from the gazetteer.
pub fn place_of(store: &Store, location: Option<&Location>) -> Place {
    match location {
        Some(l) => {
            let found = store.ctx.gazetteer.locate(l.lat, l.lon);
            Place { location: Some(l.clone()), city: found.city, district: found.district, adcode: found.adcode as i64 }
        }
        None => Place::default(),
    }
}

/// Outsiders cannot see a group that is not listed (not discoverable, or held by
/// moderation); it answers 404 to them. Members still see and use it.
pub fn require_visible(group: &GroupRow, viewer: Viewer) -> ApiResult<()> {
    if !group.listed() && viewer.role().is_none() {
        return Err(ApiError::not_found("group"));
    }
    Ok(())
}

/// The live group, held for this transaction, and how `actor` relates to it; 404 when
/// the actor may not see it.
pub(crate) fn group_for(db: &Db<'_>, group_id: i64, actor: i64) -> ApiResult<(GroupRow, Viewer)> {
    let group = groups::live_locked(db, group_id)?.ok_or_else(|| ApiError::not_found("group"))?;
    let viewer = members::viewer_of(db, group_id, actor)?;
    require_visible(&group, viewer)?;
    Ok((group, viewer))
}

/// Adds a member, moves the statistics and notes the change.
fn admit(db: &Db<'_>, store: &Store, group_id: i64, user_id: i64, role: Role) -> ApiResult<()> {
    let p = users::person_locked(db, user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
    members::insert(db, group_id, user_id, &p, role, now_secs())?;
    activity::refresh_stats(db, group_id, store.yesterday())?;
    db.record_change(group_id);
    Ok(())
}

/// Creates a group owned by `owner`, enforcing the friend and quota rules.
pub fn create(store: &Store, owner: i64, g: &NewGroup) -> ApiResult<i64> {
    let place = place_of(store, g.location.as_ref());
    let rules = &store.ctx.rules;
    store.write(|db| {
        let p =
            users::person_locked(db, owner)?.ok_or_else(|| ApiError::forbidden("the caller is not a known user"))?;
        let tier = rules.tier(&p.tier);
        let friends = users::friend_count(db, owner, rules.min_mutual_friends.max(1))?;
        let owned = groups::owned_count(db, owner)?;
        rules::check_create(rules, &tier, friends, owned as u64)?;
        let id = groups::insert(db, owner, g, &place, i64::from(tier.capacity), now_secs())?;
        admit(db, store, id, owner, Role::Owner)?;
        screen(db, store, id, Some(owner))?;
        Ok(id)
    })
}

/// Changes a group's fields (owner or admin) and settings (owner only).
pub fn patch(store: &Store, actor: i64, group_id: i64, patch: &GroupPatch) -> ApiResult<()> {
    let place = patch.location.as_ref().map(|l| place_of(store, l.as_ref()));
    store.write(|db| {
        let (_, viewer) = group_for(db, group_id, actor)?;
        rules::check_manage(viewer)?;
        if patch.touches_settings() {
            rules::check_owner(viewer)?;
        }
        groups::update(db, group_id, patch, place.as_ref(), now_secs())?;
        if patch.touches_texts() {
            screen(db, store, group_id, None)?;
        }
        Ok(())
    })
}

/// How long an owner's confirmed group sends their new groups to review.
const RING_OWNER_SECS: i64 = 30 * 86_400;

/// Screens a group's texts after they changed; a match holds it out of discovery until
/// an admin decides (SPEC §5). A text carrying a handle of a confirmed group is held too,
/// and a group created (`created_by`) by an owner with a group confirmed in the last 30
/// days goes to review (SPEC §7, rings). Never refuses the write.
fn screen(db: &Db<'_>, store: &Store, group_id: i64, created_by: Option<i64>) -> ApiResult<()> {
    let Some(g) = groups::group_text(db, group_id)? else { return Ok(()) };
    let texts = [("name", g.row.name.as_str()), ("description", &g.description), ("announcement", &g.announcement)];
    let mut flag = store.ctx.screen_group(texts[0].1, texts[1].1, texts[2].1);
    let held = flag.as_ref().is_some_and(|f| f.outcome == crate::moderation::Outcome::Held);
    if let (false, Some(screening)) = (held, store.ctx.screen.as_ref()) {
        let handles = moderation::ring_handles(db)?;
        if !handles.is_empty() {
            let found = texts.iter().find_map(|(field, text)| Some((*field, screening.carries(text, &handles)?)));
            if let Some((field, (handle, reason, from))) = found {
                flag = Some(crate::moderation::Flag {
                    field,
                    finding: crate::moderation::Finding {
                        reason: crate::moderation::Reason::parse(reason)
                            .unwrap_or(crate::moderation::Reason::PrivateTrade),
                        evidence: format!("ring: {handle} (group {from})"),
                    },
                    outcome: crate::moderation::Outcome::Held,
                });
            }
        }
    }
    let now = now_secs();
    moderation::texts_changed(db, group_id, flag.as_ref(), now)?;
    if let (None, Some(owner)) = (&flag, created_by) {
        if let Some(confirmed) = moderation::owner_confirmed_since(db, owner, now - RING_OWNER_SECS)? {
            let evidence = format!("owner of a ring: group {confirmed} confirmed");
            moderation::hold_for(db, group_id, "review", "owner", "private_trade", &evidence, now)?;
        }
    }
    Ok(())
}

pub fn set_announcement(store: &Store, actor: i64, group_id: i64, text: &Announcement) -> ApiResult<()> {
    patch(store, actor, group_id, &GroupPatch { announcement: Some(text.clone()), ..GroupPatch::default() })
}

/// Dissolves a group (owner only).
pub fn dissolve(store: &Store, actor: i64, group_id: i64) -> ApiResult<()> {
    store.write(|db| {
        let (_, viewer) = group_for(db, group_id, actor)?;
        rules::check_owner(viewer)?;
        groups::dissolve(db, group_id, now_secs())?;
        Ok(())
    })
}

/// Makes a member an admin, or an admin a plain member again (owner only).
pub fn set_admin(store: &Store, actor: i64, group_id: i64, user_id: i64, admin: bool) -> ApiResult<()> {
    store.write(|db| {
        let (_, viewer) = group_for(db, group_id, actor)?;
        rules::check_owner(viewer)?;
        match members::viewer_of(db, group_id, user_id)? {
            Viewer::Member(Role::Owner) => {
                return Err(ApiError::new(Code::Conflict, "the owner's role cannot change"));
            }
            Viewer::Member(_) => {}
            _ => return Err(ApiError::new(Code::NotAMember, "the user is not a member of this group")),
        }
        members::set_role(db, group_id, user_id, if admin { Role::Admin } else { Role::Member })?;
        db.record_change(group_id);
        Ok(())
    })
}

/// Applies to join: open groups admit at once, approval groups queue the application.
pub fn join(store: &Store, user: i64, group_id: i64, message: &str) -> ApiResult<JoinOutcome> {
    store.write(|db| {
        users::person_locked(db, user)?.ok_or_else(|| ApiError::forbidden("the caller is not a known user"))?;
        let (group, viewer) = group_for(db, group_id, user)?;
        let outcome = rules::decide_join(viewer, group.join_approval, group.member_count, group.capacity)?;
        match outcome {
            JoinOutcome::Joined => admit(db, store, group_id, user, Role::Member)?,
            JoinOutcome::Pending => {
                members::add_request(db, group_id, user, message, now_secs())?;
                db.record_change(group_id);
            }
        }
        Ok(outcome)
    })
}

/// Approves or rejects a pending application (owner or admin).
pub fn decide_request(store: &Store, actor: i64, group_id: i64, user_id: i64, approve: bool) -> ApiResult<()> {
    store.write(|db| {
        let (group, viewer) = group_for(db, group_id, actor)?;
        rules::check_manage(viewer)?;
        if members::viewer_of(db, group_id, user_id)? != Viewer::Pending {
            return Err(ApiError::not_found("pending request"));
        }
        if approve {
            rules::check_room(group.member_count, group.capacity)?;
            admit(db, store, group_id, user_id, Role::Member)?;
        } else {
            members::delete_request(db, group_id, user_id)?;
            db.record_change(group_id);
        }
        Ok(())
    })
}

/// A member invites a mutual-follow friend, who joins at once.
pub fn invite(store: &Store, inviter: i64, group_id: i64, invitee: i64) -> ApiResult<()> {
    store.write(|db| {
        let (group, viewer) = group_for(db, group_id, inviter)?;
        users::person(db, invitee)?.ok_or_else(|| ApiError::invalid("invitee", "no such user"))?;
        let friends = users::are_friends(db, inviter, invitee)?;
        rules::check_invite(viewer, group.members_can_invite, friends)?;
        if let Viewer::Member(_) = members::viewer_of(db, group_id, invitee)? {
            return Err(ApiError::new(Code::AlreadyMember, "the invitee is already a member"));
        }
        rules::check_room(group.member_count, group.capacity)?;
        admit(db, store, group_id, invitee, Role::Member)
    })
}

/// Leaving (the member themself) or removing (owner or admin).
pub fn remove_member(store: &Store, actor: i64, group_id: i64, user_id: i64) -> ApiResult<()> {
    store.write(|db| {
        let (_, viewer) = group_for(db, group_id, actor)?;
        let target = match members::viewer_of(db, group_id, user_id)? {
            Viewer::Member(r) => r,
            _ => return Err(ApiError::not_found("member")),
        };
        rules::check_remove(viewer, actor == user_id, target)?;
        let p = users::person_locked(db, user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
        if !members::delete(db, group_id, user_id, &p)? {
            return Err(ApiError::not_found("member"));
        }
        activity::refresh_stats(db, group_id, store.yesterday())?;
        db.record_change(group_id);
        Ok(())
    })
}
