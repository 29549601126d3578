//! What a submitted input line means: a chat line or a `/command`.
//!
//! Parsing is separate from acting so the rules ("`//` escapes a leading
//! slash", "a report needs a known reason") are testable on their own.

use crate::protocol::REPORT_REASONS;

/// One submitted input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A chat line to send.
    Say(String),
    /// `/next`: skip the partner and queue again.
    Next,
    /// `/leave`: end the chat or stop waiting.
    Leave,
    /// `/join`: queue again with the start-up interests.
    Join,
    /// `/report <reason> [note]`.
    Report {
        /// One of [`REPORT_REASONS`].
        reason: String,
        /// The rest of the line, if any.
        note: Option<String>,
    },
    /// `/help`: list the commands.
    Help,
    /// `/quit`.
    Quit,
}

/// Why a line is not a valid command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// A blank line: nothing to do.
    Empty,
    /// `/report` without a known reason.
    ReportUsage,
    /// `/something` this client does not know.
    Unknown(String),
}

/// Parses a submitted line. Surrounding whitespace is trimmed; a line that
/// starts with `//` is sent as chat with one slash removed.
///
/// # Errors
/// [`CommandError`] for blank lines, unknown commands and a bad `/report`.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(CommandError::Empty);
    }
    if let Some(escaped) = line.strip_prefix("//") {
        return Ok(Command::Say(format!("/{escaped}")));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Command::Say(line.to_owned()));
    };
    let (name, rest) = command
        .split_once(char::is_whitespace)
        .map_or((command, ""), |(name, rest)| (name, rest.trim()));
    match name.to_ascii_lowercase().as_str() {
        "next" | "skip" => Ok(Command::Next),
        "leave" => Ok(Command::Leave),
        "join" => Ok(Command::Join),
        "help" | "?" => Ok(Command::Help),
        "quit" | "exit" => Ok(Command::Quit),
        "report" => parse_report(rest),
        _ => Err(CommandError::Unknown(name.to_owned())),
    }
}

fn parse_report(rest: &str) -> Result<Command, CommandError> {
    let (reason, note) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(reason, note)| (reason, note.trim()));
    let reason = reason.to_ascii_lowercase().replace('-', "_");
    if !REPORT_REASONS.contains(&reason.as_str()) {
        return Err(CommandError::ReportUsage);
    }
    Ok(Command::Report {
        reason,
        note: (!note.is_empty()).then(|| note.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_chat_lines_parse() {
        let cases: &[(&str, Result<Command, CommandError>)] = &[
            ("hello", Ok(Command::Say("hello".into()))),
            ("  hi there  ", Ok(Command::Say("hi there".into()))),
            ("//shrug", Ok(Command::Say("/shrug".into()))),
            ("/next", Ok(Command::Next)),
            ("/NEXT", Ok(Command::Next)),
            ("/leave", Ok(Command::Leave)),
            ("/join", Ok(Command::Join)),
            ("/quit", Ok(Command::Quit)),
            ("/help", Ok(Command::Help)),
            (
                "/report spam",
                Ok(Command::Report {
                    reason: "spam".into(),
                    note: None,
                }),
            ),
            (
                "/report self-harm  said worrying things ",
                Ok(Command::Report {
                    reason: "self_harm".into(),
                    note: Some("said worrying things".into()),
                }),
            ),
            ("/report", Err(CommandError::ReportUsage)),
            ("/report rude", Err(CommandError::ReportUsage)),
            ("/dance", Err(CommandError::Unknown("dance".into()))),
            ("   ", Err(CommandError::Empty)),
        ];
        for (line, expected) in cases {
            assert_eq!(&parse(line), expected, "line {line:?}");
        }
    }
}
