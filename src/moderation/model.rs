//! The screen's model: a text scored from its shape as well as its words.
//!
//! The lists of `screen.rs` fit the texts their authors imagined; people who divert buyers
//! write the next variant the day after a word is banned. So a text is also read as
//! features that do not name the variant:
//! - shapes: handle-like tokens (letters with digits or `_`, five or more), digit runs as
//!   long as a QQ number or a mobile number, digit runs that were joined across
//!   separators, a Latin or digit run broken by a symbol or emoji, dotted names;
//! - sounds: any two to four characters that read like a cue word of the lists (微信 as
//!   wei xin, 扣扣 as kou kou, 电话 as dian hua), found through the pinyin table, so a new
//!   homophone needs no new line;
//! - funnels: a verb that sends people somewhere (看, 点, 私, 戳, 找) near a place in the app
//!   that holds the rest (主页, 头像, 简介, 评论区, 置顶), alone or with a word of trade or
//!   contact nearby (`funnel.tsv`);
//! - character n-grams (two and three) of the text with every digit read as `0` and every
//!   Latin letter as `a`, hashed into `BUCKETS`; only those holding something other than
//!   Chinese characters (a run of Chinese says what a group is about, not how it diverts).
//!
//! One logistic model per reason, `sigmoid(bias + sum of weights)`; the verdict is the
//! likeliest reason. The weights are data (`model.tsv`), written by `groupscout moderation
//! train` from the labelled corpus (`corpus.tsv`), and every verdict names the features
//! that weighed most.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use anyhow::{bail, Context};
use pinyin::ToPinyin;

use super::screen::Normalised;
use super::Reason;

/// Hashed n-gram buckets.
pub const BUCKETS: usize = 1 << 16;

/// The named features, in the order of their weights.
pub const NAMED: &[&str] = &[
    "shape:handle",
    "shape:handle_after_colon",
    "shape:latin_word",
    "shape:digits_qq",
    "shape:digits_mobile",
    "shape:digits_long",
    "shape:joined_digits",
    "shape:broken_run",
    "shape:dotted",
    "shape:emoji_before_run",
    "sound:wechat",
    "sound:qq",
    "sound:phone",
    "sound:other_app",
    "funnel:target",
    "funnel:trade",
    "funnel:contact",
    "trade:word",
];

const CLASSES: usize = 6;

/// A text read as features: the named ones that fired (bit `i` for `NAMED[i]`) and the
/// n-grams' buckets.
#[derive(Debug, Default, Clone)]
pub struct Features {
    pub named: u64,
    pub grams: Vec<u32>,
    /// The normalised text's characters, from which the n-grams were taken (for the
    /// evidence).
    chars: Vec<char>,
}

/// What the model derives from the lists: the sounds of cue words, and the funnel words.
pub struct Lexicon {
    /// The cue words by their first syllable.
    sounds: HashMap<&'static str, Vec<Sound>>,
    /// The funnel words in one automaton, each with its kind.
    funnel: Option<AhoCorasick>,
    kinds: Vec<Kind>,
}

/// A cue word as it sounds: its syllables (toneless pinyin), reason and characters.
struct Sound {
    syllables: Vec<&'static str>,
    reason: Reason,
    word: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Verb,
    Target,
    Trade,
    Contact,
}

fn syllables(word: &str) -> Option<Vec<&'static str>> {
    word.chars().map(|c| c.to_pinyin().map(|p| p.plain())).collect()
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

fn list(dir: &Path, name: &str) -> anyhow::Result<Vec<String>> {
    let path = dir.join(name);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect())
}

