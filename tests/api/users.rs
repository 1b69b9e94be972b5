//! The user sync and the statistics that follow a user's attributes.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

/// Rules without the privacy floor, so a small group's figures can be followed.
fn no_floor() -> groupscout::config::Rules {
    groupscout::config::Rules { privacy_min_members: 0, ..groupscout::config::Rules::default() }
}

#[test]
fn membership_statistics_follow_joins_leaves_and_profile_changes() {
    let app = spawn_app_with(no_floor());
    let year = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).year_ce().1 as i64;
    app.owner(1, 2); // 1: female 1995, 2: male 1990
    app.user(3, "female", None);
    app.user(4, "unknown", Some(2000));
    let g =
        app.group(1, json!({"name": "统计群", "category": "food", "join_approval": false, "members_can_invite": true}));
    for u in [2, 3, 4] {
        app.as_user(u, "POST", &format!("/v1/groups/{g}/join"), None);
    }
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["member_count"], 4);
    assert_eq!(d["female_count"], 2);
    // Ages y-1995, y-1990, y-2000 over three members with a birth year.
    let sum = (year - 1995) + (year - 1990) + (year - 2000);
    assert_eq!(d["avg_age"], (2 * sum + 3) / 6);
    // A changed gender and birth year move the statistics.
    app.admin("PUT", "/v1/users/3", Some(&json!({"nickname": "c", "gender": "male", "birth_year": 1980})));
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["female_count"], 1);
    let sum = sum + (year - 1980);
    assert_eq!(d["avg_age"], (2 * sum + 4) / 8);
    app.as_user(3, "DELETE", &format!("/v1/groups/{g}/members/3"), None);
    app.as_user(1, "DELETE", &format!("/v1/groups/{g}/members/4"), None);
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["member_count"], 2);
    assert_eq!(d["female_count"], 1);
    assert_eq!(d["avg_age"], ((year - 1995) + (year - 1990) + 1) / 2);
}

#[test]
fn the_privacy_floor_hides_gender_and_age_of_small_groups_on_every_card() {
    let app = spawn_app();
    app.owner(1, 2);
    for u in 3..=6 {
        app.user(u, if u % 2 == 0 { "female" } else { "male" }, Some(1990 + u));
    }
    let g = app.group(
        1,
        json!({"name": "隐私门槛群", "category": "food", "join_approval": false, "members_can_invite": true,
               "location": {"lat": 39.99, "lon": 116.30}}),
    );
    let cards = |app: &crate::helpers::TestApp| -> Vec<serde_json::Value> {
        app.settle();
        let detail = app.get(&format!("/v1/groups/{g}"), None).1;
        let search = app.get(&format!("/v1/search?q={}", crate::helpers::enc("隐私门槛")), None).1["groups"][0].clone();
        let nearby = app.get("/v1/nearby?lat=39.99&lon=116.30&radius_km=1", None).1["groups"][0].clone();
        let profile = app.as_user(1, "GET", "/v1/users/1/groups", None).1["groups"][0].clone();
        vec![detail, search, nearby, profile]
    };
    // Four members (the owner and three joiners): hidden on every card.
    for u in 3..=5 {
        app.as_user(u, "POST", &format!("/v1/groups/{g}/join"), None);
    }
    for c in cards(&app) {
        assert_eq!(c["id"], g, "{c}");
        assert_eq!(c["member_count"], 4, "{c}");
        assert_eq!(c["female_count"], serde_json::Value::Null, "{c}");
        assert_eq!(c["avg_age"], serde_json::Value::Null, "{c}");
    }
    // The fifth member lifts the floor.
    app.as_user(6, "POST", &format!("/v1/groups/{g}/join"), None);
    for c in cards(&app) {
        assert_eq!(c["member_count"], 5, "{c}");
        assert!(c["female_count"].as_i64().is_some(), "{c}");
        assert!(c["avg_age"].as_i64().is_some(), "{c}");
    }
}

#[test]
fn avg_age_is_null_when_no_member_has_a_birth_year() {
    let app = spawn_app_with(no_floor());
    app.user(1, "female", None);
    app.user(2, "male", None);
    app.befriend(1, 2);
    let g = app
        .group(1, json!({"name": "无年龄群", "category": "music", "join_approval": false, "members_can_invite": true}));
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["avg_age"], serde_json::Value::Null);
}

#[test]
fn the_user_sync_upserts_and_returns_the_user() {
    let app = spawn_app();
    let (s, b) =
        app.admin("PUT", "/v1/users/7", Some(&json!({"nickname": " 小鱼 ", "gender": "female", "birth_year": 1998})));
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!({"id": 7, "nickname": "小鱼", "gender": "female", "birth_year": 1998, "tier": "normal", "show_joined_groups": false})
    );
    let (_, b) = app.admin(
        "PUT",
        "/v1/users/7",
        Some(&json!({"nickname": "小鱼", "gender": "female", "show_joined_groups": true})),
    );
    assert_eq!(b["show_joined_groups"], true);
    assert_eq!(b["birth_year"], serde_json::Value::Null);
}

#[test]
fn following_needs_known_users_and_unfollowing_ends_the_friendship() {
    let app = spawn_app();
    app.user(1, "female", None);
    let (s, _) = app.admin("PUT", "/v1/users/1/follows/99", None);
    assert_eq!(s, 404);
    let (s, b) = app.admin("PUT", "/v1/users/1/follows/1", None);
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_field")));
    app.user(2, "male", None);
    app.befriend(1, 2);
    let (s, _) = app.admin("DELETE", "/v1/users/2/follows/1", None);
    assert_eq!(s, 200);
    let (s, b) = app.as_user(1, "POST", "/v1/groups", Some(&json!({"name": "x群", "category": "other"})));
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("needs_mutual_friend")));
}

use chrono::Datelike;
