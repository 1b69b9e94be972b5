//! Worlds written by hand in the SPEC §3 import format (`tests/fixtures/`), not by `gen`:
//! every statistic is recomputed here from the raw lines by the SPEC §1 definitions and
//! compared with what the API shows; profile lists and recommendations are checked too.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

fn today() -> NaiveDate {
    Utc::now().with_timezone(&Shanghai).date_naive()
}

/// A fixture's lines with `${D-k}` replaced by the date k days before today.
fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).expect("the fixture exists");
    for k in 0..=31 {
        let date = (today() - Duration::days(k)).format("%Y-%m-%d").to_string();
        text = text.replace(&format!("${{D-{k}}}"), &date);
    }
    assert!(!text.contains("${"), "{name}: an unknown placeholder");
    text
}

#[track_caller]
fn import(app: &TestApp, lines: &str) {
    let summary = groupscout::jobs::import::import(&app.app.store, &mut lines.as_bytes(), |_, _| {}).unwrap();
    assert_eq!(summary.skipped, 0, "{:?}", summary.errors);
    app.settle();
}

/// What SPEC §1 says each group shows, computed from the import lines alone.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    owner: i64,
    discoverable: bool,
    members: BTreeSet<i64>,
    member_count: i64,
    female_count: i64,
    avg_age: Option<i64>,
    yesterday_messages: i64,
    active_members: i64,
}

fn expected(lines: &str) -> BTreeMap<i64, Expected> {
    let mut gender: BTreeMap<i64, String> = BTreeMap::new();
    let mut birth: BTreeMap<i64, i64> = BTreeMap::new();
    let mut groups: BTreeMap<i64, Expected> = BTreeMap::new();
    let mut activity: Vec<(i64, i64, NaiveDate, i64)> = Vec::new();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let int = |k: &str| v[k].as_i64().unwrap();
        match v["type"].as_str().unwrap() {
            "user" => {
                gender.insert(int("id"), v["gender"].as_str().unwrap().to_string());
                if let Some(y) = v["birth_year"].as_i64() {
                    birth.insert(int("id"), y);
                }
            }
            "group" => {
                let g = groups.entry(int("id")).or_default();
                g.owner = int("owner_id");
                g.discoverable = v["discoverable"].as_bool().unwrap_or(true);
                g.members.insert(g.owner);
            }
            "member" => {
                groups.get_mut(&int("group_id")).unwrap().members.insert(int("user_id"));
            }
            "activity" => {
                let at = DateTime::parse_from_rfc3339(v["at"].as_str().unwrap()).unwrap();
                activity.push((
                    int("group_id"),
                    int("user_id"),
                    at.with_timezone(&Shanghai).date_naive(),
                    int("messages"),
                ));
            }
            _ => {}
        }
    }
    let yesterday = today() - Duration::days(1);
    let year = i64::from(today().year());
    for (id, g) in groups.iter_mut() {
        g.member_count = g.members.len() as i64;
        g.female_count = g.members.iter().filter(|u| gender[u] == "female").count() as i64;
        let ages: Vec<i64> = g.members.iter().filter_map(|u| birth.get(u)).map(|y| year - y).collect();
        // Half up: floor(mean + 1/2), in integers.
        g.avg_age =
            (!ages.is_empty()).then(|| (2 * ages.iter().sum::<i64>() + ages.len() as i64) / (2 * ages.len() as i64));
        let mine = activity.iter().filter(|a| a.0 == *id);
        g.yesterday_messages = mine.clone().filter(|a| a.2 == yesterday).map(|a| a.3).sum();
        let week = (yesterday - Duration::days(6))..=yesterday;
        let active: BTreeSet<i64> =
            mine.filter(|a| week.contains(&a.2) && a.3 > 0 && g.members.contains(&a.1)).map(|a| a.1).collect();
        g.active_members = active.len() as i64;
    }
    groups
}

#[track_caller]
fn assert_statistics(app: &TestApp, want: &BTreeMap<i64, Expected>) {
    for (id, g) in want {
        let (s, detail) = app.as_user(g.owner, "GET", &format!("/v1/groups/{id}"), None);
        assert_eq!(s, 200, "group {id}: {detail}");
        let found = |k: &str| detail[k].as_i64();
        assert_eq!(found("member_count"), Some(g.member_count), "group {id} member_count");
        // SPEC §5's privacy floor: below 5 members neither figure is shown.
        let shown = g.member_count >= 5;
        assert_eq!(found("female_count"), shown.then_some(g.female_count), "group {id} female_count");
        assert_eq!(found("avg_age"), g.avg_age.filter(|_| shown), "group {id} avg_age");
        assert_eq!(found("yesterday_messages"), Some(g.yesterday_messages), "group {id} yesterday_messages");
        assert_eq!(found("active_members"), Some(g.active_members), "group {id} active_members");
        assert_eq!(detail["viewer"]["role"], "owner", "group {id}: the owner's role");
    }
}

