//! The one-line input box: a text buffer with a cursor.
//!
//! Kept apart from the protocol state: the state machine only needs to know
//! when the box becomes empty or non-empty (for `typing`) and which line was
//! submitted.

/// An editable line. The cursor counts characters, not bytes, so Korean and
/// other multi-byte text edits correctly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputLine {
    text: String,
    cursor: usize,
}

/// A key the input box understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Insert a character at the cursor.
    Insert(char),
    /// Delete the character before the cursor.
    Backspace,
    /// Delete the character under the cursor.
    Delete,
    /// Move the cursor one character left.
    Left,
    /// Move the cursor one character right.
    Right,
    /// Move the cursor to the start.
    Home,
    /// Move the cursor to the end.
    End,
    /// Clear the whole line (Ctrl-U).
    Clear,
}

impl InputLine {
    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text before the cursor (to place the terminal cursor).
    pub fn before_cursor(&self) -> &str {
        &self.text[..self.byte_index(self.cursor)]
    }

    /// Whether the line is empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Applies one edit.
    pub fn apply(&mut self, edit: Edit) {
        let len = self.text.chars().count();
        match edit {
            Edit::Insert(c) => {
                let at = self.byte_index(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            Edit::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.text.remove(self.byte_index(self.cursor));
            }
            Edit::Delete if self.cursor < len => {
                self.text.remove(self.byte_index(self.cursor));
            }
            Edit::Left => self.cursor = self.cursor.saturating_sub(1),
            Edit::Right => self.cursor = (self.cursor + 1).min(len),
            Edit::Home => self.cursor = 0,
            Edit::End => self.cursor = len,
            Edit::Clear => *self = Self::default(),
            Edit::Backspace | Edit::Delete => {}
        }
    }

    /// Takes the line out (Enter), leaving the box empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    fn byte_index(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_multibyte_text_by_characters() {
        let mut line = InputLine::default();
        for c in "안녕x".chars() {
            line.apply(Edit::Insert(c));
        }
        line.apply(Edit::Backspace);
        line.apply(Edit::Left);
        line.apply(Edit::Insert('!'));
        assert_eq!(line.text(), "안!녕");
        assert_eq!(line.before_cursor(), "안!");
        line.apply(Edit::Home);
        line.apply(Edit::Delete);
        assert_eq!(line.text(), "!녕");
        assert_eq!(line.take(), "!녕");
        assert!(line.is_empty());
        line.apply(Edit::Backspace);
        assert_eq!(line.before_cursor(), "");
    }
}
