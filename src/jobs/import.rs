//! `groupscout import FILE`: streams import lines into the store in batched transactions.
//! Every field is validated with the same domain types as the API; a bad line is reported
//! with its number and skipped, the rest kept. Running the same file twice changes nothing.

use std::io::BufRead;
use std::time::Instant;

use chrono::DateTime;
use serde::Deserialize;

use crate::domain::fields::{parse_activity, parse_birth_year};
use crate::domain::rules::Role;
use crate::domain::{Announcement, Description, Gender, GroupName, Location, Nickname};
use crate::error::{ApiError, ApiResult, Code};
use crate::service::groups::place_of;
use crate::store::activity::ActivityEvent;
use crate::store::bulk::{self, ImportedGroup, ImportedMember, ImportedUser, Share};
use crate::store::users::{self, Person, UserInput};
use crate::store::{day_number, groups, members, now_secs, Db, DbResult, Kind, Store};
use known::Known;

mod known;

/// Lines per transaction: large enough to be fast (a group's statistics are refreshed
/// once a batch, and pages written once a commit), small enough that a running server's
/// writes do not wait long for the lock (a fraction of a second). PostgreSQL batches are
/// staged with COPY and merged set-wise, which pays off on larger batches (and other
/// writers only wait on the rows a batch touches).
const BATCH_LINES: usize = 50_000;
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

/// Looks up, in two queries, every user and group the lines name that is not known yet
/// (PostgreSQL: one round trip a batch instead of one an id).
fn prefetch(known: &mut Known, db: &Db<'_>, lines: &[Checked]) -> DbResult<()> {
    let mut people = Vec::new();
    let mut groups_named = Vec::new();
    for line in lines {
        match line {
            Checked::Line(Pre::User(u)) => people.push(u.id),
            Checked::Line(Pre::Follow(from, to)) => people.extend([*from, *to]),
            Checked::Line(Pre::Group { owner_id, .. }) => people.push(*owner_id),
            Checked::Line(Pre::Member { group_id, user_id, .. } | Pre::Activity { group_id, user_id, .. }) => {
                people.push(*user_id);
                groups_named.push(*group_id);
            }
            Checked::Blank | Checked::Bad(_) => {}
        }
    }
    people.retain(|id| known.is_unknown_person(*id));
    people.sort_unstable();
    people.dedup();
    groups_named.retain(|id| known.is_unknown_group(*id));
    groups_named.sort_unstable();
    groups_named.dedup();
    let found_people = bulk::people(db, &people)?;
    for id in people {
        known.learn_person(id, found_people.get(&id));
    }
    let found_owners = bulk::owners(db, &groups_named)?;
    for id in groups_named {
        known.learn_owner(id, found_owners.get(&id).copied());
    }
    Ok(())
}

/// A line after every check that needs nothing but the line: what is left to check needs
/// the store (do the ids it names exist, what tier has the owner). The checks of fields
/// that come after an id's existence are kept as results, for `resolve` to report in
/// that order: a line with several faults is reported for the same one as when a single
/// thread checked it field by field.
enum Pre {
    User(ImportedUser),
    Follow(i64, i64),
    /// The group's fields, checked (its capacity is set from the owner's tier later).
    Group {
        owner_id: i64,
        group: ApiResult<Box<ImportedGroup>>,
    },
    Member {
        group_id: i64,
        user_id: i64,
        role: ApiResult<Option<Role>>,
        joined_at: ApiResult<Option<i64>>,
    },
    Activity {
        group_id: i64,
        user_id: i64,
        event: ApiResult<ActivityEvent>,
    },
}

/// A line as read and checked on its own.
enum Checked {
    Blank,
    /// Why the line is skipped.
    Bad(String),
    Line(Pre),
}

/// How a skipped line is reported.
fn reason(e: ApiError) -> String {
    match e.field {
        Some(f) => format!("{f}: {}", e.message),
        None => e.message,
    }
}

/// Parses one raw line and runs the checks that need only the line itself.
fn check(store: &Store, raw: &str) -> Checked {
    let raw = raw.trim();
    if raw.is_empty() {
        return Checked::Blank;
    }
    match serde_json::from_str::<Line>(raw) {
        Err(e) => Checked::Bad(format!("not a valid import line: {e}")),
        Ok(line) => match precheck(store, line) {
            Ok(pre) => Checked::Line(pre),
            Err(e) => Checked::Bad(reason(e)),
        },
    }
}

