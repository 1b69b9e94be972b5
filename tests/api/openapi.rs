//! The described API (SPEC §6): `/openapi.json` names every route the server registers,
//! nothing else, and the answers the server gives match the shapes it describes.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The (method, path) pairs registered in `src/routes/`, read from the source: each
/// `web::resource("P")` with its `.route(web::m())`, and each `.route("P", web::m())`.
fn registered_routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("src/routes") {
        let path = entry.expect("an entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        let mut current: Option<String> = None;
        let mut rest = text.as_str();
        loop {
            let markers = [("web::resource(\"", 0), (".route(\"", 1), (".route(web::", 2)];
            let Some((at, kind, len)) = markers
                .iter()
                .filter_map(|(m, kind)| rest.find(m).map(|at| (at, *kind, m.len())))
                .min_by_key(|(at, _, _)| *at)
            else {
                break;
            };
            rest = &rest[at + len..];
            let literal = |s: &str| s[..s.find('"').expect("a closing quote")].to_string();
            let method = |s: &str| {
                let start = s.find("web::").map(|i| i + 5).unwrap_or(0);
                s[start..].split('(').next().unwrap_or_default().to_string()
            };
            match kind {
                0 => current = Some(literal(rest)),
                1 => {
                    let p = literal(rest);
                    let m = method(&rest[p.len()..]);
                    out.insert((m, p));
                }
                _ => {
                    let m = rest.split('(').next().unwrap_or_default().to_string();
                    let p = current.clone().expect("a .route(web::..) inside a web::resource");
                    out.insert((m, p));
                }
            }
        }
    }
    out.retain(|(m, _)| METHODS.contains(&m.as_str()));
    out
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_string(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_names_every_route_and_nothing_else() {
    let app = spawn_app();
    let (status, doc) = app.get("/openapi.json", None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = registered_routes();
    assert!(routes.len() >= 30, "the source scan found the routes: {routes:?}");
    let described = documented(&doc);
    let missing: Vec<_> = routes.difference(&described).collect();
    assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
    let ghosts: Vec<_> = described.difference(&routes).collect();
    assert!(ghosts.is_empty(), "operations the server does not route: {ghosts:?}");
    // Each operation's path parameters are declared, and every error answer is the envelope.
    for (method, path) in &described {
        let op = &doc["paths"][path][method];
        for name in path.split('{').skip(1).map(|s| s.split('}').next().unwrap()) {
            let declared = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true));
            assert!(declared, "{method} {path} declares {{{name}}}");
        }
        for (code, response) in op["responses"].as_object().expect("responses") {
            if code.starts_with('4') || code.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {code}"
                );
            }
        }
    }
    // The error codes are the service's own.
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"].as_array().expect("codes");
    for code in ["invalid_parameter", "group_full", "rate_limited", "timeout", "unavailable", "needs_mutual_friend"] {
        assert!(codes.contains(&json!(code)), "{code}");
    }
}

#[test]
fn every_documented_operation_is_routed() {
    let app = spawn_app();
    let (_, doc) = app.get("/openapi.json", None);
    for (method, path) in documented(&doc) {
        let concrete =
            path.replace("{asset}", "docs.css").replace("{id}", "1").replace("{user}", "2").replace("{target}", "3");
        let (status, body) = app.call(&method.to_uppercase(), &concrete, Some(&json!({})), Some(ADMIN));
        let code = body["error"]["code"].as_str().unwrap_or("");
        assert!(
            code != "route_not_found" && code != "method_not_allowed",
            "{method} {path} ({concrete}) is not routed: {status} {body}"
        );
    }
}