impl Lexicon {
    /// The cue words of `cues.tsv` and the channel phrases of `phrases.tsv` (Chinese, two to
    /// four characters) by sound; `funnel.tsv` (`verb`, `target`, `trade` or `contact`
    /// then a TAB and the word).
    pub fn load(dir: &Path) -> anyhow::Result<Lexicon> {
        let mut sounds: HashMap<&'static str, Vec<Sound>> = HashMap::new();
        for file in ["cues.tsv", "phrases.tsv"] {
            for line in list(dir, file)? {
                let mut cols = line.split('\t');
                let (Some(reason), Some(word)) = (cols.next(), cols.next()) else { continue };
                let Some(reason) = Reason::parse(reason).filter(|r| *r != Reason::PrivateTrade && *r != Reason::Url)
                else {
                    continue;
                };
                let n = word.chars().count();
                if !(2..=4).contains(&n) || !word.chars().all(is_cjk) {
                    continue;
                }
                let Some(syl) = syllables(word) else { continue };
                let entry = sounds.entry(syl[0]).or_default();
                if !entry.iter().any(|s| s.syllables == syl) {
                    entry.push(Sound { syllables: syl, reason, word: word.to_string() });
                }
            }
        }
        let (mut words, mut kinds) = (Vec::new(), Vec::new());
        for (n, line) in list(dir, "funnel.tsv")?.into_iter().enumerate() {
            let Some((kind, word)) = line.split_once('\t') else { bail!("funnel.tsv: line {}: kind<TAB>word", n + 1) };
            kinds.push(match kind {
                "verb" => Kind::Verb,
                "target" => Kind::Target,
                "trade" => Kind::Trade,
                "contact" => Kind::Contact,
                _ => bail!("funnel.tsv: line {}: kind {kind:?} is not verb, target, trade or contact", n + 1),
            });
            words.push(word.to_string());
        }
        let funnel = if words.is_empty() {
            None
        } else {
            Some(AhoCorasick::builder().match_kind(MatchKind::Standard).build(&words)?)
        };
        Ok(Lexicon { sounds, funnel, kinds })
    }
}

/// A character as the n-grams read it: every digit `0`, every Latin letter `a`.
fn shape(c: char) -> u32 {
    match c {
        '0'..='9' => '0' as u32,
        'a'..='z' => 'a' as u32,
        c if c.is_whitespace() => ' ' as u32,
        c => c as u32,
    }
}

/// A stable hash of an n-gram's shaped characters (multiply and fold): buckets must not move
/// between builds.
fn bucket(gram: &[char]) -> u32 {
    let mut h: u64 = 0x243f_6a88_85a3_08d3;
    for c in gram {
        h = (h ^ u64::from(shape(*c))).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    ((h >> 32) % BUCKETS as u64) as u32
}

fn named(name: &str) -> usize {
    NAMED.iter().position(|n| *n == name).expect("a named feature")
}

fn is_run_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The named features' positions, looked up once.
struct Ids {
    sound: [usize; 6],
    handle: usize,
    handle_after_colon: usize,
    latin_word: usize,
    digits_qq: usize,
    digits_mobile: usize,
    digits_long: usize,
    joined_digits: usize,
    broken_run: usize,
    dotted: usize,
    emoji_before_run: usize,
    funnel_target: usize,
    funnel_trade: usize,
    funnel_contact: usize,
    trade_word: usize,
}

fn ids() -> &'static Ids {
    static IDS: std::sync::OnceLock<Ids> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let by = |prefix: &str| {
            Reason::ALL
                .map(|r| NAMED.iter().position(|n| *n == format!("{prefix}:{}", r.as_str())).unwrap_or(usize::MAX))
        };
        Ids {
            sound: by("sound"),
            handle: named("shape:handle"),
            handle_after_colon: named("shape:handle_after_colon"),
            latin_word: named("shape:latin_word"),
            digits_qq: named("shape:digits_qq"),
            digits_mobile: named("shape:digits_mobile"),
            digits_long: named("shape:digits_long"),
            joined_digits: named("shape:joined_digits"),
            broken_run: named("shape:broken_run"),
            dotted: named("shape:dotted"),
            emoji_before_run: named("shape:emoji_before_run"),
            funnel_target: named("funnel:target"),
            funnel_trade: named("funnel:trade"),
            funnel_contact: named("funnel:contact"),
            trade_word: named("trade:word"),
        }
    })
}

