//! `quicktalk-nlp train` and `quicktalk-nlp eval-learned`: the learned
//! second pass, trained and measured on the development datasets.
//!
//! Every line is assigned to the held-out split when the FNV hash of its
//! text is 0 modulo 5 (a fifth of each set, the same on every machine);
//! training uses the rest. The abuse sets (ko-curse-2runo, ko-hate-beep,
//! en-toxicity-surge) give both classes, the clean-chat sets (ko-clean-songys,
//! en-clean-ubuntu-irc) give innocent lines. The flag threshold is the score
//! that at most 0.05% of the training clean lines reach (`--clean-quantile`).

use std::path::{Path, PathBuf};

use clap::Args;
use quicktalk_nlp::Filter;
use quicktalk_nlp::model::{Model, train};

use quicktalk_nlp::datasets as eval;

use crate::eval::{HARM, Rows};

/// Arguments of `train`.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// The datasets folder.
    #[arg(long, env = "QUICKTALK_DATASETS", default_value = "../shared/datasets")]
    data: PathBuf,
    /// Where to write the model.
    #[arg(long, default_value = "quicktalk-nlp/model/abuse.bin")]
    out: PathBuf,
    /// Passes over the training lines.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// Share of the training clean lines the threshold lets through
    /// unflagged.
    #[arg(long, default_value_t = 0.9995)]
    clean_quantile: f64,
}

/// Arguments of `eval-learned`.
#[derive(Debug, Args)]
pub(crate) struct EvalLearnedArgs {
    /// The datasets folder.
    #[arg(long, env = "QUICKTALK_DATASETS", default_value = "../shared/datasets")]
    data: PathBuf,
    /// A model file instead of the built-in one.
    #[arg(long)]
    model: Option<PathBuf>,
}

use quicktalk_nlp::datasets::Loader;

const ABUSE: [(&str, Loader); 3] = [
    ("ko-curse-2runo", eval::load_ko_curse),
    ("ko-hate-beep", eval::load_ko_hate),
    ("en-toxicity-surge", eval::load_en_toxicity),
];
const CLEAN: [&str; 2] = ["ko-clean-songys", "en-clean-ubuntu-irc"];

fn held_out(text: &str) -> bool {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash % 5 == 0
}

fn load(data: &Path, name: &str, loader: Loader) -> Result<Rows, String> {
    loader(&data.join(name)).map_err(|e| format!("{name}: {e}"))
}

pub(crate) fn run_train(args: &TrainArgs) -> Result<(), String> {
    let mut rows: Rows = Vec::new();
    let mut clean_train: Vec<String> = Vec::new();
    for (name, loader) in ABUSE {
        rows.extend(
            load(&args.data, name, loader)?
                .into_iter()
                .filter(|(t, _)| !held_out(t)),
        );
    }
    for name in CLEAN {
        let clean = load(&args.data, name, eval::load_clean)?;
        for (text, _) in clean.into_iter().filter(|(t, _)| !held_out(t)) {
            clean_train.push(text.clone());
            rows.push((text, false));
        }
    }
    let positives = rows.iter().filter(|(_, p)| *p).count();
    eprintln!(
        "training on {} lines ({positives} abusive), {} epochs",
        rows.len(),
        args.epochs
    );
    let (weights, bias) = train(&rows, args.epochs);
    // Score the clean training lines with the quantised model, and put the
    // threshold where at most 0.5% of them would be flagged.
    let provisional = Model::from_bytes(&Model::to_bytes(&weights, bias, 1.0))?;
    let mut scores: Vec<f32> = clean_train.iter().map(|t| provisional.score(t)).collect();
    scores.sort_by(|a, b| a.total_cmp(b));
    let at = ((scores.len() as f64) * args.clean_quantile) as usize;
    let threshold = scores.get(at).copied().unwrap_or(0.5).max(0.5);
    let bytes = Model::to_bytes(&weights, bias, threshold);
    std::fs::write(&args.out, &bytes).map_err(|e| format!("{}: {e}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} bytes), threshold {threshold:.3}",
        args.out.display(),
        bytes.len()
    );
    Ok(())
}

struct Score {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Score {
    fn add(&mut self, hit: bool, positive: bool) {
        match (hit, positive) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    fn line(&self) -> String {
        let p = f64::from(self.tp) / f64::from((self.tp + self.fp).max(1));
        let r = f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1));
        let f1 = if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        format!("P {p:.3} R {r:.3} F1 {f1:.3}")
    }
}

pub(crate) fn run_eval(args: &EvalLearnedArgs) -> Result<(), String> {
    let owned;
    let model = match &args.model {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            owned = Model::from_bytes(&bytes)?;
            &owned
        }
        None => Model::builtin(),
    };
    let filter = Filter::builder()
        .learned(false)
        .build()
        .map_err(|e| e.to_string())?;
    let lexicon_hit = |text: &str| {
        filter
            .check(text)
            .findings
            .iter()
            .any(|f| HARM.contains(&f.category))
    };
    println!(
        "held-out fifth of each set, threshold {:.3}",
        model.threshold()
    );
    println!();
    println!("| dataset | lexicon | model | both (lexicon or model) |");
    println!("|---|---|---|---|");
    for (name, loader) in ABUSE {
        let rows: Rows = load(&args.data, name, loader)?
            .into_iter()
            .filter(|(t, _)| held_out(t))
            .collect();
        let (mut lex, mut learned, mut both) = (
            Score {
                tp: 0,
                fp: 0,
                fn_: 0,
            },
            Score {
                tp: 0,
                fp: 0,
                fn_: 0,
            },
            Score {
                tp: 0,
                fp: 0,
                fn_: 0,
            },
        );
        for (text, positive) in &rows {
            let (l, m) = (lexicon_hit(text), model.flags(text));
            lex.add(l, *positive);
            learned.add(m, *positive);
            both.add(l || m, *positive);
        }
        println!(
            "| {name} ({} lines) | {} | {} | {} |",
            rows.len(),
            lex.line(),
            learned.line(),
            both.line()
        );
    }
    println!();
    println!("| clean set (held out) | lines | flagged by the model | user-visible |");
    println!("|---|---|---|---|");
    for name in CLEAN {
        let rows: Rows = load(&args.data, name, eval::load_clean)?
            .into_iter()
            .filter(|(t, _)| held_out(t))
            .collect();
        let flagged = rows.iter().filter(|(t, _)| model.flags(t)).count();
        println!(
            "| {name} | {} | {:.2}% ({flagged}) | unchanged: the model only flags |",
            rows.len(),
            100.0 * flagged as f64 / rows.len().max(1) as f64
        );
    }
    Ok(())
}
