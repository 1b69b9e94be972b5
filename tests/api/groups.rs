//! The product rules of groups: creation, quota, joining, approval, invites, admins, leaving.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};
use groupscout::config::{Rules, Tier};

fn open_group(name: &str) -> serde_json::Value {
    json!({"name": name, "category": "outdoor", "join_approval": false, "members_can_invite": true})
}

#[test]
fn creating_a_group_needs_a_mutual_follow_friend() {
    let app = spawn_app();
    app.user(1, "female", Some(1995));
    app.user(2, "male", Some(1990));
    let (s, b) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("徒步群")));
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("needs_mutual_friend")));
    // A one-way follow is not a friend.
    app.admin("PUT", "/v1/users/1/follows/2", None);
    let (s, _) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("徒步群")));
    assert_eq!(s, 403);
    app.admin("PUT", "/v1/users/2/follows/1", None);
    let (s, b) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("徒步群")));
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["member_count"], 1);
    assert_eq!(b["capacity"], 200);
    assert_eq!(b["viewer"]["role"], "owner");
}

#[test]
fn the_number_of_mutual_friends_needed_is_configuration() {
    let app = spawn_app_with(Rules { min_mutual_friends: 2, ..Rules::default() });
    app.owner(1, 2);
    let (s, b) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("车队")));
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("needs_mutual_friend")));
    app.user(3, "male", None);
    app.befriend(1, 3);
    let (s, _) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("车队")));
    assert_eq!(s, 201);
}

#[test]
fn a_normal_user_owns_at_most_four_groups_and_dissolving_frees_a_slot() {
    let app = spawn_app();
    app.owner(1, 2);
    let ids: Vec<i64> = (0..4).map(|i| app.group(1, open_group(&format!("群{i}")))).collect();
    let (s, b) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("第五个群")));
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("group_quota_exceeded")));
    let (s, _) = app.as_user(1, "DELETE", &format!("/v1/groups/{}", ids[0]), None);
    assert_eq!(s, 200);
    let (s, _) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("第五个群")));
    assert_eq!(s, 201);
}

#[test]
fn tiers_set_the_quota_and_the_capacity() {
    let mut rules = Rules::default();
    rules.tiers.insert("creator".into(), Tier { max_groups: 6, capacity: 500 });
    let app = spawn_app_with(rules);
    app.owner(1, 2);
    let (s, _) =
        app.admin("PUT", "/v1/users/1", Some(&json!({"nickname": "达人", "gender": "female", "tier": "creator"})));
    assert_eq!(s, 200);
    for i in 0..6 {
        let (s, b) = app.as_user(1, "POST", "/v1/groups", Some(&open_group(&format!("群{i}"))));
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["capacity"], 500);
    }
    let (s, _) = app.as_user(1, "POST", "/v1/groups", Some(&open_group("再来一个")));
    assert_eq!(s, 409);
    let (s, b) = app.admin("PUT", "/v1/users/3", Some(&json!({"nickname": "x", "gender": "male", "tier": "gold"})));
    assert_eq!((s, b["error"]["field"].as_str()), (422, Some("tier")));
}

#[test]
fn an_open_group_admits_at_once_and_an_approval_group_queues() {
    let app = spawn_app();
    app.owner(1, 2);
    app.user(3, "female", Some(2000));
    let open = app.group(1, open_group("开放群"));
    let closed = app
        .group(1, json!({"name": "审核群", "category": "reading", "join_approval": true, "members_can_invite": true}));
    let (s, b) = app.as_user(3, "POST", &format!("/v1/groups/{open}/join"), Some(&json!({})));
    assert_eq!((s, b["status"].as_str()), (200, Some("joined")));
    let (s, b) = app.as_user(3, "POST", &format!("/v1/groups/{open}/join"), None);
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("already_member")));
    let (s, b) = app.as_user(3, "POST", &format!("/v1/groups/{closed}/join"), Some(&json!({"message": "想加入"})));
    assert_eq!((s, b["status"].as_str()), (200, Some("pending")));
    let (_, d) = app.as_user(3, "GET", &format!("/v1/groups/{closed}"), None);
    assert_eq!(d["viewer"]["role"], "pending");
    assert_eq!(d["member_count"], 1);
    let (s, b) = app.as_user(1, "GET", &format!("/v1/groups/{closed}/requests"), None);
    assert_eq!(s, 200);
    assert_eq!(b["requests"][0]["user_id"], 3);
    assert_eq!(b["requests"][0]["message"], "想加入");
    // A plain member cannot see or decide applications.
    let (s, _) = app.as_user(3, "GET", &format!("/v1/groups/{closed}/requests"), None);
    assert_eq!(s, 403);
    let (s, _) = app.as_user(1, "POST", &format!("/v1/groups/{closed}/requests/3/approve"), None);
    assert_eq!(s, 200);
    let (_, d) = app.as_user(3, "GET", &format!("/v1/groups/{closed}"), None);
    assert_eq!(d["viewer"]["role"], "member");
    assert_eq!(d["member_count"], 2);
    let (s, _) = app.as_user(1, "POST", &format!("/v1/groups/{closed}/requests/3/approve"), None);
    assert_eq!(s, 404);
}

