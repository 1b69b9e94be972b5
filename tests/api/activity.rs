//! Activity: daily buckets in the service timezone, idempotent events, and the two
//! statistics derived from them.

use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Asia::Shanghai;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&Shanghai).date_naive()
}

/// An RFC 3339 time in Shanghai, `days_ago` days before today at h:m.
fn at(days_ago: i64, h: u32, m: u32) -> String {
    let d = today() - Duration::days(days_ago);
    Shanghai.from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap()).unwrap().to_rfc3339()
}

fn event(g: i64, u: i64, at: String, n: i64, id: Option<&str>) -> Value {
    let mut e = json!({"group_id": g, "user_id": u, "at": at, "messages": n});
    if let Some(id) = id {
        e["event_id"] = json!(id);
    }
    e
}

fn post(app: &TestApp, events: Vec<Value>) -> (u16, Value) {
    app.admin("POST", "/v1/activity", Some(&json!({ "events": events })))
}

fn stats(app: &TestApp, g: i64) -> (i64, i64) {
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    (d["yesterday_messages"].as_i64().unwrap(), d["active_members"].as_i64().unwrap())
}

fn setup() -> (TestApp, i64) {
    let app = spawn_app();
    app.owner(1, 2);
    app.user(3, "female", Some(2001));
    let g = app
        .group(1, json!({"name": "活跃群", "category": "gaming", "join_approval": false, "members_can_invite": true}));
    app.as_user(2, "POST", &format!("/v1/groups/{g}/join"), None);
    app.as_user(3, "POST", &format!("/v1/groups/{g}/join"), None);
    (app, g)
}

#[test]
fn yesterday_is_the_calendar_day_in_shanghai_not_in_utc() {
    let (app, g) = setup();
    // 23:30 yesterday in Shanghai counts; 00:10 today in Shanghai is still "yesterday" in
    // UTC (16:10Z) and must not count; 23:59 two days ago must not count either.
    let (s, _) = post(
        &app,
        vec![
            event(g, 1, at(1, 23, 30), 5, None),
            event(g, 2, at(0, 0, 10), 7, None),
            event(g, 3, at(2, 23, 59), 11, None),
        ],
    );
    assert_eq!(s, 200);
    let (messages, active) = stats(&app, g);
    assert_eq!(messages, 5);
    assert_eq!(active, 2, "users 1 (yesterday) and 3 (two days ago) are active; 2 spoke only today");
}

#[test]
fn active_members_cover_seven_days_and_only_current_members() {
    let (app, g) = setup();
    post(
        &app,
        vec![
            event(g, 1, at(7, 12, 0), 1, None),
            event(g, 2, at(8, 12, 0), 1, None),
            event(g, 3, at(3, 12, 0), 0, None),
        ],
    );
    assert_eq!(stats(&app, g), (0, 1), "7 days ago is inside the window, 8 is not, and 0 messages is not activity");
    post(&app, vec![event(g, 3, at(1, 8, 0), 2, None)]);
    assert_eq!(stats(&app, g), (2, 2));
    app.as_user(3, "DELETE", &format!("/v1/groups/{g}/members/3"), None);
    assert_eq!(stats(&app, g), (2, 1), "a member who left is no longer active; their messages still count");
}

#[test]
fn a_repeated_event_id_counts_once() {
    let (app, g) = setup();
    let batch = vec![event(g, 1, at(1, 10, 0), 4, Some("e-1")), event(g, 1, at(1, 11, 0), 6, Some("e-2"))];
    let (_, b) = post(&app, batch.clone());
    assert_eq!(b["applied"], 2);
    let (_, b) = post(&app, batch);
    assert_eq!((b["applied"].as_i64(), b["duplicates"].as_i64()), (Some(0), Some(2)));
    assert_eq!(stats(&app, g).0, 10);
}

#[test]
fn a_bad_event_refuses_the_whole_batch() {
    let (app, g) = setup();
    let (s, b) = post(&app, vec![event(g, 1, at(1, 10, 0), 4, None), event(9999, 1, at(1, 10, 0), 4, None)]);
    assert_eq!((s, b["error"]["field"].as_str()), (422, Some("events[1].group_id")));
    let (s, b) = post(&app, vec![event(g, 1, "yesterday".into(), 4, None)]);
    assert_eq!((s, b["error"]["field"].as_str()), (422, Some("events[0].at")));
    let (s, b) = post(&app, vec![event(g, 1, at(1, 10, 0), -1, None)]);
    assert_eq!((s, b["error"]["field"].as_str()), (422, Some("events[0].messages")));
    let too_many: Vec<Value> = (0..10_001).map(|_| event(g, 1, at(1, 10, 0), 1, None)).collect();
    let (s, b) = post(&app, too_many);
    assert_eq!((s, b["error"]["field"].as_str()), (422, Some("events")));
    assert_eq!(stats(&app, g), (0, 0));
    let full: Vec<Value> = (0..10_000).map(|i| event(g, 1 + i % 3, at(1, 10, 0), 1, Some(&format!("b{i}")))).collect();
    let (s, b) = post(&app, full);
    assert_eq!((s, b["applied"].as_i64()), (200, Some(10_000)));
    assert_eq!(stats(&app, g), (10_000, 3));
}
