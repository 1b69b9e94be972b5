//! The import's writes. On SQLite the importer writes line by line through the entity
//! functions (in process, a statement costs microseconds) and `LiteBatch`, which leaves
//! to the end of each batch what adds up over lines: the statistics of each group touched
//! and the follows, written many rows a statement. On PostgreSQL a batch of lines
//! is staged with `COPY` into temporary tables and merged with a few set-wise statements;
//! the statistics of every group the batch touched are then recomputed from its rows, so
//! they are exact whatever order the lines came in.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::LazyLock;

use super::activity::{self, ActivityEvent, ACTIVE_WINDOW_DAYS};
use super::db::{Db, DbResult};
use super::groups::Place;
use super::users::{Person, UserInput};
use crate::domain::rules::Role;
use crate::moderation::Flag;
use crate::p;

/// A user line, validated.
pub struct ImportedUser {
    pub id: i64,
    pub input: UserInput,
}

/// A group line, validated.
pub struct ImportedGroup {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub category: String,
    pub description: String,
    pub announcement: String,
    pub place: Place,
    pub join_approval: bool,
    pub members_can_invite: bool,
    pub discoverable: bool,
    pub capacity: i64,
    pub created_at: i64,
    /// The screen's verdict on the line's texts (SPEC §5).
    pub flag: Option<Flag>,
}

/// A member line, validated; `role` is final (the owner's line keeps `owner`).
pub struct ImportedMember {
    pub group_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub joined_at: Option<i64>,
}

/// A member's share of their group's membership statistics (the attributes of `Person`
/// that `member_count`, `female_count` and the birth-year sums count).
#[derive(Clone, Copy)]
pub struct Share {
    female: bool,
    birth_year: Option<i32>,
}

impl Share {
    pub fn new(female: bool, birth_year: Option<i32>) -> Share {
        Share { female, birth_year }
    }
}

/// Follows a multi-row insert writes: one statement instead of one a line.
const FOLLOW_ROWS: usize = 64;

/// `INSERT` of `FOLLOW_ROWS` follows, each row `(src, dst, now)`.
static FOLLOW_INSERT: LazyLock<String> = LazyLock::new(|| {
    let rows: Vec<String> =
        (0..FOLLOW_ROWS).map(|i| format!("(?{}, ?{}, ?{})", 3 * i + 1, 3 * i + 2, 3 * i + 3)).collect();
    format!("INSERT INTO follows (src, dst, created_at) VALUES {} ON CONFLICT DO NOTHING", rows.join(", "))
});

/// SQLite: one batch of import lines in its transaction, and what it leaves to its end.
/// Membership statistics are sums, so each group's gets the shares of the batch's new
/// members at the end instead of one a member; nothing the batch does reads them
/// meanwhile. At the end, each group the batch touched gets its statistics in one
/// statement (`groups_end`).
pub struct LiteBatch {
    /// No application waits (checked when the batch began; an import adds none), so a new
    /// member has none to drop.
    no_requests: bool,
    /// The day of the live activity figures.
    yesterday: i64,
    follows: Vec<(i64, i64)>,
    /// The groups whose statistics are refreshed at the end, each with the sum of its new
    /// members' shares: member_count, female_count, birth_sum, birth_n.
    touched: BTreeMap<i64, [i64; 4]>,
}

impl LiteBatch {
    pub fn begin(db: &Db<'_>, yesterday: i64) -> DbResult<LiteBatch> {
        let no_requests = db.value("SELECT NOT EXISTS (SELECT 1 FROM join_requests)", p![])?;
        Ok(LiteBatch { no_requests, yesterday, follows: Vec::new(), touched: BTreeMap::new() })
    }

    /// A follow, written with the next ones `FOLLOW_ROWS` at a time (a follow changes no
    /// statistic and no group, so when it is written within the batch does not matter).
    pub fn follow(&mut self, db: &Db<'_>, src: i64, dst: i64) -> DbResult<()> {
        self.follows.push((src, dst));
        if self.follows.len() == FOLLOW_ROWS {
            let now = super::now_secs();
            let mut params: Vec<&dyn super::db::Param> = Vec::with_capacity(3 * FOLLOW_ROWS);
            for (a, b) in &self.follows {
                params.extend([a as &dyn super::db::Param, b, &now]);
            }
            db.exec(&FOLLOW_INSERT, &params)?;
            self.follows.clear();
        }
        Ok(())
    }

