//! The test app: the real service on port 0 with its own temporary database and index,
//! and helpers that speak HTTP to it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use groupscout::config::{RankingWeights, Rules, Settings};
use groupscout::service::App;
use serde_json::{json, Value};

pub const SECRET: &str = "test-secret-0123456789abcdef";
pub const ADMIN: &str = "test-admin-token-0123456789";

pub struct TestApp {
    pub base: String,
    pub app: Arc<App>,
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
    agent: ureq::Agent,
}

/// The engine under test: a fresh database on the PostgreSQL server that
/// `GROUPSCOUT_TEST_PG` names (an admin URL whose role may create databases), else a
/// SQLite file in `dir`.
pub fn test_database(dir: &std::path::Path) -> PathBuf {
    match std::env::var("GROUPSCOUT_TEST_PG") {
        Ok(url) if !url.is_empty() => {
            // One database per directory, so settings made twice for one app agree.
            let kept = dir.join("postgres-url");
            if let Ok(url) = std::fs::read_to_string(&kept) {
                return PathBuf::from(url);
            }
            let db = groupscout::store::create_postgres_database(&url, "gs_test").expect("a fresh PostgreSQL database");
            std::fs::write(&kept, &db).expect("the URL is kept");
            PathBuf::from(db)
        }
        _ => dir.join("db").join("groupscout.db"),
    }
}

pub fn settings_in(dir: &std::path::Path, rules: Rules) -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        db: test_database(dir),
        index: dir.join("index"),
        secret: SECRET.into(),
        admin_token: ADMIN.into(),
        timezone: chrono_tz::Asia::Shanghai,
        rules,
        ranking: RankingWeights::default(),
        data_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data"),
        rate_limit: 0.0,
        request_timeout: std::time::Duration::from_secs(30),
        client_timeout: std::time::Duration::from_secs(10),
    }
}

pub fn spawn_app() -> TestApp {
    spawn_app_with(Rules::default())
}

pub fn spawn_app_with(rules: Rules) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    spawn_app_in(dir, rules)
}

pub fn spawn_app_in(dir: tempfile::TempDir, rules: Rules) -> TestApp {
    spawn_app_configured(dir, settings_in_dir(rules))
}

fn settings_in_dir(rules: Rules) -> impl FnOnce(&std::path::Path) -> Settings {
    move |dir| settings_in(dir, rules)
}

/// The app with settings changed by `change` (e.g. a rate limit).
pub fn spawn_app_with_settings(change: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    spawn_app_configured(dir, move |d| {
        let mut s = settings_in(d, Rules::default());
        change(&mut s);
        s
    })
}

fn spawn_app_configured(dir: tempfile::TempDir, settings: impl FnOnce(&std::path::Path) -> Settings) -> TestApp {
    let app = App::open(settings(dir.path())).expect("the app opens");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let server_app = app.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            groupscout::startup::build_server(server_app, listener, 2).expect("the server builds").await
        })
    });
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    TestApp { base: format!("http://127.0.0.1:{port}"), app, dir, agent }
}

pub fn token(user: i64) -> String {
    groupscout::auth::issue_user_token(SECRET, user, chrono::Utc::now().timestamp(), 3600)
}

impl TestApp {
    /// Sends a request; returns the status and the JSON body (Null when empty).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>, auth: Option<&str>) -> (u16, Value) {
        let req = self.request(method, path, auth);
        answer(match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        })
    }

    /// Sends raw bytes as a JSON body.
    pub fn raw(&self, method: &str, path: &str, body: &[u8], auth: Option<&str>) -> (u16, Value) {
        answer(self.request(method, path, auth).set("Content-Type", "application/json").send_bytes(body))
    }

    fn request(&self, method: &str, path: &str, auth: Option<&str>) -> ureq::Request {
        let req = self.agent.request(method, &format!("{}{}", self.base, path));
        match auth {
            Some(t) => req.set("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    pub fn get(&self, path: &str, auth: Option<&str>) -> (u16, Value) {
        self.call("GET", path, None, auth)
    }

    pub fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call(method, path, body, Some(ADMIN))
    }

    pub fn as_user(&self, user: i64, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call(method, path, body, Some(&token(user)))
    }

    /// Creates a user with a gender and an optional birth year.
    #[track_caller]
    pub fn user(&self, id: i64, gender: &str, birth_year: Option<i64>) {
        let mut body = json!({"nickname": format!("用户{id}"), "gender": gender});
        if let Some(y) = birth_year {
            body["birth_year"] = json!(y);
        }
        let (s, b) = self.admin("PUT", &format!("/v1/users/{id}"), Some(&body));
        assert_eq!(s, 200, "{b}");
    }

    /// Makes two users mutual-follow friends.
    #[track_caller]
    pub fn befriend(&self, a: i64, b: i64) {
        for (x, y) in [(a, b), (b, a)] {
            let (s, body) = self.admin("PUT", &format!("/v1/users/{x}/follows/{y}"), None);
            assert_eq!(s, 200, "{body}");
        }
    }

    /// A user with one friend, ready to create groups: returns nothing, panics on failure.
    #[track_caller]
    pub fn owner(&self, id: i64, friend: i64) {
        self.user(id, "female", Some(1995));
        self.user(friend, "male", Some(1990));
        self.befriend(id, friend);
    }

    /// Creates a group and returns its id.
    #[track_caller]
    pub fn group(&self, owner: i64, body: Value) -> i64 {
        let (s, b) = self.as_user(owner, "POST", "/v1/groups", Some(&body));
        assert_eq!(s, 201, "{b}");
        b["id"].as_i64().expect("an id")
    }

    /// A located group with the given name in a category.
    #[track_caller]
    pub fn located_group(&self, owner: i64, name: &str, category: &str, lat: f64, lon: f64) -> i64 {
        self.group(
            owner,
            json!({"name": name, "category": category, "location": {"lat": lat, "lon": lon}, "join_approval": false, "members_can_invite": true}),
        )
    }

    /// Waits until everything written so far is visible to search.
    pub fn settle(&self) {
        let target = self.app.store.read(groupscout::store::changes::max_seq).unwrap();
        self.app.engine.notify();
        let started = Instant::now();
        while self.app.engine.committed_seq() < target {
            assert!(started.elapsed() < Duration::from_secs(10), "the index did not catch up");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn search(&self, query: &str) -> Value {
        let (s, b) = self.get(&format!("/v1/search?{query}"), None);
        assert_eq!(s, 200, "{b}");
        b
    }

    /// Sends `request` over a new connection byte for byte (no client re-encodes it) and
    /// returns the status and the JSON body (Null when the body is not JSON).
    pub fn send_bytes(&self, request: &[u8]) -> (u16, Value) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.base.trim_start_matches("http://")).expect("connects");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("an answer");
        let text = String::from_utf8(answer).expect("a UTF-8 answer");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// A GET of `target` exactly as written (raw UTF-8 stays raw), as curl sends it.
    pub fn get_raw(&self, target: &str, auth: Option<&str>) -> (u16, Value) {
        let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        self.send_bytes(
            format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
        )
    }

    pub fn ids(body: &Value) -> Vec<i64> {
        body["groups"].as_array().map(|a| a.iter().filter_map(|g| g["id"].as_i64()).collect()).unwrap_or_default()
    }
}

/// The status and JSON body of an answer, errors included.
fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn enc(s: &str) -> String {
    url_encode(s)
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
