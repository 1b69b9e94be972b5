//! `/v1/users`: the user sync, settings, the follow graph, profile lists and recommendations.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{caller, json_body, path_id, query_pairs, require_admin, AppData, Params, BODY_LIMIT};
use crate::auth::Caller;
use crate::domain::fields::parse_birth_year;
use crate::domain::{Gender, Nickname};
use crate::error::{ApiError, ApiResult};
use crate::service::users;
use crate::store::users::UserInput;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/users/{id}")
            .route(web::put().to(put_user))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/v1/users/{id}/settings")
            .route(web::patch().to(patch_settings))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/v1/users/{id}/follows/{target}")
            .route(web::put().to(put_follow))
            .route(web::delete().to(delete_follow))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/v1/users/{id}/groups")
            .route(web::get().to(get_groups))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/v1/users/{id}/recommendations")
            .route(web::get().to(get_recommendations))
            .default_service(web::to(super::method_not_allowed)),
    );
}

#[derive(Deserialize)]
struct UserBody {
    nickname: String,
    gender: String,
    birth_year: Option<i64>,
    tier: Option<String>,
    show_joined_groups: Option<bool>,
}

#[tracing::instrument(skip_all, fields(user = %path))]
async fn put_user(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &app)?;
    let id = path_id(&path, "user")?;
    let body: UserBody = json_body(payload, BODY_LIMIT).await?;
    let input = UserInput {
        nickname: Nickname::parse("nickname", &body.nickname)?,
        gender: Gender::parse("gender", &body.gender)?,
        birth_year: body.birth_year.map(|y| parse_birth_year("birth_year", y, app.current_year())).transpose()?,
        tier: body.tier,
        show_joined_groups: body.show_joined_groups,
    };
    let user = app.write(move |s| users::upsert(s, id, &input)).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
struct SettingsBody {
    show_joined_groups: bool,
}

async fn patch_settings(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "user")?;
    match caller(&req, &app)? {
        Caller::User(u) if u == id => {}
        Caller::Anonymous => return Err(ApiError::unauthorized("this endpoint needs a user token")),
        _ => return Err(ApiError::forbidden("only the user may change their settings")),
    }
    let body: SettingsBody = json_body(payload, BODY_LIMIT).await?;
    let user = app.write(move |s| users::set_show_joined_groups(s, id, body.show_joined_groups)).await?;
    Ok(HttpResponse::Ok().json(user))
}

async fn follow(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    on: bool,
) -> ApiResult<HttpResponse> {
    require_admin(&req, &app)?;
    let src = path_id(&path.0, "user")?;
    let dst = path_id(&path.1, "user")?;
    app.write(move |s| users::set_follow(s, src, dst, on)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"from": src, "to": dst, "following": on})))
}

async fn put_follow(app: AppData, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    follow(app, req, path, true).await
}

async fn delete_follow(app: AppData, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    follow(app, req, path, false).await
}

async fn get_groups(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "user")?;
    let who = caller(&req, &app)?;
    let list = app.query(move |a| a.profile_groups(id, who.user_id(), who == Caller::Admin)).await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn get_recommendations(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "user")?;
    match caller(&req, &app)? {
        Caller::User(u) if u == id => {}
        Caller::Anonymous => return Err(ApiError::unauthorized("recommendations need the user's token")),
        _ => return Err(ApiError::forbidden("recommendations are for the user themself only")),
    }
    let pairs = query_pairs(&req)?;
    let params = Params(&pairs);
    let origin = params.origin()?;
    let limit = params.limit()?;
    let explain = params.bool("explain")?.unwrap_or(false);
    let recs = app.query(move |a| a.recommendations(id, origin, limit)).await?;
    let year = app.current_year();
    let groups: Vec<_> = recs
        .into_iter()
        .map(|r| {
            let mut card =
                r.group.card(year, app.settings.rules.privacy_min_members, r.distance_m.filter(|_| origin.is_some()));
            card.reasons = Some(r.reasons);
            card.explain = explain.then_some(r.explain);
            card
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "groups": groups })))
}
