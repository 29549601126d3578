//! **Korean and English danger-word filter** for QuickTalk chat lines.
//!
//! # Overview
//!
//! Every chat line passes this filter before delivery, so it has to catch
//! what people type to get around filters, leave innocent lines alone, and
//! cost microseconds. A [`Filter`] is built once from word lists (data files
//! in `lexicon/`, yours or the built-in ones) and then checks lines from any
//! number of threads:
//!
//! - **Normalisation** ([`View`]) undoes evasions before matching: Unicode
//!   compatibility forms, case, zero-width and bidi characters, accents and
//!   Zalgo marks, look-alike letters (Cyrillic, Greek, small capitals),
//!   leetspeak (`sh1t`, `@ss`, `f()()k`), stretched letters (`fuuuck`,
//!   `씨이이발`), letters spaced or dotted apart (`s.h.i.t`, `시 발`) without
//!   gluing real words together (`살며시 발라`), noise inside Korean words
//!   (`시1발`, `시@발`, one laughing jamo: `시ㅋ발`), spelled-out jamo
//!   (`ㅅㅣㅂㅏㄹ`), masking (`f*ck`, `씨X`), Korean typed on an English
//!   keyboard (`tlqkf`) and hanja look-alikes (`始發`). Every normalised character remembers the bytes of
//!   the original it came from, so findings are spans of *your* text.
//! - **Lexicons**: Korean, English and other languages' words by category
//!   (profanity, sexual, hate, threat, self-harm, spam) and severity, with an
//!   allowlist against false positives (`시발점`, `classic`, `Scunthorpe`).
//! - **Contact and spam**: phone numbers (also `공일공...`), e-mails (also
//!   `at`/`dot` and `골뱅이` spellings), messenger handles, links, and
//!   stacked spam signals.
//! - **Policy** ([`Policy`]): which categories mask, block or only flag.
//!   [`Filter`] implements the engine's [`Moderator`](quicktalk_core::ports::moderator::Moderator).
//!
//! The `quicktalk-nlp` binary wraps it for the command line: `quicktalk-nlp
//! check` reads lines and prints one JSON verdict per line, and
//! `quicktalk-nlp eval` measures it on labelled datasets.
//!
//! # Example
//!
//! ```
//! use quicktalk_core::ports::moderator::{Action, Category};
//! use quicktalk_nlp::Filter;
//!
//! let filter = Filter::new();
//!
//! let check = filter.check("야 시1발 뭐하냐");
//! assert_eq!(check.action, Action::Mask);
//! assert_eq!(check.category, Some(Category::Profanity));
//! assert_eq!(check.masked("야 시1발 뭐하냐"), "야 *** 뭐하냐");
//!
//! assert_eq!(filter.check("내 번호 010-1234-5678").action, Action::Block);
//! assert!(!filter.check("시발점이 어디야? a classic assassin").flagged());
//! ```
//!
//! Plug it into the engine:
//!
//! ```
//! use std::sync::Arc;
//! use quicktalk_core::Engine;
//! use quicktalk_nlp::Filter;
//!
//! let filter = Arc::new(Filter::new());
//! // The masked variants' index and the contact patterns are built on
//! // first use (about 20 ms): build them off the request threads now.
//! let prepared = Arc::clone(&filter);
//! std::thread::spawn(move || prepared.prepare());
//! let builder = Engine::builder().moderator(filter);
//! # let _ = builder;
//! ```

mod address;
mod art;
mod chars;
mod contact;
pub mod datasets;
mod filter;
pub mod lexicon;
mod masked;
pub mod model;
mod morphology;
mod normalize;
mod policy;
mod rng;
mod spam;

pub use filter::{BUILTIN_LEXICONS, BUILTIN_SPAM_SIGNALS, Check, Filter, FilterBuilder, Finding};
pub use normalize::View;
pub use policy::{Policy, parse_action, parse_override};

/// Errors of this crate: only building a filter can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lexicon or spam-signal file has a malformed line.
    #[error("{file}:{line}: {reason}")]
    Lexicon {
        /// The file's name.
        file: String,
        /// The 1-based line number (0 when the whole file is at fault).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
