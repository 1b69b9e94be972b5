//! `/v1/admin/moderation`: the review of what the screen held (SPEC §5), admin token only.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{path_id, query_pairs, require_admin, AppData, Params};
use crate::error::ApiResult;
use crate::service::moderation;
use crate::store::moderation::Item;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/admin/moderation")
            .route(web::get().to(list))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/v1/admin/moderation/{id}/release")
            .route(web::post().to(release))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/v1/admin/moderation/{id}/confirm")
            .route(web::post().to(confirm))
            .default_service(web::to(super::method_not_allowed)),
    );
}

/// The statuses the review queue lists.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(super) enum QueueStatus {
    Held,
    Review,
    Released,
    Confirmed,
}

/// A page of the review queue.
#[derive(Serialize, ToSchema)]
pub(super) struct ModerationPage {
    total: i64,
    items: Vec<Item>,
    next_cursor: Option<String>,
}

/// The groups under review with a given status, newest first.
#[utoipa::path(get, path = "/v1/admin/moderation", tag = "moderation",
    params(
        ("status" = inline(Option<QueueStatus>), Query, description = "`held` (default), `review`, `released` or `confirmed`"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of the review queue", body = ModerationPage),
        (status = 400, description = "A parameter not acceptable, or an invalid cursor", body = super::openapi::ErrorBody),
        super::openapi::AdminOnly,
    ),
    security(("bearer" = [])))]
pub(super) async fn list(app: AppData, req: HttpRequest) -> ApiResult<HttpResponse> {
    require_admin(&req, &app)?;
    let pairs = query_pairs(&req)?;
    let params = Params(&pairs);
    let status = params.get("status").filter(|s| !s.is_empty()).unwrap_or("held").to_string();
    let cursor = params.get("cursor").filter(|s| !s.is_empty()).map(String::from);
    let limit = params.limit()?;
    let (total, items, next) =
        app.query(move |a| moderation::list(&a.store, &status, cursor.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(ModerationPage { total, items, next_cursor: next }))
}

async fn decide(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    status: &'static str,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &app)?;
    let id = path_id(&path, "group")?;
    let item = app.write(move |s| moderation::decide(s, id, status)).await?;
    Ok(HttpResponse::Ok().json(item))
}

/// Clears a held group: it is listed again until one of its texts changes.
#[utoipa::path(post, path = "/v1/admin/moderation/{id}/release", tag = "moderation",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    responses(
        (status = 200, description = "The item after the decision", body = Item),
        (status = 404, description = "No such group, or nothing to review", body = super::openapi::ErrorBody),
        super::openapi::AdminOnly,
    ),
    security(("bearer" = [])))]
pub(super) async fn release(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    decide(app, req, path, "released").await
}

/// Agrees with the screen: the group stays out of discovery.
#[utoipa::path(post, path = "/v1/admin/moderation/{id}/confirm", tag = "moderation",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    responses(
        (status = 200, description = "The item after the decision", body = Item),
        (status = 404, description = "No such group, or nothing to review", body = super::openapi::ErrorBody),
        super::openapi::AdminOnly,
    ),
    security(("bearer" = [])))]
pub(super) async fn confirm(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    decide(app, req, path, "confirmed").await
}
