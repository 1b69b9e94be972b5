//! The generator's vocabulary: the word lists and weights of `data/gen/*.toml`, compiled into the
//! binary with `include_str!` and parsed and checked once, on first use, so `gen` needs no data
//! directory at run time.
//!
//! Lists are drawn from by position, so their order is part of the output: the same files and
//! seed always give the same world.

use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

const CATEGORIES: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gen/categories.toml"));
const GROUP_TEXT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gen/group_text.toml"));
const PLACES: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gen/places.toml"));
const NAMES: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gen/names.toml"));
const HOURS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gen/hours.toml"));

/// The placeholders that `text::expand` fills.
const PLACEHOLDERS: &str = "cdlhpatn";

/// One group category, as in `data/gen/categories.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Category {
    pub(super) id: String,
    pub(super) label: String,
    /// Base popularity as an interest; it also drives the category of groups whose owner does
    /// not pick one of their own interests.
    pub(super) weight: f64,
    pub(super) female: f64,
    pub(super) male: f64,
    /// Name templates: `{c}` city short name, `{d}` district short name, `{l}` a local area or
    /// landmark, `{h}` another city (for hometown groups), `{n}` a small number.
    pub(super) names: Vec<String>,
    /// Short phrases saying what the group does, used to build descriptions.
    pub(super) about: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    category: Vec<Category>,
}

/// `data/gen/group_text.toml`: templates of group descriptions and announcements.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupText {
    pub(super) description_templates: Vec<String>,
    pub(super) announcements: Vec<String>,
}

/// Total weight of a city's districts, by adcode prefix: two digits for the municipalities, four
/// for prefecture-level cities.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CityWeight {
    pub(super) prefix: u64,
    pub(super) weight: f64,
}

/// Well-known areas of a district, keyed by the 6-digit prefix of its adcode.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Landmarks {
    pub(super) prefix: u64,
    pub(super) names: Vec<String>,
}

/// `data/gen/places.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PlaceWords {
    pub(super) city_weights: Vec<CityWeight>,
    pub(super) landmarks: Vec<Landmarks>,
    pub(super) generic_landmarks: Vec<String>,
    /// Ethnic names cut off short place names (大理白族 → 大理).
    pub(super) ethnic: Vec<String>,
}

/// `data/gen/names.toml`: the parts of nicknames.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NameWords {
    pub(super) nick_prefixes: Vec<String>,
    pub(super) nick_chars: Vec<String>,
    pub(super) nick_words: Vec<String>,
    pub(super) surnames: Vec<String>,
    pub(super) surname_suffixes: Vec<String>,
    pub(super) given_names: Vec<String>,
    pub(super) latin_names: Vec<String>,
    pub(super) latin_suffixes: Vec<String>,
    pub(super) creator_suffixes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursFile {
    hour_weights: [f64; 24],
}

/// All of the generator's vocabulary.
#[derive(Debug)]
pub(super) struct Vocab {
    pub(super) categories: Vec<Category>,
    pub(super) text: GroupText,
    pub(super) places: PlaceWords,
    pub(super) names: NameWords,
    /// Relative chance of a group being created, or a member speaking, at each hour of the day.
    pub(super) hour_weights: [f64; 24],
}

/// The built-in vocabulary, parsed and checked on first use.
pub(super) fn vocab() -> Result<&'static Vocab> {
    static VOCAB: OnceLock<Result<Vocab, String>> = OnceLock::new();
    VOCAB
        .get_or_init(|| Vocab::parse().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("the built-in vocabulary of gen (data/gen/) is invalid: {e}"))
}

fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T> {
    toml::from_str(text).with_context(|| format!("data/gen/{file}"))
}

impl Vocab {
    fn parse() -> Result<Vocab> {
        let vocab = Vocab {
            categories: parse::<CategoryFile>("categories.toml", CATEGORIES)?.category,
            text: parse("group_text.toml", GROUP_TEXT)?,
            places: parse("places.toml", PLACES)?,
            names: parse("names.toml", NAMES)?,
            hour_weights: parse::<HoursFile>("hours.toml", HOURS)?.hour_weights,
        };
        vocab.check()?;
        Ok(vocab)
    }

