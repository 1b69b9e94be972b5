//! `explain=true` (SPEC §6): each card says why it sits where it does, with the number the
//! list was ordered by and its parts.

use serde_json::{json, Value};

use crate::helpers::{enc, spawn_app, spawn_app_with, TestApp};
use groupscout::config::{Rules, Tier};

/// 海淀 (Beijing) and somewhere far from it.
const HAIDIAN: (f64, f64) = (39.96, 116.30);
const FAR: (f64, f64) = (31.23, 121.47);

/// An app whose owners may own many groups.
fn roomy_app() -> TestApp {
    let mut rules = Rules::default();
    rules.tiers.insert("normal".into(), Tier { max_groups: 50, capacity: 200 });
    spawn_app_with(rules)
}

fn cards(body: &Value) -> &Vec<Value> {
    body["groups"].as_array().expect("a list of groups")
}

fn explained(app: &TestApp, query: &str) -> Value {
    let body = app.search(&format!("{query}&explain=true"));
    for card in cards(&body) {
        assert!(card["explain"]["score"].is_number(), "{card}");
    }
    body
}

/// The fields a query word matched in one card's explanation.
fn fields_of(card: &Value, word: &str) -> Vec<String> {
    let words = card["explain"]["parts"]["text"]["words"].as_array().expect("the words");
    let w = words.iter().find(|w| w["word"] == word).unwrap_or_else(|| panic!("{word} in {card}"));
    w["fields"].as_object().expect("fields").keys().cloned().collect()
}

fn card_of(body: &Value, id: i64) -> &Value {
    cards(body).iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} in {body}"))
}

