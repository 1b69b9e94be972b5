//! The binary as an operator runs it: durability across `kill -9`, import, reindex under
//! load, and the roll-up checked against an independent computation.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Days, NaiveDate};
use chrono_tz::Asia::Shanghai;
use serde_json::{json, Value};

const SECRET: &str = "cli-test-secret-0123456789abcdef";
const ADMIN: &str = "cli-test-admin-0123456789abcdef";

struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_groupscout")
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .env("GROUPSCOUT_DB", dir.join("db").join("g.db"))
        .env("GROUPSCOUT_INDEX", dir.join("index"))
        .env("GROUPSCOUT_SECRET", SECRET)
        .env("GROUPSCOUT_ADMIN_TOKEN", ADMIN)
        .env("GROUPSCOUT_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        .env("RUST_LOG", "warn");
    c
}

fn start(dir: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = command(dir)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, base, dir: dir.to_path_buf() }
}

impl Server {
    fn call(&self, method: &str, path: &str, body: Option<Value>, auth: Option<&str>) -> (u16, Value) {
        common::call(&self.base, method, path, body, auth)
    }

    fn kill9(mut self) -> PathBuf {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        self.dir.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user_token(id: i64) -> String {
    groupscout::auth::issue_user_token(SECRET, id, chrono::Utc::now().timestamp(), 3600)
}

/// Generates a world of `groups` groups and imports it through the binary.
#[track_caller]
fn load_world(dir: &Path, groups: usize) {
    let world = dir.join("world.jsonl");
    let (ok, out) = run(dir, &["gen", "--groups", &groups.to_string(), "--out", world.to_str().unwrap()]);
    assert!(ok, "{out}");
    let (ok, out) = run(dir, &["import", world.to_str().unwrap()]);
    assert!(ok, "{out}");
}

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = command(dir).args(args).output().expect("the binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn every_acknowledged_write_survives_kill_dash_nine() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut acknowledged_groups = Vec::new();
    for u in 1..=30 {
        let (s, _) = server.call(
            "PUT",
            &format!("/v1/users/{u}"),
            Some(json!({"nickname": format!("u{u}"), "gender": "female", "birth_year": 1990})),
            Some(ADMIN),
        );
        assert_eq!(s, 200);
    }
    for u in 1..=29 {
        for (a, b) in [(u, u + 1), (u + 1, u)] {
            assert_eq!(server.call("PUT", &format!("/v1/users/{a}/follows/{b}"), None, Some(ADMIN)).0, 200);
        }
    }
    for u in 1..=20 {
        let (s, b) = server.call(
            "POST",
            "/v1/groups",
            Some(json!({"name": format!("持久群{u}"), "category": "other", "location": {"lat": 30.0, "lon": 120.0}})),
            Some(&user_token(u)),
        );
        assert_eq!(s, 201);
        let g = b["id"].as_i64().unwrap();
        let (s, _) = server.call("POST", &format!("/v1/groups/{g}/join"), Some(json!({})), Some(&user_token(u + 1)));
        assert_eq!(s, 200);
        acknowledged_groups.push(g);
    }
    let yesterday = (chrono::Utc::now().with_timezone(&Shanghai) - Days::days(1)).to_rfc3339();
    let (s, _) = server.call(
        "POST",
        "/v1/activity",
        Some(json!({"events": [{"group_id": acknowledged_groups[0], "user_id": 1, "at": yesterday, "messages": 42}]})),
        Some(ADMIN),
    );
    assert_eq!(s, 200);
    // No pause: the kill comes right after the last acknowledgement.
    let dir_path = server.kill9();
    let server = start(&dir_path);
    for (i, g) in acknowledged_groups.iter().enumerate() {
        let (s, d) = server.call("GET", &format!("/v1/groups/{g}"), None, None);
        assert_eq!(s, 200, "group {g} lost");
        assert_eq!(d["name"], format!("持久群{}", i + 1));
        assert_eq!(d["member_count"], 2);
    }
    let (_, d) = server.call("GET", &format!("/v1/groups/{}", acknowledged_groups[0]), None, None);
    assert_eq!(d["yesterday_messages"], 42);
    let (_, found) = server.call("GET", "/v1/nearby?lat=30&lon=120&radius_km=1&limit=50", None, None);
    assert_eq!(found["total"], 20);
}

/// Stats per group computed from the import lines alone, without the service's code:
/// (female members, yesterday's messages, active members, members).
fn independent_stats(world: &str, today: NaiveDate) -> BTreeMap<i64, (i64, i64, i64, i64)> {
    let yesterday = today - Days::days(1);
    let mut members: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    let mut female: HashMap<i64, bool> = HashMap::new();
    let mut messages: HashMap<i64, i64> = HashMap::new();
    let mut active: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    let mut activity = Vec::new();
    for line in world.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        match v["type"].as_str().unwrap() {
            "user" => {
                female.insert(v["id"].as_i64().unwrap(), v["gender"] == "female");
            }
            "member" => {
                members.entry(v["group_id"].as_i64().unwrap()).or_default().insert(v["user_id"].as_i64().unwrap());
            }
            "activity" => activity.push(v),
            _ => {}
        }
    }
    for v in activity {
        let g = v["group_id"].as_i64().unwrap();
        let u = v["user_id"].as_i64().unwrap();
        let day =
            DateTime::parse_from_rfc3339(v["at"].as_str().unwrap()).unwrap().with_timezone(&Shanghai).date_naive();
        let n = v["messages"].as_i64().unwrap();
        if day == yesterday {
            *messages.entry(g).or_default() += n;
        }
        let in_window = day <= yesterday && day > yesterday - Days::days(7);
        if n > 0 && in_window && members.get(&g).is_some_and(|m| m.contains(&u)) {
            active.entry(g).or_default().insert(u);
        }
    }
    members
        .iter()
        .map(|(g, ms)| {
            let f = ms.iter().filter(|u| female.get(u).copied().unwrap_or(false)).count() as i64;
            let m = messages.get(g).copied().unwrap_or(0);
            let a = active.get(g).map_or(0, |a| a.len() as i64);
            (*g, (f, m, a, ms.len() as i64))
        })
        .collect()
}

#[test]
fn import_is_idempotent_and_rollup_matches_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now().with_timezone(&Shanghai).date_naive();
    let world_path = dir.path().join("world.jsonl");
    let (ok, out) = run(dir.path(), &["gen", "--groups", "400", "--seed", "3", "--out", world_path.to_str().unwrap()]);
    assert!(ok, "{out}");
    let mut world = std::fs::read_to_string(&world_path).unwrap();
    // Events on both sides of Shanghai's midnight, which is 16:00 in UTC.
    let boundary = [
        (format!("{}T23:59:59+08:00", today - Days::days(1)), 5, true),
        (format!("{}T16:00:00Z", today - Days::days(1)), 7, false), // 00:00 today in Shanghai
        (format!("{}T15:59:59Z", today - Days::days(1)), 11, true), // 23:59:59 yesterday in Shanghai
    ];
    let first_member: Value =
        world.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|v| v["type"] == "member").unwrap();
    for (at, n, _) in &boundary {
        world.push_str(&json!({"type": "activity", "group_id": first_member["group_id"], "user_id": first_member["user_id"], "at": at, "messages": n}).to_string());
        world.push('\n');
    }
    world.push_str("{\"type\":\"member\",\"group_id\":99999999,\"user_id\":1}\n");
    world.push_str("this is not json\n");
    std::fs::write(&world_path, &world).unwrap();
    let lines = world.lines().count();
    let (ok, out) = run(dir.path(), &["import", world_path.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("line {}:", lines - 1)), "{out}");
    assert!(out.contains(&format!("line {lines}:")), "{out}");
    assert!(out.contains("2 skipped"), "{out}");
    let db = dir.path().join("db").join("g.db");
    let snapshot = || -> Vec<(i64, i64, i64, i64, i64)> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT id, member_count, female_count, yesterday_messages, active_members FROM groups ORDER BY id",
            )
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    let first = snapshot();
    let (ok, out) = run(dir.path(), &["import", world_path.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert_eq!(snapshot(), first, "a second import changed something");
    let (ok, out) = run(dir.path(), &["rollup"]);
    assert!(ok, "{out}");
    let (ok, _) = run(dir.path(), &["rollup"]);
    assert!(ok);
    let after = snapshot();
    let expected = independent_stats(&world, today);
    assert!(expected.len() > 300);
    let mut with_messages = 0;
    for (id, members, female, messages, active) in after {
        let (e_female, e_messages, e_active, e_members) = expected.get(&id).copied().unwrap_or((0, 0, 0, 0));
        assert_eq!((members, female, messages, active), (e_members, e_female, e_messages, e_active), "group {id}");
        with_messages += (messages > 0) as usize;
    }
    assert!(with_messages > 20, "the world should have activity yesterday");
}

#[test]
fn searches_never_fail_while_reindex_switches_generations() {
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 3000);
    let server = Arc::new(start(dir.path()));
    let (_, before) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
    let total = before["total"].as_i64().unwrap();
    assert!(total > 100);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok_count, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let (server, stop, ok_count, errors) = (server.clone(), stop.clone(), ok_count.clone(), errors.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (s, b) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
                    if s == 200 && b["total"].as_i64() == Some(total) {
                        ok_count.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for _ in 0..2 {
        let (ok, out) = run(dir.path(), &["reindex"]);
        assert!(ok, "{out}");
        std::thread::sleep(Duration::from_millis(700));
    }
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.join().unwrap();
    }
    assert_eq!(errors.load(Ordering::Relaxed), 0);
    assert!(ok_count.load(Ordering::Relaxed) > 10);
    let (_, health) = server.call("GET", "/healthz", None, None);
    let current = std::fs::read_to_string(dir.path().join("index").join("CURRENT")).unwrap();
    assert_eq!(health["generation"], current.trim());
    let gens: Vec<_> = std::fs::read_dir(dir.path().join("index"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("gen-"))
        .collect();
    assert_eq!(gens.len(), 1, "old generations are removed");
    let (_, after) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
    assert_eq!(after["total"], total);
}

#[test]
fn a_reindex_that_dies_halfway_leaves_the_old_generation_serving() {
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 500);
    let server = start(dir.path());
    let (_, before) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
    let serving = std::fs::read_to_string(dir.path().join("index").join("CURRENT")).unwrap();
    // A reindex killed while building: its half-written generation was never switched to.
    let mut child = command(dir.path()).arg("reindex").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let _ = child.kill();
    child.wait().unwrap();
    let half = dir.path().join("index").join("gen-90");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join("meta.json"), b"{ half written").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (s, after) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
    assert_eq!(s, 200);
    assert_eq!(after["total"], before["total"]);
    // The pointer names a whole generation: the one serving before, or the killed
    // reindex's own if it finished before the kill.
    let pointer = std::fs::read_to_string(dir.path().join("index").join("CURRENT")).unwrap();
    assert!(dir.path().join("index").join(pointer.trim()).join("meta.json").exists());
    let _ = serving;
    // The next reindex completes past the debris, and the server follows it.
    let (ok, out) = run(dir.path(), &["reindex"]);
    assert!(ok, "{out}");
    let current = std::fs::read_to_string(dir.path().join("index").join("CURRENT")).unwrap();
    let started = Instant::now();
    loop {
        let (_, health) = server.call("GET", "/healthz", None, None);
        if health["generation"] == current.trim() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the server did not switch");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, last) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
    assert_eq!(last["total"], before["total"]);
    assert!(!half.exists(), "debris of a dead reindex is removed");
}

#[test]
fn an_unreadable_index_is_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 300);
    let server = start(dir.path());
    let (_, before) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
    assert!(before["total"].as_i64().unwrap() > 50);
    let dir_path = server.kill9();
    let index = dir_path.join("index");
    let current = std::fs::read_to_string(index.join("CURRENT")).unwrap();
    std::fs::write(index.join(current.trim()).join("meta.json"), b"not an index").unwrap();
    let server = start(&dir_path);
    let (s, after) = server.call("GET", "/v1/search?q=%E7%BE%A4", None, None);
    assert_eq!(s, 200);
    assert_eq!(after["total"], before["total"]);
    let rebuilt = std::fs::read_to_string(index.join("CURRENT")).unwrap();
    assert_ne!(rebuilt.trim(), current.trim());
}