fn profile_ids(app: &TestApp, user: i64, viewer: i64) -> (bool, BTreeSet<i64>) {
    let (s, b) = app.as_user(viewer, "GET", &format!("/v1/users/{user}/groups"), None);
    assert_eq!(s, 200, "{b}");
    (b["hidden"].as_bool().unwrap(), TestApp::ids(&b).into_iter().collect())
}

#[test]
fn a_hand_written_world_shows_the_statistics_the_spec_defines() {
    let app = spawn_app();
    let lines = fixture("spec_world.jsonl");
    import(&app, &lines);
    let want = expected(&lines);
    assert_eq!(want.len(), 5);
    assert_statistics(&app, &want);
    // The figures that the owners' seats decide, spelled out once.
    assert_eq!(want[&10].member_count, 6);
    assert_eq!((want[&10].yesterday_messages, want[&10].active_members), (14, 3));
    assert_eq!(want[&30].active_members, 2);

    // Importing the same lines again changes nothing.
    let before: Vec<Value> =
        want.keys().map(|id| app.as_user(want[id].owner, "GET", &format!("/v1/groups/{id}"), None).1).collect();
    import(&app, &lines);
    let after: Vec<Value> =
        want.keys().map(|id| app.as_user(want[id].owner, "GET", &format!("/v1/groups/{id}"), None).1).collect();
    assert_eq!(before, after);
}

#[test]
fn owners_see_their_groups_on_their_profile_and_are_never_recommended_them() {
    let app = spawn_app();
    let lines = fixture("spec_world.jsonl");
    import(&app, &lines);
    let want = expected(&lines);
    let users: BTreeSet<i64> = want.values().flat_map(|g| g.members.iter().copied()).collect();
    for user in &users {
        let joined: BTreeSet<i64> = want.iter().filter(|(_, g)| g.members.contains(user)).map(|(id, _)| *id).collect();
        // Themself: every group they are in, their own included.
        assert_eq!(profile_ids(&app, *user, *user), (false, joined.clone()), "user {user}'s own list");
        // Others see the discoverable ones, when the list is shown (users 11 and 12).
        let (hidden, seen) = profile_ids(&app, *user, 999);
        if [11, 12].contains(user) {
            let open: BTreeSet<i64> = joined.iter().copied().filter(|id| want[id].discoverable).collect();
            assert_eq!((hidden, seen), (false, open), "user {user}'s list as others see it");
        } else {
            assert_eq!((hidden, seen), (true, BTreeSet::new()), "user {user}'s hidden list");
        }
        let (s, b) = app.as_user(*user, "GET", &format!("/v1/users/{user}/recommendations?lat=39.95&lon=116.4"), None);
        assert_eq!(s, 200, "{b}");
        for id in TestApp::ids(&b) {
            assert!(!joined.contains(&id), "user {user} was recommended group {id}, which they are in");
            assert!(want[&id].discoverable, "user {user} was recommended the hidden group {id}");
        }
    }
    // Group 20's members include 1 and 9, friends of 3: 3 is offered it, with the reason.
    let (_, b) = app.as_user(3, "GET", "/v1/users/3/recommendations?lat=39.95&lon=116.4", None);
    let twenty = b["groups"].as_array().unwrap().iter().find(|g| g["id"] == 20).expect("group 20 is recommended");
    assert!(twenty["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("好友")), "{twenty}");
}

#[test]
fn a_reimport_that_names_another_owner_moves_the_role() {
    let app = spawn_app();
    let lines = fixture("spec_world.jsonl");
    import(&app, &lines);
    import(&app, &fixture("owner_change.jsonl"));
    let role = |user: i64| app.as_user(user, "GET", "/v1/groups/30", None).1["viewer"]["role"].clone();
    assert_eq!(role(3), "owner");
    assert_eq!(role(1), "member");
    let (_, detail) = app.as_user(3, "GET", "/v1/groups/30", None);
    // User 3 was a member already: the count stays at four.
    assert_eq!(detail["member_count"], 4, "{detail}");
    // Running it again changes nothing.
    import(&app, &fixture("owner_change.jsonl"));
    assert_eq!((role(3), role(1)), ("owner".into(), "member".into()));
    assert_eq!(app.as_user(3, "GET", "/v1/groups/30", None).1["member_count"], 4);
}
