//! The README's "Then try, for example" lines, sent exactly as written (raw UTF-8 in the
//! query string, as curl sends it) to the sample world of `serve --sample 20000`.

use groupscout::config::Rules;
use pinyin::ToPinyin;
use serde_json::Value;

use crate::helpers::{settings_in, spawn_app_in, token, TestApp};

/// One request of the README: the target as written, and the user whose token it carries.
struct Example {
    target: String,
    user: Option<i64>,
}

/// The curl lines of the README's example block, with `$TOKEN` resolved to the user its
/// `token --user N` line names.
fn readme_examples() -> Vec<Example> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let block = readme.split("Then try, for example:").nth(1).expect("the example block");
    let block = block.split("```sh").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    let mut token_user = None;
    let mut out = Vec::new();
    for line in block.lines() {
        if let Some(rest) = line.split("token --user ").nth(1) {
            token_user = rest.trim_end_matches(')').trim().parse::<i64>().ok();
        }
        if !line.trim_start().starts_with("curl") {
            continue;
        }
        let url = line.split('\'').nth(1).expect("a quoted URL");
        let target = &url[url.find('/').expect("a path")..];
        let user = if line.contains("$TOKEN") { Some(token_user.expect("a token line before")) } else { None };
        out.push(Example { target: target.to_string(), user });
    }
    out
}

/// The query parameter `key` of a target, with `%20` as a space (the README uses no other escape).
fn param(target: &str, key: &str) -> String {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let value = query.split('&').find_map(|p| p.strip_prefix(&format!("{key}="))).unwrap_or("");
    value.replace("%20", " ")
}

/// The app on a fresh sample world of 20,000 groups, as `serve --sample 20000` makes it.
fn sample_app() -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = groupscout::service::open_store(&settings_in(dir.path(), Rules::default())).expect("the store");
    let world = groupscout::jobs::sample_world(&store, 20_000).unwrap().expect("an empty store");
    groupscout::jobs::import::import(&store, &mut world.as_slice(), |_, _| {}).expect("the sample imports");
    drop(store);
    let app = spawn_app_in(dir, Rules::default());
    app.settle();
    app
}

/// Full pinyin and initials of a name, one character at a time, independent of the
/// service's own text pipeline.
fn pinyin_and_initials(name: &str) -> (String, String) {
    let (mut full, mut initials) = (String::new(), String::new());
    for c in name.chars() {
        match c.to_pinyin() {
            Some(p) => {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
            }
            None if c.is_alphanumeric() => {
                full.extend(c.to_lowercase());
                initials.extend(c.to_lowercase());
            }
            None => {}
        }
    }
    (full, initials)
}

fn text_of(g: &Value) -> String {
    ["name", "place_name", "city", "district", "category"].iter().filter_map(|k| g[*k].as_str()).collect()
}

#[test]
fn every_readme_example_answers_sensibly_on_the_sample_world() {
    let app = sample_app();
    let examples = readme_examples();
    assert!(examples.len() >= 4, "the README lists its examples");
    let mut seen = Vec::new();
    for Example { target, user } in &examples {
        let (status, body) = app.get_raw(target, user.map(token).as_deref());
        assert_eq!(status, 200, "{target}: {body}");
        let path = target.split('?').next().unwrap();
        match path {
            "/v1/search" => {
                let q = param(target, "q");
                let groups = body["groups"].as_array().expect("groups");
                assert!(!groups.is_empty() && body["total"].as_u64() > Some(0), "{target}: {body}");
                // Groups in 海淀 holding 徒步 come first; groups holding one of the words may
                // fill the rest of the page, never a group holding none.
                let words: Vec<&str> = q.split_whitespace().collect();
                let holds: Vec<usize> =
                    groups.iter().map(|g| words.iter().filter(|w| text_of(g).contains(**w)).count()).collect();
                assert_eq!(holds[0], words.len(), "{target}: {}", groups[0]);
                assert!(holds.windows(2).all(|w| w[0] >= w[1]), "{target}: every word first: {holds:?}");
                assert!(holds.iter().all(|h| *h > 0), "{target}: {holds:?}");
            }
            "/v1/nearby" => {
                let radius_m = param(target, "radius_km").parse::<f64>().unwrap() * 1000.0;
                let groups = body["groups"].as_array().expect("groups");
                assert!(!groups.is_empty(), "{target}: {body}");
                let distances: Vec<f64> = groups.iter().map(|g| g["distance_m"].as_f64().unwrap()).collect();
                assert!(distances.iter().all(|d| *d <= radius_m), "{target}: {distances:?}");
                assert!(distances.windows(2).all(|w| w[0] <= w[1]), "nearest first: {distances:?}");
            }
            "/v1/suggest" => {
                let q = param(target, "q").to_lowercase();
                let names: Vec<&str> = body["suggestions"]
                    .as_array()
                    .expect("suggestions")
                    .iter()
                    .filter_map(|s| s["name"].as_str())
                    .collect();
                assert!(!names.is_empty() && names.len() <= 10, "{target}: {body}");
                for name in &names {
                    let (full, initials) = pinyin_and_initials(name);
                    assert!(
                        name.contains(q.as_str()) || full.contains(&q) || initials.contains(&q),
                        "{target}: {name} does not complete {q}"
                    );
                }
            }
            p if p.ends_with("/recommendations") => {
                let groups = body["groups"].as_array().expect("groups");
                assert!(!groups.is_empty(), "{target}: {body}");
                for g in groups {
                    let reasons = g["reasons"].as_array().expect("reasons");
                    assert!(
                        !reasons.is_empty() && reasons.iter().all(|r| r.as_str().is_some_and(|r| !r.is_empty())),
                        "{g}"
                    );
                }
            }
            other => panic!("the README shows {other}, which this test does not know yet"),
        }
        seen.push(path.to_string());
    }
    for wanted in ["/v1/search", "/v1/nearby", "/v1/suggest"] {
        assert!(seen.iter().any(|p| p == wanted), "the README no longer shows {wanted}");
    }
    assert!(seen.iter().any(|p| p.ends_with("/recommendations")), "the README no longer shows recommendations");
}
