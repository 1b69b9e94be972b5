//! `/metrics` (Prometheus text format): per-route counts and latency histograms, the
//! indexer's lag, documents per generation, the last roll-up and the jobs' progress.

use serde_json::json;

use crate::helpers::*;

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn metrics(app: &TestApp) -> String {
    let resp = ureq::get(&format!("{}/metrics", app.base)).call().expect("metrics");
    assert!(resp.content_type().starts_with("text/plain"));
    resp.into_string().unwrap()
}

#[test]
fn routes_are_counted_by_pattern_with_latency_histograms() {
    let app = spawn_app();
    app.owner(1, 2);
    let id = app.group(1, json!({"name": "朝阳夜跑团", "category": "sports"}));
    for _ in 0..3 {
        assert_eq!(app.get("/v1/search?q=夜跑", None).0, 200);
    }
    assert_eq!(app.get(&format!("/v1/groups/{id}"), None).0, 200);
    assert_eq!(app.get("/v1/groups/424242", None).0, 404);
    assert_eq!(app.get("/v1/search?limit=0", None).0, 400);
    assert_eq!(app.get("/no/such/path/1", None).0, 404);
    let text = metrics(&app);
    let search = "method=\"GET\",route=\"/v1/search\"";
    assert_eq!(sample(&text, &format!("groupscout_http_requests_total{{{search},status=\"2xx\"}}")), Some(3.0));
    assert_eq!(sample(&text, &format!("groupscout_http_requests_total{{{search},status=\"4xx\"}}")), Some(1.0));
    // One series for every id: the pattern, not the path.
    let detail = "method=\"GET\",route=\"/v1/groups/{id}\"";
    assert_eq!(sample(&text, &format!("groupscout_http_requests_total{{{detail},status=\"2xx\"}}")), Some(1.0));
    assert_eq!(sample(&text, &format!("groupscout_http_requests_total{{{detail},status=\"4xx\"}}")), Some(1.0));
    assert!(!text.contains("424242"));
    assert_eq!(
        sample(&text, "groupscout_http_requests_total{method=\"any\",route=\"unmatched\",status=\"4xx\"}"),
        Some(1.0)
    );
    assert!(!text.contains("/no/such/path"));
    // The histogram: cumulative buckets ending at the count.
    let count = sample(&text, &format!("groupscout_http_request_duration_seconds_count{{{search}}}")).unwrap();
    assert_eq!(count, 4.0);
    let inf = sample(&text, &format!("groupscout_http_request_duration_seconds_bucket{{{search},le=\"+Inf\"}}"));
    assert_eq!(inf, Some(count));
    let mut last = 0.0;
    for le in ["0.0005", "0.001", "0.005", "0.1", "1", "10"] {
        let n = sample(&text, &format!("groupscout_http_request_duration_seconds_bucket{{{search},le=\"{le}\"}}"))
            .unwrap_or_else(|| panic!("bucket {le}"));
        assert!(n >= last && n <= count, "le={le}: {n}");
        last = n;
    }
    assert!(sample(&text, &format!("groupscout_http_request_duration_seconds_sum{{{search}}}")).unwrap() > 0.0);
}

#[test]
fn the_indexers_lag_the_generation_the_rollup_and_jobs_are_shown() {
    let app = spawn_app();
    app.owner(1, 2);
    for n in 0..3 {
        app.group(1, json!({"name": format!("读书会第{n}期"), "category": "reading"}));
    }
    app.settle();
    let text = metrics(&app);
    assert_eq!(sample(&text, "groupscout_index_lag_changes"), Some(0.0));
    assert_eq!(sample(&text, "groupscout_index_lag_seconds"), Some(0.0));
    let generation = app.app.engine.generation().name.clone();
    assert_eq!(sample(&text, &format!("groupscout_index_documents{{generation=\"{generation}\"}}")), Some(3.0));
    assert!(!text.contains("groupscout_job_running"), "no job has run yet");

    // A change the indexer has not applied shows as lag: one written past the indexer.
    app.app.engine.shutdown();
    app.app
        .store
        .write(|db| {
            db.record_change(1);
            Ok::<_, groupscout::store::DbError>(())
        })
        .unwrap();
    let text = metrics(&app);
    assert_eq!(sample(&text, "groupscout_index_lag_changes"), Some(1.0));

    // A roll-up and a job's report, as the batch commands write them.
    let (day, _, _) = groupscout::jobs::progress::tracked(&app.app.store, "rollup", None, |_| {
        groupscout::jobs::rollup(&app.app.store, None)
    })
    .unwrap();
    let failed: anyhow::Result<()> = groupscout::jobs::progress::tracked(&app.app.store, "check", Some(10), |p| {
        p.set(4);
        anyhow::bail!("stopped halfway")
    });
    assert!(failed.is_err());
    let text = metrics(&app);
    let start = day.and_hms_opt(0, 0, 0).unwrap().and_local_timezone(chrono_tz::Asia::Shanghai).unwrap().timestamp();
    assert_eq!(sample(&text, "groupscout_rollup_day_timestamp_seconds"), Some(start as f64));
    let ran = sample(&text, "groupscout_rollup_last_run_timestamp_seconds").unwrap();
    assert!((ran - chrono::Utc::now().timestamp() as f64).abs() < 60.0);
    assert_eq!(sample(&text, "groupscout_job_running{job=\"rollup\"}"), Some(0.0));
    assert_eq!(sample(&text, "groupscout_job_failed{job=\"rollup\"}"), Some(0.0));
    assert_eq!(sample(&text, "groupscout_job_failed{job=\"check\"}"), Some(1.0));
    assert_eq!(sample(&text, "groupscout_job_done{job=\"check\"}"), Some(4.0));
    assert_eq!(sample(&text, "groupscout_job_total{job=\"check\"}"), Some(10.0));
}
