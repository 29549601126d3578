//! Rude ASCII art: `8===D`, `_|_`, `(.)(.)`. Word lists cannot see these
//! (they are all punctuation), so a few patterns look at the plain text.

use std::ops::Range;

use regex::Regex;

use quicktalk_core::ports::moderator::Category;

/// The compiled ASCII-art patterns.
#[derive(Debug)]
pub(crate) struct ArtDetector {
    rude: Regex,
    sexual: Regex,
}

impl ArtDetector {
    pub(crate) fn new() -> Self {
        let compile = |pattern: &str| Regex::new(pattern).expect("built-in art pattern");
        Self {
            // A raised middle finger: `_|_`, `_l_`, `_/_`.
            rude: compile(r"(?:^|[\s\[\]])_[|l1i!(){}\[\]∥¦/\\]_(?:$|[\s\[\]])|🖕"),
            // `8===D`, `c====3`, `(.)(.)`, `(‿ˠ‿)`, `╰⋃╯`.
            sexual: compile(
                r"(?:^|[^a-z0-9])[8b3c]\s?[=\-~]{2,}\s?[d>3ob](?:$|[^a-z0-9])|\(\s?[.o*]\s?\)\s?\(\s?[.o*]\s?\)|\(‿[ˠɣ|]‿\)|╰⋃╯",
            ),
        }
    }

    /// Art found in `plain`, as plain-text byte ranges. The filter calls this
    /// only for lines with a character art is made of (`_ = ( 🖕 ╰`).
    pub(crate) fn find(&self, plain: &str, out: &mut Vec<(Category, Range<usize>)>) {
        for hit in self.rude.find_iter(plain) {
            out.push((Category::Profanity, trim(plain, hit.range())));
        }
        for hit in self.sexual.find_iter(plain) {
            out.push((Category::Sexual, trim(plain, hit.range())));
        }
    }
}

/// Drops the boundary characters the patterns matched around the art.
fn trim(plain: &str, range: Range<usize>) -> Range<usize> {
    let text = &plain[range.clone()];
    let start = range.start + (text.len() - text.trim_start_matches([' ', '[', ']']).len());
    let end = range.end - (text.len() - text.trim_end_matches([' ', '[', ']']).len());
    if start < end { start..end } else { range }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<Category> {
        let mut out = Vec::new();
        ArtDetector::new().find(text, &mut out);
        out.into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn rude_art_is_found() {
        assert_eq!(found("8====d"), [Category::Sexual]);
        assert_eq!(found("c=====3 lol"), [Category::Sexual]);
        assert_eq!(found("(.)(.)"), [Category::Sexual]);
        assert_eq!(found("_|_"), [Category::Profanity]);
        assert_eq!(found("ok _l_ bye"), [Category::Profanity]);
    }

    #[test]
    fn ordinary_punctuation_is_not_art() {
        assert!(found("a == b").is_empty());
        assert!(found("my_var_name").is_empty());
        assert!(found("x = 3 -> 5").is_empty());
        assert!(found("(a) (b)").is_empty());
    }
}
