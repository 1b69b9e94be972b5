//! The discovery page at `/` (SPEC §6): the HTML names its assets, and the assets come with
//! their content types, a cache header and an ETag, all from inside the binary.

use crate::helpers::spawn_app;

struct Answer {
    status: u16,
    content_type: String,
    cache_control: Option<String>,
    etag: Option<String>,
    policy: Option<String>,
    body: String,
}

fn fetch(base: &str, path: &str, if_none_match: Option<&str>) -> Answer {
    let mut req = ureq::get(&format!("{base}{path}"));
    if let Some(tag) = if_none_match {
        req = req.set("If-None-Match", tag);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    Answer {
        status: resp.status(),
        content_type: resp.header("content-type").unwrap_or_default().to_string(),
        cache_control: resp.header("cache-control").map(String::from),
        etag: resp.header("etag").map(String::from),
        policy: resp.header("content-security-policy").map(String::from),
        body: resp.into_string().unwrap_or_default(),
    }
}

/// The `src` or `href` value in `html` that starts with `prefix`.
#[track_caller]
fn asset_url(html: &str, prefix: &str) -> String {
    let start = html.find(prefix).unwrap_or_else(|| panic!("the page does not name {prefix}"));
    let end = html[start..].find('"').expect("a quoted URL") + start;
    html[start..end].to_string()
}

#[test]
fn the_root_is_an_html_page_that_loads_the_app_script_and_stylesheet() {
    let app = spawn_app();
    let page = fetch(&app.base, "/", None);
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    assert!(page.content_type.contains("utf-8"), "{}", page.content_type);
    assert!(page.body.starts_with("<!doctype html>"), "{}", &page.body[..40.min(page.body.len())]);
    assert!(page.body.contains(r#"<script src="/static/app.js?v="#), "no app script in the page");
    assert!(page.body.contains(r#"href="/static/app.css?v="#), "no stylesheet in the page");
    assert_eq!(page.cache_control.as_deref(), Some("no-cache"));
    let policy = page.policy.expect("a content security policy");
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    // Every slot was filled: the version and the category list from data/categories.
    assert!(!page.body.contains("{{"), "an unfilled slot is left in the page");
    assert!(page.body.contains(r#"["local","同城"],["outdoor","户外"]"#), "the category list is not in the page");
}

#[test]
fn the_assets_are_served_with_their_content_type_a_cache_header_and_an_etag() {
    let app = spawn_app();
    let page = fetch(&app.base, "/", None).body;
    for (prefix, content_type, sample) in
        [("/static/app.js", "text/javascript", "\"use strict\""), ("/static/app.css", "text/css", ":root")]
    {
        // The URL as the page names it (with its version) and without the version.
        for url in [asset_url(&page, prefix), prefix.to_string()] {
            let asset = fetch(&app.base, &url, None);
            assert_eq!(asset.status, 200, "{url}");
            assert!(asset.content_type.starts_with(content_type), "{url}: {}", asset.content_type);
            assert!(asset.body.contains(sample), "{url}: not the asset");
            let cache = asset.cache_control.unwrap_or_default();
            assert!(cache.contains("max-age="), "{url}: {cache}");
            let etag = asset.etag.expect("an ETag");
            let again = fetch(&app.base, &url, Some(&etag));
            assert_eq!(again.status, 304, "{url}: a matching If-None-Match");
            assert!(again.body.is_empty());
            let other = fetch(&app.base, &url, Some("\"something-else\""));
            assert_eq!(other.status, 200, "{url}: a stale If-None-Match");
        }
    }
}

#[test]
fn the_page_version_changes_with_nothing_but_the_assets_so_reloads_agree() {
    let app = spawn_app();
    let first = asset_url(&fetch(&app.base, "/", None).body, "/static/app.js");
    let second = asset_url(&fetch(&app.base, "/", None).body, "/static/app.js");
    assert_eq!(first, second);
    let etag = fetch(&app.base, "/static/app.js", None).etag.unwrap();
    assert!(first.ends_with(etag.trim_matches('"')), "{first} vs {etag}");
}

#[test]
fn an_unknown_asset_is_a_json_404_and_other_methods_are_not_pages() {
    let app = spawn_app();
    for path in ["/static/nope.js", "/static/", "/static/app.js/x", "/index.html"] {
        let answer = fetch(&app.base, path, None);
        assert_eq!(answer.status, 404, "{path}");
        let body: serde_json::Value = serde_json::from_str(&answer.body).expect("a JSON body");
        assert_eq!(body["error"]["code"], "route_not_found", "{path}");
    }
    let (status, body) = app.call("POST", "/", None, None);
    assert!(status == 404 || status == 405, "{status} {body}");
    assert!(body["error"]["code"].is_string(), "{body}");
}
