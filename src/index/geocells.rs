//! The catalog's discoverable located groups by cell of about 1.2 km, for "within r
//! metres" and "nearest first": eight bytes a group in one sorted array from the bulk load
//! (an R-tree of the same points took eighty), with the changes since beside it. Cells
//! only narrow the candidates, to the runs of cells each row of cells has under the
//! circle; whether a group is within the radius, and how far it is, comes from the exact
//! great-circle distance to the location its `Hot` holds.

use std::collections::BTreeSet;

use super::segments::grid_cell;
use crate::geo::{haversine_m, EARTH_RADIUS_M};

/// The catalog's cells are 4 × 2 cells of the 16-bit grid: 1.22 km north to south, 1.22 km
/// × cos(latitude) east to west.
const FINE: CellSize = CellSize { lat_shift: 2, lon_shift: 1 };

/// A size of cell: 2^`lat_shift` × 2^`lon_shift` cells of the 16-bit grid (`grid_cell`). A
/// cell's key has its row in the high half and its column in the low.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CellSize {
    pub lat_shift: u32,
    pub lon_shift: u32,
}

impl CellSize {
    pub const fn rows(self) -> u32 {
        1 << (16 - self.lat_shift)
    }

    pub const fn columns(self) -> u32 {
        1 << (16 - self.lon_shift)
    }

    /// The key of the cell holding a cell of the 16-bit grid.
    pub fn of_grid(self, cell: u32) -> u32 {
        (cell >> 16 >> self.lat_shift) << 16 | (cell & 0xffff) >> self.lon_shift
    }

    pub fn key(self, lat: f64, lon: f64) -> u32 {
        self.of_grid(grid_cell(lat, lon))
    }

    /// Where each row of cells starts in `sorted`, ordered by cell key (one more entry for
    /// the end): a row's run is then found without a search over the whole array, whose
    /// probes each miss the cache.
    pub fn row_starts<T>(self, sorted: &[T], key: impl Fn(&T) -> u32) -> Vec<u32> {
        (0..=self.rows()).map(|row| sorted.partition_point(|e| key(e) >> 16 < row) as u32).collect()
    }

    /// The southern and northern latitudes (degrees) of a row of cells.
    fn row_latitudes(self, row: u32) -> (f64, f64) {
        let degrees_of = |row: u32| f64::from(row) / f64::from(self.rows()) * 180.0 - 90.0;
        (degrees_of(row), degrees_of(row + 1))
    }

    /// The rows (inclusive) that may hold points within `angle` (radians) of latitude
    /// `lat`, and the row of `lat` itself: (south, centre, north).
    pub fn rows_within(self, lat: f64, angle: f64) -> (u32, u32, u32) {
        let reach = angle.to_degrees() * (1.0 + 1e-9) + 1e-9;
        let row_of = |lat: f64| (grid_cell(lat.clamp(-90.0, 90.0), 0.0) >> 16) >> self.lat_shift;
        (row_of(lat - reach), row_of(lat), row_of(lat + reach))
    }

    /// The columns (inclusive) where row `row` may hold points within `angle` (radians) of
    /// (lat, lon); `None` when it holds none.
    pub fn columns_within(self, lat: f64, lon: f64, angle: f64, row: u32) -> Option<(u32, u32)> {
        let (south, north) = self.row_latitudes(row);
        let (south, north) = (south.to_radians(), north.to_radians());
        let (p0, cos_d) = (lat.to_radians(), angle.cos());
        if cos_d <= 0.0 {
            // A circle past a quarter of the Earth: any row may reach all the way round.
            return Some((0, self.columns() - 1));
        }
        // On the parallel at φ the circle reaches Δλ either side, where
        // cos d = sin φ₀ sin φ + cos φ₀ cos φ cos Δλ; Δλ is widest at sin φ = sin φ₀ / cos d
        // and narrows away from there, so within the row it is widest at the nearest φ to that.
        let widest = (p0.sin() / cos_d).clamp(-1.0, 1.0).asin();
        // At the pole the whole row is reached.
        let cos_dlon = cos_reach(p0, cos_d, widest.clamp(south, north)).unwrap_or(-1.0);
        if cos_dlon > 1.0 + 1e-9 {
            // The nearest parallel of the row passes outside the circle.
            return None;
        }
        // Widened for the rounding of `acos` near 1 (a tiny Δλ), well under a metre.
        let dlon = cos_dlon.clamp(-1.0, 1.0).acos().to_degrees() * (1.0 + 1e-9) + 1e-6;
        if dlon >= 180.0 || lon - dlon <= -180.0 || lon + dlon >= 180.0 {
            // Around the pole, or over the date line: the whole row.
            return Some((0, self.columns() - 1));
        }
        let column = |lon: f64| (grid_cell(0.0, lon) & 0xffff) >> self.lon_shift;
        Some((column(lon - dlon), column(lon + dlon)))
    }

