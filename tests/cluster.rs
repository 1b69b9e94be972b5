//! Several search nodes on one PostgreSQL database, as an operator runs them: writes to
//! one node reach discovery on the others within a second, a node killed with `kill -9`
//! catches up, a fresh node builds its index while the others serve, `reindex` reaches
//! every node, and the scheduled roll-up runs once per cluster. Needs a PostgreSQL server
//! (`GROUPSCOUT_TEST_PG`, see `.ci/postgres`); without one it passes with a loud SKIPPED.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const SECRET: &str = "cluster-test-secret-0123456789ab";
const ADMIN: &str = "cluster-test-admin-0123456789ab";

fn server() -> Option<String> {
    common::postgres_server("cluster tests")
}

fn command(db: &str, index: &Path, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_groupscout"));
    c.current_dir(dir)
        .env("GROUPSCOUT_DB", db)
        .env("GROUPSCOUT_INDEX", index)
        .env("GROUPSCOUT_SECRET", SECRET)
        .env("GROUPSCOUT_ADMIN_TOKEN", ADMIN)
        .env("GROUPSCOUT_DATA", concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
        .env("RUST_LOG", "info");
    c
}

struct Node {
    child: Child,
    base: String,
    log: PathBuf,
}

fn start(db: &str, dir: &Path, name: &str) -> Node {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
    let child = command(db, &dir.join(name), dir)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(120), "{name} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Node { child, base, log }
}

impl Node {
    fn call(&self, method: &str, path: &str, body: Option<Value>, auth: Option<&str>) -> (u16, Value) {
        common::call(&self.base, method, path, body, auth)
    }

    /// The ids `q` finds on this node (first page).
    fn search(&self, q: &str) -> Vec<i64> {
        let q: String = q.bytes().map(|b| format!("%{b:02X}")).collect();
        let (s, b) = self.call("GET", &format!("/v1/search?q={q}&limit=50"), None, None);
        assert_eq!(s, 200, "{b}");
        b["groups"].as_array().unwrap().iter().map(|g| g["id"].as_i64().unwrap()).collect()
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(user: i64) -> String {
    groupscout::auth::issue_user_token(SECRET, user, chrono::Utc::now().timestamp(), 3600)
}

/// A word no group holds, in the letters i, u and v: `n` in base 3, least significant
/// digit first, then the clock's microseconds. No pinyin syllable or initial starts with
/// those letters, and a long Latin word no group holds finds the groups holding its longest
/// start of three letters or more (in a name's pinyin or Latin words), so the words of two
/// `n` that differ modulo 27 never find each other's groups.
fn fresh_word(n: usize) -> String {
    let digits = |mut v: u64, count: usize| -> String {
        (0..count)
            .map(|_| {
                let c = ['i', 'u', 'v'][(v % 3) as usize];
                v /= 3;
                c
            })
            .collect()
    };
    let stamp = chrono::Utc::now().timestamp_micros() as u64;
    format!("{}{}", digits(n as u64, 7), digits(stamp, 14))
}

/// Writes a fresh word into a group's description on `writer` and times until `reader`
/// finds the group by it.
fn freshness(writer: &Node, reader: &Node, group: (i64, i64), n: usize) -> Duration {
    let word = fresh_word(n);
    let (s, b) = writer.call(
        "PATCH",
        &format!("/v1/groups/{}", group.0),
        Some(json!({"description": format!("见面聊 {word}")})),
        Some(&token(group.1)),
    );
    assert_eq!(s, 200, "{b}");
    let acked = Instant::now();
    while !reader.search(&word).contains(&group.0) {
        assert!(acked.elapsed() < Duration::from_secs(10), "node never showed the write");
        std::thread::sleep(Duration::from_millis(10));
    }
    acked.elapsed()
}

#[test]
fn nodes_on_one_database_serve_each_others_writes_survive_kills_and_follow_jobs() {
    let Some(server) = server() else { return };
    let db = groupscout::store::create_postgres_database(&server, "gs_cluster").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = dir.join("world.jsonl");
    let run = |args: &[&str]| {
        let out = command(&db, &dir.join("jobs-index"), dir).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    run(&["gen", "--groups", "3000", "--out", world.to_str().unwrap()]);
    run(&["import", world.to_str().unwrap()]);

    // Two nodes start together: each tries the roll-up of yesterday at start.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start(&db, dir, "a"));
        let b = s.spawn(|| start(&db, dir, "b"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut pg = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let groups: Vec<(i64, i64)> = pg
        .query("SELECT id, owner_id FROM groups WHERE dissolved_at IS NULL AND discoverable ORDER BY id LIMIT 40", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    // Freshness both ways.
    let mut times: Vec<Duration> = (0..10)
        .map(|i| if i % 2 == 0 { freshness(&a, &b, groups[i], i) } else { freshness(&b, &a, groups[i], i) })
        .collect();
    times.sort();
    assert!(times[times.len() - 1] < Duration::from_secs(1), "cross-node freshness over 1 s: {times:?}");

    // The roll-up ran once for the cluster.
    std::thread::sleep(Duration::from_millis(500));
    let logs = [&a, &b].map(|n| std::fs::read_to_string(&n.log).unwrap());
    let rollups: usize = logs.iter().map(|l| l.matches("rolled up yesterday's statistics").count()).sum();
    assert_eq!(rollups, 1, "one node rolls up, the other finds it done:\n{}\n{}", logs[0], logs[1]);

    // kill -9 one node; writes go on through the other; the restarted node catches up.
    b.kill9();
    let word = fresh_word(100);
    let (s, body) = a.call(
        "PATCH",
        &format!("/v1/groups/{}", groups[20].0),
        Some(json!({"name": format!("重启之后 {word}")})),
        Some(&token(groups[20].1)),
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = a.call("DELETE", &format!("/v1/groups/{}", groups[21].0), None, Some(&token(groups[21].1)));
    assert!(s == 200 || s == 204, "{body}");
    let b = start(&db, dir, "b");
    let until = Instant::now() + Duration::from_secs(5);
    while b.search(&word) != vec![groups[20].0] {
        assert!(Instant::now() < until, "the restarted node did not catch up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (s, _) = b.call("GET", &format!("/v1/groups/{}", groups[21].0), None, None);
    assert_eq!(s, 404, "a group dissolved while the node was down is gone on it");

    // A fresh node on an empty index folder builds from a snapshot and agrees.
    let c = start(&db, dir, "c");
    for q in ["徒步", "羽毛球", &word] {
        let on_a = a.search(q);
        let until = Instant::now() + Duration::from_secs(5);
        while c.search(q) != on_a {
            assert!(Instant::now() < until, "the fresh node disagrees on {q}: {on_a:?} {:?}", c.search(q));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // `reindex` once against the database: every serving node rebuilds and reports it.
    let out = run(&["reindex"]);
    assert!(out.contains("3 nodes rebuilt"), "{out}");
    let epochs: Vec<i64> =
        pg.query("SELECT index_epoch FROM nodes", &[]).unwrap().iter().map(|r| r.get::<_, i64>(0)).collect();
    assert_eq!(epochs.iter().filter(|e| **e == 1).count(), 3, "{epochs:?}");
    for n in [&a, &b, &c] {
        assert_eq!(n.search(&word), vec![groups[20].0]);
    }
    // And a write after the switch still reaches every node.
    let t = freshness(&c, &a, groups[30], 200);
    assert!(t < Duration::from_secs(1), "{t:?}");
    assert_eq!(b.search(&fresh_word(999)), Vec::<i64>::new());
}