#[test]
fn an_admin_may_reject_and_approving_into_a_full_group_is_refused() {
    let mut rules = Rules::default();
    rules.tiers.insert("normal".into(), Tier { max_groups: 4, capacity: 3 });
    let app = spawn_app_with(rules);
    app.owner(1, 2);
    for u in 3..=6 {
        app.user(u, "male", None);
    }
    let g =
        app.group(1, json!({"name": "小群", "category": "friends", "join_approval": true, "members_can_invite": true}));
    for u in [2, 3, 4, 5] {
        let (s, _) = app.as_user(u, "POST", &format!("/v1/groups/{g}/join"), None);
        assert_eq!(s, 200);
    }
    app.as_user(1, "POST", &format!("/v1/groups/{g}/requests/2/approve"), None);
    let (s, _) = app.as_user(1, "PUT", &format!("/v1/groups/{g}/admins/2"), None);
    assert_eq!(s, 200);
    let (s, b) = app.as_user(2, "POST", &format!("/v1/groups/{g}/requests/3/reject"), None);
    assert_eq!((s, b["status"].as_str()), (200, Some("rejected")));
    let (s, _) = app.as_user(2, "POST", &format!("/v1/groups/{g}/requests/4/approve"), None);
    assert_eq!(s, 200);
    let (s, b) = app.as_user(2, "POST", &format!("/v1/groups/{g}/requests/5/approve"), None);
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("group_full")));
    let (s, b) = app.as_user(6, "POST", &format!("/v1/groups/{g}/join"), None);
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("group_full")));
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["member_count"], 3);
}

#[test]
fn members_invite_only_friends_and_only_when_the_owner_allows() {
    let app = spawn_app();
    app.owner(1, 2);
    for u in 3..=5 {
        app.user(u, "female", Some(1999));
    }
    app.befriend(2, 3);
    app.befriend(2, 4);
    let g = app
        .group(1, json!({"name": "邀请群", "category": "friends", "join_approval": true, "members_can_invite": false}));
    // The owner invites a friend directly, approval or not.
    let (s, b) = app.as_user(1, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 2})));
    assert_eq!((s, b["status"].as_str()), (200, Some("joined")));
    // A member may not invite while the owner forbids it.
    let (s, _) = app.as_user(2, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 3})));
    assert_eq!(s, 403);
    let (s, _) = app.as_user(1, "PATCH", &format!("/v1/groups/{g}"), Some(&json!({"members_can_invite": true})));
    assert_eq!(s, 200);
    let (s, _) = app.as_user(2, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 3})));
    assert_eq!(s, 200);
    // Not a friend of the inviter.
    let (s, _) = app.as_user(2, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 5})));
    assert_eq!(s, 403);
    let (s, b) = app.as_user(2, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 3})));
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("already_member")));
    // An outsider cannot invite.
    let (s, _) = app.as_user(5, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 4})));
    assert_eq!(s, 403);
    // An admin may invite even when members may not.
    app.as_user(1, "PATCH", &format!("/v1/groups/{g}"), Some(&json!({"members_can_invite": false})));
    app.as_user(1, "PUT", &format!("/v1/groups/{g}/admins/2"), None);
    let (s, _) = app.as_user(2, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 4})));
    assert_eq!(s, 200);
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["member_count"], 4);
}

