//! Message activity: batches of events from the main app, and the daily roll-up.

use crate::error::{ApiError, ApiResult};
use crate::store::activity::{self, ActivityEvent, RollupSummary};
use crate::store::{groups, users, Store};

/// Records a batch of events in one transaction; unknown groups or users refuse the whole
/// batch (nothing is kept), naming the first offending event.
pub fn record(store: &Store, events: &[ActivityEvent]) -> ApiResult<usize> {
    let yesterday = store.yesterday();
    store.write(|db| {
        for (i, e) in events.iter().enumerate() {
            if !groups::exists(db, e.group_id)? {
                return Err(ApiError::invalid(&format!("events[{i}].group_id"), "no such group"));
            }
            if users::person(db, e.user_id)?.is_none() {
                return Err(ApiError::invalid(&format!("events[{i}].user_id"), "no such user"));
            }
        }
        Ok(activity::apply_events(db, events, yesterday)?)
    })
}

/// Recomputes the statistics of `day` for every live group (see `activity::rollup`).
pub fn rollup(store: &Store, day: i64) -> anyhow::Result<RollupSummary> {
    let yesterday = store.yesterday();
    Ok(store.write(|db| activity::rollup(db, day, yesterday))?)
}

/// The scheduled roll-up of yesterday: once per cluster (the first node to take the job
/// lock runs it; the others find it done). `None` when there was nothing to do.
pub fn rollup_yesterday_once(store: &Store) -> anyhow::Result<Option<RollupSummary>> {
    let yesterday = store.yesterday();
    Ok(store
        .exclusive("rollup", || {
            if store.read(activity::last_rollup_day)? == Some(yesterday) {
                return Ok(None);
            }
            rollup(store, yesterday).map(Some)
        })?
        .flatten())
}
