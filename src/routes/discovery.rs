//! Discovery reads: `/v1/search`, `/v1/nearby`, `/v1/suggest`. Open to anonymous callers.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{caller, query_pairs, reading, AppData, Params};
use crate::cursor::{self, Position};
use crate::error::{ApiError, ApiResult, Code};
use crate::index::searcher::{self, NearbyFrom, NearbyPage, NearbyQuery, NearbySort, SearchQuery, SortBy, MAX_DEPTH};
use crate::index::terms as related_terms;
use crate::store::rows::Card;

/// The answer of `/v1/search`, serialized straight from these types.
#[derive(Serialize, ToSchema)]
pub(super) struct SearchBody {
    total: usize,
    groups: Vec<Card>,
    facets: Facets,
    next_cursor: Option<String>,
}

/// Counts of the matching groups by facet value (all matches, not only this page).
#[derive(Serialize, ToSchema)]
pub(super) struct Facets {
    /// Category id → number of matching groups.
    category: std::collections::BTreeMap<String, u64>,
}

/// The orders of `/v1/search`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(super) enum SearchSort {
    Relevance,
    Distance,
    Activity,
    Newest,
}

/// The orders of `/v1/nearby`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(super) enum NearbySortParam {
    Distance,
    Blend,
}

/// The answer of `/v1/nearby`.
#[derive(Serialize, ToSchema)]
pub(super) struct NearbyBody {
    total: usize,
    groups: Vec<Card>,
    next_cursor: Option<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let na = || web::to(super::method_not_allowed);
    cfg.service(web::resource("/v1/search").route(web::get().to(search)).default_service(na()))
        .service(web::resource("/v1/nearby").route(web::get().to(nearby)).default_service(na()))
        .service(web::resource("/v1/suggest").route(web::get().to(suggest)).default_service(na()))
        .service(
            web::resource("/v1/admin/synonyms/reload")
                .route(web::post().to(reload_related_terms))
                .default_service(na()),
        );
}

/// What a reload of the related terms read.
#[derive(Serialize, ToSchema)]
pub(super) struct TermsReloaded {
    /// The file read.
    source: String,
    /// Sets of words of the same meaning.
    synonym_sets: usize,
    /// Lines of related terms (lower weight).
    related_lines: usize,
    /// Words a query may hold that say nothing of a group (约, 周末, …).
    noise_words: usize,
}

/// Reads `related_terms.txt` of the data folder again and searches with it from the next
/// request on; a file with a bad line is refused (422, naming the line) and the terms in
/// use stay.
#[utoipa::path(post, path = "/v1/admin/synonyms/reload", tag = "moderation",
    responses(
        (status = 200, description = "The related terms now in use", body = TermsReloaded),
        (status = 422, description = "The file has a bad line (`field` names the file, the message the line)", body = super::openapi::ErrorBody),
        super::openapi::AdminOnly,
    ),
    security(("bearer" = [])))]
pub(super) async fn reload_related_terms(app: AppData, req: HttpRequest) -> ApiResult<HttpResponse> {
    super::require_admin(&req, &app)?;
    let path = app.settings.data_dir.join(related_terms::FILE);
    let terms = related_terms::RelatedTerms::load(&path)
        .map_err(|e| ApiError::field(Code::InvalidField, related_terms::FILE, e.to_string()))?;
    let body = TermsReloaded {
        source: path.display().to_string(),
        synonym_sets: terms.synonym_sets,
        related_lines: terms.related_lines,
        noise_words: terms.noise_words(),
    };
    app.engine.set_terms(terms);
    Ok(HttpResponse::Ok().json(body))
}

fn text_param(params: &Params<'_>, key: &str) -> ApiResult<String> {
    let q = params.get(key).unwrap_or("").trim().to_string();
    if q.chars().count() > 100 {
        return Err(ApiError::param(key, format!("{key} has more than 100 characters")));
    }
    Ok(q)
}

