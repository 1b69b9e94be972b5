//! HTTP: the only folder that imports actix-web. Each file is one resource; handlers parse
//! and authorise, run the work off the async workers, and shape the JSON.

mod activity;
mod discovery;
mod groups;
mod health;
mod moderation;
pub mod openapi;
mod page;
mod users;
mod wire;

pub use crate::service::reading;
pub use wire::TidyHeads;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult, Code};
use crate::service::App;

pub type AppData = web::Data<Arc<App>>;

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self.body())
    }
}

/// Bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 1 << 20;
/// Activity batches of 10,000 events need more room than other bodies.
pub const ACTIVITY_BODY_LIMIT: usize = 4 << 20;

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    users::configure(cfg);
    groups::configure(cfg);
    activity::configure(cfg);
    discovery::configure(cfg);
    moderation::configure(cfg);
    openapi::configure(cfg);
    page::configure(cfg);
}

/// The JSON answer for paths that do not exist, and for the stand-in of a malformed
/// request (see `wire`), which names what was wrong in its path.
pub async fn route_not_found(req: HttpRequest) -> ApiResult<HttpResponse> {
    if req.method().as_str() == wire::MALFORMED_METHOD {
        return Err(match req.path() {
            "/head_too_large" => {
                ApiError::new(Code::HeadTooLarge, "the request head is too large or has too many headers")
            }
            "/request_timeout" => ApiError::new(
                Code::RequestTimeout,
                "the request head did not arrive within the client time limit (GROUPSCOUT_CLIENT_TIMEOUT)",
            ),
            _ => ApiError::new(Code::MalformedRequest, "the request is not valid HTTP/1.1"),
        });
    }
    Err(ApiError::new(Code::RouteNotFound, "no such endpoint"))
}

/// Errors of actix's own extractors (a path segment that is not valid UTF-8 once decoded,
/// say) get the JSON envelope like the rest.
pub fn configure_extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|e, _| ApiError::new(Code::InvalidParameter, format!("the path is not valid: {e}")).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| {
        ApiError::new(Code::InvalidParameter, format!("the query string is not valid: {e}")).into()
    }))
    .app_data(
        web::JsonConfig::default().limit(BODY_LIMIT).error_handler(|e, _| {
            ApiError::new(Code::MalformedJson, format!("the body is not valid JSON: {e}")).into()
        }),
    );
}

/// The JSON answer for a method a path does not take, with the `Allow` header the
/// described API gives for the path.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let mut resp = ApiError::new(Code::MethodNotAllowed, "this method is not allowed here").error_response();
    if let Some(allow) = req.match_pattern().and_then(|p| openapi::allowed_methods(&p)) {
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
            resp.headers_mut().insert(actix_web::http::header::ALLOW, value);
        }
    }
    resp
}

/// Identifies the caller; a present but invalid token is 401.
pub fn caller(req: &HttpRequest, app: &App) -> ApiResult<Caller> {
    let header = match req.headers().get("authorization") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?),
    };
    auth::identify(header, &app.settings.secret, &app.settings.admin_token, chrono::Utc::now().timestamp())
        .map_err(|e| ApiError::unauthorized(e.to_string()))
}

pub fn require_admin(req: &HttpRequest, app: &App) -> ApiResult<()> {
    match caller(req, app)? {
        Caller::Admin => Ok(()),
        Caller::Anonymous => Err(ApiError::unauthorized("this endpoint needs the admin token")),
        Caller::User(_) => Err(ApiError::forbidden("this endpoint is for the admin token only")),
    }
}

pub fn require_user(req: &HttpRequest, app: &App) -> ApiResult<i64> {
    match caller(req, app)? {
        Caller::User(id) => Ok(id),
        Caller::Anonymous => Err(ApiError::unauthorized("this endpoint needs a user token")),
        Caller::Admin => Err(ApiError::forbidden("this endpoint acts for a user; use a user token")),
    }
}

/// A path id: anything but a positive integer names nothing.
pub fn path_id(raw: &str, what: &str) -> ApiResult<i64> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::not_found(what)),
    }
}