/// The checks of a line that come before any lookup, in order; those that come after
/// one are kept in the result (see `Pre`).
fn precheck(store: &Store, line: Line) -> ApiResult<Pre> {
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
            Pre::User(ImportedUser { id, input })
        }
        Line::Follow { from, to } => {
            if from == to {
                return Err(ApiError::invalid("to", "a user cannot follow themself"));
            }
            Pre::Follow(from, to)
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
            let group = (|| {
                let name = GroupName::parse("name", &name)?;
                let category = ctx.categories.parse("category", &category)?;
                let description = Description::parse("description", description.as_deref().unwrap_or(""))?;
                let announcement = Announcement::parse("announcement", announcement.as_deref().unwrap_or(""))?;
                let location =
                    location.map(|l| Location::parse("location", l.lat, l.lon, l.place_name.as_deref())).transpose()?;
                let created = timestamp("created_at", created_at.as_deref())?;
                let flag = ctx.screen_group(name.as_str(), description.as_str(), announcement.as_str());
                Ok(Box::new(ImportedGroup {
                    id,
                    owner_id,
                    name: name.as_str().to_string(),
                    category: category.as_str().to_string(),
                    description: description.as_str().to_string(),
                    announcement: announcement.as_str().to_string(),
                    place: place_of(store, location.as_ref()),
                    join_approval: join_approval.unwrap_or(false),
                    members_can_invite: members_can_invite.unwrap_or(true),
                    discoverable: discoverable.unwrap_or(true),
                    // Set from the owner's tier once the owner is looked up.
                    capacity: 0,
                    created_at: created,
                    flag,
                }))
            })();
            Pre::Group { owner_id, group }
        }
        Line::Member { group_id, user_id, role, joined_at } => Pre::Member {
            group_id,
            user_id,
            role: role
                .as_deref()
                .map(|r| Role::parse(r).ok_or_else(|| ApiError::invalid("role", "role must be owner, admin or member")))
                .transpose(),
            joined_at: joined_at.as_deref().map(|t| timestamp("joined_at", Some(t))).transpose(),
        },
        Line::Activity { group_id, user_id, at, messages, event_id } => {
            let event = parse_activity("", &at, messages, event_id.as_deref()).map(|at| {
                // Lines without an event id get one from their content, so a second run of
                // the same file counts nothing twice.
                let event_id =
                    event_id.unwrap_or_else(|| format!("import:{group_id}:{user_id}:{}:{messages}", at.timestamp()));
                ActivityEvent {
                    group_id,
                    user_id,
                    day: day_number(at.with_timezone(&ctx.timezone).date_naive()),
                    messages,
                    event_id: Some(event_id),
                }
            });
            Pre::Activity { group_id, user_id, event }
        }
    })
}

/// One validated line, ready to write, with the membership share of the person it seats.
enum Op {
    User(ImportedUser),
    Follow(i64, i64),
    Group(Box<ImportedGroup>, Share),
    Member(ImportedMember, Share),
    Activity(ActivityEvent),
}

