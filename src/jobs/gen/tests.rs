//! Tests of the generator: determinism, well-formed output and the shape of the world.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use serde_json::Value;

use super::geography::display_short;
use super::text::{expand, Fill};
use super::vocab::vocab;
use super::*;

fn place(adcode: u64, district: &str, short: &str, city: &str, city_short: &str, lat: f64, lon: f64) -> GenPlace {
    GenPlace {
        adcode,
        district: district.to_string(),
        short: short.to_string(),
        city: city.to_string(),
        city_short: city_short.to_string(),
        lat,
        lon,
    }
}

fn places() -> Vec<GenPlace> {
    vec![
        place(110105000000, "朝阳区", "朝阳", "北京市", "北京", 39.92, 116.44),
        place(110108000000, "海淀区", "海淀", "北京市", "北京", 39.96, 116.30),
        place(110119000000, "延庆区", "延庆", "北京市", "北京", 40.46, 115.97),
        place(310115000000, "浦东新区", "浦东新", "上海市", "上海", 31.22, 121.54),
        place(310104000000, "徐汇区", "徐汇", "上海市", "上海", 31.19, 121.44),
        place(330106000000, "西湖区", "西湖", "杭州市", "杭州", 30.26, 120.13),
        place(330108000000, "滨江区", "滨江", "杭州市", "杭州", 30.21, 120.21),
        place(440305000000, "南山区", "南山", "深圳市", "深圳", 22.53, 113.93),
        place(440304000000, "福田区", "福田", "深圳市", "深圳", 22.52, 114.06),
        place(510104000000, "锦江区", "锦江", "成都市", "成都", 30.66, 104.08),
        place(510107000000, "武侯区", "武侯", "成都市", "成都", 30.64, 104.04),
        place(500233000000, "忠县", "忠县", "重庆市", "重庆", 30.30, 108.04),
        place(532901000000, "大理市", "大理", "大理白族自治州", "大理白族", 25.59, 100.23),
        place(441900000000, "东莞市", "东莞", "东莞市", "东莞", 23.02, 113.75),
        place(653131000000, "塔什库尔干塔吉克自治县", "塔什库尔干塔吉克", "喀什地区", "喀什", 37.77, 75.23),
        place(140902000000, "忻府区", "忻府", "忻州市", "忻州", 38.40, 112.75),
    ]
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date")
}

fn run(places: &[GenPlace], groups: usize, seed: u64) -> (Vec<u8>, GenSummary, Stats) {
    let opts = GenOptions { groups, seed, today: today() };
    let mut out = Vec::new();
    let (summary, stats) = generate_with_stats(places, &opts, &mut out).expect("generation succeeds");
    (out, summary, stats)
}

fn ts(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let s = v.as_str().expect("timestamp is a string");
    assert!(s.ends_with("+08:00"), "timestamp {s} is not in +08:00");
    chrono::DateTime::parse_from_rfc3339(s).expect("RFC 3339 timestamp")
}

#[test]
fn same_seed_gives_identical_bytes_regardless_of_place_order() {
    let p = places();
    let (a, sa, _) = run(&p, 500, 7);
    let (b, sb, _) = run(&p, 500, 7);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let mut reversed = places();
    reversed.reverse();
    let (c, _, _) = run(&reversed, 500, 7);
    assert_eq!(a, c, "output must not depend on the order of the places");
    let (d, _, _) = run(&p, 500, 8);
    assert_ne!(a, d, "another seed must give another world");
}

#[test]
fn zero_groups_writes_nothing() {
    let (out, summary, _) = run(&places(), 0, 1);
    assert!(out.is_empty());
    assert_eq!(summary, GenSummary::default());
}

