//! `groupscout check [--repair]`: audits the derived state against the truth. Every live
//! group's statistics are recomputed from members and activity and compared with what
//! `groups` stores; owners must be members with the role `owner`, and nobody else may hold
//! it; the current index generation must hold exactly the discoverable live groups, once
//! each, with their stored name, category, area, flags and location.
//!
//! The store is read in one read transaction (a consistent snapshot while `serve` writes)
//! and set-wise: one pass over `members` grouped by group, merged with the groups as both
//! stream in id order. The index is read through a reader only. Its commit covers the
//! `changes` up to some seq; a group with a change after that seq may legitimately differ
//! from the index (the indexer runs up to half a second behind), so such groups are left
//! out of the index comparison and counted instead. Every other group's document must
//! match the snapshot, because the index state at its seq already reflects the group's
//! last change.
//!
//! `--repair` mends each group found wrong in short write transactions (see
//! `store::audit::repair_group`), each with a `changes` row so a running server's indexer
//! re-reads it. When no server holds the index writer, the changes are applied to the
//! current generation directly, so a second `check` can verify the index at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Instant;

use crate::domain::stats::avg_age;
use crate::domain::CategoryList;
pub use crate::index::audit::CatchUp;
use crate::index::audit::{self, IndexedDoc};
use crate::store::audit::{repair_group, scan_groups, GroupFacts};
use crate::store::Store;

/// Groups mended per write transaction: short enough that API writes barely wait.
const REPAIR_BATCH: usize = 200;

/// What can be wrong with a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The stored `member_count` is not the number of member rows.
    MemberCount,
    /// The stored `female_count` is not the number of female members.
    FemaleCount,
    /// The stored birth-year sum or count (hence `avg_age`) does not match the members.
    AvgAge,
    /// The stored `yesterday_messages` does not match the buckets of its stats day.
    YesterdayMessages,
    /// The stored `active_members` does not match the buckets of the seven days.
    ActiveMembers,
    /// The owner is not a member.
    OwnerNotMember,
    /// The owner is a member with another role.
    OwnerRole,
    /// A member other than the owner has the role `owner`.
    ExtraOwner,
    /// Member rows of a dissolved or unknown group.
    OrphanMembers,
    /// A discoverable live group has no document.
    IndexMissing,
    /// A document for a group that is dissolved, unknown or not discoverable.
    IndexExtra,
    /// A group has more than one document.
    IndexDuplicate,
    /// A document's fields differ from the group's row.
    IndexFields,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::MemberCount => "member_count",
            Kind::FemaleCount => "female_count",
            Kind::AvgAge => "avg_age",
            Kind::YesterdayMessages => "yesterday_messages",
            Kind::ActiveMembers => "active_members",
            Kind::OwnerNotMember => "owner_not_member",
            Kind::OwnerRole => "owner_role",
            Kind::ExtraOwner => "extra_owner",
            Kind::OrphanMembers => "orphan_members",
            Kind::IndexMissing => "index_missing",
            Kind::IndexExtra => "index_extra",
            Kind::IndexDuplicate => "index_duplicate",
            Kind::IndexFields => "index_fields",
        }
    }
}

/// One thing found wrong.
#[derive(Debug, Clone)]
pub struct Discrepancy {
    pub group_id: i64,
    pub kind: Kind,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {}: {}: expected {}, found {}", self.group_id, self.kind.name(), self.expected, self.found)
    }
}

/// What one run found (and mended).
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Live groups checked.
    pub groups: u64,
    pub counts: BTreeMap<Kind, u64>,
    /// The first discrepancies, in id order.
    pub first: Vec<Discrepancy>,
    /// Groups with more members than capacity: (id, members, capacity), the first few.
    /// Not a discrepancy: imports are trusted with capacity, and nothing can be mended
    /// without removing someone.
    pub over_capacity: Vec<(i64, i64, i64)>,
    pub over_capacity_count: u64,
    /// Groups whose activity figures are for another day than yesterday (a roll-up is due).
    pub other_stats_day: u64,
    /// The generation compared and the seq its commit covers; `None` without an index.
    pub index: Option<(String, i64)>,
    /// Groups left out of the index comparison: they changed after the index's seq.
    pub newer_than_index: u64,
    /// The newest change in the store's snapshot. Below the index's seq, the index was
    /// built from another database (seqs never go back); a reindex is the remedy.
    pub store_seq: i64,
    pub repair: Option<RepairSummary>,
    pub seconds: f64,
}

impl CheckReport {
    pub fn discrepancies(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        let kinds = if self.counts.is_empty() {
            "none".to_string()
        } else {
            self.counts.iter().map(|(k, n)| format!("{} {n}", k.name())).collect::<Vec<_>>().join(", ")
        };
        let index = match &self.index {
            Some((g, seq)) => format!("index {g} at seq {seq}, {} groups newer not compared", self.newer_than_index),
            None => "no index".to_string(),
        };
        format!(
            "check: {} groups, {} discrepancies ({kinds}), {} over capacity, {index}, {:.2} s",
            self.groups,
            self.discrepancies(),
            self.over_capacity_count,
            self.seconds
        )
    }
}

