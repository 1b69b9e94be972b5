//! Search, nearby and suggest: filters, sorts, pagination, exactness and freshness.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::{enc, spawn_app, TestApp};

/// Imports groups through the importer (fast), as (id, name, category, lat, lon).
fn import_groups(app: &TestApp, groups: &[(i64, String, &str, f64, f64)]) {
    let mut lines = String::from("{\"type\":\"user\",\"id\":1,\"nickname\":\"主\",\"gender\":\"female\"}\n");
    for (id, name, cat, lat, lon) in groups {
        lines.push_str(
            &json!({"type": "group", "id": id, "owner_id": 1, "name": name, "category": cat,
                    "location": {"lat": lat, "lon": lon}, "join_approval": false, "members_can_invite": true})
            .to_string(),
        );
        lines.push('\n');
    }
    let summary = groupscout::jobs::import::import(&app.app.store, &mut lines.as_bytes(), |_, _| {}).unwrap();
    assert_eq!(summary.skipped, 0, "{:?}", summary.errors);
    app.settle();
}

fn page_all(app: &TestApp, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = first.to_string();
    loop {
        let (s, b) = app.get(&url, None);
        assert_eq!(s, 200, "{url}: {b}");
        out.extend(b["groups"].as_array().unwrap().iter().cloned());
        match b["next_cursor"].as_str() {
            Some(c) => url = format!("{first}&cursor={}", enc(c)),
            None => break,
        }
    }
    out
}

/// A location for group `id`: one in ten scattered over China, the rest around Beijing.
fn scattered_location(rng: &mut impl Rng, id: i64) -> (f64, f64) {
    if id % 10 == 0 {
        (rng.gen_range(20.0..45.0), rng.gen_range(100.0..125.0))
    } else {
        (39.9 + rng.gen_range(-0.6..0.6), 116.4 + rng.gen_range(-0.8..0.8))
    }
}

#[test]
fn nearby_returns_exactly_the_groups_within_the_radius_nearest_first() {
    let app = spawn_app();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut groups: Vec<(i64, String, &str, f64, f64)> = Vec::new();
    for id in 1..=2_000 {
        // A cluster around Beijing, a sprinkle far away, and some exact duplicates.
        let (lat, lon) =
            if id % 50 == 1 && id > 1 { (groups[0].3, groups[0].4) } else { scattered_location(&mut rng, id) };
        groups.push((id, format!("测试群{id}"), "local", lat, lon));
    }
    import_groups(&app, &groups);
    for case in 0..200 {
        // Points at a group's exact location, on round-number grid lines, and random.
        let (lat, lon) = match case % 3 {
            0 => (groups[case * 7 % groups.len()].3, groups[case * 7 % groups.len()].4),
            1 => ((39.9f64 + rng.gen_range(-0.5..0.5)).round(), (116.4f64 + rng.gen_range(-0.5..0.5)).round()),
            _ => (39.9 + rng.gen_range(-0.7..0.7), 116.4 + rng.gen_range(-0.9..0.9)),
        };
        let radius_km: f64 = if case % 4 == 0 { 100.0 } else { 10f64.powf(rng.gen_range(-1.0..2.0)) };
        let expected: BTreeSet<i64> = groups
            .iter()
            .filter(|g| groupscout::geo::haversine_m(lat, lon, g.3, g.4) <= radius_km * 1000.0)
            .map(|g| g.0)
            .collect();
        let url = format!("/v1/nearby?lat={lat}&lon={lon}&radius_km={radius_km}&limit=50");
        let got = page_all(&app, &url);
        let ids: Vec<i64> = got.iter().map(|g| g["id"].as_i64().unwrap()).collect();
        let unique: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "duplicates across pages for {url}");
        assert_eq!(unique, expected, "case {case}: {url}");
        let mut last = (0.0, 0);
        for g in &got {
            let id = g["id"].as_i64().unwrap();
            let d = g["distance_m"].as_f64().unwrap();
            let src = &groups[(id - 1) as usize];
            let reference = groupscout::geo::haversine_m(lat, lon, src.3, src.4);
            assert!((d - reference).abs() <= 1.0, "distance {d} vs {reference}");
            assert!((reference, id) >= last, "not nearest first");
            last = (reference, id);
        }
    }
}

