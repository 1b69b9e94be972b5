//! Related interests: the words a query word stands for besides itself. Synonym sets (same
//! meaning, found at full weight: 脚踏车 = 自行车), related terms (found at lower weight,
//! ranked below the words as typed: 桌游 → 狼人杀), and noise words (周末, 约) that help a
//! query but say little about which group is meant. All of it is data,
//! `data/related_terms.txt`, loaded at start and reloaded on
//! `POST /v1/admin/synonyms/reload`; `mine` proposes new related terms from a world's
//! names and descriptions for a person to review.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::text;

/// The file of related terms in the data folder.
pub const FILE: &str = "related_terms.txt";

/// How a query term stands for a word the person typed, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The word as typed.
    Exact,
    /// A word of the same synonym set.
    Synonym,
    /// The word with one character changed, a word the index holds (a typo corrected).
    Typo,
    /// A related term of the word or of its synonyms.
    Related,
    /// The longest start of a rare pinyin or initials word that names hold (wzry of
    /// wzrykh): the first words of what was typed.
    Start,
}

impl Kind {
    /// What an explanation calls it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exact => "as typed",
            Kind::Synonym => "synonym",
            Kind::Typo => "typo corrected",
            Kind::Related => "related",
            Kind::Start => "start of the word",
        }
    }

    /// A word's share of the tier (see `index/search.rs`): held as typed or by a synonym 3,
    /// by a typo correction 2, by a related term 1.
    pub fn points(self) -> u32 {
        match self {
            Kind::Exact | Kind::Synonym => 3,
            Kind::Typo => 2,
            Kind::Related | Kind::Start => 1,
        }
    }
}

/// The loaded file: every word folded the way queries are (simplified, lower case), so a
/// traditional entry and its simplified form are one word.
#[derive(Debug, Clone, Default)]
pub struct RelatedTerms {
    /// Word → the other words of every synonym set holding it.
    synonyms: HashMap<String, Vec<String>>,
    /// Word → its related terms.
    related: HashMap<String, Vec<String>>,
    noise: HashSet<String>,
    /// Every word the file names, for keeping query words that jieba split whole.
    known: HashSet<String>,
    /// The longest word the file names, in characters.
    longest: usize,
    pub source: Option<PathBuf>,
    pub synonym_sets: usize,
    pub related_lines: usize,
}

/// Adds `b` to `map[a]` once.
fn link(map: &mut HashMap<String, Vec<String>>, a: &str, b: &str) {
    if a == b {
        return;
    }
    let list = map.entry(a.to_string()).or_default();
    if !list.iter().any(|x| x == b) {
        list.push(b.to_string());
    }
}

