//! Fuzzes the normaliser and the whole filter: no panic, and every finding
//! and mask span lies on char boundaries of the input.
//!
//! Run: `cd quicktalk-nlp && RUSTC_BOOTSTRAP=1 cargo fuzz run normalize`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use quicktalk_nlp::{Filter, View};

fuzz_target!(|data: &[u8]| {
    static FILTER: OnceLock<Filter> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut view = View::new();
    view.build(text);
    let check = FILTER.get_or_init(Filter::new).check(text);
    for span in check.findings.iter().map(|f| &f.span).chain(&check.mask_spans) {
        assert!(span.start < span.end && span.end <= text.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    let masked = check.masked(text);
    assert_eq!(masked.chars().count(), text.chars().count());
});