    /// An event into its bucket, unless its id was seen before, as `activity::apply_events`
    /// writes it; the group's statistics wait for the end of the batch.
    pub fn event(&mut self, db: &Db<'_>, e: &ActivityEvent) -> DbResult<()> {
        if activity::add_event(db, e)? && activity::feeds_live_stats(e.day, self.yesterday) {
            self.touch(e.group_id);
        }
        Ok(())
    }

    /// A group whose statistics the batch changed.
    pub fn touch(&mut self, group_id: i64) {
        self.touched.entry(group_id).or_default();
    }

    /// Adds a member row (dropping their application) unless the membership exists;
    /// returns whether it was added. The member's share reaches the group's statistics
    /// at the end of the batch.
    pub fn seat(
        &mut self,
        db: &Db<'_>,
        group_id: i64,
        user_id: i64,
        role: Role,
        joined_at: i64,
        who: Share,
    ) -> DbResult<bool> {
        let added = db.exec(
            "INSERT INTO members (group_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            p![group_id, user_id, role.as_str(), joined_at],
        )?;
        if added == 0 {
            return Ok(false);
        }
        if !self.no_requests {
            super::members::delete_request(db, group_id, user_id)?;
        }
        let sums = self.touched.entry(group_id).or_default();
        sums[0] += 1;
        sums[1] += i64::from(who.female);
        sums[2] += i64::from(who.birth_year.unwrap_or(0));
        sums[3] += i64::from(who.birth_year.is_some());
        Ok(true)
    }

    /// The end of the batch: the last follows, and the statistics of every group touched
    /// (each noted as changed).
    pub fn finish(self, db: &Db<'_>) -> DbResult<()> {
        let now = super::now_secs();
        for (src, dst) in self.follows {
            super::users::follow(db, src, dst, now)?;
        }
        let sql = groups_end(self.yesterday);
        for (group_id, [n, female, birth_sum, birth_n]) in self.touched {
            db.exec(&sql, p![group_id, n, female, birth_sum, birth_n])?;
            db.record_change(group_id);
        }
        Ok(())
    }
}

/// The statement that ends a batch for one group (`?1`): adds the new members' shares
/// (`?2` to `?5`) and recomputes its activity figures the way `activity::refresh_stats`
/// does, in one statement instead of four. The subqueries name the group by the row's
/// column and the days by value: SQLite (3.54) marks a parameter compared in a filter
/// term as worth a new plan when it changes, and then prepares the statement again on
/// every run once the statement cache has cleared its bindings.
fn groups_end(yesterday: i64) -> String {
    let first = yesterday - (ACTIVE_WINDOW_DAYS - 1);
    format!(
        "UPDATE groups SET member_count = member_count + ?2, female_count = female_count + ?3, \
         birth_sum = birth_sum + ?4, birth_n = birth_n + ?5, \
         yesterday_messages = (SELECT CAST(COALESCE(SUM(messages), 0) AS BIGINT) FROM activity \
                               WHERE group_id = groups.id AND day = {yesterday}), \
         active_members = (SELECT COUNT(DISTINCT a.user_id) FROM activity a \
                           JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
                           WHERE a.group_id = groups.id AND a.day BETWEEN {first} AND {yesterday} \
                           AND a.messages > 0), \
         stats_day = {yesterday} WHERE id = ?1"
    )
}

/// What a group line sets on a group that exists: every field it gives.
macro_rules! group_line_update {
    () => {
        "ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id, name = excluded.name, \
         category = excluded.category, description = excluded.description, announcement = excluded.announcement, \
         lat = excluded.lat, lon = excluded.lon, place_name = excluded.place_name, city = excluded.city, \
         district = excluded.district, adcode = excluded.adcode, join_approval = excluded.join_approval, \
         members_can_invite = excluded.members_can_invite, discoverable = excluded.discoverable, \
         created_at = excluded.created_at"
    };
}