/// Reads a normalised text as features. (What the lists find is not one of them: a text
/// the lists flag is held before the model is asked, so the model learns what diverting
/// texts look like without leaning on them.)
pub fn features(lexicon: &Lexicon, norm: &Normalised) -> Features {
    let ids = ids();
    let s = norm.text.as_str();
    let mut on: u64 = 0;
    let mut set = |i: usize| {
        if i < 64 {
            on |= 1 << i;
        }
    };
    if !norm.joins.is_empty() {
        set(ids.joined_digits);
    }
    let chars: Vec<char> = s.chars().collect();
    // Runs of letters, digits and `_`/`-`.
    let mut i = 0;
    while i < chars.len() {
        if !is_run_char(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let (mut digits, mut letters, mut underscore) = (0, 0, false);
        while i < chars.len() && is_run_char(chars[i]) {
            match chars[i] {
                '0'..='9' => digits += 1,
                '_' => underscore = true,
                c if c.is_ascii_alphabetic() => letters += 1,
                _ => {}
            }
            i += 1;
        }
        let n = i - start;
        if digits == n {
            if (5..=11).contains(&n) && chars[start] != '0' {
                set(ids.digits_qq);
            }
            if n == 11 && chars[start] == '1' {
                set(ids.digits_mobile);
            }
            if n >= 7 {
                set(ids.digits_long);
            }
        } else if n >= 5 && letters > 0 && (digits > 0 || underscore) {
            set(ids.handle);
            if chars[start.saturating_sub(6)..start].iter().any(|c| *c == ':' || *c == '@') {
                set(ids.handle_after_colon);
            }
        } else if letters >= 6 && letters == n {
            set(ids.latin_word);
        }
        // A symbol or emoji inside a run: `abc🌸123`, `1️3️8`.
        if let Some(&c) = chars.get(i) {
            if !c.is_whitespace() && !is_cjk(c) && !c.is_ascii() {
                let next = chars.get(i + 1).copied();
                let after = chars.get(i + 2).copied();
                if next.is_some_and(is_run_char) || (next.is_some_and(|x| !is_cjk(x)) && after.is_some_and(is_run_char))
                {
                    set(ids.broken_run);
                }
            }
            if c == '.' && chars.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
                set(ids.dotted);
            }
        }
        if start >= 1 {
            let b = chars[start - 1];
            if !b.is_ascii() && !is_cjk(b) && !b.is_whitespace() {
                set(ids.emoji_before_run);
            }
        }
    }
    // Sounds of cue words in other characters.
    for (at, c) in chars.iter().enumerate() {
        if !is_cjk(*c) {
            continue;
        }
        let Some(first) = c.to_pinyin().map(|p| p.plain()) else { continue };
        let Some(cands) = lexicon.sounds.get(first) else { continue };
        for cue in cands {
            let Some(window) = chars.get(at..at + cue.syllables.len()) else { continue };
            let same_sound =
                window.iter().zip(&cue.syllables).all(|(c, s)| c.to_pinyin().is_some_and(|p| p.plain() == *s));
            if same_sound && !window.iter().copied().eq(cue.word.chars()) {
                set(ids.sound[Reason::ALL.iter().position(|x| *x == cue.reason).unwrap_or(0)]);
            }
        }
    }
    // Funnels: a verb, then within 10 characters (as bytes: 30) a place that holds the rest.
    if let Some(ac) = &lexicon.funnel {
        let (mut verb_at, mut target, mut trade, mut contact) = (None::<usize>, false, false, false);
        for m in ac.find_overlapping_iter(s) {
            match lexicon.kinds[m.pattern().as_usize()] {
                Kind::Verb => verb_at = Some(m.end()),
                Kind::Target => target |= verb_at.is_some_and(|v| m.start() >= v && m.start() - v <= 30),
                Kind::Trade => trade = true,
                Kind::Contact => contact = true,
            }
        }
        if trade {
            set(ids.trade_word);
        }
        if target {
            set(ids.funnel_target);
            if trade {
                set(ids.funnel_trade);
            }
            if contact {
                set(ids.funnel_contact);
            }
        }
    }
    // Character n-grams of the text's shape.
    let mut grams = Vec::with_capacity(2 * chars.len());
    for n in 2..=3 {
        for w in chars.windows(n) {
            // Only grams with a digit, a letter, a symbol or an emoji: the shapes of
            // handles and numbers and what breaks them up. Runs of Chinese alone say what a
            // group is about (二手, 同城, 探店), which is no sign of diverting: trained on
            // them, the model held ordinary groups for their topic.
            if w.iter().all(|c| c.is_whitespace() || is_cjk(*c)) {
                continue;
            }
            grams.push(bucket(w));
        }
    }
    grams.sort_unstable();
    grams.dedup();
    Features { named: on, grams, chars }
}

