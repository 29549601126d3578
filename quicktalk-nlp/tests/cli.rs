//! The `quicktalk-nlp` command as an operator runs it.

use std::io::Write;
use std::process::{Command, Stdio};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_quicktalk-nlp"))
}

#[test]
fn check_prints_one_verdict_per_line() {
    let mut child = cli()
        .arg("check")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("시1발 뭐야\nkik id jenny\nhello there\n".as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let verdicts: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let actions: Vec<&str> = verdicts
        .iter()
        .map(|v| v["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["mask", "block", "allow"]);
    assert_eq!(verdicts[0]["masked"], "*** 뭐야");
}

/// A misspelt dataset name used to measure nothing and exit 0.
#[test]
fn eval_refuses_an_unknown_dataset_naming_it() {
    let output = cli()
        .args(["eval", "--dataset", "en-evasion-rustric"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--dataset en-evasion-rustric") && stderr.contains("en-evasion-rustrict"),
        "{stderr}"
    );
}