#[test]
fn import_reads_standard_input_and_reports_bad_lines_by_number() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = [
        r#"{"type":"user","id":1,"nickname":"甲","gender":"female","birth_year":1995}"#,
        r#"{"type":"user","id":2,"nickname":"乙","gender":"robot"}"#,
        r#"{"type":"follow","from":1,"to":3}"#,
        r#"{"type":"group","id":7,"owner_id":1,"name":"标准输入群","category":"other"}"#,
        r#"{"type":"member","group_id":7,"user_id":1,"role":"owner"}"#,
        r#"{"type":"user","id":3,"nickname":"丙","gender":"male","birth_year":1990}"#,
        // Only the group line's owner_id is its owner.
        r#"{"type":"member","group_id":7,"user_id":3,"role":"owner"}"#,
    ];
    child.stdin.take().unwrap().write_all(lines.join("\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("line 2: gender"), "{text}");
    assert!(text.contains("line 3: to"), "{text}");
    assert!(text.contains("line 7: role"), "{text}");
    assert!(text.contains("7 lines, 4 imported, 3 skipped"), "{text}");
    let conn = rusqlite::Connection::open(dir.path().join("db").join("g.db")).unwrap();
    let members: i64 = conn.query_row("SELECT member_count FROM groups WHERE id = 7", [], |r| r.get(0)).unwrap();
    assert_eq!(members, 1);
    let owners: i64 =
        conn.query_row("SELECT count(*) FROM members WHERE group_id = 7 AND role = 'owner'", [], |r| r.get(0)).unwrap();
    assert_eq!(owners, 1);
}

/// Opens the test database directly, as an operator's sqlite3 would.
fn database(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("db").join("g.db")).unwrap()
}

