//! `groupscout import FILE`: streams import lines into the store in batched transactions.
//! Every field is validated with the same domain types as the API; a bad line is reported
//! with its number and skipped, the rest kept. Running the same file twice changes nothing.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::time::Instant;

use chrono::DateTime;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;

use crate::domain::fields::{parse_activity, parse_birth_year};
use crate::domain::rules::Role;
use crate::domain::{Announcement, Description, Gender, GroupName, Location, Nickname};
use crate::error::{ApiError, ApiResult, Code};
use crate::store::activity::{apply_events, refresh_activity_stats, ActivityEvent};
use crate::store::writes::{insert_member_of, locality, person, upsert_user_tx, Person, UserInput};
use crate::store::{day_number, now_secs, record_change, Store};

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
    fn person(&mut self, tx: &Connection, id: i64) -> rusqlite::Result<Option<&Person>> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.people.entry(id) {
            match person(tx, id)? {
                Some(p) => slot.insert(p),
                None => return Ok(None),
            };
        }
        Ok(self.people.get(&id))
    }

    fn owner(&mut self, tx: &Connection, group_id: i64) -> rusqlite::Result<Option<i64>> {
        if let Some(o) = self.owners.get(&group_id) {
            return Ok(Some(*o));
        }
        let o: Option<i64> = tx
            .prepare_cached("SELECT owner_id FROM groups WHERE id = ?1 AND dissolved_at IS NULL")?
            .query_row([group_id], |r| r.get(0))
            .optional()?;
        if let Some(o) = o {
            self.owners.insert(group_id, o);
        }
        Ok(o)
    }
}

