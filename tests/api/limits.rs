//! SPEC §6 "Requests": a request id on every response, and the rate limit.

use crate::helpers::{spawn_app, spawn_app_with_settings, token, ADMIN};

fn get(base: &str, path: &str, auth: Option<&str>, id: Option<&str>) -> (u16, Option<String>, Option<String>, String) {
    let mut req = ureq::get(&format!("{base}{path}"));
    if let Some(t) = auth {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    if let Some(i) = id {
        req = req.set("X-Request-Id", i);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    let status = resp.status();
    let rid = resp.header("x-request-id").map(String::from);
    let retry = resp.header("retry-after").map(String::from);
    (status, rid, retry, resp.into_string().unwrap_or_default())
}

#[test]
fn every_response_carries_a_request_id_echoing_a_well_formed_one() {
    let app = spawn_app();
    for path in ["/healthz", "/v1/search?q=x", "/v1/groups/999", "/no/such/path"] {
        let (_, id, _, _) = get(&app.base, path, None, None);
        assert!(id.as_deref().is_some_and(|i| i.len() == 16), "{path}: {id:?}");
    }
    let (_, id, _, _) = get(&app.base, "/v1/search?q=x", None, Some("trace-42.a_b"));
    assert_eq!(id.as_deref(), Some("trace-42.a_b"));
    let (_, id, _, _) = get(&app.base, "/v1/search?q=x", None, Some("not ok!"));
    assert!(id.as_deref().is_some_and(|i| i != "not ok!" && i.len() == 16), "{id:?}");
}

#[test]
fn over_the_rate_limit_a_caller_gets_429_with_retry_after_but_never_the_admin_token() {
    let app = spawn_app_with_settings(|s| s.rate_limit = 2.0);
    let path = "/v1/search?q=x";
    // Anonymous: per client address, a burst of two.
    assert_eq!(get(&app.base, path, None, None).0, 200);
    assert_eq!(get(&app.base, path, None, None).0, 200);
    let (s, id, retry, body) = get(&app.base, path, None, None);
    assert_eq!(s, 429, "{body}");
    assert!(id.is_some());
    assert_eq!(retry.as_deref(), Some("1"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "rate_limited", "{body}");
    // A user token has a bucket of its own; the admin token none; health checks pass.
    let user = token(5);
    assert_eq!(get(&app.base, path, Some(&user), None).0, 200);
    assert_eq!(get(&app.base, path, Some(&user), None).0, 200);
    assert_eq!(get(&app.base, path, Some(&user), None).0, 429);
    for _ in 0..10 {
        assert_eq!(get(&app.base, path, Some(ADMIN), None).0, 200);
        assert_eq!(get(&app.base, "/healthz", None, None).0, 200);
    }
    // The bucket refills at the rate.
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(get(&app.base, path, None, None).0, 200);
}
