//! `POST /v1/activity`: message activity reported by the chat servers, in batches.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

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

#[derive(Deserialize)]
struct EventBody {
    group_id: i64,
    user_id: i64,
    at: String,
    messages: i64,
    event_id: Option<String>,
}

#[derive(Deserialize)]
struct BatchBody {
    events: Vec<EventBody>,
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

async fn post_activity(app: AppData, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    require_admin(&req, &app)?;
    let body: BatchBody = json_body(payload, ACTIVITY_BODY_LIMIT).await?;
    if body.events.len() > MAX_BATCH {
        return Err(ApiError::invalid("events", format!("a batch carries at most {MAX_BATCH} events")));
    }
    let tz = app.settings.timezone;
    let events = body.events.iter().enumerate().map(|(i, e)| parse_event(i, e, tz)).collect::<ApiResult<Vec<_>>>()?;
    let received = events.len();
    let applied = app.write(move |s| activity::record(s, &events)).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"received": received, "applied": applied, "duplicates": received - applied})))
}