/// Inserts a group with its own id, or updates every field a group line gives.
pub fn upsert_group(db: &Db<'_>, g: &ImportedGroup) -> DbResult<()> {
    db.exec(
        concat!(
            "INSERT INTO groups (id, owner_id, name, category, description, announcement, lat, lon, place_name, city, \
         district, adcode, join_approval, members_can_invite, discoverable, capacity, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17) ",
            group_line_update!()
        ),
        p![
            g.id,
            g.owner_id,
            g.name.as_str(),
            g.category.as_str(),
            g.description.as_str(),
            g.announcement.as_str(),
            g.place.location.as_ref().map(|l| l.lat),
            g.place.location.as_ref().map(|l| l.lon),
            g.place.location.as_ref().and_then(|l| l.place_name.clone()),
            g.place.city.clone(),
            g.place.district.clone(),
            g.place.adcode,
            g.join_approval,
            g.members_can_invite,
            g.discoverable,
            g.capacity,
            g.created_at
        ],
    )?;
    Ok(())
}

/// PostgreSQL: the attributes of the users among `ids` that exist.
pub fn people(db: &Db<'_>, ids: &[i64]) -> DbResult<HashMap<i64, Person>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(db
        .rows_for_ids("SELECT id, gender, birth_year, tier FROM users WHERE id = ANY($1::bigint[])", ids, |r| {
            Ok((
                r.get::<i64>(0)?,
                Person {
                    female: r.get::<String>(1)? == "female",
                    birth_year: r.get::<Option<i64>>(2)?.map(|y| y as i32),
                    tier: r.get(3)?,
                },
            ))
        })?
        .into_iter()
        .collect())
}

/// PostgreSQL: the owners of the live groups among `ids`.
pub fn owners(db: &Db<'_>, ids: &[i64]) -> DbResult<HashMap<i64, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(db
        .rows_for_ids(
            "SELECT id, owner_id FROM groups WHERE id = ANY($1::bigint[]) AND dissolved_at IS NULL",
            ids,
            |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
        )?
        .into_iter()
        .collect())
}

/// One batch of validated lines, merged the way line-by-line writes would leave them: a
/// later line for the same user, group or membership wins, fields it leaves out keep the
/// earlier line's value, and an event id counts once.
#[derive(Default)]
pub struct Staged {
    users: Vec<ImportedUser>,
    user_at: HashMap<i64, usize>,
    pub follows: Vec<(i64, i64)>,
    groups: Vec<ImportedGroup>,
    group_at: HashMap<i64, usize>,
    members: Vec<ImportedMember>,
    member_at: HashMap<(i64, i64), usize>,
    events: Vec<ActivityEvent>,
    event_ids: std::collections::HashSet<String>,
    /// The attributes of every owner and member named, as they stand at the end of the
    /// batch (the membership statistics count these).
    persons: HashMap<i64, Person>,
}

impl Staged {
    /// The users whose attributes `set_persons` must give.
    pub fn people_named(&self) -> Vec<i64> {
        self.groups.iter().map(|g| g.owner_id).chain(self.members.iter().map(|m| m.user_id)).collect()
    }

    pub fn set_persons(&mut self, persons: HashMap<i64, Person>) {
        self.persons = persons;
    }

    pub fn user(&mut self, mut u: ImportedUser) {
        match self.user_at.get(&u.id) {
            Some(&i) => {
                let old = &self.users[i].input;
                u.input.tier = u.input.tier.or_else(|| old.tier.clone());
                u.input.show_joined_groups = u.input.show_joined_groups.or(old.show_joined_groups);
                self.users[i] = u;
            }
            None => {
                self.user_at.insert(u.id, self.users.len());
                self.users.push(u);
            }
        }
    }

    pub fn group(&mut self, g: ImportedGroup) {
        match self.group_at.get(&g.id) {
            Some(&i) => self.groups[i] = g,
            None => {
                self.group_at.insert(g.id, self.groups.len());
                self.groups.push(g);
            }
        }
    }

    /// An event, unless one with its id came earlier in the batch.
    pub fn event(&mut self, e: ActivityEvent) {
        if self.event_ids.insert(e.event_id.clone().unwrap_or_default()) {
            self.events.push(e);
        }
    }

