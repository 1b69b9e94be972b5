//! The application: the store, the index engine and the settings, and every use case.
//! Writes live in `groups`, `users` and `activity`, each one store transaction; `App::write`
//! runs one off the async workers and then wakes the indexer, `App::read` runs a read.
//! Routes translate HTTP to these calls and back.

pub mod activity;
pub mod groups;
pub mod metrics;
pub mod moderation;
pub mod totals;
pub mod users;

use std::sync::Arc;

use serde::Serialize;

use crate::config::Settings;
use crate::domain::rules;
use crate::domain::{CategoryList, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::geo::Gazetteer;
use crate::index::Engine;
use crate::recommend::{self, Recommendation};
use crate::store::groups::AdminEntry;
use crate::store::members::{self, RequestEntry};
use crate::store::rows::Card;
use crate::store::{groups as group_rows, users as user_rows};
use crate::store::{Store, StoreContext};
use groups::require_visible;

pub use metrics::Metrics;

/// Everything a request handler needs.
pub struct App {
    pub settings: Settings,
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub metrics: Metrics,
    /// `GROUPSCOUT_RATE_LIMIT`, when set.
    pub limiter: Option<crate::limits::RateLimiter>,
}

/// The viewer block of the detail page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViewerBlock {
    /// `owner`, `admin`, `member`, `pending` or `none`.
    pub role: &'static str,
    pub can_apply: bool,
    pub friends_in_group: i64,
}

/// The detail page: the card plus description, announcement, admins and the viewer block.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Detail {
    #[serde(flatten)]
    pub card: Card,
    pub owner_id: i64,
    pub description: String,
    pub announcement: String,
    pub members_can_invite: bool,
    pub discoverable: bool,
    pub admins: Vec<AdminEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ViewerBlock>,
    /// For the owner and admins of a group under review (SPEC §5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderation: Option<ModerationBlock>,
}

/// What the owner and admins see of a group's review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModerationBlock {
    pub status: String,
    pub reason: String,
}

/// The profile list of SPEC §2.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileList {
    /// True when the list is not shown to this caller (then `groups` is empty).
    pub hidden: bool,
    pub groups: Vec<Card>,
}

/// Runs a discovery read right on the HTTP worker: reads take well under a millisecond of
/// CPU (an index in memory, SQLite pages in the page cache), so handing them to another
/// thread costs more than it saves, and with one worker a core they run first come first
/// served instead of stretching each other out. A panic becomes a 500 like on the pool.
pub async fn reading<T>(f: impl FnOnce() -> ApiResult<T>) -> ApiResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| ApiError::internal("a read panicked"))?
}

/// Loads the fixed data (categories, gazetteer) from the data folder.
pub fn load_context(settings: &Settings) -> anyhow::Result<StoreContext> {
    context_in(&settings.data_dir, settings.rules.clone(), settings.timezone)
}

/// The fixed data of `data_dir` with these rules and timezone.
pub fn context_in(
    data_dir: &std::path::Path,
    rules: crate::config::Rules,
    timezone: chrono_tz::Tz,
) -> anyhow::Result<StoreContext> {
    use anyhow::Context;
    let cat_path = data_dir.join("categories");
    let categories = CategoryList::from_text(
        &std::fs::read_to_string(&cat_path).with_context(|| format!("failed to read {}", cat_path.display()))?,
    );
    let gazetteer = Gazetteer::load(&data_dir.join("adcodes.csv"))?;
    let screen = match std::env::var("GROUPSCOUT_SCREEN").as_deref() {
        Ok("off") => None,
        _ => {
            let thresholds = crate::moderation::Thresholds { hold: rules.screen_hold, review: rules.screen_review };
            Some(crate::moderation::Screening::load(&data_dir.join("moderation"), thresholds)?)
        }
    };
    Ok(StoreContext { rules, categories, gazetteer, timezone, screen })
}

/// Opens the store alone, for jobs.
pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&settings.db_url(), Arc::new(load_context(settings)?), 2)
}

impl App {
    /// Opens the store and the index (building or catching it up) for serving.
    pub fn open(settings: Settings) -> anyhow::Result<Arc<App>> {
        let ctx = Arc::new(load_context(&settings)?);
        let store = Arc::new(Store::open(&settings.db_url(), ctx, 4)?);
        let engine = Engine::start(store.clone(), &settings.index, settings.ranking.clone())?;
        let limiter = (settings.rate_limit > 0.0).then(|| crate::limits::RateLimiter::new(settings.rate_limit));
        Ok(Arc::new(App { settings, store, engine, metrics: Metrics::default(), limiter }))
    }

