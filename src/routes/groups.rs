//! `/v1/groups`: creating and managing groups, the join flow, and the detail page.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer};

use super::{caller, json_body, path_id, query_pairs, require_user, AppData, Params, BODY_LIMIT};
use crate::domain::rules::JoinOutcome;
use crate::domain::{Announcement, Description, GroupName, Location};
use crate::error::{ApiError, ApiResult};
use crate::service::groups;
use crate::store::groups::{GroupPatch, NewGroup};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let na = || web::to(super::method_not_allowed);
    cfg.service(web::resource("/v1/groups").route(web::post().to(create)).default_service(na()))
        .service(
            web::resource("/v1/groups/{id}")
                .route(web::get().to(detail))
                .route(web::patch().to(patch))
                .route(web::delete().to(dissolve))
                .default_service(na()),
        )
        .service(
            web::resource("/v1/groups/{id}/admins/{user}")
                .route(web::put().to(put_admin))
                .route(web::delete().to(delete_admin))
                .default_service(na()),
        )
        .service(
            web::resource("/v1/groups/{id}/announcement").route(web::put().to(put_announcement)).default_service(na()),
        )
        .service(web::resource("/v1/groups/{id}/join").route(web::post().to(join)).default_service(na()))
        .service(web::resource("/v1/groups/{id}/requests").route(web::get().to(requests)).default_service(na()))
        .service(
            web::resource("/v1/groups/{id}/requests/{user}/approve")
                .route(web::post().to(approve))
                .default_service(na()),
        )
        .service(
            web::resource("/v1/groups/{id}/requests/{user}/reject").route(web::post().to(reject)).default_service(na()),
        )
        .service(web::resource("/v1/groups/{id}/invites").route(web::post().to(invite)).default_service(na()))
        .service(
            web::resource("/v1/groups/{id}/members/{user}")
                .route(web::delete().to(remove_member))
                .default_service(na()),
        );
}

#[derive(Deserialize, Clone)]
struct LocationBody {
    lat: f64,
    lon: f64,
    place_name: Option<String>,
}

impl LocationBody {
    fn parse(&self) -> ApiResult<Location> {
        Location::parse("location", self.lat, self.lon, self.place_name.as_deref())
    }
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    category: String,
    description: Option<String>,
    announcement: Option<String>,
    location: Option<LocationBody>,
    join_approval: Option<bool>,
    members_can_invite: Option<bool>,
    discoverable: Option<bool>,
}

/// Tells an absent key (`None`) from an explicit `null` (`Some(None)`).
fn explicit<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, Default)]
struct PatchBody {
    name: Option<String>,
    category: Option<String>,
    description: Option<String>,
    announcement: Option<String>,
    #[serde(default, deserialize_with = "explicit")]
    location: Option<Option<LocationBody>>,
    join_approval: Option<bool>,
    members_can_invite: Option<bool>,
    discoverable: Option<bool>,
}

async fn detail_json(
    app: &AppData,
    id: i64,
    viewer: Option<i64>,
    origin: Option<(f64, f64)>,
) -> ApiResult<serde_json::Value> {
    let d = app.query(move |a| a.group_detail(id, viewer, origin)).await?;
    serde_json::to_value(d).map_err(ApiError::internal)
}

#[tracing::instrument(skip_all)]
async fn create(app: AppData, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    let owner = require_user(&req, &app)?;
    let body: CreateBody = json_body(payload, BODY_LIMIT).await?;
    let group = NewGroup {
        name: GroupName::parse("name", &body.name)?,
        category: app.categories().parse("category", &body.category)?,
        description: Description::parse("description", body.description.as_deref().unwrap_or(""))?,
        announcement: Announcement::parse("announcement", body.announcement.as_deref().unwrap_or(""))?,
        location: body.location.as_ref().map(LocationBody::parse).transpose()?,
        join_approval: body.join_approval.unwrap_or(false),
        members_can_invite: body.members_can_invite.unwrap_or(true),
        discoverable: body.discoverable.unwrap_or(true),
    };
    let id = app.write(move |s| groups::create(s, owner, &group)).await?;
    Ok(HttpResponse::Created().json(detail_json(&app, id, Some(owner), None).await?))
}

