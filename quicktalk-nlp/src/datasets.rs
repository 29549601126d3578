//! Readers for the labelled development datasets (`../shared/datasets`),
//! each in its own format, shared by `quicktalk-nlp eval`, `train` and the
//! benchmarks.
//!
//! Every reader returns the lines with whether each should be flagged.

use std::path::Path;

/// Labelled lines: the text and whether it should be flagged.
pub type Rows = Vec<(String, bool)>;

/// A dataset reader: the folder in, the labelled lines out.
pub type Loader = fn(&Path) -> Result<Rows, String>;

/// Every dataset folder with its reader.
pub const ALL: [(&str, Loader); 7] = [
    ("ko-curse-2runo", load_ko_curse),
    ("ko-hate-beep", load_ko_hate),
    ("en-toxicity-surge", load_en_toxicity),
    ("en-evasion-rustrict", load_en_evasion),
    ("sms-spam-uci", load_sms_spam),
    ("ko-clean-songys", load_clean),
    ("en-clean-ubuntu-irc", load_clean),
];

fn read(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// TSV `0<TAB>text`: every line innocent.
///
/// # Errors
/// The file cannot be read.
pub fn load_clean(folder: &Path) -> Result<Rows, String> {
    let text = read(&folder.join("lines.tsv"))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(label, text)| (text.to_owned(), label.trim() != "0"))
        .collect())
}

/// `text|label`, 1 = abusive.
pub fn load_ko_curse(folder: &Path) -> Result<Rows, String> {
    let text = read(&folder.join("dataset.txt"))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (text, label) = line.rsplit_once('|')?;
            Some((text.to_owned(), label.trim() == "1"))
        })
        .collect())
}

/// TSV: comments, contain_gender_bias, bias, hate; hate or offensive = positive.
pub fn load_ko_hate(folder: &Path) -> Result<Rows, String> {
    let mut rows = Vec::new();
    for file in ["train.tsv", "dev.tsv"] {
        let text = read(&folder.join(file))?;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split('\t').collect();
            if let (Some(text), Some(hate)) = (fields.first(), fields.last())
                && fields.len() >= 4
            {
                rows.push(((*text).to_owned(), matches!(*hate, "hate" | "offensive")));
            }
        }
    }
    Ok(rows)
}

/// CSV with quoted multi-line fields: text, is_toxic (Toxic / Not Toxic).
pub fn load_en_toxicity(folder: &Path) -> Result<Rows, String> {
    let text = read(&folder.join("toxicity_en.csv"))?;
    let records = parse_csv(&text);
    Ok(records
        .into_iter()
        .skip(1)
        .filter(|r| r.len() >= 2)
        .map(|r| (r[0].clone(), r[1].trim() == "Toxic"))
        .collect())
}

/// One line each: test_positive.txt should be flagged, test_negative.txt not.
pub fn load_en_evasion(folder: &Path) -> Result<Rows, String> {
    let mut rows = Vec::new();
    for (file, positive) in [("test_positive.txt", true), ("test_negative.txt", false)] {
        let text = read(&folder.join(file))?;
        rows.extend(
            text.lines()
                .filter(|l| !l.is_empty())
                .map(|l| (l.to_owned(), positive)),
        );
    }
    Ok(rows)
}

/// TSV: ham/spam, text; the first line is a header.
pub fn load_sms_spam(folder: &Path) -> Result<Rows, String> {
    let text = read(&folder.join("SMSSpamCollection"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (label, text) = line.split_once('\t')?;
            Some((text.to_owned(), label == "spam"))
        })
        .collect())
}

/// A small RFC 4180 reader: quoted fields may hold commas, newlines and `""`.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_keep_commas_newlines_and_quotes() {
        let records = parse_csv("text,label\n\"a, \"\"b\"\"\nc\",Toxic\nplain,Not Toxic\n");
        assert_eq!(records.len(), 3);
        assert_eq!(records[1], ["a, \"b\"\nc", "Toxic"]);
        assert_eq!(records[2], ["plain", "Not Toxic"]);
    }
}
