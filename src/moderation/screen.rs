//! The screen: normalisation, then word lists and patterns (SPEC §5).
//!
//! A text is first normalised the same way for every field:
//!
//! 1. folding: full-width to half-width, circled and styled digits and letters to plain
//!    ones, ASCII to lower case, invisible characters (variation selectors, zero-width
//!    joiners, keycap marks) dropped, then traditional to simplified (`fast2s`);
//! 2. variants (`variants.tsv`): look-alikes and homophones rewritten to one canonical
//!    form (薇信, 威信, 微❤, v信, vx, wx → 微信; 扣扣, 企鹅 → qq; 加v, ➕v → 加微信 …);
//! 3. numbers: Chinese numerals (一二三, 壹贰叁, 幺, 〇) in a run of at least five numeric
//!    characters become digits, and digits split by spaces, dots, dashes, emoji and the
//!    like are joined back into one run (the places they were split are remembered, so a
//!    phone number next to a date is still seen on its own).
//!
//! Then one multi-pattern automaton (Aho-Corasick, leftmost-longest) finds cue words,
//! phrases, ordinary words that hide cues (`benign.txt`) and negations; a cue flags only
//! with a handle after it (an id, a digit run), found by hand-written scanning. Bare digit
//! runs (mobile, landline and hotline numbers) and dotted tokens with a known top-level
//! domain are scanned for without a cue. The earliest finding in the text wins.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use anyhow::{bail, Context};

use super::{Finding, Reason};

/// How many characters may stand between a cue and its handle.
const GAP_MAX: usize = 8;
/// How many characters may stand between a negation and the phrase it negates.
const NEGATION_REACH: usize = 4;

/// What one automaton pattern is (a word may be several of these at once: "加微信" is a
/// phrase and also a cue for the handle after it).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// A cue: flags for this reason when a handle follows.
    cue: Option<Reason>,
    /// Single-letter cues: a handle counts only after a separator such as ':' or 号.
    weak: bool,
    /// A phrase: flags for this reason by itself, unless negated.
    phrase: Option<Reason>,
    /// An ordinary word that hides the cues and phrases inside it.
    benign: bool,
    /// A negation ("禁止", "不要").
    negation: bool,
    /// The pattern starts (ends) with an ASCII letter: it needs a non-letter before (after).
    ascii_start: bool,
    ascii_end: bool,
}

/// The loaded screen.
pub struct Screen {
    variants: Option<AhoCorasick>,
    variant_to: Vec<(String, bool, bool)>,
    words: Option<AhoCorasick>,
    entries: Vec<Entry>,
    tlds: HashSet<String>,
    units_after: Vec<String>,
    units_before: Vec<String>,
}

/// A text after normalisation: the text, and the byte offsets in it where a digit run
/// was joined across a separator (the start of each later group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    pub text: String,
    pub joins: Vec<usize>,
}

/// Lines of a list file without comments and blank lines, with their line numbers. A
/// missing file is an empty list (a data folder without the screen's lists screens only
/// for bare phone numbers).
fn lines(dir: &Path, name: &str) -> anyhow::Result<Vec<(usize, String)>> {
    let path = dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches(['\r', '\n']).to_string()))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect())
}

fn is_letter(c: char) -> bool {
    c.is_ascii_lowercase()
}

