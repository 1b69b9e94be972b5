//! `groupscout eval-recs`: an offline check of recommendations. A generated world is
//! imported with one join held out for each of a few thousand users; each user's
//! recommendations are then checked for the held-out group (hit rate@10), next to a
//! "most members within 10 km, not joined" baseline computed in the same run.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::Value;

use crate::config::Settings;
use crate::service::App;

/// What the evaluation measured.
#[derive(Debug, Clone)]
pub struct EvalReport {
    pub users: usize,
    pub hit_rate: f64,
    pub baseline_hit_rate: f64,
    pub seconds: f64,
}

/// Runs the evaluation on a world of `groups` groups for up to `users` users, in the
/// database and index that `settings` name (which must start empty).
pub fn run(settings: Settings, groups: usize, users: usize, seed: u64) -> anyhow::Result<EvalReport> {
    let started = Instant::now();
    let store = crate::service::open_store(&settings)?;
    let opts = super::gen::GenOptions { groups, seed, today: store.ctx.today() };
    let mut world = Vec::new();
    super::generate(&store.ctx.gazetteer, &opts, &mut world)?;
    let text = String::from_utf8(world)?;
    // Each user's joins (not as owner), in the order of their join time.
    let mut joins: HashMap<i64, Vec<(String, i64, usize)>> = HashMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains(r#""type":"member""#) {
            continue;
        }
        let v: Value = serde_json::from_str(line)?;
        if v["role"] == "owner" {
            continue;
        }
        let (Some(u), Some(g)) = (v["user_id"].as_i64(), v["group_id"].as_i64()) else { continue };
        joins.entry(u).or_default().push((v["joined_at"].as_str().unwrap_or("").to_string(), g, i));
    }
    let mut candidates: Vec<i64> = joins.iter().filter(|(_, j)| j.len() >= 2).map(|(u, _)| *u).collect();
    candidates.sort();
    let mut rng = StdRng::seed_from_u64(seed);
    candidates.shuffle(&mut rng);
    candidates.truncate(users);
    let mut held_out: HashMap<i64, i64> = HashMap::new();
    let mut skip_lines: HashSet<usize> = HashSet::new();
    for u in &candidates {
        let j = joins.get_mut(u).expect("a user with joins");
        j.sort();
        let (_, g, line) = j.last().cloned().expect("at least two joins");
        held_out.insert(*u, g);
        skip_lines.insert(line);
    }
    let kept: String =
        lines.iter().enumerate().filter(|(i, _)| !skip_lines.contains(i)).map(|(_, l)| format!("{l}\n")).collect();
    let summary = super::import::import(&store, &mut kept.as_bytes(), |_, _| {})?;
    eprintln!("eval-recs: imported {} lines, {} users held out", summary.lines, held_out.len());
    super::rollup(&store, None)?;
    drop(store);
    let app = App::open(settings)?;
    let (mut hits, mut base_hits, mut n) = (0usize, 0usize, 0usize);
    for u in &candidates {
        let target = held_out[u];
        let joined: HashSet<i64> =
            app.store.read(|db| crate::store::members::related_group_ids(db, *u))?.into_iter().collect();
        let recs = app.recommendations(*u, None, 10)?;
        hits += recs.iter().any(|r| r.group.id == target) as usize;
        // Baseline: the biggest groups within 10 km of the centre of the user's groups.
        let profile = app.store.read(|db| crate::recommend::load_profile(db, *u))?;
        if let Some((lat, lon)) = profile.home {
            let catalog = app.engine.catalog.read();
            let mut near = catalog.within(lat, lon, 10_000.0);
            near.retain(|(_, g)| !joined.contains(&g.id) && g.has_room());
            near.sort_by(|a, b| b.1.member_count.cmp(&a.1.member_count).then(a.1.id.cmp(&b.1.id)));
            base_hits += near.iter().take(10).any(|(_, g)| g.id == target) as usize;
        }
        n += 1;
    }
    app.engine.shutdown();
    Ok(EvalReport {
        users: n,
        hit_rate: hits as f64 / n.max(1) as f64,
        baseline_hit_rate: base_hits as f64 / n.max(1) as f64,
        seconds: started.elapsed().as_secs_f64(),
    })
}
