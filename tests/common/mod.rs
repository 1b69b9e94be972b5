//! What the PostgreSQL test files share.

/// The PostgreSQL server the tests may use (`GROUPSCOUT_TEST_PG`, an admin URL whose role
/// may create databases, as `.ci/postgres start` prints), or a loud SKIPPED line (straight
/// to stderr, past the test harness's capture) and `None`.
#[allow(dead_code)]
pub fn postgres_server(what: &str) -> Option<String> {
    match std::env::var("GROUPSCOUT_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: {what} need GROUPSCOUT_TEST_PG (see .ci/postgres); nothing was tested ***\n"
            );
            None
        }
    }
}

/// One HTTP call to a running server: the status and the JSON body (Null when empty).
#[allow(dead_code)]
pub fn call(
    base: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    auth: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = ureq::request(method, &format!("{base}{path}")).timeout(std::time::Duration::from_secs(30));
    if let Some(t) = auth {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match resp {
        Ok(r) => (r.status(), r.into_json().unwrap_or(serde_json::Value::Null)),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(serde_json::Value::Null)),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}
