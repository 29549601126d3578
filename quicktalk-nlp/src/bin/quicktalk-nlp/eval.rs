//! `quicktalk-nlp eval`: the filter measured on real labelled data.
//!
//! Each dataset is read in its own format, every line is checked, and a line
//! counts as flagged when the filter finds something in the categories that
//! dataset is about: the harm categories for the abuse and toxicity sets,
//! spam and contact details for the SMS spam set. The share of lines flagged
//! for any reason is printed too.
//!
//! The clean-chat sets (`ko-clean-songys`, `en-clean-ubuntu-irc`) hold only
//! innocent lines: every finding is a false alarm. For them, and for the
//! negatives of every set, a false alarm is split into what users see (the
//! line masked or blocked) and what only moderators see (a flag).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use quicktalk_core::ports::moderator::{Action, Category};
use quicktalk_nlp::Filter;
use quicktalk_nlp::datasets::{
    load_clean, load_en_evasion, load_en_toxicity, load_ko_curse, load_ko_hate, load_sms_spam,
};

use crate::FilterArgs;

/// Arguments of `eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// The datasets folder (with ko-curse-2runo/, en-toxicity-surge/, ...).
    #[arg(long, env = "QUICKTALK_DATASETS", default_value = "../shared/datasets")]
    data: PathBuf,
    /// Only these datasets (folder names); repeatable. Default: all.
    #[arg(long = "dataset", value_name = "NAME")]
    datasets: Vec<String>,
    /// Print up to N missed and N wrongly flagged lines per dataset.
    #[arg(long, value_name = "N", default_value_t = 0)]
    show_errors: usize,
    #[command(flatten)]
    filter: FilterArgs,
}

/// Abuse: what the toxicity and abuse datasets label. Self-harm findings
/// (a user in distress, flagged for care, not abuse) and contact details
/// are left out; the share of clean lines with any finding at all is
/// printed beside.
pub(crate) const HARM: &[Category] = &[
    Category::Profanity,
    Category::Sexual,
    Category::Hate,
    Category::Threat,
];
/// Everything a word filter should flag, self-harm included: what the
/// evasion list (words and phrases to flag) labels.
const FLAGGABLE: &[Category] = &[
    Category::Profanity,
    Category::Sexual,
    Category::Hate,
    Category::Threat,
    Category::SelfHarm,
];
const SPAM: &[Category] = &[Category::Spam, Category::Contact];
/// Everything: on a clean set any finding is a false alarm.
const ANY: &[Category] = &Category::ALL;

/// Labelled lines: the text and whether it should be flagged.
pub(crate) use quicktalk_nlp::datasets::Rows;

struct Dataset {
    name: &'static str,
    categories: &'static [Category],
    load: fn(&Path) -> Result<Rows, String>,
    baseline: &'static str,
    target: &'static str,
}

const DATASETS: &[Dataset] = &[
    Dataset {
        name: "ko-curse-2runo",
        categories: HARM,
        load: load_ko_curse,
        baseline: "korcen P 0.954 R 0.499",
        target: "P >= 0.90 with R >= 0.60",
    },
    Dataset {
        name: "ko-hate-beep",
        categories: HARM,
        load: load_ko_hate,
        baseline: "none given",
        target: "none (reported only)",
    },
    Dataset {
        name: "en-toxicity-surge",
        categories: HARM,
        load: load_en_toxicity,
        baseline: "rustrict P 0.860 R 0.577 (F1 0.690)",
        target: "F1 >= 0.72",
    },
    Dataset {
        name: "en-evasion-rustrict",
        categories: FLAGGABLE,
        load: load_en_evasion,
        baseline: "rustrict P 1.000 R 0.977",
        target: "R >= 0.93 (the floor since issue 12; 0.95 before) with <= 5% of negatives flagged",
    },
    Dataset {
        name: "sms-spam-uci",
        categories: SPAM,
        load: load_sms_spam,
        baseline: "none given",
        target: ">= 60% of spam caught with <= 1% of ham flagged",
    },
    Dataset {
        name: "ko-clean-songys",
        categories: ANY,
        load: load_clean,
        baseline: "none given",
        target: "<= 0.3% user-visible, <= 2% flagged",
    },
    Dataset {
        name: "en-clean-ubuntu-irc",
        categories: ANY,
        load: load_clean,
        baseline: "none given",
        target: "<= 0.3% user-visible, <= 2% flagged",
    },
];