    /// The batch's members and events in `n` parts by ranges of group ids (each group in
    /// one part, and neighbouring groups together, so the parts seldom share an index
    /// page), with the attributes of the people they name; users, groups and follows stay.
    pub fn parts(&mut self, n: usize) -> Vec<Staged> {
        let mut parts: Vec<Staged> = (0..n).map(|_| Staged::default()).collect();
        let mut ids: Vec<i64> =
            self.members.iter().map(|m| m.group_id).chain(self.events.iter().map(|e| e.group_id)).collect();
        ids.sort_unstable();
        // The first group id of each part after the first.
        let bounds: Vec<i64> = (1..n).filter_map(|k| ids.get(k * ids.len() / n).copied()).collect();
        let at = |g: i64| bounds.iter().take_while(|b| g >= **b).count();
        for m in std::mem::take(&mut self.members) {
            let part = &mut parts[at(m.group_id)];
            if let Some(p) = self.persons.get(&m.user_id) {
                part.persons.insert(m.user_id, p.clone());
            }
            part.members.push(m);
        }
        self.member_at.clear();
        for e in std::mem::take(&mut self.events) {
            parts[at(e.group_id)].events.push(e);
        }
        parts
    }

    pub fn member(&mut self, mut m: ImportedMember) {
        match self.member_at.get(&(m.group_id, m.user_id)) {
            Some(&i) => {
                m.joined_at = m.joined_at.or(self.members[i].joined_at);
                self.members[i] = m;
            }
            None => {
                self.member_at.insert((m.group_id, m.user_id), self.members.len());
                self.members.push(m);
            }
        }
    }
}

