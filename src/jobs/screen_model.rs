//! `groupscout moderation train`: the screen's model learnt from the labelled corpus, with
//! the precision/recall curve its thresholds are chosen from.
//!
//! Besides the labelled corpus, the model learns from ordinary traffic: the texts of a
//! generated world's groups (names, descriptions, announcements) that the lists pass, as
//! clear examples. The corpus holds few ordinary texts and many diverting ones about
//! second-hand goods, local life or food; without the ordinary ones, a model learns that
//! those topics divert.
//!
//! The curve comes from five-fold cross-validation: each fifth of the examples is scored by
//! a model trained on the other four, so every figure is of texts the scoring model did not
//! see; it is given for the corpus and, apart, as the share of ordinary texts flagged. A
//! text counts as flagged when the lists find something or the model's probability reaches
//! the threshold. The model written at the end is trained on everything.

use std::path::Path;
use std::time::Instant;

use crate::geo::Gazetteer;
use crate::moderation::model::{self, Features, Lexicon, Model};
use crate::moderation::{Reason, Screen};

/// Passes over the corpus.
const EPOCHS: usize = 30;
const FOLDS: usize = 5;

/// One point of the curve: at this threshold, the share of the corpus's flagged texts that
/// divert, the share of its diverting texts flagged (for their labelled reason or any), and
/// the share of ordinary texts flagged.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub threshold: f32,
    pub precision: f64,
    pub recall: f64,
    pub flagged: usize,
    pub ordinary_flagged: f64,
}

