//! Building the HTTP server from a bound listener, so tests can bind port 0 and learn the
//! real port. Also the background roll-up that runs shortly after each local midnight.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::HttpService;
use actix_service::{map_config, ServiceFactoryExt};
use actix_web::dev::{fn_service, AppConfig, Server, Service};
use actix_web::rt::net::TcpStream;
use actix_web::{web, App as ActixApp};
use chrono::{Duration as ChronoDuration, Utc};

use actix_web::HttpResponse;
use futures_util::future::Either;

use crate::auth::Caller;
use crate::error::{ApiError, Code};
use crate::limits;
use crate::routes::{self, TidyHeads};
use crate::service::App;

/// Builds the server on `listener`; the returned future runs it until it is stopped.
///
/// This is what `actix_web::HttpServer::listen` builds, with one step more: each
/// connection's bytes pass through `TidyHeads` before actix-http parses them, so request
/// targets with raw UTF-8 (`?q=海淀%20徒步` as curl sends it) are accepted, and requests
/// the parser would refuse with an empty 400 get the JSON error envelope.
pub fn build_server(app: Arc<App>, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let client_timeout = app.settings.client_timeout;
    let data = web::Data::new(app);
    let addr = listener.local_addr()?;
    let server = Server::build().workers(workers.max(1)).listen("groupscout", listener, move || {
        let metrics_app = data.clone();
        let app = ActixApp::new()
            .app_data(data.clone())
            .configure(routes::configure_extractors)
            .wrap_fn(move |req, srv| {
                let started = Instant::now();
                let app = metrics_app.clone();
                let method = req.method().clone();
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| limits::well_formed_request_id(v))
                    .map(String::from)
                    .unwrap_or_else(limits::new_request_id);
                // Health checks (load balancers) are never limited.
                let limited = !req.path().starts_with("/healthz");
                let refused = app.limiter.as_ref().filter(|_| limited).and_then(|l| {
                    let key = match routes::caller(req.request(), &app) {
                        Ok(Caller::Admin) => return None,
                        Ok(Caller::User(u)) => format!("user {u}"),
                        // Anonymous, or a token the handler will refuse: by address.
                        _ => format!("address {}", req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()),
                    };
                    l.check(&key).err()
                });
                // Every log line of this request carries its id.
                // (The id alone: each field of a span is formatted when the span is made,
                // for every request, logged or not; the answer's line names method and path.)
                let span = tracing::info_span!("request", request_id = %id);
                let fut = match refused {
                    None => Either::Left(tracing::Instrument::instrument(srv.call(req), span.clone())),
                    Some(wait) => {
                        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                        let err = ApiError::new(Code::RateLimited, format!("over the rate limit; retry in {secs} s"));
                        let resp = HttpResponse::TooManyRequests()
                            .insert_header(("Retry-After", secs.to_string()))
                            .json(err.body());
                        Either::Right(std::future::ready(Ok::<_, actix_web::Error>(
                            req.into_response(resp).map_into_right_body(),
                        )))
                    }
                };
                async move {
                    let mut res = match fut {
                        Either::Left(f) => f.await?.map_into_left_body(),
                        Either::Right(f) => f.await?,
                    };
                    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
                        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
                    }
                    let status = res.status().as_u16();
                    let micros = started.elapsed().as_micros() as u64;
                    let route = res.request().match_pattern();
                    app.record_request(method.as_str(), route.as_deref(), status, micros);
                    if status >= 500 {
                        let path = res.request().path();
                        span.in_scope(|| tracing::warn!(%method, path, status, micros, "answered with a server error"));
                    } else {
                        let path = res.request().path();
                        span.in_scope(|| tracing::debug!(%method, path, status, micros, "answered"));
                    }
                    Ok(res)
                }
            })
            .configure(routes::configure)
            .default_service(web::to(routes::route_not_found));
        // `HttpServer`'s default keep-alive. A new connection must send its first request
        // head within the client time limit (actix's head timer, a second later than
        // `TidyHeads`' so a trickled head gets the JSON 408 from there); every request's
        // head and body must arrive within it of their first byte (`TidyHeads`).
        let http = HttpService::build()
            .keep_alive(Duration::from_secs(5))
            .client_request_timeout(client_timeout + Duration::from_secs(1))
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            .h1(map_config(app, move |_| AppConfig::default()));
        fn_service(move |io: TcpStream| async move {
            let peer = io.peer_addr().ok();
            Ok::<_, actix_http::error::DispatchError>((TidyHeads::new(io, Some(client_timeout)), peer))
        })
        .and_then(http)
    })?;
    Ok(server.run())
}

/// Runs the roll-up when the live figures are not for yesterday, then again a minute after
/// every local midnight.
pub fn spawn_rollup_schedule(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            let store = app.store.clone();
            let engine = app.engine.clone();
            let result = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
                let Some(s) = crate::service::activity::rollup_yesterday_once(&store)? else {
                    return Ok(None);
                };
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