fn starts_ascii_letter(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

fn ends_ascii_letter(s: &str) -> bool {
    s.chars().next_back().is_some_and(|c| c.is_ascii_alphabetic())
}

/// A list word as the screen sees text: folded (width, case, simplified), not rewritten.
fn fold_word(w: &str) -> String {
    fold(w.trim())
}

impl Screen {
    /// Loads the lists from `dir` (`data/moderation/`): `variants.tsv`, `cues.tsv`,
    /// `phrases.tsv` (and the older `words.txt`, same format), `benign.txt`,
    /// `negations.txt`, `tlds.txt`, `units.txt`. See that folder's README.
    pub fn load(dir: &Path) -> anyhow::Result<Screen> {
        // Variants.
        let mut variant_from = Vec::new();
        let mut variant_to = Vec::new();
        for (n, line) in lines(dir, "variants.tsv")? {
            let Some((from, to)) = line.split_once('\t') else {
                bail!("variants.tsv:{n}: expected variant<TAB>canonical");
            };
            let from = fold_word(from);
            if from.is_empty() {
                bail!("variants.tsv:{n}: empty variant");
            }
            variant_to.push((fold_word(to), starts_ascii_letter(&from), ends_ascii_letter(&from)));
            variant_from.push(from);
        }
        let variants = if variant_from.is_empty() {
            None
        } else {
            Some(AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&variant_from)?)
        };

        // Cues, phrases, benign words and negations: one automaton.
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let mut entry = |word: &str| -> usize {
            let word = fold_word(word);
            *index.entry(word.clone()).or_insert_with(|| {
                patterns.push(word.clone());
                entries.push(Entry {
                    ascii_start: starts_ascii_letter(&word),
                    ascii_end: ends_ascii_letter(&word),
                    ..Entry::default()
                });
                entries.len() - 1
            })
        };
        let mut cues = Vec::new();
        let mut phrases = Vec::new();
        let mut benigns = Vec::new();
        let mut negations = Vec::new();
        for (n, line) in lines(dir, "cues.tsv")? {
            let mut cols = line.split('\t');
            let (Some(reason), Some(word)) = (cols.next(), cols.next()) else {
                bail!("cues.tsv:{n}: expected reason<TAB>cue[<TAB>weak]");
            };
            let Some(reason) = Reason::parse(reason.trim()) else {
                bail!("cues.tsv:{n}: unknown reason {reason:?}");
            };
            if reason == Reason::Url || reason == Reason::PrivateTrade {
                bail!("cues.tsv:{n}: {} has no handles; list its words in phrases.tsv", reason.as_str());
            }
            let weak = match cols.next().map(str::trim) {
                None | Some("") => false,
                Some("weak") => true,
                Some(other) => bail!("cues.tsv:{n}: unknown flag {other:?}"),
            };
            cues.push((entry(word), reason, weak));
        }
        for file in ["words.txt", "phrases.tsv", "learned.tsv"] {
            for (n, line) in lines(dir, file)? {
                let Some((reason, word)) = line.split_once('\t') else {
                    bail!("{file}:{n}: expected reason<TAB>phrase");
                };
                let Some(reason) = Reason::parse(reason.trim()) else {
                    bail!("{file}:{n}: unknown reason {reason:?}");
                };
                phrases.push((entry(word), reason));
            }
        }
        for (_, line) in lines(dir, "benign.txt")? {
            benigns.push(entry(&line));
        }
        for (_, line) in lines(dir, "negations.txt")? {
            negations.push(entry(&line));
        }
        for (i, reason, weak) in cues {
            entries[i].cue = Some(reason);
            entries[i].weak = weak;
        }
        for (i, reason) in phrases {
            let e = &mut entries[i];
            e.phrase = Some(reason);
            // A phrase that names a channel is also a cue for a handle after it.
            if matches!(reason, Reason::Wechat | Reason::Qq | Reason::OtherApp) && e.cue.is_none() {
                e.cue = Some(reason);
            }
        }
        for i in benigns {
            entries[i].benign = true;
        }
        for i in negations {
            entries[i].negation = true;
        }
        let words = if patterns.is_empty() {
            None
        } else {
            Some(AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&patterns)?)
        };

        let tlds = lines(dir, "tlds.txt")?.into_iter().map(|(_, l)| fold_word(&l)).collect();
        let mut units_after = Vec::new();
        let mut units_before = Vec::new();
        for (_, line) in lines(dir, "units.txt")? {
            let w = fold_word(&line);
            match w.strip_suffix('<') {
                Some(before) if !before.is_empty() => units_before.push(before.to_string()),
                _ => units_after.push(w),
            }
        }
        Ok(Screen { variants, variant_to, words, entries, tlds, units_after, units_before })
    }

    /// The text as the screen sees it.
    pub fn normalise(&self, text: &str) -> Normalised {
        let folded = fold(text);
        let rewritten = self.rewrite(&folded);
        numbers(&rewritten)
    }

    /// Stage 2: variants to canonical forms.
    fn rewrite(&self, s: &str) -> String {
        let Some(ac) = &self.variants else { return s.to_string() };
        let mut out = String::with_capacity(s.len() + 8);
        let mut last = 0;
        for m in ac.find_iter(s) {
            let (to, a_start, a_end) = &self.variant_to[m.pattern().as_usize()];
            if (*a_start && s[..m.start()].chars().next_back().is_some_and(is_letter))
                || (*a_end && s[m.end()..].chars().next().is_some_and(is_letter))
            {
                continue;
            }
            out.push_str(&s[last..m.start()]);
            out.push_str(to);
            last = m.end();
        }
        out.push_str(&s[last..]);
        out
    }

    /// The first finding in `text`, if any.
    pub fn check(&self, text: &str) -> Option<Finding> {
        self.check_normalised(&self.normalise(text))
    }

    /// The first finding in a text the screen has normalised already.
    pub fn check_normalised(&self, norm: &Normalised) -> Option<Finding> {
        let s = norm.text.as_str();
        let mut best: Option<(usize, Reason, String)> = None;
        let offer = |best: &mut Option<(usize, Reason, String)>, start: usize, reason: Reason, evidence: &str| {
            if best.as_ref().is_none_or(|(b, _, _)| start < *b) {
                *best = Some((start, reason, evidence.trim().to_string()));
            }
        };

        // Cues, phrases, benign words, negations.
        let mut benign: Vec<(usize, usize)> = Vec::new();
        if let Some(ac) = &self.words {
            let mut negation_end: Option<usize> = None;
            for m in ac.find_iter(s) {
                let e = &self.entries[m.pattern().as_usize()];
                if (e.ascii_start && s[..m.start()].chars().next_back().is_some_and(is_letter))
                    || (e.ascii_end && s[m.end()..].chars().next().is_some_and(is_letter))
                {
                    continue;
                }
                if e.benign {
                    benign.push((m.start(), m.end()));
                    continue;
                }
                if e.negation {
                    negation_end = Some(m.end());
                    continue;
                }
                if let Some(reason) = e.cue {
                    let strong = e.phrase.is_some();
                    // "淘宝店：萌宠家园", "抖音号：小王": an account or shop named in Chinese.
                    let named =
                        reason == Reason::OtherApp && (s[..m.end()].ends_with('号') || s[..m.end()].ends_with('店'));
                    if let Some(end) = self.handle(s, &norm.joins, m.end(), reason, e.weak, strong, named) {
                        offer(&mut best, m.start(), reason, &s[m.start()..end]);
                        continue;
                    }
                }
                if let Some(reason) = e.phrase {
                    let negated = negation_end.is_some_and(|ne| {
                        ne <= m.start() && {
                            let between = &s[ne..m.start()];
                            between.chars().count() <= NEGATION_REACH && !between.chars().any(is_clause_end)
                        }
                    });
                    if !negated {
                        offer(&mut best, m.start(), reason, &s[m.start()..m.end()]);
                    }
                }
            }
        }
        let in_benign = |i: usize| benign.iter().any(|&(a, b)| a <= i && i < b);

        // Bare digit runs: mobile, landline, hotline numbers.
        {
            let bytes = s.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if !bytes[i].is_ascii_digit() {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if best.as_ref().is_some_and(|(b, _, _)| *b <= start) {
                    break;
                }
                if let Some((a, b)) = self.bare_phone(s, &norm.joins, start, i) {
                    if !in_benign(a) {
                        offer(&mut best, a, Reason::Phone, &s[a..b]);
                    }
                }
            }
        }

        // Dotted tokens with a known top-level domain.
        if !self.tlds.is_empty() {
            for (dot, _) in s.match_indices('.') {
                if best.as_ref().is_some_and(|(b, _, _)| *b <= dot) {
                    break;
                }
                if in_benign(dot) {
                    continue;
                }
                if let Some((a, b, reason)) = self.domain(s, dot) {
                    offer(&mut best, a, reason, &s[a..b]);
                }
            }
        }

        best.map(|(_, reason, evidence)| Finding { reason, evidence })
    }

    /// The end of the handle after a cue ending at `at`, if there is one.
    #[allow(clippy::too_many_arguments)]
    fn handle(
        &self,
        s: &str,
        joins: &[usize],
        at: usize,
        reason: Reason,
        weak: bool,
        strong: bool,
        named: bool,
    ) -> Option<usize> {
        if named {
            // After ':' or 搜, two or more Chinese characters name the account.
            let rest = &s[at..];
            let after = rest.trim_start_matches([' ', ':', '搜']);
            if after.len() < rest.len() && rest[..rest.len() - after.len()].contains([':', '搜']) {
                let name: usize = after
                    .chars()
                    .take_while(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
                    .take(12)
                    .map(char::len_utf8)
                    .sum();
                if name >= 6 {
                    return Some(at + (rest.len() - after.len()) + name);
                }
            }
        }
        let (start, strong_gap) = skip_gap(s, at)?;
        let strong = strong || strong_gap;
        if weak && !strong_gap {
            return None;
        }
        let rest = &s[start..];
        let c = rest.chars().next()?;
        if c.is_ascii_digit() {
            let groups = digit_groups(s, joins, start);
            let run_end = *groups.last()?;
            // Candidate ends: the end of each group, shortest first.
            let ends = groups.iter().copied();
            let pick =
                |ok: &dyn Fn(&str) -> bool| -> Option<usize> { ends.clone().filter(|&e| ok(&s[start..e])).last() };
            let end = match reason {
                Reason::Wechat => ends.clone().find(|&e| is_mobile(&s[start..e])),
                Reason::Qq => pick(&|d| (5..=11).contains(&d.len()) && !d.starts_with('0')),
                Reason::Phone => pick(&|d| (7..=13).contains(&d.len())),
                Reason::OtherApp => pick(&|d| (5..=15).contains(&d.len())),
                _ => None,
            }?;
            if end == run_end && self.unit_after(&s[end..]) {
                return None;
            }
            if self.unit_before(&s[..start]) {
                return None;
            }
            return Some(end);
        }
        if !c.is_ascii_lowercase() || !matches!(reason, Reason::Wechat | Reason::OtherApp) {
            return None;
        }
        let extra: &[u8] = if reason == Reason::OtherApp { b"_-." } else { b"_-" };
        let bytes = s.as_bytes();
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || extra.contains(&bytes[end])) {
            end += 1;
        }
        // Digits split off the id by a space or two: "abc 123 456".
        let mut j = end;
        let mut seps = 0;
        while j < bytes.len() && seps < 2 && matches!(bytes[j], b' ' | b'.' | b'-' | b'_') {
            j += 1;
            seps += 1;
        }
        if seps > 0 && j < bytes.len() && bytes[j].is_ascii_digit() {
            let mut k = j;
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                k += 1;
            }
            if k == bytes.len() || !bytes[k].is_ascii_alphabetic() {
                end = k;
            }
        }
        let id: String = s[start..end].chars().filter(|c| !matches!(c, ' ')).collect();
        let id = id.trim_end_matches(['.', '-', '_']);
        let (min, max) = if reason == Reason::Wechat { (6, 20) } else { (4, 30) };
        if id.len() < min || id.len() > max {
            return None;
        }
        if !strong && !id.bytes().any(|b| b.is_ascii_digit() || b == b'_' || b == b'-') {
            return None;
        }
        Some(start + s[start..end].trim_end_matches(['.', '-', '_']).len())
    }

    /// A phone number in the digit run `start..end` standing on its own.
    fn bare_phone(&self, s: &str, joins: &[usize], start: usize, end: usize) -> Option<(usize, usize)> {
        if end - start < 10 {
            return None;
        }
        let mut bounds = vec![start];
        bounds.extend(joins.iter().copied().filter(|&j| j > start && j < end));
        bounds.push(end);
        for a in 0..bounds.len() - 1 {
            for b in a + 1..bounds.len() {
                let d = &s[bounds[a]..bounds[b]];
                if d.len() > 13 {
                    break;
                }
                let phone = is_mobile(d)
                    || (d.len() == 13 && d.starts_with("86") && is_mobile(&d[2..]))
                    || ((11..=12).contains(&d.len()) && d.starts_with('0') && !d.starts_with("00"))
                    || (d.len() == 10 && (d.starts_with("400") || d.starts_with("800")));
                if !phone {
                    continue;
                }
                if bounds[b] == end && self.unit_after(&s[end..]) {
                    continue;
                }
                if bounds[a] == start && self.unit_before(&s[..start]) {
                    continue;
                }
                // Part of a longer identifier ("rtx13800138000abc") is not a phone number.
                if bounds[a] == start && s[..start].bytes().next_back().is_some_and(|c| c.is_ascii_alphabetic()) {
                    continue;
                }
                return Some((bounds[a], bounds[b]));
            }
        }
        None
    }

    /// A link around the dot at `dot`: (start, end, reason).
    fn domain(&self, s: &str, dot: usize) -> Option<(usize, usize, Reason)> {
        let bytes = s.as_bytes();
        let host_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        if dot == 0 || !host_char(bytes[dot - 1]) {
            return None;
        }
        let mut t = dot + 1;
        while t < bytes.len() && bytes[t].is_ascii_lowercase() {
            t += 1;
        }
        if t < bytes.len() && (bytes[t].is_ascii_alphanumeric() || bytes[t] == b'-') {
            return None;
        }
        if !self.tlds.contains(&s[dot + 1..t]) {
            return None;
        }
        let mut a = dot;
        while a > 0 && (host_char(bytes[a - 1]) || bytes[a - 1] == b'.' || bytes[a - 1] == b'_') {
            a -= 1;
        }
        while a < dot && !bytes[a].is_ascii_alphanumeric() {
            a += 1;
        }
        for scheme in ["https://", "http://"] {
            if s[..a].ends_with(scheme) {
                a -= scheme.len();
            }
        }
        let mut b = t;
        while b < bytes.len() && (bytes[b].is_ascii_alphanumeric() || b"./_?=&%#-".contains(&bytes[b])) {
            b += 1;
        }
        let b = a.max(b - s[a..b].len() + s[a..b].trim_end_matches(['.', '-', '_']).len());
        // 12345678@qq.com is a QQ number.
        if &s[dot + 1..t] == "com" && s[..dot].ends_with("@qq") {
            let at = dot - 3;
            let mut d = at;
            while d > 0 && bytes[d - 1].is_ascii_digit() {
                d -= 1;
            }
            if at - d >= 5 {
                return Some((d, b, Reason::Qq));
            }
        }
        if a > 0 && bytes[a - 1] == b'@' {
            let mut d = a - 1;
            while d > 0 && (bytes[d - 1].is_ascii_alphanumeric() || b"._-".contains(&bytes[d - 1])) {
                d -= 1;
            }
            a = d;
        }
        Some((a, b, Reason::Url))
    }

    fn unit_after(&self, rest: &str) -> bool {
        let rest = rest.trim_start_matches(' ');
        self.units_after.iter().any(|u| {
            rest.starts_with(u.as_str())
                && !(ends_ascii_letter(u) && rest[u.len()..].chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        })
    }

    fn unit_before(&self, before: &str) -> bool {
        let before = before.trim_end_matches(' ');
        self.units_before.iter().any(|u| {
            before.ends_with(u.as_str())
                && !(starts_ascii_letter(u)
                    && before[..before.len() - u.len()].chars().next_back().is_some_and(|c| c.is_ascii_alphabetic()))
        })
    }
}

