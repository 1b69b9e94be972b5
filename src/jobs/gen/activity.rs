//! Chat activity: per-(group, member, day) message counts over the last days.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::Rng;

use super::groups::GroupInfo;
use super::members::Members;
use super::{lognormal, Clock, ACTIVITY_DAYS, SECS_PER_DAY};

/// Per-(group, member, day) message counts for the last `ACTIVITY_DAYS` days. Each group gets an
/// activity level (about one in seven is silent, and small quiet groups often say nothing in the window), bigger groups are livelier per member, owners and
/// admins talk more, and the whole thing is scaled so that the expected line count meets
/// `target`. `hour_weights` is the relative chance of a message at each hour of the day.
#[allow(clippy::too_many_arguments)]
pub(super) fn gen_activity(
    rng: &mut StdRng,
    hour_weights: &[f64; 24],
    groups: &[GroupInfo],
    members: &Members,
    target: f64,
    clock: &Clock,
    w: &mut dyn Write,
    line: &mut String,
) -> Result<u64> {
    let hour_dist = WeightedIndex::new(hour_weights)?;
    let mut levels = Vec::with_capacity(groups.len());
    let mut expected = 0.0f64;
    for g in 0..groups.len() {
        let (a, b) = (members.start[g], members.start[g + 1]);
        let size = (b - a) as f64;
        let level = if rng.gen_bool(0.15) { 0.0 } else { lognormal(rng, 1.0, 1.0) * size.powf(0.3) };
        let weight: f64 = members.role[a..b].iter().map(|&r| role_boost(r)).sum();
        expected += level * weight * ACTIVITY_DAYS as f64;
        levels.push(level);
    }
    if expected <= 0.0 || target <= 0.0 {
        return Ok(0);
    }
    let scale = target / expected;
    let first_day = clock.today_start / SECS_PER_DAY - (ACTIVITY_DAYS - 1);
    let mut lines = 0u64;
    for (g, &level) in levels.iter().enumerate() {
        if level == 0.0 {
            continue;
        }
        for m in members.start[g]..members.start[g + 1] {
            // Some members are chatty and most lurk; the factor has mean one.
            let trait_factor = lognormal(rng, (-0.5f64).exp(), 1.0);
            let p = (scale * level * role_boost(members.role[m]) * trait_factor).min(0.95);
            if p < 1e-6 {
                continue;
            }
            let joined = members.joined[m] as i64;
            for day in first_day..first_day + ACTIVITY_DAYS {
                if !rng.gen_bool(p) {
                    continue;
                }
                let day_start = day * SECS_PER_DAY;
                let mut t = day_start + hour_dist.sample(rng) as i64 * 3600 + rng.gen_range(0..3600);
                if t < joined {
                    if joined >= day_start + SECS_PER_DAY - 1 {
                        continue;
                    }
                    t = rng.gen_range(joined..day_start + SECS_PER_DAY);
                }
                let u: f64 = rng.gen_range(f64::EPSILON..1.0);
                let messages = (u.powf(-1.0 / 1.2).floor() as u32).clamp(1, 50);
                line.clear();
                write!(
                    line,
                    "{{\"type\":\"activity\",\"group_id\":{},\"user_id\":{},\"at\":",
                    g + 1,
                    members.user[m] + 1
                )?;
                clock.push(line, t)?;
                writeln!(line, ",\"messages\":{messages}}}")?;
                w.write_all(line.as_bytes())?;
                lines += 1;
            }
        }
    }
    Ok(lines)
}

fn role_boost(role: u8) -> f64 {
    match role {
        2 => 3.0,
        1 => 2.0,
        _ => 1.0,
    }
}
