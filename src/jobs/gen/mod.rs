//! Synthetic world generator: builds a deterministic, realistic-looking population of users, follows, groups, memberships and chat activity for groupscout and writes it as import-format JSON Lines.
//!
//! The world is shaped for three consumers at once: the demo (plausible Chinese names and places),
//! the benchmarks (linear time and memory, about 25 lines per group at most) and the offline
//! recommendation evaluation (people live in cities, have interests and friends, and join groups
//! that match all three, so a recommender has real signal to find).
//!
//! Everything is drawn from one seeded `StdRng`, and every collection that feeds the output is a
//! `Vec` or a `BTreeMap`, so the same `(seed, today, places)` always gives byte-identical output.
//!
//! Layout: this module holds the options, the tunables and the driver, which writes the lines
//! in stages, each drawing from the one `rng` in turn: [`geography`] (cities and districts),
//! [`users`] (users, nicknames, friends and one-way follows), [`groups`], [`members`] and
//! [`activity`]. [`text`] expands templates and writes JSON strings, and [`vocab`] holds the
//! word lists and weights of `data/gen/*.toml`, compiled in.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};

use anyhow::{bail, Result};
use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod activity;
mod geography;
mod groups;
mod members;
#[cfg(test)]
mod tests;
mod text;
mod users;
mod vocab;

use activity::gen_activity;
use geography::build_geography;
use groups::{gen_groups, GroupCtx};
use members::gen_members;
use users::{gen_friends, gen_oneway, gen_users};

/// One district-level place from the gazetteer, with its city name (for a municipality the city is the province name, e.g. 北京市).
#[derive(Debug, Clone)]
pub struct GenPlace {
    pub adcode: u64,        // 12-digit adcode, e.g. 110108000000
    pub district: String,   // full name, e.g. "海淀区"
    pub short: String,      // the name without its suffix (区/县/市/旗), e.g. "海淀"
    pub city: String,       // e.g. "北京市"
    pub city_short: String, // e.g. "北京"
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub groups: usize,
    pub seed: u64,
    pub today: chrono::NaiveDate, /* today in the service timezone */
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub users: u64,
    pub follows: u64,
    pub groups: u64,
    pub members: u64,
    pub activity: u64,
}

/// Generates the whole world for `places` and writes it to `out` as JSON Lines.
pub fn generate_world(places: &[GenPlace], opts: &GenOptions, out: &mut dyn Write) -> Result<GenSummary> {
    generate_with_stats(places, opts, out).map(|(summary, _)| summary)
}

// ---------------------------------------------------------------------------------------------
// Tunables. They are gathered here because they jointly decide the line budget: with about two
// users per group, ~4.5 mutual friends per user and ~9 members per group, users + follows +
// groups + members come to roughly 21 lines per group, which leaves room for ~3 activity lines
// per group under the 25-lines-per-group ceiling that keeps a million groups importable.
// ---------------------------------------------------------------------------------------------

const USERS_PER_GROUP: usize = 2;
const SECS_PER_DAY: i64 = 86_400;
/// Timestamps are kept as seconds since local midnight `BASE_DAYS` before today, so they fit in
/// a `u32` and can be formatted without calendar arithmetic on the hot path.
const BASE_DAYS: i64 = 800;
const HISTORY_DAYS: i64 = 730;
const ACTIVITY_DAYS: i64 = 9;
const MAX_DEGREE: usize = 150;
const NORMAL_CAPACITY: usize = 200;
const CREATOR_CAPACITY: usize = 1000;
const NORMAL_MAX_OWNED: u8 = 4;
const CREATOR_MAX_OWNED: u8 = 20;
/// A user already in this many groups is never added to another one, which keeps the
/// per-user membership count in "a handful" territory even in small cities.
const MAX_MEMBERSHIPS: u16 = 30;
const LINE_BUDGET_PER_GROUP: f64 = 24.5;
const ACTIVITY_TARGET_PER_GROUP: f64 = 3.0;

/// Internal counters that the tests use to check properties not visible in the output, such as
/// the home city of members.
#[derive(Debug, Default, Clone)]
struct Stats {
    mutual_edges: u64,
    same_city_edges: u64,
    non_owner_members: u64,
    same_city_members: u64,
    interest_members: u64,
    full_groups: u64,
}

struct Clock {
    /// `YYYY-MM-DD` for every day from the base day to today.
    dates: Vec<String>,
    /// Seconds from the base to local midnight of today.
    today_start: i64,
}

