//! Recommendations ("groups you may like"): candidates from friends' groups, the user's
//! favourite categories and active groups nearby, merged, scored, diversified, and each
//! explained by the reasons that scored it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::domain::CategoryList;
use crate::geo::haversine_m;
use crate::index::catalog::Catalog;
use crate::ranking::{round, Explain};
use crate::store::{groups, members, users, Db, DbResult, GroupRow};

/// What the recommender knows about the user, read from the store.
#[derive(Debug, Default, Clone)]
pub struct Profile {
    /// Groups the user is in or has applied to: never recommended.
    pub excluded: Vec<i64>,
    /// Groups of mutual friends, with how many friends are inside.
    pub friends_groups: Vec<(i64, i64)>,
    /// How many of the user's groups fall in each category.
    pub categories: HashMap<String, u32>,
    /// The centre of the user's located groups, when no location is given.
    pub home: Option<(f64, f64)>,
}

pub fn load_profile(db: &Db<'_>, user_id: i64) -> DbResult<Profile> {
    let joined = groups::joined_by(db, user_id, true)?;
    let mut categories = HashMap::new();
    let (mut lat, mut lon, mut n) = (0.0, 0.0, 0.0);
    for g in &joined {
        *categories.entry(g.category.clone()).or_insert(0) += 1;
        if let Some((a, b)) = g.location() {
            lat += a;
            lon += b;
            n += 1.0;
        }
    }
    Ok(Profile {
        excluded: members::related_group_ids(db, user_id)?,
        friends_groups: users::friends_groups(db, user_id, 300)?,
        categories,
        home: (n > 0.0).then(|| (lat / n, lon / n)),
    })
}

/// A recommended group with its reasons.
#[derive(Debug, Clone)]
pub struct Recommendation {
    pub group: Arc<GroupRow>,
    pub distance_m: Option<f64>,
    pub reasons: Vec<String>,
    pub score: f64,
    /// The parts of `score` and where diversity moved the group (`explain=true`).
    pub explain: Explain,
}

/// How far "near" reaches for candidates.
const NEAR_M: f64 = 10_000.0;
/// How far category-affinity candidates may be.
const AFFINITY_M: f64 = 30_000.0;
/// At most this many from one category in the first ten.
const PER_CATEGORY: usize = 3;

fn distance_text(d: f64) -> String {
    if d < 1000.0 {
        format!("距你{}m", (d / 10.0).round() as i64 * 10)
    } else {
        format!("距你{:.1}km", d / 1000.0)
    }
}

/// How many of the nearest groups are considered around the user.
const NEAREST_CANDIDATES: usize = 3_000;

/// A scored candidate before its row is fetched.
struct Scored {
    id: i64,
    category: u8,
    distance_m: Option<f64>,
    reasons: Vec<String>,
    score: f64,
    parts: Value,
}