impl Features {
    /// The named features that fired.
    pub fn named(&self) -> impl Iterator<Item = usize> + '_ {
        (0..NAMED.len()).filter(|i| self.named & (1 << i) != 0)
    }

    /// The n-gram of the text that fell into `bucket`, shaped, for the evidence.
    fn gram_of(&self, b: u32) -> Option<String> {
        let shaped = |w: &[char]| w.iter().map(|c| char::from_u32(shape(*c)).unwrap_or(*c)).collect();
        (2..=3).find_map(|n| self.chars.windows(n).find(|w| bucket(w) == b).map(shaped))
    }
}

/// The weights: per feature, one per reason (`Reason::ALL` order), and the biases.
#[derive(Clone)]
pub struct Model {
    bias: [f32; CLASSES],
    named: Vec<[f32; CLASSES]>,
    grams: Vec<[f32; CLASSES]>,
    /// Where the weights came from (the file's first comment line), for the log.
    pub provenance: String,
}

/// The model's verdict on one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub reason: Reason,
    pub probability: f32,
    /// The features that weighed most toward the reason, with their weights.
    pub evidence: Vec<(String, f32)>,
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Model {
    fn zero() -> Model {
        Model {
            bias: [0.0; CLASSES],
            named: vec![[0.0; CLASSES]; NAMED.len()],
            grams: vec![[0.0; CLASSES]; BUCKETS],
            provenance: String::new(),
        }
    }

    /// Reads `model.tsv`; `None` when there is none (the lists alone decide).
    pub fn load(path: &Path) -> anyhow::Result<Option<Model>> {
        let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
        let mut m = Model::zero();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                if m.provenance.is_empty() {
                    m.provenance = line.trim_start_matches('#').trim().to_string();
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let name = cols.next().unwrap_or("");
            let w: Vec<f32> = cols
                .map(str::parse)
                .collect::<Result<_, _>>()
                .with_context(|| format!("{}:{}: a weight is not a number", path.display(), n + 1))?;
            let Ok(w) = <[f32; CLASSES]>::try_from(w.as_slice()) else {
                bail!("{}:{}: expected a name and {CLASSES} weights", path.display(), n + 1);
            };
            if name == "bias" {
                m.bias = w;
            } else if let Some(b) = name.strip_prefix("g:") {
                let b: usize = b.parse().with_context(|| format!("{}:{}: bucket", path.display(), n + 1))?;
                if b >= BUCKETS {
                    bail!("{}:{}: bucket {b} past {BUCKETS}", path.display(), n + 1);
                }
                m.grams[b] = w;
            } else if let Some(i) = NAMED.iter().position(|x| *x == name) {
                m.named[i] = w;
            } else {
                bail!("{}:{}: unknown feature {name:?}", path.display(), n + 1);
            }
        }
        Ok(Some(m))
    }

    fn logits(&self, f: &Features) -> [f32; CLASSES] {
        let mut z = self.bias;
        for i in f.named() {
            (0..CLASSES).for_each(|r| z[r] += self.named[i][r]);
        }
        for b in &f.grams {
            let w = &self.grams[*b as usize];
            (0..CLASSES).for_each(|r| z[r] += w[r]);
        }
        z
    }

    /// The likeliest reason and its probability.
    pub fn likeliest(&self, f: &Features) -> (Reason, f32) {
        let z = self.logits(f);
        let r = (0..CLASSES).max_by(|a, b| z[*a].total_cmp(&z[*b])).unwrap_or(0);
        (Reason::ALL[r], sigmoid(z[r]))
    }

    /// The likeliest reason and its probability, with the features that weighed most.
    pub fn score(&self, f: &Features) -> Scored {
        let z = self.logits(f);
        let r = (0..CLASSES).max_by(|a, b| z[*a].total_cmp(&z[*b])).unwrap_or(0);
        let mut parts: Vec<(String, f32)> = f.named().map(|i| (NAMED[i].to_string(), self.named[i][r])).collect();
        let mut grams: Vec<(u32, f32)> = f.grams.iter().map(|b| (*b, self.grams[*b as usize][r])).collect();
        grams.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts.extend(grams.into_iter().take(4).filter_map(|(b, w)| Some((format!("\"{}\"", f.gram_of(b)?), w))));
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts.retain(|p| p.1 > 0.0);
        parts.truncate(4);
        for p in &mut parts {
            p.1 = (p.1 * 100.0).round() / 100.0;
        }
        Scored { reason: Reason::ALL[r], probability: sigmoid(z[r]), evidence: parts }
    }

    /// Writes the weights, the named features first, then the buckets with any weight.
    pub fn save(&self, path: &Path, provenance: &str) -> anyhow::Result<()> {
        let tmp = path.with_extension("tsv.tmp");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let row = |w: &[f32; CLASSES]| w.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join("\t");
        writeln!(out, "# {provenance}")?;
        writeln!(
            out,
            "# feature<TAB>weight for wechat, qq, phone, url, other_app, private_trade (see src/moderation/model.rs)"
        )?;
        writeln!(out, "bias\t{}", row(&self.bias))?;
        for (i, name) in NAMED.iter().enumerate() {
            writeln!(out, "{name}\t{}", row(&self.named[i]))?;
        }
        for (b, w) in self.grams.iter().enumerate() {
            if w.iter().any(|x| x.abs() >= 0.0005) {
                writeln!(out, "g:{b}\t{}", row(w))?;
            }
        }
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// One labelled text of the corpus.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub reason: Option<Reason>,
    pub text: String,
}

/// Reads a corpus file: `flag<TAB>reason<TAB>text` or `clear<TAB>-<TAB>text`, an optional
/// third column before the text (how it is disguised) allowed; `#` lines are comments.
pub fn read_corpus(path: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (label, reason, body) = match cols.as_slice() {
            [l, r, b] | [l, r, _, b] => (*l, *r, *b),
            _ => bail!("{}:{}: expected label, reason and text", path.display(), n + 1),
        };
        let reason = match (label, reason) {
            ("flag", r) => {
                Some(Reason::parse(r).with_context(|| format!("{}:{}: reason {r:?}", path.display(), n + 1))?)
            }
            ("clear", "-") => None,
            _ => bail!("{}:{}: label {label:?} with reason {reason:?}", path.display(), n + 1),
        };
        out.push(Labelled { reason, text: body.to_string() });
    }
    Ok(out)
}

