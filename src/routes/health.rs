//! `/healthz`, `/metrics` (Prometheus text format) and the audit of the totals this node
//! serves (`POST /v1/admin/check/served`, which `groupscout check` calls).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppData;
use crate::index::segments::{WORD_HITS, WORD_MISSES, WORD_RECOUNTS};
use crate::jobs::progress::{self, JobReport};
use crate::store::{activity, changes};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let na = || web::to(super::method_not_allowed);
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)).default_service(na()))
        .service(web::resource("/metrics").route(web::get().to(metrics)).default_service(na()))
        .service(web::resource("/v1/admin/check/served").route(web::post().to(check_served)).default_service(na()));
}

/// `true` or `false` (an empty value is as if absent).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(super) enum RepairFlag {
    True,
    False,
}

/// Audits the `total` and facets this node answers for the most frequent words of group
/// names and for each category against counts made afresh (the index's postings with
/// nothing kept; the store's listed groups per category). With `repair=true`, a difference
/// drops every count the node keeps between searches, and the audit runs again
/// (`after_repair`). `groupscout check` calls this on each node it is given.
#[utoipa::path(post, path = "/v1/admin/check/served", tag = "operations",
    params(
        ("words" = Option<String>, Query, pattern = "^[0-9]{0,4}$", description = "How many of the most frequent words, 1 to 1,000 (default 200)"),
        ("repair" = inline(Option<RepairFlag>), Query, description = "`true`: drop the kept counts when any differs, and audit again"),
    ),
    responses(
        (status = 200, description = "What was compared and every difference", body = crate::service::totals::ServedAudit),
        (status = 400, description = "A parameter out of range", body = super::openapi::ErrorBody),
        super::openapi::AdminOnly,
    ),
    security(("bearer" = [])))]
