//! Places and distances: the gazetteer of Chinese areas (its districts in an R-tree of
//! points on the unit sphere, where straight-line (chord) order equals great-circle order),
//! and exact haversine distances.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use geo::{Distance, Haversine, Point};
use rstar::primitives::GeomWithData;
use rstar::RTree;

/// The mean earth radius used by `geo`'s haversine, in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The great-circle distance in metres between two (lat, lon) points.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    Haversine.distance(Point::new(lon1, lat1), Point::new(lon2, lat2))
}

/// A point on the unit sphere.
pub fn unit_xyz(lat: f64, lon: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

/// The administrative level of a gazetteer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Province,
    City,
    District,
}

/// One row of the gazetteer.
#[derive(Debug, Clone)]
pub struct Place {
    pub adcode: u64,
    pub name: String,
    pub short: String,
    pub level: Level,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl Place {
    /// The adcode prefix that contains this place and everything under it, as (prefix, divisor).
    pub fn prefix(&self) -> AreaPrefix {
        let div = match self.level {
            Level::Province => 10_000_000_000,
            Level::City => 100_000_000,
            Level::District => 1_000_000,
        };
        AreaPrefix { prefix: self.adcode / div, div }
    }
}

/// An area as an adcode prefix: `adcode / div == prefix` for everything inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AreaPrefix {
    pub prefix: u64,
    pub div: u64,
}

impl AreaPrefix {
    pub fn contains(&self, adcode: u64) -> bool {
        adcode != 0 && adcode / self.div == self.prefix
    }
}

/// What the gazetteer says about a point: the nearest district and its city.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Locality {
    pub adcode: u64,
    pub city: Option<String>,
    pub district: Option<String>,
}

/// The gazetteer: 3,511 Chinese provinces, cities and districts with coordinates.
pub struct Gazetteer {
    places: Vec<Place>,
    by_adcode: HashMap<u64, usize>,
    by_name: HashMap<String, Vec<usize>>,
    localities: Vec<usize>,
    districts: RTree<GeomWithData<[f64; 3], usize>>,
}

const SUFFIXES: &[&str] = &[
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "林区",
    "新区",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
];

/// The everyday form of a place name: 海淀区 → 海淀, 广东省 → 广东, 广西壮族自治区 → 广西.
pub fn short_name(name: &str) -> String {
    for suffix in SUFFIXES {
        if let Some(stem) = name.strip_suffix(suffix) {
            if stem.chars().count() >= 2 {
                return stem.to_string();
            }
        }
    }
    name.to_string()
}

fn level_of(adcode: u64) -> Level {
    if adcode.is_multiple_of(10_000_000_000) {
        Level::Province
    } else if adcode.is_multiple_of(100_000_000) {
        Level::City
    } else {
        Level::District
    }
}

/// Names that stand for a level without being a place of their own.
fn is_placeholder(name: &str) -> bool {
    matches!(name, "市辖区" | "县" | "省直辖县级行政区划" | "自治区直辖县级行政区划")
}

impl Gazetteer {
    pub fn load(path: &Path) -> anyhow::Result<Gazetteer> {
        let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
        Ok(Self::from_csv(&text))
    }

