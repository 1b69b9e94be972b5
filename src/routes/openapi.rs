//! The described API (SPEC §6): `GET /openapi.json`, an OpenAPI 3.1 document generated
//! from the handlers' annotations and the types they serialize, and `GET /docs`, a
//! reference page whose assets are compiled into the binary (no network at build or run
//! time).

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::{web, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use super::{activity, discovery, groups, health, moderation, page, users};
use crate::domain::fields::CategoryList;
use crate::error::{ApiError, Code};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "groupscout",
        description = "Find group chats worth joining: Chinese keyword search, groups near a point, live statistics, \
                       profile lists and recommendations, with the sync endpoints the main app calls.\n\n\
                       Every 4xx and 5xx answer is the error envelope `ErrorBody`. Anonymous callers may use \
                       search, nearby, suggest and group detail; everything else needs a bearer token: a user \
                       token (an HS256 JWT, `sub` = the user id) or the admin token. An empty query parameter \
                       (`category=`) is as if it were absent.",
        license(name = "MIT")
    ),
    paths(
        health::healthz,
        health::metrics,
        health::check_served,
        users::put_user,
        users::patch_settings,
        users::put_follow,
        users::delete_follow,
        users::get_groups,
        users::get_recommendations,
        groups::create,
        groups::detail,
        groups::patch,
        groups::dissolve,
        groups::put_admin,
        groups::delete_admin,
        groups::put_announcement,
        groups::join,
        groups::requests,
        groups::approve,
        groups::reject,
        groups::invite,
        groups::report,
        groups::remove_member,
        activity::post_activity,
        discovery::search,
        discovery::nearby,
        discovery::suggest,
        discovery::reload_related_terms,
        moderation::list,
        moderation::release,
        moderation::confirm,
        openapi_json,
        docs,
        docs_asset,
        page::index,
        page::app_js,
        page::app_css,
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode)),
    modifiers(&BearerAuth),
    tags(
        (name = "discovery", description = "Search, nearby, suggest: open to anonymous callers"),
        (name = "groups", description = "Creating and managing groups, joining, the detail page"),
        (name = "users", description = "Users, follows, profile lists and recommendations"),
        (name = "sync", description = "What the main app's servers report (admin token)"),
        (name = "moderation", description = "Trust and safety review (SPEC §5, admin token)"),
        (name = "operations", description = "Health, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme every protected operation names.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".to_string());
        http.description =
            Some("A user token (HS256 JWT, `sub` = the user id as a decimal string) or the admin token.".to_string());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The answers any operation with a token may give besides its own.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Guarded {
    /// No token, or not a valid one (`unauthorized`).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Over the rate limit (`rate_limited`, with `Retry-After`).
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// Over the time limit (`timeout`), or the store is busy (`unavailable`).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The answers of an operation for the admin token only, besides its own.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum AdminOnly {
    /// No token, or not a valid one (`unauthorized`).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// A user token (`forbidden`: this needs the admin token).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Over the rate limit (`rate_limited`, with `Retry-After`).
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// Over the time limit (`timeout`), or the store is busy (`unavailable`).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The answers to a JSON body that is not acceptable.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BodyErrors {
    /// The body is not JSON, or has a key twice (`malformed_json`).
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// The body is too large (`payload_too_large`).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// A field is missing or not acceptable (`invalid_field`; `field` names it).
    #[response(status = 422)]
    Invalid(ErrorBody),
}

/// The error envelope of every 4xx and 5xx answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// Human text; not for programs to parse.
    pub message: String,
    /// The parameter or body field at fault, or null.
    #[schema(required = true)]
    pub field: Option<String>,
}

/// A stable machine-readable error code; the HTTP status follows from it.
#[derive(Serialize)]
pub struct ErrorCode(pub &'static str);

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
            .description(Some("A stable machine-readable error code; the HTTP status follows from it."))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// The document as JSON, built once.
fn generated() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes"))
}

/// The document with this deployment's category ids (configuration, read at start) as the
/// values `category` takes.
pub fn document(categories: &CategoryList) -> String {
    let mut doc = generated().clone();
    let ids: Vec<serde_json::Value> = categories.ids().map(|id| id.into()).collect();
    for item in doc["paths"].as_object_mut().into_iter().flat_map(|p| p.values_mut()) {
        for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let params = op.get_mut("parameters").and_then(|p| p.as_array_mut());
            for param in params.into_iter().flatten().filter(|p| p["in"] == "query") {
                if param["name"] == "category" {
                    param["schema"]["enum"] = ids.clone().into();
                }
                // An empty query parameter is as if it were absent.
                if let Some(values) = param["schema"].get_mut("enum").and_then(|e| e.as_array_mut()) {
                    values.insert(0, "".into());
                }
            }
        }
    }
    for body in ["CreateBody", "PatchBody"] {
        if let Some(property) = doc.pointer_mut(&format!("/components/schemas/{body}/properties/category")) {
            property["enum"] = ids.clone().into();
        }
    }
    serde_json::to_string_pretty(&doc).expect("JSON serializes")
}

/// The methods the document gives for a route pattern, as an `Allow` header value.
pub fn allowed_methods(pattern: &str) -> Option<&'static str> {
    static ALLOW: OnceLock<HashMap<String, String>> = OnceLock::new();
    let map = ALLOW.get_or_init(|| {
        let doc = generated();
        let paths = doc["paths"].as_object().into_iter().flatten();
        paths
            .map(|(path, item)| {
                let methods: Vec<String> =
                    item.as_object().into_iter().flatten().map(|(m, _)| m.to_uppercase()).collect();
                (path.clone(), methods.join(", "))
            })
            .collect()
    });
    map.get(pattern).map(String::as_str)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let na = || web::to(super::method_not_allowed);
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi_json)).default_service(na()))
        .service(web::resource("/docs").route(web::get().to(docs)).default_service(na()))
        .service(web::resource("/docs/{asset}").route(web::get().to(docs_asset)).default_service(na()));
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json")))]
async fn openapi_json(app: super::AppData) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(document(app.categories()))
}

const DOCS_HTML: &str = include_str!("../../static/docs/index.html");
const DOCS_JS: &str = include_str!("../../static/docs/docs.js");
const DOCS_CSS: &str = include_str!("../../static/docs/docs.css");

/// The API reference page, for reading and trying the API in a browser; it needs no network.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "The API reference page", content_type = "text/html")))]
async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(DOCS_HTML)
}

/// The reference page's script and style sheet.
#[utoipa::path(get, path = "/docs/{asset}", tag = "operations",
    params(("asset" = String, Path, description = "`docs.js` or `docs.css`")),
    responses((status = 200, description = "The asset", content_type = "text/javascript"),
              (status = 404, description = "No such asset", body = ErrorBody)))]
async fn docs_asset(path: web::Path<String>) -> HttpResponse {
    let (body, kind) = match path.as_str() {
        "docs.js" => (DOCS_JS, "text/javascript; charset=utf-8"),
        "docs.css" => (DOCS_CSS, "text/css; charset=utf-8"),
        _ => return ApiError::new(Code::RouteNotFound, "no such endpoint").error_response(),
    };
    HttpResponse::Ok().content_type(kind).insert_header(("Cache-Control", "public, max-age=3600")).body(body)
}