impl RelatedTerms {
    /// Parses the file's text. Lines: `= a b c` a synonym set; `~ a b c` related terms,
    /// each related to the others; `> a : b c` terms related to `a` (one way); `! a b` noise
    /// words; `#` starts a comment. Words are separated by spaces.
    pub fn parse(source: &str) -> Result<RelatedTerms, String> {
        let mut t = RelatedTerms::default();
        for (n, raw) in source.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fail = |why: &str| Err(format!("line {}: {why}: {raw:?}", n + 1));
            let (mark, rest) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
            let fold = |w: &str| -> Result<String, String> {
                let folded: String = text::normalize(w).chars().filter(|c| !c.is_whitespace()).collect();
                if folded.is_empty() || folded.chars().any(|c| !c.is_alphanumeric()) {
                    return Err(format!("line {}: {w:?} is not a word", n + 1));
                }
                // Searches split Chinese from letters and digits (K歌 is k and 歌), so a
                // word of the file is one of them.
                if !one_run(&folded) {
                    return Err(format!("line {}: {w:?} mixes Chinese with letters or digits", n + 1));
                }
                Ok(folded)
            };
            let words = |s: &str| -> Result<Vec<String>, String> {
                let mut out: Vec<String> = Vec::new();
                for w in s.split_whitespace() {
                    let f = fold(w)?;
                    if !out.contains(&f) {
                        out.push(f);
                    }
                }
                Ok(out)
            };
            match mark {
                "=" | "~" => {
                    let set = words(rest)?;
                    if set.len() < 2 {
                        return fail("a set needs two different words");
                    }
                    let map = if mark == "=" { &mut t.synonyms } else { &mut t.related };
                    for a in &set {
                        for b in &set {
                            link(map, a, b);
                        }
                    }
                    if mark == "=" {
                        t.synonym_sets += 1;
                    } else {
                        t.related_lines += 1;
                    }
                    t.known.extend(set);
                }
                ">" => {
                    let Some((head, tail)) = rest.split_once(':') else { return fail("`>` needs `head : terms`") };
                    let head = words(head)?;
                    let tail = words(tail)?;
                    if head.len() != 1 || tail.is_empty() {
                        return fail("`>` needs one head word and at least one term");
                    }
                    for b in &tail {
                        link(&mut t.related, &head[0], b);
                    }
                    t.related_lines += 1;
                    t.known.extend(head.into_iter().chain(tail));
                }
                "!" => {
                    let set = words(rest)?;
                    t.noise.extend(set.iter().cloned());
                }
                _ => return fail("a line starts with =, ~, > or !"),
            }
        }
        t.longest = t.known.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        Ok(t)
    }

    /// Reads the file; a missing file is an empty list.
    pub fn load(path: &Path) -> anyhow::Result<RelatedTerms> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(anyhow::anyhow!("failed to read {}: {e}", path.display())),
        };
        let mut t = RelatedTerms::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        t.source = Some(path.to_path_buf());
        Ok(t)
    }

    /// The file in the data folder (`GROUPSCOUT_DATA`, else `data/`); empty when unreadable.
    pub fn from_data_dir(dir: &Path) -> RelatedTerms {
        match RelatedTerms::load(&dir.join(FILE)) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "related terms not loaded");
                RelatedTerms::default()
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty() && self.noise.is_empty()
    }

    pub fn noise_words(&self) -> usize {
        self.noise.len()
    }

    /// Whether a word helps a query without saying which group is meant.
    pub fn is_noise(&self, word: &str) -> bool {
        self.noise.contains(word)
    }

    /// Query words again, with neighbours that jieba split from a word the file names put
    /// back together (撸 铁 → 撸铁), longest first.
    pub fn join_known(&self, words: Vec<String>) -> Vec<String> {
        if self.known.is_empty() || words.len() < 2 {
            return words;
        }
        let mut out = Vec::with_capacity(words.len());
        let mut i = 0;
        while i < words.len() {
            let mut taken = 1;
            for n in (2..=4.min(words.len() - i)).rev() {
                let joined = words[i..i + n].concat();
                if joined.chars().count() <= self.longest && one_run(&joined) && self.known.contains(&joined) {
                    taken = n;
                    break;
                }
            }
            out.push(words[i..i + taken].concat());
            i += taken;
        }
        out.dedup();
        out
    }

    /// The terms a word stands for besides itself: its synonyms, then the related terms of
    /// it and of its synonyms (none that is the word or a synonym).
    pub fn expand(&self, word: &str) -> Vec<(String, Kind)> {
        let mut out: Vec<(String, Kind)> = Vec::new();
        let synonyms = self.synonyms.get(word).map(Vec::as_slice).unwrap_or(&[]);
        for s in synonyms {
            out.push((s.clone(), Kind::Synonym));
        }
        for head in std::iter::once(word).chain(synonyms.iter().map(String::as_str)) {
            for r in self.related.get(head).map(Vec::as_slice).unwrap_or(&[]) {
                if r != word && !out.iter().any(|(w, _)| w == r) {
                    out.push((r.clone(), Kind::Related));
                }
            }
        }
        out
    }
}

/// Whether a folded word is all Chinese, all letters or all digits (one searchable run).
fn one_run(word: &str) -> bool {
    word.chars().all(text::is_cjk)
        || word.chars().all(|c| c.is_alphabetic() && !text::is_cjk(c))
        || word.chars().all(char::is_numeric)
}

/// One group of a world, as mining reads it.
#[derive(Debug, serde::Deserialize)]
struct GroupLine {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    description: String,
}