/// The checks of a line against what exists, and what to write. Nothing is written here;
/// `known` learns what the line will create.
fn resolve(store: &Store, db: &Db<'_>, pre: Pre, known: &mut Known) -> ApiResult<Op> {
    let ctx = &store.ctx;
    Ok(match pre {
        Pre::User(u) => {
            let tier = match &u.input.tier {
                Some(t) => t.clone(),
                None => known.person(db, u.id)?.map_or_else(|| "normal".into(), |w| known.tier_name(w).to_string()),
            };
            let person = Person { female: u.input.gender == Gender::Female, birth_year: u.input.birth_year, tier };
            known.learn_person(u.id, Some(&person));
            Op::User(u)
        }
        Pre::Follow(from, to) => {
            for (field, id) in [("from", from), ("to", to)] {
                if known.person(db, id)?.is_none() {
                    return Err(ApiError::invalid(field, format!("unknown user {id}")));
                }
            }
            Op::Follow(from, to)
        }
        Pre::Group { owner_id, group } => {
            let owner = known
                .person(db, owner_id)?
                .ok_or_else(|| ApiError::invalid("owner_id", format!("unknown user {owner_id}")))?;
            let capacity = i64::from(ctx.rules.tier(known.tier_name(owner)).capacity);
            let share = Share::new(owner.female, owner.birth_year);
            let mut g = group?;
            g.capacity = capacity;
            known.learn_owner(g.id, Some(owner_id));
            Op::Group(g, share)
        }
        Pre::Member { group_id, user_id, role, joined_at } => {
            let owner = known
                .owner(db, group_id)?
                .ok_or_else(|| ApiError::invalid("group_id", format!("unknown group {group_id}")))?;
            let who = known
                .person(db, user_id)?
                .map(|w| Share::new(w.female, w.birth_year))
                .ok_or_else(|| ApiError::invalid("user_id", format!("unknown user {user_id}")))?;
            let named = role?;
            // The group line names the owner, who is seated with it: a line for the owner
            // is accepted whatever role it names and keeps the role owner; nobody else
            // may claim it.
            if owner != user_id && named == Some(Role::Owner) {
                return Err(ApiError::invalid("role", "only the group's owner_id has the role owner"));
            }
            let role = if owner == user_id { Role::Owner } else { named.unwrap_or(Role::Member) };
            Op::Member(ImportedMember { group_id, user_id, role, joined_at: joined_at? }, who)
        }
        Pre::Activity { group_id, user_id, event } => {
            if known.owner(db, group_id)?.is_none() {
                return Err(ApiError::invalid("group_id", format!("unknown group {group_id}")));
            }
            if known.person(db, user_id)?.is_none() {
                return Err(ApiError::invalid("user_id", format!("unknown user {user_id}")));
            }
            Op::Activity(event?)
        }
    })
}

/// `resolve`, with a skipped line's reason as the error; a failure of the store itself
/// ends the import.
fn resolve_line(store: &Store, db: &Db<'_>, line: Checked, known: &mut Known, number: u64) -> anyhow::Result<Resolved> {
    Ok(match line {
        Checked::Blank => Resolved::Blank,
        Checked::Bad(reason) => Resolved::Bad(reason),
        Checked::Line(pre) => match resolve(store, db, pre, known) {
            Ok(op) => Resolved::Op(op),
            Err(e) if e.code == Code::Internal => {
                anyhow::bail!("line {number}: the store failed: {}", e.message)
            }
            Err(e) => Resolved::Bad(reason(e)),
        },
    })
}

enum Resolved {
    Blank,
    Bad(String),
    Op(Op),
}

/// SQLite: writes one validated line at once (statement by statement is fast in process);
/// what a batch leaves to its end (statistics, follows, events) goes to `end`.
fn write_op(db: &Db<'_>, op: Op, end: &mut bulk::LiteBatch) -> DbResult<()> {
    match op {
        Op::User(u) => users::upsert(db, u.id, &u.input, now_secs())?,
        Op::Follow(from, to) => end.follow(db, from, to)?,
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
            seat_owner(db, g.id, g.owner_id, owner, g.created_at, end)?;
        }
        Op::Member(m, who) => {
            let joined = m.joined_at.unwrap_or_else(now_secs);
            if !end.seat(db, m.group_id, m.user_id, m.role, joined, who)? {
                match members::role_of(db, m.group_id, m.user_id)? {
                    Some((r, at)) if r != m.role.as_str() || m.joined_at.is_some_and(|j| j != at) => {
                        members::set_role_and_joined(db, m.group_id, m.user_id, m.role, m.joined_at.unwrap_or(at))?;
                    }
                    _ => {}
                }
            }
            end.touch(m.group_id);
        }
        Op::Activity(e) => end.event(db, &e)?,
    }
    Ok(())
}