/// The texts of `groups` generated groups (seed 7) that the lists pass.
pub fn ordinary_texts(gazetteer: &Gazetteer, screen: &Screen, groups: usize) -> anyhow::Result<Vec<String>> {
    let opts = super::gen::GenOptions { groups, seed: 7, today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() };
    let mut lines = Vec::new();
    super::generate(gazetteer, &opts, &mut lines)?;
    let mut out = Vec::new();
    for line in lines.split(|b| *b == b'\n') {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else { continue };
        if v["type"] != "group" {
            continue;
        }
        for field in ["name", "description", "announcement"] {
            if let Some(t) = v[field].as_str().filter(|t| !t.is_empty() && screen.check(t).is_none()) {
                out.push(t.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What `train` did.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub texts: usize,
    pub diverting: usize,
    pub ordinary: usize,
    /// Admins' decisions learnt from (each counted `DECISION_WEIGHT` times in `texts`).
    pub decisions: usize,
    /// Phrases learnt from decisions for the lists.
    pub learned: usize,
    /// The lists alone, cross-validation aside (they are not trained).
    pub lists_only: Point,
    pub curve: Vec<Point>,
    pub seconds: f64,
}

fn point(threshold: f32, scored: &[(bool, bool, f32)], ordinary: &[f32]) -> Point {
    // (diverting, the lists flag it, the model's probability)
    let flagged: Vec<&(bool, bool, f32)> = scored.iter().filter(|(_, rule, p)| *rule || *p >= threshold).collect();
    let right = flagged.iter().filter(|(d, _, _)| *d).count();
    let diverting = scored.iter().filter(|(d, _, _)| *d).count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Point {
        threshold,
        precision: ratio(right, flagged.len()),
        recall: ratio(right, diverting),
        flagged: flagged.len(),
        ordinary_flagged: if ordinary.is_empty() {
            0.0
        } else {
            ratio(ordinary.iter().filter(|p| **p >= threshold).count(), ordinary.len())
        },
    }
}

/// How many times an admin's decision counts against a line of the corpus: decisions are
/// what diverters do now.
const DECISION_WEIGHT: usize = 5;

/// Trains on `corpus`, the admins' decisions of `decisions.tsv` beside it when there is one,
/// and the ordinary texts of `ordinary_groups` generated groups; writes the weights to `out`
/// and the phrases learnt from decisions to `learned.tsv`; returns the cross-validated curve.
pub fn train(
    moderation_dir: &Path,
    gazetteer: &Gazetteer,
    corpus: &Path,
    ordinary_groups: usize,
    out: &Path,
) -> anyhow::Result<TrainReport> {
    let started = Instant::now();
    let decisions_path = moderation_dir.join("decisions.tsv");
    let decisions = if decisions_path.exists() { model::read_corpus(&decisions_path)? } else { Vec::new() };
    let mut texts = model::read_corpus(corpus)?;
    // Phrases learnt from decisions go to the lists first, so the model is trained on what
    // the lists leave (and the curve shows the lists as they will screen).
    let screen = Screen::load(moderation_dir)?;
    let ordinary = ordinary_texts(gazetteer, &screen, ordinary_groups)?;
    let flagged: Vec<(Reason, String)> = decisions.iter().filter_map(|d| Some((d.reason?, d.text.clone()))).collect();
    let clear: Vec<String> = texts
        .iter()
        .chain(&decisions)
        .filter(|t| t.reason.is_none())
        .map(|t| t.text.clone())
        .chain(ordinary.iter().cloned())
        .collect();
    let learned = learned_phrases(&flagged, &clear);
    write_learned(&moderation_dir.join("learned.tsv"), &learned)?;
    let screen = Screen::load(moderation_dir)?;
    let lexicon = Lexicon::load(moderation_dir)?;
    for _ in 0..DECISION_WEIGHT {
        texts.extend(decisions.iter().cloned());
    }
    let examples: Vec<(Features, Option<Reason>, bool)> = texts
        .iter()
        .map(|t| {
            let norm = screen.normalise(&t.text);
            let rule = screen.check_normalised(&norm).map(|f| f.reason);
            (model::features(&lexicon, &norm), t.reason, rule.is_some())
        })
        .collect();
    let plain: Vec<Features> = ordinary.iter().map(|t| model::features(&lexicon, &screen.normalise(t))).collect();
    let mut scored = Vec::with_capacity(examples.len());
    let mut scored_plain = Vec::with_capacity(plain.len());
    for fold in 0..FOLDS {
        let mut training: Vec<(Features, Option<Reason>)> =
            examples.iter().enumerate().filter(|(i, _)| i % FOLDS != fold).map(|(_, e)| (e.0.clone(), e.1)).collect();
        training.extend(plain.iter().enumerate().filter(|(i, _)| i % FOLDS != fold).map(|(_, f)| (f.clone(), None)));
        let m = model::train(&training, EPOCHS);
        for (_, e) in examples.iter().enumerate().filter(|(i, _)| i % FOLDS == fold) {
            scored.push((e.1.is_some(), e.2, m.likeliest(&e.0).1));
        }
        for (_, f) in plain.iter().enumerate().filter(|(i, _)| i % FOLDS == fold) {
            scored_plain.push(m.likeliest(f).1);
        }
    }
    let curve =
        [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95].into_iter().map(|t| point(t, &scored, &scored_plain)).collect();
    let lists_only = point(f32::INFINITY, &scored, &scored_plain);
    let mut all: Vec<(Features, Option<Reason>)> = examples.into_iter().map(|e| (e.0, e.1)).collect();
    all.extend(plain.into_iter().map(|f| (f, None)));
    let m: Model = model::train(&all, EPOCHS);
    let diverting = texts.iter().filter(|t| t.reason.is_some()).count();
    let provenance = format!(
        "trained by `groupscout moderation train` from {} ({} texts, {} diverting) and {} ordinary texts of {ordinary_groups} generated groups, {EPOCHS} passes, {} buckets",
        corpus.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        texts.len(),
        diverting,
        ordinary.len(),
        model::BUCKETS
    );
    m.save(out, &provenance)?;
    Ok(TrainReport {
        learned: learned.len(),
        decisions: decisions.len(),
        texts: texts.len(),
        diverting,
        ordinary: ordinary.len(),
        lists_only,
        curve,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Admins' decisions as corpus lines (`groupscout moderation export`): a confirmed group's
/// flagged text as diverting, a released group's as clear. A decision on what people
/// reported (not one field) labels the group's texts together.
pub fn export(store: &crate::store::Store) -> anyhow::Result<Vec<String>> {
    let decisions = store.read(crate::store::moderation::decisions)?;
    let mut out = Vec::new();
    for d in decisions {
        let text = match d.field.as_str() {
            "name" => d.name.clone(),
            "description" => d.description.clone(),
            "announcement" => d.announcement.clone(),
            _ => [&d.name, &d.description, &d.announcement]
                .into_iter()
                .filter(|t| !t.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        };
        let text = text.replace(['\t', '\n', '\r'], " ");
        if text.trim().is_empty() {
            continue;
        }
        match d.status.as_str() {
            "confirmed" => {
                let reason = Reason::parse(&d.reason).unwrap_or(Reason::PrivateTrade);
                out.push(format!("flag\t{}\t{text}", reason.as_str()));
            }
            "released" => out.push(format!("clear\t-\t{text}")),
            _ => {}
        }
    }
    Ok(out)
}

/// Chinese phrases (three or four characters) that at least two confirmed decisions share
/// and no clear text holds: what a new evasion is written with, for the lists
/// (`learned.tsv`), each with the reason most of its decisions gave. A person reviews the
/// file and may strike any line.
pub fn learned_phrases(flagged: &[(Reason, String)], clear: &[String]) -> Vec<(Reason, String)> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut found: BTreeMap<String, (BTreeSet<usize>, BTreeMap<Reason, usize>)> = BTreeMap::new();
    for (i, (reason, text)) in flagged.iter().enumerate() {
        let chars: Vec<char> = text.chars().collect();
        for n in 3..=4 {
            for w in chars.windows(n) {
                if !w.iter().all(|c| matches!(c, '\u{4e00}'..='\u{9fff}')) {
                    continue;
                }
                let e = found.entry(w.iter().collect()).or_default();
                if e.0.insert(i) {
                    *e.1.entry(*reason).or_default() += 1;
                }
            }
        }
    }
    let shared: Vec<(String, usize, Reason)> = found
        .into_iter()
        .filter(|(p, (docs, _))| docs.len() >= 2 && !clear.iter().any(|c| c.contains(p.as_str())))
        .map(|(p, (docs, reasons))| {
            let reason = reasons.into_iter().max_by_key(|(r, n)| (*n, std::cmp::Reverse(*r))).map(|(r, _)| r);
            (p, docs.len(), reason.unwrap_or(Reason::PrivateTrade))
        })
        .collect();
    // The longest: a phrase inside a longer one shared as widely says nothing more.
    shared
        .iter()
        .filter(|(p, n, _)| !shared.iter().any(|(q, m, _)| q.len() > p.len() && q.contains(p.as_str()) && m >= n))
        .map(|(p, _, r)| (*r, p.clone()))
        .collect()
}

fn write_learned(path: &Path, phrases: &[(Reason, String)]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tsv.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    writeln!(f, "# Phrases that admins' confirmed decisions share and no clear text holds, written by")?;
    writeln!(f, "# `groupscout moderation train` from decisions.tsv (`moderation export`); read like")?;
    writeln!(f, "# phrases.tsv. Review them: strike a line by deleting it (the next train writes the file anew")?;
    writeln!(f, "# from the decisions, so to keep a phrase out for good, release the groups it came from).")?;
    for (reason, phrase) in phrases {
        writeln!(f, "{}\t{phrase}", reason.as_str())?;
    }
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
