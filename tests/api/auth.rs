//! 401 for a missing or bad token, 403 for a valid token outside its rights.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

use crate::helpers::{spawn_app, token, ADMIN};

#[test]
fn admin_endpoints_refuse_anonymous_callers_and_users() {
    let app = spawn_app();
    let body = json!({"nickname": "x", "gender": "female"});
    let (s, b) = app.call("PUT", "/v1/users/1", Some(&body), None);
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (s, b) = app.call("PUT", "/v1/users/1", Some(&body), Some(&token(1)));
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = app.call("POST", "/v1/activity", Some(&json!({"events": []})), Some(&token(1)));
    assert_eq!(s, 403);
    let (s, _) = app.call("PUT", "/v1/users/1", Some(&body), Some(ADMIN));
    assert_eq!(s, 200);
}

#[test]
fn forged_expired_and_unsigned_tokens_are_401() {
    let app = spawn_app();
    app.owner(1, 2);
    let good = token(1);
    let create = json!({"name": "群", "category": "other"});
    let wrong_key =
        groupscout::auth::issue_user_token("another-secret-0123456789", 1, chrono::Utc::now().timestamp(), 60);
    let expired =
        groupscout::auth::issue_user_token(crate::helpers::SECRET, 1, chrono::Utc::now().timestamp() - 7200, 60);
    let parts: Vec<&str> = good.split('.').collect();
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    for bad in [wrong_key.as_str(), expired.as_str(), none.as_str(), "not-a-token"] {
        let (s, b) = app.call("POST", "/v1/groups", Some(&create), Some(bad));
        assert_eq!(s, 401, "{bad}: {b}");
        assert_eq!(b["error"]["code"], "unauthorized");
    }
    // Anonymous reads are fine; a bad token on a read is still 401.
    assert_eq!(app.get("/v1/search?q=x", None).0, 200);
    assert_eq!(app.get("/v1/search?q=x", Some("garbage")).0, 401);
}

#[test]
fn users_act_only_for_themselves() {
    let app = spawn_app();
    app.owner(1, 2);
    let (s, _) = app.as_user(2, "PATCH", "/v1/users/1/settings", Some(&json!({"show_joined_groups": true})));
    assert_eq!(s, 403);
    let (s, b) = app.as_user(1, "PATCH", "/v1/users/1/settings", Some(&json!({"show_joined_groups": true})));
    assert_eq!((s, b["show_joined_groups"].as_bool()), (200, Some(true)));
    assert_eq!(app.as_user(2, "GET", "/v1/users/1/recommendations", None).0, 403);
    assert_eq!(app.get("/v1/users/1/recommendations", None).0, 401);
    assert_eq!(app.as_user(1, "GET", "/v1/users/1/recommendations", None).0, 200);
    // The admin token is not a user.
    let (s, _) = app.call("POST", "/v1/groups", Some(&json!({"name": "群", "category": "other"})), Some(ADMIN));
    assert_eq!(s, 403);
    let g = app.group(1, json!({"name": "别人的群", "category": "other"}));
    let (s, _) = app.as_user(2, "PATCH", &format!("/v1/groups/{g}"), Some(&json!({"name": "抢"})));
    assert_eq!(s, 403);
    let (s, _) = app.as_user(2, "DELETE", &format!("/v1/groups/{g}"), None);
    assert_eq!(s, 403);
}
