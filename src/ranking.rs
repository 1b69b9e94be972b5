//! The blended relevance score: text × quality × proximity, with weights from config, and
//! the explanation of a score (`explain=true`). Plain functions over plain numbers, so the
//! ranking can be tested and explained alone.
//!
//! A relevance list is ordered by one number, the rank key: `tier + blend / (1 + blend)`.
//! The tier is a whole number that says how well the group holds the query's words (see
//! `index/search.rs`); the fraction, below 1, orders groups within a tier by the blend.
//! So a better tier always comes first, and the key is what `explain.score` shows.

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::RankingWeights;
use crate::store::GroupRow;

/// The three inputs of the quality factor, each already weighted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityParts {
    pub messages: f32,
    pub active: f32,
    pub room: f32,
}

impl QualityParts {
    pub fn factor(&self) -> f32 {
        1.0 + self.messages + self.active + self.room
    }
}

/// The share of a group's capacity still free, in [0, 1].
pub fn room_share(g: &GroupRow) -> f32 {
    if g.capacity > 0 {
        (g.capacity - g.member_count).max(0) as f32 / g.capacity as f32
    } else {
        0.0
    }
}

/// The weighted inputs of the quality factor.
pub fn quality_parts(g: &GroupRow, w: &RankingWeights) -> QualityParts {
    let messages = (1.0 + g.yesterday_messages.max(0) as f32).ln();
    let active = (1.0 + g.active_members.max(0) as f32).ln();
    QualityParts { messages: w.messages * messages, active: w.active * active, room: w.room * room_share(g) }
}

/// Quality in [1, ~2]: activity and room left raise a group, never sink it to zero.
pub fn quality(g: &GroupRow, w: &RankingWeights) -> f32 {
    quality_parts(g, w).factor()
}

/// Proximity in [1 - w, 1]: a decay that halves every `half_distance_km`.
pub fn proximity(distance_m: Option<f64>, w: &RankingWeights) -> f32 {
    match distance_m {
        None => 1.0,
        Some(d) => {
            let half = w.half_distance_km.max(0.001) as f64;
            let decay = 0.5f64.powf(d / 1000.0 / half) as f32;
            1.0 - w.proximity + w.proximity * decay
        }
    }
}

/// The relevance of a text match, given the group's `quality`.
pub fn blend(text_score: f32, quality: f32, distance_m: Option<f64>, w: &RankingWeights) -> f32 {
    text_score.max(0.0) * quality * proximity(distance_m, w)
}

/// The number a relevance list is ordered by (highest first): the tier, then the blend
/// squeezed below 1, so no blend lifts a group over a better tier.
pub fn rank_key(tier: u32, blend: f32) -> f64 {
    let b = f64::from(blend.max(0.0));
    f64::from(tier) + b / (1.0 + b)
}

/// Why a result sits where it does: the number it was ordered by and the parts of it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Explain {
    /// The number the list was ordered by, highest first.
    pub score: f64,
    /// The parts of the score with their inputs and weights (text, quality, proximity,
    /// social proof, tier); README "Ranking, explained" gives the formula.
    pub parts: Value,
}

/// The quality factor with its inputs, for an explanation.
pub fn explain_quality(g: &GroupRow, w: &RankingWeights) -> Value {
    let p = quality_parts(g, w);
    json!({
        "factor": round(p.factor() as f64),
        "formula": "1 + messages + active + room",
        "messages": {"yesterday_messages": g.yesterday_messages, "weight": round(f64::from(w.messages)), "value": round(p.messages as f64)},
        "active": {"active_members": g.active_members, "weight": round(f64::from(w.active)), "value": round(p.active as f64)},
        "room": {
            "member_count": g.member_count,
            "capacity": g.capacity,
            "share_free": round(room_share(g) as f64),
            "weight": round(f64::from(w.room)),
            "value": round(p.room as f64),
        },
    })
}

/// The proximity factor with its inputs, for an explanation.
pub fn explain_proximity(distance_m: Option<f64>, w: &RankingWeights) -> Value {
    json!({
        "factor": round(proximity(distance_m, w) as f64),
        "formula": "1 - weight + weight * 0.5^(km / half_distance_km)",
        "distance_m": distance_m.map(|d| (d * 10.0).round() / 10.0),
        "half_distance_km": round(f64::from(w.half_distance_km)),
        "weight": round(f64::from(w.proximity)),
    })
}

/// The explanation of a nearby result ordered by `sort=blend`: quality × proximity.
pub fn explain_nearby(g: &GroupRow, quality: f32, distance_m: f64, w: &RankingWeights) -> Explain {
    let score = quality * proximity(Some(distance_m), w);
    Explain {
        score: f64::from(score),
        parts: json!({
            "formula": "quality * proximity",
            "quality": explain_quality(g, w),
            "proximity": explain_proximity(Some(distance_m), w),
        }),
    }
}

