//! Paging by cursor: every sort shows each group of the match set once, in the order of
//! one deep request, whatever the page size; and while writes stream in, a cursor chain
//! never shows a group twice.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use groupscout::index::searcher::{self, SearchQuery, SortBy, MAX_DEPTH};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::{enc, spawn_app, TestApp, ADMIN};

/// A generated world of `groups` groups, imported and indexed.
fn world(app: &TestApp, groups: usize) {
    let opts = groupscout::jobs::gen::GenOptions { groups, seed: 11, today: app.app.store.ctx.today() };
    let mut lines = Vec::new();
    groupscout::jobs::generate(&app.app.store.ctx.gazetteer, &opts, &mut lines).unwrap();
    let summary = groupscout::jobs::import::import(&app.app.store, &mut lines.as_slice(), |_, _| {}).unwrap();
    assert_eq!(summary.skipped, 0, "{:?}", summary.errors);
    app.settle();
}

/// The ids of every page of `url`, following `next_cursor`, and the first page's total.
fn page_ids(app: &TestApp, url: &str) -> (Vec<i64>, usize) {
    let mut ids = Vec::new();
    let mut next = url.to_string();
    let mut total = None;
    loop {
        let (s, b) = app.get(&next, None);
        assert_eq!(s, 200, "{next}: {b}");
        total.get_or_insert(b["total"].as_u64().unwrap() as usize);
        ids.extend(TestApp::ids(&b));
        match b["next_cursor"].as_str() {
            Some(c) => next = format!("{url}&cursor={}", enc(c)),
            None => break,
        }
        assert!(ids.len() <= MAX_DEPTH + 50, "{url}: paging does not end");
    }
    (ids, total.unwrap())
}

#[track_caller]
fn assert_each_once(url: &str, ids: &[i64], total: usize) {
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "{url}: a group came twice");
    assert_eq!(ids.len(), total.min(MAX_DEPTH), "{url}: {} shown of a total of {total}", ids.len());
}

/// One random search: its query string and the same search in-process.
fn random_search(rng: &mut StdRng, app: &TestApp) -> (String, SearchQuery) {
    const WORDS: &[&str] = &["群", "交流", "群 交流", "户外", "北京", "宝妈 交流", "qun", "车友 自驾", "读书 群 分享"];
    const CATEGORIES: &[&str] = &["outdoor", "local", "parenting", "cars"];
    let q = WORDS[rng.gen_range(0..WORDS.len())];
    let mut sq = SearchQuery::text(q);
    let mut url = format!("q={}", enc(q));
    sq.sort = match rng.gen_range(0..6) {
        0 => SortBy::Activity,
        1 => SortBy::Newest,
        2 => SortBy::Distance,
        _ => SortBy::Relevance,
    };
    let sort_name = match sq.sort {
        SortBy::Relevance => "relevance",
        SortBy::Distance => "distance",
        SortBy::Activity => "activity",
        SortBy::Newest => "newest",
    };
    url.push_str(&format!("&sort={sort_name}"));
    if sq.sort == SortBy::Distance || rng.gen_bool(0.3) {
        // Within 100 km of Shanghai, or anywhere from a random point.
        let (lat, lon) = if rng.gen_bool(0.4) {
            sq.radius_m = Some(100_000.0);
            url.push_str("&radius_km=100");
            (31.2, 121.4)
        } else {
            (rng.gen_range(22.0..40.0), rng.gen_range(110.0..121.0))
        };
        sq.origin = Some((lat, lon));
        url.push_str(&format!("&lat={lat}&lon={lon}"));
    }
    if rng.gen_bool(0.25) {
        let c = CATEGORIES[rng.gen_range(0..CATEGORIES.len())];
        sq.category = Some(c.to_string());
        url.push_str(&format!("&category={c}"));
    }
    if rng.gen_bool(0.2) {
        sq.has_room = true;
        url.push_str("&has_room=true");
    }
    if rng.gen_bool(0.2) {
        sq.open_join = true;
        url.push_str("&open_join=true");
    }
    if rng.gen_bool(0.15) {
        sq.areas = app.app.store.ctx.gazetteer.resolve("广东").iter().map(|p| p.prefix()).collect();
        url.push_str(&format!("&place={}", enc("广东")));
    }
    (url, sq)
}