/// Reads the body up to `limit` bytes (413 beyond) and parses it: malformed JSON is 400,
/// a well-formed body with a wrong field is 422 naming the field.
pub async fn json_body<T: DeserializeOwned>(mut payload: web::Payload, limit: usize) -> ApiResult<T> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(Code::MalformedJson, format!("failed to read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(Code::PayloadTooLarge, format!("the body is larger than {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    parse_json(&body)
}

/// A JSON document with no object holding the same key twice (which parsers resolve
/// differently, so a body that has one is refused rather than guessed at).
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<NoDuplicateKeys, A::Error> {
        while a.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<NoDuplicateKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = a.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("the key {key:?} appears twice")));
            }
            a.next_value::<NoDuplicateKeys>()?;
        }
        Ok(NoDuplicateKeys)
    }
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let text = if body.iter().all(|b| b.is_ascii_whitespace()) { &b"{}"[..] } else { body };
    // Syntax first, so a malformed body is 400 whatever its fields; then the shape, so a
    // wrong field is 422 naming it.
    serde_json::from_slice::<NoDuplicateKeys>(text)
        .map_err(|e| ApiError::new(Code::MalformedJson, format!("the body is not valid JSON: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| ApiError::new(Code::MalformedJson, format!("the body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let mut field = if path == "." { String::new() } else { path };
        if let Some(rest) = msg.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            field = if field.is_empty() { name.to_string() } else { format!("{field}.{name}") };
        }
        ApiError { code: Code::InvalidField, message: msg, field: (!field.is_empty()).then_some(field) }
    })
}

/// Query parameters as an ordered list. `+` is a space and `%XX` a byte; a name or value
/// whose bytes are not UTF-8 once decoded is 400 naming it (a `%` not followed by two hex
/// digits stays as it is, as browsers read it).
pub fn query_pairs(req: &HttpRequest) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in req.query_string().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name)
            .map_err(|_| ApiError::new(Code::InvalidParameter, "a parameter name is not UTF-8 once decoded"))?;
        let value =
            percent_decode(value).map_err(|_| ApiError::param(&name, format!("{name} is not UTF-8 once decoded")))?;
        out.push((name, value));
    }
    Ok(out)
}

/// Decodes `+` and `%XX` of a query string part.
fn percent_decode(part: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = part.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

/// Typed access to query parameters with errors that name the parameter.
pub struct Params<'a>(pub &'a [(String, String)]);

impl Params<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn f64_in(&self, key: &str, min: f64, max: f64, min_exclusive: bool) -> ApiResult<Option<f64>> {
        let Some(raw) = self.get(key).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let v: f64 = raw.trim().parse().map_err(|_| ApiError::param(key, format!("{key} must be a number")))?;
        let low_ok = if min_exclusive { v > min } else { v >= min };
        if !v.is_finite() || !low_ok || v > max {
            let low = if min_exclusive { format!("greater than {min}") } else { format!("at least {min}") };
            return Err(ApiError::param(key, format!("{key} must be {low} and at most {max}")));
        }
        Ok(Some(v))
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::param(key, format!("{key} must be true or false"))),
        }
    }

    /// `limit`: 1–50, default 20.
    pub fn limit(&self) -> ApiResult<usize> {
        match self.get("limit").filter(|v| !v.is_empty()) {
            None => Ok(20),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if (1..=50).contains(&n) => Ok(n),
                _ => Err(ApiError::param("limit", "limit must be an integer from 1 to 50")),
            },
        }
    }

    /// A location given as lat and lon together (one without the other is 400).
    pub fn origin(&self) -> ApiResult<Option<(f64, f64)>> {
        let lat = self.f64_in("lat", -90.0, 90.0, false)?;
        let lon = self.f64_in("lon", -180.0, 180.0, false)?;
        match (lat, lon) {
            (Some(a), Some(b)) => Ok(Some((a, b))),
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ApiError::param("lat", "lat and lon go together")),
            (Some(_), None) => Err(ApiError::param("lon", "lat and lon go together")),
        }
    }
}