/// A pair of words proposed as related, with the evidence a reviewer reads.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub category: String,
    pub a: String,
    pub b: String,
    /// Groups of the category whose name or description holds both.
    pub together: u64,
    /// Pointwise mutual information of the two within the category's groups.
    pub pmi: f64,
    /// The share of each word's groups that are in the category.
    pub share_a: f64,
    pub share_b: f64,
}

/// What mining counts, per category.
#[derive(Default)]
struct Counts {
    groups: u64,
    words: HashMap<String, u64>,
    pairs: HashMap<(String, String), u64>,
}

/// Words of a text worth relating: Chinese words of two characters or more that are not
/// place names and not on the file's noise list.
fn mining_words(text_: &str, is_place: &dyn Fn(&str) -> bool, known: &RelatedTerms) -> Vec<String> {
    let mut out: Vec<String> = text::query_words(text_)
        .into_iter()
        .filter(|w| w.chars().count() >= 2 && w.chars().all(text::is_cjk) && !is_place(w) && !known.is_noise(w))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// How mining reads a world and what it keeps.
#[derive(Debug, Clone, Copy)]
pub struct MineOptions {
    /// Groups of a category that must hold both words.
    pub min_together: u64,
    /// The least share of each word's groups that must be in the category.
    pub min_share: f64,
    /// Proposals kept per category, best by PMI.
    pub per_category: usize,
    /// Read descriptions too, not only names (more pairs, more of them phrases).
    pub descriptions: bool,
}

/// Proposes related terms from a world's group lines (import format): per category, pairs
/// of words that are both concentrated in it (at least `min_share` of each word's groups)
/// and occur together in the names (and with `descriptions`, the descriptions) of at least
/// `min_together` of its groups, best by PMI, at most `per_category` a category. Pairs the
/// file already relates are left out.
pub fn mine(
    input: &mut dyn BufRead,
    is_place: &dyn Fn(&str) -> bool,
    known: &RelatedTerms,
    o: MineOptions,
) -> anyhow::Result<(u64, Vec<Proposal>)> {
    let MineOptions { min_together, min_share, per_category, descriptions } = o;
    let mut by_category: BTreeMap<String, Counts> = BTreeMap::new();
    let mut overall: HashMap<String, u64> = HashMap::new();
    let mut groups = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        if !line.contains("\"group\"") {
            continue;
        }
        let Ok(g) = serde_json::from_str::<GroupLine>(&line) else { continue };
        if g.kind != "group" {
            continue;
        }
        groups += 1;
        let text_ = if descriptions { format!("{} {}", g.name, g.description) } else { g.name.clone() };
        let words = mining_words(&text_, is_place, known);
        let c = by_category.entry(g.category).or_default();
        c.groups += 1;
        for (i, a) in words.iter().enumerate() {
            *c.words.entry(a.clone()).or_default() += 1;
            *overall.entry(a.clone()).or_default() += 1;
            for b in &words[i + 1..] {
                *c.pairs.entry((a.clone(), b.clone())).or_default() += 1;
            }
        }
    }
    let already = |a: &str, b: &str| known.expand(a).iter().any(|(w, _)| w == b);
    let mut out = Vec::new();
    for (category, c) in &by_category {
        let mut found: Vec<Proposal> = c
            .pairs
            .iter()
            .filter(|(_, n)| **n >= min_together)
            .filter_map(|((a, b), n)| {
                let (na, nb) = (c.words[a] as f64, c.words[b] as f64);
                let share_a = na / overall[a] as f64;
                let share_b = nb / overall[b] as f64;
                if share_a < min_share || share_b < min_share || a.contains(b.as_str()) || b.contains(a.as_str()) {
                    return None;
                }
                if already(a, b) || already(b, a) {
                    return None;
                }
                let pmi = ((*n as f64) * c.groups as f64 / (na * nb)).ln();
                Some(Proposal {
                    category: category.clone(),
                    a: a.clone(),
                    b: b.clone(),
                    together: *n,
                    pmi,
                    share_a,
                    share_b,
                })
            })
            .collect();
        found.sort_by(|x, y| y.pmi.total_cmp(&x.pmi).then(y.together.cmp(&x.together)).then(x.a.cmp(&y.a)));
        found.truncate(per_category);
        out.extend(found);
    }
    Ok((groups, out))
}