    /// The columns (inclusive) of row `row` whose every point lies within `angle` (radians)
    /// of (lat, lon), if any. A cell's farthest point from the centre is one of its corners
    /// (along a parallel the distance grows with the difference in longitude, along a
    /// meridian it falls then rises), so a cell is inside when the circle reaches past its
    /// farther side on both of the row's parallels. Cells near the date line or a pole are
    /// never reported inside.
    pub fn inner_columns(self, lat: f64, lon: f64, angle: f64, row: u32) -> Option<(u32, u32)> {
        let (p0, cos_d) = (lat.to_radians(), angle.cos());
        if cos_d <= 0.0 {
            return None;
        }
        let reach_at = |latitude: f64| -> Option<f64> {
            let cos_dlon = cos_reach(p0, cos_d, latitude.to_radians())?;
            (cos_dlon <= 1.0).then(|| cos_dlon.max(-1.0).acos().to_degrees())
        };
        let (south, north) = self.row_latitudes(row);
        // Narrowed for the rounding of `acos` and of the cells' edges, well under a metre.
        let dlon = reach_at(south)?.min(reach_at(north)?) * (1.0 - 1e-9) - 1e-6;
        if dlon <= 0.0 || lon - dlon <= -180.0 || lon + dlon >= 180.0 {
            return None;
        }
        let width = 360.0 / f64::from(self.columns());
        // The first column starting east of the western reach, the last ending west of the
        // eastern one.
        let first = ((lon - dlon + 180.0) / width).ceil();
        let last = ((lon + dlon + 180.0) / width).floor() - 1.0;
        (first <= last).then_some((first as u32, last as u32))
    }
}

/// cos Δλ where the circle of angle d (`cos_d`) about latitude φ₀ (`p0`) crosses the
/// parallel φ (radians), from cos d = sin φ₀ sin φ + cos φ₀ cos φ cos Δλ: above 1 when the
/// parallel passes outside the circle, below −1 when the circle holds the whole parallel;
/// `None` at a pole, where longitude means nothing.
fn cos_reach(p0: f64, cos_d: f64, p: f64) -> Option<f64> {
    let denominator = p0.cos() * p.cos();
    (denominator > 1e-12).then(|| (cos_d - p0.sin() * p.sin()) / denominator)
}

/// Located groups by cell (row in the high half of the key).
#[derive(Default)]
pub struct GeoCells {
    /// (cell, id) of the bulk load, sorted.
    bulk: Vec<(u32, u32)>,
    /// Where each row of cells starts in `bulk` (`CellSize::row_starts`).
    rows: Vec<u32>,
    /// One bit per `bulk` entry: removed since.
    removed: Vec<u64>,
    /// Groups placed since the bulk load, and those whose id does not fit 32 bits.
    added: BTreeSet<(u32, i64)>,
}

impl GeoCells {
    /// The cells of the given (lat, lon, id) points.
    pub fn bulk(points: Vec<(f64, f64, i64)>) -> GeoCells {
        let mut cells = GeoCells { bulk: Vec::with_capacity(points.len()), ..GeoCells::default() };
        for (lat, lon, id) in points {
            match u32::try_from(id) {
                Ok(small) => cells.bulk.push((key(lat, lon), small)),
                Err(_) => {
                    cells.added.insert((key(lat, lon), id));
                }
            }
        }
        cells.bulk.sort_unstable();
        cells.rows = FINE.row_starts(&cells.bulk, |e| e.0);
        cells.removed = vec![0; cells.bulk.len().div_ceil(64)];
        cells
    }

    pub fn insert(&mut self, lat: f64, lon: f64, id: i64) {
        self.added.insert((key(lat, lon), id));
    }

