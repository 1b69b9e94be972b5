//! The in-memory catalog: every live group's card fields, an R-tree of the discoverable
//! groups' locations, and the suggest keys. Loading a stored tantivy document costs more
//! than a whole query, so what a card shows is kept here, fed by the indexer task.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rstar::RTree;

use super::text::{suggest_key_at, suggest_keys, KeyKind};
use crate::config::RankingWeights;
use crate::geo::{chord2_for_m, haversine_m, unit_xyz, GeoEntry};
use crate::ranking;
use crate::store::GroupRow;

/// The dense arrays may always reach this many ids, and beyond that twice their length:
/// ids grow one by one, so they stay dense, while an odd huge id (an import may carry any)
/// goes to the side table instead of sizing an array after it.
const DENSE_FLOOR: usize = 1 << 20;

/// How many leading bytes of a suggest key an entry keeps: a longer query is checked
/// against the group's name once its first bytes match.
const KEY_BYTES: usize = 14;

/// One suggest key in the catalog: whether it starts inside the name (keys from the start
/// of names sort first, so a query finds all of those before any other), its leading bytes
/// (zero-padded, so entries sort as their keys do), its kind and start in the name (to
/// rebuild it whole), and the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SuggestEntry {
    inner: bool,
    key: [u8; KEY_BYTES],
    kind: KeyKind,
    start: u8,
    id: i64,
}

impl SuggestEntry {
    fn cut(key: &str) -> [u8; KEY_BYTES] {
        let mut out = [0; KEY_BYTES];
        let n = key.len().min(KEY_BYTES);
        out[..n].copy_from_slice(&key.as_bytes()[..n]);
        out
    }

    /// The entries of a group's name.
    fn of(name: &str, id: i64) -> impl Iterator<Item = SuggestEntry> {
        suggest_keys(name).into_iter().map(move |k| SuggestEntry {
            inner: k.start > 0,
            key: Self::cut(&k.key),
            kind: k.kind,
            start: k.start,
            id,
        })
    }
}

/// Suggest entries are gathered this many at a time and merged into the set: a set built
/// from sorted entries or merged with another has full nodes (inserting one by one leaves
/// them about half full), and merging batches never holds every entry twice.
const SUGGEST_BATCH: usize = 1 << 20;

/// How a suggestion matched: where in the name, and whether by its text or its pinyin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestMatch {
    /// The query completes the name from its first character.
    pub at_start: bool,
    /// The query matched the name's text, not only its pinyin or initials.
    pub text: bool,
}

/// What a search needs of a group to filter, count and rank it, packed small and kept in
/// an array indexed by id: matches arrive in document order, which is close to id order,
/// so scanning many matches reads memory nearly in sequence.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hot {
    /// Discoverable and live; every other field is meaningless when false.
    pub listed: bool,
    pub category: u8,
    pub join_approval: bool,
    pub has_room: bool,
    pub located: bool,
    pub lat: f64,
    pub lon: f64,
    pub adcode: u64,
    pub created_at: i64,
    pub yesterday_messages: u32,
    pub active_members: u32,
    /// The activity-and-room factor of the ranking, precomputed.
    pub quality: f32,
}

/// Live groups by id, with the derived structures for search, nearby and suggest.
pub struct Catalog {
    /// Every live group's row: by id in a dense array beside `hot`, or in the side table.
    rows: Vec<Option<Arc<GroupRow>>>,
    rows_far: HashMap<i64, Arc<GroupRow>, ahash::RandomState>,
    live: usize,
    hot: Vec<Hot>,
    /// `Hot::quality` of the dense ids again, packed (NaN when not listed): ranking a large
    /// match set by quality reads 4 bytes a group instead of a whole `Hot`.
    quality: Vec<f32>,
    hot_far: HashMap<i64, Hot, ahash::RandomState>,
    /// No listed group's quality has ever exceeded this: a bound that only rises, so a
    /// ranking can tell when no unseen group could outrank what it holds.
    top_quality: f32,
    categories: Vec<String>,
    weights: RankingWeights,
    geo: RTree<GeoEntry>,
    /// The suggest keys of every discoverable group, each cut to its first bytes so an
    /// entry is 24 bytes without a heap allocation (a group has up to 24 keys).
    suggest: BTreeSet<SuggestEntry>,
}

