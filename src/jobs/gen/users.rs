//! Users and follows: who people are (home district, gender, interests, age, nickname), the
//! mutual-friend graph and one-way follows.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::Rng;

use super::geography::{City, Place};
use super::text::push_json_str;
use super::vocab::{NameWords, Vocab};
use super::{lognormal, normal, pick, pick_str, MAX_DEGREE};

#[derive(Default)]
pub(super) struct Users {
    pub(super) place: Vec<u32>,
    pub(super) city: Vec<u32>,
    pub(super) cats: Vec<[u8; 3]>,
    pub(super) ncats: Vec<u8>,
    pub(super) creator: Vec<bool>,
}

impl Users {
    pub(super) fn len(&self) -> usize {
        self.place.len()
    }

    pub(super) fn has_interest(&self, u: usize, cat: u8) -> bool {
        self.cats[u][..self.ncats[u] as usize].contains(&cat)
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn gen_users(
    rng: &mut StdRng,
    vocab: &Vocab,
    n: usize,
    place_weights: &[f64],
    places: &mut [Place],
    cities: &mut [City],
    w: &mut dyn Write,
    line: &mut String,
) -> Result<Users> {
    let place_dist = WeightedIndex::new(place_weights)?;
    // Interests lean on gender a little (parenting and beauty female, cars and gaming male),
    // which gives the recommender a realistic correlation to pick up.
    let female = WeightedIndex::new(vocab.categories.iter().map(|c| c.weight * c.female))?;
    let male = WeightedIndex::new(vocab.categories.iter().map(|c| c.weight * c.male))?;
    let neutral = WeightedIndex::new(vocab.categories.iter().map(|c| c.weight))?;
    let mut users = Users::default();
    for u in 0..n {
        let place = place_dist.sample(rng);
        let city = places[place].city as usize;
        let r: f64 = rng.gen();
        let (gender, dist) = if r < 0.04 {
            ("unknown", &neutral)
        } else if r < 0.52 {
            ("female", &female)
        } else {
            ("male", &male)
        };
        let ncats = match rng.gen_range(0..10) {
            0..=3 => 1,
            4..=7 => 2,
            _ => 3,
        };
        let mut cats = [0u8; 3];
        let mut k = 0;
        while k < ncats {
            let c = dist.sample(rng) as u8;
            if !cats[..k].contains(&c) {
                cats[k] = c;
                k += 1;
            }
        }
        let birth_year = if rng.gen_bool(0.05) {
            None
        } else {
            let mut y;
            loop {
                y = (1995.0 + 8.5 * normal(rng)).round() as i32;
                if (1960..=2008).contains(&y) {
                    break;
                }
            }
            Some(y)
        };
        let creator = rng.gen_bool(0.01);
        let nickname = nickname(rng, &vocab.names, birth_year, creator);
        let show = rng.gen_bool(0.88);

        line.clear();
        write!(line, "{{\"type\":\"user\",\"id\":{},\"nickname\":", u + 1)?;
        push_json_str(line, &nickname)?;
        write!(line, ",\"gender\":\"{gender}\"")?;
        if let Some(y) = birth_year {
            write!(line, ",\"birth_year\":{y}")?;
        }
        writeln!(
            line,
            ",\"tier\":\"{}\",\"show_joined_groups\":{}}}",
            if creator { "creator" } else { "normal" },
            show
        )?;
        w.write_all(line.as_bytes())?;

        let id = u as u32;
        places[place].users.push(id);
        cities[city].users.push(id);
        for &c in &cats[..ncats] {
            cities[city].by_cat[c as usize].push(id);
        }
        if creator {
            cities[city].creators.push(id);
        }
        users.place.push(place as u32);
        users.city.push(city as u32);
        users.cats.push(cats);
        users.ncats.push(ncats as u8);
        users.creator.push(creator);
    }
    Ok(users)
}

fn nickname(rng: &mut StdRng, words: &NameWords, birth_year: Option<i32>, creator: bool) -> String {
    let mut s = String::new();
    let r = rng.gen_range(0..100);
    match r {
        0..=24 => {
            s.push_str(pick_str(rng, &words.nick_prefixes));
            s.push_str(pick_str(rng, &words.nick_chars));
            if rng.gen_bool(0.15) {
                s.push('儿');
            }
        }
        25..=59 => {
            // A little decoration keeps common words from producing too many identical names.
            match rng.gen_range(0..12) {
                0 => s.push('是'),
                1 => s.push_str("我是"),
                _ => {}
            }
            s.push_str(pick_str(rng, &words.nick_words));
            match rng.gen_range(0..12) {
                0 => s.push('呀'),
                1 => s.push('~'),
                2 => s.push('酱'),
                3 => s.push('吖'),
                _ => {}
            }
        }
        60..=72 => {
            s.push_str(pick_str(rng, &words.surnames));
            s.push_str(pick_str(rng, &words.surname_suffixes));
        }
        73..=81 => s.push_str(pick_str(rng, &words.given_names)),
        _ => match rng.gen_range(0..4) {
            0 => {
                s.push_str(pick_str(rng, &words.latin_names));
                s.push('_');
                s.push_str(&rng.gen_range(1..100).to_string());
            }
            1 => {
                s.push_str(pick_str(rng, &words.nick_words));
                let y = birth_year.unwrap_or_else(|| rng.gen_range(1985..2010));
                s.push_str(&y.to_string());
            }
            2 => {
                s.push_str(pick_str(rng, &words.latin_names));
                s.push_str(pick_str(rng, &words.latin_suffixes));
            }
            _ => s.push_str(pick_str(rng, &words.latin_names)),
        },
    }
    if creator && rng.gen_bool(0.6) {
        s.push_str(pick_str(rng, &words.creator_suffixes));
    }
    s
}

/// Tries to add a mutual friendship; refuses self-loops, duplicates and hubs past `MAX_DEGREE`.
fn add_edge(adj: &mut [Vec<u32>], u: u32, v: u32) -> bool {
    let (ui, vi) = (u as usize, v as usize);
    if u == v || adj[ui].len() >= MAX_DEGREE || adj[vi].len() >= MAX_DEGREE || adj[ui].contains(&v) {
        return false;
    }
    adj[ui].push(v);
    adj[vi].push(u);
    true
}

/// Builds the mutual-follow graph: mostly neighbours (same district or city, sometimes with a
/// shared interest), some long-distance ties, then a round of triadic closure so that friends of
/// friends become friends, as real social graphs cluster.
pub(super) fn gen_friends(rng: &mut StdRng, users: &Users, places: &[Place], cities: &[City]) -> Vec<Vec<u32>> {
    let n = users.len();
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); n];
    for u in 0..n {
        let mut k = lognormal(rng, 1.15, 0.8).round() as usize;
        if users.creator[u] {
            k *= 3;
        }
        let city = &cities[users.city[u] as usize];
        for _ in 0..k.min(40) {
            for _attempt in 0..3 {
                let r: f64 = rng.gen();
                let bucket: &[u32] = if r < 0.35 {
                    &places[users.place[u] as usize].users
                } else if r < 0.55 {
                    let c = users.cats[u][rng.gen_range(0..users.ncats[u] as usize)];
                    &city.by_cat[c as usize]
                } else if r < 0.87 {
                    &city.users
                } else {
                    &[]
                };
                let v = if bucket.len() > 1 { *pick(rng, bucket) } else { rng.gen_range(0..n) as u32 };
                if add_edge(&mut adj, u as u32, v) {
                    break;
                }
            }
        }
    }
    for u in 0..n {
        let tries = usize::from(rng.gen_bool(0.55));
        for _ in 0..tries {
            if adj[u].is_empty() {
                break;
            }
            let f = *pick(rng, &adj[u]) as usize;
            let v = *pick(rng, &adj[f]);
            add_edge(&mut adj, u as u32, v);
        }
    }
    for list in &mut adj {
        list.sort_unstable();
    }
    adj
}

/// One-way follows: mostly fans following creators, plus some people following a neighbour who
/// has not followed back.
pub(super) fn gen_oneway(rng: &mut StdRng, users: &Users, cities: &[City], adj: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let n = users.len();
    let all_creators: Vec<u32> = (0..n as u32).filter(|&u| users.creator[u as usize]).collect();
    let mut oneway: Vec<Vec<u32>> = vec![Vec::new(); n];
    for u in 0..n {
        if !rng.gen_bool(0.3) {
            continue;
        }
        let k = if rng.gen_bool(0.75) { 1 } else { 2 };
        let city = &cities[users.city[u] as usize];
        for _ in 0..k {
            let v = if !all_creators.is_empty() && rng.gen_bool(0.6) {
                if !city.creators.is_empty() && rng.gen_bool(0.5) {
                    *pick(rng, &city.creators)
                } else {
                    *pick(rng, &all_creators)
                }
            } else if city.users.len() > 1 {
                *pick(rng, &city.users)
            } else {
                rng.gen_range(0..n) as u32
            };
            if v as usize != u && adj[u].binary_search(&v).is_err() && !oneway[u].contains(&v) {
                oneway[u].push(v);
            }
        }
    }
    oneway
}
