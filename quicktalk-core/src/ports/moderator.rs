//! The `Moderator` port: a synchronous judge of one chat line.
//!
//! An implementation must be cheap (CPU only, microseconds), must not block,
//! and must be safe to call from many threads at once. Spans are byte ranges
//! of the text it was given, on `char` boundaries; the engine ignores a span
//! that is not, rather than panic. Slow, deeper analysis belongs in a worker
//! that reads the event bus, not here.
//!
//! The engine calls it inline, in the caller of `SessionHandle::send` (or
//! `handle_text`), outside its own locks: a panicking moderator unwinds into
//! that caller (the transport's task for that connection) and the line is
//! not sent; other sessions and the engine's state are not affected. Return
//! a verdict instead (for example [`Action::Block`] for a line it cannot
//! judge).

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// What the engine does with a line.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Deliver as is; nothing recorded.
    #[default]
    Allow,
    /// Deliver as is, and record a moderation flag for review.
    Flag,
    /// Deliver with the spans masked (`*` per character), and record a flag.
    Mask,
    /// Do not deliver (`rejected {reason: "moderation"}`), and record a flag.
    Block,
}

impl Action {
    /// The name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Flag => "flag",
            Self::Mask => "mask",
            Self::Block => "block",
        }
    }
}

/// What kind of danger a line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// Swearing and insults.
    Profanity,
    /// Sexual content and harassment.
    Sexual,
    /// Hate speech against groups.
    Hate,
    /// Threats and violence.
    Threat,
    /// Self-harm and suicide.
    SelfHarm,
    /// Contact details and personal data (phone, email, messenger ids).
    Contact,
    /// Spam, advertising and links.
    Spam,
}

impl Category {
    /// Every category, in order.
    pub const ALL: [Self; 7] = [
        Self::Profanity,
        Self::Sexual,
        Self::Hate,
        Self::Threat,
        Self::SelfHarm,
        Self::Contact,
        Self::Spam,
    ];

    /// The name used in `rejected.category`, JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profanity => "profanity",
            Self::Sexual => "sexual",
            Self::Hate => "hate",
            Self::Threat => "threat",
            Self::SelfHarm => "self_harm",
            Self::Contact => "contact",
            Self::Spam => "spam",
        }
    }
}

/// How bad a line is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing found.
    #[default]
    None,
    /// Mild.
    Low,
    /// Clear.
    Medium,
    /// Severe.
    High,
}

impl Severity {
    /// The name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// The judgement of one line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// The main category found (the one that decided the action).
    pub category: Option<Category>,
    /// How bad.
    pub severity: Severity,
    /// Byte ranges of the original text to mask (for [`Action::Mask`]).
    pub spans: Vec<Range<usize>>,
}

impl Verdict {
    /// A verdict that lets the line through untouched.
    pub const fn allow() -> Self {
        Self {
            action: Action::Allow,
            category: None,
            severity: Severity::None,
            spans: Vec::new(),
        }
    }

    /// Applies the verdict's spans to `text`: every character inside a span
    /// becomes `*`. Spans that are out of range or not on char boundaries are
    /// ignored, so a faulty moderator cannot make the engine panic.
    pub fn mask(&self, text: &str) -> String {
        let valid = |span: &&Range<usize>| {
            span.start < span.end
                && span.end <= text.len()
                && text.is_char_boundary(span.start)
                && text.is_char_boundary(span.end)
        };
        let mut spans: Vec<&Range<usize>> = self.spans.iter().filter(valid).collect();
        // One sweep in order of start: a line with thousands of spans stays
        // linear.
        spans.sort_unstable_by_key(|span| span.start);
        let mut next = spans.iter().peekable();
        let mut covered_until = 0;
        let mut out = String::with_capacity(text.len());
        for (index, ch) in text.char_indices() {
            while let Some(span) = next.next_if(|span| span.start <= index) {
                covered_until = covered_until.max(span.end);
            }
            if index < covered_until {
                out.push('*');
            } else {
                out.push(ch);
            }
        }
        out
    }
}

