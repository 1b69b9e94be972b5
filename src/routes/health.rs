//! `/healthz` and `/metrics` (Prometheus text format).

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppData;
use crate::index::segments::{WORD_HITS, WORD_MISSES, WORD_RECOUNTS};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let na = || web::to(super::method_not_allowed);
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)).default_service(na()))
        .service(web::resource("/metrics").route(web::get().to(metrics)).default_service(na()));
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
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
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
        m.requests.load(Ordering::Relaxed),
        m.client_errors.load(Ordering::Relaxed),
        m.server_errors.load(Ordering::Relaxed),
        m.latency_us_total.load(Ordering::Relaxed) as f64 / 1e6,
        groups,
        app.engine.applied_seq(),
        app.engine.committed_seq(),
        WORD_HITS.load(Ordering::Relaxed),
        WORD_RECOUNTS.load(Ordering::Relaxed),
        WORD_MISSES.load(Ordering::Relaxed),
    );
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
}
