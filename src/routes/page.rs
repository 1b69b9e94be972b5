//! The discovery page at `/`: plain HTML, CSS and JavaScript from `static/`, compiled into
//! the binary so the service needs no build step and no network to show it. The page calls
//! the public API (`/v1/search`, `/v1/suggest`, `/v1/nearby`, `/v1/groups/{id}`) like any
//! other client.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::AppData;

const INDEX_HTML: &str = include_str!("../../static/index.html");
const APP_JS: &str = include_str!("../../static/app.js");
const APP_CSS: &str = include_str!("../../static/app.css");

/// Where `index.html` takes the category list (id → label) from `data/categories`, so the
/// page shows the labels operators configured without a call of its own.
const CATEGORIES_SLOT: &str = "{{categories}}";
/// Where `index.html` takes the assets' version, so a new binary's page never runs an old
/// script from a browser's cache.
const VERSION_SLOT: &str = "{{version}}";

/// Assets may be cached for a day: their URLs carry the version of their content.
const ASSET_CACHE: &str = "public, max-age=86400";
/// Leaves the page itself out of caches, so it always names the current assets.
const PAGE_CACHE: &str = "no-cache";
/// Everything the page loads comes from this service; nothing runs inline.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                           img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    let na = || web::to(super::method_not_allowed);
    cfg.service(web::resource("/").route(web::get().to(index)).default_service(na()))
        .service(web::resource("/static/app.js").route(web::get().to(app_js)).default_service(na()))
        .service(web::resource("/static/app.css").route(web::get().to(app_css)).default_service(na()));
}

/// A short fingerprint of the assets' content (FNV-1a), computed once.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in APP_JS.bytes().chain(APP_CSS.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:012x}", hash >> 16)
    })
}

/// The category list as JSON `[[id, label], ...]` in the list's order, safe inside a
/// `<script>` element: `<`, `>` and `&` are written as escapes, so no label can close it.
fn categories_json(app: &AppData) -> String {
    let list = app.categories();
    let pairs: Vec<(&str, &str)> = list.ids().map(|id| (id, list.label(id))).collect();
    serde_json::to_string(&pairs)
        .unwrap_or_else(|_| "[]".to_string())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The discovery page: search with suggestions, category chips, cards, nearby on a map.
#[utoipa::path(get, path = "/", tag = "operations",
    responses((status = 200, description = "The discovery page", content_type = "text/html")))]
pub(super) async fn index(app: AppData) -> HttpResponse {
    let body = INDEX_HTML.replace(CATEGORIES_SLOT, &categories_json(&app)).replace(VERSION_SLOT, version());
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, PAGE_CACHE))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body)
}

/// An asset with its content type, a cache header and an ETag (a matching
/// `If-None-Match` is answered 304 without the body).
fn asset(req: &HttpRequest, content_type: &str, body: &'static str) -> HttpResponse {
    let etag = format!("\"{}\"", version());
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    resp.insert_header((header::CACHE_CONTROL, ASSET_CACHE))
        .insert_header((header::ETAG, etag))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        resp.finish()
    } else {
        resp.content_type(content_type).body(body)
    }
}

/// The discovery page's script.
#[utoipa::path(get, path = "/static/app.js", tag = "operations",
    responses((status = 200, description = "The script", content_type = "text/javascript"),
              (status = 304, description = "Not modified (`If-None-Match`)")))]
pub(super) async fn app_js(req: HttpRequest) -> HttpResponse {
    asset(&req, "text/javascript; charset=utf-8", APP_JS)
}

/// The discovery page's style sheet.
#[utoipa::path(get, path = "/static/app.css", tag = "operations",
    responses((status = 200, description = "The style sheet", content_type = "text/css"),
              (status = 304, description = "Not modified (`If-None-Match`)")))]
pub(super) async fn app_css(req: HttpRequest) -> HttpResponse {
    asset(&req, "text/css; charset=utf-8", APP_CSS)
}