    /// What the generator relies on: no empty list to draw from, usable weights, known
    /// placeholders and adcode prefixes of the right length.
    fn check(&self) -> Result<()> {
        if self.categories.is_empty() {
            bail!("categories.toml: no category");
        }
        for (i, c) in self.categories.iter().enumerate() {
            let what = format!("categories.toml: category {:?}", c.id);
            if c.id.is_empty() || c.label.is_empty() {
                bail!("{what}: empty id or label");
            }
            if self.categories[..i].iter().any(|o| o.id == c.id) {
                bail!("{what}: listed twice");
            }
            weights(&what, &[c.weight, c.female, c.male])?;
            templates(&format!("{what}: names"), &c.names)?;
            templates(&format!("{what}: about"), &c.about)?;
        }
        templates("group_text.toml: description_templates", &self.text.description_templates)?;
        templates("group_text.toml: announcements", &self.text.announcements)?;

        let p = &self.places;
        for c in &p.city_weights {
            if !(10..100).contains(&c.prefix) && !(1000..10_000).contains(&c.prefix) {
                bail!("places.toml: city_weights: prefix {} is not of 2 or 4 digits", c.prefix);
            }
            weights("places.toml: city_weights", &[c.weight])?;
        }
        for l in &p.landmarks {
            if !(100_000..1_000_000).contains(&l.prefix) {
                bail!("places.toml: landmarks: prefix {} is not of 6 digits", l.prefix);
            }
            nonempty(&format!("places.toml: landmarks of {}", l.prefix), &l.names)?;
        }
        nonempty("places.toml: generic_landmarks", &p.generic_landmarks)?;
        if p.ethnic.iter().any(String::is_empty) {
            bail!("places.toml: ethnic: an empty name");
        }

        let n = &self.names;
        for (what, list) in [
            ("nick_prefixes", &n.nick_prefixes),
            ("nick_chars", &n.nick_chars),
            ("nick_words", &n.nick_words),
            ("surnames", &n.surnames),
            ("surname_suffixes", &n.surname_suffixes),
            ("given_names", &n.given_names),
            ("latin_names", &n.latin_names),
            ("latin_suffixes", &n.latin_suffixes),
            ("creator_suffixes", &n.creator_suffixes),
        ] {
            nonempty(&format!("names.toml: {what}"), list)?;
        }
        weights("hours.toml: hour_weights", &self.hour_weights)
    }
}

fn nonempty(what: &str, list: &[String]) -> Result<()> {
    if list.is_empty() || list.iter().any(String::is_empty) {
        bail!("{what}: the list or one of its entries is empty");
    }
    Ok(())
}

fn weights(what: &str, ws: &[f64]) -> Result<()> {
    if ws.iter().any(|w| !w.is_finite() || *w < 0.0) || ws.iter().all(|w| *w == 0.0) {
        bail!("{what}: weights must be finite, not negative and not all zero");
    }
    Ok(())
}

/// Every `{` must open a known placeholder such as `{c}`.
fn templates(what: &str, list: &[String]) -> Result<()> {
    nonempty(what, list)?;
    for t in list {
        let mut chars = t.chars();
        while let Some(ch) = chars.next() {
            if ch == '{' {
                let key = chars.next();
                if !key.is_some_and(|k| PLACEHOLDERS.contains(k)) || chars.next() != Some('}') {
                    bail!("{what}: {t:?} has a placeholder other than {{c}} {{d}} {{l}} {{h}} {{p}} {{a}} {{t}} {{n}}");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_vocabulary_parses_and_checks() {
        let v = vocab().expect("the built-in vocabulary is valid");
        assert!(!v.categories.is_empty());
    }

    #[test]
    fn categories_are_those_of_data_categories() {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/categories"));
        let mut listed: Vec<(&str, &str)> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(char::is_whitespace))
            .map(|(id, label)| (id, label.trim()))
            .collect();
        let v = vocab().expect("the built-in vocabulary is valid");
        let mut generated: Vec<(&str, &str)> = v.categories.iter().map(|c| (c.id.as_str(), c.label.as_str())).collect();
        listed.sort_unstable();
        generated.sort_unstable();
        assert_eq!(generated, listed);
    }

    #[test]
    fn check_rejects_unknown_placeholders_and_empty_lists() {
        assert!(templates("t", &["{c}群".to_string()]).is_ok());
        assert!(templates("t", &["{x}群".to_string()]).is_err());
        assert!(templates("t", &["{c群".to_string()]).is_err());
        assert!(templates("t", &[]).is_err());
        assert!(weights("w", &[0.0, 0.0]).is_err());
        assert!(weights("w", &[f64::NAN]).is_err());
        assert!(weights("w", &[0.0, 1.0]).is_ok());
    }
}