#[test]
fn text_search_within_a_radius_counts_and_returns_exactly_the_matching_groups_inside_it() {
    let app = spawn_app();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut groups: Vec<(i64, String, &str, f64, f64)> = Vec::new();
    for id in 1..=1_500 {
        let (lat, lon) = scattered_location(&mut rng, id);
        let name = match id % 3 {
            0 => format!("跑步小队{id}"),
            1 => format!("读书会{id}"),
            _ => format!("测试群{id}"),
        };
        groups.push((id, name, if id % 2 == 0 { "sports" } else { "music" }, lat, lon));
    }
    import_groups(&app, &groups);
    // Without a radius, the union of the words' sets, by category.
    for words in [&["跑步"][..], &["跑步", "读书"], &["跑步", "小队"], &["跑步", "读书", "测试"]] {
        let matching: Vec<_> = groups.iter().filter(|g| words.iter().any(|w| g.1.contains(w))).collect();
        let body = app.search(&format!("q={}", enc(&words.join(" "))));
        assert_eq!(body["total"].as_u64(), Some(matching.len() as u64), "{words:?}");
        let sports = matching.iter().filter(|g| g.2 == "sports").count() as u64;
        assert_eq!(body["facets"]["category"]["sports"].as_u64().unwrap_or(0), sports, "{words:?}");
        let body = app.search(&format!("q={}&category=music", enc(&words.join(" "))));
        assert_eq!(body["total"].as_u64(), Some(matching.len() as u64 - sports), "{words:?}");
    }
    for case in 0..60 {
        let (lat, lon) = match case % 3 {
            0 => (groups[case * 11 % groups.len()].3, groups[case * 11 % groups.len()].4),
            1 => ((39.9f64 + rng.gen_range(-0.5..0.5)).round(), (116.4f64 + rng.gen_range(-0.5..0.5)).round()),
            _ => (39.9 + rng.gen_range(-0.7..0.7), 116.4 + rng.gen_range(-0.9..0.9)),
        };
        let radius_km: f64 = 10f64.powf(rng.gen_range(-0.5..1.5));
        let words: &[&str] = if case % 2 == 0 { &["跑步"] } else { &["跑步", "读书"] };
        let expected: BTreeSet<i64> = groups
            .iter()
            .filter(|g| words.iter().any(|w| g.1.contains(w)))
            .filter(|g| groupscout::geo::haversine_m(lat, lon, g.3, g.4) <= radius_km * 1000.0)
            .map(|g| g.0)
            .collect();
        let q = enc(&words.join(" "));
        for sort in ["relevance", "distance"] {
            let url = format!("/v1/search?q={q}&lat={lat}&lon={lon}&radius_km={radius_km}&sort={sort}&limit=50");
            let (s, first) = app.get(&url, None);
            assert_eq!(s, 200, "{url}: {first}");
            assert_eq!(first["total"].as_u64(), Some(expected.len() as u64), "case {case}: {url}");
            let facet_sum: u64 =
                first["facets"]["category"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
            assert_eq!(facet_sum, expected.len() as u64, "facets of {url}");
            let got: Vec<i64> = page_all(&app, &url).iter().map(|g| g["id"].as_i64().unwrap()).collect();
            let unique: BTreeSet<i64> = got.iter().copied().collect();
            assert_eq!(unique.len(), got.len(), "duplicates across pages for {url}");
            assert_eq!(unique, expected, "case {case}: {url}");
        }
    }
}

#[test]
fn a_new_group_is_searchable_within_a_second_and_a_dissolved_one_disappears_as_fast() {
    let app = spawn_app();
    app.owner(1, 2);
    let started = Instant::now();
    let g = app.located_group(1, "闪电飞盘训练营", "sports", 31.23, 121.47);
    let found = |q: &str| TestApp::ids(&app.search(q)).contains(&g);
    let wait = |want: bool, q: &str| {
        let start = Instant::now();
        while found(q) != want {
            assert!(start.elapsed() < Duration::from_secs(1), "not visible within 1 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        start.elapsed()
    };
    wait(true, &format!("q={}", enc("飞盘")));
    wait(true, "lat=31.23&lon=121.47&radius_km=1");
    assert!(started.elapsed() < Duration::from_secs(2));
    app.as_user(1, "DELETE", &format!("/v1/groups/{g}"), None);
    wait(false, &format!("q={}", enc("飞盘")));
    let near = TestApp::ids(&app.get("/v1/nearby?lat=31.23&lon=121.47&radius_km=1", None).1);
    assert!(!near.contains(&g));
}

#[test]
fn totals_and_facets_follow_renames_and_dissolves_after_the_words_were_searched() {
    let app = spawn_app();
    // Owners 1, 3 and 4 (a normal tier owns at most four groups).
    for u in [1, 3, 4] {
        app.owner(u, 2);
    }
    let owner_of = |i: usize| [1, 1, 3, 3, 4, 4][i];
    let groups: Vec<i64> = (0..6)
        .map(|i| {
            let category = if i % 2 == 0 { "sports" } else { "music" };
            app.located_group(owner_of(i), &format!("飞盘小队{i}"), category, 31.2 + i as f64 * 0.01, 121.4)
        })
        .collect();
    let other = app.located_group(1, "读书分享会", "reading", 31.25, 121.45);
    app.settle();
    let counts = || {
        let body = app.search(&format!("q={}", enc("飞盘 读书")));
        let sports = body["facets"]["category"]["sports"].as_u64().unwrap_or(0);
        (body["total"].as_u64().unwrap(), sports)
    };
    // Searched often enough for every segment to keep the words' sets.
    for _ in 0..3 {
        assert_eq!(counts(), (7, 3));
    }
    let wait_for = |want: (u64, u64)| {
        let start = Instant::now();
        while counts() != want {
            assert!(start.elapsed() < Duration::from_secs(1), "still {:?}, want {want:?}", counts());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // A sports group dissolved, another renamed away from both words.
    app.as_user(1, "DELETE", &format!("/v1/groups/{}", groups[0]), None);
    let (s, b) = app.as_user(3, "PATCH", &format!("/v1/groups/{}", groups[2]), Some(&json!({"name": "周末桌游局"})));
    assert_eq!(s, 200, "{b}");
    wait_for((5, 1));
    // A group renamed into the match set, and one renamed from one word to the other.
    let (s, b) = app.as_user(3, "PATCH", &format!("/v1/groups/{}", groups[2]), Some(&json!({"name": "飞盘新手营"})));
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.as_user(1, "PATCH", &format!("/v1/groups/{other}"), Some(&json!({"name": "飞盘读书会"})));
    assert_eq!(s, 200, "{b}");
    wait_for((6, 2));
}

fn small_world(app: &TestApp) -> Vec<i64> {
    app.owner(1, 2);
    for u in 3..=5 {
        app.owner(u, 2);
    }
    let haidian = (39.99, 116.30);
    let chaoyang = (39.92, 116.44);
    let hangzhou = (30.27, 120.15);
    let ids = vec![
        app.located_group(1, "海淀周末徒步群", "outdoor", haidian.0, haidian.1),
        app.located_group(1, "海淀羽毛球约球", "sports", haidian.0 + 0.01, haidian.1),
        app.located_group(3, "朝阳徒步爱好者", "outdoor", chaoyang.0, chaoyang.1),
        app.located_group(3, "杭州西湖徒步", "outdoor", hangzhou.0, hangzhou.1),
        app.group(4, json!({"name": "徒步装备交流", "category": "outdoor", "join_approval": true})),
        app.located_group(5, "王者荣耀5排车队", "gaming", chaoyang.0, chaoyang.1 + 0.02),
    ];
    app.settle();
    ids
}

#[test]
fn search_finds_words_infixes_places_and_ranks_full_matches_first() {
    let app = spawn_app();
    let ids = small_world(&app);
    let all = TestApp::ids(&app.search(&format!("q={}&limit=50", enc("徒步"))));
    assert_eq!(all.iter().collect::<BTreeSet<_>>(), [ids[0], ids[2], ids[3], ids[4]].iter().collect());
    // 海淀 徒步: the group matching both words comes first; partial matches follow.
    let both = TestApp::ids(&app.search(&format!("q={}", enc("海淀 徒步"))));
    assert_eq!(both[0], ids[0]);
    assert!(both.contains(&ids[1]) && both.contains(&ids[2]));
    // The text is plain: query syntax is searched as words, never parsed.
    for q in ["name:*", "\"", "AND", "徒步 OR", "((("] {
        let (s, _) = app.get(&format!("/v1/search?q={}", enc(q)), None);
        assert_eq!(s, 200, "{q}");
    }
    assert_eq!(TestApp::ids(&app.search(&format!("q={}", enc("5排")))), vec![ids[5]]);
    // Text with nothing searchable in it finds nothing (no text at all browses).
    assert_eq!(app.search(&format!("q={}", enc("🎉！？")))["total"], 0);
    assert_eq!(app.search("q=")["total"], 6);
    let body = app.search(&format!("q={}", enc("羽毛球")));
    assert_eq!(body["groups"][0]["highlight"], "海淀<em>羽毛球</em>约球");
}

#[test]
fn every_filter_narrows_the_results_and_facets_count_the_match_set() {
    let app = spawn_app();
    let ids = small_world(&app);
    let q = enc("徒步");
    let body = app.search(&format!("q={q}&place={}", enc("海淀")));
    assert_eq!(TestApp::ids(&body), vec![ids[0]]);
    let body = app.search(&format!("q={q}&place={}", enc("北京市")));
    assert_eq!(TestApp::ids(&body).iter().collect::<BTreeSet<_>>(), [ids[0], ids[2]].iter().collect());
    let body = app.search(&format!("q={q}&place={}", enc("浙江省")));
    assert_eq!(TestApp::ids(&body), vec![ids[3]]);
    let body = app.search(&format!("q={q}&open_join=true&limit=50"));
    assert!(!TestApp::ids(&body).contains(&ids[4]));
    let body = app.search("lat=39.99&lon=116.30&radius_km=3");
    assert_eq!(TestApp::ids(&body).iter().collect::<BTreeSet<_>>(), [ids[0], ids[1]].iter().collect());
    assert!(body["groups"][0]["distance_m"].is_number());
    let body = app.search("category=gaming");
    assert_eq!(TestApp::ids(&body), vec![ids[5]]);
    assert_eq!(body["facets"]["category"], json!({"gaming": 1, "outdoor": 4, "sports": 1}));
    // has_room: fill a group to capacity through the store's own rules.
    let body = app.search(&format!("q={q}&has_room=true&limit=50"));
    assert_eq!(body["total"], 4);
}

#[test]
fn sorts_order_by_distance_activity_and_age_with_ties_by_id() {
    let app = spawn_app();
    let ids = small_world(&app);
    let body = app.search("lat=39.99&lon=116.30&sort=distance&limit=50");
    let order = TestApp::ids(&body);
    assert_eq!(&order[..2], &[ids[0], ids[1]]);
    let distances: Vec<f64> =
        body["groups"].as_array().unwrap().iter().filter_map(|g| g["distance_m"].as_f64()).collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]));
    let yesterday = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai) - chrono::Duration::days(1);
    let (s, _) = app.admin(
        "POST",
        "/v1/activity",
        Some(&json!({"events": [{"group_id": ids[3], "user_id": 3, "at": yesterday.to_rfc3339(), "messages": 9}]})),
    );
    assert_eq!(s, 200);
    app.settle();
    let order = TestApp::ids(&app.search("sort=activity&limit=50"));
    assert_eq!(order[0], ids[3]);
    assert_eq!(
        &order[1..],
        &{
            let mut rest: Vec<i64> = ids.iter().copied().filter(|i| *i != ids[3]).collect();
            rest.sort();
            rest
        }[..]
    );
    let newest = TestApp::ids(&app.search("sort=newest&limit=50"));
    assert_eq!(newest.len(), ids.len());
}

#[test]
fn search_pages_follow_the_cursor_without_gaps_or_repeats() {
    let app = spawn_app();
    let groups: Vec<(i64, String, &str, f64, f64)> =
        (1..=120).map(|i| (i, format!("读书会第{i}期"), "reading", 30.0 + i as f64 * 0.001, 120.0)).collect();
    import_groups(&app, &groups);
    let pages = page_all(&app, &format!("/v1/search?q={}&limit=7", enc("读书会")));
    let ids: Vec<i64> = pages.iter().map(|g| g["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 120);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 120);
    // A cursor from one query is refused for another.
    let (_, first) = app.get(&format!("/v1/search?q={}&limit=7", enc("读书会")), None);
    let c = first["next_cursor"].as_str().unwrap();
    let (s, b) = app.get(&format!("/v1/search?q={}&limit=7&cursor={}", enc("读书"), enc(c)), None);
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_cursor")));
    let near = page_all(&app, "/v1/nearby?lat=30.05&lon=120&radius_km=20&sort=blend&limit=9");
    let near_ids: BTreeSet<i64> = near.iter().map(|g| g["id"].as_i64().unwrap()).collect();
    assert_eq!(near_ids.len(), near.len());
}

#[test]
fn suggest_completes_names_pinyin_and_initials() {
    let app = spawn_app();
    app.owner(1, 2);
    app.owner(3, 2);
    let g = app.group(1, json!({"name": "户外徒步俱乐部", "category": "outdoor"}));
    app.group(3, json!({"name": "美食探店", "category": "food"}));
    app.settle();
    for q in ["户外", "户", "huwai", "hu wai", "huw", "hwtb", "HWTB", "戶外"] {
        let (s, b) = app.get(&format!("/v1/suggest?q={}", enc(q)), None);
        assert_eq!(s, 200);
        let ids: Vec<i64> = b["suggestions"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, vec![g], "{q}");
    }
    let (_, b) = app.get("/v1/suggest?q=", None);
    assert_eq!(b["suggestions"], json!([]));
}

#[test]
fn suggest_completes_any_word_of_a_name_with_initials_across_words_and_name_starts_first() {
    let app = spawn_app();
    app.owner(1, 2);
    app.owner(3, 4);
    let inner = app.group(1, json!({"name": "北京户外徒步俱乐部", "category": "outdoor"}));
    let start = app.group(3, json!({"name": "户外摄影群", "category": "photography"}));
    app.group(1, json!({"name": "上海户外徒步群", "category": "outdoor", "discoverable": false}));
    app.settle();
    let suggest = |q: &str| -> Vec<i64> {
        let (s, b) = app.get(&format!("/v1/suggest?q={}", enc(q)), None);
        assert_eq!(s, 200, "{b}");
        b["suggestions"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect()
    };
    let cases: [(&str, Vec<i64>); 12] = [
        ("hwtb", vec![inner]),
        ("HWTB", vec![inner]),
        ("户外", vec![start, inner]),
        ("户", vec![start, inner]),
        ("hw", vec![start, inner]),
        ("huwai", vec![start, inner]),
        ("徒步", vec![inner]),
        ("tubu", vec![inner]),
        ("tbjlb", vec![inner]),
        // Longer than the bytes a key keeps: checked against the whole name.
        ("户外徒步俱乐部", vec![inner]),
        ("户外徒步俱乐队", vec![]),
        ("bu", vec![]),
    ];
    for (q, want) in cases {
        assert_eq!(suggest(q), want, "{q}");
    }
    // A rename moves the keys: the old words complete nothing, the new ones do.
    let (s, b) = app.as_user(1, "PATCH", &format!("/v1/groups/{inner}"), Some(&json!({"name": "北京登山群"})));
    assert_eq!(s, 200, "{b}");
    app.settle();
    assert_eq!(suggest("hwtb"), Vec::<i64>::new());
    assert_eq!(suggest("dengshan"), vec![inner]);
}

#[test]
fn the_detail_page_shows_the_viewer_and_friends_inside() {
    let app = spawn_app();
    app.owner(1, 2);
    app.user(3, "male", None);
    app.befriend(3, 2);
    let g = app.group(1, json!({"name": "详情群", "category": "pets", "description": "柯基", "join_approval": true}));
    app.as_user(1, "POST", &format!("/v1/groups/{g}/invites"), Some(&json!({"invitee": 2})));
    let (s, d) = app.as_user(3, "GET", &format!("/v1/groups/{g}"), None);
    assert_eq!(s, 200);
    assert_eq!(d["viewer"], json!({"role": "none", "can_apply": true, "friends_in_group": 1}));
    assert_eq!(d["description"], "柯基");
    let (_, anon) = app.get(&format!("/v1/groups/{g}"), None);
    assert!(anon.get("viewer").is_none());
}

#[test]
fn descriptions_are_searched_when_no_name_or_place_matches() {
    let app = spawn_app();
    app.owner(1, 2);
    let ball = app.group(1, json!({"name": "篮球约战", "category": "sports", "description": "每周末室内打球"}));
    let hike = app.group(1, json!({"name": "周末徒步", "category": "outdoor", "description": "爬山"}));
    app.settle();
    // 周末 is in one name and in another description: the name match is the answer.
    assert_eq!(TestApp::ids(&app.search(&format!("q={}", enc("周末")))), vec![hike]);
    // 打球 is only in a description, so descriptions are searched.
    let body = app.search(&format!("q={}", enc("打球")));
    assert_eq!((TestApp::ids(&body), body["total"].as_i64()), (vec![ball], Some(1)));
}

#[test]
fn has_room_leaves_out_full_groups_and_homophones_rank_below_the_characters() {
    let mut rules = groupscout::config::Rules::default();
    rules.tiers.insert("normal".into(), groupscout::config::Tier { max_groups: 10, capacity: 2 });
    let app = crate::helpers::spawn_app_with(rules);
    app.owner(1, 2);
    let full = app.group(1, json!({"name": "户外徒步满员", "category": "outdoor"}));
    let open = app.group(1, json!({"name": "户外徒步有位", "category": "outdoor"}));
    let homophone = app.group(1, json!({"name": "湖外风光", "category": "photography"}));
    app.as_user(2, "POST", &format!("/v1/groups/{full}/join"), None);
    app.settle();
    let all = TestApp::ids(&app.search(&format!("q={}", enc("户外徒步"))));
    assert!(all.contains(&full) && all.contains(&open));
    let with_room = app.search(&format!("q={}&has_room=true", enc("户外徒步")));
    let ids = TestApp::ids(&with_room);
    assert!(ids.contains(&open) && !ids.contains(&full), "{ids:?}");
    assert_eq!(with_room["total"].as_i64(), Some(ids.len() as i64));
    // Same pinyin (huwai), other characters: found, but after the real 户外.
    let ranked = TestApp::ids(&app.search(&format!("q={}", enc("户外"))));
    assert_eq!(ranked.last(), Some(&homophone), "{ranked:?}");
    assert_eq!(ranked.len(), 3);
}
