//! The blended relevance score: text × quality × proximity, with weights from config.
//! Plain functions over plain numbers, so the ranking can be tested and explained alone.

use crate::config::RankingWeights;
use crate::store::GroupRow;

/// Quality in [1, ~2]: activity and room left raise a group, never sink it to zero.
pub fn quality(g: &GroupRow, w: &RankingWeights) -> f32 {
    let messages = (1.0 + g.yesterday_messages.max(0) as f32).ln();
    let active = (1.0 + g.active_members.max(0) as f32).ln();
    let room = if g.capacity > 0 { (g.capacity - g.member_count).max(0) as f32 / g.capacity as f32 } else { 0.0 };
    1.0 + w.messages * messages + w.active * active + w.room * room
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

#[cfg(test)]
mod tests {
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
}