    /// Runs a write use case off the async workers, then wakes the indexer.
    pub async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let app = self.clone();
        let out = Self::read(self, move |a| f(&a.store)).await;
        app.engine.notify();
        out
    }

    /// Runs a read that touches the store: on SQLite right here (a few pages from the
    /// page cache cost less than a hand-off), on PostgreSQL off the async workers (its
    /// driver blocks on the network).
    pub async fn query<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        match self.store.kind() {
            crate::store::Kind::Sqlite => reading(|| f(self)).await,
            crate::store::Kind::Postgres => Self::read(self, f).await,
        }
    }

    /// Runs blocking work (the store, the index) off the async workers. Past the request
    /// time limit the caller gets 503 `timeout` (the work itself runs to its end: a write
    /// either commits whole or not at all).
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let app = self.clone();
        let limit = self.settings.request_timeout;
        // The work runs in the request's span, so what it logs carries the request id.
        let span = tracing::Span::current();
        match tokio::time::timeout(limit, tokio::task::spawn_blocking(move || span.in_scope(|| f(&app)))).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(ApiError::internal(format!("blocking task failed: {e}"))),
            Err(_) => Err({
                tracing::warn!(
                    limit_s = limit.as_secs_f64(),
                    "a request's store work passed its time limit; answering 503"
                );
                ApiError::new(
                    crate::error::Code::Timeout,
                    "the request took longer than its time limit; a write may still have been applied",
                )
            }),
        }
    }

    pub fn current_year(&self) -> i32 {
        self.store.ctx.current_year()
    }

    /// The detail page. A group that is not discoverable exists only for its members.
    pub fn group_detail(&self, id: i64, viewer: Option<i64>, origin: Option<(f64, f64)>) -> ApiResult<Detail> {
        let year = self.current_year();
        self.store.read(|db| {
            let g = group_rows::group_text(db, id)?.ok_or_else(|| ApiError::not_found("group"))?;
            let v = match viewer {
                Some(u) => members::viewer_of(db, id, u)?,
                None => Viewer::Outsider,
            };
            require_visible(&g.row, v)?;
            let distance =
                origin.and_then(|(lat, lon)| g.row.location().map(|(a, b)| crate::geo::haversine_m(lat, lon, a, b)));
            let viewer_block = match viewer {
                Some(u) => Some(ViewerBlock {
                    role: v.as_str(),
                    can_apply: v == Viewer::Outsider && g.row.has_room(),
                    friends_in_group: user_rows::friends_in_group(db, id, u)?,
                }),
                None => None,
            };
            Ok(Detail {
                card: g.row.card(year, self.settings.rules.privacy_min_members, distance),
                owner_id: g.row.owner_id,
                members_can_invite: g.row.members_can_invite,
                discoverable: g.row.discoverable,
                description: g.description,
                announcement: g.announcement,
                admins: group_rows::admins(db, id)?,
                moderation: match v {
                    Viewer::Member(r) if r.manages() => crate::store::moderation::get(db, id)?
                        .map(|i| ModerationBlock { status: i.status, reason: i.reason }),
                    _ => None,
                },
                viewer: viewer_block,
            })
        })
    }

    /// The pending applications of a group, for its owner and admins.
    pub fn pending_requests(&self, group_id: i64, actor: i64) -> ApiResult<Vec<RequestEntry>> {
        self.store.read(|db| {
            let group = group_rows::live(db, group_id)?.ok_or_else(|| ApiError::not_found("group"))?;
            let viewer = members::viewer_of(db, group_id, actor)?;
            require_visible(&group, viewer)?;
            rules::check_manage(viewer)?;
            Ok(members::pending_requests(db, group_id)?)
        })
    }

    /// A user's joined groups as `viewer` may see them.
    pub fn profile_groups(&self, user_id: i64, viewer: Option<i64>, is_admin: bool) -> ApiResult<ProfileList> {
        let year = self.current_year();
        self.store.read(|db| {
            let user = user_rows::user(db, user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
            let own = viewer == Some(user_id) || is_admin;
            if !own && !user.show_joined_groups {
                return Ok(ProfileList { hidden: true, groups: Vec::new() });
            }
            let rows = group_rows::joined_by(db, user_id, own)?;
            Ok(ProfileList {
                hidden: false,
                groups: rows.iter().map(|g| g.card(year, self.settings.rules.privacy_min_members, None)).collect(),
            })
        })
    }

    /// Recommendations for a user.
    pub fn recommendations(
        &self,
        user_id: i64,
        origin: Option<(f64, f64)>,
        limit: usize,
    ) -> ApiResult<Vec<Recommendation>> {
        let profile = self.store.read(|db| -> ApiResult<_> {
            user_rows::user(db, user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
            Ok(recommend::load_profile(db, user_id)?)
        })?;
        let catalog = self.engine.catalog.read();
        Ok(recommend::recommend(&catalog, &self.store.ctx.categories, &profile, origin, limit))
    }

    pub fn categories(&self) -> &CategoryList {
        &self.store.ctx.categories
    }

    pub fn record_request(&self, method: &str, route: Option<&str>, status: u16, micros: u64) {
        self.metrics.record(method, route, status, micros);
    }
}
