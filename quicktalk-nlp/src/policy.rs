//! The moderation policy: which action each finding gets.

use serde::{Deserialize, Serialize};

use quicktalk_core::ports::moderator::{Action, Category, ModerationPolicy, Severity};

/// Which action each category gets, and how far low-severity findings may go.
///
/// The default (`docs/moderation.md`): profanity masked; sexual, hate, threats,
/// contact/PII and spam blocked; self-harm delivered but flagged. On top of
/// that, a finding of [`Severity::Low`] (mild or ambiguous words: `stupid`,
/// `damn`, `breast`, `바보`) is at most flagged for review
/// (`low_severity_cap`), so an innocent sentence that happens to use one is
/// delivered untouched. Set the cap to [`Action::Block`] to treat every
/// severity alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The action per category.
    pub categories: ModerationPolicy,
    /// The most a low-severity finding can do.
    pub low_severity_cap: Action,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            categories: ModerationPolicy::default(),
            low_severity_cap: Action::Flag,
        }
    }
}

/// Parses an action name: `allow`, `flag`, `mask` or `block`.
///
/// # Errors
///
/// A message listing the valid names.
pub fn parse_action(name: &str) -> Result<Action, String> {
    [Action::Allow, Action::Flag, Action::Mask, Action::Block]
        .into_iter()
        .find(|a| a.as_str() == name.trim())
        .ok_or_else(|| format!("unknown action `{name}` (allow, flag, mask, block)"))
}

/// Parses a `CATEGORY=ACTION` override such as `profanity=block`.
///
/// # Errors
///
/// A message naming what is wrong and listing the valid names.
pub fn parse_override(pair: &str) -> Result<(Category, Action), String> {
    let (category, action) = pair
        .split_once('=')
        .ok_or_else(|| format!("`{pair}` is not CATEGORY=ACTION"))?;
    let category = Category::ALL
        .into_iter()
        .find(|c| c.as_str() == category.trim())
        .ok_or_else(|| {
            format!(
                "unknown category `{category}` (profanity, sexual, hate, threat, self_harm, contact, spam)"
            )
        })?;
    Ok((category, parse_action(action)?))
}

impl Policy {
    /// The action for one finding.
    pub fn action(&self, category: Category, severity: Severity) -> Action {
        let action = self.categories.action(category);
        match severity {
            Severity::None => Action::Allow,
            Severity::Low => action.min(self.low_severity_cap),
            Severity::Medium | Severity::High => action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_severity_findings_are_only_flagged_by_default() {
        let policy = Policy::default();
        assert_eq!(policy.action(Category::Sexual, Severity::Low), Action::Flag);
        assert_eq!(
            policy.action(Category::Sexual, Severity::Medium),
            Action::Block
        );
        assert_eq!(
            policy.action(Category::Profanity, Severity::High),
            Action::Mask
        );
        assert_eq!(
            policy.action(Category::SelfHarm, Severity::High),
            Action::Flag
        );
    }

    #[test]
    fn overrides_parse_and_bad_ones_name_the_problem() {
        assert_eq!(
            parse_override("profanity=block"),
            Ok((Category::Profanity, Action::Block))
        );
        assert!(
            parse_override("rudeness=block")
                .unwrap_err()
                .contains("unknown category")
        );
        assert!(
            parse_override("profanity=nuke")
                .unwrap_err()
                .contains("unknown action")
        );
        assert!(
            parse_override("profanity")
                .unwrap_err()
                .contains("CATEGORY=ACTION")
        );
    }

    #[test]
    fn the_cap_never_raises_an_action() {
        let mut policy = Policy::default();
        policy.categories.set(Category::Profanity, Action::Allow);
        assert_eq!(
            policy.action(Category::Profanity, Severity::Low),
            Action::Allow
        );
    }
}
