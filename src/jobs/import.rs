//! `groupscout import FILE`: streams import lines into the store in batched transactions.
//! Every field is validated with the same domain types as the API; a bad line is reported
//! with its number and skipped, the rest kept. Running the same file twice changes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::BufRead;
use std::time::Instant;

use chrono::DateTime;
use serde::Deserialize;

use crate::domain::fields::{parse_activity, parse_birth_year};
use crate::domain::rules::Role;
use crate::domain::{Announcement, Description, Gender, GroupName, Location, Nickname};
use crate::error::{ApiError, ApiResult, Code};
use crate::service::groups::place_of;
use crate::store::activity::{apply_events, refresh_stats, ActivityEvent};
use crate::store::bulk::{self, ImportedGroup, ImportedMember, ImportedUser};
use crate::store::users::{self, Person, UserInput};
use crate::store::{day_number, groups, members, now_secs, Db, DbResult, Kind, Store};

/// Lines per transaction: large enough to be fast, small enough that a running server's
/// writes do not wait long for the lock. PostgreSQL batches are staged with COPY and
/// merged set-wise, which pays off on larger batches (and other writers only wait on the
/// rows a batch touches).
const BATCH_LINES: usize = 20_000;
const PG_BATCH_LINES: usize = 100_000;

#[derive(Deserialize)]
struct LocationLine {
    lat: f64,
    lon: f64,
    place_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line {
    User {
        id: i64,
        nickname: String,
        gender: String,
        birth_year: Option<i64>,
        tier: Option<String>,
        show_joined_groups: Option<bool>,
    },
    Follow {
        from: i64,
        to: i64,
    },
    Group {
        id: i64,
        owner_id: i64,
        name: String,
        category: String,
        description: Option<String>,
        announcement: Option<String>,
        location: Option<LocationLine>,
        join_approval: Option<bool>,
        members_can_invite: Option<bool>,
        discoverable: Option<bool>,
        created_at: Option<String>,
    },
    Member {
        group_id: i64,
        user_id: i64,
        role: Option<String>,
        joined_at: Option<String>,
    },
    Activity {
        group_id: i64,
        user_id: i64,
        at: String,
        messages: i64,
        event_id: Option<String>,
    },
}

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct ImportSummary {
    pub lines: u64,
    pub imported: u64,
    pub skipped: u64,
    pub seconds: f64,
    /// The first bad lines, as (line number, reason).
    pub errors: Vec<(u64, String)>,
}

impl ImportSummary {
    pub fn lines_per_second(&self) -> f64 {
        self.lines as f64 / self.seconds.max(1e-9)
    }
}

fn timestamp(field: &str, raw: Option<&str>) -> ApiResult<i64> {
    match raw {
        None => Ok(now_secs()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp())
            .map_err(|_| ApiError::invalid(field, format!("{field} must be an RFC 3339 timestamp"))),
    }
}

fn require_id(field: &str, id: i64) -> ApiResult<i64> {
    if id <= 0 {
        return Err(ApiError::invalid(field, format!("{field} must be a positive integer")));
    }
    Ok(id)
}

/// What the importer has already looked up: users' attributes and groups' owners, and
/// ids known to be absent. Lines come users first, so most lookups are answered here
/// instead of by the store; on PostgreSQL a batch's ids are fetched in one query first.
#[derive(Default)]
struct Known {
    people: HashMap<i64, Person, ahash::RandomState>,
    owners: HashMap<i64, i64, ahash::RandomState>,
    no_person: HashSet<i64, ahash::RandomState>,
    no_group: HashSet<i64, ahash::RandomState>,
}

impl Known {
    fn person(&mut self, db: &Db<'_>, id: i64) -> DbResult<Option<&Person>> {
        if self.no_person.contains(&id) {
            return Ok(None);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.people.entry(id) {
            match users::person(db, id)? {
                Some(p) => slot.insert(p),
                None => return Ok(None),
            };
        }
        Ok(self.people.get(&id))
    }

    fn owner(&mut self, db: &Db<'_>, group_id: i64) -> DbResult<Option<i64>> {
        if let Some(o) = self.owners.get(&group_id) {
            return Ok(Some(*o));
        }
        if self.no_group.contains(&group_id) {
            return Ok(None);
        }
        let o = groups::owner_of(db, group_id)?;
        if let Some(o) = o {
            self.owners.insert(group_id, o);
        }
        Ok(o)
    }

    /// Looks up, in two queries, every user and group the lines name that is not known yet.
    fn prefetch(&mut self, db: &Db<'_>, lines: &[Result<Line, String>]) -> DbResult<()> {
        let mut people = Vec::new();
        let mut groups_named = Vec::new();
        for line in lines.iter().flatten() {
            match line {
                Line::User { id, .. } => people.push(*id),
                Line::Follow { from, to } => people.extend([*from, *to]),
                Line::Group { owner_id, .. } => people.push(*owner_id),
                Line::Member { group_id, user_id, .. } | Line::Activity { group_id, user_id, .. } => {
                    people.push(*user_id);
                    groups_named.push(*group_id);
                }
            }
        }
        people.retain(|id| !self.people.contains_key(id) && !self.no_person.contains(id));
        people.sort_unstable();
        people.dedup();
        groups_named.retain(|id| !self.owners.contains_key(id) && !self.no_group.contains(id));
        groups_named.sort_unstable();
        groups_named.dedup();
        let found_people = bulk::people(db, &people)?;
        for id in people {
            match found_people.get(&id) {
                Some(p) => self.people.insert(id, p.clone()),
                None => self.no_person.insert(id).then_some(()).and(None),
            };
        }
        let found_owners = bulk::owners(db, &groups_named)?;
        for id in groups_named {
            match found_owners.get(&id) {
                Some(o) => self.owners.insert(id, *o),
                None => self.no_group.insert(id).then_some(0).and(None),
            };
        }
        Ok(())
    }
}

/// One validated line, ready to write.
enum Op {
    User(ImportedUser),
    Follow(i64, i64),
    Group(Box<ImportedGroup>, Person),
    Member(ImportedMember, Person),
    Activity(ActivityEvent),
}

/// Checks one line against the domain types and what exists, and says what to write.
/// Nothing is written here; `known` learns what the line will create.
fn validate(store: &Store, db: &Db<'_>, line: Line, known: &mut Known) -> ApiResult<Op> {
    let ctx = &store.ctx;
    Ok(match line {
        Line::User { id, nickname, gender, birth_year, tier, show_joined_groups } => {
            let id = require_id("id", id)?;
            if let Some(t) = &tier {
                if !ctx.rules.tiers.contains_key(t) {
                    return Err(ApiError::invalid("tier", format!("unknown tier {t:?}")));
                }
            }
            let input = UserInput {
                nickname: Nickname::parse("nickname", &nickname)?,
                gender: Gender::parse("gender", &gender)?,
                birth_year: birth_year.map(|y| parse_birth_year("birth_year", y, ctx.current_year())).transpose()?,
                tier,
                show_joined_groups,
            };
            let tier = match &input.tier {
                Some(t) => t.clone(),
                None => known.person(db, id)?.map(|p| p.tier.clone()).unwrap_or_else(|| "normal".into()),
            };
            let person = Person { female: input.gender == Gender::Female, birth_year: input.birth_year, tier };
            known.no_person.remove(&id);
            known.people.insert(id, person);
            Op::User(ImportedUser { id, input })
        }
        Line::Follow { from, to } => {
            if from == to {
                return Err(ApiError::invalid("to", "a user cannot follow themself"));
            }
            for (field, id) in [("from", from), ("to", to)] {
                if known.person(db, id)?.is_none() {
                    return Err(ApiError::invalid(field, format!("unknown user {id}")));
                }
            }
            Op::Follow(from, to)
        }
        Line::Group {
            id,
            owner_id,
            name,
            category,
            description,
            announcement,
            location,
            join_approval,
            members_can_invite,
            discoverable,
            created_at,
        } => {
            let id = require_id("id", id)?;
            let owner = known
                .person(db, owner_id)?
                .cloned()
                .ok_or_else(|| ApiError::invalid("owner_id", format!("unknown user {owner_id}")))?;
            let name = GroupName::parse("name", &name)?;
            let category = ctx.categories.parse("category", &category)?;
            let description = Description::parse("description", description.as_deref().unwrap_or(""))?;
            let announcement = Announcement::parse("announcement", announcement.as_deref().unwrap_or(""))?;
            let location =
                location.map(|l| Location::parse("location", l.lat, l.lon, l.place_name.as_deref())).transpose()?;
            let created = timestamp("created_at", created_at.as_deref())?;
            let place = place_of(store, location.as_ref());
            known.no_group.remove(&id);
            known.owners.insert(id, owner_id);
            let capacity = i64::from(ctx.rules.tier(&owner.tier).capacity);
            let flag = ctx.screen_group(name.as_str(), description.as_str(), announcement.as_str());
            Op::Group(
                Box::new(ImportedGroup {
                    id,
                    owner_id,
                    name: name.as_str().to_string(),
                    category: category.as_str().to_string(),
                    description: description.as_str().to_string(),
                    announcement: announcement.as_str().to_string(),
                    place,
                    join_approval: join_approval.unwrap_or(false),
                    members_can_invite: members_can_invite.unwrap_or(true),
                    discoverable: discoverable.unwrap_or(true),
                    capacity,
                    created_at: created,
                    flag,
                }),
                owner,
            )
        }
        Line::Member { group_id, user_id, role, joined_at } => {
            let owner = known
                .owner(db, group_id)?
                .ok_or_else(|| ApiError::invalid("group_id", format!("unknown group {group_id}")))?;
            let who = known
                .person(db, user_id)?
                .cloned()
                .ok_or_else(|| ApiError::invalid("user_id", format!("unknown user {user_id}")))?;
            let named = role
                .as_deref()
                .map(|r| Role::parse(r).ok_or_else(|| ApiError::invalid("role", "role must be owner, admin or member")))
                .transpose()?;
            // The group line names the owner, who is seated with it: a line for the owner
            // is accepted whatever role it names and keeps the role owner; nobody else
            // may claim it.
            let role = if owner == user_id { Role::Owner } else { named.unwrap_or(Role::Member) };
            if role != Role::Owner && named == Some(Role::Owner) {
                return Err(ApiError::invalid("role", "only the group's owner_id has the role owner"));
            }
            let joined = joined_at.as_deref().map(|t| timestamp("joined_at", Some(t))).transpose()?;
            Op::Member(ImportedMember { group_id, user_id, role, joined_at: joined }, who)
        }
        Line::Activity { group_id, user_id, at, messages, event_id } => {
            if known.owner(db, group_id)?.is_none() {
                return Err(ApiError::invalid("group_id", format!("unknown group {group_id}")));
            }
            if known.person(db, user_id)?.is_none() {
                return Err(ApiError::invalid("user_id", format!("unknown user {user_id}")));
            }
            let at = parse_activity("", &at, messages, event_id.as_deref())?;
            // Lines without an event id get one from their content, so a second run of the
            // same file counts nothing twice.
            let event_id =
                event_id.unwrap_or_else(|| format!("import:{group_id}:{user_id}:{}:{messages}", at.timestamp()));
            Op::Activity(ActivityEvent {
                group_id,
                user_id,
                day: day_number(at.with_timezone(&ctx.timezone).date_naive()),
                messages,
                event_id: Some(event_id),
            })
        }
    })
}

/// SQLite: writes one validated line at once (statement by statement is fast in process).
fn write_op(db: &Db<'_>, op: Op, touched: &mut BTreeSet<i64>, events: &mut Vec<ActivityEvent>) -> DbResult<()> {
    match op {
        Op::User(u) => users::upsert(db, u.id, &u.input, now_secs())?,
        Op::Follow(from, to) => users::follow(db, from, to, now_secs())?,
        Op::Group(g, owner) => {
            let old = groups::group_text(db, g.id)?;
            let retexted = old.as_ref().is_none_or(|o| {
                (o.row.name.as_str(), o.description.as_str(), o.announcement.as_str())
                    != (g.name.as_str(), g.description.as_str(), g.announcement.as_str())
            });
            bulk::upsert_group(db, &g)?;
            // New or other texts: the screen's verdict applies (a new clean group is clear
            // already).
            if retexted && (g.flag.is_some() || old.is_some()) {
                crate::store::moderation::texts_changed(db, g.id, g.flag.as_ref(), now_secs())?;
            }
            seat_owner(db, g.id, g.owner_id, &owner, g.created_at)?;
            touched.insert(g.id);
        }
        Op::Member(m, who) => {
            match members::role_of(db, m.group_id, m.user_id)? {
                None => members::insert(db, m.group_id, m.user_id, &who, m.role, m.joined_at.unwrap_or_else(now_secs))?,
                Some((r, at)) if r != m.role.as_str() || m.joined_at.is_some_and(|j| j != at) => {
                    members::set_role_and_joined(db, m.group_id, m.user_id, m.role, m.joined_at.unwrap_or(at))?;
                }
                Some(_) => {}
            }
            touched.insert(m.group_id);
        }
        Op::Activity(e) => events.push(e),
    }
    Ok(())
}

/// Makes `owner_id` the group's one member with the role owner (SPEC §1: `member_count`
/// counts the owner), joined at `created_at` unless a member line already seated them; a
/// previous owner, when a re-import names another, stays on as a plain member.
fn seat_owner(db: &Db<'_>, group_id: i64, owner_id: i64, owner: &Person, created: i64) -> DbResult<()> {
    members::demote_other_owners(db, group_id, owner_id)?;
    match members::role_of(db, group_id, owner_id)? {
        None => members::insert(db, group_id, owner_id, owner, Role::Owner, created)?,
        Some((r, _)) if r != Role::Owner.as_str() => members::set_role(db, group_id, owner_id, Role::Owner)?,
        Some(_) => {}
    }
    Ok(())
}

/// Imports lines from `input`. `on_progress` is called with the bytes and lines read so far.
pub fn import(
    store: &Store,
    input: &mut dyn BufRead,
    mut on_progress: impl FnMut(u64, u64),
) -> anyhow::Result<ImportSummary> {
    let started = Instant::now();
    let yesterday = store.yesterday();
    let mut summary = ImportSummary::default();
    let bulk = store.begin_bulk()?;
    let result = import_lines(store, input, &mut on_progress, &mut summary, yesterday);
    store.end_bulk(bulk)?;
    result?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The outcome of one line: Ok, or the reason it was skipped.
type LineResult = Result<(), String>;

/// Validates and writes one batch of lines in the open transaction.
/// The lines of a batch, parsed (a line that is not JSON of a known type carries why).
fn parse(lines: &[String]) -> Vec<Result<Line, String>> {
    lines
        .iter()
        .map(|raw| serde_json::from_str::<Line>(raw.trim()).map_err(|e| format!("not a valid import line: {e}")))
        .collect()
}

/// Reads up to `n` lines; returns them, their bytes, and whether the input ended.
fn read_lines(input: &mut dyn BufRead, n: usize) -> std::io::Result<(Vec<String>, u64, bool)> {
    let mut lines = Vec::with_capacity(n);
    let mut bytes = 0;
    while lines.len() < n {
        let mut buf = String::new();
        let read = input.read_line(&mut buf)?;
        if read == 0 {
            return Ok((lines, bytes, true));
        }
        bytes += read as u64;
        lines.push(buf);
    }
    Ok((lines, bytes, false))
}

fn write_batch(
    store: &Store,
    db: &Db<'_>,
    lines: &[String],
    parsed: &mut Option<Vec<Result<Line, String>>>,
    first_line: u64,
    known: &mut Known,
    yesterday: i64,
) -> anyhow::Result<(Vec<LineResult>, Option<bulk::Staged>)> {
    // Parsed ahead of the transaction; parsed again if the transaction runs again.
    let parsed = parsed.take().unwrap_or_else(|| parse(lines));
    let postgres = db.kind() == Kind::Postgres;
    if postgres {
        known.prefetch(db, &parsed)?;
    }
    let mut results = Vec::with_capacity(lines.len());
    let mut touched = BTreeSet::new();
    let mut events = Vec::new();
    let mut staged = bulk::Staged::default();
    for (i, (raw, line)) in lines.iter().zip(parsed).enumerate() {
        if raw.trim().is_empty() {
            results.push(Ok(()));
            continue;
        }
        let op = match line.map(|l| validate(store, db, l, known)) {
            Ok(Ok(op)) => op,
            // A failure of the store itself ends the import.
            Ok(Err(e)) if e.code == Code::Internal => {
                anyhow::bail!("line {}: the store failed: {}", first_line + i as u64 + 1, e.message)
            }
            Ok(Err(e)) => {
                results.push(Err(match e.field {
                    Some(f) => format!("{f}: {}", e.message),
                    None => e.message,
                }));
                continue;
            }
            Err(reason) => {
                results.push(Err(reason));
                continue;
            }
        };
        if postgres {
            match op {
                Op::User(u) => staged.user(u),
                Op::Follow(a, b) => staged.follows.push((a, b)),
                Op::Group(g, _) => staged.group(*g),
                Op::Member(m, _) => staged.member(m),
                Op::Activity(e) => staged.event(e),
            }
        } else {
            write_op(db, op, &mut touched, &mut events)?;
        }
        results.push(Ok(()));
    }
    if postgres {
        // Memberships count their users as the batch leaves them.
        let persons =
            staged.people_named().into_iter().filter_map(|id| known.people.get(&id).map(|p| (id, p.clone()))).collect();
        staged.set_persons(persons);
        bulk::load_head(db, &staged, yesterday, now_secs())?;
        return Ok((results, Some(staged)));
    } else {
        apply_events(db, &events, yesterday)?;
        for g in touched {
            refresh_stats(db, g, yesterday)?;
            db.record_change(g);
        }
    }
    Ok((results, None))
}

/// The line loop of `import`: batches of lines, each batch one transaction on SQLite.
/// On PostgreSQL, whose server runs each statement on one core, a batch is validated and
/// its users and groups written in one transaction, then its members and activity in two
/// transactions side by side, each for half of the groups; a second connection writes
/// the follows meanwhile (a follow changes no statistic and no group). A batch is then
/// not atomic, which an import does not need: running it again converges.
fn import_lines(
    store: &Store,
    input: &mut dyn BufRead,
    on_progress: &mut impl FnMut(u64, u64),
    summary: &mut ImportSummary,
    yesterday: i64,
) -> anyhow::Result<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(i64, i64)>>(2);
        let follower = scope.spawn(move || -> anyhow::Result<()> {
            for follows in rx {
                store.write(|db| bulk::load_follows(db, &follows, now_secs()))?;
            }
            Ok(())
        });
        let result = read_batches(store, input, on_progress, summary, yesterday, &tx);
        drop(tx);
        let followed = follower.join().map_err(|_| anyhow::anyhow!("the follow writer panicked"))?;
        result.and(followed)
    })
}

