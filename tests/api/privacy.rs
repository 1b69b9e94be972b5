//! Hidden profile lists, non-discoverable and dissolved groups never leak.

use serde_json::json;

use crate::helpers::{enc, spawn_app, TestApp};

const LAT: f64 = 39.99;
const LON: f64 = 116.30;

fn hidden_world() -> (TestApp, i64, i64, i64) {
    let app = spawn_app();
    app.owner(1, 2);
    app.user(3, "female", None);
    let visible = app.located_group(1, "秘密花园公开群", "friends", LAT, LON);
    let hidden = app.group(
        1,
        json!({"name": "秘密花园内部群", "category": "friends", "location": {"lat": LAT, "lon": LON}, "discoverable": false}),
    );
    let dissolved = app.located_group(1, "秘密花园旧群", "friends", LAT, LON);
    for g in [visible, hidden, dissolved] {
        app.as_user(1, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 2})));
    }
    app.as_user(1, "DELETE", &format!("/v1/groups/{dissolved}"), None);
    app.settle();
    (app, visible, hidden, dissolved)
}

#[test]
fn hidden_and_dissolved_groups_stay_out_of_search_nearby_and_suggest() {
    let (app, visible, hidden, dissolved) = hidden_world();
    let searched = TestApp::ids(&app.search(&format!("q={}", enc("秘密花园"))));
    assert_eq!(searched, vec![visible]);
    let near = TestApp::ids(&app.get(&format!("/v1/nearby?lat={LAT}&lon={LON}&radius_km=1"), None).1);
    assert_eq!(near, vec![visible]);
    let (_, s) = app.get(&format!("/v1/suggest?q={}", enc("秘密")), None);
    let suggested: Vec<i64> = s["suggestions"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect();
    assert_eq!(suggested, vec![visible]);
    let (_, everything) = app.get(&format!("/v1/search?lat={LAT}&lon={LON}&radius_km=5"), None);
    assert_eq!(TestApp::ids(&everything), vec![visible]);
    assert_eq!(everything["total"], 1);
    assert!(![hidden, dissolved].iter().any(|g| everything.to_string().contains(&format!("\"id\":{g}"))));
}

#[test]
fn a_hidden_group_is_404_to_outsiders_and_visible_to_members() {
    let (app, _, hidden, _) = hidden_world();
    assert_eq!(app.get(&format!("/v1/groups/{hidden}"), None).0, 404);
    assert_eq!(app.as_user(3, "GET", &format!("/v1/groups/{hidden}"), None).0, 404);
    assert_eq!(app.as_user(3, "POST", &format!("/v1/groups/{hidden}/join"), None).0, 404);
    let (s, d) = app.as_user(2, "GET", &format!("/v1/groups/{hidden}"), None);
    assert_eq!((s, d["viewer"]["role"].as_str()), (200, Some("member")));
}

#[test]
fn profile_lists_respect_the_setting_and_never_show_hidden_groups_to_others() {
    let (app, visible, hidden, _) = hidden_world();
    let (_, own) = app.as_user(2, "GET", "/v1/users/2/groups", None);
    let mut own_ids = TestApp::ids(&own);
    own_ids.sort();
    assert_eq!(own_ids, vec![visible, hidden]);
    assert_eq!(app.as_user(3, "GET", "/v1/users/2/groups", None).1, json!({"hidden": true, "groups": []}));
    assert_eq!(app.get("/v1/users/2/groups", None).1, json!({"hidden": true, "groups": []}));
    app.as_user(2, "PATCH", "/v1/users/2/settings", Some(&json!({"show_joined_groups": true})));
    let (_, shown) = app.as_user(3, "GET", "/v1/users/2/groups", None);
    assert_eq!(shown["hidden"], false);
    assert_eq!(TestApp::ids(&shown), vec![visible]);
    assert_eq!(TestApp::ids(&app.get("/v1/users/2/groups", None).1), vec![visible]);
}

#[test]
fn recommendations_never_offer_hidden_full_joined_or_dissolved_groups() {
    let (app, visible, _, _) = hidden_world();
    app.befriend(2, 3);
    let (s, recs) = app.as_user(3, "GET", &format!("/v1/users/3/recommendations?lat={LAT}&lon={LON}"), None);
    assert_eq!(s, 200);
    assert_eq!(TestApp::ids(&recs), vec![visible]);
    let reasons = recs["groups"][0]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "1位好友在群"), "{reasons:?}");
    app.as_user(3, "POST", &format!("/v1/groups/{visible}/join"), None);
    let (_, recs) = app.as_user(3, "GET", &format!("/v1/users/3/recommendations?lat={LAT}&lon={LON}"), None);
    assert_eq!(TestApp::ids(&recs), Vec::<i64>::new());
}
