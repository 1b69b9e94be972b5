//! Memberships: who joins each group and when (friends of the owner, people of the city who share
//! the interest, a few from elsewhere), and who becomes an admin.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::Rng;

use super::geography::City;
use super::groups::GroupInfo;
use super::users::Users;
use super::vocab::Vocab;
use super::{pick, Clock, Stats, MAX_MEMBERSHIPS, SECS_PER_DAY};

/// Flat storage of all memberships, group by group, for the activity pass.
pub(super) struct Members {
    pub(super) start: Vec<usize>,
    pub(super) user: Vec<u32>,
    pub(super) joined: Vec<u32>,
    /// 0 member, 1 admin, 2 owner.
    pub(super) role: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn gen_members(
    rng: &mut StdRng,
    vocab: &Vocab,
    groups: &[GroupInfo],
    users: &Users,
    adj: &[Vec<u32>],
    cities: &[City],
    clock: &Clock,
    w: &mut dyn Write,
    line: &mut String,
    stats: &mut Stats,
) -> Result<Members> {
    let n = users.len();
    // `mark[u] == g + 1` means user u is already in group g: an O(1) duplicate check without
    // clearing a set for every group.
    let mut mark = vec![0u32; n];
    let mut count = vec![0u16; n];
    let mut all =
        Members { start: Vec::with_capacity(groups.len() + 1), user: Vec::new(), joined: Vec::new(), role: Vec::new() };
    let horizon = clock.today_start - 1;
    let mut list: Vec<(u32, i64, u8)> = Vec::new();
    let mut pending: Vec<(u32, i64)> = Vec::new();
    for (g, info) in groups.iter().enumerate() {
        let gid = g as u32 + 1;
        let city = &cities[info.city as usize];
        let created = info.created as i64;
        let span = (horizon - created).max(1) as f64;
        let target = info.target as usize;
        list.clear();
        pending.clear();
        let owner = info.owner;
        list.push((owner, created, 2));
        mark[owner as usize] = gid;
        count[owner as usize] = count[owner as usize].saturating_add(1);
        // The owner starts by inviting a few friends from the same city.
        for _ in 0..target.saturating_sub(1).min(3) {
            let f = *pick(rng, &adj[owner as usize]);
            if users.city[f as usize] == info.city {
                pending.push((f, created));
            }
        }
        let global_share = if vocab.categories[info.cat as usize].id == "hometown" { 0.35 } else { 0.12 };
        let mut attempts = 0;
        let max_attempts = target * 8 + 20;
        while list.len() < target && attempts < max_attempts {
            attempts += 1;
            let (cand, near) = if let Some((p, t)) = pending.pop() {
                (p, Some(t))
            } else {
                let r: f64 = rng.gen();
                let by_cat = &city.by_cat[info.cat as usize];
                let cand = if r < 0.7 && !by_cat.is_empty() {
                    *pick(rng, by_cat)
                } else if r < 1.0 - global_share && !city.users.is_empty() {
                    *pick(rng, &city.users)
                } else {
                    rng.gen_range(0..n) as u32
                };
                (cand, None)
            };
            let c = cand as usize;
            if mark[c] == gid {
                continue;
            }
            // Busy people are reluctant to join yet another group.
            let k = count[c];
            if k >= MAX_MEMBERSHIPS || (k >= 8 && !rng.gen_bool(0.3)) {
                continue;
            }
            // People without the interest, even friends who were asked along, often decline.
            if !users.has_interest(c, info.cat) && !rng.gen_bool(0.4) {
                continue;
            }
            // Most people join soon after a group is created; friends follow their inviter
            // within a few days.
            let joined = match near {
                Some(t) => t + rng.gen_range(60..3 * SECS_PER_DAY),
                None => created + (rng.gen::<f64>().powf(2.5) * span) as i64,
            }
            .clamp(created, horizon);
            mark[c] = gid;
            count[c] = k + 1;
            list.push((cand, joined, 0));
            // Friends join together.
            if rng.gen_bool(0.4) && !adj[c].is_empty() {
                for _ in 0..rng.gen_range(1..=2) {
                    let f = *pick(rng, &adj[c]);
                    if users.city[f as usize] == info.city && mark[f as usize] != gid {
                        pending.push((f, joined));
                    }
                }
            }
        }
        if list.len() >= info.capacity as usize {
            stats.full_groups += 1;
        }
        // A few admins: usually one or more in groups that need moderating, rarely in tiny ones.
        let len = list.len();
        let admins = if len >= 8 && rng.gen_bool(0.6) {
            (1 + len / 60).min(5)
        } else if len >= 3 && rng.gen_bool(0.15) {
            1
        } else {
            0
        };
        for _ in 0..admins {
            let i = rng.gen_range(1..len);
            list[i].2 = 1;
        }
        list[1..].sort_unstable_by_key(|&(u, t, _)| (t, u));

        all.start.push(all.user.len());
        for &(u, t, role) in &list {
            line.clear();
            write!(
                line,
                "{{\"type\":\"member\",\"group_id\":{},\"user_id\":{},\"role\":\"{}\",\"joined_at\":",
                gid,
                u + 1,
                match role {
                    2 => "owner",
                    1 => "admin",
                    _ => "member",
                }
            )?;
            clock.push(line, t)?;
            line.push_str("}\n");
            w.write_all(line.as_bytes())?;
            all.user.push(u);
            all.joined.push(t as u32);
            all.role.push(role);
            if role != 2 {
                stats.non_owner_members += 1;
                if users.city[u as usize] == info.city {
                    stats.same_city_members += 1;
                }
                if users.has_interest(u as usize, info.cat) {
                    stats.interest_members += 1;
                }
            }
        }
    }
    all.start.push(all.user.len());
    Ok(all)
}