/// Makes `owner_id` the group's one member with the role owner (SPEC §1: `member_count`
/// counts the owner), joined at `created_at` unless a member line already seated them; a
/// previous owner, when a re-import names another, stays on as a plain member.
fn seat_owner(
    db: &Db<'_>,
    group_id: i64,
    owner_id: i64,
    owner: Share,
    created: i64,
    end: &mut bulk::LiteBatch,
) -> DbResult<()> {
    members::demote_other_owners(db, group_id, owner_id)?;
    if !end.seat(db, group_id, owner_id, Role::Owner, created, owner)? {
        if let Some((r, _)) = members::role_of(db, group_id, owner_id)? {
            if r != Role::Owner.as_str() {
                members::set_role(db, group_id, owner_id, Role::Owner)?;
            }
        }
    }
    end.touch(group_id);
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
    let result = match store.kind() {
        Kind::Sqlite => lite_lines(store, input, &mut on_progress, &mut summary, yesterday),
        Kind::Postgres => import_lines(store, input, &mut on_progress, &mut summary, yesterday),
    };
    store.end_bulk(bulk)?;
    result?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Counts one line's outcome in the summary (a skipped line is reported with its number).
fn tally(summary: &mut ImportSummary, outcome: Result<bool, String>) {
    summary.lines += 1;
    match outcome {
        Ok(false) => {}
        Ok(true) => summary.imported += 1,
        Err(reason) => {
            summary.skipped += 1;
            eprintln!("line {}: {reason}", summary.lines);
            if summary.errors.len() < 100 {
                summary.errors.push((summary.lines, reason));
            }
        }
    }
}

/// A batch of lines read as one buffer: each line ends where `ends` says.
struct RawBatch {
    text: String,
    ends: Vec<usize>,
}

/// Reads up to `n` lines into one buffer (one allocation a batch, not one a line);
/// returns them, their bytes, and whether the input ended.
fn read_raw(input: &mut dyn BufRead, n: usize) -> std::io::Result<(RawBatch, bool)> {
    let mut batch = RawBatch { text: String::with_capacity(n * 160), ends: Vec::with_capacity(n) };
    while batch.ends.len() < n {
        if input.read_line(&mut batch.text)? == 0 {
            return Ok((batch, true));
        }
        batch.ends.push(batch.text.len());
    }
    Ok((batch, false))
}

/// A batch of lines checked on their own, with the bytes they took.
struct CheckedBatch {
    lines: Vec<Checked>,
    bytes: u64,
}

fn check_raw(store: &Store, raw: RawBatch) -> CheckedBatch {
    let mut start = 0;
    let lines = raw
        .ends
        .iter()
        .map(|&end| {
            let line = check(store, &raw.text[start..end]);
            start = end;
            line
        })
        .collect();
    CheckedBatch { lines, bytes: raw.text.len() as u64 }
}

/// How many batches are read ahead of the writer: one being checked, one waiting.
const LITE_AHEAD: usize = 2;

/// The line loop of `import` on SQLite, a pipeline on two threads: this one reads raw
/// lines and writes, a checker parses and checks them meanwhile (JSON, field rules, the
/// screen and the gazetteer need nothing from the store). Each batch is one transaction;
/// the lines it reports as imported are committed when `import` returns.
fn lite_lines(
    store: &Store,
    input: &mut dyn BufRead,
    on_progress: &mut impl FnMut(u64, u64),
    summary: &mut ImportSummary,
    yesterday: i64,
) -> anyhow::Result<()> {
    std::thread::scope(|scope| {
        let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<RawBatch>(LITE_AHEAD);
        let (checked_tx, checked_rx) = std::sync::mpsc::sync_channel::<CheckedBatch>(LITE_AHEAD);
        scope.spawn(move || {
            for raw in raw_rx {
                if checked_tx.send(check_raw(store, raw)).is_err() {
                    return;
                }
            }
        });
        let mut known = Known::default();
        let mut bytes = 0;
        let mut in_flight = 0;
        let mut ended = false;
        // An input error ends the import after the lines read before it are written.
        let mut read_error = None;
        loop {
            while in_flight < LITE_AHEAD && !ended && read_error.is_none() {
                match read_raw(input, BATCH_LINES) {
                    Ok((raw, end)) => {
                        ended = end;
                        if !raw.ends.is_empty() {
                            raw_tx.send(raw).map_err(|_| anyhow::anyhow!("the line checker stopped"))?;
                            in_flight += 1;
                        }
                    }
                    Err(e) => read_error = Some(e),
                }
            }
            if in_flight == 0 {
                return read_error.map_or(Ok(()), |e| Err(e.into()));
            }
            let batch = checked_rx.recv().map_err(|_| anyhow::anyhow!("the line checker stopped"))?;
            in_flight -= 1;
            let first_line = summary.lines;
            let mut lines = batch.lines;
            // SQLite runs a transaction once (it has no deadlocks to retry).
            let outcomes = store
                .write(|db| lite_batch(store, db, std::mem::take(&mut lines), first_line, &mut known, yesterday))?;
            for outcome in outcomes {
                tally(summary, outcome);
            }
            bytes += batch.bytes;
            on_progress(bytes, summary.lines);
        }
    })
}

/// SQLite: resolves and writes one batch in the open transaction; says for each line
/// whether it was imported (false for a blank line) or why it was skipped.
fn lite_batch(
    store: &Store,
    db: &Db<'_>,
    lines: Vec<Checked>,
    first_line: u64,
    known: &mut Known,
    yesterday: i64,
) -> anyhow::Result<Vec<Result<bool, String>>> {
    let mut end = bulk::LiteBatch::begin(db, yesterday)?;
    let mut outcomes = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        outcomes.push(match resolve_line(store, db, line, known, first_line + i as u64 + 1)? {
            Resolved::Blank => Ok(false),
            Resolved::Bad(reason) => Err(reason),
            Resolved::Op(op) => {
                write_op(db, op, &mut end)?;
                Ok(true)
            }
        });
    }
    end.finish(db)?;
    Ok(outcomes)
}