/// Scores and explains the candidates; `origin` is the given location or the user's home.
pub fn recommend(
    catalog: &Catalog,
    categories: &CategoryList,
    profile: &Profile,
    origin: Option<(f64, f64)>,
    limit: usize,
) -> Vec<Recommendation> {
    let center = origin.or(profile.home);
    let excluded: HashSet<i64> = profile.excluded.iter().copied().collect();
    // A group listed for review is found by search, but not recommended (SPEC §7).
    let eligible = |id: i64| catalog.hot(id).filter(|h| h.has_room && !h.review && !excluded.contains(&id));
    let liked: HashMap<u8, u32> = profile.categories.iter().map(|(c, n)| (catalog.category_index(c), *n)).collect();
    let total_joined: u32 = liked.values().sum();
    // Candidate id → (friends inside, distance).
    let mut candidates: HashMap<i64, (i64, Option<f64>)> = HashMap::new();
    for &(id, friends) in &profile.friends_groups {
        if eligible(id).is_some() {
            candidates.insert(id, (friends, None));
        }
    }
    if let Some(c) = center {
        let reach = if liked.is_empty() { NEAR_M } else { AFFINITY_M };
        let near = catalog.nearest(c, reach, NEAREST_CANDIDATES);
        for (d, id) in near {
            if let Some(h) = eligible(id) {
                if d <= NEAR_M || liked.contains_key(&h.category) {
                    candidates.entry(id).or_insert((0, None)).1 = Some(d);
                }
            }
        }
    }
    let mut scored: Vec<Scored> = candidates
        .into_iter()
        .filter_map(|(id, (friends, near))| {
            let h = eligible(id)?;
            let distance = near.or_else(|| {
                let (lat, lon) = center?;
                h.located.then(|| haversine_m(lat, lon, h.lat, h.lon))
            });
            let mut reasons = Vec::new();
            let social = if friends > 0 {
                reasons.push(format!("{friends}位好友在群"));
                3.0 * (1.0 + friends as f64).ln() + 1.0
            } else {
                0.0
            };
            let affinity = liked.get(&h.category).copied().unwrap_or(0);
            let interest = if affinity > 0 && total_joined > 0 {
                let id_str = catalog.categories().get(h.category as usize).map(String::as_str).unwrap_or("");
                reasons.push(format!("你常逛{}", categories.label(id_str)));
                2.0 * f64::from(affinity) / f64::from(total_joined) + 0.5
            } else {
                0.0
            };
            let proximity = match distance {
                Some(d) if d <= NEAR_M => {
                    reasons.push(distance_text(d));
                    1.5 * 0.5f64.powf(d / 3000.0)
                }
                _ => 0.0,
            };
            let activity =
                (1.0 + h.yesterday_messages as f64).ln() * 0.15 + (1.0 + h.active_members as f64).ln() * 0.25;
            let score = social + interest + proximity + activity;
            let parts = json!({
                "formula": "social + interest + proximity + activity",
                "social": {"friends_in_group": friends, "formula": "3 ln(1 + friends) + 1 when any", "value": round(social)},
                "interest": {
                    "joined_in_category": affinity,
                    "joined": total_joined,
                    "formula": "2 * joined_in_category / joined + 0.5 when any",
                    "value": round(interest),
                },
                "proximity": {
                    "distance_m": distance.map(|d| (d * 10.0).round() / 10.0),
                    "formula": "1.5 * 0.5^(m / 3000) within 10 km",
                    "value": round(proximity),
                },
                "activity": {
                    "yesterday_messages": h.yesterday_messages,
                    "active_members": h.active_members,
                    "formula": "0.15 ln(1 + messages) + 0.25 ln(1 + active)",
                    "value": round(activity),
                },
            });
            if h.active_members >= 5 || h.yesterday_messages >= 50 {
                reasons.push(format!("{}人活跃", h.active_members));
            }
            if reasons.is_empty() {
                reasons.push("热门群聊".to_string());
            }
            Some(Scored { id, category: h.category, distance_m: distance, reasons, score, parts })
        })
        .collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    diversify(scored, limit)
        .into_iter()
        .filter_map(|s| {
            let group = catalog.get(s.id)?.clone();
            let explain = Explain { score: s.score, parts: s.parts };
            Some(Recommendation { group, distance_m: s.distance_m, reasons: s.reasons, score: s.score, explain })
        })
        .collect()
}

/// Keeps at most `PER_CATEGORY` of one category among the first ten, moving the rest down.
fn diversify(sorted: Vec<Scored>, limit: usize) -> Vec<Scored> {
    let mut out = Vec::with_capacity(limit);
    let mut deferred = Vec::new();
    let mut per_category: HashMap<u8, usize> = HashMap::new();
    for r in sorted {
        if out.len() >= limit {
            break;
        }
        let n = per_category.entry(r.category).or_default();
        if out.len() < 10 && *n >= PER_CATEGORY {
            deferred.push(r);
            continue;
        }
        *n += 1;
        out.push(r);
    }
    // Deferred groups may only fill places after the first ten.
    for mut r in deferred {
        if out.len() >= limit || out.len() < 10 {
            break;
        }
        r.parts["diversity"] = json!(format!(
            "moved below the first ten: {PER_CATEGORY} of its category rank above it there, so it comes after \
             higher scores"
        ));
        out.push(r);
    }
    out
}
