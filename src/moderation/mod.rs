//! Trust and safety (SPEC §5): the screen that finds off-platform diversion (导流) in a
//! group's texts. `screen.rs` normalises a text and matches the word lists and patterns of
//! `data/moderation/`; this file holds what the rest of the service sees of it.

pub mod model;
mod screen;

pub use screen::{Normalised, Screen};

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

/// What a screen's finding does to a group (SPEC §5, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Out of discovery until an admin decides.
    Held,
    /// Listed for review; still found by search and nearby, kept out of recommendations.
    Review,
}

impl Outcome {
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Held => "held",
            Outcome::Review => "review",
        }
    }
}

/// A finding in one of a group's texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// `name`, `description` or `announcement`.
    pub field: &'static str,
    pub finding: Finding,
    pub outcome: Outcome,
}

impl Screen {
    /// Screens a group's texts with the lists alone, in the order name, description,
    /// announcement; the first finding, if any.
    pub fn group(&self, name: &str, description: &str, announcement: &str) -> Option<Flag> {
        [("name", name), ("description", description), ("announcement", announcement)]
            .into_iter()
            .find_map(|(field, text)| self.check(text).map(|finding| Flag { field, finding, outcome: Outcome::Held }))
    }
}

/// The probabilities from which the model holds a text or lists it for review (config
/// `screen_hold`, `screen_review`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub hold: f32,
    pub review: f32,
}

/// The screen as the service runs it: the lists, and the model over them when
/// `data/moderation/model.tsv` exists. What the lists find is held; otherwise the model's
/// probability decides between held, review and clear.
pub struct Screening {
    pub screen: Screen,
    pub lexicon: model::Lexicon,
    pub model: Option<model::Model>,
    pub thresholds: Thresholds,
}

impl Screening {
    /// Loads the lists and the model of `dir` (`data/moderation/`).
    pub fn load(dir: &std::path::Path, thresholds: Thresholds) -> anyhow::Result<Screening> {
        Ok(Screening {
            screen: Screen::load(dir)?,
            lexicon: model::Lexicon::load(dir)?,
            model: model::Model::load(&dir.join("model.tsv"))?,
            thresholds,
        })
    }

    /// The verdict on one text, with the model's probability when the model decided.
    pub fn text(&self, text: &str) -> Option<(Outcome, Finding)> {
        let norm = self.screen.normalise(text);
        if let Some(f) = self.screen.check_normalised(&norm) {
            return Some((Outcome::Held, f));
        }
        let m = self.model.as_ref()?;
        let features = model::features(&self.lexicon, &norm);
        // The evidence is put into words only for what the model flags.
        if m.likeliest(&features).1 < self.thresholds.review {
            return None;
        }
        let scored = m.score(&features);
        let outcome = if scored.probability >= self.thresholds.hold {
            Outcome::Held
        } else if scored.probability >= self.thresholds.review {
            Outcome::Review
        } else {
            return None;
        };
        let parts: Vec<String> = scored.evidence.iter().map(|(f, w)| format!("{f} {w:+}")).collect();
        let evidence = format!("model {:.2}: {}", scored.probability, parts.join(", "));
        Some((outcome, Finding { reason: scored.reason, evidence }))
    }

    /// The handles in a group's texts, normalised (lower case, half-width, digits joined):
    /// the ids, numbers and links the lists found, and any run of letters with digits or
    /// `_` six or more long. What a confirmed group's rings are known by; each with the
    /// reason the lists gave, else `otherwise`.
    pub fn handles(&self, texts: &[&str], otherwise: Reason) -> Vec<(Reason, String)> {
        let mut out: Vec<(Reason, String)> = Vec::new();
        let mut push = |reason: Reason, token: &str| {
            let token = token.trim_matches(|c: char| c == '.' || c == '-' || c == '/');
            if token.chars().count() >= 5 && !out.iter().any(|(_, t)| t == token) {
                out.push((reason, token.to_string()));
            }
        };
        let handle_char = |c: char| c.is_ascii_alphanumeric() || "_-.@/".contains(c);
        for text in texts {
            let norm = self.screen.normalise(text);
            if let Some(f) = self.screen.check_normalised(&norm) {
                for token in f.evidence.split(|c: char| !handle_char(c)) {
                    if token.chars().any(|c| c.is_ascii_digit()) || token.contains('.') {
                        push(f.reason, token);
                    }
                }
            }
            for token in norm.text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
                let letters = token.chars().any(|c| c.is_ascii_alphabetic());
                let marks = token.chars().any(|c| c.is_ascii_digit() || c == '_');
                if token.len() >= 6 && letters && marks {
                    push(otherwise, token);
                }
            }
        }
        out
    }

    /// Whether a text carries one of `handles` (normalised as `handles` gives them).
    pub fn carries<'a>(&self, text: &str, handles: &'a [(String, String, i64)]) -> Option<&'a (String, String, i64)> {
        let norm = self.screen.normalise(text);
        handles.iter().find(|(h, _, _)| norm.text.contains(h.as_str()))
    }

    /// Screens a group's texts: the first held finding in the order name, description,
    /// announcement, else the first listed for review.
    pub fn group(&self, name: &str, description: &str, announcement: &str) -> Option<Flag> {
        let mut review = None;
        for (field, text) in [("name", name), ("description", description), ("announcement", announcement)] {
            match self.text(text) {
                Some((Outcome::Held, finding)) => return Some(Flag { field, finding, outcome: Outcome::Held }),
                Some((Outcome::Review, finding)) if review.is_none() => {
                    review = Some(Flag { field, finding, outcome: Outcome::Review })
                }
                _ => {}
            }
        }
        review
    }
}
