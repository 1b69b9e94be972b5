//! `/v1/admin/moderation`: the review of what the screen held (SPEC §5), admin token only.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{path_id, query_pairs, require_admin, AppData, Params};
use crate::error::ApiResult;
use crate::service::moderation;

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

async fn list(app: AppData, req: HttpRequest) -> ApiResult<HttpResponse> {
    require_admin(&req, &app)?;
    let pairs = query_pairs(&req)?;
    let params = Params(&pairs);
    let status = params.get("status").filter(|s| !s.is_empty()).unwrap_or("held").to_string();
    let cursor = params.get("cursor").filter(|s| !s.is_empty()).map(String::from);
    let limit = params.limit()?;
    let (total, items, next) =
        app.query(move |a| moderation::list(&a.store, &status, cursor.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"total": total, "items": items, "next_cursor": next})))
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

async fn release(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    decide(app, req, path, "released").await
}

async fn confirm(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    decide(app, req, path, "confirmed").await
}