/// Judges chat lines before delivery. See the module docs for what an
/// implementation must guarantee.
pub trait Moderator: Send + Sync + 'static {
    /// Judges one line.
    fn check(&self, text: &str) -> Verdict;

    /// Builds now whatever the moderator would otherwise build when a line
    /// first needs it, so no line waits for it. A host that would rather
    /// spend that memory at start-up than stall the first such line calls
    /// it once, on a thread of its own; a check that comes first still
    /// works, and pays for what it uses. The default does nothing.
    fn prepare(&self) {}
}

/// Lets everything through: the engine's default until a real filter is plugged in.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopModerator;

impl Moderator for NoopModerator {
    fn check(&self, _text: &str) -> Verdict {
        Verdict::allow()
    }
}

/// Which action each category gets: the moderation policy.
///
/// The default (`docs/moderation.md`): profanity masked; sexual, hate,
/// threats, contact/PII and spam blocked; self-harm delivered but flagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationPolicy {
    /// Action for [`Category::Profanity`].
    pub profanity: Action,
    /// Action for [`Category::Sexual`].
    pub sexual: Action,
    /// Action for [`Category::Hate`].
    pub hate: Action,
    /// Action for [`Category::Threat`].
    pub threat: Action,
    /// Action for [`Category::SelfHarm`].
    pub self_harm: Action,
    /// Action for [`Category::Contact`].
    pub contact: Action,
    /// Action for [`Category::Spam`].
    pub spam: Action,
}

impl Default for ModerationPolicy {
    fn default() -> Self {
        Self {
            profanity: Action::Mask,
            sexual: Action::Block,
            hate: Action::Block,
            threat: Action::Block,
            self_harm: Action::Flag,
            contact: Action::Block,
            spam: Action::Block,
        }
    }
}

impl ModerationPolicy {
    /// The action for one category.
    pub fn action(&self, category: Category) -> Action {
        match category {
            Category::Profanity => self.profanity,
            Category::Sexual => self.sexual,
            Category::Hate => self.hate,
            Category::Threat => self.threat,
            Category::SelfHarm => self.self_harm,
            Category::Contact => self.contact,
            Category::Spam => self.spam,
        }
    }

    /// Sets the action for one category.
    pub fn set(&mut self, category: Category, action: Action) {
        let slot = match category {
            Category::Profanity => &mut self.profanity,
            Category::Sexual => &mut self.sexual,
            Category::Hate => &mut self.hate,
            Category::Threat => &mut self.threat,
            Category::SelfHarm => &mut self.self_harm,
            Category::Contact => &mut self.contact,
            Category::Spam => &mut self.spam,
        };
        *slot = action;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_replaces_each_character_in_a_span_with_a_star() {
        let verdict = Verdict {
            action: Action::Mask,
            category: Some(Category::Profanity),
            severity: Severity::Low,
            spans: std::iter::once(0..6).collect(),
        };
        // "씨발" is two 3-byte characters: two stars, not six.
        assert_eq!(verdict.mask("씨발 뭐야"), "** 뭐야");
    }

    #[test]
    fn masking_covers_overlapping_spans_in_any_order() {
        let verdict = Verdict {
            action: Action::Mask,
            category: Some(Category::Profanity),
            severity: Severity::Low,
            spans: vec![5..7, 0..3, 2..4, 9..10],
        };
        assert_eq!(verdict.mask("abcdefghij"), "****e**hi*");
    }

    #[test]
    fn masking_ignores_spans_off_char_boundaries_or_out_of_range() {
        let verdict = Verdict {
            action: Action::Mask,
            category: Some(Category::Profanity),
            severity: Severity::Low,
            // Off a char boundary, past the end, and reversed.
            spans: vec![1..2, 3..100, Range { start: 4, end: 2 }],
        };
        assert_eq!(verdict.mask("씨발"), "씨발");
    }

    #[test]
    fn the_default_policy_masks_profanity_blocks_harm_and_flags_self_harm() {
        let policy = ModerationPolicy::default();
        assert_eq!(policy.action(Category::Profanity), Action::Mask);
        for category in [
            Category::Sexual,
            Category::Hate,
            Category::Threat,
            Category::Contact,
            Category::Spam,
        ] {
            assert_eq!(policy.action(category), Action::Block);
        }
        assert_eq!(policy.action(Category::SelfHarm), Action::Flag);
    }
}