/// Proposals as lines of the related-terms file, commented out, by category, each with
/// its evidence: a reviewer removes the `# ` of the lines to keep.
pub fn proposals_text(groups: u64, found: &[Proposal]) -> String {
    let mut out = format!("# mine-terms: {groups} groups read, {} proposals\n", found.len());
    let mut category = "";
    for p in found {
        if p.category != category {
            category = &p.category;
            out.push_str(&format!("\n# {category}\n"));
        }
        out.push_str(&format!(
            "# ~ {} {}    # together in {} groups, PMI {:.2}; {:.0}% and {:.0}% of their groups are {category}\n",
            p.a,
            p.b,
            p.together,
            p.pmi,
            p.share_a * 100.0,
            p.share_b * 100.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_folds_scripts_and_links_both_ways_or_one_way() {
        let t = RelatedTerms::parse(
            "# a comment\n= 自行车 腳踏車 单车  # trailing\n> 桌游 : 狼人杀 剧本杀\n~ 钓鱼 路亚\n! 周末 约\n",
        )
        .unwrap();
        let e = t.expand("脚踏车");
        assert!(e.contains(&("自行车".to_string(), Kind::Synonym)), "{e:?}");
        assert!(e.contains(&("单车".to_string(), Kind::Synonym)), "{e:?}");
        assert_eq!(
            t.expand("桌游"),
            vec![("狼人杀".to_string(), Kind::Related), ("剧本杀".to_string(), Kind::Related)]
        );
        assert!(t.expand("狼人杀").is_empty(), "one way");
        assert_eq!(t.expand("路亚"), vec![("钓鱼".to_string(), Kind::Related)]);
        assert!(t.is_noise("周末") && !t.is_noise("桌游"));
        assert_eq!(t.join_known(vec!["撸".into(), "单".into(), "车".into(), "群".into()]), vec!["撸", "单车", "群"]);
    }

    #[test]
    fn related_terms_of_synonyms_count_too() {
        let t = RelatedTerms::parse("= 自行车 脚踏车\n> 自行车 : 骑行\n").unwrap();
        assert_eq!(
            t.expand("脚踏车"),
            vec![("自行车".to_string(), Kind::Synonym), ("骑行".to_string(), Kind::Related)]
        );
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        for (text, line) in
            [("= 自行车\n", 1), ("\n\n> 桌游 狼人杀\n", 3), ("? 桌游\n", 1), ("= a<b c\n", 1), ("~ 唱歌 K歌\n", 1)]
        {
            let e = RelatedTerms::parse(text).unwrap_err();
            assert!(e.starts_with(&format!("line {line}:")), "{text:?}: {e}");
        }
    }

    #[test]
    fn mining_proposes_words_that_share_a_category_and_its_groups() {
        let mut world = String::new();
        for i in 0..20 {
            let (name, description) = if i % 2 == 0 {
                ("狼人杀约局", "线下桌游约局")
            } else {
                ("桌游聚会", "狼人杀剧本杀")
            };
            world.push_str(&format!(
                "{{\"type\":\"group\",\"id\":{i},\"name\":\"{name}\",\"category\":\"friends\",\"description\":\"{description}\"}}\n"
            ));
            world.push_str(&format!(
                "{{\"type\":\"group\",\"id\":{},\"name\":\"徒步登山\",\"category\":\"outdoor\",\"description\":\"周末约\"}}\n",
                100 + i
            ));
        }
        let known = RelatedTerms::parse("! 周末\n").unwrap();
        let o = MineOptions { min_together: 3, min_share: 0.5, per_category: 10, descriptions: true };
        let (groups, found) = mine(&mut world.as_bytes(), &|w| w == "北京", &known, o).unwrap();
        assert_eq!(groups, 40);
        let pairs: Vec<(&str, &str, &str)> =
            found.iter().map(|p| (p.category.as_str(), p.a.as_str(), p.b.as_str())).collect();
        assert!(pairs.contains(&("friends", "桌游", "狼人杀")), "{pairs:?}");
        assert!(pairs.contains(&("outdoor", "徒步", "登山")), "{pairs:?}");
        assert!(!pairs.iter().any(|(c, a, b)| c != &"friends" && (a == &"桌游" || b == &"桌游")), "{pairs:?}");
    }
}
