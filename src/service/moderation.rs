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

/// Releases (`released`) or confirms (`confirmed`) a group under review.
pub fn decide(store: &Store, group_id: i64, status: &'static str) -> ApiResult<Item> {
    store.write(|db| {
        moderation::decide(db, group_id, status, "admin", now_secs())?
            .ok_or_else(|| ApiError::not_found("moderation item"))
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