/// Mainland mobile: 1[3-9] and nine more digits.
fn is_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

fn is_clause_end(c: char) -> bool {
    matches!(c, ',' | '，' | '。' | '!' | '！' | ';' | '；' | '?' | '？' | '\n' | '、')
}

/// Emoji and pictographic symbols (which people put between digits and after cues).
fn is_symbol(c: char) -> bool {
    matches!(c as u32, 0x2190..=0x2BFF | 0x1F000..=0x1FAFF | 0x3030 | 0x303D | 0x3297 | 0x3299)
}

/// Separators that may split a digit run: "138 1234 5678", "138-1234-5678", "1🌸3🌸8".
fn is_digit_sep(c: char) -> bool {
    matches!(
        c,
        ' ' | '.'
            | '-'
            | '_'
            | '·'
            | '•'
            | '~'
            | '*'
            | '—'
            | '–'
            | '|'
            | '\''
            | '"'
            | '+'
            | '/'
            | '\\'
            | '='
            | '^'
            | '('
            | ')'
            | '['
            | ']'
            | '（'
            | '）'
            | '【'
            | '】'
    ) || is_symbol(c)
}

/// Characters allowed between a cue and its handle, and whether they make the link strong.
fn gap_char(c: char) -> Option<bool> {
    match c {
        ':' | '=' | '@' | '>' | '»' | '→' | '➡' | '⇒' | '☞' | '👉' | '⬇' | '👇' | '⤵' => Some(true),
        '号' | '是' | '为' | '搜' | '加' | '码' => Some(true),
        ' ' | '\t' | '\n' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '|' | '/' | '-' | '_' | '~' | '*' | '.' | ','
        | '"' | '\'' | '!' | '?' | '+' | '（' | '）' | '【' | '】' | '「' | '」' | '『' | '』' | '《' | '》' | '〔'
        | '〕' | '“' | '”' | '‘' | '’' | '·' | '•' | '…' | '、' | '，' | '。' => Some(false),
        '索' | '账' | '户' | '同' | '名' | '的' | '添' | '联' | '系' | '我' | '找' | '请' | '私' | '聊' | '个'
        | '信' | '入' | '群' | '进' => Some(false),
        c if is_symbol(c) => Some(false),
        _ => None,
    }
}