/// What `--repair` did.
#[derive(Debug, Clone, Copy)]
pub struct RepairSummary {
    /// Groups mended (each got a `changes` row).
    pub groups: u64,
    pub index: CatchUp,
}

/// Collects discrepancies: counts by kind, the first `show` in full, the ids to mend.
struct Findings {
    counts: BTreeMap<Kind, u64>,
    first: Vec<Discrepancy>,
    show: usize,
    to_repair: BTreeSet<i64>,
}

impl Findings {
    fn add(&mut self, group_id: i64, kind: Kind, expected: impl fmt::Display, found: impl fmt::Display) {
        *self.counts.entry(kind).or_default() += 1;
        if self.first.len() < self.show {
            self.first.push(Discrepancy { group_id, kind, expected: expected.to_string(), found: found.to_string() });
        }
        self.to_repair.insert(group_id);
    }
}

/// Runs the audit; `progress` is called with the number of groups checked so far.
/// With `repair`, every group found wrong is mended afterwards.
pub fn check(
    store: &Store,
    index_root: &Path,
    repair: bool,
    show: usize,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<CheckReport> {
    let started = Instant::now();
    let year = store.ctx.current_year();
    let yesterday = store.yesterday();
    let categories = &store.ctx.categories;
    // The index first: its seq then bounds what the snapshot taken after it must agree with.
    let index = audit::read_current(index_root)?;
    let index_seq = index.as_ref().map_or(i64::MAX, |i| i.seq);
    let docs: &[IndexedDoc] = index.as_ref().map_or(&[], |i| &i.docs);
    let mut report =
        CheckReport { index: index.as_ref().map(|i| (i.generation.clone(), i.seq)), ..CheckReport::default() };
    let mut found = Findings { counts: BTreeMap::new(), first: Vec::new(), show, to_repair: BTreeSet::new() };
    // Documents of ids that are not live groups, judged once the snapshot's newer changes
    // are known.
    let mut stray_docs: Vec<i64> = Vec::new();
    let mut pos = 0;

    let tail = store.snapshot(|db| {
        scan_groups(db, index_seq, |facts: GroupFacts| {
            let GroupFacts { group, members: t, activity: a, changed_after_index } = facts;
            let g = &group.row;
            let id = g.id;
            report.groups += 1;
            if report.groups.is_multiple_of(10_000) {
                progress(report.groups);
            }
            if group.stats_day != yesterday {
                report.other_stats_day += 1;
            }

            // Statistics.
            if g.member_count != t.members {
                found.add(id, Kind::MemberCount, t.members, g.member_count);
            }
            if g.female_count != t.female {
                found.add(id, Kind::FemaleCount, t.female, g.female_count);
            }
            if (g.birth_sum, g.birth_n) != (t.birth_sum, t.birth_n) {
                let show_age = |sum, n| match avg_age(year, sum, n) {
                    Some(age) => format!("{age} (birth years {sum} over {n})"),
                    None => format!("null (birth years {sum} over {n})"),
                };
                found.add(id, Kind::AvgAge, show_age(t.birth_sum, t.birth_n), show_age(g.birth_sum, g.birth_n));
            }
            if g.yesterday_messages != a.yesterday_messages {
                found.add(id, Kind::YesterdayMessages, a.yesterday_messages, g.yesterday_messages);
            }
            if g.active_members != a.active_members {
                found.add(id, Kind::ActiveMembers, a.active_members, g.active_members);
            }

            // The owner and the roles.
            let owner_is_owner = group.owner_role.as_deref() == Some("owner");
            match group.owner_role.as_deref() {
                None => found.add(id, Kind::OwnerNotMember, format!("user {} a member", g.owner_id), "no row"),
                Some("owner") => {}
                Some(role) => found.add(id, Kind::OwnerRole, format!("user {} owner", g.owner_id), role),
            }
            let others = t.owner_roles - i64::from(owner_is_owner);
            if others > 0 {
                found.add(id, Kind::ExtraOwner, "no other member with role owner", format!("{others}"));
            }
            if t.members > g.capacity {
                report.over_capacity_count += 1;
                if report.over_capacity.len() < show {
                    report.over_capacity.push((id, t.members, g.capacity));
                }
            }

            // The index: documents before this id belong to no live group.
            while pos < docs.len() && docs[pos].id < id {
                if pos == 0 || docs[pos - 1].id != docs[pos].id {
                    stray_docs.push(docs[pos].id);
                }
                pos += 1;
            }
            let start = pos;
            while pos < docs.len() && docs[pos].id == id {
                pos += 1;
            }
            let held = &docs[start..pos];
            if index.is_some() && !changed_after_index {
                if !g.listed() {
                    if !held.is_empty() {
                        found.add(
                            id,
                            Kind::IndexExtra,
                            "no document (not discoverable, or held by moderation)",
                            format!("{} documents", held.len()),
                        );
                    }
                } else if held.is_empty() {
                    found.add(id, Kind::IndexMissing, "a document", "none");
                } else if held.len() > 1 {
                    found.add(id, Kind::IndexDuplicate, "one document", format!("{} documents", held.len()));
                } else {
                    let want = IndexedDoc::expected(g, categories);
                    if let Some((expected, was)) = differences(&want, &held[0], &g.name, categories) {
                        found.add(id, Kind::IndexFields, expected, was);
                    }
                }
            } else if index.is_some() {
                report.newer_than_index += 1;
            }
            Ok(())
        })
    })?;
    progress(report.groups);
    report.store_seq = tail.max_seq;
    stray_docs.extend(docs[pos..].iter().map(|d| d.id));
    stray_docs.dedup();
    for id in stray_docs {
        if !tail.changed_after_index.contains(&id) {
            found.add(id, Kind::IndexExtra, "no document (dissolved or unknown)", "a document");
        }
    }
    for (id, rows) in &tail.orphan_members {
        found.add(*id, Kind::OrphanMembers, "no member rows (dissolved or unknown)", format!("{rows} rows"));
    }
    found.first.sort_by_key(|d| (d.group_id, d.kind));

    if repair && !found.to_repair.is_empty() {
        let ids: Vec<i64> = found.to_repair.iter().copied().collect();
        for chunk in ids.chunks(REPAIR_BATCH) {
            store.write(|db| -> crate::store::DbResult<()> {
                for id in chunk {
                    repair_group(db, *id)?;
                }
                Ok(())
            })?;
        }
        let index = audit::catch_up(store, index_root)?;
        report.repair = Some(RepairSummary { groups: ids.len() as u64, index });
    }
    report.counts = found.counts;
    report.first = found.first;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The fields in which a document differs from the one expected, as (expected, found).
fn differences(want: &IndexedDoc, got: &IndexedDoc, name: &str, categories: &CategoryList) -> Option<(String, String)> {
    let category = |ord: u64| categories.ids().nth(ord as usize).unwrap_or("?").to_string();
    let mut expected = Vec::new();
    let mut found = Vec::new();
    let mut differ = |name: &str, w: String, g: String| {
        expected.push(format!("{name} {w}"));
        found.push(format!("{name} {g}"));
    };
    if want.name_print != got.name_print {
        differ("name", format!("{name:?}"), format!("another name (print {:016x})", got.name_print));
    }
    if want.cat_ord != got.cat_ord {
        differ("category", category(want.cat_ord), category(got.cat_ord));
    }
    if want.adcode != got.adcode {
        differ("adcode", want.adcode.to_string(), got.adcode.to_string());
    }
    if want.flags != got.flags {
        differ("flags", format!("{:02b}", want.flags), format!("{:02b}", got.flags));
    }
    if want.location != got.location {
        differ("location", format!("{:?}", want.location), format!("{:?}", got.location));
    }
    (!expected.is_empty()).then(|| (expected.join(", "), found.join(", ")))
}

/// What a serving node answered to the audit of its served totals
/// (`POST /v1/admin/check/served`, `service::totals`).
#[derive(Debug)]
pub enum Served {
    /// Nothing answers at the address.
    NoServer,
    /// The node's report: differences before, and after a repair if one was asked for.
    Report {
        compared: bool,
        words: u64,
        categories: u64,
        seq: i64,
        differences: Vec<String>,
        after: Option<Vec<String>>,
    },
}

/// Asks the node at `address` (`host:port`) to audit the totals it serves.
pub fn served_totals(address: &str, admin_token: &str, repair: bool) -> anyhow::Result<Served> {
    use std::io::{Read, Write};
    let address = address.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = match std::net::TcpStream::connect(address) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(Served::NoServer),
        Err(e) => return Err(anyhow::anyhow!("failed to reach {address}: {e}")),
    };
    stream.set_read_timeout(Some(std::time::Duration::from_secs(300)))?;
    write!(
        stream,
        "POST /v1/admin/check/served?repair={repair} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {admin_token}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| anyhow::anyhow!("{address}: not an HTTP answer"))?;
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        anyhow::bail!("{address} answered {status}: {body}");
    }
    let doc: serde_json::Value = serde_json::from_str(body)?;
    let lines = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        format!(
                            "{}: expected total {} {}, served total {} {}",
                            d["query"].as_str().unwrap_or(""),
                            d["expected"]["total"],
                            d["expected"]["facets"],
                            d["found"]["total"],
                            d["found"]["facets"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Served::Report {
        compared: doc["compared"].as_bool().unwrap_or(false),
        words: doc["words"].as_u64().unwrap_or(0),
        categories: doc["categories"].as_u64().unwrap_or(0),
        seq: doc["seq"].as_i64().unwrap_or(0),
        differences: lines(&doc["differences"]),
        after: doc.get("after_repair").map(lines),
    })
}
