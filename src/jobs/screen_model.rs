//! `groupscout moderation train`: the screen's model learnt from the labelled corpus, with
//! the precision/recall curve its thresholds are chosen from.
//!
//! The curve comes from five-fold cross-validation: each fifth of the corpus is scored by a
//! model trained on the other four, so every figure is of texts the scoring model did not
//! see. A text counts as flagged when the lists find something or the model's probability
//! reaches the threshold. The model written at the end is trained on the whole corpus.

use std::path::Path;
use std::time::Instant;

use crate::moderation::model::{self, Features, Lexicon, Model};
use crate::moderation::{Reason, Screen};

/// Passes over the corpus.
const EPOCHS: usize = 30;
const FOLDS: usize = 5;

/// One point of the curve: at this threshold, the share of flagged texts that divert, and
/// the share of diverting texts flagged (for their labelled reason or any).
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub threshold: f32,
    pub precision: f64,
    pub recall: f64,
    pub flagged: usize,
}

/// What `train` did.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub texts: usize,
    pub diverting: usize,
    /// The lists alone, cross-validation aside (they are not trained).
    pub lists_only: Point,
    pub curve: Vec<Point>,
    pub seconds: f64,
}

fn point(threshold: f32, scored: &[(bool, bool, f32)]) -> Point {
    // (diverting, the lists flag it, the model's probability)
    let flagged: Vec<&(bool, bool, f32)> = scored.iter().filter(|(_, rule, p)| *rule || *p >= threshold).collect();
    let right = flagged.iter().filter(|(d, _, _)| *d).count();
    let diverting = scored.iter().filter(|(d, _, _)| *d).count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Point { threshold, precision: ratio(right, flagged.len()), recall: ratio(right, diverting), flagged: flagged.len() }
}

/// Trains on `corpus`, writes the weights to `out`, and returns the cross-validated curve.
pub fn train(moderation_dir: &Path, corpus: &Path, out: &Path) -> anyhow::Result<TrainReport> {
    let started = Instant::now();
    let screen = Screen::load(moderation_dir)?;
    let lexicon = Lexicon::load(moderation_dir)?;
    let texts = model::read_corpus(corpus)?;
    let examples: Vec<(Features, Option<Reason>, bool)> = texts
        .iter()
        .map(|t| {
            let norm = screen.normalise(&t.text);
            let rule = screen.check_normalised(&norm).map(|f| f.reason);
            (model::features(&lexicon, &norm), t.reason, rule.is_some())
        })
        .collect();
    let mut scored = Vec::with_capacity(examples.len());
    for fold in 0..FOLDS {
        let training: Vec<(Features, Option<Reason>)> =
            examples.iter().enumerate().filter(|(i, _)| i % FOLDS != fold).map(|(_, e)| (e.0.clone(), e.1)).collect();
        let m = model::train(&training, EPOCHS);
        for (_, e) in examples.iter().enumerate().filter(|(i, _)| i % FOLDS == fold) {
            scored.push((e.1.is_some(), e.2, m.likeliest(&e.0).1));
        }
    }
    let curve = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95].into_iter().map(|t| point(t, &scored)).collect();
    let lists_only = point(f32::INFINITY, &scored);
    let all: Vec<(Features, Option<Reason>)> = examples.into_iter().map(|e| (e.0, e.1)).collect();
    let m: Model = model::train(&all, EPOCHS);
    let diverting = texts.iter().filter(|t| t.reason.is_some()).count();
    let provenance = format!(
        "trained by `groupscout moderation train` from {} ({} texts, {} diverting), {EPOCHS} passes, {} buckets",
        corpus.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        texts.len(),
        diverting,
        model::BUCKETS
    );
    m.save(out, &provenance)?;
    Ok(TrainReport { texts: texts.len(), diverting, lists_only, curve, seconds: started.elapsed().as_secs_f64() })
}
