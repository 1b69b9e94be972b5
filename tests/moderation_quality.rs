//! The screen (SPEC §5) against the hand-labelled set `tests/moderation/labelled.tsv`:
//! precision and recall overall and per reason, every miss and false alarm, and the
//! throughput. `tests/moderation/holdout.tsv` (written after the screen was tuned, never
//! used to tune it) is scored and printed too, but not asserted on.
//! Run with `cargo test --release --test moderation_quality -- --nocapture`.

use std::path::Path;
use std::time::Instant;

use groupscout::moderation::{Outcome, Reason, Screening, Thresholds};

struct Case {
    line: usize,
    /// The labelled reason; `None` for a clear text.
    reason: Option<Reason>,
    /// How a diverting text is disguised (`plain`, `homophone`, …), or how hard a clear one
    /// is (`hard`, `ordinary`), where the set says (a fourth column).
    disguise: Option<String>,
    text: String,
}

fn read_cases(name: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moderation").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let (label, reason, disguise, body) = match cols.as_slice() {
            [l, r, b] => (*l, Some(*r), None, Some(*b)),
            [l, r, d, b] => (*l, Some(*r), Some(d.to_string()), Some(*b)),
            _ => (cols[0], None, None, None),
        };
        let (Some(reason), Some(body)) = (reason, body) else { panic!("{name}:{}: expected 3 or 4 columns", i + 1) };
        let reason = match (label, reason) {
            ("flag", r) => Some(Reason::parse(r).unwrap_or_else(|| panic!("{name}:{}: reason {r:?}", i + 1))),
            ("clear", "-") => None,
            _ => panic!("{name}:{}: label {label:?} reason {reason:?}", i + 1),
        };
        out.push(Case { line: i + 1, reason, disguise, text: body.to_string() });
    }
    out
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores `cases` and prints the table, misses and false alarms: (precision, recall).
fn score(screen: &Screening, name: &str, cases: &[Case]) -> (f64, f64) {
    // Overall: flag versus clear.
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    // Per reason: labelled, predicted, both.
    let mut per: Vec<(Reason, usize, usize, usize)> = Reason::ALL.iter().map(|&r| (r, 0, 0, 0)).collect();
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();
    let mut wrong_reason = Vec::new();
    // Flagged for review rather than held: [clear texts, diverting texts].
    let mut review = [0usize; 2];
    for case in cases {
        let verdict = screen.text(&case.text);
        let found = verdict.as_ref().map(|(_, f)| f.clone());
        if verdict.as_ref().is_some_and(|(o, _)| *o == Outcome::Review) {
            review[case.reason.is_some() as usize] += 1;
        }
        match (&case.reason, &found) {
            (Some(_), Some(_)) => tp += 1,
            (None, Some(_)) => fp += 1,
            (Some(_), None) => fn_ += 1,
            (None, None) => {}
        }
        for p in per.iter_mut() {
            let labelled = case.reason == Some(p.0);
            let predicted = found.as_ref().is_some_and(|f| f.reason == p.0);
            p.1 += labelled as usize;
            p.2 += predicted as usize;
            p.3 += (labelled && predicted) as usize;
        }
        let shown = found.as_ref().map(|f| format!("{} {:?}", f.reason.as_str(), f.evidence)).unwrap_or_default();
        match (&case.reason, &found) {
            (Some(r), None) => misses.push(format!("  line {:>3} [{}] {}", case.line, r.as_str(), case.text)),
            (None, Some(_)) => false_alarms.push(format!("  line {:>3} {}  <- {}", case.line, case.text, shown)),
            (Some(r), Some(f)) if f.reason != *r => {
                wrong_reason.push(format!("  line {:>3} [{}] {}  <- {}", case.line, r.as_str(), case.text, shown))
            }
            _ => {}
        }
    }
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);

    let flags = cases.iter().filter(|c| c.reason.is_some()).count();
    println!("\n{name}: {} texts, {} flag, {} clear", cases.len(), flags, cases.len() - flags);
    println!("{:<14} {:>8} {:>9} {:>10} {:>7}", "reason", "labelled", "predicted", "precision", "recall");
    for (r, labelled, predicted, both) in &per {
        println!(
            "{:<14} {:>8} {:>9} {:>10.3} {:>7.3}",
            r.as_str(),
            labelled,
            predicted,
            ratio(*both, *predicted),
            ratio(*both, *labelled)
        );
    }
    println!("{:<14} {:>8} {:>9} {:>10.3} {:>7.3}", "overall", tp + fn_, tp + fp, precision, recall);
    let held_recall = ratio(tp - review[1], tp + fn_);
    println!(
        "of the flagged, for review rather than held: {} diverting, {} clear; held alone recall {held_recall:.3}",
        review[1], review[0]
    );
    // By disguise, where the set names one: recall of diverting texts, false alarms of clear.
    let mut by: std::collections::BTreeMap<(bool, String), (usize, usize)> = Default::default();
    for case in cases {
        let Some(d) = &case.disguise else { continue };
        let e = by.entry((case.reason.is_some(), d.clone())).or_default();
        e.0 += 1;
        e.1 += screen.text(&case.text).is_some() as usize;
    }
    for ((flag, d), (n, flagged)) in &by {
        let what = if *flag { "recall" } else { "false alarms" };
        println!("  {:<12} {:>4} texts, {what} {:.3}", d, n, ratio(*flagged, *n));
    }
    println!("\nmisses ({}):", misses.len());
    misses.iter().for_each(|m| println!("{m}"));
    println!("false alarms ({}):", false_alarms.len());
    false_alarms.iter().for_each(|m| println!("{m}"));
    println!("flagged for another reason ({}):", wrong_reason.len());
    wrong_reason.iter().for_each(|m| println!("{m}"));

    (precision, recall)
}

