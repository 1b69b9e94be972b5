//! Review of what the screen held (SPEC §5), for the admin token; and `rescreen`.

use crate::error::{ApiError, ApiResult, Code};
use crate::store::moderation::{self, Item};
use crate::store::{groups, now_secs, Store};

/// The statuses the review list shows.
pub const LISTED: [&str; 4] = ["held", "review", "released", "confirmed"];

/// A page of the review list; the cursor is `at.group_id` of the last item shown.
pub fn list(
    store: &Store,
    status: &str,
    cursor: Option<&str>,
    limit: usize,
) -> ApiResult<(i64, Vec<Item>, Option<String>)> {
    if !LISTED.contains(&status) {
        return Err(ApiError::param("status", "status must be held, review, released or confirmed"));
    }
    let after = match cursor {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
                .ok_or_else(|| ApiError::new(Code::InvalidCursor, "the cursor is not one this list gave"))?,
        ),
    };
    let (total, items) = store.read(|db| moderation::list(db, status, after, limit + 1))?;
    let more = items.len() > limit;
    let items: Vec<Item> = items.into_iter().take(limit).collect();
    let next = if more { items.last().map(|i| format!("{}.{}", i.at_secs, i.group_id)) } else { None };
    Ok((total, items, next))
}

/// Releases (`released`) or confirms (`confirmed`) a group under review. Confirming keeps
/// the handles in its texts: every other group carrying one is held at once, and the
/// owner's other groups are listed for review (SPEC §7, rings).
pub fn decide(store: &Store, group_id: i64, status: &'static str) -> ApiResult<Item> {
    store.write(|db| {
        let now = now_secs();
        let item = moderation::decide(db, group_id, status, "admin", now)?
            .ok_or_else(|| ApiError::not_found("moderation item"))?;
        if status == "confirmed" {
            ring(db, store, &item, now)?;
        }
        Ok(item)
    })
}

/// What confirming `item`'s group does to its ring.
fn ring(db: &crate::store::db::Db<'_>, store: &Store, item: &Item, now: i64) -> ApiResult<()> {
    let Some(screening) = store.ctx.screen.as_ref() else { return Ok(()) };
    let Some(g) = groups::group_text(db, item.group_id)? else { return Ok(()) };
    let reason = crate::moderation::Reason::parse(&item.reason).unwrap_or(crate::moderation::Reason::PrivateTrade);
    let handles = screening.handles(&[&g.row.name, &g.description, &g.announcement], reason);
    moderation::add_ring_handles(db, item.group_id, &handles, now)?;
    let mut owners = vec![g.row.owner_id];
    for (reason, handle) in &handles {
        for (other, owner) in moderation::groups_carrying(db, handle, item.group_id)? {
            let evidence = format!("ring: {handle} (group {})", item.group_id);
            moderation::hold_for(db, other, "held", "ring", reason.as_str(), &evidence, now)?;
            owners.push(owner);
        }
    }
    // The owners' other groups (the confirmed group's owner's, and those of the groups held
    // for its handles) go to review.
    owners.sort_unstable();
    owners.dedup();
    for owner in owners {
        for other in groups::owned_ids(db, owner)? {
            if other != item.group_id {
                let evidence = format!("owner of a ring: group {} confirmed", item.group_id);
                moderation::hold_for(db, other, "review", "ring", &item.reason, &evidence, now)?;
            }
        }
    }
    Ok(())
}

/// The reasons a report may give: SPEC §5's, or `other`.
pub const REPORT_REASONS: [&str; 7] = ["wechat", "qq", "phone", "url", "other_app", "private_trade", "other"];

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// A new report (or the person's closed one opened again).
    New,
    /// The person's report of this group is open already: it counts once.
    Repeat,
}

/// `reporter` reports a group (SPEC §7): any signed-in user who may see it but its owner.
/// With `report_review` people reporting, a clear group is listed for review; with
/// `report_hold`, held pending review.
pub fn report(store: &Store, reporter: i64, group_id: i64, reason: &str, note: &str) -> ApiResult<Reported> {
    let rules = &store.ctx.rules;
    store.write(|db| {
        crate::store::users::person_locked(db, reporter)?
            .ok_or_else(|| ApiError::forbidden("the caller is not a known user"))?;
        let (group, _) = super::groups::group_for(db, group_id, reporter)?;
        if group.owner_id == reporter {
            return Err(ApiError::forbidden("an owner does not report their own group"));
        }
        let now = now_secs();
        if !moderation::report(db, group_id, reporter, reason, note, now)? {
            return Ok(Reported::Repeat);
        }
        if moderation::reports_since(db, reporter, now - 3600)? > rules.reports_per_hour {
            return Err(ApiError::new(Code::RateLimited, "too many reports in the last hour; try again later"));
        }
        let open = moderation::open_reports(db, group_id)?;
        if open.count >= rules.report_hold {
            moderation::reported(db, group_id, "held", &open, now)?;
        } else if open.count >= rules.report_review {
            moderation::reported(db, group_id, "review", &open, now)?;
        }
        Ok(Reported::New)
    })
}

/// What `rescreen` did.
#[derive(Debug, Default, Clone, Copy)]
pub struct RescreenSummary {
    pub groups: u64,
    pub flagged: u64,
    pub moved: u64,
}

/// Screens every live group's texts with the lists as they are now (`groupscout
/// rescreen`): a clear group that matches is held, a held one that no longer matches is
/// cleared, admins' decisions stand. Safe while `serve` runs: it reads a snapshot and
/// writes only the groups whose status moves, a batch at a time.
pub fn rescreen(store: &Store, mut progress: impl FnMut(u64)) -> anyhow::Result<RescreenSummary> {
    let mut summary = RescreenSummary::default();
    let mut flagged = Vec::new();
    store.snapshot(|db| {
        groups::for_each_text(db, |g| {
            summary.groups += 1;
            let flag = store.ctx.screen_group(&g.row.name, &g.description, &g.announcement);
            if flag.is_some() {
                summary.flagged += 1;
            }
            // Only groups whose verdict may move need a write: flagged ones, and those
            // the lists held before.
            if flag.is_some() || g.row.held || g.row.review {
                flagged.push((g.row.id, flag));
            }
            if summary.groups.is_multiple_of(10_000) {
                progress(summary.groups);
            }
            Ok(())
        })
    })?;
    for chunk in flagged.chunks(1_000) {
        summary.moved += store.write(|db| -> crate::store::DbResult<u64> {
            let mut moved = 0;
            for (id, flag) in chunk {
                moved += moderation::rescreened(db, *id, flag.as_ref(), now_secs())? as u64;
            }
            Ok(moved)
        })?;
    }
    progress(summary.groups);
    Ok(summary)
}