/// A small JSON Schema check for the shapes the document uses ($ref, allOf, oneOf, type
/// lists, properties, required, items, enum): the problems found, each with its place.
/// Properties the schema does not name count as problems too, so an undocumented field
/// fails like a missing one.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return check(doc, &doc["components"]["schemas"][name], value, at, problems);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        // The parts together name the properties: check each part's own and required ones.
        let mut names = BTreeSet::new();
        for part in parts {
            let part = resolve(doc, part);
            names.extend(part["properties"].as_object().into_iter().flatten().map(|(k, _)| k.clone()));
            let mut inner = Vec::new();
            check(doc, &part, value, at, &mut inner);
            problems.extend(inner.into_iter().filter(|p| !p.contains("is not documented")));
        }
        for key in value.as_object().into_iter().flatten().map(|(k, _)| k) {
            if !names.contains(key) {
                problems.push(format!("{at}.{key} is not documented"));
            }
        }
        return;
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let fits = options.iter().any(|o| {
            let mut p = Vec::new();
            check(doc, o, value, at, &mut p);
            p.is_empty()
        });
        if !fits {
            problems.push(format!("{at}: {value} fits none of {options:?}"));
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = types.is_empty() || types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    if !fits {
        problems.push(format!("{at}: {kind} where the document says {types:?}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Value::Object(map), Some(props)) = (value, schema["properties"].as_object()) {
        for req in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(req) {
                problems.push(format!("{at}.{req} is required and missing"));
            }
        }
        for (k, v) in map {
            match props.get(k) {
                Some(s) => check(doc, s, v, &format!("{at}.{k}"), problems),
                None if schema.get("additionalProperties").is_some() => {}
                None => problems.push(format!("{at}.{k} is not documented")),
            }
        }
    }
    if let (Value::Object(map), Some(extra)) = (value, schema.get("additionalProperties")) {
        if schema["properties"].is_null() {
            for (k, v) in map {
                check(doc, extra, v, &format!("{at}.{k}"), problems);
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(doc, item, v, &format!("{at}[{i}]"), problems);
        }
    }
}

fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(r) => resolve(doc, &doc["components"]["schemas"][r.rsplit('/').next().unwrap()]),
        None => schema.clone(),
    }
}

/// Checks one answer against the schema the document gives for its status.
fn conforms(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let op = &doc["paths"][path][method];
    let response = &op["responses"][status.to_string()];
    assert!(!response.is_null(), "{method} {path} answered {status}, which the document does not list: {body}");
    let schema = &response["content"]["application/json"]["schema"];
    let mut problems = Vec::new();
    check(doc, schema, body, "$", &mut problems);
    assert!(problems.is_empty(), "{method} {path} {status}: {problems:#?}\n{body}");
}