#[test]
fn only_the_owner_picks_admins_among_members_and_changes_settings() {
    let app = spawn_app();
    app.owner(1, 2);
    app.user(3, "male", None);
    let g = app.group(1, open_group("管理群"));
    let (s, b) = app.as_user(1, "PUT", &format!("/v1/groups/{g}/admins/3"), None);
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("not_a_member")));
    app.as_user(2, "POST", &format!("/v1/groups/{g}/join"), None);
    app.as_user(3, "POST", &format!("/v1/groups/{g}/join"), None);
    let (s, _) = app.as_user(2, "PUT", &format!("/v1/groups/{g}/admins/3"), None);
    assert_eq!(s, 403);
    let (s, _) = app.as_user(1, "PUT", &format!("/v1/groups/{g}/admins/2"), None);
    assert_eq!(s, 200);
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["admins"][0]["user_id"], 2);
    // An admin edits fields and the announcement, but not the settings.
    let (s, b) =
        app.as_user(2, "PATCH", &format!("/v1/groups/{g}"), Some(&json!({"name": "新名字", "description": "简介"})));
    assert_eq!((s, b["name"].as_str()), (200, Some("新名字")));
    let (s, _) = app.as_user(2, "PUT", &format!("/v1/groups/{g}/announcement"), Some(&json!({"text": "周六集合"})));
    assert_eq!(s, 200);
    let (s, _) = app.as_user(2, "PATCH", &format!("/v1/groups/{g}"), Some(&json!({"join_approval": true})));
    assert_eq!(s, 403);
    let (s, _) = app.as_user(3, "PUT", &format!("/v1/groups/{g}/announcement"), Some(&json!({"text": "我来发"})));
    assert_eq!(s, 403);
    let (s, _) = app.as_user(2, "DELETE", &format!("/v1/groups/{g}"), None);
    assert_eq!(s, 403);
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["announcement"], "周六集合");
    assert_eq!(d["description"], "简介");
    assert_eq!(d["join_approval"], false);
    let (s, _) = app.as_user(1, "DELETE", &format!("/v1/groups/{g}/admins/2"), None);
    assert_eq!(s, 200);
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["admins"], json!([]));
}

#[test]
fn the_owner_cannot_leave_but_members_can_and_managers_remove() {
    let app = spawn_app();
    app.owner(1, 2);
    app.user(3, "male", None);
    app.user(4, "male", None);
    let g = app.group(1, open_group("离开群"));
    for u in [2, 3, 4] {
        app.as_user(u, "POST", &format!("/v1/groups/{g}/join"), None);
    }
    let (s, b) = app.as_user(1, "DELETE", &format!("/v1/groups/{g}/members/1"), None);
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("owner_cannot_leave")));
    let (s, b) = app.as_user(3, "DELETE", &format!("/v1/groups/{g}/members/3"), None);
    assert_eq!((s, b["status"].as_str()), (200, Some("left")));
    let (s, _) = app.as_user(4, "DELETE", &format!("/v1/groups/{g}/members/2"), None);
    assert_eq!(s, 403);
    app.as_user(1, "PUT", &format!("/v1/groups/{g}/admins/2"), None);
    let (s, _) = app.as_user(2, "DELETE", &format!("/v1/groups/{g}/members/4"), None);
    assert_eq!(s, 200);
    let (s, _) = app.as_user(2, "DELETE", &format!("/v1/groups/{g}/members/1"), None);
    assert_eq!(s, 403);
    let (_, d) = app.get(&format!("/v1/groups/{g}"), None);
    assert_eq!(d["member_count"], 2);
}

#[test]
fn a_dissolved_group_is_gone_for_everyone() {
    let app = spawn_app();
    app.owner(1, 2);
    let g = app.group(1, open_group("解散群"));
    app.as_user(2, "POST", &format!("/v1/groups/{g}/join"), None);
    let (s, _) = app.as_user(1, "DELETE", &format!("/v1/groups/{g}"), None);
    assert_eq!(s, 200);
    assert_eq!(app.get(&format!("/v1/groups/{g}"), None).0, 404);
    assert_eq!(app.as_user(1, "GET", &format!("/v1/groups/{g}"), None).0, 404);
    assert_eq!(app.as_user(2, "POST", &format!("/v1/groups/{g}/join"), None).0, 404);
    let (_, list) = app.as_user(2, "GET", "/v1/users/2/groups", None);
    assert_eq!(list["groups"], json!([]));
}