#[test]
fn precision_and_recall_on_the_labelled_set() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/moderation"));
    let defaults = groupscout::config::Rules::default();
    let thresholds = Thresholds { hold: defaults.screen_hold, review: defaults.screen_review };
    let screen = Screening::load(dir, thresholds).unwrap();
    let cases = read_cases("labelled.tsv");
    let (precision, recall) = score(&screen, "labelled.tsv", &cases);
    let holdout = read_cases("holdout.tsv");
    score(&screen, "holdout.tsv (not asserted)", &holdout);
    // Written by another hand than the screen's, after it was tuned, and never tuned on.
    let holdout_b = read_cases("heldout-b.tsv");
    score(&screen, "heldout-b.tsv (not asserted)", &holdout_b);
    // Written after the misses of both sets above were fixed in the lists.
    let holdout_c = read_cases("heldout-c.tsv");
    score(&screen, "heldout-c.tsv (not asserted)", &holdout_c);
    // Written blind from SPEC §5's classes by a writer who had seen nothing of the screen.
    let blind_1 = read_cases("blind-1.tsv");
    score(&screen, "blind-1.tsv (in the corpus since; not asserted)", &blind_1);
    // Written after the model's first build by another writer, asked for what comes next.
    let blind_2 = read_cases("blind-2.tsv");
    score(&screen, "blind-2.tsv (not asserted)", &blind_2);

    // Throughput: the set repeated to about 200k texts, one core.
    let rounds = 200_000 / cases.len() + 1;
    let started = Instant::now();
    let mut flagged = 0usize;
    for _ in 0..rounds {
        for case in &cases {
            flagged += screen.text(std::hint::black_box(&case.text)).is_some() as usize;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = rounds * cases.len();
    println!("\nthroughput: {n} texts in {secs:.2} s = {:.0} texts/s ({flagged} flagged)", n as f64 / secs);

    assert!(precision >= 0.97, "overall precision {precision:.3} < 0.97");
    assert!(recall >= 0.95, "overall recall {recall:.3} < 0.95");
}