/// Trains the weights on `examples` (already read as features): one logistic regression per
/// reason, AdaGrad with L2, `epochs` passes in a fixed shuffled order.
pub fn train(examples: &[(Features, Option<Reason>)], epochs: usize) -> Model {
    const RATE: f32 = 0.3;
    const L2: f32 = 1e-4;
    let mut m = Model::zero();
    let mut g_bias = [1e-6f32; CLASSES];
    let mut g_named = vec![[1e-6f32; CLASSES]; NAMED.len()];
    let mut g_grams: HashMap<u32, [f32; CLASSES]> = HashMap::new();
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..epochs {
        // A fixed shuffle (xorshift), so the same corpus gives the same weights.
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        for &e in &order {
            let (f, label) = &examples[e];
            let z = m.logits(f);
            for r in 0..CLASSES {
                let y = if *label == Some(Reason::ALL[r]) { 1.0 } else { 0.0 };
                let g = sigmoid(z[r]) - y;
                g_bias[r] += g * g;
                m.bias[r] -= RATE * g / g_bias[r].sqrt();
                for i in f.named() {
                    let grad = g + L2 * m.named[i][r];
                    g_named[i][r] += grad * grad;
                    m.named[i][r] -= RATE * grad / g_named[i][r].sqrt();
                }
                for b in &f.grams {
                    let w = &mut m.grams[*b as usize][r];
                    let grad = g + L2 * *w;
                    let acc = &mut g_grams.entry(*b).or_insert([1e-6; CLASSES])[r];
                    *acc += grad * grad;
                    *w -= RATE * grad / acc.sqrt();
                }
            }
        }
    }
    m
}