#[test]
fn every_sort_pages_through_each_group_once_in_the_order_of_one_deep_request() {
    let app = spawn_app();
    world(&app, 3000);
    let weights = app.app.settings.ranking.clone();
    // The pruned pass by text score must be among what is checked: 群 alone matches
    // more groups than a page pass scores one by one.
    let (all, total) = page_ids(&app, &format!("/v1/search?q={}&limit=20", enc("群")));
    assert!(total > 1500, "the world should hold many 群 groups, not {total}");
    assert_each_once("q=群", &all, total);
    // Counted alone, from the posting lists, and with a page, by the page's pass.
    let forget = || app.app.engine.generation().segments.forget_words();
    forget();
    let counted = searcher::search(&app.app.engine, &weights, &SearchQuery { limit: 0, ..SearchQuery::text("群") });
    forget();
    let paged = searcher::search(&app.app.engine, &weights, &SearchQuery::text("群")).unwrap();
    let counted = counted.unwrap();
    assert_eq!((counted.total, &counted.facets), (total, &paged.facets), "群 counted alone");

    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..24 {
        let (query, mut sq) = random_search(&mut rng, &app);
        let limit = rng.gen_range(1..=50);
        let url = format!("/v1/search?{query}&limit={limit}");
        let (ids, total) = page_ids(&app, &url);
        assert_each_once(&url, &ids, total);
        sq.limit = MAX_DEPTH;
        let deep = searcher::search(&app.app.engine, &weights, &sq).unwrap();
        let deep_ids: Vec<i64> = deep.hits.iter().map(|h| h.group.id).collect();
        assert_eq!(deep.total, total, "{url}");
        assert_eq!(ids, deep_ids, "{url}: pages differ from one deep request");
        // Asking for no page (how the bench measures totals alone) counts the same.
        let counted = searcher::search(&app.app.engine, &weights, &SearchQuery { limit: 0, ..sq }).unwrap();
        assert_eq!((counted.total, &counted.facets), (deep.total, &deep.facets), "{url}: counted alone");
        assert!(counted.hits.is_empty(), "{url}: a page of none");
    }

    for limit in [3, 20, 50] {
        let url = format!("/v1/nearby?lat=31.2&lon=121.4&radius_km=100&sort=blend&limit={limit}");
        let (ids, total) = page_ids(&app, &url);
        assert!(total > 20, "{url}: {total}");
        assert_each_once(&url, &ids, total);
        let (fifty, _) = page_ids(&app, "/v1/nearby?lat=31.2&lon=121.4&radius_km=100&sort=blend&limit=50");
        assert_eq!(ids, fifty, "{url}: the order depends on the page size");
    }
}

#[test]
fn a_cursor_chain_never_repeats_a_group_while_writes_stream_in() {
    let app = Arc::new(spawn_app());
    world(&app, 1500);
    let ids: Vec<i64> = app
        .app
        .store
        .read(|db| {
            db.rows("SELECT group_id, user_id FROM members ORDER BY group_id, user_id LIMIT 400", &[], |r| {
                Ok((r.get::<i64>(0)?, r.get::<i64>(1)?))
            })
        })
        .unwrap()
        .into_iter()
        .flat_map(|(g, u)| [g, u])
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, stop) = (app.clone(), stop.clone());
        std::thread::spawn(move || {
            // Messages reorder the groups by activity and relevance; new groups join the set.
            let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let events: Vec<Value> = ids
                    .chunks(2)
                    .skip(n % 50 * 4)
                    .take(4)
                    .map(|p| json!({"group_id": p[0], "user_id": p[1], "at": yesterday, "messages": 40 + n}))
                    .collect();
                let (s, b) = app.call("POST", "/v1/activity", Some(&json!({ "events": events })), Some(ADMIN));
                assert_eq!(s, 200, "{b}");
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    for url in [
        format!("/v1/search?q={}&limit=13", enc("群")),
        format!("/v1/search?q={}&sort=activity&limit=17", enc("群")),
        "/v1/nearby?lat=31.2&lon=121.4&radius_km=100&sort=blend&limit=11".to_string(),
    ] {
        let (shown, _) = page_ids(&app, &url);
        let distinct: BTreeSet<i64> = shown.iter().copied().collect();
        assert_eq!(distinct.len(), shown.len(), "{url}: a group came twice while writes streamed in");
        assert!(shown.len() > 50, "{url}");
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}
