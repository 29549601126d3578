//! Word lists as data: parsing the lexicon files.
//!
//! The format is line-based so that a new word or a new false-positive fix is
//! one line:
//!
//! ```text
//! # a comment
//! [profanity medium]   # a section: category and severity for what follows
//! fuck                 # anywhere, also inside longer words
//! |cock                # must start a word (cocksucker, not peacock)
//! ass|                 # must end a word
//! |tit|                # a whole word only
//! [씨시]발              # a character class: 씨발 and 시발
//! piece of shit        # several words (also matches them written together)
//! [allow]              # innocent words that contain a listed term
//! |classic
//! [context]            # words of news, medicine, reporting: a block becomes a flag
//! |hospital
//! [game]               # games: a blocked threat becomes a flag
//! |in the game|
//! ```
//!
//! Entries are written plainly (lowercase, no leetspeak, no spacing tricks):
//! the normaliser brings both the entries and the text to the same form.

use quicktalk_core::ports::moderator::{Category, Severity};

use crate::Error;

/// What an entry does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A danger word.
    Danger(Category, Severity),
    /// An innocent word that cancels danger words inside it.
    Allow,
    /// A spam signal (see the spam module), by its index.
    Signal(u16),
    /// A context word (news, medicine, reporting an incident): a line that
    /// has one is talking *about* harm, so a block becomes a flag (unless
    /// the harm is aimed at the reader, see the address module).
    Context,
    /// A game (`in the game`, `high score`): a blocked threat becomes a flag
    /// even when aimed at the reader (trash talk is); nothing else does.
    Game,
}

/// One expanded lexicon entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub text: String,
    pub kind: Kind,
    /// Must start at a word start.
    pub starts_word: bool,
    /// Must end at a word end.
    pub ends_word: bool,
}

/// Expansions of one entry are capped, so a typo like `[abc][abc][abc]...`
/// cannot blow up the automaton.
const MAX_EXPANSIONS: usize = 256;

/// Parses one lexicon file. `name` is used in error messages.
///
/// # Errors
///
/// [`Error::Lexicon`] naming the file and line of a malformed header or entry.
pub(crate) fn parse(name: &str, source: &str, out: &mut Vec<Entry>) -> Result<(), Error> {
    let mut kind = None;
    for (number, line) in source.lines().enumerate() {
        let line = line.trim();
        let fail = |reason: String| Error::Lexicon {
            file: name.to_owned(),
            line: number + 1,
            reason,
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
            && !header.contains(['[', ']'])
            && (header == "allow"
                || header == "context"
                || header == "game"
                || header.contains(' '))
        {
            kind = Some(parse_header(header).map_err(fail)?);
            continue;
        }
        let Some(kind) = kind else {
            return Err(fail(
                "entry before the first [category severity] header".into(),
            ));
        };
        let starts_word = line.starts_with('|');
        let ends_word = line.len() > 1 && line.ends_with('|');
        let body = line.trim_start_matches('|').trim_end_matches('|').trim();
        if body.is_empty() {
            return Err(fail("empty entry".into()));
        }
        let mut texts = Vec::new();
        expand(body, &mut String::new(), &mut texts).map_err(fail)?;
        out.extend(texts.into_iter().map(|text| Entry {
            text,
            kind,
            starts_word,
            ends_word,
        }));
    }
    Ok(())
}

fn parse_header(header: &str) -> Result<Kind, String> {
    if header == "allow" {
        return Ok(Kind::Allow);
    }
    if header == "context" {
        return Ok(Kind::Context);
    }
    if header == "game" {
        return Ok(Kind::Game);
    }
    let mut words = header.split_whitespace();
    let (Some(category), Some(severity), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("header `[{header}]` is not `[category severity]`"));
    };
    let category = Category::ALL
        .into_iter()
        .find(|c| c.as_str() == category)
        .ok_or_else(|| format!("unknown category `{category}`"))?;
    let severity = match severity {
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        other => return Err(format!("unknown severity `{other}` (low, medium, high)")),
    };
    Ok(Kind::Danger(category, severity))
}

/// Expands `[..]` character classes into every combination.
fn expand(rest: &str, prefix: &mut String, out: &mut Vec<String>) -> Result<(), String> {
    let Some(open) = rest.find('[') else {
        out.push(format!("{prefix}{rest}"));
        return if out.len() > MAX_EXPANSIONS {
            Err(format!("more than {MAX_EXPANSIONS} expansions"))
        } else {
            Ok(())
        };
    };
    let close = rest[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or("`[` without `]`")?;
    let class = &rest[open + 1..close];
    if class.is_empty() {
        return Err("empty character class `[]`".into());
    }
    let mark = prefix.len();
    for c in class.chars() {
        prefix.push_str(&rest[..open]);
        prefix.push(c);
        expand(&rest[close + 1..], prefix, out)?;
        prefix.truncate(mark);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(source: &str) -> Vec<Entry> {
        let mut out = Vec::new();
        parse("test", source, &mut out).unwrap();
        out
    }

    #[test]
    fn headers_markers_and_classes_are_read() {
        let parsed = entries("# c\n[profanity medium]\n|[씨시]발|\n[allow]\n시발점\n");
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].text, "씨발");
        assert_eq!(parsed[1].text, "시발");
        assert!(parsed[0].starts_word && parsed[0].ends_word);
        assert_eq!(
            parsed[0].kind,
            Kind::Danger(Category::Profanity, Severity::Medium)
        );
        assert_eq!(parsed[2].kind, Kind::Allow);
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line_number() {
        let mut out = Vec::new();
        let error = parse("en.txt", "[profanity medium]\nok\n[sexy high]\n", &mut out).unwrap_err();
        assert!(error.to_string().contains("en.txt:3"), "{error}");
        let error = parse("en.txt", "fuck\n", &mut out).unwrap_err();
        assert!(error.to_string().contains("en.txt:1"), "{error}");
        let error = parse("en.txt", "[hate high]\nab[c\n", &mut out).unwrap_err();
        assert!(error.to_string().contains("without"), "{error}");
    }
}
