//! Validated field values of users and groups.

use serde::Serialize;

use crate::error::ApiError;

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Characters that take no space: zero-width spaces and joiners, the word joiner, the
/// byte-order mark.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}')
}

/// Refuses control characters (line breaks and tabs allowed where `multiline`) and a text
/// that is nothing but invisible characters.
fn check_text(field: &str, s: &str, multiline: bool) -> Result<(), ApiError> {
    if s.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t'))) {
        return Err(ApiError::invalid(field, format!("the {field} must not contain control characters")));
    }
    if !s.is_empty() && s.chars().all(|c| invisible(c) || c.is_whitespace()) {
        return Err(ApiError::invalid(field, format!("the {field} has only invisible characters")));
    }
    Ok(())
}

/// A group name: 1–30 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim();
        let n = char_len(s);
        if n == 0 {
            return Err(ApiError::invalid(field, "the name must not be empty"));
        }
        if n > 30 {
            return Err(ApiError::invalid(field, format!("the name has {n} characters; at most 30 are allowed")));
        }
        check_text(field, s, false)?;
        Ok(GroupName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's nickname: 1–50 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nickname(String);

impl Nickname {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim();
        let n = char_len(s);
        if n == 0 || n > 50 {
            return Err(ApiError::invalid(field, "the nickname must have 1 to 50 characters"));
        }
        check_text(field, s, false)?;
        Ok(Nickname(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group description: at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim();
        if char_len(s) > 500 {
            return Err(ApiError::invalid(field, "the description has more than 500 characters"));
        }
        check_text(field, s, true)?;
        Ok(Description(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group announcement (群公告): at most 1,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Announcement(String);

impl Announcement {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim();
        if char_len(s) > 1000 {
            return Err(ApiError::invalid(field, "the announcement has more than 1000 characters"));
        }
        check_text(field, s, true)?;
        Ok(Announcement(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's gender as the app reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Female,
    Male,
    Unknown,
}

impl Gender {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        match raw {
            "female" => Ok(Gender::Female),
            "male" => Ok(Gender::Male),
            "unknown" => Ok(Gender::Unknown),
            _ => Err(ApiError::invalid(field, "gender must be female, male or unknown")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Unknown => "unknown",
        }
    }

    pub fn from_db(s: &str) -> Self {
        Gender::parse("gender", s).unwrap_or(Gender::Unknown)
    }
}

/// A birth year that makes sense for a person using the app.
pub fn parse_birth_year(field: &str, year: i64, current_year: i32) -> Result<i32, ApiError> {
    if year < 1900 || year > i64::from(current_year) {
        return Err(ApiError::invalid(field, format!("birth_year must be between 1900 and {current_year}")));
    }
    Ok(year as i32)
}

/// A reported activity event's time and message count, and its optional idempotency
/// key; `prefix` goes before the field names in errors (`events[3].`).
pub fn parse_activity(
    prefix: &str,
    at: &str,
    messages: i64,
    event_id: Option<&str>,
) -> Result<chrono::DateTime<chrono::FixedOffset>, ApiError> {
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .map_err(|_| ApiError::invalid(&format!("{prefix}at"), "at must be an RFC 3339 timestamp"))?;
    if !(0..=100_000).contains(&messages) {
        return Err(ApiError::invalid(&format!("{prefix}messages"), "messages must be between 0 and 100000"));
    }
    if event_id.is_some_and(|id| id.is_empty() || id.len() > 128) {
        return Err(ApiError::invalid(&format!("{prefix}event_id"), "event_id must have 1 to 128 bytes"));
    }
    Ok(at)
}

/// A group location: a point and an optional place name (群地点).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub place_name: Option<String>,
}

impl Location {
    pub fn parse(field: &str, lat: f64, lon: f64, place_name: Option<&str>) -> Result<Self, ApiError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(ApiError::invalid(&format!("{field}.lat"), "lat must be within [-90, 90]"));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(ApiError::invalid(&format!("{field}.lon"), "lon must be within [-180, 180]"));
        }
        let place_name = match place_name.map(str::trim) {
            Some(p) if char_len(p) > 100 => {
                return Err(ApiError::invalid(
                    &format!("{field}.place_name"),
                    "place_name has more than 100 characters",
                ))
            }
            Some("") | None => None,
            Some(p) => Some(p.to_string()),
        };
        Ok(Location { lat, lon, place_name })
    }
}

/// A category id that is on the fixed list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Category(String);

impl Category {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fixed list of categories (群分类), read from `data/categories`.
#[derive(Debug, Clone)]
pub struct CategoryList {
    entries: Vec<(String, String)>,
}

impl CategoryList {
    /// Parses the `id label` lines of the category file; `#` starts a comment.
    pub fn from_text(text: &str) -> Self {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(char::is_whitespace))
            .map(|(id, label)| (id.to_string(), label.trim().to_string()))
            .collect();
        CategoryList { entries }
    }

    pub fn parse(&self, field: &str, raw: &str) -> Result<Category, ApiError> {
        if self.entries.iter().any(|(id, _)| id == raw) {
            Ok(Category(raw.to_string()))
        } else {
            Err(ApiError::invalid(field, format!("unknown category {raw:?}")))
        }
    }

    pub fn label(&self, id: &str) -> &str {
        self.entries.iter().find(|(i, _)| i == id).map(|(_, l)| l.as_str()).unwrap_or("")
    }

    /// The position of a category id in the list (the list's length when unknown).
    pub fn position(&self, id: &str) -> usize {
        self.entries.iter().position(|(i, _)| i == id).unwrap_or(self.entries.len())
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(id, _)| id.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_name_is_trimmed_and_limited_to_thirty_characters() {
        assert_eq!(GroupName::parse("name", "  海淀徒步  ").unwrap().as_str(), "海淀徒步");
        assert!(GroupName::parse("name", "   ").is_err());
        assert!(GroupName::parse("name", &"群".repeat(30)).is_ok());
        let err = GroupName::parse("name", &"群".repeat(31)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("name"));
    }

    #[test]
    fn descriptions_and_announcements_have_their_own_limits() {
        assert!(Description::parse("description", &"字".repeat(500)).is_ok());
        assert!(Description::parse("description", &"字".repeat(501)).is_err());
        assert!(Announcement::parse("text", &"字".repeat(1000)).is_ok());
        assert!(Announcement::parse("text", &"字".repeat(1001)).is_err());
    }

    #[test]
    fn a_location_out_of_range_names_its_coordinate() {
        assert!(Location::parse("location", 39.9, 116.3, Some("北京")).is_ok());
        let e = Location::parse("location", 91.0, 0.0, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("location.lat"));
        let e = Location::parse("location", 0.0, -180.5, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("location.lon"));
        assert!(Location::parse("location", f64::NAN, 0.0, None).is_err());
    }

    #[test]
    fn categories_come_from_the_list() {
        let list = CategoryList::from_text("# c\noutdoor 户外\ngaming 游戏\n");
        assert_eq!(list.len(), 2);
        assert_eq!(list.parse("category", "outdoor").unwrap().as_str(), "outdoor");
        assert!(list.parse("category", "Outdoor").is_err());
        assert_eq!(list.label("gaming"), "游戏");
    }

    #[test]
    fn genders_are_a_closed_set() {
        assert_eq!(Gender::parse("g", "female").unwrap(), Gender::Female);
        assert!(Gender::parse("g", "f").is_err());
    }
}
