//! `groupscout import FILE`: streams import lines into the store in batched transactions.
//! Every field is validated with the same domain types as the API; a bad line is reported
//! with its number and skipped, the rest kept. Running the same file twice changes nothing.

use std::collections::{BTreeSet, HashMap};
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
use crate::store::bulk::{self, ImportedGroup};
use crate::store::users::{self, Person, UserInput};
use crate::store::{day_number, groups, members, now_secs, Db, DbResult, Store};

/// Lines per transaction: large enough to be fast, small enough that a running server's
/// writes do not wait long for the lock.
const BATCH_LINES: usize = 20_000;

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

/// State carried through one batch.
struct Batch {
    touched: BTreeSet<i64>,
    events: Vec<ActivityEvent>,
}

/// What the importer has already looked up: users' attributes and groups' owners. Lines
/// come users first, so most lookups are answered here instead of by SQLite.
#[derive(Default)]
struct Known {
    people: HashMap<i64, Person, ahash::RandomState>,
    owners: HashMap<i64, i64, ahash::RandomState>,
}

impl Known {
    fn person(&mut self, db: &Db<'_>, id: i64) -> DbResult<Option<&Person>> {
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
        let o = groups::owner_of(db, group_id)?;
        if let Some(o) = o {
            self.owners.insert(group_id, o);
        }
        Ok(o)
    }
}

fn apply_line(store: &Store, tx: &Db<'_>, line: Line, batch: &mut Batch, known: &mut Known) -> ApiResult<()> {
    let ctx = &store.ctx;
    match line {
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
            users::upsert(tx, id, &input, now_secs())?;
            known.people.remove(&id);
        }
        Line::Follow { from, to } => {
            if from == to {
                return Err(ApiError::invalid("to", "a user cannot follow themself"));
            }
            for (field, id) in [("from", from), ("to", to)] {
                if known.person(tx, id)?.is_none() {
                    return Err(ApiError::invalid(field, format!("unknown user {id}")));
                }
            }
            users::follow(tx, from, to, now_secs())?;
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
            let owner = users::person(tx, owner_id)?
                .ok_or_else(|| ApiError::invalid("owner_id", format!("unknown user {owner_id}")))?;
            let name = GroupName::parse("name", &name)?;
            let category = ctx.categories.parse("category", &category)?;
            let description = Description::parse("description", description.as_deref().unwrap_or(""))?;
            let announcement = Announcement::parse("announcement", announcement.as_deref().unwrap_or(""))?;
            let location =
                location.map(|l| Location::parse("location", l.lat, l.lon, l.place_name.as_deref())).transpose()?;
            let created = timestamp("created_at", created_at.as_deref())?;
            let place = place_of(store, location.as_ref());
            bulk::upsert_group(
                tx,
                &ImportedGroup {
                    id,
                    owner_id,
                    name: &name,
                    category: &category,
                    description: &description,
                    announcement: &announcement,
                    place: &place,
                    join_approval: join_approval.unwrap_or(false),
                    members_can_invite: members_can_invite.unwrap_or(true),
                    discoverable: discoverable.unwrap_or(true),
                    capacity: i64::from(ctx.rules.tier(&owner.tier).capacity),
                    created_at: created,
                },
            )?;
            seat_owner(tx, id, owner_id, &owner, created)?;
            known.owners.insert(id, owner_id);
            batch.touched.insert(id);
        }
        Line::Member { group_id, user_id, role, joined_at } => {
            let owner = known
                .owner(tx, group_id)?
                .ok_or_else(|| ApiError::invalid("group_id", format!("unknown group {group_id}")))?;
            let who = known
                .person(tx, user_id)?
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
            match members::role_of(tx, group_id, user_id)? {
                None => members::insert(tx, group_id, user_id, who, role, joined.unwrap_or_else(now_secs))?,
                Some((r, at)) if r != role.as_str() || joined.is_some_and(|j| j != at) => {
                    members::set_role_and_joined(tx, group_id, user_id, role, joined.unwrap_or(at))?;
                }
                Some(_) => {}
            }
            batch.touched.insert(group_id);
        }
        Line::Activity { group_id, user_id, at, messages, event_id } => {
            if known.owner(tx, group_id)?.is_none() {
                return Err(ApiError::invalid("group_id", format!("unknown group {group_id}")));
            }
            if known.person(tx, user_id)?.is_none() {
                return Err(ApiError::invalid("user_id", format!("unknown user {user_id}")));
            }
            let at = parse_activity("", &at, messages, event_id.as_deref())?;
            // Lines without an event id get one from their content, so a second run of the
            // same file counts nothing twice.
            let event_id =
                event_id.unwrap_or_else(|| format!("import:{group_id}:{user_id}:{}:{messages}", at.timestamp()));
            batch.events.push(ActivityEvent {
                group_id,
                user_id,
                day: day_number(at.with_timezone(&ctx.timezone).date_naive()),
                messages,
                event_id: Some(event_id),
            });
        }
    }
    Ok(())
}