#[test]
fn output_is_well_formed_and_consistent() {
    let groups_n = 2000;
    let (out, summary, _) = run(&places(), groups_n, 42);
    let text = String::from_utf8(out).expect("UTF-8 output");
    let order = ["user", "follow", "group", "member", "activity"];
    let today_start = today().and_hms_opt(0, 0, 0).expect("midnight");
    let today_end = today_start + Duration::days(1);
    let earliest_created = today_start - Duration::days(HISTORY_DAYS + 1);
    let activity_start = today_start - Duration::days(ACTIVITY_DAYS - 1);

    let mut stage = 0;
    let mut counts = [0u64; 5];
    let mut users: HashMap<u64, bool> = HashMap::new(); // id -> is creator
    let mut follows: HashSet<(u64, u64)> = HashSet::new();
    let mut groups: HashMap<u64, (u64, chrono::NaiveDateTime)> = HashMap::new();
    let mut member_count: HashMap<u64, usize> = HashMap::new();
    let mut joined: HashMap<(u64, u64), chrono::NaiveDateTime> = HashMap::new();
    let mut owner_lines = 0;
    let mut activity_keys: HashSet<(u64, u64, chrono::NaiveDate)> = HashSet::new();

    for line in text.lines() {
        assert!(line.starts_with("{\"type\":\""), "type must come first: {line}");
        let v: Value = serde_json::from_str(line).expect("every line is JSON");
        let t = v["type"].as_str().expect("type is a string");
        let i = order.iter().position(|o| *o == t).expect("known type");
        assert!(i >= stage, "{t} line out of order");
        stage = i;
        counts[i] += 1;
        let id = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {line}"));
        match t {
            "user" => {
                assert!(users.insert(id("id"), v["tier"] == "creator").is_none());
                assert!(["female", "male", "unknown"].contains(&v["gender"].as_str().expect("gender")));
                if let Some(y) = v.get("birth_year") {
                    assert!((1960..=2008).contains(&y.as_u64().expect("year")));
                }
                assert!(!v["nickname"].as_str().expect("nickname").is_empty());
            }
            "follow" => {
                let (a, b) = (id("from"), id("to"));
                assert!(users.contains_key(&a) && users.contains_key(&b));
                assert_ne!(a, b);
                assert!(follows.insert((a, b)), "duplicate follow");
            }
            "group" => {
                let owner = id("owner_id");
                assert!(users.contains_key(&owner));
                let name = v["name"].as_str().expect("name");
                assert!((2..=30).contains(&name.chars().count()), "bad name {name}");
                assert!(v["description"].as_str().expect("description").chars().count() <= 500);
                assert!(v["announcement"].as_str().expect("announcement").chars().count() <= 1000);
                let cat = v["category"].as_str().expect("category");
                assert!(vocab().expect("vocabulary").categories.iter().any(|c| c.id == cat));
                if let Some(loc) = v.get("location") {
                    assert!(loc["lat"].is_f64() && loc["lon"].is_f64());
                    assert!(!loc["place_name"].as_str().expect("place_name").is_empty());
                }
                let created = ts(&v["created_at"]).naive_local();
                assert!(created >= earliest_created && created < today_start);
                assert!(groups.insert(id("id"), (owner, created)).is_none());
            }
            "member" => {
                let (g, u) = (id("group_id"), id("user_id"));
                let (owner, created) = groups[&g];
                assert!(users.contains_key(&u));
                let at = ts(&v["joined_at"]).naive_local();
                assert!(at >= created && at < today_end, "joined_at out of range");
                assert!(joined.insert((g, u), at).is_none(), "duplicate member");
                *member_count.entry(g).or_default() += 1;
                match v["role"].as_str().expect("role") {
                    "owner" => {
                        assert_eq!(u, owner);
                        owner_lines += 1;
                    }
                    "admin" | "member" => assert_ne!(u, owner),
                    r => panic!("bad role {r}"),
                }
            }
            "activity" => {
                let (g, u) = (id("group_id"), id("user_id"));
                let member_since = joined.get(&(g, u)).expect("activity only by members");
                let at = ts(&v["at"]).naive_local();
                assert!(at >= activity_start && at < today_end, "activity outside the window");
                assert!(at >= *member_since, "activity before joining");
                assert!(activity_keys.insert((g, u, at.date())), "one line per group, member and day");
                assert!((1..=50).contains(&id("messages")));
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(counts, [summary.users, summary.follows, summary.groups, summary.members, summary.activity]);
    assert_eq!(summary.groups, groups_n as u64);
    assert_eq!(owner_lines, groups_n);
    for (g, (owner, _)) in &groups {
        let cap = if users[owner] { CREATOR_CAPACITY } else { NORMAL_CAPACITY };
        assert!(member_count[g] <= cap, "group {g} over capacity");
    }
    let total: u64 = counts.iter().sum();
    assert!(total <= 25 * groups_n as u64, "{total} lines is over budget");
    assert!(summary.activity > 0);
    let active_groups: HashSet<u64> = activity_keys.iter().map(|k| k.0).collect();
    assert!(active_groups.len() < groups.len(), "some groups should be silent");
}

#[test]
fn owners_have_friends_and_respect_ownership_limits() {
    let (out, _, _) = run(&places(), 2000, 3);
    let text = String::from_utf8(out).expect("UTF-8 output");
    let mut creator: HashMap<u64, bool> = HashMap::new();
    let mut follows: HashSet<(u64, u64)> = HashSet::new();
    let mut owned: HashMap<u64, usize> = HashMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("JSON");
        match v["type"].as_str().expect("type") {
            "user" => {
                creator.insert(v["id"].as_u64().expect("id"), v["tier"] == "creator");
            }
            "follow" => {
                follows.insert((v["from"].as_u64().expect("from"), v["to"].as_u64().expect("to")));
            }
            "group" => *owned.entry(v["owner_id"].as_u64().expect("owner")).or_default() += 1,
            _ => {}
        }
    }
    for (&owner, &n) in &owned {
        let has_mutual = follows.iter().any(|&(a, b)| a == owner && follows.contains(&(b, a)));
        assert!(has_mutual, "owner {owner} has no mutual friend");
        let limit = if creator[&owner] { CREATOR_MAX_OWNED } else { NORMAL_MAX_OWNED };
        assert!(n <= limit as usize, "owner {owner} owns {n} groups");
    }
    assert!(follows.iter().any(|&(a, b)| !follows.contains(&(b, a))), "some follows are one-way");
}

#[test]
fn world_has_realistic_structure() {
    let (out, summary, stats) = run(&places(), 2000, 11);
    let same_city = stats.same_city_members as f64 / stats.non_owner_members as f64;
    assert!(same_city > 0.75, "only {same_city:.2} of members share the group's city");
    let interest = stats.interest_members as f64 / stats.non_owner_members as f64;
    assert!(interest > 0.5, "only {interest:.2} of members share the group's category");
    let local_edges = stats.same_city_edges as f64 / stats.mutual_edges as f64;
    assert!(local_edges > 0.8, "only {local_edges:.2} of friendships are local");
    let degree = 2.0 * stats.mutual_edges as f64 / summary.users as f64;
    assert!((3.0..=8.0).contains(&degree), "mean mutual degree {degree:.2}");

    let text = String::from_utf8(out).expect("UTF-8 output");
    let mut sizes: HashMap<u64, usize> = HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("{\"type\":\"member\"")) {
        let v: Value = serde_json::from_str(line).expect("JSON");
        *sizes.entry(v["group_id"].as_u64().expect("group")).or_default() += 1;
    }
    let mut s: Vec<usize> = sizes.values().copied().collect();
    s.sort_unstable();
    let median = s[s.len() / 2];
    let mean = s.iter().sum::<usize>() as f64 / s.len() as f64;
    assert!((4..=8).contains(&median), "median group size {median}");
    assert!((6.5..=12.0).contains(&mean), "mean group size {mean:.2}");
    let per_user = summary.members as f64 / summary.users as f64;
    assert!(per_user < 8.0, "users are in {per_user:.2} groups on average");
}

#[test]
fn long_place_names_are_shortened_and_names_fit() {
    let vocab = vocab().expect("vocabulary");
    let shorten = |short, full, fallback| display_short(&vocab.places, short, full, fallback);
    assert_eq!(shorten("大理白族", "大理白族自治州", None), "大理");
    assert_eq!(shorten("湘西土家族苗族", "湘西土家族苗族自治州", None), "湘西");
    assert_eq!(shorten("塔什库尔干塔吉克", "塔什库尔干塔吉克自治县", Some("喀什")), "塔什库尔干");
    assert_eq!(shorten("海淀", "海淀区", None), "海淀");
    assert_eq!(shorten("忠县", "忠县", None), "忠县");
    // The longest short names allowed must still give names of at most 30 characters.
    let five = "一二三四五";
    let fill = Fill { c: five, d: five, l: five, h: five, p: "", a: "", t: "", n: 9 };
    for cat in &vocab.categories {
        for t in &cat.names {
            let mut name = String::new();
            expand(t, &fill, &mut name).expect("expand");
            let n = name.chars().count();
            assert!((2..=24).contains(&n), "template {t} gives {n} characters");
        }
    }
}
