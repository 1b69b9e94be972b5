//! The in-memory catalog: every live group's card fields, an R-tree of the discoverable
//! groups' locations, and the suggest keys. Loading a stored tantivy document costs more
//! than a whole query, so what a card shows is kept here, fed by the indexer task.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rstar::RTree;

use super::text::suggest_keys;
use crate::geo::{chord2_for_m, haversine_m, unit_xyz, GeoEntry};
use crate::store::GroupRow;

/// Live groups by id, with the derived structures for nearby and suggest.
#[derive(Default)]
pub struct Catalog {
    groups: HashMap<i64, Arc<GroupRow>, ahash::RandomState>,
    geo: RTree<GeoEntry>,
    suggest: BTreeSet<(String, i64)>,
}

impl Catalog {
    /// Builds the catalog in bulk (faster than one insert at a time).
    pub fn from_rows(rows: Vec<GroupRow>) -> Catalog {
        let mut cat = Catalog::default();
        let mut points = Vec::new();
        for row in rows {
            if row.discoverable {
                if let Some((lat, lon)) = row.location() {
                    points.push(GeoEntry::new(unit_xyz(lat, lon), row.id));
                }
                for k in suggest_keys(&row.name) {
                    if !k.is_empty() {
                        cat.suggest.insert((k, row.id));
                    }
                }
            }
            cat.groups.insert(row.id, Arc::new(row));
        }
        cat.geo = RTree::bulk_load(points);
        cat
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn get(&self, id: i64) -> Option<&Arc<GroupRow>> {
        self.groups.get(&id)
    }

    /// A discoverable group, or nothing: the one lookup every public list goes through.
    pub fn discoverable(&self, id: i64) -> Option<&Arc<GroupRow>> {
        self.groups.get(&id).filter(|g| g.discoverable)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<GroupRow>> {
        self.groups.values()
    }

    fn unlink(&mut self, old: &GroupRow) {
        if old.discoverable {
            if let Some((lat, lon)) = old.location() {
                self.geo.remove(&GeoEntry::new(unit_xyz(lat, lon), old.id));
            }
            for k in suggest_keys(&old.name) {
                self.suggest.remove(&(k, old.id));
            }
        }
    }

    /// Inserts or replaces a group.
    pub fn upsert(&mut self, row: GroupRow) {
        if let Some(old) = self.groups.get(&row.id).cloned() {
            if *old == row {
                return;
            }
            let same_links =
                old.discoverable == row.discoverable && old.location() == row.location() && old.name == row.name;
            if same_links {
                self.groups.insert(row.id, Arc::new(row));
                return;
            }
            self.unlink(&old);
        }
        if row.discoverable {
            if let Some((lat, lon)) = row.location() {
                self.geo.insert(GeoEntry::new(unit_xyz(lat, lon), row.id));
            }
            for k in suggest_keys(&row.name) {
                if !k.is_empty() {
                    self.suggest.insert((k, row.id));
                }
            }
        }
        self.groups.insert(row.id, Arc::new(row));
    }

    pub fn remove(&mut self, id: i64) {
        if let Some(old) = self.groups.remove(&id) {
            self.unlink(&old);
        }
    }

    /// Every discoverable group within `radius_m` of a point, with its exact distance.
    pub fn within(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<(f64, Arc<GroupRow>)> {
        let center = unit_xyz(lat, lon);
        let mut out = Vec::new();
        for e in self.geo.locate_within_distance(center, chord2_for_m(radius_m)) {
            if let Some(g) = self.discoverable(e.data) {
                if let Some((glat, glon)) = g.location() {
                    let d = haversine_m(lat, lon, glat, glon);
                    if d <= radius_m {
                        out.push((d, g.clone()));
                    }
                }
            }
        }
        out
    }

    /// Discoverable groups whose name, pinyin or initials start with `prefix`, up to
    /// `scan` candidates in key order (deduplicated by id).
    pub fn suggest_candidates(&self, prefix: &str, scan: usize) -> Vec<Arc<GroupRow>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (key, id) in self.suggest.range((prefix.to_string(), i64::MIN)..) {
            if !key.starts_with(prefix) || out.len() >= scan {
                break;
            }
            if seen.insert(*id) {
                if let Some(g) = self.discoverable(*id) {
                    out.push(g.clone());
                }
            }
        }
        out
    }
}
