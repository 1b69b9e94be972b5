//! Groups: owner, category, name, description, announcement, location, settings, creation time
//! and the size each group will grow to.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{bail, Result};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::Rng;

use super::geography::{landmarks_of, City, Place};
use super::text::{expand, push_json_str, Fill};
use super::users::Users;
use super::vocab::Vocab;
use super::{
    lognormal, pick, pick_str, Clock, GenPlace, CREATOR_CAPACITY, CREATOR_MAX_OWNED, HISTORY_DAYS, NORMAL_CAPACITY,
    NORMAL_MAX_OWNED, SECS_PER_DAY,
};

pub(super) struct GroupInfo {
    pub(super) owner: u32,
    pub(super) city: u32,
    pub(super) cat: u8,
    pub(super) capacity: u16,
    pub(super) created: u32,
    pub(super) target: u32,
}

pub(super) struct GroupCtx<'a> {
    pub(super) vocab: &'a Vocab,
    pub(super) gazetteer: &'a [&'a GenPlace],
    pub(super) places: &'a [Place],
    pub(super) cities: &'a [City],
    pub(super) clock: &'a Clock,
}

pub(super) fn gen_groups(
    rng: &mut StdRng,
    count: usize,
    users: &Users,
    adj: &[Vec<u32>],
    ctx: GroupCtx,
    w: &mut dyn Write,
    line: &mut String,
) -> Result<Vec<GroupInfo>> {
    let vocab = ctx.vocab;
    let n = users.len();
    let creators: Vec<u32> =
        (0..n as u32).filter(|&u| users.creator[u as usize] && !adj[u as usize].is_empty()).collect();
    let cat_dist = WeightedIndex::new(vocab.categories.iter().map(|c| c.weight))?;
    let hour_dist = WeightedIndex::new(vocab.hour_weights)?;
    let mut owned = vec![0u8; n];
    let limit = |u: usize| {
        if users.creator[u] {
            CREATOR_MAX_OWNED
        } else {
            NORMAL_MAX_OWNED
        }
    };
    // The cursor lets a fallback scan find an eligible owner in amortised O(1) when random
    // draws keep failing, which only happens in tiny worlds.
    let mut cursor = 0usize;
    let mut groups = Vec::with_capacity(count);
    let mut name = String::new();
    for g in 0..count {
        let want_creator = !creators.is_empty() && rng.gen_bool(0.03);
        let mut owner = None;
        for _ in 0..64 {
            let u = if want_creator { *pick(rng, &creators) as usize } else { rng.gen_range(0..n) };
            if !adj[u].is_empty() && owned[u] < limit(u) {
                owner = Some(u);
                break;
            }
        }
        if owner.is_none() {
            while cursor < n {
                if !adj[cursor].is_empty() && owned[cursor] < limit(cursor) {
                    owner = Some(cursor);
                    break;
                }
                cursor += 1;
            }
        }
        let Some(owner) = owner else {
            bail!("no user left who may own another group");
        };
        owned[owner] += 1;
        let creator = users.creator[owner];
        let place_i = users.place[owner] as usize;
        let gp = ctx.gazetteer[place_i];
        let place = &ctx.places[place_i];
        let city_i = place.city as usize;
        let city = &ctx.cities[city_i];
        let cat = if rng.gen_bool(0.8) {
            users.cats[owner][rng.gen_range(0..users.ncats[owner] as usize)]
        } else {
            cat_dist.sample(rng) as u8
        };
        let category = &vocab.categories[cat as usize];
        let special = landmarks_of(&vocab.places, gp.adcode);
        let area: &str = match special {
            Some(list) if rng.gen_bool(0.7) => pick_str(rng, list),
            _ => &place.short,
        };
        let landmark: &str = match special {
            Some(list) if rng.gen_bool(0.75) => pick_str(rng, list),
            _ => pick_str(rng, &vocab.places.generic_landmarks),
        };
        // Hometown groups name some other city; the owner's own city is avoided when possible.
        let mut home = &ctx.cities[rng.gen_range(0..ctx.cities.len())].short;
        if home == &city.short && ctx.cities.len() > 1 {
            home = &ctx.cities[(city_i + 1 + rng.gen_range(0..ctx.cities.len() - 1)) % ctx.cities.len()].short;
        }
        let place_name = {
            let r: f64 = rng.gen();
            let district_is_city = gp.district == gp.city;
            if r < 0.5 || (district_is_city && r < 0.7) {
                if district_is_city {
                    gp.city.clone()
                } else {
                    format!("{}{}", gp.city, gp.district)
                }
            } else if r < 0.8 {
                format!("{}{}", gp.district, landmark)
            } else if let Some(list) = special {
                format!("{}{}", city.short, pick_str(rng, list))
            } else if district_is_city {
                format!("{}{}", gp.city, landmark)
            } else {
                format!("{}{}{}", gp.city, gp.district, landmark)
            }
        };
        let n_small = rng.gen_range(2..=9);
        let fill = Fill {
            c: &city.short,
            d: &place.short,
            l: area,
            h: home,
            p: &place_name,
            a: pick_str(rng, &category.about),
            t: &category.label,
            n: n_small,
        };

        // Name: a category template, sometimes numbered ("3群") or tagged with the city.
        name.clear();
        expand(pick_str(rng, &category.names), &fill, &mut name)?;
        if rng.gen_bool(0.08) && name.ends_with('群') && !name.contains(|c: char| c.is_ascii_digit()) {
            name.pop();
            write!(name, "{n_small}群")?;
        } else if rng.gen_bool(0.03) && !name.starts_with(city.short.as_str()) {
            name.insert_str(0, &format!("【{}】", city.short));
        }
        if name.chars().count() > 30 {
            name = format!("{}{}群", city.short, category.label);
            if name.chars().count() > 30 {
                name = name.chars().take(30).collect();
            }
        }
        if name.chars().count() < 2 {
            name.push_str(&category.label);
        }

        let mut description = String::new();
        expand(pick_str(rng, &vocab.text.description_templates), &fill, &mut description)?;
        let mut announcement = String::new();
        if rng.gen_bool(0.45) {
            let k = if rng.gen_bool(0.7) { 1 } else { 2 };
            for _ in 0..k {
                expand(pick_str(rng, &vocab.text.announcements), &fill, &mut announcement)?;
            }
        }

        let location = if rng.gen_bool(0.95) {
            // Uniform over a disc of radius 8 km, converted to degrees at this latitude.
            let r_km = 8.0 * rng.gen::<f64>().sqrt();
            let theta = rng.gen_range(0.0..std::f64::consts::TAU);
            let lat = gp.lat + r_km * theta.cos() / 111.0;
            let lon = gp.lon + r_km * theta.sin() / (111.0 * gp.lat.to_radians().cos().max(0.1));
            Some((lat, lon))
        } else {
            None
        };
        let join_approval = rng.gen_bool(0.10);
        let can_invite = rng.gen_bool(0.90);
        let discoverable = rng.gen_bool(0.97);
        // Recent groups are a little more common than old ones.
        let max_age = HISTORY_DAYS * SECS_PER_DAY;
        let age = 3600 + (rng.gen::<f64>().powf(1.3) * (max_age - 3600) as f64) as i64;
        let created_day = (ctx.clock.today_start - age) / SECS_PER_DAY;
        let created = created_day * SECS_PER_DAY + hour_dist.sample(rng) as i64 * 3600 + rng.gen_range(0..3600);
        let created = created.min(ctx.clock.today_start - 60);
        let capacity = if creator { CREATOR_CAPACITY } else { NORMAL_CAPACITY };
        let target = member_target(rng, capacity, creator);

        line.clear();
        write!(line, "{{\"type\":\"group\",\"id\":{},\"owner_id\":{},\"name\":", g + 1, owner + 1)?;
        push_json_str(line, &name)?;
        write!(line, ",\"category\":\"{}\",\"description\":", category.id)?;
        push_json_str(line, &description)?;
        line.push_str(",\"announcement\":");
        push_json_str(line, &announcement)?;
        if let Some((lat, lon)) = location {
            write!(line, ",\"location\":{{\"lat\":{lat:.6},\"lon\":{lon:.6},\"place_name\":")?;
            push_json_str(line, &place_name)?;
            line.push('}');
        }
        write!(
            line,
            ",\"join_approval\":{join_approval},\"members_can_invite\":{can_invite},\"discoverable\":{discoverable},\"created_at\":"
        )?;
        ctx.clock.push(line, created)?;
        line.push_str("}\n");
        w.write_all(line.as_bytes())?;

        groups.push(GroupInfo {
            owner: owner as u32,
            city: city_i as u32,
            cat,
            capacity: capacity as u16,
            created: created as u32,
            target: target as u32,
        });
    }
    Ok(groups)
}

/// Heavy-tailed group size (owner included): lognormal with median 6 and mean about 9, creator
/// groups about three times bigger, and a rare group that fills up completely.
fn member_target(rng: &mut StdRng, capacity: usize, creator: bool) -> usize {
    if rng.gen_bool(0.0008) {
        return capacity;
    }
    let mut x = lognormal(rng, 6.0, 0.85);
    if creator {
        x *= 3.0;
    }
    (x.round() as usize).clamp(1, capacity)
}
