//! The text pipeline, shared by documents and queries so both fold the same way:
//! traditional → simplified, full-width → half-width, lower case, then jieba search-mode
//! words, CJK bigrams and single characters, and pinyin (full and initials).
//! Punctuation and emoji are ignored for matching; the original text is kept for display.

use std::sync::LazyLock;

use jieba_rs::Jieba;
use pinyin::{ToPinyin, ToPinyinMulti};

/// One jieba instance for the whole process, with the domain dictionary of `data/userdict.txt`.
static JIEBA: LazyLock<Jieba> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    let path = crate::config::data_dir().join("userdict.txt");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let _ = jieba.load_dict(&mut std::io::BufReader::new(text.as_bytes()));
    }
    jieba
});

/// Loads the dictionary now rather than on the first request.
pub fn warm_up() {
    LazyLock::force(&JIEBA);
}

fn fold_char(c: char) -> char {
    let c = match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    // Only one-to-one lowercasings keep the folded text aligned with the original.
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Folds text for matching. The result has exactly as many chars as the input, so char
/// positions found in the folded text are positions in the original (for highlighting).
pub fn normalize(text: &str) -> String {
    fast2s::convert(text).chars().map(fold_char).collect()
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Splits a token into runs that are searchable on their own: CJK runs, and runs of
/// Latin letters or digits (K歌 → k, 歌; 王者荣耀5排 → 王者荣耀, 5, 排; iphone15 → iphone, 15).
fn push_runs(token: &str, out: &mut Vec<String>) {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Cjk,
        Alpha,
        Digit,
        Other,
    }
    let kind = |c: char| {
        if is_cjk(c) {
            Kind::Cjk
        } else if c.is_ascii_digit() || c.is_numeric() {
            Kind::Digit
        } else if is_word_char(c) {
            Kind::Alpha
        } else {
            Kind::Other
        }
    };
    let mut cur = String::new();
    let mut cur_kind = Kind::Other;
    for c in token.chars() {
        let k = kind(c);
        if k != cur_kind && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur_kind = k;
        if k != Kind::Other {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
}

/// Document words: jieba search mode over the folded text (so 中国农业发展银行 also yields
/// 中国, 农业, 银行), split into searchable runs.
pub fn index_words(text: &str) -> Vec<String> {
    let folded = normalize(text);
    let mut out = Vec::new();
    for t in JIEBA.cut_for_search(&folded, true) {
        push_runs(t.word, &mut out);
    }
    out
}

/// Query words: jieba's precise mode over each whitespace-separated part, so a query word
/// is the unit that must match (海淀徒步 → 海淀, 徒步). Duplicates are dropped.
pub fn query_words(query: &str) -> Vec<String> {
    words_of_parts(query_parts(query).into_iter().map(|(_, words)| words))
}

/// The whitespace-separated parts of a query, folded, each with its words.
pub fn query_parts(query: &str) -> Vec<(String, Vec<String>)> {
    let folded = normalize(query);
    let mut out = Vec::new();
    for part in folded.split(|c: char| c.is_whitespace() || (!is_word_char(c) && !is_cjk(c))) {
        if part.is_empty() {
            continue;
        }
        let mut words = Vec::new();
        for t in JIEBA.cut(part, true) {
            push_runs(t.word, &mut words);
        }
        out.push((part.to_string(), words));
    }
    out
}

/// The words of the parts in order, each once.
pub fn words_of_parts(parts: impl IntoIterator<Item = Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in parts.into_iter().flatten() {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Bigrams of every CJK run (a run of one character yields that character), plus Latin and
/// digit runs whole, in order: any 2-character substring of a name is a term here.
pub fn bigrams(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chars in char_runs(text) {
        if chars.first().is_some_and(|c| is_cjk(*c)) {
            if chars.len() == 1 {
                out.push(chars.iter().collect());
            }
            for w in chars.windows(2) {
                out.push(w.iter().collect());
            }
        } else {
            out.push(chars.iter().collect());
        }
    }
    out
}

/// The runs of the folded text (CJK, Latin letters, digits), as characters.
fn char_runs(text: &str) -> Vec<Vec<char>> {
    let mut runs = Vec::new();
    push_runs(&normalize(text), &mut runs);
    runs.iter().map(|r| r.chars().collect()).collect()
}

/// The longest substring indexed whole by `ngrams`; longer query words match as a phrase
/// of bigrams.
pub const NGRAM_MAX: usize = 4;

/// Every 3- to `NGRAM_MAX`-character substring of each CJK run, so a query word of that
/// length matches inside a name with one term (a phrase of bigrams would need positions,
/// and a union holding a phrase cannot be pruned).
pub fn ngrams(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chars in char_runs(text).into_iter().filter(|r| r.first().is_some_and(|c| is_cjk(*c))) {
        for n in 3..=NGRAM_MAX {
            for w in chars.windows(n) {
                let gram: String = w.iter().collect();
                if !out.contains(&gram) {
                    out.push(gram);
                }
            }
        }
    }
    out
}

/// The bigrams of one query word, for a phrase query over the bigram field.
pub fn word_bigrams(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 2 {
        return vec![word.to_string()];
    }
    chars.windows(2).map(|w| w.iter().collect()).collect()
}

/// Fragments for partial queries: every CJK character (猫 finds 萌猫乐园) and the leading
/// parts of Latin words (ai finds AIGC, cos finds cosplay).
pub fn unigrams(text: &str) -> Vec<String> {
    let folded = normalize(text);
    let mut out: Vec<String> = folded.chars().filter(|c| is_cjk(*c)).map(String::from).collect();
    let mut runs = Vec::new();
    push_runs(&folded, &mut runs);
    for run in runs.iter().filter(|r| r.chars().all(|c| c.is_ascii_alphabetic())) {
        for end in 2..run.len() {
            out.push(run[..end].to_string());
        }
    }
    out
}

/// Full pinyin and initials of a word: 户外 → ("huwai", "hw"). Non-CJK characters are kept
/// as they are; characters without a reading are dropped.
pub fn pinyin_of(word: &str) -> (String, String) {
    let mut full = String::new();
    let mut initials = String::new();
    for c in word.chars() {
        if is_cjk(c) {
            if let Some(p) = c.to_pinyin() {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
            }
        } else if c.is_alphanumeric() {
            full.push(c);
            initials.push(c);
        }
    }
    (full, initials)
}

/// The plain readings of a character, the most common first, without duplicates.
fn readings(c: char) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for p in multi {
            if !out.contains(&p.plain()) {
                out.push(p.plain());
            }
        }
    } else if let Some(p) = c.to_pinyin() {
        out.push(p.plain());
    }
    out
}

/// Whether two characters share a reading (tones aside): 沙 and 杀 are both sha.
pub fn sounds_alike(a: char, b: char) -> bool {
    let ra = readings(a);
    !ra.is_empty() && readings(b).iter().any(|r| ra.contains(r))
}

/// The most readings of one word kept for its characters with several: the common one
/// and the likeliest other (银行 is yinxing by its characters' first readings, yinhang as
/// people say it; 重庆 zhongqing and chongqing). Further readings of a character are
/// mostly archaic (咖啡 as kapai, 宁德 as zhude) and tripled a name's pinyin terms.
const WORD_VARIANTS: usize = 2;

/// The most readings of a span of several words: its words' readings combined, the
/// first word's first reading first (音乐重庆: yinlezhongqing, yinlechongqing,
/// yinyuezhongqing, yinyuechongqing).
const SPAN_VARIANTS: usize = 4;

/// Full pinyin and initials of a word for every combination of readings, up to
/// `WORD_VARIANTS`, the most common first.
pub fn pinyin_variants(word: &str) -> Vec<(String, String)> {
    let mut variants = readings_of(word);
    variants.retain(|(f, _)| !f.is_empty());
    variants
}

/// Each (full pinyin, initials) of `so_far` followed by each of `next`, in that order, up
/// to `most`.
fn followed_by<F: AsRef<str>, I: AsRef<str>>(
    so_far: &[(String, String)],
    next: &[(F, I)],
    most: usize,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (full, initials) in so_far {
        for (f, i) in next {
            if out.len() >= most {
                return out;
            }
            out.push((format!("{full}{}", f.as_ref()), format!("{initials}{}", i.as_ref())));
        }
    }
    out
}

/// `pinyin_variants`, with an empty reading for a word without any.
fn readings_of(word: &str) -> Vec<(String, String)> {
    let mut variants = vec![(String::new(), String::new())];
    for c in word.chars() {
        if is_cjk(c) {
            let rs = readings(c);
            if rs.is_empty() {
                continue;
            }
            let options: Vec<(&str, &str)> = rs.iter().map(|r| (*r, &r[..1])).collect();
            variants = followed_by(&variants, &options, WORD_VARIANTS);
        } else if c.is_alphanumeric() {
            for (full, initials) in variants.iter_mut() {
                full.push(c);
                initials.push(c);
            }
        }
    }
    variants
}

/// Pinyin terms of a name: full pinyin and initials of every word and of every run of up
/// to three neighbouring words, so huwaitubu and hwtb find 户外徒步俱乐部.
pub fn pinyin_terms(name: &str) -> Vec<String> {
    pinyin_spans(name).into_iter().flat_map(|(full, initials)| initials.into_iter().chain([full])).fold(
        Vec::new(),
        |mut out, t| {
            if !out.contains(&t) {
                out.push(t);
            }
            out
        },
    )
}

/// Whether `word` is among the initials (not the full pinyin) of a name's pinyin terms.
pub fn is_initials_of(name: &str, word: &str) -> bool {
    let spans = pinyin_spans(name);
    spans.iter().any(|(_, i)| i.as_deref() == Some(word)) && !spans.iter().any(|(f, _)| f == word)
}

/// The (full pinyin, initials when longer than one letter) of every span `pinyin_terms`
/// indexes, in order.
fn pinyin_spans(name: &str) -> Vec<(String, Option<String>)> {
    let folded = normalize(name);
    let mut words: Vec<String> = Vec::new();
    for t in JIEBA.cut(&folded, true) {
        push_runs(t.word, &mut words);
    }
    let words: Vec<String> = words.into_iter().filter(|w| w.chars().any(is_cjk)).collect();
    let each: Vec<Vec<(String, String)>> = words.iter().map(|w| readings_of(w)).collect();
    let mut spans: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for i in 0..words.len() {
        for len in 1..=3.min(words.len() - i) {
            spans.push(words[i..i + len].concat());
            let mut variants = vec![(String::new(), String::new())];
            for word in &each[i..i + len] {
                variants = followed_by(&variants, word, SPAN_VARIANTS);
            }
            for (full, initials) in variants.into_iter().filter(|(f, _)| !f.is_empty()) {
                out.push((full, (initials.chars().count() > 1).then_some(initials)));
            }
        }
    }
    // Search-mode pieces of long words too (银行 inside 农业银行).
    for w in index_words(name) {
        if w.chars().any(is_cjk) && !spans.contains(&w) {
            spans.push(w.clone());
            for (full, initials) in pinyin_variants(&w) {
                out.push((full, (initials.chars().count() > 1).then_some(initials)));
            }
        }
    }
    out
}

/// What a suggest key is cut from: the folded name without spaces or punctuation.
pub fn suggest_text(name: &str) -> String {
    normalize(name).chars().filter(|c| is_word_char(*c)).collect()
}

/// The most places in one name where suggest completes: its start and the starts of its
/// first words (a name has at most 30 characters, so this is nearly always all of them).
pub const SUGGEST_STARTS: usize = 8;

/// What a suggest key holds: the text itself, its full pinyin, or its initials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyKind {
    Text = 0,
    Pinyin = 1,
    Initials = 2,
}

/// One suggest key of a name: the name's suggest text from word start `start` (a char
/// position) to its end, as text, full pinyin or initials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestKey {
    pub kind: KeyKind,
    pub start: u8,
    pub key: String,
}

/// Where words begin in a suggest text, as char positions, in order: the start, every
/// jieba word in search mode (so 农业 inside 中国农业发展银行), and every run of letters or
/// digits. At most `SUGGEST_STARTS`.
pub fn word_starts(text: &str) -> Vec<usize> {
    let mut starts: Vec<usize> = JIEBA.cut_for_search(text, true).iter().map(|t| t.start).collect();
    let mut prev = None;
    for (i, c) in text.chars().enumerate() {
        let kind = if is_cjk(c) {
            0
        } else if c.is_numeric() {
            1
        } else {
            2
        };
        if prev != Some(kind) {
            starts.push(i);
        }
        prev = Some(kind);
    }
    starts.push(0);
    starts.sort_unstable();
    starts.dedup();
    starts.retain(|s| *s <= u8::MAX as usize);
    starts.truncate(SUGGEST_STARTS);
    starts
}

/// Suggest keys of a name: from each word start to the end of the name, its text, full
/// pinyin and initials, so a prefix of a key is the start of any word, and initials span
/// the words that follow it (hwtb completes 北京户外徒步群). Keys that say the same (a run
/// of digits is its own pinyin) are kept once, the text first.
pub fn suggest_keys(name: &str) -> Vec<SuggestKey> {
    let text = suggest_text(name);
    // Each character's reading and initial, once; a key is the concatenation of a tail.
    let parts: Vec<(char, String, String)> = text
        .chars()
        .map(|c| {
            let (full, initials) = pinyin_of(c.encode_utf8(&mut [0; 4]));
            (c, full, initials)
        })
        .collect();
    let mut out: Vec<SuggestKey> = Vec::new();
    for start in word_starts(&text) {
        let tail = &parts[start..];
        let keys = [
            (KeyKind::Text, tail.iter().map(|p| p.0).collect::<String>()),
            (KeyKind::Pinyin, tail.iter().map(|p| p.1.as_str()).collect()),
            (KeyKind::Initials, tail.iter().map(|p| p.2.as_str()).collect()),
        ];
        for (kind, key) in keys {
            let start = start as u8;
            if !key.is_empty() && !out.iter().any(|k| k.start == start && k.key == key) {
                out.push(SuggestKey { kind, start, key });
            }
        }
    }
    out
}

/// The key of `kind` that starts at char `start` of a name's suggest text (what
/// `suggest_keys` gives for that start, computed alone).
pub fn suggest_key_at(name: &str, kind: KeyKind, start: usize) -> String {
    let text = suggest_text(name);
    let tail: String = text.chars().skip(start).collect();
    match kind {
        KeyKind::Text => tail,
        KeyKind::Pinyin => pinyin_of(&tail).0,
        KeyKind::Initials => pinyin_of(&tail).1,
    }
}

/// A suggest query in the same shape as the keys: folded, without spaces (hu wai → huwai).
pub fn suggest_query(q: &str) -> String {
    suggest_text(q)
}

/// Wraps the parts of `name` that match any query word in `<em>…</em>`, escaping HTML.
pub fn highlight(name: &str, words: &[String]) -> Option<String> {
    let folded: Vec<char> = fast2s::convert(name).chars().map(fold_char).collect();
    let mut marked = vec![false; folded.len()];
    for w in words {
        let len = w.chars().count();
        if len == 0 || len > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - len {
            if folded[start..start + len].iter().copied().eq(w.chars()) {
                marked[start..start + len].iter_mut().for_each(|m| *m = true);
            }
        }
    }
    if !marked.iter().any(|m| *m) || name.chars().count() != folded.len() {
        return None;
    }
    let mut out = String::with_capacity(name.len() + 10);
    let mut open = false;
    for (c, m) in name.chars().zip(&marked) {
        if *m && !open {
            out.push_str("<em>");
            open = true;
        } else if !*m && open {
            out.push_str("</em>");
            open = false;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    if open {
        out.push_str("</em>");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_handles_traditional_full_width_and_case() {
        assert_eq!(normalize("戶外ＡＢＣ"), "户外abc");
        assert_eq!(normalize("K歌"), "k歌");
        assert_eq!(normalize("讀書會").chars().count(), 3);
    }

    #[test]
    fn ngrams_cover_every_three_and_four_character_substring_of_a_run() {
        let grams = ngrams("王者荣耀 五排AB群");
        for g in ["王者荣", "者荣耀", "王者荣耀"] {
            assert!(grams.contains(&g.to_string()), "{g} missing from {grams:?}");
        }
        // Runs are separate: nothing spans the space or the Latin letters.
        assert!(!grams.iter().any(|g| g.contains('五')));
        assert!(!grams.iter().any(|g| g.chars().count() > NGRAM_MAX || g.chars().count() < 3));
    }

    #[test]
    fn documents_yield_words_inside_long_words() {
        let words = index_words("中国农业发展银行");
        assert!(words.contains(&"农业".to_string()), "{words:?}");
        let words = index_words("王者荣耀5排车队");
        assert!(words.contains(&"5".to_string()), "{words:?}");
        assert!(words.contains(&"王者荣耀".to_string()), "{words:?}");
    }

    #[test]
    fn domain_words_stay_whole() {
        for w in ["开黑", "上分", "考公", "美妆", "柯基", "铲屎官"] {
            assert!(query_words(&format!("周末{w}群")).contains(&w.to_string()), "{w}");
        }
    }

    #[test]
    fn query_syntax_is_plain_text() {
        assert_eq!(query_words("name:* AND \"x\""), vec!["name", "and", "x"]);
        assert!(query_words("!!! ***").is_empty());
    }

    #[test]
    fn bigrams_cover_every_substring_of_two() {
        let b = bigrams("海淀徒步");
        assert_eq!(b, vec!["海淀", "淀徒", "徒步"]);
        assert_eq!(bigrams("猫"), vec!["猫"]);
    }

    #[test]
    fn pinyin_gives_full_and_initials() {
        assert_eq!(pinyin_of("户外"), ("huwai".to_string(), "hw".to_string()));
        let keys: Vec<String> = suggest_keys("户外徒步").into_iter().map(|k| k.key).collect();
        assert_eq!(keys[..3], ["户外徒步", "huwaitubu", "hwtb"]);
        assert_eq!(suggest_query("hu wai"), "huwai");
    }

    #[test]
    fn pinyin_spans_words_and_knows_other_readings() {
        let terms = pinyin_terms("户外徒步俱乐部");
        for t in ["huwai", "hw", "huwaitubu", "hwtb", "tubu"] {
            assert!(terms.contains(&t.to_string()), "{t}: {terms:?}");
        }
        assert!(pinyin_terms("农业银行交流群").contains(&"yinhang".to_string()));
        // A word's other reading, alone and within spans of several words, where a second
        // word may take its other reading too.
        let terms = pinyin_terms("重庆火锅音乐");
        for t in ["chongqing", "cq", "chongqinghuoguo", "cqhg", "chongqinghuoguoyinyue", "huoguo", "yinyue"] {
            assert!(terms.contains(&t.to_string()), "{t}: {terms:?}");
        }
        // Two readings of a word at most: 咖啡 is kafei and one other, not six.
        let coffee = pinyin_terms("咖啡");
        assert!(coffee.contains(&"kafei".to_string()) && coffee.len() == 4, "{coffee:?}");
        assert!(unigrams("AIGC创作者").contains(&"ai".to_string()));
    }

    #[test]
    fn suggest_keys_start_at_every_word_and_their_initials_span_the_words_after() {
        let keys = suggest_keys("北京户外徒步群");
        let has = |kind, key: &str| keys.iter().any(|k| k.kind == kind && k.key == key);
        for key in ["北京户外徒步群", "户外徒步群", "徒步群", "群"] {
            assert!(has(KeyKind::Text, key), "{key}: {keys:?}");
        }
        assert!(has(KeyKind::Pinyin, "huwaitubuqun") && has(KeyKind::Initials, "hwtbq"), "{keys:?}");
        assert!(has(KeyKind::Initials, "bjhwtbq"), "{keys:?}");
        // Every key is what `suggest_key_at` gives for its start alone.
        for k in &keys {
            assert_eq!(suggest_key_at("北京户外徒步群", k.kind, k.start as usize), k.key);
        }
        // Letters and digits start words of their own, and say the same in every kind.
        let keys = suggest_keys("王者荣耀5排");
        assert!(keys.iter().any(|k| k.kind == KeyKind::Initials && k.key == "5p"), "{keys:?}");
        let keys = suggest_keys("考研2026");
        let year: Vec<&SuggestKey> = keys.iter().filter(|k| k.key == "2026").collect();
        assert!(year.len() == 1 && year[0].kind == KeyKind::Text, "{keys:?}");
        assert!(word_starts(&"群".repeat(30)).len() <= SUGGEST_STARTS);
    }

    #[test]
    fn highlight_marks_matches_and_escapes() {
        assert_eq!(highlight("海淀徒步群", &["徒步".into()]).unwrap(), "海淀<em>徒步</em>群");
        assert_eq!(highlight("<b>戶外", &["户外".into()]).unwrap(), "&lt;b&gt;<em>戶外</em>");
        assert!(highlight("海淀", &["徒步".into()]).is_none());
    }
}
