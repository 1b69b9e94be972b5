//! The rows the store hands out, and the card (SPEC §2) built from a group row.

use super::db::{DbResult, Row};
use serde::Serialize;

use crate::domain::stats::avg_age;

/// Every column a card, the index and the ranking need, read with one column list.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub category: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub place_name: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub adcode: u64,
    pub join_approval: bool,
    pub members_can_invite: bool,
    pub discoverable: bool,
    pub capacity: i64,
    pub created_at: i64,
    pub member_count: i64,
    pub female_count: i64,
    pub birth_sum: i64,
    pub birth_n: i64,
    pub yesterday_messages: i64,
    pub active_members: i64,
    /// Held out of discovery by moderation (status `held` or `confirmed`, SPEC §5).
    pub held: bool,
    /// Listed for review (status `review`, SPEC §7): still found by search and nearby,
    /// kept out of recommendations.
    pub review: bool,
}

#[cfg(test)]
impl GroupRow {
    /// A plain discoverable group of one member, without a location, for unit tests.
    pub fn sample(id: i64) -> GroupRow {
        GroupRow {
            id,
            owner_id: 1,
            name: format!("群{id}"),
            category: "outdoor".into(),
            lat: None,
            lon: None,
            place_name: None,
            city: None,
            district: None,
            adcode: 0,
            join_approval: false,
            members_can_invite: true,
            discoverable: true,
            capacity: 200,
            created_at: 0,
            member_count: 1,
            female_count: 0,
            birth_sum: 0,
            birth_n: 0,
            yesterday_messages: 0,
            active_members: 0,
            held: false,
            review: false,
        }
    }
}

/// The SELECT list matching `GroupRow::from_row`, for a table aliased `g`.
pub const GROUP_COLUMNS: &str = "g.id, g.owner_id, g.name, g.category, g.lat, g.lon, g.place_name, g.city, \
     g.district, g.adcode, g.join_approval, g.members_can_invite, g.discoverable, g.capacity, g.created_at, \
     g.member_count, g.female_count, g.birth_sum, g.birth_n, g.yesterday_messages, g.active_members, g.moderation";

/// How many columns `GROUP_COLUMNS` names: a query's own columns start here.
pub const GROUP_COLUMN_COUNT: usize = 22;

impl GroupRow {
    pub fn from_row(r: &Row<'_>) -> DbResult<GroupRow> {
        Ok(GroupRow {
            id: r.get(0)?,
            owner_id: r.get(1)?,
            name: r.get(2)?,
            category: r.get(3)?,
            lat: r.get(4)?,
            lon: r.get(5)?,
            place_name: r.get(6)?,
            city: r.get(7)?,
            district: r.get(8)?,
            adcode: r.get::<i64>(9)? as u64,
            join_approval: r.get(10)?,
            members_can_invite: r.get(11)?,
            discoverable: r.get(12)?,
            capacity: r.get(13)?,
            created_at: r.get(14)?,
            member_count: r.get(15)?,
            female_count: r.get(16)?,
            birth_sum: r.get(17)?,
            birth_n: r.get(18)?,
            yesterday_messages: r.get(19)?,
            active_members: r.get(20)?,
            held: matches!(r.get::<String>(21)?.as_str(), "held" | "confirmed"),
            review: r.get::<String>(21)? == "review",
        })
    }

    /// Whether discovery shows the group to everyone: discoverable and not held by
    /// moderation. Search, nearby, suggest, recommendations and other people's profile
    /// lists show only these; to others the rest do not exist.
    pub fn listed(&self) -> bool {
        self.discoverable && !self.held
    }

    pub fn has_room(&self) -> bool {
        self.member_count < self.capacity
    }

    pub fn location(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?))
    }

    /// The card of SPEC §2; `distance_m` when the request gave a location. Below
    /// `privacy_min_members` members the card leaves out `female_count` and `avg_age`.
    pub fn card(&self, current_year: i32, privacy_min_members: i64, distance_m: Option<f64>) -> Card {
        let private = self.member_count < privacy_min_members;
        Card {
            id: self.id,
            name: self.name.clone(),
            category: self.category.clone(),
            place_name: self.place_name.clone(),
            city: self.city.clone(),
            district: self.district.clone(),
            distance_m: distance_m.map(|d| (d * 10.0).round() / 10.0),
            member_count: self.member_count,
            capacity: self.capacity,
            female_count: (!private).then_some(self.female_count),
            active_members: self.active_members,
            avg_age: if private { None } else { avg_age(current_year, self.birth_sum, self.birth_n) },
            yesterday_messages: self.yesterday_messages,
            join_approval: self.join_approval,
            highlight: None,
            reasons: None,
            explain: None,
        }
    }
}

/// A group as lists show it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Card {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub place_name: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    /// Metres from the `lat`/`lon` of the request; present whenever the request gave them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    pub member_count: i64,
    pub capacity: i64,
    /// null below the privacy floor (`privacy_min_members`, default 5).
    pub female_count: Option<i64>,
    pub active_members: i64,
    /// null below the privacy floor, or when no member gave a birth year.
    pub avg_age: Option<i64>,
    pub yesterday_messages: i64,
    pub join_approval: bool,
    /// The name with the matched words wrapped in `<em>` and `</em>` (the rest escaped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<String>,
    /// Recommendations only: why this group is suggested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// With `explain=true`: the number the list was ordered by and its parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<crate::ranking::Explain>,
}

/// A user as the sync API returns it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct UserRow {
    pub id: i64,
    pub nickname: String,
    pub gender: String,
    pub birth_year: Option<i32>,
    pub tier: String,
    pub show_joined_groups: bool,
}

impl UserRow {
    pub fn from_row(r: &Row<'_>) -> DbResult<UserRow> {
        Ok(UserRow {
            id: r.get(0)?,
            nickname: r.get(1)?,
            gender: r.get(2)?,
            birth_year: r.get::<Option<i64>>(3)?.map(|y| y as i32),
            tier: r.get(4)?,
            show_joined_groups: r.get(5)?,
        })
    }
}

pub const USER_COLUMNS: &str = "id, nickname, gender, birth_year, tier, show_joined_groups";
