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

/// Another connection holding the app's SQLite write lock (`None` on PostgreSQL).
fn hold_write_lock(app: &crate::helpers::TestApp) -> Option<rusqlite::Connection> {
    let path = app.app.settings.db.to_str().filter(|p| !p.starts_with("postgres"))?;
    let lock = rusqlite::Connection::open(path).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    Some(lock)
}

fn sync_user(app: &crate::helpers::TestApp) -> (u16, serde_json::Value) {
    app.admin("PUT", "/v1/users/1", Some(&serde_json::json!({"nickname": "a", "gender": "male"})))
}

#[test]
fn a_request_over_its_time_limit_gets_503_timeout_not_500() {
    let app = spawn_app_with_settings(|s| s.request_timeout = std::time::Duration::from_secs(1));
    // Another connection holds the write lock, so the write waits past the time limit.
    let Some(lock) = hold_write_lock(&app) else { return };
    let started = std::time::Instant::now();
    let (s, b) = sync_user(&app);
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["error"]["code"], "timeout", "{b}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    lock.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_store_locked_past_its_wait_answers_503_unavailable_not_500() {
    let app = spawn_app();
    let Some(lock) = hold_write_lock(&app) else { return };
    // The store waits 10 s for the lock, then answers.
    let started = std::time::Instant::now();
    let (s, b) = sync_user(&app);
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["error"]["code"], "unavailable", "{b}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(9), "{:?}", started.elapsed());
    lock.execute_batch("ROLLBACK").unwrap();
    let (s, b) = sync_user(&app);
    assert_eq!(s, 200, "{b}");
}
