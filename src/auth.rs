//! Bearer tokens: HS256 JWTs for users (`sub` = user id, `exp` required) and the admin token.
//! Only `alg: HS256` is accepted; `none` and every other algorithm are refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    User(i64),
    Admin,
}

impl Caller {
    pub fn user_id(self) -> Option<i64> {
        match self {
            Caller::User(id) => Some(id),
            _ => None,
        }
    }
}

/// Why a token was refused (all of these are 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The Authorization header is not `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    /// The token is not a well-formed HS256 JWT.
    #[error("the token is not a valid HS256 JWT")]
    Invalid,
    /// The signature does not match.
    #[error("the token signature is invalid")]
    BadSignature,
    /// The token has expired or has no expiry.
    #[error("the token has expired")]
    Expired,
    /// The token was issued for later (`iat` or `nbf` ahead of this clock).
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// How far ahead of this clock a token's `iat` or `nbf` may be (another machine's clock).
const CLOCK_SKEW_SECS: i64 = 60;

fn sign(secret: &str, signing_input: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A user token valid for `ttl_secs` from `now`.
pub fn issue_user_token(secret: &str, user_id: i64, now: i64, ttl_secs: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({"sub": user_id.to_string(), "iat": now, "exp": now + ttl_secs});
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let sig = URL_SAFE_NO_PAD.encode(sign(secret, &input));
    format!("{input}.{sig}")
}

/// Verifies a user token and returns its user id.
pub fn verify_user_token(secret: &str, token: &str, now: i64) -> Result<i64, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Invalid);
    };
    let header: serde_json::Value =
        URL_SAFE_NO_PAD.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(TokenError::Invalid)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(TokenError::Invalid);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Invalid)?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(p.as_bytes());
    mac.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let claims: serde_json::Value =
        URL_SAFE_NO_PAD.decode(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(TokenError::Invalid)?;
    let exp = claims.get("exp").and_then(|e| e.as_i64()).ok_or(TokenError::Expired)?;
    if exp <= now {
        return Err(TokenError::Expired);
    }
    // Not valid yet: issued or starting more than a minute ahead of this clock.
    for claim in ["iat", "nbf"] {
        match claims.get(claim) {
            None => {}
            Some(v) => match v.as_i64() {
                Some(t) if t <= now + CLOCK_SKEW_SECS => {}
                _ => return Err(TokenError::NotYetValid),
            },
        }
    }
    let sub = claims.get("sub").and_then(|s| s.as_str()).ok_or(TokenError::Invalid)?;
    if sub.is_empty() || !sub.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Invalid);
    }
    let id: i64 = sub.parse().map_err(|_| TokenError::Invalid)?;
    if id <= 0 {
        return Err(TokenError::Invalid);
    }
    Ok(id)
}

/// Constant-time comparison, so the admin token cannot be guessed byte by byte.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Identifies the caller from an Authorization header value (or its absence).
pub fn identify(header: Option<&str>, secret: &str, admin_token: &str, now: i64) -> Result<Caller, TokenError> {
    let Some(value) = header else {
        return Ok(Caller::Anonymous);
    };
    let token = value.strip_prefix("Bearer ").map(str::trim).ok_or(TokenError::Malformed)?;
    if token.is_empty() {
        return Err(TokenError::Malformed);
    }
    if same_secret(token, admin_token) {
        return Ok(Caller::Admin);
    }
    verify_user_token(secret, token, now).map(Caller::User)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "unit-test-secret-0123456789";

    #[test]
    fn a_token_round_trips_to_its_user() {
        let t = issue_user_token(SECRET, 42, 1_000, 3_600);
        assert_eq!(verify_user_token(SECRET, &t, 1_001), Ok(42));
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        let t = issue_user_token(SECRET, 42, 1_000, 10);
        assert_eq!(verify_user_token(SECRET, &t, 2_000), Err(TokenError::Expired));
        assert_eq!(verify_user_token("another-secret-0123456789", &t, 1_001), Err(TokenError::BadSignature));
        let parts: Vec<&str> = t.split('.').collect();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(verify_user_token(SECRET, &format!("{none}.{}.", parts[1]), 1_001), Err(TokenError::Invalid));
        let hs512 = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        assert_eq!(
            verify_user_token(SECRET, &format!("{hs512}.{}.{}", parts[1], parts[2]), 1_001),
            Err(TokenError::Invalid)
        );
        assert_eq!(verify_user_token(SECRET, "garbage", 1_001), Err(TokenError::Invalid));
    }

    #[test]
    fn the_header_decides_between_anonymous_admin_and_user() {
        assert_eq!(identify(None, SECRET, "admin-token-0123456789", 0), Ok(Caller::Anonymous));
        assert_eq!(
            identify(Some("Bearer admin-token-0123456789"), SECRET, "admin-token-0123456789", 0),
            Ok(Caller::Admin)
        );
        assert_eq!(identify(Some("Basic abc"), SECRET, "admin-token-0123456789", 0), Err(TokenError::Malformed));
        let t = issue_user_token(SECRET, 7, 0, 60);
        assert_eq!(identify(Some(&format!("Bearer {t}")), SECRET, "admin-token-0123456789", 1), Ok(Caller::User(7)));
    }
}
