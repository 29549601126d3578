//! `quicktalk-nlp`: the danger-word filter on the command line.
//!
//! - `quicktalk-nlp check`: one message per line on stdin, one JSON verdict
//!   per line on stdout.
//! - `quicktalk-nlp eval`: precision, recall and false positives on the
//!   labelled datasets in `../shared/datasets/`.

mod eval;
mod learn;

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use quicktalk_core::ports::moderator::{Action, Category};
use quicktalk_nlp::{Filter, FilterBuilder, Policy, parse_action, parse_override};

/// Korean and English danger-word filter for QuickTalk chat lines.
#[derive(Debug, Parser)]
#[command(name = "quicktalk-nlp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read one message per line on stdin and print one JSON verdict per line:
    /// {"flagged":bool,"action":"...","categories":[...],"severity":"...","masked":"...","findings":[...]}.
    /// `masked` is the line as the chat partner would get it (unchanged for
    /// allow and flag; for block, which delivers nothing, every finding is
    /// starred); each finding gives its category, severity and byte range.
    Check(FilterArgs),
    /// Measure the filter on labelled datasets (precision, recall, F1, share
    /// of clean lines flagged) beside the baselines in the datasets' README.
    Eval(eval::EvalArgs),
    /// Train the learned second pass (hashed character n-grams, logistic
    /// regression) on the datasets' training split and write the model file.
    Train(learn::TrainArgs),
    /// Measure the learned pass on the held-out split: F1 of the lexicon,
    /// the model and both, and the model's flags on the clean-chat sets.
    EvalLearned(learn::EvalLearnedArgs),
}

/// How to build the filter.
#[derive(Debug, Args)]
struct FilterArgs {
    /// An extra lexicon file (same format as `lexicon/*.txt`); repeatable.
    #[arg(long = "lexicon", value_name = "FILE")]
    lexicons: Vec<PathBuf>,
    /// Use only the `--lexicon` files, not the built-in word lists.
    #[arg(long)]
    no_builtin: bool,
    /// Override a category's action, e.g. `--action profanity=block`;
    /// repeatable. Categories: profanity, sexual, hate, threat, self_harm,
    /// contact, spam. Actions: allow, flag, mask, block.
    #[arg(long = "action", value_name = "CATEGORY=ACTION", value_parser = parse_override)]
    actions: Vec<(Category, Action)>,
    /// The most a low-severity finding may do (allow, flag, mask, block).
    #[arg(long, value_name = "ACTION", default_value = "flag", value_parser = parse_action)]
    low_severity_cap: Action,
    /// Leave out the learned second pass (which only ever flags).
    #[arg(long)]
    no_learned: bool,
}

impl FilterArgs {
    fn build(&self) -> Result<Filter, String> {
        let mut builder = FilterBuilder::new().learned(!self.no_learned);
        if self.no_builtin {
            builder = builder.without_builtin_lexicons();
        }
        for path in &self.lexicons {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--lexicon {}: {e}", path.display()))?;
            builder = builder.lexicon(path.display().to_string(), text);
        }
        let mut policy = Policy {
            low_severity_cap: self.low_severity_cap,
            ..Policy::default()
        };
        for &(category, action) in &self.actions {
            policy.categories.set(category, action);
        }
        builder.policy(policy).build().map_err(|e| e.to_string())
    }
}

/// One line of `check` output.
#[derive(Serialize)]
struct Verdict<'a> {
    flagged: bool,
    action: &'static str,
    categories: Vec<&'static str>,
    severity: &'static str,
    masked: &'a str,
    findings: Vec<FoundAt>,
}

/// One finding of `check` output: byte offsets into the line as read.
#[derive(Serialize)]
struct FoundAt {
    category: &'static str,
    severity: &'static str,
    start: usize,
    end: usize,
}

fn check(filter: &Filter) -> io::Result<()> {
    let stdin = io::stdin().lock();
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut reader = io::BufReader::with_capacity(64 * 1024, stdin);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        while bytes.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            bytes.pop();
        }
        // Invalid UTF-8 is checked as its lossy reading rather than refused.
        let line = String::from_utf8_lossy(&bytes);
        let result = filter.check(&line);
        let masked = match result.action {
            Action::Allow | Action::Flag => line.to_string(),
            Action::Mask => result.clone().into_verdict().mask(&line),
            Action::Block => result.masked(&line),
        };
        let verdict = Verdict {
            flagged: result.flagged(),
            action: result.action.as_str(),
            categories: result.categories().iter().map(|c| c.as_str()).collect(),
            severity: result.severity.as_str(),
            masked: &masked,
            findings: result
                .findings
                .iter()
                .map(|f| FoundAt {
                    category: f.category.as_str(),
                    severity: f.severity.as_str(),
                    start: f.span.start,
                    end: f.span.end,
                })
                .collect(),
        };
        serde_json::to_writer(&mut out, &verdict)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => args.build().and_then(|filter| {
            let result = match check(&filter) {
                // A closed stdout (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(|e| format!("check: {e}")),
            };
            // The process ends here: freeing the automata would only cost time.
            std::mem::forget(filter);
            result
        }),
        Command::Eval(args) => eval::run(&args),
        Command::Train(args) => learn::run_train(&args),
        Command::EvalLearned(args) => learn::run_eval(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quicktalk-nlp: {message}");
            ExitCode::from(2)
        }
    }
}