/// The lines of a batch, checked on their own.
fn check_lines(store: &Store, lines: &[String]) -> Vec<Checked> {
    lines.iter().map(|raw| check(store, raw)).collect()
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

/// PostgreSQL: resolves one batch of lines and stages it (see `import_lines`).
fn write_batch(
    store: &Store,
    db: &Db<'_>,
    lines: &[String],
    checked: &mut Option<Vec<Checked>>,
    first_line: u64,
    known: &mut Known,
    yesterday: i64,
) -> anyhow::Result<(Vec<Result<bool, String>>, bulk::Staged)> {
    // Checked ahead of the transaction; checked again if the transaction runs again.
    let checked = checked.take().unwrap_or_else(|| check_lines(store, lines));
    prefetch(known, db, &checked)?;
    let mut outcomes = Vec::with_capacity(lines.len());
    let mut staged = bulk::Staged::default();
    for (i, line) in checked.into_iter().enumerate() {
        outcomes.push(match resolve_line(store, db, line, known, first_line + i as u64 + 1)? {
            Resolved::Blank => Ok(false),
            Resolved::Bad(reason) => Err(reason),
            Resolved::Op(op) => {
                match op {
                    Op::User(u) => staged.user(u),
                    Op::Follow(a, b) => staged.follows.push((a, b)),
                    Op::Group(g, _) => staged.group(*g),
                    Op::Member(m, _) => staged.member(m),
                    Op::Activity(e) => staged.event(e),
                }
                Ok(true)
            }
        });
    }
    // Memberships count their users as the batch leaves them.
    let persons = staged.people_named().into_iter().filter_map(|id| known.person_record(id).map(|p| (id, p))).collect();
    staged.set_persons(persons);
    bulk::load_head(db, &staged, yesterday, now_secs())?;
    Ok((outcomes, staged))
}

/// The line loop of `import` on PostgreSQL, whose server runs each statement on one core:
/// a batch is validated and its users and groups written in one transaction, then its
/// members and activity in two transactions side by side, each for half of the groups; a
/// second connection writes the follows meanwhile (a follow changes no statistic and no
/// group). A batch is then not atomic, which an import does not need: running it again
/// converges.
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
    let (mut lines, mut bytes, mut done) = read_lines(input, PG_BATCH_LINES)?;
    let mut checked = Some(check_lines(store, &lines));
    loop {
        // A batch is read first and written in one transaction, which may run again after
        // a deadlock: the lines, not the input, are replayed.
        let first_line = summary.lines;
        let mut attempt = 0;
        let (outcomes, mut staged) = store.write(|db| {
            attempt += 1;
            if attempt > 1 {
                // What a rolled-back attempt looked up or wrote may not hold any more.
                known = Known::default();
            }
            write_batch(store, db, &lines, &mut checked, first_line, &mut known, yesterday)
        })?;
        // The next batch is read and checked while this one's members and activity are
        // written.
        let mut next = None;
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
                next = Some(read_lines(input, PG_BATCH_LINES).map(|(l, b, d)| {
                    let c = check_lines(store, &l);
                    (l, b, d, c)
                }));
            }
            for w in writers {
                w.join().map_err(|_| anyhow::anyhow!("a batch writer panicked"))??;
            }
            anyhow::Ok(())
        })?;
        for outcome in outcomes {
            tally(summary, outcome);
        }
        on_progress(bytes, summary.lines);
        let Some(read) = next else { return Ok(()) };
        let (l, b, d, c) = read?;
        (lines, done, checked) = (l, d, Some(c));
        bytes += b;
    }
}
