//! A generated corpus of bad requests: wrong types, huge and negative numbers, NaN, invalid
//! UTF-8 and percent-encoding, control and zero-width characters, 10,000-character
//! parameters, deep JSON, duplicate keys, forged and foreign cursors, tokens signed with
//! other keys or algorithms, expired and not-yet-valid tokens. Every one gets a 4xx with
//! the error envelope, and the store is the same afterwards.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::helpers::{enc, spawn_app, token, TestApp, ADMIN, SECRET};

/// One raw request: method, target, headers, body.
struct Bad {
    method: &'static str,
    target: String,
    auth: Option<String>,
    body: Option<Vec<u8>>,
}

impl Bad {
    fn get(target: String) -> Bad {
        Bad { method: "GET", target, auth: None, body: None }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", self.method, self.target);
        if let Some(a) = &self.auth {
            head.push_str(&format!("Authorization: Bearer {a}\r\n"));
        }
        let mut out = head.into_bytes();
        match &self.body {
            Some(b) => {
                out.extend_from_slice(
                    format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n", b.len()).as_bytes(),
                );
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(b"\r\n"),
        }
        out
    }
}

/// Values no number parameter accepts.
fn bad_numbers() -> Vec<String> {
    let mut v: Vec<String> = [
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "1e309",
        "-1e309",
        "abc",
        "%ZZ",
        "%",
        "%C3%28",
        "%FF%FE",
        "%00",
        "%E2%80%8B",
        "%0A%0D",
        "0x10",
        "1,2",
        "--1",
        "%EF%BC%91%EF%BC%92",
        "[]",
        "%7B%7D",
        "true",
        "1.2.3",
        "%20",
        "99999999999999999999999999",
        "-",
        "1e",
        ".",
        "%2B%2B1",
        "%EF%BC%91",
        "1%00",
        "%25",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("9".repeat(10_000));
    v.push("a".repeat(10_000));
    v
}

fn jwt(header: Value, claims: Value, key: &[u8]) -> String {
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn bad_tokens() -> Vec<String> {
    let now = chrono::Utc::now().timestamp();
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let ok = json!({"sub": "1", "iat": now, "exp": now + 3600});
    let good = token(1);
    let mut parts = good.split('.');
    let (h, p) = (parts.next().unwrap(), parts.next().unwrap());
    vec![
        "garbage".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{h}.{p}."),
        format!("{h}.{p}.AAAA"),
        jwt(hs.clone(), ok.clone(), b"another-secret-0123456789abcdef"),
        jwt(json!({"alg": "none", "typ": "JWT"}), ok.clone(), SECRET.as_bytes()),
        format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(ok.to_string())),
        jwt(json!({"alg": "HS512"}), ok.clone(), SECRET.as_bytes()),
        jwt(json!({"alg": "RS256"}), ok.clone(), SECRET.as_bytes()),
        jwt(hs.clone(), json!({"sub": "1", "iat": now - 7200, "exp": now - 3600}), SECRET.as_bytes()),
        jwt(hs.clone(), json!({"sub": "1", "iat": now}), SECRET.as_bytes()),
        jwt(hs.clone(), json!({"sub": "1", "iat": now + 86_400, "exp": now + 90_000}), SECRET.as_bytes()),
        jwt(hs.clone(), json!({"sub": "1", "nbf": now + 3600, "iat": now, "exp": now + 7200}), SECRET.as_bytes()),
        jwt(hs.clone(), json!({"sub": "-1", "iat": now, "exp": now + 3600}), SECRET.as_bytes()),
        jwt(hs.clone(), json!({"sub": 1, "iat": now, "exp": now + 3600}), SECRET.as_bytes()),
        jwt(hs.clone(), json!({"sub": "1", "iat": now, "exp": "later"}), SECRET.as_bytes()),
        format!("{ADMIN}x"),
        "é".repeat(20),
    ]
}

/// Bodies no write accepts, for a body shaped like `good`.
fn bad_bodies(good: &Value) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"not json".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        format!("{}{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000)).into_bytes(),
    ];
    let obj = good.as_object().unwrap();
    for (k, _) in obj {
        // Duplicate keys.
        let s = good.to_string();
        out.push(format!("{{\"{k}\": 1, {}", &s[1..]).into_bytes());
        // (null is not among them: on optional fields it means "not given".)
        for wrong in [
            json!([]),
            json!({}),
            json!(1e300),
            json!(-1),
            json!("x".repeat(10_000)),
            json!("\u{0}\u{1}"),
            json!("\u{200b}\u{200b}"),
            json!(true),
            json!(99999999999999999999u128 as f64),
        ] {
            // An empty list where a list goes is a valid (empty) batch.
            if good[k].is_array() && wrong == json!([]) {
                continue;
            }
            // Nor is another boolean where a boolean goes.
            if good[k].is_boolean() && wrong.is_boolean() {
                continue;
            }
            let mut b = good.clone();
            b[k] = wrong;
            out.push(b.to_string().into_bytes());
        }
    }
    out
}

/// Everything the store holds, in a few numbers.
fn checksum(app: &TestApp) -> Vec<i64> {
    app.app
        .store
        .read(|db| {
            db.row(
                "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM groups), (SELECT COUNT(*) FROM members), \
                 (SELECT COUNT(*) FROM follows), (SELECT COUNT(*) FROM activity), (SELECT COUNT(*) FROM changes), \
                 (SELECT COUNT(*) FROM join_requests), (SELECT COUNT(*) FROM moderation), \
                 (SELECT CAST(COALESCE(SUM(member_count + female_count + birth_sum + yesterday_messages), 0) AS BIGINT) FROM groups), \
                 (SELECT CAST(COALESCE(SUM(LENGTH(name) + LENGTH(description) + LENGTH(announcement)), 0) AS BIGINT) FROM groups), \
                 (SELECT CAST(COALESCE(SUM(LENGTH(nickname)), 0) AS BIGINT) FROM users)",
                &[],
                |r| (0..11).map(|i| r.get::<i64>(i)).collect(),
            )
        })
        .unwrap()
}

#[test]
fn a_thousand_bad_requests_each_get_a_4xx_envelope_and_change_nothing() {
    let app = spawn_app();
    app.owner(1, 2);
    let g = app.located_group(1, "徒步群", "outdoor", 31.23, 121.47);
    app.settle();
    let before = checksum(&app);

    let mut corpus: Vec<Bad> = Vec::new();
    // Numbers in every numeric parameter.
    for v in bad_numbers() {
        corpus.push(Bad::get(format!("/v1/nearby?lat={v}&lon=121.47")));
        corpus.push(Bad::get(format!("/v1/nearby?lat=31.23&lon={v}")));
        corpus.push(Bad::get(format!("/v1/nearby?lat=31.23&lon=121.47&radius_km={v}")));
        corpus.push(Bad::get(format!("/v1/search?q=a&limit={v}")));
        corpus.push(Bad::get(format!("/v1/search?q=a&lat={v}&lon=121.47")));
        corpus.push(Bad::get(format!("/v1/search?q=a&lat=31.23&lon=121.47&radius_km={v}")));
        corpus.push(Bad::get(format!("/v1/groups/{v}")));
        corpus.push(Bad::get(format!("/v1/users/{v}/groups")));
        corpus.push(Bad { auth: Some(token(1)), ..Bad::get(format!("/v1/users/1/recommendations?limit={v}")) });
        corpus.push(Bad { auth: Some(ADMIN.into()), ..Bad::get(format!("/v1/admin/moderation?limit={v}")) });
        corpus.push(Bad::get(format!("/v1/search?q=a&cursor={v}")));
        corpus.push(Bad::get(format!("/v1/search?q=a&sort={v}")));
        corpus.push(Bad::get(format!("/v1/nearby?lat=31.23&lon=121.47&sort={v}")));
        corpus.push(Bad::get(format!("/v1/search?q=a&category={v}")));
        // (A place of only spaces is no place: no filter.)
        if !matches!(v.as_str(), "%20" | "%0A%0D") {
            corpus.push(Bad::get(format!("/v1/search?q=a&place={v}")));
        }
        let post = |target: String, auth: String, body: Value| Bad {
            method: "POST",
            target,
            auth: Some(auth),
            body: Some(body.to_string().into_bytes()),
        };
        corpus.push(post(format!("/v1/groups/{v}/join"), token(3), json!({})));
        corpus.push(post(format!("/v1/admin/moderation/{v}/release"), ADMIN.into(), json!({})));
        corpus.push(Bad { method: "PATCH", ..post(format!("/v1/groups/{v}"), token(1), json!({"name": "x"})) });
        corpus.push(Bad {
            method: "PUT",
            ..post(format!("/v1/users/{v}"), ADMIN.into(), json!({"nickname": "x", "gender": "male"}))
        });
        corpus.push(Bad { method: "PUT", ..post(format!("/v1/users/1/follows/{v}"), token(1), json!({})) });
    }
    // Forged and foreign cursors.
    let (_, page) = app.get(&format!("/v1/search?q={}&limit=1", enc("徒步")), None);
    let _ = page;
    let (_, near) = app.get("/v1/nearby?lat=31.23&lon=121.47&radius_km=5&limit=1", None);
    for c in [near["next_cursor"].as_str().map(String::from), Some("eyJvIjoxMDB9".into()), Some("A".repeat(3000))]
        .into_iter()
        .flatten()
    {
        corpus.push(Bad::get(format!("/v1/search?q=b&cursor={}", enc(&c))));
        corpus.push(Bad::get(format!("/v1/nearby?lat=1&lon=1&cursor={}", enc(&c))));
    }
    // Tokens, on reads and writes that need one.
    for t in bad_tokens() {
        corpus.push(Bad { auth: Some(t.clone()), ..Bad::get("/v1/users/1/recommendations".into()) });
        corpus.push(Bad { auth: Some(t.clone()), ..Bad::get(format!("/v1/groups/{g}/requests")) });
        corpus.push(Bad { auth: Some(t.clone()), ..Bad::get("/v1/admin/moderation".into()) });
        corpus.push(Bad { method: "DELETE", auth: Some(t.clone()), ..Bad::get(format!("/v1/groups/{g}/members/1")) });
        corpus.push(Bad {
            method: "PATCH",
            target: format!("/v1/groups/{g}"),
            auth: Some(t.clone()),
            body: Some(json!({"name": "改"}).to_string().into_bytes()),
        });
        corpus.push(Bad {
            method: "POST",
            target: "/v1/groups".into(),
            auth: Some(t.clone()),
            body: Some(json!({"name": "x群", "category": "outdoor"}).to_string().into_bytes()),
        });
        corpus.push(Bad {
            method: "PUT",
            target: "/v1/users/1".into(),
            auth: Some(t.clone()),
            body: Some(json!({"nickname": "x", "gender": "male"}).to_string().into_bytes()),
        });
        corpus.push(Bad {
            method: "POST",
            target: format!("/v1/groups/{g}/join"),
            auth: Some(t),
            body: Some(b"{}".to_vec()),
        });
    }
    // Bodies of every write.
    let writes: Vec<(&'static str, String, String, Value)> = vec![
        (
            "POST",
            "/v1/groups".into(),
            token(1),
            json!({"name": "新群", "category": "outdoor", "description": "d",
            "location": {"lat": 31.2, "lon": 121.4}, "join_approval": false}),
        ),
        (
            "PATCH",
            format!("/v1/groups/{g}"),
            token(1),
            json!({"name": "改名", "description": "d", "join_approval": true}),
        ),
        ("PUT", "/v1/users/3".into(), ADMIN.into(), json!({"nickname": "n", "gender": "female", "birth_year": 1990})),
        ("PUT", format!("/v1/groups/{g}/announcement"), token(1), json!({"text": "公告"})),
        ("PUT", "/v1/users/1/settings".into(), token(1), json!({"show_joined_groups": true})),
        (
            "POST",
            "/v1/activity".into(),
            ADMIN.into(),
            json!({"events": [{"group_id": g, "user_id": 1,
            "at": "2026-01-01T00:00:00Z", "messages": 1}]}),
        ),
    ];
    for (method, target, auth, good) in &writes {
        for body in bad_bodies(good) {
            corpus.push(Bad { method, target: target.clone(), auth: Some(auth.clone()), body: Some(body) });
        }
    }
    assert!(corpus.len() >= 1000, "the corpus has {} requests", corpus.len());

    let mut failures = Vec::new();
    for bad in &corpus {
        let (status, body) = app.send_bytes(&bad.bytes());
        let enveloped = body["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
            && body["error"]["message"].as_str().is_some();
        if !(400..500).contains(&status) || !enveloped {
            let shown: String = String::from_utf8_lossy(&bad.bytes()).chars().take(160).collect();
            failures.push(format!("{status} {body} <- {shown}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad requests were not a 4xx envelope:\n{}",
        failures.len(),
        corpus.len(),
        failures.iter().map(|f| f.replace("\r\n", " ")).collect::<Vec<_>>().join("\n")
    );
    app.settle();
    assert_eq!(checksum(&app), before, "the store changed");
}
