//! Reads: text search (`search.rs`), nearby (`nearby.rs`) and suggest. Search and nearby are
//! re-exported here, under the paths the routes, the jobs and the tests use; this file keeps
//! what they share, the paging depth and the page slicing, and suggest.

use std::cmp::Ordering;
use std::sync::Arc;

use super::catalog::Catalog;
use super::text;
use crate::store::GroupRow;

pub use super::nearby::{nearby, NearbyFrom, NearbyPage, NearbyQuery, NearbySort};
pub use super::search::{count_twice, search, Hit, Page, SearchQuery, SortBy};

/// How deep a result list may be paged.
pub const MAX_DEPTH: usize = 1000;

/// The page after `offset` results of which `seen` are the ids already shown: the plain
/// slice when nothing was shown, else the first `limit` of `items` not shown before.
pub(super) fn page_after<T>(
    mut items: Vec<T>,
    offset: usize,
    limit: usize,
    seen: &[i64],
    id: impl Fn(&T) -> i64,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Vec<T> {
    if seen.is_empty() {
        return page_of(items, offset, limit, cmp);
    }
    items.retain(|x| seen.binary_search(&id(x)).is_err());
    page_of(items, 0, limit, cmp)
}

/// Sorts just enough of `items` to return `[offset, offset + limit)`.
fn page_of<T>(mut items: Vec<T>, offset: usize, limit: usize, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let end = (offset + limit).min(items.len());
    if offset >= end {
        return Vec::new();
    }
    if end < items.len() {
        items.select_nth_unstable_by(end - 1, &cmp);
        items.truncate(end);
    }
    items.sort_by(&cmp);
    items.drain(..offset);
    items
}

/// How many suggest keys one query looks at, from name starts and again from later words:
/// enough for the members order to find the big groups among those a short prefix matches
/// (beyond that it takes the first in key order), few enough to stay well under a
/// millisecond.
const SUGGEST_SCAN: usize = 1_000;

/// Up to `limit` discoverable groups with a word whose text, pinyin or initials start
/// with `q` (initials run on over the words after it: hwtb is 户外徒步): those the query
/// completes from the start of their name first, then text matches before pinyin ones,
/// then by members, then by id.
pub fn suggest(catalog: &Catalog, q: &str, limit: usize) -> Vec<Arc<GroupRow>> {
    let prefix = text::suggest_query(q);
    if prefix.is_empty() {
        return Vec::new();
    }
    let mut found = catalog.suggest_candidates(&prefix, limit, SUGGEST_SCAN);
    found.sort_by(|a, b| {
        (b.matched.at_start, b.matched.text)
            .cmp(&(a.matched.at_start, a.matched.text))
            .then(b.member_count.cmp(&a.member_count))
            .then(a.id.cmp(&b.id))
    });
    // Rows are rebuilt from the catalog's packed cards, so only those of the page.
    found.into_iter().take(limit).filter_map(|s| catalog.get(s.id)).collect()
}