#[test]
fn explained_scores_never_increase_down_a_relevance_page_and_add_up() {
    let app = roomy_app();
    app.owner(1, 2);
    let mut names = Vec::new();
    for i in 0..6 {
        names.push(format!("周末徒步{i}群"));
        names.push(format!("海淀徒步{i}队"));
        names.push(format!("周末读书{i}会"));
    }
    for (i, name) in names.iter().enumerate() {
        let (lat, lon) = if i % 2 == 0 { HAIDIAN } else { FAR };
        app.located_group(1, name, "outdoor", lat + i as f64 * 0.01, lon);
    }
    app.settle();
    for query in ["q=徒步", "q=周末%20徒步", "q=海淀%20徒步&lat=39.96&lon=116.30", "q=周末%20读书%20徒步"]
    {
        let body = explained(&app, &format!("{query}&limit=50"));
        let list = cards(&body);
        assert!(list.len() >= 6, "{query}: {body}");
        let scores: Vec<f64> = list.iter().map(|c| c["explain"]["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{query}: {scores:?}");
        for card in list {
            let parts = &card["explain"]["parts"];
            let tier = parts["tier"]["value"].as_f64().unwrap();
            let blend = parts["blend"].as_f64().unwrap();
            let score = card["explain"]["score"].as_f64().unwrap();
            // score = tier + blend / (1 + blend), blend = text × quality × proximity.
            assert!((score - (tier + blend / (1.0 + blend))).abs() < 1e-4, "{card}");
            let product = parts["text"]["score"].as_f64().unwrap()
                * parts["quality"]["factor"].as_f64().unwrap()
                * parts["proximity"]["factor"].as_f64().unwrap();
            assert!((product - blend).abs() <= 1e-3 * blend.max(1.0), "{card}");
            assert!(parts["quality"]["messages"]["weight"].is_number(), "{card}");
            assert!(parts["quality"]["room"]["capacity"].is_number(), "{card}");
        }
        // Without explain the cards are unchanged.
        let plain = app.search(&format!("{query}&limit=50"));
        assert!(cards(&plain).iter().all(|c| c.get("explain").is_none()), "{plain}");
        assert_eq!(TestApp::ids(&plain), TestApp::ids(&body), "{query}");
    }
}

#[test]
fn explain_names_the_words_and_the_fields_they_matched() {
    let app = spawn_app();
    app.owner(1, 2);
    let both = app.located_group(1, "海淀徒步群", "outdoor", HAIDIAN.0, HAIDIAN.1);
    let walking = app.located_group(1, "周末徒步", "outdoor", FAR.0, FAR.1);
    let outdoors = app.group(
        1,
        json!({"name": "户外徒步俱乐部", "category": "sports", "join_approval": false, "members_can_invite": true}),
    );
    let books = app.group(
        1,
        json!({"name": "周末小聚", "category": "outdoor", "description": "一起买登山杖",
               "join_approval": false, "members_can_invite": true}),
    );
    app.settle();

    let body = explained(&app, &format!("q={}", enc("海淀 徒步")));
    let first = &cards(&body)[0];
    assert_eq!(first["id"], both, "{body}");
    let place = fields_of(first, "海淀");
    assert!(place.contains(&"place".to_string()) && place.contains(&"name_infix".to_string()), "{place:?}");
    assert!(fields_of(first, "徒步").contains(&"name".to_string()), "{first}");
    assert_eq!(first["explain"]["parts"]["tier"]["words_held"], 2, "{first}");
    let second = card_of(&body, walking);
    assert!(fields_of(second, "海淀").is_empty(), "{second}");
    assert_eq!(second["explain"]["parts"]["tier"]["words_held"], 1, "{second}");
    assert_eq!(second["explain"]["parts"]["text"]["scored_by"]["term"], "徒步", "{second}");

    // Pinyin and initials typed in letters.
    let body = explained(&app, "q=hwtb");
    assert_eq!(fields_of(card_of(&body, outdoors), "hwtb"), vec!["initials"]);
    let body = explained(&app, "q=huwai");
    assert_eq!(fields_of(card_of(&body, outdoors), "huwai"), vec!["pinyin"]);
    // The category label (户外 is outdoor's) for a group whose name does not say it.
    let body = explained(&app, &format!("q={}", enc("户外")));
    assert_eq!(fields_of(card_of(&body, walking), "户外"), vec!["category"]);
    // Descriptions, searched when nothing else matches.
    let body = explained(&app, &format!("q={}", enc("登山")));
    assert_eq!(fields_of(card_of(&body, books), "登山"), vec!["description"]);
}

#[test]
fn explain_must_be_true_or_false() {
    let app = spawn_app();
    app.owner(1, 2);
    for path in [
        "/v1/search?q=a&explain=yes",
        "/v1/nearby?lat=39.9&lon=116.3&sort=blend&explain=2",
        // Nearest first needs no explaining: only the blend has a score.
        "/v1/nearby?lat=39.9&lon=116.3&explain=true",
    ] {
        let (s, b) = app.get(path, None);
        assert_eq!(s, 400, "{path}: {b}");
        assert_eq!(b["error"]["field"], "explain", "{path}: {b}");
    }
    let (s, b) = app.as_user(1, "GET", "/v1/users/1/recommendations?explain=maybe", None);
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["field"], "explain", "{b}");
    let (s, _) = app.get("/v1/search?q=a&explain=false", None);
    assert_eq!(s, 200);
}