    /// Removes a group placed at (lat, lon), wherever it was put.
    pub fn remove(&mut self, lat: f64, lon: f64, id: i64) {
        let key = key(lat, lon);
        if let Ok(small) = u32::try_from(id) {
            if let Ok(i) = self.bulk.binary_search(&(key, small)) {
                if !self.is_removed(i) {
                    self.removed[i >> 6] |= 1 << (i & 63);
                    return;
                }
            }
        }
        self.added.remove(&(key, id));
    }

    fn is_removed(&self, i: usize) -> bool {
        self.removed[i >> 6] & (1 << (i & 63)) != 0
    }

    /// Calls `f` with every group in the cells that each row of cells has under the circle
    /// (a superset of those within it, each once), and the band of latitudes of its row,
    /// row by row from the centre's outwards.
    pub fn candidates(&self, lat: f64, lon: f64, radius_m: f64, mut f: impl FnMut(&Band, i64)) {
        let angle = (radius_m / EARTH_RADIUS_M).min(std::f64::consts::PI);
        let (south, centre, north) = FINE.rows_within(lat, angle);
        // From the centre's row outwards: the nearest groups tend to come first.
        let outwards = (0..=(centre - south).max(north - centre))
            .flat_map(|k| [centre.checked_add(k), if k > 0 { centre.checked_sub(k) } else { None }])
            .flatten()
            .filter(|row| (south..=north).contains(row));
        for row in outwards {
            let Some((west, east)) = FINE.columns_within(lat, lon, angle, row) else { continue };
            let (lo, hi) = (row << 16 | west, row << 16 | east);
            let band = Band::of_row(row);
            let (from, to) = match self.rows.get(row as usize..=row as usize + 1) {
                Some(&[from, to]) => (from as usize, to as usize),
                _ => (0, 0),
            };
            let run = &self.bulk[from..to];
            let start = from + run.partition_point(|e| e.0 < lo);
            let end = start + self.bulk[start..to].partition_point(|e| e.0 <= hi);
            for i in start..end {
                if !self.is_removed(i) {
                    f(&band, self.bulk[i].1 as i64);
                }
            }
            for (_, id) in self.added.range((lo, i64::MIN)..=(hi, i64::MAX)) {
                f(&band, *id);
            }
        }
    }
}

fn key(lat: f64, lon: f64) -> u32 {
    FINE.key(lat, lon)
}

/// A row of cells: its band of latitudes (degrees) and bounds on their cosines.
#[derive(Debug, Clone, Copy)]
pub struct Band {
    south: f64,
    north: f64,
    cos_lo: f64,
    cos_hi: f64,
}

impl Band {
    fn of_row(row: u32) -> Band {
        let (south, north) = FINE.row_latitudes(row);
        let (near, far) = if south <= 0.0 && north >= 0.0 {
            (0.0, south.abs().max(north.abs()))
        } else {
            (south.abs().min(north.abs()), south.abs().max(north.abs()))
        };
        // Widened a hair for the rounding of `cos`.
        let cos_lo = (far.to_radians().cos() * (1.0 - 1e-12)).max(0.0);
        let cos_hi = near.to_radians().cos() * (1.0 + 1e-12);
        Band { south, north, cos_lo, cos_hi }
    }
}

/// Bounds on a point's haversine term sin²(Δφ/2) + cos φ₁ cos φ₂ sin²(Δλ/2) from a circle's
/// centre, which grows with the distance.
pub type Term = (f64, f64);

/// A circle on the Earth. Points are checked against bounds on their haversine term,
/// found with no trigonometry (u²(1 − u²/3) ≤ sin² u ≤ u², and the cosine of the point's
/// latitude bounded by its row's): only a point within a hair of the edge needs its exact
/// distance to be placed.
pub struct Circle {
    lat: f64,
    lon: f64,
    radius_m: f64,
    cos_lat: f64,
    /// The term at the radius, a relative billionth inside and outside.
    edge_in: f64,
    edge_out: f64,
}

impl Circle {
    pub fn new(lat: f64, lon: f64, radius_m: f64) -> Circle {
        let edge = term_at(radius_m);
        Circle {
            lat,
            lon,
            radius_m,
            cos_lat: lat.to_radians().cos(),
            edge_in: edge * (1.0 - 1e-9),
            edge_out: edge * (1.0 + 1e-9),
        }
    }

