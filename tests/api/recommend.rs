//! Recommendations: candidates, exclusions, diversity, reasons and cold start.

use std::collections::HashMap;

use serde_json::json;

use crate::helpers::{spawn_app_with, TestApp};
use groupscout::config::{Rules, Tier};

const LAT: f64 = 31.23;
const LON: f64 = 121.47;

fn world() -> TestApp {
    let mut rules = Rules::default();
    rules.tiers.insert("normal".into(), Tier { max_groups: 20, capacity: 4 });
    let app = spawn_app_with(rules);
    app.owner(1, 2);
    app.user(9, "female", Some(2000)); // the newcomer: no friends, no groups
    app
}

fn recs(app: &TestApp, user: i64, query: &str) -> serde_json::Value {
    let (s, b) = app.as_user(user, "GET", &format!("/v1/users/{user}/recommendations?{query}"), None);
    assert_eq!(s, 200, "{b}");
    b
}

#[test]
fn a_newcomer_without_friends_or_groups_gets_groups_near_them() {
    let app = world();
    let near = app.located_group(1, "附近的读书会", "reading", LAT + 0.005, LON);
    let far = app.located_group(1, "很远的读书会", "reading", LAT + 1.0, LON);
    app.settle();
    let body = recs(&app, 9, &format!("lat={LAT}&lon={LON}"));
    let ids = TestApp::ids(&body);
    assert!(ids.contains(&near) && !ids.contains(&far), "{ids:?}");
    let reasons = body["groups"][0]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r.as_str().unwrap().starts_with("距你")), "{reasons:?}");
    assert!(body["groups"][0]["distance_m"].as_f64().unwrap() < 1000.0);
    // Without a location and without history there is nothing to go on.
    assert_eq!(TestApp::ids(&recs(&app, 9, "")), Vec::<i64>::new());
}

#[test]
fn at_most_three_of_one_category_fill_the_first_ten() {
    let app = world();
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(app.located_group(1, &format!("美食群{i}"), "food", LAT + i as f64 * 0.001, LON));
    }
    for i in 0..4 {
        ids.push(app.located_group(1, &format!("跑步群{i}"), "sports", LAT, LON + i as f64 * 0.001));
    }
    app.settle();
    let body = recs(&app, 9, &format!("lat={LAT}&lon={LON}&limit=10"));
    let mut per_category: HashMap<String, usize> = HashMap::new();
    for g in body["groups"].as_array().unwrap() {
        *per_category.entry(g["category"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert!(per_category.values().all(|n| *n <= 3), "{per_category:?}");
}

#[test]
fn friends_and_favourite_categories_explain_the_ranking() {
    let app = world();
    for u in [3, 4, 5, 6] {
        app.user(u, "male", None);
    }
    app.befriend(3, 4);
    app.befriend(3, 5);
    let with_friends = app.located_group(1, "朋友们的群", "music", LAT + 0.2, LON);
    let liked = app.located_group(1, "摄影外拍", "photography", LAT + 0.05, LON);
    let joined = app.located_group(1, "已加入的摄影群", "photography", LAT, LON);
    let pending = app.group(1, json!({"name": "审核中的群", "category": "photography", "location": {"lat": LAT, "lon": LON}, "join_approval": true}));
    let full = app.located_group(1, "满员群", "photography", LAT, LON);
    for u in [4, 5] {
        app.as_user(u, "POST", &format!("/v1/groups/{with_friends}/join"), None);
    }
    app.as_user(3, "POST", &format!("/v1/groups/{joined}/join"), None);
    app.as_user(3, "POST", &format!("/v1/groups/{pending}/join"), None);
    for u in [4, 5, 6] {
        app.as_user(u, "POST", &format!("/v1/groups/{full}/join"), None);
    }
    app.settle();
    let body = recs(&app, 3, &format!("lat={LAT}&lon={LON}"));
    let ids = TestApp::ids(&body);
    assert_eq!(ids[0], with_friends, "{body}");
    assert!(body["groups"][0]["reasons"].as_array().unwrap().contains(&json!("2位好友在群")));
    let liked_card = body["groups"].as_array().unwrap().iter().find(|g| g["id"] == liked).expect("the liked category");
    assert!(liked_card["reasons"].as_array().unwrap().contains(&json!("你常逛摄影")), "{liked_card}");
    for excluded in [joined, pending, full] {
        assert!(!ids.contains(&excluded), "{excluded} in {ids:?}");
    }
}