fn category_param(app: &AppData, params: &Params<'_>) -> ApiResult<Option<String>> {
    match params.get("category").filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => app
            .categories()
            .parse("category", c)
            .map(|c| Some(c.as_str().to_string()))
            .map_err(|e| ApiError::param("category", e.message)),
    }
}

/// Where an offset-paged list resumes: the number of results shown so far and their ids.
fn resume_from(app: &AppData, params: &Params<'_>, fingerprint: &str) -> ApiResult<(usize, Vec<i64>)> {
    match params.get("cursor").filter(|c| !c.is_empty()) {
        None => Ok((0, Vec::new())),
        Some(c) => cursor::decode(&app.settings.secret, c, fingerprint)
            .and_then(|p| Some((p.o.filter(|o| *o < MAX_DEPTH)?, p.seen()?)))
            .ok_or_else(invalid_cursor),
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::field(Code::InvalidCursor, "cursor", "the cursor is not valid for this query")
}

/// The cursor after a page of an offset-paged list: everything shown so far, this page too.
fn cursor_after(app: &AppData, fingerprint: String, offset: usize, mut seen: Vec<i64>, page: &[i64]) -> String {
    seen.extend_from_slice(page);
    cursor::encode(&app.settings.secret, &Position::after(fingerprint, offset + page.len(), &seen))
}

/// Keyword search in Chinese (any script, pinyin, initials), with filters, facets and paging.
#[utoipa::path(get, path = "/v1/search", tag = "discovery",
    params(
        ("q" = Option<String>, Query, max_length = 100, description = "Plain text (never a query language); up to 100 characters. Empty lists everything that matches the filters."),
        ("category" = Option<String>, Query, description = "A category id (see `data/categories`)"),
        ("place" = Option<String>, Query, description = "A province, city or district name; unknown names are 400 `unknown_place`"),
        ("lat" = Option<f64>, Query, minimum = -90, maximum = 90, description = "With `lon`: cards carry `distance_m`"),
        ("lon" = Option<f64>, Query, minimum = -180, maximum = 180),
        ("radius_km" = Option<f64>, Query, exclusive_minimum = 0, maximum = 100, description = "Only groups within this distance of `lat`/`lon`"),
        ("sort" = inline(Option<SearchSort>), Query, description = "`relevance` (default), `distance` (needs lat/lon), `activity` or `newest`"),
        ("has_room" = Option<bool>, Query, description = "Only groups with room left"),
        ("open_join" = Option<bool>, Query, description = "Only groups that need no approval"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Page size, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, with the same other parameters"),
        ("explain" = Option<bool>, Query, description = "Adds `explain` (the parts of each card's score) to each card"),
    ),
    responses(
        (status = 200, description = "The matching groups, their facets and the next page's cursor", body = SearchBody),
        (status = 400, description = "A parameter out of range or malformed, an unknown place, an invalid cursor", body = super::openapi::ErrorBody),
        (status = 401, description = "A token was given and is not valid", body = super::openapi::ErrorBody),
        (status = 429, description = "Over the rate limit", body = super::openapi::ErrorBody),
        (status = 503, description = "Over the time limit, or the store is busy", body = super::openapi::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub(super) async fn search(app: AppData, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller(&req, &app)?;
    let pairs = query_pairs(&req)?;
    let params = Params(&pairs);
    let q = text_param(&params, "q")?;
    let category = category_param(&app, &params)?;
    let areas = match params.get("place").map(str::trim).filter(|p| !p.is_empty()) {
        None => Vec::new(),
        Some(p) => {
            let found: Vec<_> = app.store.ctx.gazetteer.resolve(p).iter().map(|pl| pl.prefix()).collect();
            if found.is_empty() {
                return Err(ApiError::field(Code::UnknownPlace, "place", format!("unknown place {p:?}")));
            }
            found
        }
    };
    let origin = params.origin()?;
    let radius_km = params.f64_in("radius_km", 0.0, 100.0, true)?;
    if radius_km.is_some() && origin.is_none() {
        return Err(ApiError::param("lat", "radius_km needs lat and lon"));
    }
    let sort = match params.get("sort").unwrap_or("relevance") {
        "relevance" | "" => SortBy::Relevance,
        "distance" => SortBy::Distance,
        "activity" => SortBy::Activity,
        "newest" => SortBy::Newest,
        _ => return Err(ApiError::param("sort", "sort must be relevance, distance, activity or newest")),
    };
    if sort == SortBy::Distance && origin.is_none() {
        return Err(ApiError::param("lat", "sort=distance needs lat and lon"));
    }
    let has_room = params.bool("has_room")?.unwrap_or(false);
    let open_join = params.bool("open_join")?.unwrap_or(false);
    let explain = params.bool("explain")?.unwrap_or(false);
    let limit = params.limit()?;
    let fingerprint = cursor::fingerprint(&pairs);
    let (offset, seen) = resume_from(&app, &params, &fingerprint)?;
    // The last page before the depth bound is cut at it.
    let limit = limit.min(MAX_DEPTH - offset);
    let sq = SearchQuery {
        q,
        category,
        areas,
        origin,
        radius_m: radius_km.map(|r| r * 1000.0),
        sort,
        has_room,
        open_join,
        offset,
        limit,
        seen: seen.clone(),
        explain,
        expand: true,
    };
    let app2 = app.clone();
    let page = reading(move || Ok(searcher::search(&app2.engine, &app2.settings.ranking, &sq)?)).await?;
    let year = app.current_year();
    let groups: Vec<_> = page
        .hits
        .iter()
        .map(|h| {
            let mut card =
                h.group.card(year, app.settings.rules.privacy_min_members, h.distance_m.filter(|_| origin.is_some()));
            card.highlight = h.highlight.clone();
            card.explain = h.explain.clone();
            card
        })
        .collect();
    let shown: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let next_cursor = page.has_more.then(|| cursor_after(&app, fingerprint, offset, seen, &shown));
    Ok(HttpResponse::Ok().json(SearchBody {
        total: page.total,
        groups,
        facets: Facets { category: page.facets },
        next_cursor,
    }))
}

/// The groups within a radius of a point, nearest first by default, each with `distance_m`.
#[utoipa::path(get, path = "/v1/nearby", tag = "discovery",
    params(
        ("lat" = f64, Query, minimum = -90, maximum = 90),
        ("lon" = f64, Query, minimum = -180, maximum = 180),
        ("radius_km" = Option<f64>, Query, exclusive_minimum = 0, maximum = 100, description = "Default 5"),
        ("category" = Option<String>, Query, description = "A category id"),
        ("sort" = inline(Option<NearbySortParam>), Query, description = "`distance` (default) or `blend` (distance, activity and room)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Page size, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, with the same other parameters"),
        ("explain" = Option<bool>, Query, description = "With `sort=blend`: adds `explain` to each card"),
    ),
    responses(
        (status = 200, description = "The groups within the radius", body = NearbyBody),
        (status = 400, description = "A parameter missing, out of range or malformed, or an invalid cursor", body = super::openapi::ErrorBody),
        (status = 401, description = "A token was given and is not valid", body = super::openapi::ErrorBody),
        (status = 429, description = "Over the rate limit", body = super::openapi::ErrorBody),
        (status = 503, description = "Over the time limit, or the store is busy", body = super::openapi::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub(super) async fn nearby(app: AppData, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller(&req, &app)?;
    let pairs = query_pairs(&req)?;
    let params = Params(&pairs);
    let origin = params.origin()?.ok_or_else(|| ApiError::param("lat", "nearby needs lat and lon"))?;
    let radius_km = params.f64_in("radius_km", 0.0, 100.0, true)?.unwrap_or(5.0);
    let category = category_param(&app, &params)?;
    let sort = match params.get("sort").unwrap_or("distance") {
        "distance" | "" => NearbySort::Distance,
        "blend" => NearbySort::Blend,
        _ => return Err(ApiError::param("sort", "sort must be distance or blend")),
    };
    let explain = params.bool("explain")?.unwrap_or(false);
    if explain && sort != NearbySort::Blend {
        return Err(ApiError::param("explain", "explain=true needs sort=blend: nearest first needs no explaining"));
    }
    let mut limit = params.limit()?;
    let fingerprint = cursor::fingerprint(&pairs);
    let mut seen = Vec::new();
    let from = match (sort, params.get("cursor").filter(|c| !c.is_empty())) {
        (_, None) => NearbyFrom::Start,
        (NearbySort::Blend, Some(_)) => {
            let (offset, shown) = resume_from(&app, &params, &fingerprint)?;
            seen = shown;
            limit = limit.min(MAX_DEPTH - offset);
            NearbyFrom::Offset(offset)
        }
        (NearbySort::Distance, Some(c)) => {
            let (d, i) = cursor::decode(&app.settings.secret, c, &fingerprint)
                .and_then(|p| Some((p.d?, p.i?)))
                .ok_or_else(invalid_cursor)?;
            NearbyFrom::After(f64::from_bits(d), i)
        }
    };
    let app2 = app.clone();
    let nq =
        NearbyQuery { origin, radius_m: radius_km * 1000.0, category, sort, from, limit, seen: seen.clone(), explain };
    let NearbyPage { total, hits: page, has_more: more, explains } = reading(move || {
        let catalog = app2.engine.catalog.read();
        Ok(searcher::nearby(&catalog, &app2.settings.ranking, &nq))
    })
    .await?;
    let year = app.current_year();
    let next_cursor = match (more, sort, page.last()) {
        (false, _, _) | (_, _, None) => None,
        (true, NearbySort::Distance, Some((d, g))) => Some(cursor::encode(
            &app.settings.secret,
            &Position { q: fingerprint, o: None, d: Some(d.to_bits()), i: Some(g.id), s: None },
        )),
        (true, NearbySort::Blend, Some(_)) => {
            let start = if let NearbyFrom::Offset(o) = from { o } else { 0 };
            let shown: Vec<i64> = page.iter().map(|(_, g)| g.id).collect();
            Some(cursor_after(&app, fingerprint, start, seen, &shown))
        }
    };
    let mut explains = explains.into_iter();
    let groups: Vec<_> = page
        .iter()
        .map(|(d, g)| {
            let mut card = g.card(year, app.settings.rules.privacy_min_members, Some(*d));
            card.explain = explains.next();
            card
        })
        .collect();
    Ok(HttpResponse::Ok().json(NearbyBody { total, groups, next_cursor }))
}

/// A completion of a name prefix.
#[derive(Serialize, ToSchema)]
pub(super) struct Suggestion {
    id: i64,
    name: String,
    category: String,
}

/// The answer of `/v1/suggest`.
#[derive(Serialize, ToSchema)]
pub(super) struct SuggestBody {
    /// Up to 10.
    suggestions: Vec<Suggestion>,
}

/// Completions of a group-name prefix; pinyin (`huwai`) and initials (`hw`) match too.
#[utoipa::path(get, path = "/v1/suggest", tag = "discovery",
    params(("q" = Option<String>, Query, max_length = 100, description = "The prefix typed so far")),
    responses(
        (status = 200, description = "Up to 10 completions", body = SuggestBody),
        (status = 400, description = "`q` too long or malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "A token was given and is not valid", body = super::openapi::ErrorBody),
        (status = 429, description = "Over the rate limit", body = super::openapi::ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub(super) async fn suggest(app: AppData, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller(&req, &app)?;
    let pairs = query_pairs(&req)?;
    let params = Params(&pairs);
    let q = text_param(&params, "q")?;
    let app2 = app.clone();
    let found = reading(move || {
        let catalog = app2.engine.catalog.read();
        Ok(searcher::suggest(&catalog, &q, 10))
    })
    .await?;
    let suggestions =
        found.iter().map(|g| Suggestion { id: g.id, name: g.name.clone(), category: g.category.clone() }).collect();
    Ok(HttpResponse::Ok().json(SuggestBody { suggestions }))
}
