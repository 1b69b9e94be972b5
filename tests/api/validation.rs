//! Bad input: a clear 4xx with the error envelope, and nothing changed.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, token, TestApp};

#[track_caller]
fn assert_error(resp: (u16, Value), status: u16, code: &str, field: Option<&str>) {
    let (s, b) = resp;
    assert_eq!(s, status, "{b}");
    assert_eq!(b["error"]["code"], code, "{b}");
    assert!(b["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    assert_eq!(b["error"]["field"].as_str(), field, "{b}");
}

fn group_count(app: &TestApp) -> i64 {
    app.app.store.read(groupscout::store::groups::count_all).unwrap()
}

#[test]
fn invalid_group_fields_are_422_naming_the_field_and_create_nothing() {
    let app = spawn_app();
    app.owner(1, 2);
    let cases = [
        (json!({"name": "   ", "category": "outdoor"}), "name"),
        (json!({"name": "群".repeat(31), "category": "outdoor"}), "name"),
        (json!({"name": "ok", "category": "nope"}), "category"),
        (json!({"name": "ok", "category": "outdoor", "description": "字".repeat(501)}), "description"),
        (json!({"name": "ok", "category": "outdoor", "announcement": "字".repeat(1001)}), "announcement"),
        (json!({"name": "ok", "category": "outdoor", "location": {"lat": 91, "lon": 0}}), "location.lat"),
        (json!({"name": "ok", "category": "outdoor", "location": {"lat": 0, "lon": 181}}), "location.lon"),
        (json!({"name": "ok", "category": "outdoor", "location": {"lat": "x", "lon": 0}}), "location.lat"),
        (json!({"name": 5, "category": "outdoor"}), "name"),
        (json!({"category": "outdoor"}), "name"),
        (json!({"name": "ok", "category": "outdoor", "join_approval": "yes"}), "join_approval"),
    ];
    for (body, field) in cases {
        assert_error(app.as_user(1, "POST", "/v1/groups", Some(&body)), 422, "invalid_field", Some(field));
    }
    assert_eq!(group_count(&app), 0);
    assert_eq!(app.group(1, json!({"name": "群".repeat(30), "category": "outdoor"})), 1);
}

#[test]
fn malformed_json_is_400_and_an_oversized_body_is_413() {
    let app = spawn_app();
    app.owner(1, 2);
    let t = token(1);
    assert_error(app.raw("POST", "/v1/groups", b"{\"name\": ", Some(&t)), 400, "malformed_json", None);
    assert_error(app.raw("POST", "/v1/groups", b"{} trailing", Some(&t)), 400, "malformed_json", None);
    let big = format!("{{\"name\": \"x\", \"category\": \"other\", \"description\": \"{}\"}}", "a".repeat(1_100_000));
    assert_error(app.raw("POST", "/v1/groups", big.as_bytes(), Some(&t)), 413, "payload_too_large", None);
    assert_eq!(group_count(&app), 0);
}

#[test]
fn unknown_ids_and_paths_are_404() {
    let app = spawn_app();
    app.owner(1, 2);
    assert_error(app.get("/v1/groups/424242", None), 404, "not_found", None);
    assert_error(app.get("/v1/groups/abc", None), 404, "not_found", None);
    assert_error(app.as_user(1, "POST", "/v1/groups/9/join", None), 404, "not_found", None);
    assert_error(app.get("/v1/users/77/groups", None), 404, "not_found", None);
    assert_error(app.get("/v1/nowhere", None), 404, "route_not_found", None);
    assert_error(app.call("POST", "/v1/search", None, None), 405, "method_not_allowed", None);
    assert_error(app.call("POST", "/v1/groups/1", Some(&json!({})), None), 405, "method_not_allowed", None);
}

#[test]
fn out_of_range_parameters_are_400_naming_the_parameter() {
    let app = spawn_app();
    let cases = [
        ("/v1/nearby?lat=91&lon=0", "lat"),
        ("/v1/nearby?lat=10&lon=-181", "lon"),
        ("/v1/nearby?lat=10", "lon"),
        ("/v1/nearby?lon=10", "lat"),
        ("/v1/nearby?lat=10&lon=10&radius_km=0", "radius_km"),
        ("/v1/nearby?lat=10&lon=10&radius_km=100.5", "radius_km"),
        ("/v1/nearby?lat=10&lon=10&radius_km=abc", "radius_km"),
        ("/v1/nearby?lat=10&lon=10&limit=0", "limit"),
        ("/v1/nearby?lat=10&lon=10&limit=51", "limit"),
        ("/v1/nearby?lat=10&lon=10&sort=random", "sort"),
        ("/v1/search?sort=popular", "sort"),
        ("/v1/search?sort=distance", "lat"),
        ("/v1/search?category=unknown", "category"),
        ("/v1/search?has_room=maybe", "has_room"),
        ("/v1/search?lat=NaN&lon=1", "lat"),
    ];
    for (path, field) in cases {
        assert_error(app.get(path, None), 400, "invalid_parameter", Some(field));
    }
    let long = "字".repeat(101);
    assert_error(
        app.get(&format!("/v1/search?q={}", crate::helpers::enc(&long)), None),
        400,
        "invalid_parameter",
        Some("q"),
    );
    assert_error(
        app.get(&format!("/v1/search?place={}", crate::helpers::enc("不存在的地方")), None),
        400,
        "unknown_place",
        Some("place"),
    );
    assert_error(app.get("/v1/search?q=x&cursor=forged.cursor", None), 400, "invalid_cursor", Some("cursor"));
}

#[test]
fn refused_writes_change_nothing() {
    let app = spawn_app();
    app.owner(1, 2);
    let g = app.group(1, json!({"name": "不变群", "category": "other", "description": "原样"}));
    let before = app.get(&format!("/v1/groups/{g}"), None).1;
    assert_eq!(
        app.as_user(1, "PATCH", &format!("/v1/groups/{g}"), Some(&json!({"name": "新", "category": "bad"}))).0,
        422
    );
    assert_eq!(app.as_user(2, "PATCH", &format!("/v1/groups/{g}"), Some(&json!({"name": "新"}))).0, 403);
    assert_eq!(app.raw("PATCH", &format!("/v1/groups/{g}"), b"{\"name\":", Some(&token(1))).0, 400);
    assert_eq!(app.get(&format!("/v1/groups/{g}"), None).1, before);
}

#[test]
fn raw_utf8_in_a_query_string_reads_as_its_characters() {
    let app = spawn_app();
    app.owner(1, 2);
    let g = app.group(1, json!({"name": "海淀周末徒步群", "category": "outdoor"}));
    app.settle();
    for target in ["/v1/suggest?q=周末", "/v1/suggest?q=%E5%91%A8%E6%9C%AB", "/v1/suggest?q=周%E6%9C%AB"] {
        let (s, b) = app.get_raw(target, None);
        assert_eq!(s, 200, "{target}: {b}");
        assert_eq!(b["suggestions"][0]["id"], g, "{target}: {b}");
    }
    let (s, b) = app.get_raw("/v1/search?q=海淀 徒步".replace(' ', "%20").as_str(), None);
    assert_eq!((s, TestApp::ids(&b)), (200, vec![g]), "{b}");
}

#[test]
fn what_the_server_still_refuses_gets_the_error_envelope() {
    let app = spawn_app();
    // Bytes that are not UTF-8, raw or percent-encoded, in the query string.
    assert_error(app.get_raw("/v1/search?q=%FF%FE", None), 400, "invalid_parameter", Some("q"));
    let raw = app.send_bytes(b"GET /v1/search?q=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_error(raw, 400, "malformed_request", None);
    // A path segment that is not UTF-8 once decoded names nothing.
    assert_error(app.get_raw("/v1/users/%FF/groups", None), 404, "not_found", None);
    // Requests that are not HTTP/1.1 at all.
    for request in [&b"GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n"[..], b"NOT HTTP\r\n\r\n"] {
        assert_error(app.send_bytes(request), 400, "malformed_request", None);
    }
    let bad_length = b"POST /v1/groups HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n";
    assert_error(app.send_bytes(bad_length), 400, "malformed_request", None);
    let huge = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000));
    assert_error(app.send_bytes(huge.as_bytes()), 431, "request_header_too_large", None);
    // The server still answers after all that.
    assert_eq!(app.get("/healthz", None).0, 200);
}