fn read_batches(
    store: &Store,
    input: &mut dyn BufRead,
    on_progress: &mut impl FnMut(u64, u64),
    summary: &mut ImportSummary,
    yesterday: i64,
    follows_out: &std::sync::mpsc::SyncSender<Vec<(i64, i64)>>,
) -> anyhow::Result<()> {
    let mut known = Known::default();
    let batch_lines = if store.kind() == Kind::Postgres { PG_BATCH_LINES } else { BATCH_LINES };
    let (mut lines, mut bytes, mut done) = read_lines(input, batch_lines)?;
    let mut parsed = Some(parse(&lines));
    loop {
        // A batch is read first and written in one transaction, which may run again on
        // PostgreSQL after a deadlock: the lines, not the input, are replayed.
        let first_line = summary.lines;
        let mut attempt = 0;
        let (results, staged) = store.write(|db| {
            attempt += 1;
            if attempt > 1 {
                // What a rolled-back attempt looked up or wrote may not hold any more.
                known = Known::default();
            }
            write_batch(store, db, &lines, &mut parsed, first_line, &mut known, yesterday)
        })?;
        // The next batch is read and parsed while this one's members and activity are
        // written.
        let mut next = None;
        if let Some(mut staged) = staged {
            let follows = std::mem::take(&mut staged.follows);
            if !follows.is_empty() && follows_out.send(follows).is_err() {
                anyhow::bail!("the follow writer stopped");
            }
            let parts = staged.parts(2);
            let now = now_secs();
            std::thread::scope(|s| {
                let writers: Vec<_> = parts
                    .iter()
                    .map(|part| s.spawn(move || store.write(|db| bulk::load_tail(db, part, yesterday, now))))
                    .collect();
                if !done {
                    next = Some(read_lines(input, batch_lines).map(|(l, b, d)| {
                        let p = parse(&l);
                        (l, b, d, p)
                    }));
                }
                for w in writers {
                    w.join().map_err(|_| anyhow::anyhow!("a batch writer panicked"))??;
                }
                anyhow::Ok(())
            })?;
        }
        for (i, result) in results.into_iter().enumerate() {
            summary.lines += 1;
            match result {
                Ok(()) if lines[i].trim().is_empty() => {}
                Ok(()) => summary.imported += 1,
                Err(reason) => {
                    summary.skipped += 1;
                    eprintln!("line {}: {reason}", summary.lines);
                    if summary.errors.len() < 100 {
                        summary.errors.push((summary.lines, reason));
                    }
                }
            }
        }
        on_progress(bytes, summary.lines);
        if done {
            return Ok(());
        }
        let (l, b, d, p) = match next {
            Some(read) => read?,
            None => {
                let (l, b, d) = read_lines(input, batch_lines)?;
                let p = parse(&l);
                (l, b, d, p)
            }
        };
        (lines, done, parsed) = (l, d, Some(p));
        bytes += b;
    }
}
