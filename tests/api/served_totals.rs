//! `POST /v1/admin/check/served`: a node audits the totals it answers against fresh counts,
//! finds a planted stale count, and its repair drops the counts it keeps.

use serde_json::Value;

use crate::helpers::{enc, spawn_app, TestApp};

fn world(app: &TestApp, groups: usize) {
    let opts = groupscout::jobs::gen::GenOptions { groups, seed: 3, today: app.app.store.ctx.today() };
    let mut lines = Vec::new();
    groupscout::jobs::generate(&app.app.store.ctx.gazetteer, &opts, &mut lines).unwrap();
    let summary = groupscout::jobs::import::import(&app.app.store, &mut lines.as_slice(), |_, _| {}).unwrap();
    assert_eq!(summary.skipped, 0, "{:?}", summary.errors);
    app.settle();
}

fn total(app: &TestApp, q: &str) -> u64 {
    app.search(&format!("q={}", enc(q)))["total"].as_u64().unwrap()
}

#[test]
fn the_audit_finds_a_planted_stale_count_and_its_repair_drops_it() {
    let app = spawn_app();
    world(&app, 600);
    // Searched three times, 群's word sets are kept (a word enters on its second miss).
    let truth = total(&app, "群");
    assert!(truth > 100, "{truth}");
    assert_eq!(total(&app, "群"), truth);
    assert_eq!(total(&app, "群"), truth);
    let (s, clean) = app.admin("POST", "/v1/admin/check/served", None);
    assert_eq!(s, 200, "{clean}");
    assert_eq!(clean["compared"], true, "{clean}");
    assert_eq!(clean["words"], 200, "{clean}");
    assert_eq!(clean["categories"], 21, "{clean}");
    assert_eq!(clean["differences"], Value::Array(vec![]), "{clean}");

    let planted = app.app.engine.generation().segments.plant_stale_count("n:群");
    assert!(planted > 0, "群's set is kept");
    assert_eq!(total(&app, "群"), truth + planted as u64, "the stale count reaches readers");
    let (s, found) = app.admin("POST", "/v1/admin/check/served", None);
    assert_eq!(s, 200, "{found}");
    let differences = found["differences"].as_array().unwrap();
    let stale = differences.iter().find(|d| d["query"] == "q=群").unwrap_or_else(|| panic!("{found}"));
    assert_eq!(stale["expected"]["total"], truth, "{stale}");
    assert_eq!(stale["found"]["total"], truth + planted as u64, "{stale}");
    assert!(found.get("after_repair").is_none(), "no repair was asked for");
    assert_eq!(total(&app, "群"), truth + planted as u64, "an audit alone changes nothing");

    let (s, repaired) = app.admin("POST", "/v1/admin/check/served?repair=true", None);
    assert_eq!(s, 200, "{repaired}");
    assert_eq!(repaired["after_repair"], Value::Array(vec![]), "{repaired}");
    assert_eq!(total(&app, "群"), truth, "readers get the true total again");
}

#[test]
fn the_audit_is_for_the_admin_token_and_refuses_bad_input() {
    let app = spawn_app();
    assert_eq!(app.call("POST", "/v1/admin/check/served", None, None).0, 401);
    assert_eq!(app.as_user(1, "POST", "/v1/admin/check/served", None).0, 403);
    for bad in ["words=0", "words=1001", "words=x", "repair=maybe"] {
        let (s, body) = app.admin("POST", &format!("/v1/admin/check/served?{bad}"), None);
        assert_eq!(s, 400, "{bad}: {body}");
    }
    assert_eq!(app.admin("GET", "/v1/admin/check/served", None).0, 405);
    // An empty world compares nothing wrong.
    let (s, body) = app.admin("POST", "/v1/admin/check/served?words=5", None);
    assert_eq!((s, body["differences"].clone()), (200, Value::Array(vec![])), "{body}");
}