impl Catalog {
    /// An empty catalog for the given category ids (their order gives `Hot::category`).
    pub fn new(categories: Vec<String>, weights: RankingWeights) -> Catalog {
        Catalog {
            rows: Vec::new(),
            rows_far: HashMap::default(),
            live: 0,
            hot: Vec::new(),
            quality: Vec::new(),
            hot_far: HashMap::default(),
            top_quality: 1.0,
            categories,
            weights,
            geo: RTree::new(),
            suggest: BTreeSet::new(),
        }
    }

    /// The category ids, in the order of `Hot::category`.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The index of a category id (unknown ids map past the end).
    pub fn category_index(&self, id: &str) -> u8 {
        self.categories.iter().position(|c| c == id).unwrap_or(self.categories.len()) as u8
    }

    fn hot_of(&self, g: &GroupRow) -> Hot {
        let (lat, lon) = g.location().unwrap_or((0.0, 0.0));
        Hot {
            listed: g.listed(),
            category: self.category_index(&g.category),
            join_approval: g.join_approval,
            has_room: g.has_room(),
            located: g.location().is_some(),
            lat,
            lon,
            adcode: g.adcode,
            created_at: g.created_at,
            yesterday_messages: g.yesterday_messages.clamp(0, u32::MAX as i64) as u32,
            active_members: g.active_members.clamp(0, u32::MAX as i64) as u32,
            quality: ranking::quality(g, &self.weights),
        }
    }

    /// Where an id's entry lives: its slot in the dense arrays, or `None` for the side table.
    #[inline]
    fn dense_slot(&self, id: i64) -> Option<usize> {
        usize::try_from(id).ok().filter(|i| *i < self.hot.len())
    }

    fn set_hot(&mut self, id: i64, hot: Hot) {
        if hot.listed {
            self.top_quality = self.top_quality.max(hot.quality);
        }
        let reach = DENSE_FLOOR.max(2 * self.hot.len());
        if let Ok(i) = usize::try_from(id) {
            if i >= self.hot.len() && i < reach {
                let len = (i + 1).max(self.hot.len() + self.hot.len() / 2).min(reach);
                self.hot.resize(len, Hot::default());
                self.quality.resize(len, f32::NAN);
                self.rows.resize(len, None);
                // Side-table entries the arrays now reach move into them.
                let reached = |k: &i64| usize::try_from(*k).is_ok_and(|k| k < len);
                let moved: Vec<i64> = self.hot_far.keys().copied().filter(reached).collect();
                for k in moved {
                    if let Some(h) = self.hot_far.remove(&k) {
                        self.hot[k as usize] = h;
                        self.quality[k as usize] = if h.listed { h.quality } else { f32::NAN };
                    }
                }
                let moved: Vec<i64> = self.rows_far.keys().copied().filter(reached).collect();
                for k in moved {
                    self.rows[k as usize] = self.rows_far.remove(&k);
                }
            }
        }
        if let Some(i) = self.dense_slot(id) {
            self.hot[i] = hot;
            self.quality[i] = if hot.listed { hot.quality } else { f32::NAN };
        } else if hot.listed {
            self.hot_far.insert(id, hot);
        } else {
            self.hot_far.remove(&id);
        }
    }

    /// The search fields of a discoverable group.
    #[inline]
    pub fn hot(&self, id: i64) -> Option<&Hot> {
        let h = match self.dense_slot(id) {
            Some(i) => self.hot.get(i),
            None => self.hot_far.get(&id),
        };
        h.filter(|h| h.listed)
    }