/// Makes `owner_id` the group's one member with the role owner (SPEC §1: `member_count`
/// counts the owner), joined at `created_at` unless a member line already seated them; a
/// previous owner, when a re-import names another, stays on as a plain member.
fn seat_owner(db: &Db<'_>, group_id: i64, owner_id: i64, owner: &Person, created: i64) -> ApiResult<()> {
    members::demote_other_owners(db, group_id, owner_id)?;
    match members::role_of(db, group_id, owner_id)? {
        None => members::insert(db, group_id, owner_id, owner, Role::Owner, created)?,
        Some((r, _)) if r != Role::Owner.as_str() => members::set_role(db, group_id, owner_id, Role::Owner)?,
        Some(_) => {}
    }
    Ok(())
}

/// Closes a batch: activity, statistics and one change per touched group.
fn finish_batch(db: &Db<'_>, batch: &mut Batch, yesterday: i64) -> DbResult<()> {
    apply_events(db, &batch.events, yesterday)?;
    for g in std::mem::take(&mut batch.touched) {
        refresh_stats(db, g, yesterday)?;
        db.record_change(g);
    }
    batch.events.clear();
    Ok(())
}

/// Imports lines from `input`. `on_line` is called with the bytes read so far.
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

/// The line loop of `import`: batches of lines, each batch one transaction.
fn import_lines(
    store: &Store,
    input: &mut dyn BufRead,
    on_progress: &mut impl FnMut(u64, u64),
    summary: &mut ImportSummary,
    yesterday: i64,
) -> anyhow::Result<()> {
    let mut bytes = 0u64;
    let mut known = Known::default();
    let mut lines: Vec<String> = Vec::with_capacity(BATCH_LINES);
    loop {
        // A batch is read first and written in one transaction, which may run again on
        // PostgreSQL after a deadlock: the lines, not the input, are replayed.
        lines.clear();
        let mut done = false;
        while lines.len() < BATCH_LINES {
            let mut buf = String::new();
            let n = input.read_line(&mut buf)?;
            if n == 0 {
                done = true;
                break;
            }
            bytes += n as u64;
            lines.push(buf);
        }
        let first_line = summary.lines;
        let mut attempt = 0;
        let outcome = store.write(|db| -> anyhow::Result<Vec<(u64, Result<(), String>)>> {
            attempt += 1;
            if attempt > 1 {
                // What a rolled-back attempt looked up or wrote may not hold any more.
                known = Known::default();
            }
            let mut batch = Batch { touched: BTreeSet::new(), events: Vec::new() };
            let mut results = Vec::with_capacity(lines.len());
            for (i, raw) in lines.iter().enumerate() {
                let number = first_line + i as u64 + 1;
                let text = raw.trim();
                if text.is_empty() {
                    results.push((number, Ok(())));
                    continue;
                }
                let result = match serde_json::from_str::<Line>(text) {
                    // Every line validates everything before it writes, so a refused line
                    // has written nothing; a failure of the store itself ends the import.
                    Ok(line) => match apply_line(store, db, line, &mut batch, &mut known) {
                        Ok(()) => Ok(()),
                        Err(e) if e.code == Code::Internal => {
                            anyhow::bail!("line {number}: the store failed: {}", e.message)
                        }
                        Err(e) => Err(match e.field {
                            Some(f) => format!("{f}: {}", e.message),
                            None => e.message,
                        }),
                    },
                    Err(e) => Err(format!("not a valid import line: {e}")),
                };
                results.push((number, result));
            }
            finish_batch(db, &mut batch, yesterday)?;
            Ok(results)
        });
        let results = outcome?;
        for (number, result) in results {
            summary.lines = number;
            let text_empty = lines[(number - first_line - 1) as usize].trim().is_empty();
            match result {
                Ok(()) if text_empty => {}
                Ok(()) => summary.imported += 1,
                Err(reason) => {
                    summary.skipped += 1;
                    eprintln!("line {number}: {reason}");
                    if summary.errors.len() < 100 {
                        summary.errors.push((number, reason));
                    }
                }
            }
        }
        on_progress(bytes, summary.lines);
        if done {
            return Ok(());
        }
    }
}