/// Six significant digits are plenty for a person reading an explanation.
pub fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(5 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn group(messages: i64, active: i64, members: i64) -> GroupRow {
        GroupRow { yesterday_messages: messages, active_members: active, member_count: members, ..GroupRow::sample(1) }
    }

    #[test]
    fn activity_raises_the_score_of_an_equal_text_match() {
        let w = RankingWeights::default();
        let (busy, quiet) = (quality(&group(100, 20, 50), &w), quality(&group(0, 0, 50), &w));
        assert!(blend(5.0, busy, None, &w) > blend(5.0, quiet, None, &w));
    }

    #[test]
    fn nearer_groups_score_higher() {
        let w = RankingWeights::default();
        let q = quality(&group(10, 3, 10), &w);
        assert!(blend(5.0, q, Some(500.0), &w) > blend(5.0, q, Some(20_000.0), &w));
        assert!(proximity(Some(1e9), &w) >= 1.0 - w.proximity - 1e-6);
    }

    /// Random weights within the ranges an operator would set, and random groups.
    fn weights(rng: &mut StdRng) -> RankingWeights {
        RankingWeights {
            messages: rng.gen_range(0.0..0.5),
            active: rng.gen_range(0.0..0.5),
            room: rng.gen_range(0.0..0.5),
            half_distance_km: rng.gen_range(0.1..50.0),
            proximity: rng.gen_range(0.0..1.0),
            ..RankingWeights::default()
        }
    }

    fn random_group(rng: &mut StdRng) -> GroupRow {
        let capacity = rng.gen_range(1..2000);
        GroupRow {
            capacity,
            member_count: rng.gen_range(1..=capacity),
            yesterday_messages: rng.gen_range(0..100_000),
            active_members: rng.gen_range(0..capacity),
            ..GroupRow::sample(rng.gen_range(1..1_000_000))
        }
    }

    /// The key of a group in a relevance list, everything but `g` and `distance_m` fixed.
    fn key(tier: u32, text: f32, g: &GroupRow, distance_m: Option<f64>, w: &RankingWeights) -> f64 {
        rank_key(tier, blend(text, quality(g, w), distance_m, w))
    }

    #[test]
    fn all_else_equal_a_more_active_group_never_ranks_lower() {
        let mut rng = StdRng::seed_from_u64(16);
        for _ in 0..20_000 {
            let w = weights(&mut rng);
            let g = random_group(&mut rng);
            let (tier, text) = (rng.gen_range(0..10), rng.gen_range(0.0..30.0));
            let distance = rng.gen_bool(0.5).then(|| rng.gen_range(0.0..100_000.0));
            let more_messages =
                GroupRow { yesterday_messages: g.yesterday_messages + rng.gen_range(1..500), ..g.clone() };
            let more_active = GroupRow { active_members: g.active_members + rng.gen_range(1..50), ..g.clone() };
            let base = key(tier, text, &g, distance, &w);
            assert!(key(tier, text, &more_messages, distance, &w) >= base, "{g:?} {w:?}");
            assert!(key(tier, text, &more_active, distance, &w) >= base, "{g:?} {w:?}");
            let q = quality(&g, &w);
            assert!(quality(&more_messages, &w) >= q && quality(&more_active, &w) >= q);
        }
    }

    #[test]
    fn all_else_equal_a_closer_group_never_ranks_lower() {
        let mut rng = StdRng::seed_from_u64(17);
        for _ in 0..20_000 {
            let w = weights(&mut rng);
            let g = random_group(&mut rng);
            let (tier, text) = (rng.gen_range(0..10), rng.gen_range(0.0..30.0));
            let far = rng.gen_range(0.0..200_000.0);
            let near = far * rng.gen_range(0.0..1.0);
            assert!(key(tier, text, &g, Some(near), &w) >= key(tier, text, &g, Some(far), &w), "{near} {far} {w:?}");
            // Nearby's blend, quality × proximity, likewise.
            let q = quality(&g, &w);
            assert!(q * proximity(Some(near), &w) >= q * proximity(Some(far), &w));
        }
    }

    #[test]
    fn all_else_equal_a_full_group_never_ranks_above_one_with_room() {
        let mut rng = StdRng::seed_from_u64(18);
        for _ in 0..20_000 {
            let w = weights(&mut rng);
            let with_room = random_group(&mut rng);
            let with_room = GroupRow { member_count: with_room.capacity - 1, ..with_room };
            let full = GroupRow { member_count: with_room.capacity, ..with_room.clone() };
            let (tier, text) = (rng.gen_range(0..10), rng.gen_range(0.0..30.0));
            let distance = rng.gen_bool(0.5).then(|| rng.gen_range(0.0..100_000.0));
            assert!(key(tier, text, &full, distance, &w) <= key(tier, text, &with_room, distance, &w));
        }
    }

    #[test]
    fn a_better_tier_always_ranks_first_and_the_key_orders_blends_within_a_tier() {
        let mut rng = StdRng::seed_from_u64(19);
        for _ in 0..20_000 {
            let tier = rng.gen_range(0..1000);
            let (a, b) = (rng.gen_range(0.0f32..1e6), rng.gen_range(0.0f32..1e6));
            assert!(rank_key(tier + 1, a) > rank_key(tier, b));
            if a > b {
                assert!(rank_key(tier, a) > rank_key(tier, b), "{a} {b}");
            }
        }
    }

    #[test]
    fn the_explained_quality_adds_up_to_the_factor_used() {
        let mut rng = StdRng::seed_from_u64(20);
        for _ in 0..1_000 {
            let w = weights(&mut rng);
            let g = random_group(&mut rng);
            let e = explain_quality(&g, &w);
            let sum = 1.0
                + e["messages"]["value"].as_f64().unwrap()
                + e["active"]["value"].as_f64().unwrap()
                + e["room"]["value"].as_f64().unwrap();
            assert!((sum - f64::from(quality(&g, &w))).abs() < 1e-3, "{e}");
        }
    }
}
