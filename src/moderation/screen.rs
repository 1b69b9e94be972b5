//! The screen: normalisation, then word lists and patterns. (Being written: for now only
//! the literal handles of `data/moderation/`.)

use std::path::Path;

use super::{Finding, Reason};

/// The loaded screen.
pub struct Screen {
    words: Vec<(String, Reason)>,
}

impl Screen {
    /// Loads the lists from `dir` (`data/moderation/`).
    pub fn load(dir: &Path) -> anyhow::Result<Screen> {
        let mut words = Vec::new();
        if let Ok(text) = std::fs::read_to_string(dir.join("words.txt")) {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                if let Some((reason, word)) = line.split_once('\t') {
                    if let Some(r) = Reason::parse(reason.trim()) {
                        words.push((word.trim().to_lowercase(), r));
                    }
                }
            }
        }
        Ok(Screen { words })
    }

    /// The first finding in `text`, if any.
    pub fn check(&self, text: &str) -> Option<Finding> {
        let lower = text.to_lowercase();
        self.words
            .iter()
            .find(|(w, _)| lower.contains(w.as_str()))
            .map(|(w, r)| Finding { reason: *r, evidence: w.clone() })
    }
}