fn apply_line(
    store: &Store,
    tx: &rusqlite::Transaction<'_>,
    line: Line,
    batch: &mut Batch,
    known: &mut Known,
) -> ApiResult<()> {
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
            upsert_user_tx(tx, id, &input, now_secs())?;
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
            tx.prepare_cached("INSERT OR IGNORE INTO follows (src, dst, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![from, to, now_secs()])?;
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
            let owner = person(tx, owner_id)?
                .ok_or_else(|| ApiError::invalid("owner_id", format!("unknown user {owner_id}")))?;
            let name = GroupName::parse("name", &name)?;
            let category = ctx.categories.parse("category", &category)?;
            let description = Description::parse("description", description.as_deref().unwrap_or(""))?;
            let announcement = Announcement::parse("announcement", announcement.as_deref().unwrap_or(""))?;
            let location =
                location.map(|l| Location::parse("location", l.lat, l.lon, l.place_name.as_deref())).transpose()?;
            let created = timestamp("created_at", created_at.as_deref())?;
            let (city, district, adcode) = locality(store, location.as_ref());
            let capacity = ctx.rules.tier(&owner.tier).capacity;
            tx.prepare_cached(
                "INSERT INTO groups (id, owner_id, name, category, description, announcement, lat, lon, place_name, city, \
                 district, adcode, join_approval, members_can_invite, discoverable, capacity, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17) \
                 ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id, name = excluded.name, category = excluded.category, \
                 description = excluded.description, announcement = excluded.announcement, lat = excluded.lat, lon = excluded.lon, \
                 place_name = excluded.place_name, city = excluded.city, district = excluded.district, adcode = excluded.adcode, \
                 join_approval = excluded.join_approval, members_can_invite = excluded.members_can_invite, \
                 discoverable = excluded.discoverable, created_at = excluded.created_at",
            )?
            .execute(params![
                id,
                owner_id,
                name.as_str(),
                category.as_str(),
                description.as_str(),
                announcement.as_str(),
                location.as_ref().map(|l| l.lat),
                location.as_ref().map(|l| l.lon),
                location.as_ref().and_then(|l| l.place_name.clone()),
                city,
                district,
                adcode,
                join_approval.unwrap_or(false),
                members_can_invite.unwrap_or(true),
                discoverable.unwrap_or(true),
                capacity,
                created
            ])?;
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
            let existing: Option<(String, i64)> = tx
                .prepare_cached("SELECT role, joined_at FROM members WHERE group_id = ?1 AND user_id = ?2")?
                .query_row([group_id, user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match existing {
                None => insert_member_of(tx, group_id, user_id, who, role, joined.unwrap_or_else(now_secs))?,
                Some((r, at)) if r != role.as_str() || joined.is_some_and(|j| j != at) => {
                    tx.prepare_cached(
                        "UPDATE members SET role = ?3, joined_at = ?4 WHERE group_id = ?1 AND user_id = ?2",
                    )?
                    .execute(params![group_id, user_id, role.as_str(), joined.unwrap_or(at)])?;
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
fn seat_owner(tx: &Connection, group_id: i64, owner_id: i64, owner: &Person, created: i64) -> ApiResult<()> {
    tx.prepare_cached("UPDATE members SET role = 'member' WHERE group_id = ?1 AND role = 'owner' AND user_id <> ?2")?
        .execute(params![group_id, owner_id])?;
    let role: Option<String> = tx
        .prepare_cached("SELECT role FROM members WHERE group_id = ?1 AND user_id = ?2")?
        .query_row([group_id, owner_id], |r| r.get(0))
        .optional()?;
    match role {
        None => insert_member_of(tx, group_id, owner_id, owner, Role::Owner, created)?,
        Some(r) if r != Role::Owner.as_str() => {
            tx.prepare_cached("UPDATE members SET role = 'owner' WHERE group_id = ?1 AND user_id = ?2")?
                .execute(params![group_id, owner_id])?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Closes a batch: activity, statistics and one change per touched group.
fn finish_batch(tx: &rusqlite::Transaction<'_>, batch: &mut Batch, yesterday: i64) -> rusqlite::Result<()> {
    apply_events(tx, &batch.events, yesterday)?;
    for g in std::mem::take(&mut batch.touched) {
        refresh_activity_stats(tx, g, yesterday)?;
        record_change(tx, g)?;
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
    // A bulk load touches B-tree pages all over the file: a page cache of 1 GiB (instead
    // of 64 MiB) keeps them in SQLite's own memory, and rarer checkpoints write them once.
    store.writer().execute_batch("PRAGMA cache_size = -1048576; PRAGMA wal_autocheckpoint = 20000;")?;
    // Into an empty database, secondary indexes are built once at the end: sorting all
    // keys once is far cheaper than millions of random B-tree inserts.
    let bulk = crate::store::drop_bulk_indexes_if_empty(&store.writer())?;
    let result = import_lines(store, input, &mut on_progress, &mut summary, yesterday);
    if bulk {
        crate::store::create_bulk_indexes(&store.writer())?;
    }
    store.writer().execute_batch("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 1000;")?;
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
    let mut buf = String::new();
    let mut done = false;
    let mut known = Known::default();
    while !done {
        let mut conn = store.writer();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut batch = Batch { touched: BTreeSet::new(), events: Vec::new() };
        let mut in_batch = 0;
        while in_batch < BATCH_LINES {
            buf.clear();
            let n = input.read_line(&mut buf)?;
            if n == 0 {
                done = true;
                break;
            }
            bytes += n as u64;
            summary.lines += 1;
            in_batch += 1;
            let text = buf.trim();
            if text.is_empty() {
                continue;
            }
            let result = match serde_json::from_str::<Line>(text) {
                // Every line validates everything before it writes, so a refused line has
                // written nothing; a failure of SQLite itself ends the import.
                Ok(line) => match apply_line(store, &tx, line, &mut batch, &mut known) {
                    Ok(()) => Ok(()),
                    Err(e) if e.code == Code::Internal => {
                        anyhow::bail!("line {}: the store failed: {}", summary.lines, e.message)
                    }
                    Err(e) => Err(match e.field {
                        Some(f) => format!("{f}: {}", e.message),
                        None => e.message,
                    }),
                },
                Err(e) => Err(format!("not a valid import line: {e}")),
            };
            match result {
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
        finish_batch(&tx, &mut batch, yesterday)?;
        tx.commit()?;
        drop(conn);
        on_progress(bytes, summary.lines);
    }
    Ok(())
}
