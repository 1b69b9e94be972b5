//! The one error type of the service: every failure has a stable machine-readable code,
//! and the HTTP status derives from the code.

use std::fmt;

/// Stable error codes. The HTTP status is a function of the code alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The body is not JSON, or not the expected shape at the syntax level.
    MalformedJson,
    /// A query parameter is missing, malformed or out of range.
    InvalidParameter,
    /// A forged or foreign pagination cursor.
    InvalidCursor,
    /// A place name the gazetteer does not know.
    UnknownPlace,
    /// A body field is well-formed JSON but not an acceptable value.
    InvalidField,
    /// No token, a malformed token, a bad signature or an expired token.
    Unauthorized,
    /// A valid token acting outside its rights.
    Forbidden,
    /// Creating a group needs enough mutual-follow friends.
    NeedsMutualFriend,
    /// Something the request names does not exist (or is not visible to the caller).
    NotFound,
    /// The owner already owns as many groups as the tier allows.
    GroupQuotaExceeded,
    /// The group has no room left.
    GroupFull,
    /// The user is already a member of the group.
    AlreadyMember,
    /// The user already has a pending application to the group.
    AlreadyPending,
    /// The owner cannot leave their own group, or lose the owner role.
    OwnerCannotLeave,
    /// The user named must be a member of the group.
    NotAMember,
    /// The request conflicts with the current state in another way.
    Conflict,
    /// Over `GROUPSCOUT_RATE_LIMIT` for this token or client address (429, `Retry-After`).
    RateLimited,
    /// The request took longer than the time limit (503).
    Timeout,
    /// The store stayed busy past its wait (a lock held elsewhere, no free connection) (503).
    Unavailable,
    /// The request body is larger than the limit.
    PayloadTooLarge,
    /// The path does not exist.
    RouteNotFound,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// The request itself is not valid HTTP (its request line, a header, its framing).
    MalformedRequest,
    /// The request head is larger than the server reads, or has too many headers.
    HeadTooLarge,
    /// The client did not send its request head within the client time limit (408).
    RequestTimeout,
    /// A failure of the service itself; details are in the log, not the response.
    Internal,
}

impl Code {
    /// Every code, in the order above (the OpenAPI document lists them).
    pub const ALL: [Code; 26] = [
        Code::MalformedJson,
        Code::InvalidParameter,
        Code::InvalidCursor,
        Code::UnknownPlace,
        Code::InvalidField,
        Code::Unauthorized,
        Code::Forbidden,
        Code::NeedsMutualFriend,
        Code::NotFound,
        Code::GroupQuotaExceeded,
        Code::GroupFull,
        Code::AlreadyMember,
        Code::AlreadyPending,
        Code::OwnerCannotLeave,
        Code::NotAMember,
        Code::Conflict,
        Code::RateLimited,
        Code::Timeout,
        Code::Unavailable,
        Code::PayloadTooLarge,
        Code::RouteNotFound,
        Code::MethodNotAllowed,
        Code::MalformedRequest,
        Code::HeadTooLarge,
        Code::RequestTimeout,
        Code::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::MalformedJson => "malformed_json",
            Code::InvalidParameter => "invalid_parameter",
            Code::InvalidCursor => "invalid_cursor",
            Code::UnknownPlace => "unknown_place",
            Code::InvalidField => "invalid_field",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::NeedsMutualFriend => "needs_mutual_friend",
            Code::NotFound => "not_found",
            Code::GroupQuotaExceeded => "group_quota_exceeded",
            Code::GroupFull => "group_full",
            Code::AlreadyMember => "already_member",
            Code::AlreadyPending => "already_pending",
            Code::OwnerCannotLeave => "owner_cannot_leave",
            Code::NotAMember => "not_a_member",
            Code::Conflict => "conflict",
            Code::RateLimited => "rate_limited",
            Code::Timeout => "timeout",
            Code::Unavailable => "unavailable",
            Code::PayloadTooLarge => "payload_too_large",
            Code::RouteNotFound => "route_not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::MalformedRequest => "malformed_request",
            Code::HeadTooLarge => "request_header_too_large",
            Code::RequestTimeout => "request_timeout",
            Code::Internal => "internal",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Code::MalformedJson
            | Code::InvalidParameter
            | Code::InvalidCursor
            | Code::UnknownPlace
            | Code::MalformedRequest => 400,
            Code::Unauthorized => 401,
            Code::Forbidden | Code::NeedsMutualFriend => 403,
            Code::NotFound | Code::RouteNotFound => 404,
            Code::MethodNotAllowed => 405,
            Code::GroupQuotaExceeded
            | Code::GroupFull
            | Code::AlreadyMember
            | Code::AlreadyPending
            | Code::OwnerCannotLeave
            | Code::NotAMember
            | Code::Conflict => 409,
            Code::RateLimited => 429,
            Code::Timeout | Code::Unavailable => 503,
            Code::PayloadTooLarge => 413,
            Code::HeadTooLarge => 431,
            Code::RequestTimeout => 408,
            Code::InvalidField => 422,
            Code::Internal => 500,
        }
    }
}

/// An error as the API reports it: a code, a human message and the offending field.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), field: None }
    }

    pub fn field(code: Code, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), field: Some(field.into()) }
    }

    pub fn param(field: &str, message: impl Into<String>) -> Self {
        Self::field(Code::InvalidParameter, field, message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::field(Code::InvalidField, field, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    pub fn internal(err: impl fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(Code::Internal, "internal error")
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {"code": self.code.as_str(), "message": self.message, "field": self.field}
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::store::DbError> for ApiError {
    fn from(e: crate::store::DbError) -> Self {
        if e.is_busy() {
            tracing::warn!(error = %e, "the store stayed busy past its wait (a lock held elsewhere); answering 503");
            return ApiError::new(Code::Unavailable, format!("the store is busy; try again ({e})"));
        }
        ApiError::internal(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<ApiError>() {
            Ok(api) => api,
            Err(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_in_all() {
        // Each variant has one `as_str` arm; ALL must name each of them once.
        let source = include_str!("error.rs");
        let arms = source.matches(" => \"").count();
        assert_eq!(Code::ALL.len(), arms, "Code::ALL lists every variant");
        let names: std::collections::BTreeSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len());
    }
}