pub(crate) fn run(args: &EvalArgs) -> Result<(), String> {
    // A misspelt name would otherwise measure nothing and succeed.
    if let Some(unknown) = args
        .datasets
        .iter()
        .find(|name| !DATASETS.iter().any(|d| d.name == name.as_str()))
    {
        let known: Vec<&str> = DATASETS.iter().map(|d| d.name).collect();
        return Err(format!(
            "--dataset {unknown}: no such dataset; the datasets are {}",
            known.join(", ")
        ));
    }
    let filter = args.filter.build()?;
    println!("data: {}", args.data.display());
    for dataset in DATASETS {
        if !args.datasets.is_empty() && !args.datasets.iter().any(|d| d == dataset.name) {
            continue;
        }
        let folder = args.data.join(dataset.name);
        let rows = (dataset.load)(&folder).map_err(|e| format!("{}: {e}", dataset.name))?;
        evaluate(&filter, dataset, &rows, args.show_errors);
    }
    Ok(())
}

fn evaluate(filter: &Filter, dataset: &Dataset, rows: &[(String, bool)], show: usize) {
    let (mut tp, mut fp, mut fn_, mut tn, mut any_negative) = (0u32, 0u32, 0u32, 0u32, 0u32);
    // Negatives whose line users would see changed (masked or blocked).
    let mut visible_negative = 0u32;
    let mut missed = Vec::new();
    let mut wrong = Vec::new();
    let bytes: usize = rows.iter().map(|(text, _)| text.len()).sum();
    let started = Instant::now();
    for (text, positive) in rows {
        let check = filter.check(text);
        let hit = check
            .findings
            .iter()
            .any(|f| dataset.categories.contains(&f.category));
        match (hit, *positive) {
            (true, true) => tp += 1,
            (true, false) => {
                fp += 1;
                if wrong.len() < show {
                    wrong.push(format!("{text}  {:?}", check.categories()));
                }
            }
            (false, true) => {
                fn_ += 1;
                if missed.len() < show {
                    missed.push(text.clone());
                }
            }
            (false, false) => tn += 1,
        }
        if !*positive && !check.findings.is_empty() {
            any_negative += 1;
            if matches!(check.action, Action::Mask | Action::Block) {
                visible_negative += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ratio = |a: u32, b: u32| {
        if b == 0 {
            0.0
        } else {
            f64::from(a) / f64::from(b)
        }
    };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    println!();
    println!(
        "## {}  ({} lines: {} positive, {} negative)",
        dataset.name,
        rows.len(),
        tp + fn_,
        fp + tn
    );
    if tp + fn_ > 0 {
        println!(
            "precision {precision:.3}  recall {recall:.3}  F1 {f1:.3}  clean flagged {:.2}% ({fp}/{})",
            100.0 * ratio(fp, fp + tn),
            fp + tn
        );
    }
    println!(
        "clean lines with any finding (all categories): {:.2}%: user-visible (masked or blocked) {:.2}% ({visible_negative}), flag only {:.2}% ({})",
        100.0 * ratio(any_negative, fp + tn),
        100.0 * ratio(visible_negative, fp + tn),
        100.0 * ratio(any_negative - visible_negative, fp + tn),
        any_negative - visible_negative
    );
    println!(
        "baseline: {}   target: {}",
        dataset.baseline, dataset.target
    );
    println!(
        "speed: {:.1} MB/s, {:.2} us/line (one thread, whole lines)",
        bytes as f64 / elapsed / 1e6,
        elapsed * 1e6 / rows.len().max(1) as f64
    );
    for line in &missed {
        println!("  missed: {line}");
    }
    for line in &wrong {
        println!("  flagged clean: {line}");
    }
}