/// Skips what stands between a cue ending at `at` and its handle: the handle's start and
/// whether a strong separator (':', 号, 搜, an arrow, "id") was among it.
fn skip_gap(s: &str, at: usize) -> Option<(usize, bool)> {
    let mut i = at;
    let mut strong = false;
    let mut n = 0;
    'gap: loop {
        let rest = &s[i..];
        for word in ["id", "uid", "no.", "hao"] {
            if n < GAP_MAX && rest.starts_with(word) && !rest[word.len()..].chars().next().is_some_and(is_letter) {
                i += word.len();
                strong = true;
                n += 1;
                continue 'gap;
            }
        }
        let c = s[i..].chars().next()?;
        if c.is_ascii_alphanumeric() {
            return Some((i, strong));
        }
        if n >= GAP_MAX {
            return None;
        }
        strong |= gap_char(c)?;
        i += c.len_utf8();
        n += 1;
    }
}

/// The ends of the digit groups of the run starting at `start` (joined groups included).
fn digit_groups(s: &str, joins: &[usize], start: usize) -> Vec<usize> {
    let bytes = s.as_bytes();
    let mut end = start;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let mut ends: Vec<usize> = joins.iter().copied().filter(|&j| j > start && j < end).collect();
    ends.push(end);
    ends
}