#[test]
fn nearby_blend_explains_quality_and_proximity() {
    let app = roomy_app();
    app.owner(1, 2);
    for i in 0..8 {
        app.located_group(1, &format!("附近{i}群"), "local", HAIDIAN.0 + i as f64 * 0.004, HAIDIAN.1);
    }
    app.settle();
    let path = format!("/v1/nearby?lat={}&lon={}&sort=blend&explain=true", HAIDIAN.0, HAIDIAN.1);
    let (s, body) = app.get(&path, None);
    assert_eq!(s, 200, "{body}");
    let list = cards(&body);
    assert_eq!(list.len(), 8);
    let scores: Vec<f64> = list.iter().map(|c| c["explain"]["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    for card in list {
        let parts = &card["explain"]["parts"];
        let product = parts["quality"]["factor"].as_f64().unwrap() * parts["proximity"]["factor"].as_f64().unwrap();
        assert!((product - card["explain"]["score"].as_f64().unwrap()).abs() < 1e-3, "{card}");
        assert_eq!(parts["proximity"]["distance_m"], card["distance_m"], "{card}");
    }
    let (_, plain) = app.get(&format!("/v1/nearby?lat={}&lon={}&sort=blend", HAIDIAN.0, HAIDIAN.1), None);
    assert!(cards(&plain).iter().all(|c| c.get("explain").is_none()));
}

#[test]
fn recommendations_explain_social_proof_and_the_rest() {
    let app = spawn_app();
    app.owner(1, 2);
    app.user(3, "male", Some(1999));
    app.befriend(3, 2);
    let with_friend = app.located_group(1, "好友在的群", "food", HAIDIAN.0, HAIDIAN.1);
    let (s, b) = app.as_user(2, "POST", &format!("/v1/groups/{with_friend}/join"), Some(&json!({})));
    assert_eq!(s, 200, "{b}");
    app.located_group(1, "附近的群", "food", HAIDIAN.0 + 0.01, HAIDIAN.1);
    app.settle();
    let path = format!("/v1/users/3/recommendations?lat={}&lon={}&explain=true", HAIDIAN.0, HAIDIAN.1);
    let (s, body) = app.as_user(3, "GET", &path, None);
    assert_eq!(s, 200, "{body}");
    let first = &cards(&body)[0];
    assert_eq!(first["id"], with_friend, "{body}");
    let parts = &first["explain"]["parts"];
    assert_eq!(parts["social"]["friends_in_group"], 1, "{first}");
    let sum: f64 =
        ["social", "interest", "proximity", "activity"].iter().map(|k| parts[k]["value"].as_f64().unwrap()).sum();
    assert!((sum - first["explain"]["score"].as_f64().unwrap()).abs() < 1e-3, "{first}");
    let scores: Vec<f64> = cards(&body).iter().map(|c| c["explain"]["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let (_, plain) =
        app.as_user(3, "GET", &format!("/v1/users/3/recommendations?lat={}&lon={}", HAIDIAN.0, HAIDIAN.1), None);
    assert!(cards(&plain).iter().all(|c| c.get("explain").is_none()), "{plain}");
}

/// The words held by a card's explanation, as `(word, held_as, expansions' terms)`.
fn held(card: &Value) -> Vec<(String, Value, Vec<String>)> {
    card["explain"]["parts"]["text"]["words"]
        .as_array()
        .expect("the words")
        .iter()
        .map(|w| {
            let terms =
                w["expansions"].as_array().unwrap().iter().map(|e| e["term"].as_str().unwrap().into()).collect();
            (w["word"].as_str().unwrap().to_string(), w["held_as"].clone(), terms)
        })
        .collect()
}

#[test]
fn synonyms_and_typo_corrections_rank_below_the_words_as_typed_and_say_so() {
    let app = roomy_app();
    app.owner(1, 2);
    let typed = app.located_group(1, "北京脚踏车群", "outdoor", HAIDIAN.0, HAIDIAN.1);
    let synonym = app.located_group(1, "北京自行车爱好者", "outdoor", HAIDIAN.0, HAIDIAN.1);
    let werewolf = app.located_group(1, "天河狼人杀约局", "friends", FAR.0, FAR.1);
    let werewolf2 = app.located_group(1, "深圳狼人杀", "friends", FAR.0, FAR.1);
    let sandy = app.located_group(1, "狼人沙滩排球", "sports", FAR.0, FAR.1);
    // Busier groups found through an expansion still come after the words as typed.
    for id in [synonym, werewolf] {
        for user in [3, 4, 5] {
            app.user(user, "male", Some(1990));
            let (s, b) = app.as_user(user, "POST", &format!("/v1/groups/{id}/join"), Some(&json!({})));
            assert_eq!(s, 200, "{b}");
        }
    }
    app.settle();

    let body = explained(&app, &format!("q={}", enc("脚踏车")));
    assert_eq!(TestApp::ids(&body), vec![typed, synonym], "{body}");
    assert_eq!(held(&cards(&body)[0])[0].1, "as typed");
    let (_, how, terms) = &held(&cards(&body)[1])[0];
    assert_eq!((how.as_str(), terms.as_slice()), (Some("synonym"), &["自行车".to_string()][..]), "{body}");
    assert_eq!(cards(&body)[1]["explain"]["parts"]["tier"]["words_as_typed"], 0);
    // The traditional word folds to the same synonym set.
    assert_eq!(TestApp::ids(&app.search(&format!("q={}", enc("腳踏車")))), vec![typed, synonym]);

    // A slip of a pinyin keyboard (沙 for 杀) is a homophone of the word as typed; the
    // name that holds the word as typed still comes first.
    let body = explained(&app, &format!("q={}", enc("狼人沙")));
    assert_eq!(TestApp::ids(&body)[0], sandy, "{body}");
    assert!(TestApp::ids(&body).contains(&werewolf), "{body}");
    // A slip to a character that sounds otherwise finds the corrected word, and says so.
    let body = explained(&app, &format!("q={}", enc("狼人抓")));
    let mut ids = TestApp::ids(&body);
    ids.sort();
    assert_eq!(ids, vec![werewolf, werewolf2], "{body}");
    let (_, how, terms) = &held(card_of(&body, werewolf))[0];
    assert_eq!((how.as_str(), terms.as_slice()), (Some("typo corrected"), &["狼人杀".to_string()][..]), "{body}");
}

#[test]
fn related_terms_reload_from_the_data_folder_with_the_admin_token() {
    let data = tempfile::tempdir().expect("a temporary directory");
    copy_dir(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data"), data.path());
    let data_dir = data.path().to_path_buf();
    let app = crate::helpers::spawn_app_with_settings(move |s| s.data_dir = data_dir);
    app.owner(1, 2);
    let bike = app.located_group(1, "北京自行车爱好者", "outdoor", HAIDIAN.0, HAIDIAN.1);
    app.settle();
    let file = data.path().join("related_terms.txt");
    let search = |q: &str| TestApp::ids(&app.search(&format!("q={}", enc(q))));
    assert_eq!(search("脚踏车"), vec![bike]);

    std::fs::write(&file, "= 单车 铁马\n! 周末\n").unwrap();
    let (s, b) = app.admin("POST", "/v1/admin/synonyms/reload", None);
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["synonym_sets"].as_u64(), b["noise_words"].as_u64()), (Some(1), Some(1)), "{b}");
    assert!(search("脚踏车").is_empty());

    // A bad file is refused, naming its line, and the terms in use stay.
    std::fs::write(&file, "= 单车 自行车\n> 桌游 狼人杀\n").unwrap();
    let (s, b) = app.admin("POST", "/v1/admin/synonyms/reload", None);
    assert_eq!(s, 422, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("line 2"), "{b}");
    assert!(search("单车").is_empty());

    std::fs::write(&file, "= 脚踏车 自行车\n").unwrap();
    let (s, b) = app.admin("POST", "/v1/admin/synonyms/reload", None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(search("脚踏车"), vec![bike]);

    let (s, _) = app.as_user(1, "POST", "/v1/admin/synonyms/reload", None);
    assert_eq!(s, 403);
    let (s, _) = app.call("POST", "/v1/admin/synonyms/reload", None, None);
    assert_eq!(s, 401);
    let (s, _) = app.admin("GET", "/v1/admin/synonyms/reload", None);
    assert_eq!(s, 405);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().starts_with("groupscout.db") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