    /// The bounds on the term of a point of `band`, if the point lies within the circle.
    #[inline]
    pub fn admits(&self, band: &Band, lat: f64, lon: f64) -> Option<Term> {
        let term = self.term(band, lat, lon);
        if term.0 > self.edge_out {
            return None;
        }
        if term.1 <= self.edge_in {
            return Some(term);
        }
        (self.distance(lat, lon) <= self.radius_m).then_some(term)
    }

    /// The exact distance to a point, in metres.
    #[inline]
    pub fn distance(&self, lat: f64, lon: f64) -> f64 {
        haversine_m(self.lat, self.lon, lat, lon)
    }

    #[inline]
    fn term(&self, band: &Band, lat: f64, lon: f64) -> Term {
        let (cos_lo, cos_hi) = if lat >= band.south && lat <= band.north {
            (band.cos_lo, band.cos_hi)
        } else {
            let c = lat.to_radians().cos();
            (c * (1.0 - 1e-12), c * (1.0 + 1e-12))
        };
        let u = (lat - self.lat).to_radians() / 2.0;
        let mut dlon = (lon - self.lon).abs();
        if dlon > 180.0 {
            dlon = 360.0 - dlon;
        }
        let v = dlon.to_radians() / 2.0;
        let (u2, v2) = (u * u, v * v);
        let lo = u2 * (1.0 - u2 / 3.0) + self.cos_lat * cos_lo * v2 * (1.0 - v2 / 3.0);
        let hi = u2 + self.cos_lat * cos_hi * v2;
        (lo * (1.0 - 1e-12), hi * (1.0 + 1e-12))
    }
}