/// A field of `COPY … FROM STDIN` text format.
fn field(out: &mut String, value: Option<&str>) {
    match value {
        None => out.push_str("\\N"),
        Some(v) => {
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

fn num(out: &mut String, value: Option<impl std::fmt::Display>) {
    match value {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("\\N"),
    }
}

/// A member's `female` and `birth_year` fields.
fn person(out: &mut String, p: Option<&Person>) {
    num(out, p.map(|p| p.female));
    out.push('\t');
    num(out, p.and_then(|p| p.birth_year));
}

/// Ends a row (replacing the last tab with a newline).
fn end_row(out: &mut String) {
    if out.ends_with('\t') {
        out.pop();
    }
    out.push('\n');
}

/// Follows a `seated` CTE of upserted memberships (`inserted` true for new rows) joined
/// to the staged rows `p` that carry each member's attributes (`female`, `birth_year`, as
/// they stand at the end of the batch): adds each new member's share to the group's
/// membership statistics.
fn joined_stats(staged_join: &str) -> String {
    format!(
        "UPDATE groups g SET member_count = member_count + d.n, female_count = female_count + d.f, \
         birth_sum = birth_sum + d.s, birth_n = birth_n + d.b \
         FROM (SELECT i.group_id, COUNT(*) AS n, SUM(p.female::int) AS f, \
                      COALESCE(SUM(p.birth_year), 0) AS s, COUNT(p.birth_year) AS b \
               FROM seated i JOIN {staged_join} WHERE i.inserted GROUP BY i.group_id) AS d \
         WHERE g.id = d.group_id"
    )
}

const STAGING: &str = "\
    CREATE TEMP TABLE s_users (id BIGINT, nickname TEXT, gender TEXT, birth_year BIGINT, tier TEXT, show BOOLEAN) \
        ON COMMIT DROP; \
    CREATE TEMP TABLE s_groups (id BIGINT, owner_id BIGINT, name TEXT, category TEXT, description TEXT, \
        announcement TEXT, lat DOUBLE PRECISION, lon DOUBLE PRECISION, place_name TEXT, city TEXT, district TEXT, \
        adcode BIGINT, join_approval BOOLEAN, members_can_invite BOOLEAN, discoverable BOOLEAN, capacity BIGINT, \
        created_at BIGINT, female BOOLEAN, birth_year BIGINT, m_field TEXT, m_reason TEXT, m_evidence TEXT) \
        ON COMMIT DROP; \
    CREATE TEMP TABLE s_members (group_id BIGINT, user_id BIGINT, role TEXT, joined_at BIGINT, female BOOLEAN, \
        birth_year BIGINT) ON COMMIT DROP; \
    CREATE TEMP TABLE s_events (group_id BIGINT, day BIGINT, user_id BIGINT, messages BIGINT, event_id TEXT) \
        ON COMMIT DROP; \
    CREATE TEMP TABLE t_groups (id BIGINT PRIMARY KEY) ON COMMIT DROP; \
    CREATE TEMP TABLE owner_check (id BIGINT PRIMARY KEY) ON COMMIT DROP; \
    SET LOCAL work_mem = '256MB'";

/// PostgreSQL: follows, staged with COPY (a follow changes no statistic and no group).
pub fn load_follows(db: &Db<'_>, follows: &[(i64, i64)], now: i64) -> DbResult<()> {
    db.batch("CREATE TEMP TABLE s_follows (src BIGINT, dst BIGINT) ON COMMIT DROP")?;
    let mut buf = String::with_capacity(follows.len() * 16);
    for (a, b) in follows {
        let _ = writeln!(buf, "{a}\t{b}");
    }
    db.copy_in("COPY s_follows FROM STDIN", buf.as_bytes())?;
    db.exec(
        "INSERT INTO follows (src, dst, created_at) SELECT src, dst, CAST(?1 AS BIGINT) FROM s_follows \
         ON CONFLICT DO NOTHING",
        p![now],
    )?;
    Ok(())
}

/// PostgreSQL, first of a batch: its users and groups (owners seated). Notes every group
/// it touched as changed.
pub fn load_head(db: &Db<'_>, staged: &Staged, yesterday: i64, now: i64) -> DbResult<()> {
    db.batch(STAGING)?;
    let mut buf = String::new();

    if !staged.users.is_empty() {
        buf.clear();
        for u in &staged.users {
            let i = &u.input;
            num(&mut buf, Some(u.id));
            buf.push('\t');
            field(&mut buf, Some(i.nickname.as_str()));
            buf.push('\t');
            field(&mut buf, Some(i.gender.as_str()));
            buf.push('\t');
            num(&mut buf, i.birth_year);
            buf.push('\t');
            field(&mut buf, i.tier.as_deref());
            buf.push('\t');
            num(&mut buf, i.show_joined_groups);
            end_row(&mut buf);
        }
        db.copy_in("COPY s_users FROM STDIN", buf.as_bytes())?;
        db.batch("ANALYZE s_users")?;
        // Members whose gender or birth year changes move their groups' statistics from
        // the old values to the new (before the users change).
        db.batch(
            "CREATE TEMP TABLE moved ON COMMIT DROP AS \
             SELECT m.group_id, \
                    SUM((s.gender = 'female')::int - (u.gender = 'female')::int) AS f, \
                    SUM(COALESCE(s.birth_year, 0) - COALESCE(u.birth_year, 0)) AS s, \
                    SUM((s.birth_year IS NOT NULL)::int - (u.birth_year IS NOT NULL)::int) AS b \
             FROM s_users s JOIN users u ON u.id = s.id JOIN members m ON m.user_id = s.id \
             WHERE u.gender <> s.gender OR u.birth_year IS DISTINCT FROM s.birth_year GROUP BY m.group_id; \
             UPDATE groups g SET female_count = female_count + d.f, birth_sum = birth_sum + d.s, \
             birth_n = birth_n + d.b FROM moved d WHERE g.id = d.group_id; \
             INSERT INTO t_groups SELECT group_id FROM moved ON CONFLICT DO NOTHING; \
             DROP TABLE moved",
        )?;
        db.exec(
            "UPDATE users u SET nickname = s.nickname, gender = s.gender, birth_year = s.birth_year, \
             tier = COALESCE(s.tier, u.tier), show_joined_groups = COALESCE(s.show, u.show_joined_groups), \
             updated_at = ?1 FROM s_users s WHERE u.id = s.id",
            p![now],
        )?;
        db.exec(
            "INSERT INTO users (id, nickname, gender, birth_year, tier, show_joined_groups, created_at, updated_at) \
             SELECT s.id, s.nickname, s.gender, s.birth_year, COALESCE(s.tier, 'normal'), COALESCE(s.show, FALSE), \
             ?1, ?1 FROM s_users s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.id)",
            p![now],
        )?;
    }

    if !staged.groups.is_empty() {
        buf.clear();
        for g in &staged.groups {
            let loc = g.place.location.as_ref();
            num(&mut buf, Some(g.id));
            buf.push('\t');
            num(&mut buf, Some(g.owner_id));
            buf.push('\t');
            for text in [&g.name, &g.category, &g.description, &g.announcement] {
                field(&mut buf, Some(text));
                buf.push('\t');
            }
            num(&mut buf, loc.map(|l| l.lat));
            buf.push('\t');
            num(&mut buf, loc.map(|l| l.lon));
            buf.push('\t');
            field(&mut buf, loc.and_then(|l| l.place_name.as_deref()));
            buf.push('\t');
            field(&mut buf, g.place.city.as_deref());
            buf.push('\t');
            field(&mut buf, g.place.district.as_deref());
            buf.push('\t');
            num(&mut buf, Some(g.place.adcode));
            buf.push('\t');
            for flag in [g.join_approval, g.members_can_invite, g.discoverable] {
                num(&mut buf, Some(flag));
                buf.push('\t');
            }
            num(&mut buf, Some(g.capacity));
            buf.push('\t');
            num(&mut buf, Some(g.created_at));
            buf.push('\t');
            person(&mut buf, staged.persons.get(&g.owner_id));
            buf.push('\t');
            let f = g.flag.as_ref();
            field(&mut buf, f.map(|f| f.field));
            buf.push('\t');
            field(&mut buf, f.map(|f| f.finding.reason.as_str()));
            buf.push('\t');
            field(&mut buf, f.map(|f| f.finding.evidence.as_str()));
            end_row(&mut buf);
        }
        db.copy_in("COPY s_groups FROM STDIN", buf.as_bytes())?;
        db.batch("ANALYZE s_groups")?;
        // Groups new or with other texts: the screen's verdict applies (below).
        db.batch(
            "CREATE TEMP TABLE retexted ON COMMIT DROP AS SELECT s.id FROM s_groups s \
             LEFT JOIN groups g ON g.id = s.id AND g.dissolved_at IS NULL \
             WHERE g.id IS NULL OR g.name <> s.name OR g.description <> s.description \
                OR g.announcement <> s.announcement",
        )?;
        // Groups whose owner changes: their old owner stays on as a plain member.
        db.batch(
            "INSERT INTO owner_check SELECT s.id FROM s_groups s JOIN groups g ON g.id = s.id \
             WHERE g.owner_id <> s.owner_id ON CONFLICT DO NOTHING",
        )?;
        // A new group starts with no activity, as of yesterday.
        db.batch(
            &(format!(
            "INSERT INTO groups (id, owner_id, name, category, description, announcement, lat, lon, place_name, city, \
             district, adcode, join_approval, members_can_invite, discoverable, capacity, created_at, updated_at, \
             stats_day) \
             SELECT id, owner_id, name, category, description, announcement, lat, lon, place_name, city, district, \
             adcode, join_approval, members_can_invite, discoverable, capacity, created_at, created_at, {yesterday} \
             FROM s_groups \
             {update}; \
             INSERT INTO t_groups SELECT id FROM s_groups ON CONFLICT DO NOTHING; \
             WITH seated AS (INSERT INTO members (group_id, user_id, role, joined_at) \
                             SELECT id, owner_id, 'owner', created_at FROM s_groups \
                             ON CONFLICT (group_id, user_id) DO UPDATE SET role = 'owner' \
                             WHERE members.role <> 'owner' \
                             RETURNING group_id, user_id, (xmax = 0) AS inserted) ",
            update = group_line_update!()
        ) + &joined_stats("s_groups p ON p.id = i.group_id AND p.owner_id = i.user_id")
                + "; DELETE FROM join_requests j USING s_groups s WHERE j.group_id = s.id AND j.user_id = s.owner_id"),
        )?;
        db.batch(&format!(
            "INSERT INTO moderation (group_id, status, field, reason, evidence, at) \
             SELECT s.id, 'held', s.m_field, s.m_reason, s.m_evidence, {now} FROM s_groups s \
             JOIN retexted r ON r.id = s.id WHERE s.m_reason IS NOT NULL \
             ON CONFLICT (group_id) DO UPDATE SET status = 'held', field = excluded.field, \
             reason = excluded.reason, evidence = excluded.evidence, at = excluded.at; \
             INSERT INTO moderation_log (group_id, status, decided_by, field, reason, evidence, at) \
             SELECT s.id, 'held', 'screen', s.m_field, s.m_reason, s.m_evidence, {now} FROM s_groups s \
             JOIN retexted r ON r.id = s.id WHERE s.m_reason IS NOT NULL; \
             UPDATE groups g SET moderation = 'held' FROM s_groups s \
             WHERE g.id = s.id AND s.m_reason IS NOT NULL AND g.moderation <> 'held' \
             AND s.id IN (SELECT id FROM retexted); \
             INSERT INTO moderation_log (group_id, status, decided_by, field, reason, evidence, at) \
             SELECT m.group_id, 'clear', 'screen', m.field, m.reason, m.evidence, {now} FROM moderation m \
             JOIN retexted r ON r.id = m.group_id JOIN s_groups s ON s.id = m.group_id WHERE s.m_reason IS NULL; \
             DELETE FROM moderation m USING retexted r, s_groups s \
             WHERE m.group_id = r.id AND s.id = r.id AND s.m_reason IS NULL; \
             UPDATE groups g SET moderation = 'clear' FROM retexted r, s_groups s \
             WHERE g.id = r.id AND s.id = r.id AND s.m_reason IS NULL AND g.moderation <> 'clear'"
        ))?;
    }

    finish(db, yesterday)
}

/// PostgreSQL, after `load_head`: one part of a batch's members and activity. Parts hold
/// disjoint sets of groups (`Staged::parts`), so they are written side by side on two
/// connections without touching one row twice. Notes every group it touched as changed.
pub fn load_tail(db: &Db<'_>, staged: &Staged, yesterday: i64, now: i64) -> DbResult<()> {
    db.batch(STAGING)?;
    let mut buf = String::new();
    if !staged.members.is_empty() {
        buf.clear();
        for m in &staged.members {
            let _ = write!(buf, "{}\t{}\t{}\t", m.group_id, m.user_id, m.role.as_str());
            num(&mut buf, m.joined_at);
            buf.push('\t');
            person(&mut buf, staged.persons.get(&m.user_id));
            end_row(&mut buf);
        }
        db.copy_in("COPY s_members FROM STDIN", buf.as_bytes())?;
        db.batch("ANALYZE s_members")?;
        // One upsert; a line without joined_at keeps the stored one, and a new member
        // without it joins now (-1 marks them for the second statement).
        db.batch(&(
            "WITH seated AS (INSERT INTO members (group_id, user_id, role, joined_at) \
                             SELECT group_id, user_id, role, COALESCE(joined_at, -1) FROM s_members \
                             ON CONFLICT (group_id, user_id) DO UPDATE SET role = excluded.role, \
                             joined_at = CASE WHEN excluded.joined_at = -1 THEN members.joined_at \
                                              ELSE excluded.joined_at END \
                             WHERE members.role <> excluded.role \
                                OR (excluded.joined_at <> -1 AND members.joined_at <> excluded.joined_at) \
                             RETURNING group_id, user_id, (xmax = 0) AS inserted) "
            .to_string()
            + &joined_stats("s_members p ON p.group_id = i.group_id AND p.user_id = i.user_id")
            + "; DELETE FROM join_requests j USING s_members s WHERE j.group_id = s.group_id AND j.user_id = s.user_id; \
             INSERT INTO t_groups SELECT DISTINCT group_id FROM s_members ON CONFLICT DO NOTHING"),
        )?;
        db.exec(
            "UPDATE members m SET joined_at = ?1 FROM s_members s \
             WHERE s.joined_at IS NULL AND m.group_id = s.group_id AND m.user_id = s.user_id AND m.joined_at = -1",
            p![now],
        )?;
    }

    if !staged.events.is_empty() {
        buf.clear();
        for e in &staged.events {
            let id = e.event_id.as_deref().unwrap_or_default();
            let _ = write!(buf, "{}\t{}\t{}\t{}\t", e.group_id, e.day, e.user_id, e.messages);
            field(&mut buf, Some(id));
            end_row(&mut buf);
        }
        db.copy_in("COPY s_events FROM STDIN", buf.as_bytes())?;
        db.batch("ANALYZE s_events")?;
        db.batch(
            "WITH fresh AS (INSERT INTO activity_events (event_id) SELECT event_id FROM s_events \
                            ON CONFLICT DO NOTHING RETURNING event_id) \
             INSERT INTO activity (group_id, day, user_id, messages) \
             SELECT s.group_id, s.day, s.user_id, CAST(SUM(s.messages) AS BIGINT) FROM s_events s \
             JOIN fresh f ON f.event_id = s.event_id GROUP BY s.group_id, s.day, s.user_id \
             ON CONFLICT (group_id, day, user_id) DO UPDATE SET messages = activity.messages + excluded.messages",
        )?;
        db.exec(
            "INSERT INTO t_groups SELECT DISTINCT group_id FROM s_events WHERE day BETWEEN ?1 AND ?2 \
             ON CONFLICT DO NOTHING",
            p![yesterday - (ACTIVE_WINDOW_DAYS - 1), yesterday],
        )?;
    }

    finish(db, yesterday)
}

/// The end of either step: owners checked, the activity figures of every touched group,
/// and each noted as changed.
fn finish(db: &Db<'_>, yesterday: i64) -> DbResult<()> {
    db.batch("ANALYZE t_groups")?;
    // The owner the group row names is its only member with the role owner: checked
    // where the owner changed or a member line named the role owner.
    db.batch(
        "INSERT INTO owner_check SELECT DISTINCT group_id FROM s_members WHERE role = 'owner' ON CONFLICT DO NOTHING; \
         UPDATE members m SET role = 'member' FROM owner_check t, groups g \
         WHERE t.id = g.id AND m.group_id = g.id AND m.role = 'owner' AND m.user_id <> g.owner_id",
    )?;
    // Every statistic of every touched group, from its rows.
    // The activity figures of every touched group: a group without activity in the
    // window has none; the others are counted from their rows, each group's through its
    // primary key (LATERAL, no sequential scans: during a bulk load the tables grow faster
    // than their statistics, and a plan made for a "small" table would scan it once per
    // group).
    db.exec(
        "UPDATE groups g SET yesterday_messages = 0, active_members = 0, stats_day = ?1 FROM t_groups t \
         WHERE g.id = t.id AND (g.yesterday_messages <> 0 OR g.active_members <> 0 OR g.stats_day <> ?1) \
         AND NOT EXISTS (SELECT 1 FROM activity a WHERE a.group_id = t.id AND a.day BETWEEN ?2 AND ?1)",
        p![yesterday, yesterday - (ACTIVE_WINDOW_DAYS - 1)],
    )?;
    db.batch("SET LOCAL enable_seqscan = off")?;
    db.exec(
        "UPDATE groups g SET yesterday_messages = y.m, active_members = w.a, stats_day = ?1 \
         FROM t_groups t \
         CROSS JOIN LATERAL (SELECT CAST(COALESCE(SUM(a.messages), 0) AS BIGINT) AS m FROM activity a \
                             WHERE a.group_id = t.id AND a.day = ?1) y \
         CROSS JOIN LATERAL (SELECT COUNT(DISTINCT a.user_id) AS a FROM activity a \
                             JOIN members m ON m.group_id = a.group_id AND m.user_id = a.user_id \
                             WHERE a.group_id = t.id AND a.day BETWEEN ?2 AND ?1 AND a.messages > 0) w \
         WHERE g.id = t.id AND EXISTS \
               (SELECT 1 FROM activity a WHERE a.group_id = t.id AND a.day BETWEEN ?2 AND ?1)",
        p![yesterday, yesterday - (ACTIVE_WINDOW_DAYS - 1)],
    )?;
    db.batch("SET LOCAL enable_seqscan = on")?;
    for id in db.rows("SELECT id FROM t_groups", p![], |r| r.get::<i64>(0))? {
        db.record_change(id);
    }
    Ok(())
}