pub(super) async fn check_served(app: AppData, req: actix_web::HttpRequest) -> crate::error::ApiResult<HttpResponse> {
    super::require_admin(&req, &app)?;
    let pairs = super::query_pairs(&req)?;
    let params = super::Params(&pairs);
    let words = match params.get("words").filter(|w| !w.is_empty()) {
        None => 200,
        Some(w) => w
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| crate::error::ApiError::param("words", "words must be a whole number from 1 to 1000"))?,
    };
    let repair = match params.get("repair").unwrap_or("") {
        "" | "false" => false,
        "true" => true,
        _ => return Err(crate::error::ApiError::param("repair", "repair must be true or false")),
    };
    let report = app
        .read(move |a| {
            crate::service::totals::audit(a, words, repair)
                .map_err(|e| crate::error::ApiError::internal(format!("{e:#}")))
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The answer of `/healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
    /// The index generation serving reads.
    generation: String,
    /// The last change of the `changes` outbox the indexer applied.
    applied_seq: i64,
    /// The last change visible to discovery reads.
    committed_seq: i64,
}

/// Liveness, with the index generation and how far the indexer has come.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
pub(super) async fn healthz(app: AppData) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        generation: app.engine.generation().name.clone(),
        applied_seq: app.engine.applied_seq(),
        committed_seq: app.engine.committed_seq(),
    })
}

/// Counters and gauges in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub(super) async fn metrics(app: AppData) -> HttpResponse {
    let m = &app.metrics;
    let totals = m.totals();
    let groups = app.engine.catalog.read().len();
    let body = format!(
        "# HELP groupscout_requests_total HTTP requests answered.\n# TYPE groupscout_requests_total counter\n\
         groupscout_requests_total {}\n\
         # HELP groupscout_client_errors_total Requests answered 4xx.\n# TYPE groupscout_client_errors_total counter\n\
         groupscout_client_errors_total {}\n\
         # HELP groupscout_server_errors_total Requests answered 5xx.\n# TYPE groupscout_server_errors_total counter\n\
         groupscout_server_errors_total {}\n\
         # HELP groupscout_request_seconds_total Time spent answering requests.\n# TYPE groupscout_request_seconds_total counter\n\
         groupscout_request_seconds_total {:.6}\n\
         # HELP groupscout_groups Live groups in the catalog.\n# TYPE groupscout_groups gauge\n\
         groupscout_groups {}\n\
         # HELP groupscout_index_applied_seq Last change applied by the indexer.\n# TYPE groupscout_index_applied_seq gauge\n\
         groupscout_index_applied_seq {}\n\
         # HELP groupscout_index_committed_seq Last change visible to search.\n# TYPE groupscout_index_committed_seq gauge\n\
         groupscout_index_committed_seq {}\n\
         # HELP groupscout_word_sets_total Per-segment word match-set lookups, by outcome.\n# TYPE groupscout_word_sets_total counter\n\
         groupscout_word_sets_total{{outcome=\"hit\"}} {}\n\
         groupscout_word_sets_total{{outcome=\"recount\"}} {}\n\
         groupscout_word_sets_total{{outcome=\"miss\"}} {}\n",
        totals.requests,
        totals.client_errors,
        totals.server_errors,
        totals.micros as f64 / 1e6,
        groups,
        app.engine.applied_seq(),
        app.engine.committed_seq(),
        WORD_HITS.load(Ordering::Relaxed),
        WORD_RECOUNTS.load(Ordering::Relaxed),
        WORD_MISSES.load(Ordering::Relaxed),
    );
    let mut body = body;
    m.write_routes(&mut body);
    let generation = app.engine.generation();
    let documents = generation.reader.searcher().num_docs();
    let _ = write!(
        body,
        "# HELP groupscout_index_documents Documents in the generation serving reads.\n\
         # TYPE groupscout_index_documents gauge\n\
         groupscout_index_documents{{generation=\"{}\"}} {documents}\n",
        generation.name
    );
    // What only the store knows: the indexer's lag, the last roll-up, the jobs' reports.
    let committed = app.engine.committed_seq();
    let store_part = app
        .query(move |a| {
            // One snapshot for all of them.
            let (behind, oldest, rollup_day, rollup_at, jobs) = a.store.read(|db| {
                let (behind, oldest) = changes::behind(db, committed)?;
                let day = activity::last_rollup_day(db)?;
                let at = activity::meta(db, "rollup_at")?.and_then(|a| a.parse::<i64>().ok());
                Ok::<_, crate::store::DbError>((behind, oldest, day, at, progress::reports(db)?))
            })?;
            Ok(StoreFigures { behind, oldest, rollup_day, rollup_at, jobs })
        })
        .await;
    match store_part {
        Ok(f) => f.write(&mut body, &app),
        Err(e) => {
            let _ = writeln!(body, "# the store did not answer: {}", e.message.replace('\n', " "));
        }
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
}

/// The figures `/metrics` reads from the store.
struct StoreFigures {
    behind: i64,
    oldest: Option<i64>,
    rollup_day: Option<i64>,
    rollup_at: Option<i64>,
    jobs: Vec<(String, JobReport)>,
}

impl StoreFigures {
    fn write(&self, out: &mut String, app: &AppData) {
        let now = crate::store::now_secs();
        let lag_seconds = self.oldest.map(|at| (now - at).max(0)).unwrap_or(0);
        let _ = write!(
            out,
            "# HELP groupscout_index_lag_changes Changes in the outbox not yet visible to search on this node.\n\
             # TYPE groupscout_index_lag_changes gauge\n\
             groupscout_index_lag_changes {}\n\
             # HELP groupscout_index_lag_seconds Age of the oldest change not yet visible to search (0 when caught up).\n\
             # TYPE groupscout_index_lag_seconds gauge\n\
             groupscout_index_lag_seconds {lag_seconds}\n",
            self.behind
        );
        if let Some(day) = self.rollup_day {
            // The start of the rolled-up day in the service timezone.
            let start = crate::store::day_from_number(day)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|t| t.and_local_timezone(app.settings.timezone).earliest())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            let _ = write!(
                out,
                "# HELP groupscout_rollup_day_timestamp_seconds Start of the day the live figures were last rolled up for.\n\
                 # TYPE groupscout_rollup_day_timestamp_seconds gauge\n\
                 groupscout_rollup_day_timestamp_seconds {start}\n"
            );
        }
        if let Some(at) = self.rollup_at {
            let _ = write!(
                out,
                "# HELP groupscout_rollup_last_run_timestamp_seconds When the last roll-up of yesterday finished.\n\
                 # TYPE groupscout_rollup_last_run_timestamp_seconds gauge\n\
                 groupscout_rollup_last_run_timestamp_seconds {at}\n"
            );
        }
        if self.jobs.is_empty() {
            return;
        }
        out.push_str(
            "# HELP groupscout_job_running Whether a batch job is running (1) or ended (0), by its last report.\n\
             # TYPE groupscout_job_running gauge\n",
        );
        for (job, r) in &self.jobs {
            let _ = writeln!(out, "groupscout_job_running{{job=\"{job}\"}} {}", u8::from(r.state == "running"));
        }
        out.push_str(
            "# HELP groupscout_job_failed Whether the job's last run failed.\n# TYPE groupscout_job_failed gauge\n",
        );
        for (job, r) in &self.jobs {
            let _ = writeln!(out, "groupscout_job_failed{{job=\"{job}\"}} {}", u8::from(r.state == "failed"));
        }
        out.push_str(
            "# HELP groupscout_job_done Work done by the job's last run (lines, bytes or groups).\n\
             # TYPE groupscout_job_done gauge\n",
        );
        for (job, r) in &self.jobs {
            let _ = writeln!(out, "groupscout_job_done{{job=\"{job}\"}} {}", r.done);
        }
        out.push_str("# HELP groupscout_job_total The work the job's last run had in all, when known.\n# TYPE groupscout_job_total gauge\n");
        for (job, r) in self.jobs.iter().filter(|(_, r)| r.total.is_some()) {
            let _ = writeln!(out, "groupscout_job_total{{job=\"{job}\"}} {}", r.total.unwrap_or(0));
        }
        out.push_str(
            "# HELP groupscout_job_updated_timestamp_seconds When the job last reported.\n\
             # TYPE groupscout_job_updated_timestamp_seconds gauge\n",
        );
        for (job, r) in &self.jobs {
            let _ = writeln!(out, "groupscout_job_updated_timestamp_seconds{{job=\"{job}\"}} {}", r.updated);
        }
    }
}