/// The haversine term of a distance in metres.
pub fn term_at(meters: f64) -> f64 {
    (meters / EARTH_RADIUS_M / 2.0).min(std::f64::consts::FRAC_PI_2).sin().powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A point `meters` from (lat, lon) on a bearing.
    fn at_distance(lat: f64, lon: f64, meters: f64, bearing: f64) -> (f64, f64) {
        let d = meters / EARTH_RADIUS_M;
        let (p1, l1) = (lat.to_radians(), lon.to_radians());
        let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * bearing.cos()).asin();
        let l2 = l1 + (bearing.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
        let lon2 = (l2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
        (p2.to_degrees(), lon2)
    }

    #[test]
    fn circle_agrees_with_the_exact_distance() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..2000 {
            let (lat, lon) = (rng.gen_range(-85.0..85.0), rng.gen_range(-180.0..180.0));
            let radius_m =
                if rng.gen_bool(0.5) { rng.gen_range(10.0..50_000.0) } else { rng.gen_range(10.0..3_000_000.0) };
            let circle = Circle::new(lat, lon, radius_m);
            for i in 0..40 {
                let bearing = rng.gen_range(0.0..std::f64::consts::TAU);
                // Anywhere to twice the radius, or a fraction of a metre either side of the edge.
                let meters =
                    if i % 2 == 0 { rng.gen_range(0.0..2.0 * radius_m) } else { radius_m + rng.gen_range(-0.5..0.5) };
                let (plat, plon) = at_distance(lat, lon, meters.max(0.0), bearing);
                let d = haversine_m(lat, lon, plat, plon);
                // Its own row's band, and (every fourth) a band it is not in.
                let row = if i % 4 == 3 { key(plat, plon) >> 16 ^ 7 } else { key(plat, plon) >> 16 };
                let band = Band::of_row(row.min(FINE.rows() - 1));
                let admitted = circle.admits(&band, plat, plon);
                assert_eq!(
                    admitted.is_some(),
                    d <= radius_m,
                    "({plat}, {plon}) {d} m from ({lat}, {lon}) r {radius_m}"
                );
                let (lo, hi) = circle.term(&band, plat, plon);
                let exact = term_at(d);
                assert!(lo <= exact * (1.0 + 1e-9) && exact <= hi * (1.0 + 1e-9), "{lo} {exact} {hi}");
            }
        }
    }

    #[test]
    fn inner_cells_lie_wholly_within_the_circle() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let size = CellSize { lat_shift: 3, lon_shift: 2 };
        let mut inner_cells = 0;
        for _ in 0..300 {
            let (lat, lon) = (rng.gen_range(-80.0..80.0), rng.gen_range(-179.0..179.0));
            let radius_m = 10f64.powf(rng.gen_range(3.0..6.0));
            let angle = radius_m / EARTH_RADIUS_M;
            let (south, _, north) = size.rows_within(lat, angle);
            for row in south..=north {
                let Some((first, last)) = size.inner_columns(lat, lon, angle, row) else { continue };
                let (outer_first, outer_last) =
                    size.columns_within(lat, lon, angle, row).expect("an inner cell is under the circle");
                assert!(
                    outer_first <= first && last <= outer_last,
                    "row {row}: inner {first}..={last} outside {outer_first}..={outer_last}"
                );
                let (s, n) = size.row_latitudes(row);
                let width = 360.0 / f64::from(size.columns());
                for column in [first, last, rng.gen_range(first..=last)] {
                    inner_cells += 1;
                    let (w, e) = (f64::from(column) * width - 180.0, f64::from(column + 1) * width - 180.0);
                    // The corners (the farthest points of a cell) and points inside.
                    let points = [(s, w), (s, e), (n, w), (n, e)]
                        .into_iter()
                        .chain((0..8).map(|_| (rng.gen_range(s..n), rng.gen_range(w..e))));
                    for (plat, plon) in points {
                        // Every point of the cell, by its own grid cell, is in this one.
                        if plat < n && plon < e {
                            assert_eq!(size.key(plat, plon), row << 16 | column);
                        }
                        let d = haversine_m(lat, lon, plat, plon);
                        assert!(
                            d <= radius_m,
                            "({plat}, {plon}) {d} m from ({lat}, {lon}) r {radius_m}, row {row} column {column}"
                        );
                    }
                }
            }
        }
        assert!(inner_cells > 1000, "only {inner_cells} inner cells checked");
    }

    #[test]
    fn candidates_cover_every_point_within_the_circle_once() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut points: Vec<(f64, f64, i64)> = (0..3000)
            .map(|i| (rng.gen_range(20.0..45.0), rng.gen_range(100.0..125.0), i))
            .chain([(89.9, 0.0, 3000), (30.0, 179.99, 3001), (31.0, 121.0, 1 << 40)])
            .collect();
        let mut cells = GeoCells::bulk(points.clone());
        // Move a third of them, some twice, and drop a few.
        for _ in 0..2 {
            for p in points.iter_mut().step_by(3) {
                cells.remove(p.0, p.1, p.2);
                (p.0, p.1) = (rng.gen_range(20.0..45.0), rng.gen_range(100.0..125.0));
                cells.insert(p.0, p.1, p.2);
            }
        }
        let dropped: std::collections::HashSet<i64> = points.iter().skip(1).step_by(50).map(|p| p.2).collect();
        for p in points.iter().filter(|p| dropped.contains(&p.2)) {
            cells.remove(p.0, p.1, p.2);
        }
        let live: Vec<(f64, f64, i64)> = points.iter().copied().filter(|p| !dropped.contains(&p.2)).collect();
        let at: std::collections::HashMap<i64, (f64, f64)> = live.iter().map(|p| (p.2, (p.0, p.1))).collect();
        for (lat, lon, radius_m) in [
            (30.0, 110.0, 300_000.0),
            (89.0, 10.0, 200_000.0),
            (30.0, 179.9, 50_000.0),
            (30.0, 110.0, 12_000_000.0),
            (-10.0, 110.0, 4_000_000.0),
        ]
        .into_iter()
        .chain((0..50).map(|_| (rng.gen_range(20.0..45.0), rng.gen_range(100.0..125.0), rng.gen_range(1.0..400_000.0))))
        {
            let circle = Circle::new(lat, lon, radius_m);
            let mut found = Vec::new();
            cells.candidates(lat, lon, radius_m, |band, id| {
                if let Some((plat, plon)) = at.get(&id) {
                    if circle.admits(band, *plat, *plon).is_some() {
                        found.push(id);
                    }
                } else {
                    panic!("{id} is not placed any more");
                }
            });
            found.sort_unstable();
            let mut expected: Vec<i64> =
                live.iter().filter(|p| haversine_m(lat, lon, p.0, p.1) <= radius_m).map(|p| p.2).collect();
            expected.sort_unstable();
            assert_eq!(found, expected, "({lat}, {lon}) r {radius_m}");
        }
    }
}
