//! `/v1/users`: the user sync, settings, the follow graph, profile lists and recommendations.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{caller, json_body, path_id, query_pairs, require_admin, AppData, Params, BODY_LIMIT};
use crate::auth::Caller;
use crate::domain::fields::parse_birth_year;
use crate::domain::{Gender, Nickname};
use crate::error::{ApiError, ApiResult};
use crate::service::users;
use crate::store::rows::{Card, UserRow};
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

/// A user as the main app syncs it.
#[derive(Deserialize, ToSchema)]
pub(super) struct UserBody {
    /// 1–30 characters.
    nickname: String,
    /// `female`, `male` or `unknown`.
    gender: String,
    birth_year: Option<i64>,
    /// The quota tier (`normal` by default; see `groupscout.toml`).
    tier: Option<String>,
    /// Whether others may see the user's joined groups (default false for a new user).
    show_joined_groups: Option<bool>,
}

/// Creates or updates a user (the main app's sync).
#[utoipa::path(put, path = "/v1/users/{id}", tag = "sync",
    params(("id" = i64, Path, minimum = 1, description = "The user id")),
    request_body = UserBody,
    responses(
        (status = 200, description = "The user as stored", body = UserRow),
        (status = 400, description = "The body is not JSON", body = super::openapi::ErrorBody),
        (status = 403, description = "A user token (this needs the admin token)", body = super::openapi::ErrorBody),
        (status = 404, description = "The id is not a positive integer", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is too large", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing or not acceptable", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user = %path))]
pub(super) async fn put_user(
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

/// A user's own settings.
#[derive(Deserialize, ToSchema)]
pub(super) struct SettingsBody {
    show_joined_groups: bool,
}

/// Changes the caller's own settings.
#[utoipa::path(patch, path = "/v1/users/{id}/settings", tag = "users",
    params(("id" = i64, Path, minimum = 1, description = "The user id; must be the token's")),
    request_body = SettingsBody,
    responses(
        (status = 200, description = "The user as stored", body = UserRow),
        (status = 400, description = "The body is not JSON", body = super::openapi::ErrorBody),
        (status = 403, description = "Another user's settings", body = super::openapi::ErrorBody),
        (status = 404, description = "No such user", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing or not acceptable", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn patch_settings(
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

/// A follow edge as stored.
#[derive(Serialize, ToSchema)]
pub(super) struct FollowBody {
    from: i64,
    to: i64,
    /// Whether `from` now follows `to`.
    following: bool,
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
    Ok(HttpResponse::Ok().json(FollowBody { from: src, to: dst, following: on }))
}

/// Records that `id` follows `target` (mutual follows make friends).
#[utoipa::path(put, path = "/v1/users/{id}/follows/{target}", tag = "sync",
    params(("id" = i64, Path, minimum = 1, description = "The follower"), ("target" = i64, Path, minimum = 1, description = "The user followed")),
    responses(
        (status = 200, description = "The follow edge as stored", body = FollowBody),
        (status = 403, description = "A user token (this needs the admin token)", body = super::openapi::ErrorBody),
        (status = 404, description = "No such user", body = super::openapi::ErrorBody),
        (status = 422, description = "A user cannot follow themself", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn put_follow(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    follow(app, req, path, true).await
}

/// Removes the follow of `target` by `id`.
#[utoipa::path(delete, path = "/v1/users/{id}/follows/{target}", tag = "sync",
    params(("id" = i64, Path, minimum = 1, description = "The follower"), ("target" = i64, Path, minimum = 1, description = "The user followed")),
    responses(
        (status = 200, description = "The follow edge as stored", body = FollowBody),
        (status = 403, description = "A user token (this needs the admin token)", body = super::openapi::ErrorBody),
        (status = 404, description = "No such user", body = super::openapi::ErrorBody),
        (status = 422, description = "A user cannot follow themself", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn delete_follow(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    follow(app, req, path, false).await
}

/// The groups a user shows on their profile: all of them for the user themself, for anyone
/// else only when `show_joined_groups` is on, and never a group discovery does not list.
#[utoipa::path(get, path = "/v1/users/{id}/groups", tag = "users",
    params(("id" = i64, Path, minimum = 1, description = "The user id")),
    responses(
        (status = 200, description = "The user's groups, or hidden", body = crate::service::ProfileList),
        (status = 404, description = "No such user", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security((), ("bearer" = [])))]
pub(super) async fn get_groups(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "user")?;
    let who = caller(&req, &app)?;
    let list = app.query(move |a| a.profile_groups(id, who.user_id(), who == Caller::Admin)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The answer of `/v1/users/{id}/recommendations`.
#[derive(Serialize, ToSchema)]
pub(super) struct RecommendationsBody {
    /// Groups the user is not in and can join, best first, each with `reasons`.
    groups: Vec<Card>,
}

/// Groups for this user to join, each with the reasons it was chosen.
#[utoipa::path(get, path = "/v1/users/{id}/recommendations", tag = "users",
    params(
        ("id" = i64, Path, minimum = 1, description = "The user id; must be the token's"),
        ("lat" = Option<f64>, Query, minimum = -90, maximum = 90, description = "Where the user is now (default: their home)"),
        ("lon" = Option<f64>, Query, minimum = -180, maximum = 180),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Default 20"),
        ("explain" = Option<bool>, Query, description = "Adds `explain` (the parts of each card's score) to each card"),
    ),
    responses(
        (status = 200, description = "Groups to join, with reasons", body = RecommendationsBody),
        (status = 400, description = "A parameter out of range or malformed", body = super::openapi::ErrorBody),
        (status = 403, description = "Another user's recommendations", body = super::openapi::ErrorBody),
        (status = 404, description = "No such user", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn get_recommendations(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
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
    Ok(HttpResponse::Ok().json(RecommendationsBody { groups }))
}
