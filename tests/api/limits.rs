//! SPEC §6 "Requests": a request id on every response, the rate limit, time limits, and
//! the abuse limits of the connection itself (head size, slow clients).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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

/// Opens a connection, sends `start` at once, then `drip` one byte every `every` until the
/// server answers or closes (or `give_up` passes); returns what it answered and when.
fn trickle(app: &crate::helpers::TestApp, start: &[u8], drip: &[u8], every: Duration, give_up: Duration) -> Trickled {
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).expect("connects");
    stream.write_all(start).unwrap();
    trickle_on(stream, drip, every, give_up)
}

/// Drips `drip` one byte every `every` on `stream` until the server answers or closes.
fn trickle_on(mut stream: TcpStream, drip: &[u8], every: Duration, give_up: Duration) -> Trickled {
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(every)).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut sent = 0;
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Trickled { answer, closed: true, after: started.elapsed(), sent },
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            // Reset by the server: cut off.
            Err(_) => return Trickled { answer, closed: true, after: started.elapsed(), sent },
        }
        if started.elapsed() > give_up {
            return Trickled { answer, closed: false, after: started.elapsed(), sent };
        }
        if answer.is_empty() && stream.write_all(&drip[sent % drip.len()..][..1]).is_ok() {
            sent += 1;
        }
    }
}

struct Trickled {
    /// The bytes the server sent back.
    answer: Vec<u8>,
    /// Whether the server closed the connection.
    closed: bool,
    after: Duration,
    /// Bytes dripped after the start.
    sent: usize,
}

impl Trickled {
    fn status(&self) -> Option<u16> {
        String::from_utf8_lossy(&self.answer).split(' ').nth(1).and_then(|s| s.parse().ok())
    }
}

/// A whole request on its own connection, answered with its status.
fn quick_get(app: &crate::helpers::TestApp, path: &str) -> u16 {
    app.get_raw(path, None).0
}

#[test]
fn a_head_over_the_size_bound_gets_431_whatever_its_shape_and_the_server_keeps_serving() {
    let app = spawn_app();
    let one_huge_value = format!("GET /v1/search?q=x HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000));
    let many_headers = format!("GET /v1/search?q=x HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-A: b\r\n".repeat(500));
    let huge_target = format!("GET /v1/search?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "x".repeat(200_000));
    let no_line_end = "G".repeat(300_000);
    for (what, req) in [
        ("one huge value", one_huge_value.as_bytes()),
        ("many headers", many_headers.as_bytes()),
        ("huge target", huge_target.as_bytes()),
        ("no line end", no_line_end.as_bytes()),
    ] {
        let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // The server may answer and close before it has read everything: a failed write
        // is fine, the answer is what counts.
        let _ = stream.write_all(req);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 431"), "{what}: {}", &text[..text.len().min(200)]);
        assert!(text.contains("request_header_too_large"), "{what}: {text}");
        assert_eq!(quick_get(&app, "/healthz"), 200, "{what}");
    }
    // Just under the bound is fine.
    let fits = format!(
        "GET /v1/search?q=x HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(100_000)
    );
    assert_eq!(app.send_bytes(fits.as_bytes()).0, 200);
}

#[test]
fn a_client_trickling_its_head_gets_408_after_the_client_time_limit_while_others_are_served() {
    let app = spawn_app_with_settings(|s| s.client_timeout = Duration::from_secs(1));
    let base = app.base.clone();
    let slow = std::thread::scope(|scope| {
        let slow: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    trickle(
                        &app,
                        b"GET /v1/search?q=x HTTP/1.1\r\nHost: x\r\n",
                        b"X-Slow: aaaaaaaaaaaa\r\n",
                        Duration::from_millis(100),
                        Duration::from_secs(20),
                    )
                })
            })
            .collect();
        // Meanwhile, other clients are answered at once.
        for _ in 0..10 {
            assert_eq!(quick_get(&app, "/v1/search?q=x"), 200, "{base}");
            std::thread::sleep(Duration::from_millis(50));
        }
        slow.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    for t in slow {
        assert!(t.closed, "a trickling client was never cut off ({:?}, {} bytes)", t.after, t.sent);
        assert_eq!(t.status(), Some(408), "{}", String::from_utf8_lossy(&t.answer));
        assert!(String::from_utf8_lossy(&t.answer).contains("request_timeout"));
        assert!(t.after < Duration::from_secs(10), "{:?}", t.after);
    }
}

#[test]
fn a_second_request_trickled_on_a_kept_alive_connection_is_cut_off_too() {
    // actix-http's own head timer covers only a connection's first request.
    let app = spawn_app_with_settings(|s| s.client_timeout = Duration::from_secs(1));
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let drip = format!("GET /v1/search?q=x HTTP/1.1\r\n{}", "X-Slow: a\r\n".repeat(1000));
    let t = trickle_on(stream, drip.as_bytes(), Duration::from_millis(100), Duration::from_secs(20));
    assert!(t.closed, "never cut off ({:?}, {} bytes)", t.after, t.sent);
    assert_eq!(t.status(), Some(408), "{}", String::from_utf8_lossy(&t.answer));
    assert!(t.after < Duration::from_secs(10), "{:?}", t.after);
}

#[test]
fn a_client_trickling_its_body_is_cut_off_after_the_client_time_limit() {
    let app = spawn_app_with_settings(|s| s.client_timeout = Duration::from_secs(1));
    let head = format!(
        "PUT /v1/users/7 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    let t = trickle(&app, head.as_bytes(), b" ", Duration::from_millis(100), Duration::from_secs(20));
    assert!(t.closed, "never cut off ({:?}, {} bytes)", t.after, t.sent);
    assert!(t.after < Duration::from_secs(10), "{:?}", t.after);
    assert!(t.sent < 1000, "the whole body went through");
    assert!(!matches!(t.status(), Some(s) if s >= 500), "{}", String::from_utf8_lossy(&t.answer));
    // Nothing was written (user 7 is still unknown), and the server is well.
    assert_eq!(app.get("/v1/users/7/groups", None).0, 404);
    let (s, _) = app.admin("PUT", "/v1/users/7", Some(&serde_json::json!({"nickname": "a", "gender": "male"})));
    assert_eq!(s, 200);
}