impl Clock {
    fn new(today: NaiveDate) -> Clock {
        let base = today - Duration::days(BASE_DAYS);
        let mut dates = Vec::with_capacity(BASE_DAYS as usize + 1);
        for i in 0..=BASE_DAYS {
            let d = base + Duration::days(i);
            dates.push(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()));
        }
        Clock { dates, today_start: BASE_DAYS * SECS_PER_DAY }
    }

    /// Appends an RFC 3339 timestamp in the service timezone (+08:00).
    fn push(&self, buf: &mut String, t: i64) -> Result<()> {
        let day = (t / SECS_PER_DAY) as usize;
        let s = t % SECS_PER_DAY;
        buf.push('"');
        buf.push_str(&self.dates[day]);
        write!(buf, "T{:02}:{:02}:{:02}+08:00\"", s / 3600, (s / 60) % 60, s % 60)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Random helpers.
// ---------------------------------------------------------------------------------------------

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn pick_str<'a>(rng: &mut StdRng, items: &'a [String]) -> &'a str {
    &items[rng.gen_range(0..items.len())]
}

/// A standard normal deviate (Box–Muller), so no extra distribution crate is needed.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

// ---------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------

fn generate_with_stats(places_in: &[GenPlace], opts: &GenOptions, out: &mut dyn Write) -> Result<(GenSummary, Stats)> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let mut summary = GenSummary::default();
    let mut stats = Stats::default();
    if opts.groups == 0 {
        return Ok((summary, stats));
    }
    if places_in.is_empty() {
        bail!("generate_world needs at least one place");
    }
    let vocab = vocab::vocab()?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let clock = Clock::new(opts.today);

    // Work on places sorted by adcode so that the output does not depend on the caller's order.
    let mut order: Vec<&GenPlace> = places_in.iter().collect();
    order.sort_by_key(|p| p.adcode);
    let (mut places, mut cities, place_weights) = build_geography(vocab, &order);

    let n_users = opts.groups * USERS_PER_GROUP;
    if n_users >= u32::MAX as usize {
        bail!("too many groups requested");
    }
    let mut line = String::with_capacity(2048);

    // ---- Users ------------------------------------------------------------------------------
    let users = gen_users(&mut rng, vocab, n_users, &place_weights, &mut places, &mut cities, &mut w, &mut line)?;
    summary.users = n_users as u64;

    // ---- Follows ----------------------------------------------------------------------------
    let adj = gen_friends(&mut rng, &users, &places, &cities);
    let oneway = gen_oneway(&mut rng, &users, &cities, &adj);
    for u in 0..n_users {
        let mut targets: Vec<u32> = adj[u].iter().chain(oneway[u].iter()).copied().collect();
        targets.sort_unstable();
        for v in targets {
            line.clear();
            writeln!(line, "{{\"type\":\"follow\",\"from\":{},\"to\":{}}}", u + 1, v + 1)?;
            w.write_all(line.as_bytes())?;
            summary.follows += 1;
        }
        for &v in &adj[u] {
            if (u as u32) < v {
                stats.mutual_edges += 1;
                if users.city[u] == users.city[v as usize] {
                    stats.same_city_edges += 1;
                }
            }
        }
    }
    drop(oneway);

    // ---- Groups -----------------------------------------------------------------------------
    let groups = gen_groups(
        &mut rng,
        opts.groups,
        &users,
        &adj,
        GroupCtx { vocab, gazetteer: &order, places: &places, cities: &cities, clock: &clock },
        &mut w,
        &mut line,
    )?;
    summary.groups = groups.len() as u64;

    // ---- Members ----------------------------------------------------------------------------
    let members = gen_members(&mut rng, vocab, &groups, &users, &adj, &cities, &clock, &mut w, &mut line, &mut stats)?;
    summary.members = members.user.len() as u64;
    drop(adj);

    // ---- Activity ---------------------------------------------------------------------------
    let so_far = summary.users + summary.follows + summary.groups + summary.members;
    let budget = LINE_BUDGET_PER_GROUP * opts.groups as f64 - so_far as f64;
    let target = (ACTIVITY_TARGET_PER_GROUP * opts.groups as f64).min(budget.max(0.0));
    summary.activity =
        gen_activity(&mut rng, &vocab.hour_weights, &groups, &members, target, &clock, &mut w, &mut line)?;

    w.flush()?;
    Ok((summary, stats))
}