    /// The ranking quality of a discoverable group.
    #[inline]
    pub fn quality(&self, id: i64) -> Option<f32> {
        if let Some(i) = self.dense_slot(id) {
            self.quality.get(i).copied().filter(|q| !q.is_nan())
        } else {
            self.hot_far.get(&id).filter(|h| h.listed).map(|h| h.quality)
        }
    }

    /// At least the quality of every discoverable group.
    pub fn top_quality(&self) -> f32 {
        self.top_quality
    }

    /// Builds the catalog in bulk (faster than one insert at a time).
    pub fn from_rows(rows: Vec<GroupRow>, categories: Vec<String>, weights: RankingWeights) -> Catalog {
        let mut cat = Catalog::new(categories, weights);
        let mut points = Vec::new();
        let mut suggest = Vec::new();
        for row in rows {
            if row.listed() {
                if let Some((lat, lon)) = row.location() {
                    points.push(GeoEntry::new(unit_xyz(lat, lon), row.id));
                }
                suggest.extend(SuggestEntry::of(&row.name, row.id));
                if suggest.len() >= SUGGEST_BATCH {
                    cat.suggest.append(&mut suggest.drain(..).collect());
                }
            }
            let hot = cat.hot_of(&row);
            cat.set_hot(row.id, hot);
            cat.put_row(Arc::new(row));
        }
        cat.geo = RTree::bulk_load(points);
        cat.suggest.append(&mut suggest.into_iter().collect());
        cat
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn get(&self, id: i64) -> Option<&Arc<GroupRow>> {
        match self.dense_slot(id) {
            Some(i) => self.rows[i].as_ref(),
            None => self.rows_far.get(&id),
        }
    }

    /// Stores a row where its id belongs (after `set_hot` sized the arrays for it).
    fn put_row(&mut self, row: Arc<GroupRow>) {
        let old = match self.dense_slot(row.id) {
            Some(i) => self.rows[i].replace(row),
            None => self.rows_far.insert(row.id, row),
        };
        if old.is_none() {
            self.live += 1;
        }
    }

    fn take_row(&mut self, id: i64) -> Option<Arc<GroupRow>> {
        let old = match self.dense_slot(id) {
            Some(i) => self.rows[i].take(),
            None => self.rows_far.remove(&id),
        };
        if old.is_some() {
            self.live -= 1;
        }
        old
    }

    /// A discoverable group, or nothing: the one lookup every public list goes through.
    pub fn discoverable(&self, id: i64) -> Option<&Arc<GroupRow>> {
        self.get(id).filter(|g| g.listed())
    }

    /// Every discoverable group's search fields, with its id.
    pub fn hot_iter(&self) -> impl Iterator<Item = (i64, &Hot)> {
        let dense = self.hot.iter().enumerate().map(|(i, h)| (i as i64, h));
        dense.chain(self.hot_far.iter().map(|(id, h)| (*id, h))).filter(|(_, h)| h.listed)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<GroupRow>> {
        self.rows.iter().flatten().chain(self.rows_far.values())
    }

    fn unlink(&mut self, old: &GroupRow) {
        if old.listed() {
            if let Some((lat, lon)) = old.location() {
                self.geo.remove(&GeoEntry::new(unit_xyz(lat, lon), old.id));
            }
            for e in SuggestEntry::of(&old.name, old.id) {
                self.suggest.remove(&e);
            }
        }
    }

    /// Inserts or replaces a group.
    pub fn upsert(&mut self, row: GroupRow) {
        let hot = self.hot_of(&row);
        self.set_hot(row.id, hot);
        if let Some(old) = self.get(row.id).cloned() {
            if *old == row {
                return;
            }
            let same_links = old.listed() == row.listed() && old.location() == row.location() && old.name == row.name;
            if same_links {
                self.put_row(Arc::new(row));
                return;
            }
            self.unlink(&old);
        }
        if row.listed() {
            if let Some((lat, lon)) = row.location() {
                self.geo.insert(GeoEntry::new(unit_xyz(lat, lon), row.id));
            }
            self.suggest.extend(SuggestEntry::of(&row.name, row.id));
        }
        self.put_row(Arc::new(row));
    }

    pub fn remove(&mut self, id: i64) {
        self.set_hot(id, Hot::default());
        if let Some(old) = self.take_row(id) {
            self.unlink(&old);
        }
    }

    /// Every discoverable group within `radius_m` of a point, with its exact distance.
    pub fn within(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<(f64, Arc<GroupRow>)> {
        self.within_ids(lat, lon, radius_m, None)
            .into_iter()
            .filter_map(|(d, id)| Some((d, self.get(id)?.clone())))
            .collect()
    }

    /// Every discoverable group (of one category, if given) within `radius_m`, as
    /// (exact distance in metres, id).
    pub fn within_ids(&self, lat: f64, lon: f64, radius_m: f64, category: Option<u8>) -> Vec<(f64, i64)> {
        let center = unit_xyz(lat, lon);
        let mut out = Vec::new();
        for e in self.geo.locate_within_distance(center, chord2_for_m(radius_m)) {
            if let Some(h) = self.hot(e.data) {
                if category.is_some_and(|c| c != h.category) {
                    continue;
                }
                let d = haversine_m(lat, lon, h.lat, h.lon);
                if d <= radius_m {
                    out.push((d, e.data));
                }
            }
        }
        out
    }

    /// How many discoverable groups (of one category, if given) lie within `radius_m`.
    /// Chord order is great-circle order, so only points at the very edge need the exact
    /// distance.
    pub fn count_within(&self, lat: f64, lon: f64, radius_m: f64, category: Option<u8>) -> usize {
        let center = unit_xyz(lat, lon);
        let outer = chord2_for_m(radius_m);
        let inner = outer * (1.0 - 1e-6);
        let mut n = 0;
        for e in self.geo.locate_within_distance(center, outer) {
            let Some(h) = self.hot(e.data) else { continue };
            if category.is_some_and(|c| c != h.category) {
                continue;
            }
            let p = e.geom();
            let d2 = (p[0] - center[0]).powi(2) + (p[1] - center[1]).powi(2) + (p[2] - center[2]).powi(2);
            if d2 <= inner || haversine_m(lat, lon, h.lat, h.lon) <= radius_m {
                n += 1;
            }
        }
        n
    }

    /// The nearest discoverable groups (of one category, if given) within `radius_m` that
    /// come after `after` in (distance, id) order: up to `limit`, and whether more follow.
    pub fn nearest(
        &self,
        (lat, lon): (f64, f64),
        radius_m: f64,
        category: Option<u8>,
        after: Option<(f64, i64)>,
        limit: usize,
    ) -> (Vec<(f64, i64)>, bool) {
        let center = unit_xyz(lat, lon);
        let outer = chord2_for_m(radius_m);
        let mut found: Vec<(f64, i64)> = Vec::with_capacity(limit + 1);
        let mut last_d2 = 0.0;
        for (e, d2) in self.geo.nearest_neighbor_iter_with_distance_2(&center) {
            if d2 > outer {
                break;
            }
            // Stop once the page is full and the next point is clearly farther; points at
            // equal distance are all taken so the (distance, id) order is exact.
            if found.len() > limit && d2 > last_d2 * (1.0 + 1e-9) + 1e-18 {
                break;
            }
            let Some(h) = self.hot(e.data) else { continue };
            if category.is_some_and(|c| c != h.category) {
                continue;
            }
            let d = haversine_m(lat, lon, h.lat, h.lon);
            if d > radius_m {
                continue;
            }
            if let Some((ad, aid)) = after {
                if d.total_cmp(&ad).then(e.data.cmp(&aid)) != std::cmp::Ordering::Greater {
                    continue;
                }
            }
            found.push((d, e.data));
            last_d2 = d2;
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let more = found.len() > limit;
        found.truncate(limit);
        (found, more)
    }

    /// Discoverable groups with a word whose text, pinyin or initials (those of the words
    /// after it included) start with `prefix`, each with its best match: first those whose
    /// name starts so, from up to `scan` keys in key order, then, while fewer than `wanted`
    /// were found, those with a later word that does, from up to `scan` keys more.
    pub fn suggest_candidates(&self, prefix: &str, wanted: usize, scan: usize) -> Vec<(SuggestMatch, Arc<GroupRow>)> {
        let probe = SuggestEntry::cut(prefix);
        let probe_len = prefix.len().min(KEY_BYTES);
        let mut best: HashMap<i64, SuggestMatch, ahash::RandomState> = HashMap::default();
        for inner in [false, true] {
            if inner && best.len() >= wanted {
                break;
            }
            let from = SuggestEntry { inner, key: probe, kind: KeyKind::Text, start: 0, id: i64::MIN };
            for e in self.suggest.range(from..).take(scan) {
                if e.inner != inner || e.key[..probe_len] != probe[..probe_len] {
                    break;
                }
                let Some(g) = self.discoverable(e.id) else { continue };
                // The entry holds the key's first bytes only; a longer prefix needs all of it.
                if prefix.len() > KEY_BYTES && !suggest_key_at(&g.name, e.kind, e.start as usize).starts_with(prefix) {
                    continue;
                }
                let m = SuggestMatch { at_start: !e.inner, text: e.kind == KeyKind::Text };
                let slot = best.entry(e.id).or_insert(m);
                if (m.at_start, m.text) > (slot.at_start, slot.text) {
                    *slot = m;
                }
            }
        }
        best.into_iter().filter_map(|(id, m)| Some((m, self.discoverable(id)?.clone()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64) -> GroupRow {
        GroupRow { lat: Some(30.0), lon: Some(120.0), yesterday_messages: id % 7, ..GroupRow::sample(id) }
    }

    #[test]
    fn a_huge_id_does_not_size_the_dense_arrays_and_every_id_stays_found() {
        let mut c = Catalog::new(vec!["outdoor".into()], RankingWeights::default());
        c.upsert(row(60_000_000));
        assert!(c.hot.len() <= DENSE_FLOOR, "dense arrays grew to {}", c.hot.len());
        // Ids arriving one by one stay dense; a side-table id the arrays come to reach moves in.
        // (The search fields alone, as `upsert` sets them, to keep the test quick.)
        c.upsert(row(1_500_000));
        for id in 1..=1_200_000 {
            c.set_hot(id, Hot { listed: true, quality: 1.0 + (id % 7) as f32, ..Hot::default() });
        }
        assert!(c.hot.len() > 1_500_000 && c.hot.len() < 4_000_000, "dense length {}", c.hot.len());
        assert!(!c.hot_far.contains_key(&1_500_000), "moved into the arrays");
        for id in [1, 999_999, 1_200_000, 1_500_000, 60_000_000] {
            let hot = c.hot(id).unwrap_or_else(|| panic!("{id} lost"));
            assert_eq!(c.quality(id), Some(hot.quality));
        }
        assert!(c.hot(1_200_001).is_none() && c.quality(-5).is_none());
        assert_eq!(c.get(1_500_000).map(|g| g.id), Some(1_500_000));
        assert_eq!(c.get(60_000_000).map(|g| g.id), Some(60_000_000));
        assert_eq!(c.len(), 2);
        assert_eq!(c.hot_iter().count(), 1_200_002);
        c.remove(60_000_000);
        c.set_hot(7, Hot::default());
        assert!(c.hot(60_000_000).is_none() && c.hot(7).is_none());
        assert_eq!(c.hot_iter().count(), 1_200_000);
        assert!(c.get(60_000_000).is_none());
        assert_eq!((c.len(), c.iter().count()), (1, 1));
    }
}