/// Discoverable live groups with at least `members` members, by id.
fn groups_with_members(conn: &rusqlite::Connection, members: i64) -> Vec<i64> {
    let mut stmt = conn
        .prepare(
            "SELECT id FROM groups WHERE dissolved_at IS NULL AND discoverable = 1 AND member_count >= ?1 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([members], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn check_passes_on_a_freshly_imported_and_indexed_world() {
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 300);
    let (ok, out) = run(dir.path(), &["reindex"]);
    assert!(ok, "{out}");
    let (ok, out) = run(dir.path(), &["check"]);
    assert!(ok, "{out}");
    assert!(out.contains("check: 300 groups, 0 discrepancies (none)"), "{out}");
    assert!(out.contains("0 groups newer not compared"), "{out}");
}

#[test]
fn check_finds_each_corruption_by_group_and_repair_mends_it() {
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 300);
    let conn = database(dir.path());
    let picked = groups_with_members(&conn, 3);
    assert!(picked.len() > 8, "the world needs groups with members");
    let [female, ownerless, hidden, renamed, two_owners, active, unindexed, orphaned] =
        <[i64; 8]>::try_from(&picked[..8]).unwrap();
    // A document lost from the index: the group leaves discovery, a reindex builds the
    // index without it, and then it comes back in SQL alone, with no change row.
    conn.execute("UPDATE groups SET discoverable = 0 WHERE id = ?1", [unindexed]).unwrap();
    let (ok, out) = run(dir.path(), &["reindex"]);
    assert!(ok, "{out}");
    conn.execute("UPDATE groups SET discoverable = 1 WHERE id = ?1", [unindexed]).unwrap();
    // Everything else is changed behind the service's back: no change rows.
    conn.execute_batch(&format!(
        "UPDATE groups SET female_count = female_count + 2 WHERE id = {female};
         DELETE FROM members WHERE group_id = {ownerless} AND user_id = (SELECT owner_id FROM groups WHERE id = {ownerless});
         UPDATE groups SET discoverable = 0 WHERE id = {hidden};
         UPDATE groups SET name = '改名不留痕迹的群' WHERE id = {renamed};
         UPDATE members SET role = 'owner' WHERE group_id = {two_owners} AND user_id =
             (SELECT user_id FROM members WHERE group_id = {two_owners} AND role != 'owner' ORDER BY user_id LIMIT 1);
         UPDATE groups SET active_members = active_members + 5 WHERE id = {active};
         UPDATE groups SET dissolved_at = 1 WHERE id = {orphaned};"
    ))
    .unwrap();
    let (ok, out) = run(dir.path(), &["check"]);
    assert!(!ok, "check must fail on a corrupted store: {out}");
    for (group, kind) in [
        (female, "female_count"),
        (ownerless, "owner_not_member"),
        (ownerless, "member_count"),
        (hidden, "index_extra"),
        (renamed, "index_fields"),
        (two_owners, "extra_owner"),
        (active, "active_members"),
        (unindexed, "index_missing"),
        (orphaned, "orphan_members"),
        (orphaned, "index_extra"),
    ] {
        assert!(out.contains(&format!("group {group}: {kind}:")), "group {group} not reported as {kind}: {out}");
    }
    assert!(out.contains("改名不留痕迹的群"), "the expected name is shown: {out}");

    let (ok, out) = run(dir.path(), &["check", "--repair"]);
    assert!(ok, "{out}");
    assert!(out.contains("applied"), "with no server running, the index is caught up at once: {out}");
    let (ok, out) = run(dir.path(), &["check"]);
    assert!(ok, "a second check finds nothing: {out}");
    assert!(out.contains("0 discrepancies (none)") && out.contains("0 groups newer not compared"), "{out}");

    // The repairs are the real figures, not just silence.
    let one = |sql: &str, id: i64| -> i64 { conn.query_row(sql, [id], |r| r.get(0)).unwrap() };
    let females =
        "SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ?1 AND u.gender = 'female'";
    assert_eq!(one("SELECT female_count FROM groups WHERE id = ?1", female), one(females, female));
    assert_eq!(
        one(
            "SELECT COUNT(*) FROM members m JOIN groups g ON g.id = m.group_id AND m.user_id = g.owner_id \
             WHERE g.id = ?1 AND m.role = 'owner'",
            ownerless
        ),
        1
    );
    assert_eq!(
        one("SELECT member_count FROM groups WHERE id = ?1", ownerless),
        one("SELECT COUNT(*) FROM members WHERE group_id = ?1", ownerless)
    );
    assert_eq!(one("SELECT COUNT(*) FROM members WHERE group_id = ?1 AND role = 'owner'", two_owners), 1);
    assert_eq!(one("SELECT COUNT(*) FROM members WHERE group_id = ?1", orphaned), 0);
    // The index follows: a server started now finds the group that was missing and not
    // the hidden one.
    let server = start(dir.path());
    let name_of =
        |id: i64| -> String { conn.query_row("SELECT name FROM groups WHERE id = ?1", [id], |r| r.get(0)).unwrap() };
    let ids_for = |q: &str| -> Vec<i64> {
        let (_, found) = server.call("GET", &format!("/v1/suggest?q={}", urlencode(q)), None, None);
        found["suggestions"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect()
    };
    assert!(ids_for(&name_of(unindexed)).contains(&unindexed));
    assert!(!ids_for(&name_of(hidden)).contains(&hidden));
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn check_beside_a_busy_server_raises_no_false_alarm_and_its_repair_reaches_the_server() {
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 300);
    let server = Arc::new(start(dir.path()));
    let conn = database(dir.path());
    let mut owned: Vec<(i64, i64)> = conn
        .prepare("SELECT id, owner_id FROM groups WHERE dissolved_at IS NULL AND discoverable = 1 ORDER BY id LIMIT 41")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (hidden, _) = owned.pop().unwrap();
    // Owners rename their groups as fast as they can while check runs: the index lags
    // each rename by up to half a second, which must not count as a discrepancy.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (server, stop, owned) = (server.clone(), stop.clone(), owned.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (id, owner) = owned[n as usize % owned.len()];
                let body = json!({"name": format!("改名中的群{n}")});
                let (s, _) = server.call("PATCH", &format!("/v1/groups/{id}"), Some(body), Some(&user_token(owner)));
                assert_eq!(s, 200);
                n += 1;
            }
            n
        })
    };
    let started = Instant::now();
    let mut lagging = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let (ok, out) = run(dir.path(), &["check"]);
        assert!(ok, "a false alarm while the server writes: {out}");
        lagging += !out.contains(" 0 groups newer not compared") as usize;
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 10, "the renames ran during the checks");
    assert!(lagging > 0, "some checks ran while the index lagged the renames");
    let caught_up = Instant::now();
    loop {
        let (ok, out) = run(dir.path(), &["check"]);
        assert!(ok, "{out}");
        if out.contains(" 0 groups newer not compared") {
            break;
        }
        assert!(caught_up.elapsed() < Duration::from_secs(5), "the index did not catch up: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Now a real fault: a group hidden in SQL alone stays searchable.
    conn.execute("UPDATE groups SET discoverable = 0 WHERE id = ?1", [hidden]).unwrap();
    let (ok, out) = run(dir.path(), &["check"]);
    assert!(!ok && out.contains(&format!("group {hidden}: index_extra:")), "{out}");
    let (ok, out) = run(dir.path(), &["check", "--repair"]);
    assert!(ok && out.contains("a running server's indexer applies them"), "{out}");
    let started = Instant::now();
    loop {
        let (ok, out) = run(dir.path(), &["check"]);
        if ok {
            assert!(out.contains("0 discrepancies"), "{out}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the server did not apply the repair: {out}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (s, _) = server.call("GET", &format!("/v1/groups/{hidden}"), None, None);
    assert_eq!(s, 404, "the hidden group is out of discovery");
}

/// Two processes started at once on a new data directory agree on one admin token and one
/// secret (the first to create each file wins; the other reads it).
#[test]
fn processes_started_together_on_a_new_directory_agree_on_the_admin_token() {
    for trial in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let spawn = || {
            Command::new(bin())
                .current_dir(dir.path())
                .env("GROUPSCOUT_DB", dir.path().join("db").join("g.db"))
                .env("GROUPSCOUT_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
                .env_remove("GROUPSCOUT_ADMIN_TOKEN")
                .env_remove("GROUPSCOUT_SECRET")
                .args(["token", "--admin"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let [a, b] = [a, b].map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        });
        assert_eq!(a, b, "trial {trial}: two tokens for one directory");
        let kept = std::fs::read_to_string(dir.path().join("db").join("admin_token")).unwrap();
        assert_eq!(kept.trim(), a, "trial {trial}: the printed token is the kept one");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("db"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "trial {trial}: temporary files left: {leftovers:?}");
    }
}

/// The seq the serving generation's last commit covers, read from the index on disk.
fn index_committed_seq(dir: &Path) -> i64 {
    let root = dir.join("index");
    let name = groupscout::index::generation::current(&root).expect("a current generation");
    let index = tantivy::Index::open_in_dir(root.join(name)).expect("the generation opens");
    groupscout::index::generation::committed_seq(&index).expect("its commit payload")
}

#[test]
fn sigterm_finishes_the_requests_in_flight_and_the_indexers_commit() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 200);
    let mut server = start(dir.path());
    // A request in flight: its head and half its body sent before the signal, the rest after.
    let group_id = server.call("GET", "/v1/search?limit=1", None, None).1["groups"][0]["id"].as_i64().unwrap();
    let body = json!({"events": [{"group_id": group_id, "user_id": 1, "at": "2026-11-30T10:00:00+08:00",
        "messages": 7, "event_id": "sigterm-1"}]})
    .to_string();
    let mut stream = std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    let head = format!(
        "POST /v1/activity HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..body.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A write acknowledged just before the signal: its change is in the outbox, and the
    // indexer has not necessarily committed it yet.
    let (status, _) =
        server.call("PUT", "/v1/users/999001", Some(json!({"nickname": "最后一位", "gender": "female"})), Some(ADMIN));
    assert_eq!(status, 200);
    let owner = server.call("GET", &format!("/v1/groups/{group_id}"), None, None).1["owner_id"].as_i64().unwrap();
    let patch = json!({"description": "信号之前改的简介"});
    let (status, _) = server.call("PATCH", &format!("/v1/groups/{group_id}"), Some(patch), Some(&user_token(owner)));
    assert_eq!(status, 200);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(&body.as_bytes()[body.len() / 2..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "the request in flight was answered: {answer}");
    assert!(answer.contains("\"applied\":1"), "{answer}");
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "a clean exit on SIGTERM: {exit:?}");
    // The indexer committed everything it had applied: the index on disk covers the
    // outbox's last change, so the next start has nothing to redo.
    let conn = database(dir.path());
    let max_seq: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| r.get(0)).unwrap();
    assert_eq!(index_committed_seq(dir.path()), max_seq);
    let events: i64 = conn
        .query_row("SELECT COUNT(*) FROM activity_events WHERE event_id = 'sigterm-1'", [], |r| r.get(0))
        .unwrap_or(-1);
    assert_eq!(events, 1, "the in-flight write was applied once");
    let description: String =
        conn.query_row("SELECT description FROM groups WHERE id = ?1", [group_id], |r| r.get(0)).unwrap();
    assert_eq!(description, "信号之前改的简介");
}

#[test]
fn check_audits_the_totals_a_running_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    load_world(dir.path(), 400);
    let server = start(dir.path());
    // Searches first, so the server keeps word sets and passes to be audited.
    for q in ["%E7%BE%A4", "%E4%BA%A4%E6%B5%81", "hw"] {
        for _ in 0..3 {
            assert_eq!(server.call("GET", &format!("/v1/search?q={q}"), None, None).0, 200);
        }
    }
    let address = server.base.trim_start_matches("http://").to_string();
    let (ok, out) = run(dir.path(), &["check", "--server", &address]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("served totals at {address}: 200 words and 21 categories at seq")), "{out}");
    assert!(out.contains(", 0 differences"), "{out}");
    // A node named but not answering is a failure, not a pass.
    let gone = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let (ok, out) = run(dir.path(), &["check", "--server", &gone]);
    assert!(!ok && out.contains(&format!("served totals: nothing answers at {gone}")), "{out}");
}
