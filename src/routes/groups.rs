//! `/v1/groups`: creating and managing groups, the join flow, and the detail page.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{caller, json_body, path_id, query_pairs, require_user, AppData, Params, BODY_LIMIT};
use crate::domain::rules::JoinOutcome;
use crate::domain::{Announcement, Description, GroupName, Location};
use crate::error::{ApiError, ApiResult};
use crate::service::groups;
use crate::service::Detail;
use crate::store::groups::{GroupPatch, NewGroup};
use crate::store::members::RequestEntry;

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
        .service(web::resource("/v1/groups/{id}/reports").route(web::post().to(report)).default_service(na()))
        .service(
            web::resource("/v1/groups/{id}/members/{user}")
                .route(web::delete().to(remove_member))
                .default_service(na()),
        );
}

/// Where a group meets.
#[derive(Deserialize, Clone, ToSchema)]
pub(super) struct LocationBody {
    #[schema(minimum = -90, maximum = 90)]
    lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    lon: f64,
    /// A venue name; the city and district come from the coordinates.
    place_name: Option<String>,
}

impl LocationBody {
    fn parse(&self) -> ApiResult<Location> {
        Location::parse("location", self.lat, self.lon, self.place_name.as_deref())
    }
}

/// A new group.
#[derive(Deserialize, ToSchema)]
pub(super) struct CreateBody {
    /// 2–30 characters.
    name: String,
    /// A category id.
    category: String,
    description: Option<String>,
    announcement: Option<String>,
    location: Option<LocationBody>,
    /// Joining needs the owner's or an admin's approval (default false).
    join_approval: Option<bool>,
    /// Members may invite their friends (default true).
    members_can_invite: Option<bool>,
    /// Listed by discovery (default true).
    discoverable: Option<bool>,
}

/// Tells an absent key (`None`) from an explicit `null` (`Some(None)`).
fn explicit<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Any of the create fields; `location: null` removes the location.
#[derive(Deserialize, Default, ToSchema)]
pub(super) struct PatchBody {
    name: Option<String>,
    category: Option<String>,
    description: Option<String>,
    announcement: Option<String>,
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<LocationBody>)]
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

