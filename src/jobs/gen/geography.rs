//! Geography: the cities and districts people live in, their short display names and the weights
//! of the home-district draw.

use std::collections::BTreeMap;

use super::vocab::{PlaceWords, Vocab};
use super::GenPlace;

pub(super) struct City {
    /// The short name used inside group names, kept to a few characters.
    pub(super) short: String,
    pub(super) users: Vec<u32>,
    /// Users of this city by interest, so members can be drawn from (city, category) in O(1).
    pub(super) by_cat: Vec<Vec<u32>>,
    pub(super) creators: Vec<u32>,
}

pub(super) struct Place {
    pub(super) city: u32,
    /// The district's short name used inside group names, kept to a few characters.
    pub(super) short: String,
    pub(super) users: Vec<u32>,
}

/// Cuts the ethnic part off a short name (大理白族 → 大理) when a stem of two or more
/// characters stays.
fn strip_ethnic<'a>(words: &PlaceWords, name: &'a str) -> &'a str {
    let mut cut = name.len();
    for e in &words.ethnic {
        if let Some(i) = name.find(e.as_str()) {
            if name[..i].chars().count() >= 2 && i < cut {
                cut = i;
            }
        }
    }
    &name[..cut]
}

/// Keeps a name short enough to sit inside a group name: ethnic parts are dropped, and names
/// still too long fall back to the given alternative or, failing that, to their first two
/// characters.
pub(super) fn display_short(words: &PlaceWords, short: &str, full: &str, fallback: Option<&str>) -> String {
    let short = strip_ethnic(words, short);
    let n = short.chars().count();
    if (2..=5).contains(&n) {
        return short.to_string();
    }
    if n < 2 && full.chars().count() <= 5 {
        return full.to_string();
    }
    if let Some(f) = fallback {
        return f.to_string();
    }
    short.chars().take(2).collect()
}

fn city_weight(words: &PlaceWords, adcode: u64) -> f64 {
    let p2 = adcode / 10_000_000_000;
    let p4 = adcode / 100_000_000;
    for c in &words.city_weights {
        let prefix = c.prefix;
        if (prefix < 100 && prefix == p2) || prefix == p4 {
            return c.weight;
        }
    }
    1.0
}

/// Urban districts hold more people than counties, which matters for the home-district draw.
fn district_factor(name: &str) -> f64 {
    if name.ends_with('区') {
        3.0
    } else if name.ends_with('市') {
        1.5
    } else {
        1.0
    }
}

/// The well-known areas of the district `adcode`, if it has any.
pub(super) fn landmarks_of(words: &PlaceWords, adcode: u64) -> Option<&[String]> {
    let key = adcode / 1_000_000;
    words.landmarks.iter().find(|l| l.prefix == key).map(|l| l.names.as_slice())
}

/// The places (in the given adcode order) and their cities, with each place's weight in the
/// home-district draw.
pub(super) fn build_geography(vocab: &Vocab, order: &[&GenPlace]) -> (Vec<Place>, Vec<City>, Vec<f64>) {
    let words = &vocab.places;
    let mut city_index: BTreeMap<&str, u32> = BTreeMap::new();
    let mut cities: Vec<City> = Vec::new();
    let mut places = Vec::with_capacity(order.len());
    for p in order {
        let next = cities.len() as u32;
        let ci = *city_index.entry(p.city.as_str()).or_insert(next);
        if ci == next {
            cities.push(City {
                short: display_short(words, &p.city_short, &p.city, None),
                users: Vec::new(),
                by_cat: vec![Vec::new(); vocab.categories.len()],
                creators: Vec::new(),
            });
        }
        places.push(Place { city: ci, short: String::new(), users: Vec::new() });
    }
    for (i, p) in order.iter().enumerate() {
        let city_short = cities[places[i].city as usize].short.clone();
        places[i].short = display_short(words, &p.short, &p.district, Some(&city_short));
    }
    // A city's weight is shared among its districts in proportion to how urban they are.
    let mut factor_sum = vec![0.0f64; cities.len()];
    for (i, p) in order.iter().enumerate() {
        factor_sum[places[i].city as usize] += district_factor(&p.district);
    }
    let weights = order
        .iter()
        .enumerate()
        .map(|(i, p)| city_weight(words, p.adcode) * district_factor(&p.district) / factor_sum[places[i].city as usize])
        .collect();
    (places, cities, weights)
}