    /// Parses `adcode,name,longitude,latitude` lines (with a header line).
    pub fn from_csv(text: &str) -> Gazetteer {
        let mut places = Vec::new();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split(',').collect();
            if cols.len() < 4 {
                continue;
            }
            let Ok(adcode) = cols[0].trim().parse::<u64>() else {
                continue;
            };
            let name = cols[1].trim().to_string();
            let lon = cols[2].trim().parse::<f64>().ok();
            let lat = cols[3].trim().parse::<f64>().ok();
            places.push(Place { adcode, short: short_name(&name), name, level: level_of(adcode), lat, lon });
        }
        places.sort_by_key(|p| p.adcode);
        let by_adcode: HashMap<u64, usize> = places.iter().enumerate().map(|(i, p)| (p.adcode, i)).collect();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in places.iter().enumerate() {
            if is_placeholder(&p.name) {
                continue;
            }
            by_name.entry(p.name.clone()).or_default().push(i);
            if p.short != p.name {
                by_name.entry(p.short.clone()).or_default().push(i);
            }
        }
        // A point belongs to the nearest district; cities without districts (东莞, 中山)
        // stand in for their own districts.
        let has_children: std::collections::HashSet<u64> =
            places.iter().filter(|p| p.level == Level::District).map(|p| p.adcode / 100_000_000).collect();
        let localities: Vec<usize> = places
            .iter()
            .enumerate()
            .filter(|(_, p)| p.lat.is_some() && p.lon.is_some() && !is_placeholder(&p.name))
            .filter(|(_, p)| {
                p.level == Level::District
                    || (p.level == Level::City && !has_children.contains(&(p.adcode / 100_000_000)))
            })
            .map(|(i, _)| i)
            .collect();
        let entries = localities
            .iter()
            .map(|&i| GeomWithData::new(unit_xyz(places[i].lat.unwrap_or(0.0), places[i].lon.unwrap_or(0.0)), i))
            .collect();
        Gazetteer { places, by_adcode, by_name, localities, districts: RTree::bulk_load(entries) }
    }

    /// The places a point can belong to: districts, and cities without districts.
    pub fn localities(&self) -> impl Iterator<Item = &Place> {
        self.localities.iter().map(|&i| &self.places[i])
    }

    pub fn places(&self) -> &[Place] {
        &self.places
    }

    pub fn get(&self, adcode: u64) -> Option<&Place> {
        self.by_adcode.get(&adcode).map(|&i| &self.places[i])
    }

    /// The province that contains an adcode.
    pub fn province_of(&self, adcode: u64) -> Option<&Place> {
        self.get(adcode / 10_000_000_000 * 10_000_000_000)
    }

    /// The city name of a place: its prefecture city, or its province for municipalities
    /// and for counties directly under a province.
    pub fn city_of(&self, adcode: u64) -> Option<&Place> {
        let city = self.get(adcode / 100_000_000 * 100_000_000);
        match city {
            Some(c) if !is_placeholder(&c.name) && c.level == Level::City => Some(c),
            _ => self.province_of(adcode),
        }
    }

    /// The nearest district to a point, with its city. Points far from China (over 300 km
    /// from any district) have no locality.
    pub fn locate(&self, lat: f64, lon: f64) -> Locality {
        let xyz = unit_xyz(lat, lon);
        let Some(hit) = self.districts.nearest_neighbor(&xyz) else {
            return Locality::default();
        };
        let place = &self.places[hit.data];
        let (plat, plon) = (place.lat.unwrap_or(0.0), place.lon.unwrap_or(0.0));
        if haversine_m(lat, lon, plat, plon) > 300_000.0 {
            return Locality::default();
        }
        let city = self.city_of(place.adcode).map(|c| c.name.clone());
        let district = (place.level == Level::District).then(|| place.name.clone());
        let city = city.or_else(|| Some(place.name.clone()));
        Locality { adcode: place.adcode, city, district }
    }

    /// The places a name may mean (海淀, 海淀区, 杭州, 广东省): all with that full or short name.
    pub fn resolve(&self, name: &str) -> Vec<&Place> {
        let name = name.trim();
        let mut hits: Vec<&Place> =
            self.by_name.get(name).map(|v| v.iter().map(|&i| &self.places[i]).collect()).unwrap_or_default();
        if hits.is_empty() {
            let short = short_name(name);
            if let Some(v) = self.by_name.get(&short) {
                hits = v.iter().map(|&i| &self.places[i]).collect();
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gazetteer() -> Gazetteer {
        Gazetteer::load(&crate::config::data_dir().join("adcodes.csv")).unwrap()
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // Tiananmen to the Bund, about 1,067 km.
        let d = haversine_m(39.9087, 116.3975, 31.2400, 121.4900);
        assert!((d - 1_067_000.0).abs() < 5_000.0, "{d}");
    }

    #[test]
    fn chord_order_is_great_circle_order() {
        let c = unit_xyz(39.9, 116.4);
        let near = unit_xyz(39.95, 116.4);
        let far = unit_xyz(40.5, 116.4);
        let d2 = |a: [f64; 3], b: [f64; 3]| (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>();
        assert!(d2(c, near) < d2(c, far));
        // The chord of an angle θ is 2 sin(θ/2).
        let angle = haversine_m(39.9, 116.4, 39.95, 116.4) / EARTH_RADIUS_M;
        assert!((d2(c, near).sqrt() - 2.0 * (angle / 2.0).sin()).abs() < 1e-12);
    }

    #[test]
    fn a_point_in_haidian_is_in_haidian_beijing() {
        let g = gazetteer();
        let l = g.locate(39.99, 116.30);
        assert_eq!(l.district.as_deref(), Some("海淀区"));
        assert_eq!(l.city.as_deref(), Some("北京市"));
        let l = g.locate(30.25, 120.16);
        assert_eq!(l.city.as_deref(), Some("杭州市"));
        assert_eq!(g.locate(48.85, 2.35), Locality::default());
    }

    #[test]
    fn place_names_resolve_in_full_and_short_forms() {
        let g = gazetteer();
        assert_eq!(g.resolve("海淀")[0].adcode, 110108000000);
        assert_eq!(g.resolve("海淀区")[0].adcode, 110108000000);
        assert!(g.resolve("杭州").iter().any(|p| p.adcode == 330100000000));
        assert_eq!(g.resolve("广东省")[0].level, Level::Province);
        assert!(g.resolve("不存在的地方").is_empty());
        let hz = g.resolve("杭州")[0].prefix();
        assert!(hz.contains(330106000000));
        assert!(!hz.contains(110108000000));
    }
}