/// Creates a group owned by the caller; the answer is its detail page.
#[utoipa::path(post, path = "/v1/groups", tag = "groups",
        request_body = CreateBody,
    responses(
        (status = 201, description = "The new group's detail", body = Detail),
        super::openapi::BodyErrors,
        (status = 403, description = "`needs_mutual_friend`: not enough mutual-follow friends, or an admin token", body = super::openapi::ErrorBody),
        (status = 409, description = "`group_quota_exceeded`", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub(super) async fn create(app: AppData, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
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

/// A group's detail page: the card plus description, announcement, admins, and for a signed-in viewer their role.
#[utoipa::path(get, path = "/v1/groups/{id}", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id"), ("lat" = Option<f64>, Query, minimum = -90, maximum = 90, description = "With `lon`: the card has `distance_m`"), ("lon" = Option<f64>, Query, minimum = -180, maximum = 180)),
    responses(
        (status = 200, description = "The group's detail page", body = Detail),
        (status = 400, description = "lat/lon out of range or alone", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group, or not visible to the caller", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security((), ("bearer" = [])))]
pub(super) async fn detail(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "group")?;
    let viewer = caller(&req, &app)?.user_id();
    let pairs = query_pairs(&req)?;
    let origin = Params(&pairs).origin()?;
    Ok(HttpResponse::Ok().json(detail_json(&app, id, viewer, origin).await?))
}

/// Changes any of the create fields (owner or admin; only the owner changes settings).
#[utoipa::path(patch, path = "/v1/groups/{id}", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The group's detail after the change", body = Detail),
        super::openapi::BodyErrors,
        (status = 403, description = "Not the owner or an admin, or a setting changed by an admin", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn patch(
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

/// A dissolved group.
#[derive(Serialize, ToSchema)]
pub(super) struct Dissolved {
    id: i64,
    /// Always `dissolved`.
    status: &'static str,
}

/// Dissolves the group (owner only).
#[utoipa::path(delete, path = "/v1/groups/{id}", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    responses(
        (status = 200, description = "The group is dissolved", body = Dissolved),
        (status = 403, description = "Not the owner", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn dissolve(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    app.write(move |s| groups::dissolve(s, actor, id)).await?;
    Ok(HttpResponse::Ok().json(Dissolved { id, status: "dissolved" }))
}

/// A member's role after a change.
#[derive(Serialize, ToSchema)]
pub(super) struct RoleBody {
    group_id: i64,
    user_id: i64,
    /// `admin` or `member`.
    role: &'static str,
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
    Ok(HttpResponse::Ok().json(RoleBody { group_id: id, user_id: user, role: if admin { "admin" } else { "member" } }))
}

/// Makes a member an admin (owner only).
#[utoipa::path(put, path = "/v1/groups/{id}/admins/{user}", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id"), ("user" = i64, Path, minimum = 1, description = "The user id")),
    responses(
        (status = 200, description = "The member's role now", body = RoleBody),
        (status = 403, description = "Not the owner", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        (status = 409, description = "`not_a_member`, or `owner_cannot_leave` (the owner's own role)", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn put_admin(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_admin(app, req, path, true).await
}

/// Makes an admin a plain member again (owner only).
#[utoipa::path(delete, path = "/v1/groups/{id}/admins/{user}", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id"), ("user" = i64, Path, minimum = 1, description = "The user id")),
    responses(
        (status = 200, description = "The member's role now", body = RoleBody),
        (status = 403, description = "Not the owner", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        (status = 409, description = "`not_a_member`, or `owner_cannot_leave` (the owner's own role)", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn delete_admin(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_admin(app, req, path, false).await
}

/// The group's announcement.
#[derive(Deserialize, ToSchema)]
pub(super) struct AnnouncementBody {
    text: String,
}

/// The announcement as stored.
#[derive(Serialize, ToSchema)]
pub(super) struct AnnouncementSet {
    group_id: i64,
    announcement: String,
}

/// Sets the announcement (owner or admin).
#[utoipa::path(put, path = "/v1/groups/{id}/announcement", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    request_body = AnnouncementBody,
    responses(
        (status = 200, description = "The announcement as stored", body = AnnouncementSet),
        super::openapi::BodyErrors,
        (status = 403, description = "Not the owner or an admin", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn put_announcement(
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
    Ok(HttpResponse::Ok().json(AnnouncementSet { group_id: id, announcement: body.text.trim().to_string() }))
}

/// An application's message (groups that need approval show it to the owner).
#[derive(Deserialize, Default, ToSchema)]
pub(super) struct JoinBody {
    /// Up to 200 characters.
    message: Option<String>,
}

/// Where a join or an application stands.
#[derive(Serialize, ToSchema)]
pub(super) struct JoinStatus {
    /// `joined`, or `pending` for a group that needs approval.
    status: &'static str,
}

/// Joins the group, or applies when it needs approval.
#[utoipa::path(post, path = "/v1/groups/{id}/join", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    request_body = Option<JoinBody>,
    responses(
        (status = 200, description = "Joined, or applied", body = JoinStatus),
        super::openapi::BodyErrors,
        (status = 403, description = "An admin token (this acts for a user)", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        (status = 409, description = "`group_full`, `already_member` or `already_pending`", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn join(
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
    Ok(HttpResponse::Ok().json(JoinStatus { status }))
}

/// A report of a group (SPEC §7).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportBody {
    /// `wechat`, `qq`, `phone`, `url`, `other_app`, `private_trade` or `other`.
    reason: String,
    /// Up to 200 characters.
    note: Option<String>,
}

/// What became of a report.
#[derive(Serialize, ToSchema)]
pub(super) struct ReportStatus {
    /// `reported` (201), or `already_reported` (200): a person's open report counts once.
    status: &'static str,
}

/// Reports a group for diverting buyers off the platform or another reason. Any signed-in
/// user who may see the group but its owner; one open report a person a group. Enough
/// people reporting list a group for review (`report_review`, default 3) or hold it
/// (`report_hold`, default 10); who reported is never shown.
#[utoipa::path(post, path = "/v1/groups/{id}/reports", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    request_body = ReportBody,
    responses(
        (status = 201, description = "Reported", body = ReportStatus),
        (status = 200, description = "This person's report is open already; it counts once", body = ReportStatus),
        super::openapi::BodyErrors,
        (status = 403, description = "The group's owner, an unknown user, or an admin token (this acts for a user)", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn report(
    app: AppData,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let user = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    let body: ReportBody = json_body(payload, BODY_LIMIT).await?;
    if !crate::service::moderation::REPORT_REASONS.contains(&body.reason.as_str()) {
        return Err(ApiError::invalid(
            "reason",
            "reason must be wechat, qq, phone, url, other_app, private_trade or other",
        ));
    }
    let note = body.note.unwrap_or_default();
    if note.chars().count() > 200 {
        return Err(ApiError::invalid("note", "the note has more than 200 characters"));
    }
    let reason = body.reason;
    let done = app.write(move |s| crate::service::moderation::report(s, user, id, &reason, note.trim())).await?;
    Ok(match done {
        crate::service::moderation::Reported::New => HttpResponse::Created().json(ReportStatus { status: "reported" }),
        crate::service::moderation::Reported::Repeat => {
            HttpResponse::Ok().json(ReportStatus { status: "already_reported" })
        }
    })
}

/// The pending applications.
#[derive(Serialize, ToSchema)]
pub(super) struct RequestsBody {
    requests: Vec<RequestEntry>,
}

/// The pending applications (owner or admin).
#[utoipa::path(get, path = "/v1/groups/{id}/requests", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    responses(
        (status = 200, description = "The pending applications", body = RequestsBody),
        (status = 403, description = "Not the owner or an admin", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn requests(app: AppData, req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path, "group")?;
    let list = app.query(move |a| a.pending_requests(id, actor)).await?;
    Ok(HttpResponse::Ok().json(RequestsBody { requests: list }))
}

/// What became of a user's membership or application.
#[derive(Serialize, ToSchema)]
pub(super) struct MemberStatus {
    user_id: i64,
    /// `joined`, `rejected`, `left` or `removed`.
    status: &'static str,
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
    Ok(HttpResponse::Ok().json(MemberStatus { user_id: user, status }))
}

/// Approves an application (owner or admin).
#[utoipa::path(post, path = "/v1/groups/{id}/requests/{user}/approve", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id"), ("user" = i64, Path, minimum = 1, description = "The user id")),
    responses(
        (status = 200, description = "The user's membership now", body = MemberStatus),
        (status = 403, description = "Not the owner or an admin", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group or no such application", body = super::openapi::ErrorBody),
        (status = 409, description = "`group_full` (approving into a full group)", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn approve(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    decide(app, req, path, true).await
}

/// Rejects an application (owner or admin).
#[utoipa::path(post, path = "/v1/groups/{id}/requests/{user}/reject", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id"), ("user" = i64, Path, minimum = 1, description = "The user id")),
    responses(
        (status = 200, description = "The user's membership now", body = MemberStatus),
        (status = 403, description = "Not the owner or an admin", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group or no such application", body = super::openapi::ErrorBody),
        (status = 409, description = "`group_full` (approving into a full group)", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn reject(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    decide(app, req, path, false).await
}

/// Whom to invite.
#[derive(Deserialize, ToSchema)]
pub(super) struct InviteBody {
    /// A friend (mutual follow) of the inviter.
    invitee: i64,
}

/// Invites a friend, who joins at once (members need `members_can_invite`; the owner and admins always may).
#[utoipa::path(post, path = "/v1/groups/{id}/invites", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id")),
    request_body = InviteBody,
    responses(
        (status = 200, description = "The user's membership now", body = MemberStatus),
        super::openapi::BodyErrors,
        (status = 403, description = "Not a member, members may not invite, or the invitee is not a friend", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group or user", body = super::openapi::ErrorBody),
        (status = 409, description = "`group_full` or `already_member`", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn invite(
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
    Ok(HttpResponse::Ok().json(MemberStatus { user_id: invitee, status: "joined" }))
}

/// Leaves the group (the user themself) or removes a member (owner or admin).
#[utoipa::path(delete, path = "/v1/groups/{id}/members/{user}", tag = "groups",
    params(("id" = i64, Path, minimum = 1, description = "The group id"), ("user" = i64, Path, minimum = 1, description = "The user id")),
    responses(
        (status = 200, description = "The user's membership now", body = MemberStatus),
        (status = 403, description = "Not the user, the owner or an admin", body = super::openapi::ErrorBody),
        (status = 404, description = "No such group or member", body = super::openapi::ErrorBody),
        (status = 409, description = "`owner_cannot_leave`", body = super::openapi::ErrorBody),
        super::openapi::Guarded,
    ),
    security(("bearer" = [])))]
pub(super) async fn remove_member(
    app: AppData,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let actor = require_user(&req, &app)?;
    let id = path_id(&path.0, "group")?;
    let user = path_id(&path.1, "user")?;
    app.write(move |s| groups::remove_member(s, actor, id, user)).await?;
    let status = if actor == user { "left" } else { "removed" };
    Ok(HttpResponse::Ok().json(MemberStatus { user_id: user, status }))
}