/// The value of a Chinese numeral written digit by digit, if `c` is one.
fn numeral(c: char) -> Option<u8> {
    Some(match c {
        '〇' | '零' | 'o' => 0,
        '一' | '壹' | '幺' | '么' => 1,
        '二' | '贰' | '两' => 2,
        '三' | '叁' | '参' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' => 6,
        '七' | '柒' => 7,
        '八' | '捌' => 8,
        '九' | '玖' => 9,
        _ => return None,
    })
}

/// Stage 1: width, styled characters, case, invisible characters, then simplified.
fn fold(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        let u = c as u32;
        let d = |v: u32| char::from_digit(v, 10).unwrap_or(c);
        let out = match u {
            0xFF01..=0xFF5E => char::from_u32(u - 0xFEE0).unwrap_or(c).to_ascii_lowercase(),
            0x3000 => ' ',
            0x2460..=0x2468 => d(u - 0x2460 + 1),
            0x2474..=0x247C => d(u - 0x2474 + 1),
            0x2488..=0x2490 => d(u - 0x2488 + 1),
            0x2776..=0x277E => d(u - 0x2776 + 1),
            0x2780..=0x2788 => d(u - 0x2780 + 1),
            0x278A..=0x2792 => d(u - 0x278A + 1),
            0x24EA | 0x24FF | 0x1F10B | 0x1F10C => '0',
            0x2070 | 0x2080 => '0',
            0x00B9 => '1',
            0x00B2 => '2',
            0x00B3 => '3',
            0x2074..=0x2079 => d(u - 0x2070),
            0x2081..=0x2089 => d(u - 0x2080),
            0x1D7CE..=0x1D7FF => d((u - 0x1D7CE) % 10),
            0x24B6..=0x24CF => char::from_u32(u - 0x24B6 + 'a' as u32).unwrap_or(c),
            0x24D0..=0x24E9 => char::from_u32(u - 0x24D0 + 'a' as u32).unwrap_or(c),
            0x1F130..=0x1F149 => char::from_u32(u - 0x1F130 + 'a' as u32).unwrap_or(c),
            0x1F150..=0x1F169 => char::from_u32(u - 0x1F150 + 'a' as u32).unwrap_or(c),
            0x1F170..=0x1F189 => char::from_u32(u - 0x1F170 + 'a' as u32).unwrap_or(c),
            0x1F1E6..=0x1F1FF => char::from_u32(u - 0x1F1E6 + 'a' as u32).unwrap_or(c),
            // Mathematical alphanumerics: bold, italic, script … letters (26 upper, 26 lower).
            0x1D400..=0x1D6A3 => {
                let k = (u - 0x1D400) % 52;
                char::from_u32('a' as u32 + k % 26).unwrap_or(c)
            }
            0xFE00..=0xFE0F | 0x200B..=0x200F | 0x2060 | 0x20E3 | 0x00AD | 0xFEFF => continue,
            0x2795 | 0xFE62 => '+',
            0xFE55 | 0x2236 => ':',
            _ => c.to_ascii_lowercase(),
        };
        s.push(out);
    }
    if s.is_ascii() {
        s
    } else {
        fast2s::convert(&s)
    }
}