async fn detail(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "group")?;
    let viewer = caller(&req, &app)?.user_id();
    let pairs = query_pairs(&req)?;
    let origin = Params(&pairs).origin()?;
    Ok(HttpResponse::Ok().json(detail_json(&app, id, viewer, origin).await?))
}

async fn patch(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    let body: PatchBody = json_body(payload, BODY_LIMIT).await?;
    let patch = GroupPatch {
        name: body.name.as_deref().map(|n| GroupName::parse("name", n)).transpose()?,
        category: body.category.as_deref().map(|c| app.categories().parse("category", c)).transpose()?,
        description: body.description.as_deref().map(|d| Description::parse("description", d)).transpose()?,
        announcement: body.announcement.as_deref().map(|a| Announcement::parse("announcement", a)).transpose()?,
        location: match &body.location {
            None => None,
            Some(None) => Some(None),
            Some(Some(l)) => Some(Some(l.parse()?)),
        },
        join_approval: body.join_approval,
        members_can_invite: body.members_can_invite,
        discoverable: body.discoverable,
    };
    app.write(move |s| groups::patch(s, actor, id, &patch)).await?;
    Ok(HttpResponse::Ok().json(detail_json(&app, id, Some(actor), None).await?))
}

async fn dissolve(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    app.write(move |s| groups::dissolve(s, actor, id)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"id": id, "status": "dissolved"})))
}

async fn set_admin(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    admin: bool,
) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path.0, "group")?;
    let user = path_id(&path.1, "user")?;
    app.write(move |s| groups::set_admin(s, actor, id, user, admin)).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"group_id": id, "user_id": user, "role": if admin { "admin" } else { "member" }})))
}

async fn put_admin(app: AppData, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    set_admin(app, req, path, true).await
}

async fn delete_admin(app: AppData, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    set_admin(app, req, path, false).await
}

#[derive(Deserialize)]
struct AnnouncementBody {
    text: String,
}

async fn put_announcement(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    let body: AnnouncementBody = json_body(payload, BODY_LIMIT).await?;
    let text = Announcement::parse("text", &body.text)?;
    app.write(move |s| groups::set_announcement(s, actor, id, &text)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"group_id": id, "announcement": body.text.trim()})))
}

#[derive(Deserialize, Default)]
struct JoinBody {
    message: Option<String>,
}

async fn join(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let user = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    let body: JoinBody = json_body(payload, BODY_LIMIT).await?;
    let message = body.message.unwrap_or_default();
    if message.chars().count() > 200 {
        return Err(ApiError::invalid("message", "the message has more than 200 characters"));
    }
    let outcome = app.write(move |s| groups::join(s, user, id, message.trim())).await?;
    let status = match outcome {
        JoinOutcome::Joined => "joined",
        JoinOutcome::Pending => "pending",
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": status })))
}

async fn requests(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    let list = app.query(move |a| a.pending_requests(id, actor)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "requests": list })))
}

async fn decide(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    approve: bool,
) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path.0, "group")?;
    let user = path_id(&path.1, "user")?;
    app.write(move |s| groups::decide_request(s, actor, id, user, approve)).await?;
    let status = if approve { "joined" } else { "rejected" };
    Ok(HttpResponse::Ok().json(serde_json::json!({"user_id": user, "status": status})))
}

async fn approve(app: AppData, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    decide(app, req, path, true).await
}

async fn reject(app: AppData, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    decide(app, req, path, false).await
}

#[derive(Deserialize)]
struct InviteBody {
    invitee: i64,
}

async fn invite(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let inviter = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    let body: InviteBody = json_body(payload, BODY_LIMIT).await?;
    let invitee = body.invitee;
    app.write(move |s| groups::invite(s, inviter, id, invitee)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"user_id": invitee, "status": "joined"})))
}

async fn remove_member(app: AppData, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path.0, "group")?;
    let user = path_id(&path.1, "user")?;
    app.write(move |s| groups::remove_member(s, actor, id, user)).await?;
    let status = if actor == user { "left" } else { "removed" };
    Ok(HttpResponse::Ok().json(serde_json::json!({"user_id": user, "status": status})))
}
