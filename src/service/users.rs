//! The user use cases: the main app's sync of users and follows, and the profile switch.

use crate::error::{ApiError, ApiResult};
use crate::store::rows::UserRow;
use crate::store::users::{self, UserInput};
use crate::store::{now_secs, Store};

/// Creates or updates a user; a changed gender or birth year moves the statistics of
/// every group the user is in.
pub fn upsert(store: &Store, id: i64, input: &UserInput) -> ApiResult<UserRow> {
    if let Some(t) = &input.tier {
        if !store.ctx.rules.tiers.contains_key(t) {
            return Err(ApiError::invalid("tier", format!("unknown tier {t:?}")));
        }
    }
    store.write(|db| {
        users::upsert(db, id, input, now_secs())?;
        users::user(db, id)?.ok_or_else(|| ApiError::internal("the user just written is gone"))
    })
}

pub fn set_show_joined_groups(store: &Store, id: i64, show: bool) -> ApiResult<UserRow> {
    store
        .write(|db| users::set_show_joined_groups(db, id, show, now_secs())?.ok_or_else(|| ApiError::not_found("user")))
}

pub fn set_follow(store: &Store, src: i64, dst: i64, follow: bool) -> ApiResult<()> {
    if src == dst {
        return Err(ApiError::invalid("target", "a user cannot follow themself"));
    }
    store.write(|db| {
        for id in [src, dst] {
            users::person(db, id)?.ok_or_else(|| ApiError::not_found("user"))?;
        }
        if follow {
            users::follow(db, src, dst, now_secs())?;
        } else {
            users::unfollow(db, src, dst)?;
        }
        Ok(())
    })
}