/// Stage 3: Chinese numerals to digits (in runs of five or more numeric characters) and
/// digit runs joined across separators.
fn numbers(s: &str) -> Normalised {
    if !s.chars().any(|c| c.is_ascii_digit() || (numeral(c).is_some() && c != 'o')) {
        return Normalised { text: s.to_string(), joins: Vec::new() };
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    // Which numerals count as digits: those in a run (separators of up to three allowed
    // between) of five or more numeric characters with at least one real numeral.
    let mut as_digit = vec![false; n];
    let mut i = 0;
    while i < n {
        if !(chars[i].is_ascii_digit() || numeral(chars[i]).is_some()) || chars[i] == 'o' {
            i += 1;
            continue;
        }
        let start = i;
        let mut last = i;
        let mut count = 1;
        let mut j = i + 1;
        while j < n {
            let c = chars[j];
            if c.is_ascii_digit() || numeral(c).is_some() {
                if c == 'o' && !(chars[j - 1].is_ascii_digit() || numeral(chars[j - 1]).is_some()) {
                    break;
                }
                last = j;
                count += 1;
                j += 1;
            } else if is_digit_sep(c) && j - last <= 3 {
                j += 1;
            } else {
                break;
            }
        }
        if count >= 5 {
            for k in start..=last {
                if numeral(chars[k]).is_some() {
                    as_digit[k] = true;
                }
            }
        }
        i = last + 1;
    }
    // A trailing 'o' taken as a numeral only counts between digits.
    for k in 0..n {
        if chars[k] == 'o' && as_digit[k] {
            let prev = k > 0 && (chars[k - 1].is_ascii_digit() || as_digit[k - 1]);
            let next = k + 1 < n && (chars[k + 1].is_ascii_digit() || numeral(chars[k + 1]).is_some());
            if !(prev && next) {
                as_digit[k] = false;
            }
        }
    }
    let digit_at = |k: usize| chars[k].is_ascii_digit() || as_digit[k];
    let mut text = String::with_capacity(s.len());
    let mut joins = Vec::new();
    let mut k = 0;
    while k < n {
        if digit_at(k) {
            text.push(if as_digit[k] {
                char::from_digit(numeral(chars[k]).unwrap_or(0) as u32, 10).unwrap_or('0')
            } else {
                chars[k]
            });
            // Separators up to the next digit are dropped.
            let mut j = k + 1;
            while j < n && j - k <= 3 && is_digit_sep(chars[j]) && !digit_at(j) {
                j += 1;
            }
            if j > k + 1 && j < n && digit_at(j) {
                joins.push(text.len());
                k = j;
                continue;
            }
            k += 1;
            continue;
        }
        text.push(chars[k]);
        k += 1;
    }
    Normalised { text, joins }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen() -> Screen {
        Screen::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/moderation")).unwrap()
    }

    fn norm(text: &str) -> String {
        screen().normalise(text).text
    }

    fn reason(text: &str) -> Option<&'static str> {
        screen().check(text).map(|f| f.reason.as_str())
    }

    #[test]
    fn full_width_and_case() {
        assert_eq!(norm("ＶＸ：ＡＢＣ１２３"), "微信:abc123");
        assert_eq!(norm("ＱＱ群"), "qq群");
    }

    #[test]
    fn traditional_to_simplified() {
        assert_eq!(norm("禁止發廣告"), "禁止发广告");
        assert_eq!(norm("薇信號"), "微信号");
    }

    #[test]
    fn split_digits_are_joined() {
        let n = screen().normalise("电话 138 1234-5678");
        assert_eq!(n.text, "电话 13812345678");
        assert_eq!(n.joins.len(), 2);
        assert_eq!(norm("1🌸3🌸8.0000.1111"), "13800001111");
        assert_eq!(norm("１３８ ００１３ ８０００"), "13800138000");
    }

    #[test]
    fn chinese_numerals() {
        assert_eq!(norm("一三八零零一三八零零零"), "13800138000");
        assert_eq!(norm("壹叁捌 幺贰叁肆 伍陆柒捌"), "13812345678");
        assert_eq!(norm("一起玩 三缺一"), "一起玩 三缺一");
        assert_eq!(norm("①③⑧⓪⓪①③⑧⓪⓪⓪"), "13800138000");
    }

    #[test]
    fn homophones_and_look_alikes() {
        assert_eq!(norm("薇信"), "微信");
        assert_eq!(norm("威信"), "微信");
        assert_eq!(norm("微❤️"), "微信");
        assert_eq!(norm("V信"), "微信");
        assert_eq!(norm("➕V"), "加微信");
        assert_eq!(norm("扣扣"), "qq");
        assert_eq!(norm("企鹅号"), "qq号");
        assert_eq!(norm("vlog"), "vlog");
    }

    #[test]
    fn catches() {
        assert_eq!(reason("加vx：meimei_520 拿货"), Some("wechat"));
        assert_eq!(reason("薇❤ abc12345"), Some("wechat"));
        assert_eq!(reason("扣扣 1234 5678 9"), Some("qq"));
        assert_eq!(reason("电话：一三八 一二三四 五六七八"), Some("phone"));
        assert_eq!(reason("订房 0755-8888 6666"), Some("phone"));
        assert_eq!(reason("详情见 t.cn/A6xYz"), Some("url"));
        assert_eq!(reason("小红书号：mia_2023"), Some("other_app"));
        assert_eq!(reason("有意私聊下单"), Some("private_trade"));
        let f = screen().check("V❤：abc_123").unwrap();
        assert_eq!(f.evidence, "微信:abc_123");
    }

    #[test]
    fn negatives() {
        for text in [
            "微信读书打卡群",
            "微信支付小技巧",
            "QQ音乐歌单分享",
            "QQ飞车车队 5排",
            "维C每日打卡",
            "Vlog 拍摄交流",
            "2024年5月1日 聚会",
            "2024-05-01 19:30 开黑",
            "¥199 包邮团购讨论",
            "1998年生 302室",
            "3缺1 速来",
            "iPhone15 RTX4090 发烧友",
            "禁止发微信号，不要私聊",
            "严禁私下交易",
        ] {
            assert_eq!(reason(text), None, "{text}");
        }
    }
}
