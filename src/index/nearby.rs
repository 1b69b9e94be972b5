//! Nearby: the discoverable groups within a radius, from the catalog's geo tree, nearest
//! first or blended with quality.

use std::sync::Arc;

use super::catalog::Catalog;
use super::searcher::{page_after, MAX_DEPTH};
use crate::config::RankingWeights;
use crate::ranking::{self, Explain};
use crate::store::GroupRow;

/// How nearby orders its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearbySort {
    Distance,
    Blend,
}

/// Where a nearby page starts: after a (distance, id) key, or at an offset (blend).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NearbyFrom {
    Start,
    After(f64, i64),
    Offset(usize),
}

/// A nearby request, validated by the route.
#[derive(Debug, Clone)]
pub struct NearbyQuery {
    pub origin: (f64, f64),
    pub radius_m: f64,
    pub category: Option<String>,
    pub sort: NearbySort,
    pub from: NearbyFrom,
    pub limit: usize,
    /// For `Blend`, the groups earlier pages showed (sorted), as `SearchQuery::seen`.
    pub seen: Vec<i64>,
    /// For `Blend`: explain each hit's score (`explain=true`).
    pub explain: bool,
}

/// One page of nearby results: (distance in metres, group).
#[derive(Debug, Clone)]
pub struct NearbyPage {
    pub total: usize,
    pub hits: Vec<(f64, Arc<GroupRow>)>,
    pub has_more: bool,
    /// With `NearbyQuery::explain` and `Blend`, the explanation of each hit, in order.
    pub explains: Vec<Explain>,
}

/// The discoverable groups within the radius, exactly, nearest first (or blended).
pub fn nearby(catalog: &Catalog, weights: &RankingWeights, nq: &NearbyQuery) -> NearbyPage {
    let (lat, lon) = nq.origin;
    let category = nq.category.as_deref().map(|c| catalog.category_index(c));
    let to_rows = |ids: Vec<(f64, i64)>| -> Vec<(f64, Arc<GroupRow>)> {
        ids.into_iter().filter_map(|(d, id)| Some((d, catalog.get(id)?))).collect()
    };
    match nq.sort {
        NearbySort::Distance => {
            let after = match nq.from {
                NearbyFrom::After(d, id) => Some((d, id)),
                _ => None,
            };
            let (total, ids, has_more) = catalog.nearest_within(nq.origin, nq.radius_m, category, after, nq.limit);
            NearbyPage { total, hits: to_rows(ids), has_more, explains: Vec::new() }
        }
        NearbySort::Blend => {
            let all = catalog.within_ids(lat, lon, nq.radius_m, category);
            let total = all.len();
            let offset = match nq.from {
                NearbyFrom::Offset(o) => o,
                _ => 0,
            };
            let score = |x: &(f64, i64)| {
                let quality = catalog.hot(x.1).map_or(1.0, |h| h.quality);
                quality * ranking::proximity(Some(x.0), weights)
            };
            let ids = page_after(
                all,
                offset,
                nq.limit,
                &nq.seen,
                |x| x.1,
                |a, b| score(b).total_cmp(&score(a)).then(a.1.cmp(&b.1)),
            );
            let end = offset + nq.limit;
            let hits = to_rows(ids);
            // The score explained is the one the page was ordered by: the catalog's
            // quality times the proximity.
            let explains = if nq.explain {
                hits.iter()
                    .map(|(d, g)| {
                        let quality = catalog.hot(g.id).map_or(1.0, |h| h.quality);
                        ranking::explain_nearby(g, quality, *d, weights)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            NearbyPage { total, hits, has_more: end < total && end < MAX_DEPTH, explains }
        }
    }
}
