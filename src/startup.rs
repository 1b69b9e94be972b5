//! Building the HTTP server from a bound listener, so tests can bind port 0 and learn the
//! real port. Also the background roll-up that runs shortly after each local midnight.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Service;
use actix_web::{web, App as ActixApp, HttpServer};
use chrono::{Duration as ChronoDuration, Utc};

use crate::routes;
use crate::service::App;
use crate::store::day_number;

/// Builds the server on `listener`; the returned future runs it until it is stopped.
pub fn build_server(app: Arc<App>, listener: TcpListener, workers: usize) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(app);
    let server = HttpServer::new(move || {
        let metrics_app = data.clone();
        ActixApp::new()
            .app_data(data.clone())
            .wrap_fn(move |req, srv| {
                let started = Instant::now();
                let app = metrics_app.clone();
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    app.record_request(res.status().as_u16(), started.elapsed().as_micros() as u64);
                    Ok(res)
                }
            })
            .configure(routes::configure)
            .default_service(web::to(routes::route_not_found))
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

/// Runs the roll-up when the live figures are not for yesterday, then again a minute after
/// every local midnight.
pub fn spawn_rollup_schedule(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            let store = app.store.clone();
            let engine = app.engine.clone();
            let result = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
                let yesterday = day_number(store.ctx.today()) - 1;
                if store.last_rollup_day()? == Some(yesterday) {
                    return Ok(None);
                }
                let s = store.rollup(yesterday)?;
                engine.notify();
                Ok(Some(format!("{} groups, {} changed", s.groups, s.changed)))
            })
            .await;
            match result {
                Ok(Ok(Some(what))) => tracing::info!(%what, "rolled up yesterday's statistics"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "roll-up failed"),
                Err(e) => tracing::error!(error = %e, "roll-up task failed"),
            }
            let tz = app.settings.timezone;
            let now = Utc::now().with_timezone(&tz);
            let next_midnight = (now.date_naive() + ChronoDuration::days(1)).and_hms_opt(0, 1, 0);
            let wait = next_midnight
                .and_then(|m| m.and_local_timezone(tz).earliest())
                .map(|m| (m.with_timezone(&Utc) - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(3600));
            // Wake at least hourly, so a clock change or a missed midnight is caught up.
            tokio::time::sleep(wait.min(std::time::Duration::from_secs(3600))).await;
        }
    });
}
