//! Trust and safety (SPEC §5): the screen that finds off-platform diversion (导流) in a
//! group's texts. `screen.rs` normalises a text and matches the word lists and patterns of
//! `data/moderation/`; this file holds what the rest of the service sees of it.

mod screen;

pub use screen::Screen;

use serde::Serialize;

/// Why a text was flagged (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Wechat,
    Qq,
    Phone,
    Url,
    OtherApp,
    PrivateTrade,
}

impl Reason {
    pub const ALL: [Reason; 6] =
        [Reason::Wechat, Reason::Qq, Reason::Phone, Reason::Url, Reason::OtherApp, Reason::PrivateTrade];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Wechat => "wechat",
            Reason::Qq => "qq",
            Reason::Phone => "phone",
            Reason::Url => "url",
            Reason::OtherApp => "other_app",
            Reason::PrivateTrade => "private_trade",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What the screen found in one text: the reason and the matched text as the screen saw
/// it after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub reason: Reason,
    pub evidence: String,
}

/// A finding in one of a group's texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// `name`, `description` or `announcement`.
    pub field: &'static str,
    pub finding: Finding,
}

impl Screen {
    /// Screens a group's texts in the order name, description, announcement; the first
    /// finding, if any.
    pub fn group(&self, name: &str, description: &str, announcement: &str) -> Option<Flag> {
        [("name", name), ("description", description), ("announcement", announcement)]
            .into_iter()
            .find_map(|(field, text)| self.check(text).map(|finding| Flag { field, finding }))
    }
}