#[test]
fn answers_match_the_shapes_the_document_gives() {
    let app = spawn_app();
    let (_, doc) = app.get("/openapi.json", None);
    app.owner(1, 2);
    for u in 3..=8 {
        app.user(u, if u % 2 == 0 { "female" } else { "male" }, Some(1995));
    }
    app.befriend(1, 3);
    let body = json!({"name": "海淀户外徒步群", "category": "outdoor", "description": "周末爬山",
        "location": {"lat": 39.98, "lon": 116.31, "place_name": "五道口"}, "join_approval": false, "members_can_invite": true});
    let (status, created) = app.as_user(1, "POST", "/v1/groups", Some(&body));
    conforms(&doc, "post", "/v1/groups", status, &created);
    let id = created["id"].as_i64().unwrap();
    for u in 4..=8 {
        let (s, b) = app.as_user(u, "POST", &format!("/v1/groups/{id}/join"), Some(&json!({})));
        conforms(&doc, "post", "/v1/groups/{id}/join", s, &b);
    }
    let (s, b) = app.as_user(1, "PUT", &format!("/v1/groups/{id}/admins/4"), None);
    conforms(&doc, "put", "/v1/groups/{id}/admins/{user}", s, &b);
    let (s, b) = app.as_user(1, "POST", &format!("/v1/groups/{id}/invites"), Some(&json!({"invitee": 3})));
    conforms(&doc, "post", "/v1/groups/{id}/invites", s, &b);
    let event = json!({"events": [{"group_id": id, "user_id": 4, "at": "2026-11-30T10:00:00+08:00", "messages": 3}]});
    let (s, b) = app.admin("POST", "/v1/activity", Some(&event));
    conforms(&doc, "post", "/v1/activity", s, &b);
    app.settle();
    let reads = [
        ("/v1/search?q=户外&lat=39.9&lon=116.3", "/v1/search"),
        ("/v1/search?q=", "/v1/search"),
        ("/v1/nearby?lat=39.98&lon=116.31&radius_km=10", "/v1/nearby"),
        ("/v1/suggest?q=hw", "/v1/suggest"),
        ("/v1/search?limit=0", "/v1/search"),
        ("/v1/nearby?lat=99&lon=0", "/v1/nearby"),
    ];
    for (target, path) in reads {
        let (s, b) = app.get_raw(&enc_target(target), None);
        conforms(&doc, "get", path, s, &b);
    }
    let detail = format!("/v1/groups/{id}");
    let (s, b) = app.get(&detail, Some(&token(5)));
    conforms(&doc, "get", "/v1/groups/{id}", s, &b);
    let (s, b) = app.get("/v1/groups/999999", None);
    conforms(&doc, "get", "/v1/groups/{id}", s, &b);
    let (s, b) = app.get("/v1/users/5/groups", Some(&token(5)));
    conforms(&doc, "get", "/v1/users/{id}/groups", s, &b);
    let (s, b) = app.get("/v1/users/3/recommendations", Some(&token(3)));
    conforms(&doc, "get", "/v1/users/{id}/recommendations", s, &b);
    let (s, b) = app.get("/v1/users/3/recommendations", Some(&token(4)));
    conforms(&doc, "get", "/v1/users/{id}/recommendations", s, &b);
    let (s, b) = app.get("/v1/admin/moderation", Some(ADMIN));
    conforms(&doc, "get", "/v1/admin/moderation", s, &b);
    let (s, b) = app.get("/healthz", None);
    conforms(&doc, "get", "/healthz", s, &b);
    let (s, b) = app.as_user(5, "DELETE", &format!("/v1/groups/{id}/members/5"), None);
    conforms(&doc, "delete", "/v1/groups/{id}/members/{user}", s, &b);
    let (s, b) = app.as_user(1, "DELETE", &detail, None);
    conforms(&doc, "delete", "/v1/groups/{id}", s, &b);
}

/// Percent-encodes the non-ASCII characters of a request target.
fn enc_target(target: &str) -> String {
    target.chars().map(|c| if c.is_ascii() { c.to_string() } else { enc(&c.to_string()) }).collect()
}

#[test]
fn the_reference_page_needs_no_network() {
    let app = spawn_app();
    for (path, kind) in [("/docs", "text/html"), ("/docs/docs.js", "text/javascript"), ("/docs/docs.css", "text/css")] {
        let resp = ureq::get(&format!("{}{path}", app.base)).call().expect("an answer");
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.content_type().starts_with(kind), "{path}: {}", resp.content_type());
        let text = resp.into_string().unwrap();
        // Everything it loads comes from this server.
        for marker in ["src=\"http", "href=\"http", "url(http", "fetch(\"http", "//cdn"] {
            assert!(!text.contains(marker), "{path} loads from elsewhere: {marker}");
        }
    }
    let (status, body) = app.get("/docs/nothing.js", None);
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("route_not_found")));
}

#[test]
fn a_method_a_path_does_not_take_is_405_with_the_methods_it_does() {
    let app = spawn_app();
    for (method, path, allow) in [
        ("TRACE", "/v1/activity", "POST"),
        ("POST", "/v1/search", "GET"),
        ("PUT", "/v1/groups/1", "GET, PATCH, DELETE"),
        ("DELETE", "/healthz", "GET"),
    ] {
        let resp = match ureq::request(method, &format!("{}{path}", app.base)).call() {
            Err(ureq::Error::Status(_, resp)) => resp,
            other => panic!("{method} {path}: {other:?}"),
        };
        assert_eq!(resp.status(), 405, "{method} {path}");
        let mut got: Vec<&str> = resp.header("allow").unwrap_or_default().split(", ").collect();
        let mut want: Vec<&str> = allow.split(", ").collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{method} {path}");
        let body: Value = resp.into_json().unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
}
