//! `POST /v1/activity`: message activity reported by the chat servers, in batches.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{json_body, require_admin, AppData, ACTIVITY_BODY_LIMIT};
use crate::domain::fields::parse_activity;
use crate::error::{ApiError, ApiResult};
use crate::service::activity;
use crate::store::activity::ActivityEvent;
use crate::store::day_number;

/// The most events one batch may carry.
pub const MAX_BATCH: usize = 10_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/activity")
            .route(web::post().to(post_activity))
            .default_service(web::to(super::method_not_allowed)),
    );
}

/// Messages one user sent in one group.
#[derive(Deserialize, ToSchema)]
pub(super) struct EventBody {
    group_id: i64,
    user_id: i64,
    /// When (RFC 3339); the day is taken in the service timezone.
    #[schema(format = DateTime)]
    at: String,
    /// Messages sent, at least 1.
    messages: i64,
    /// Makes the event idempotent: a second event with the same id is a duplicate.
    event_id: Option<String>,
}

/// A batch of activity events.
#[derive(Deserialize, ToSchema)]
pub(super) struct BatchBody {
    /// Up to 10,000 events.
    events: Vec<EventBody>,
}

/// What a batch did.
#[derive(Serialize, ToSchema)]
pub(super) struct BatchResult {
    received: usize,
    applied: usize,
    /// Events whose `event_id` was seen before.
    duplicates: usize,
}

/// Validates one event and places it on its calendar day in the service timezone.
fn parse_event(i: usize, e: &EventBody, tz: chrono_tz::Tz) -> ApiResult<ActivityEvent> {
    let field = |name: &str| format!("events[{i}].{name}");
    let at = parse_activity(&format!("events[{i}]."), &e.at, e.messages, e.event_id.as_deref())?;
    if e.group_id <= 0 {
        return Err(ApiError::invalid(&field("group_id"), "no such group"));
    }
    if e.user_id <= 0 {
        return Err(ApiError::invalid(&field("user_id"), "no such user"));
    }
    Ok(ActivityEvent {
        group_id: e.group_id,
        user_id: e.user_id,
        day: day_number(at.with_timezone(&tz).date_naive()),
        messages: e.messages,
        event_id: e.event_id.clone(),
    })
}

/// Message activity reported by the chat servers, in batches.
#[utoipa::path(post, path = "/v1/activity", tag = "sync",
    request_body = BatchBody,
    responses(
        (status = 200, description = "What the batch did", body = BatchResult),
        (status = 400, description = "The body is not JSON", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 4 MiB", body = super::openapi::ErrorBody),
        (status = 422, description = "An event is not acceptable (`field` names it, e.g. `events[3].at`), or the batch is too long", body = super::openapi::ErrorBody),
        super::openapi::AdminOnly,
    ),
    security(("bearer" = [])))]
pub(super) async fn post_activity(app: AppData, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    require_admin(&req, &app)?;
    let body: BatchBody = json_body(payload, ACTIVITY_BODY_LIMIT).await?;
    if body.events.len() > MAX_BATCH {
        return Err(ApiError::invalid("events", format!("a batch carries at most {MAX_BATCH} events")));
    }
    let tz = app.settings.timezone;
    let events = body.events.iter().enumerate().map(|(i, e)| parse_event(i, e, tz)).collect::<ApiResult<Vec<_>>>()?;
    let received = events.len();
    let applied = app.write(move |s| activity::record(s, &events)).await?;
    Ok(HttpResponse::Ok().json(BatchResult { received, applied, duplicates: received - applied }))
}
