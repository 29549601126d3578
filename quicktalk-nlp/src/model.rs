//! The learned second pass: a linear model over hashed character n-grams.
//!
//! A word list only catches what it lists; insults made of ordinary words
//! (`머리가 텅 비었네`, `nobody wants you here`) pass it. This model scores
//! a line by the character 1- to 4-grams of its lowercased text, each hashed
//! into one of 2^18 weights, summed with a bias and squashed to a
//! probability. It learns from the labelled development sets
//! (`quicktalk-nlp train`), ships as a 256 KiB file of 8-bit weights, and
//! scores a chat line in a few microseconds with no allocation.
//!
//! It never acts alone by default: inline it can only raise a line the
//! lexicon allowed to a **flag** for moderators (`Filter`'s learned pass);
//! users never see its verdicts.

use std::sync::OnceLock;

/// Number of weights (hash buckets).
pub const DIM: usize = 1 << 18;
/// Longest n-gram, in characters.
const MAX_N: usize = 4;
/// The file's first bytes.
const MAGIC: &[u8; 4] = b"QTM1";

/// The model that ships with the crate (`model/abuse.bin`).
static BUILTIN: &[u8] = include_bytes!("../model/abuse.bin");

/// A trained model: 8-bit weights with one scale, a bias, and the score
/// from which a line is flagged (chosen at training time).
#[derive(Debug, Clone)]
pub struct Model {
    /// Exactly [`DIM`] long, so a masked index needs no bounds check.
    weights: Box<[i8; DIM]>,
    scale: f32,
    bias: f32,
    threshold: f32,
    /// The least sum of weights that scores at or above the threshold, so
    /// a check compares integers instead of taking an exponential.
    flag_sum: i64,
}

/// Bytes before the weights: magic, dimension, bias, scale, threshold.
const HEADER: usize = 20;

/// Calls `each` with the bucket of every 1- to 4-gram of the line,
/// lowercased, with runs of whitespace as one space and a space at both
/// ends (so word starts and ends are n-grams of their own).
///
/// The n-grams ending at a character are hashed from that character
/// leftwards (FNV-1a steps), so the four of them cost four steps, and the
/// hash is stable across Rust versions and platforms: a model trained
/// anywhere scores the same everywhere.
pub fn for_each_feature(text: &str, mut each: impl FnMut(usize)) {
    let mut window = Window {
        chars: [u32::from(' '); MAX_N],
        filled: 1,
    };
    let mut last_space = true;
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // Most characters are ASCII: read without UTF-8 decoding. Hangul
        // is no space and has no case: `is_whitespace` and `to_lowercase`
        // would search their tables for every syllable of a Korean line.
        let byte = bytes[at];
        let (c, hangul) = if byte.is_ascii() {
            at += 1;
            (char::from(byte), false)
        } else if let Some(syllable) = crate::normalize::hangul::syllable_at(bytes, at) {
            at += 3;
            (syllable, true)
        } else {
            let Some(c) = text[at..].chars().next() else {
                break; // not reached: `at` stays on a char boundary
            };
            at += c.len_utf8();
            (
                c,
                matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{3131}'..='\u{318E}'),
            )
        };
        let space = !hangul && c.is_whitespace();
        if space && last_space {
            continue;
        }
        last_space = space;
        if space {
            window.push(' ', &mut each);
        } else if c.is_ascii() {
            // The same character `to_lowercase` gives, without its iterator.
            window.push(c.to_ascii_lowercase(), &mut each);
        } else if hangul {
            window.push(c, &mut each);
        } else {
            c.to_lowercase().for_each(|c| window.push(c, &mut each));
        }
    }
    if !last_space {
        window.push(' ', &mut each);
    }
}

/// FNV-1a's offset basis and prime: the n-gram hash.
const BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// [`ASCII_KEYS`]' mark for white space (`char::is_whitespace`).
const ASCII_SPACE: u8 = 0xFF;

/// Each ASCII byte lowercased, or [`ASCII_SPACE`] for white space (the
/// rest of the table is not read: it serves lines of ASCII).
static ASCII_KEYS: [u8; 256] = {
    let mut keys = [0u8; 256];
    let mut byte = 0;
    while byte < 128 {
        keys[byte] = match byte as u8 {
            b'\t'..=b'\r' | b' ' => ASCII_SPACE,
            other => other.to_ascii_lowercase(),
        };
        byte += 1;
    }
    keys
};

/// The last [`MAX_N`] characters of a line, newest last; at the start only
/// the space before the line counts.
struct Window {
    chars: [u32; MAX_N],
    filled: usize,
}

impl Window {
    /// Adds `c` and calls `each` with the bucket of the 1- to 4-grams that
    /// end at it.
    #[inline(always)]
    fn push(&mut self, c: char, each: &mut impl FnMut(usize)) {
        let [_, a, b, d] = self.chars;
        self.chars = [a, b, d, u32::from(c)];
        self.filled = (self.filled + 1).min(MAX_N);
        let step = |hash: u64, c: u32| (hash ^ u64::from(c)).wrapping_mul(PRIME);
        let bucket = |hash: u64| (hash as usize) & (DIM - 1);
        let mut hash = step(BASIS, self.chars[3]);
        each(bucket(hash));
        if self.filled == MAX_N {
            // Past the line's first characters: the four steps unrolled.
            hash = step(hash, self.chars[2]);
            each(bucket(hash));
            hash = step(hash, self.chars[1]);
            each(bucket(hash));
            hash = step(hash, self.chars[0]);
            each(bucket(hash));
            return;
        }
        for k in 1..self.filled {
            hash = step(hash, self.chars[MAX_N - 1 - k]);
            each(bucket(hash));
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Model {
    /// The model that ships with the crate.
    ///
    /// # Panics
    /// Never for the shipped file (tested).
    pub fn builtin() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| Model::from_bytes(BUILTIN).expect("the shipped model reads"))
    }

    /// Reads a model file.
    ///
    /// # Errors
    /// A message when the bytes are not a model of this version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
        if bytes.len() != HEADER + DIM || &bytes[..4] != MAGIC {
            return Err(format!("not a QTM1 model of {DIM} weights"));
        }
        let word = |at: usize| [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if u32::from_le_bytes(word(4)) as usize != DIM {
            return Err("wrong dimension".into());
        }
        let mut model = Model {
            bias: f32::from_le_bytes(word(8)),
            scale: f32::from_le_bytes(word(12)),
            threshold: f32::from_le_bytes(word(16)),
            weights: bytes[HEADER..]
                .iter()
                .map(|&b| b as i8)
                .collect::<Box<[i8]>>()
                .try_into()
                .map_err(|_| "wrong dimension".to_string())?,
            flag_sum: 0,
        };
        // Weights are quantised by a positive scale (`to_bytes`): a larger
        // sum never scores lower, which `least_flagging_sum` relies on.
        if !(model.scale > 0.0 && model.scale.is_finite()) {
            return Err("the weights' scale is not a positive number".into());
        }
        model.flag_sum = model.least_flagging_sum();
        Ok(model)
    }

    /// The probability of a sum of weights.
    fn probability(&self, sum: i32) -> f32 {
        sigmoid(self.bias + sum as f32 * self.scale)
    }

    /// The least `i32` sum whose probability reaches the threshold, found
    /// with the same arithmetic as [`Model::score`]; one past `i32::MAX`
    /// when none does. The search takes the probability never to fall as
    /// the sum grows, which holds where `exp` is monotone (it was checked
    /// for every `i32` sum with the shipped model on x86-64 glibc: flagging
    /// by sum and by probability agree on all of them).
    fn least_flagging_sum(&self) -> i64 {
        let flags = |sum: i64| self.probability(sum as i32) >= self.threshold;
        let (mut low, mut high) = (i64::from(i32::MIN), i64::from(i32::MAX) + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            if flags(middle) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        low
    }

    /// The score from which a line is flagged.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Whether the line scores at or above the threshold.
    pub fn flags(&self, text: &str) -> bool {
        i64::from(self.sum(text)) >= self.flag_sum
    }

    /// The file form of float weights (quantised to 8 bits).
    pub fn to_bytes(weights: &[f32], bias: f32, threshold: f32) -> Vec<u8> {
        let largest = weights.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-9);
        let scale = largest / 127.0;
        let mut out = Vec::with_capacity(HEADER + weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(DIM as u32).to_le_bytes());
        out.extend_from_slice(&bias.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend_from_slice(&threshold.to_le_bytes());
        out.extend(
            weights
                .iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8 as u8),
        );
        out
    }

    /// The probability that the line is abusive.
    pub fn score(&self, text: &str) -> f32 {
        self.probability(self.sum(text))
    }

    /// The sum of the weights of the line's features.
    fn sum(&self, text: &str) -> i32 {
        if text.is_ascii() {
            return self.ascii_sum(text.as_bytes());
        }
        let mut sum = 0i32;
        for_each_feature(text, |index| sum += i32::from(self.weights[index]));
        sum
    }

    /// [`Model::sum`] of a line of ASCII (most English chat): the features
    /// of [`for_each_feature`], with a byte read from a table (white space,
    /// lowercase) and, once the window holds four characters, the four
    /// hashes of each new one computed in a row: a third fewer
    /// instructions than the general walk on English chat.
    fn ascii_sum(&self, bytes: &[u8]) -> i32 {
        let weights = &*self.weights;
        let weight = |hash: u64| i32::from(weights[(hash as usize) & (DIM - 1)]);
        let mut sum = 0i32;
        let mut window = Window {
            chars: [u32::from(' '); MAX_N],
            filled: 1,
        };
        let mut last_space = true;
        let mut rest = bytes;
        // The line's first characters, while the window fills.
        while window.filled < MAX_N {
            let Some((&byte, after)) = rest.split_first() else {
                break;
            };
            rest = after;
            let key = ASCII_KEYS[usize::from(byte)];
            let space = key == ASCII_SPACE;
            if space && last_space {
                continue;
            }
            last_space = space;
            let c = if space { ' ' } else { char::from(key) };
            window.push(c, &mut |index| sum += i32::from(weights[index]));
        }
        if window.filled < MAX_N {
            // A line of fewer characters: its closing space, as above.
            if !last_space {
                window.push(' ', &mut |index| sum += i32::from(weights[index]));
            }
            return sum;
        }
        // The window full: the three characters before the next one.
        let [_, mut oldest, mut older, mut newest] = window.chars.map(u64::from);
        let mut step = |c: u64| {
            let hash = (BASIS ^ c).wrapping_mul(PRIME);
            let two = (hash ^ newest).wrapping_mul(PRIME);
            let three = (two ^ older).wrapping_mul(PRIME);
            let four = (three ^ oldest).wrapping_mul(PRIME);
            sum += weight(hash) + weight(two) + weight(three) + weight(four);
            (oldest, older, newest) = (older, newest, c);
        };
        for &byte in rest {
            let key = ASCII_KEYS[usize::from(byte)];
            let space = key == ASCII_SPACE;
            if space && last_space {
                continue;
            }
            last_space = space;
            step(u64::from(if space { b' ' } else { key }));
        }
        if !last_space {
            step(u64::from(b' '));
        }
        sum
    }
}

/// Logistic regression by stochastic gradient descent over hashed
/// features: deterministic for the same rows (a fixed shuffle seed).
pub fn train(rows: &[(String, bool)], epochs: usize) -> (Vec<f32>, f32) {
    let mut weights = vec![0f32; DIM];
    let mut bias = 0f32;
    let positives = rows.iter().filter(|(_, p)| *p).count().max(1) as f32;
    let negatives = (rows.len() as f32 - positives).max(1.0);
    // Balance the classes so the rarer one is not ignored.
    let (w_pos, w_neg) = (
        rows.len() as f32 / (2.0 * positives),
        rows.len() as f32 / (2.0 * negatives),
    );
    let features: Vec<Vec<usize>> = rows
        .iter()
        .map(|(text, _)| {
            let mut f = Vec::new();
            for_each_feature(text, |i| f.push(i));
            f
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = crate::rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
    let lambda = 1e-6f32;
    for epoch in 0..epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let rate = 0.05 / (1.0 + epoch as f32);
        for &row in &order {
            let f = &features[row];
            let positive = rows[row].1;
            let z = bias + f.iter().map(|&i| weights[i]).sum::<f32>();
            let gradient = (sigmoid(z) - if positive { 1.0 } else { 0.0 })
                * if positive { w_pos } else { w_neg };
            bias -= rate * gradient;
            for &i in f {
                weights[i] -= rate * (gradient + lambda * weights[i]);
            }
        }
    }
    (weights, bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_cover_every_short_ngram_with_word_edges() {
        let mut count = 0;
        for_each_feature("ab", |_| count += 1);
        // "a", " a"; "b", "ab", " ab"; " ", "b ", "ab ", " ab ".
        assert_eq!(count, 9);
        let mut upper = Vec::new();
        let mut lower = Vec::new();
        for_each_feature("Hello   World", |i| upper.push(i));
        for_each_feature("hello world", |i| lower.push(i));
        assert_eq!(upper, lower, "case and spacing do not change the features");
    }

    #[test]
    fn the_ascii_table_agrees_with_char_methods() {
        for byte in 0..128u8 {
            let c = char::from(byte);
            let key = ASCII_KEYS[usize::from(byte)];
            if c.is_whitespace() {
                assert_eq!(key, ASCII_SPACE, "{byte:#x}");
            } else {
                assert_eq!(char::from(key), c.to_ascii_lowercase(), "{byte:#x}");
            }
        }
    }

    /// The ASCII walk sums the weights of the features the general one
    /// gives, for lines of every length around the window's fill.
    #[test]
    fn the_ascii_sum_is_the_sum_of_the_features() {
        let model = Model::builtin();
        let mut rng = crate::rng::XorShift::new(7);
        let pieces = [
            "a", "B", " ", "  ", "\t", "\n", "x", "Z", "1", "!", "'", "ab", "the ",
        ];
        let mut lines: Vec<String> =
            vec![String::new(), " ".into(), "a".into(), "hello world".into()];
        for len in 0..40 {
            for _ in 0..50 {
                lines.push((0..len).map(|_| pieces[rng.below(pieces.len())]).collect());
            }
        }
        for line in &lines {
            let mut expected = 0i32;
            for_each_feature(line, |index| expected += i32::from(model.weights[index]));
            assert_eq!(model.ascii_sum(line.as_bytes()), expected, "{line:?}");
        }
    }

    #[test]
    fn hangul_is_its_own_lowercase() {
        for c in ('\u{AC00}'..='\u{D7A3}').chain('\u{3131}'..='\u{318E}') {
            assert_eq!(c.to_lowercase().collect::<Vec<_>>(), [c], "{c}");
        }
    }

    #[test]
    fn a_trained_model_round_trips_through_its_file() {
        let rows: Vec<(String, bool)> = (0..200)
            .map(|i| {
                if i % 2 == 0 {
                    (format!("you stupid idiot {i}"), true)
                } else {
                    (format!("nice weather today {i}"), false)
                }
            })
            .collect();
        let (weights, bias) = train(&rows, 3);
        let model = Model::from_bytes(&Model::to_bytes(&weights, bias, 0.5)).unwrap();
        assert!(model.score("what a stupid idiot") > 0.5);
        assert!(model.score("the weather is nice") < 0.5);
    }

    #[test]
    fn flagging_compares_sums_exactly_as_scores_would() {
        let model = Model::builtin();
        let least = model.flag_sum as i32;
        assert!(model.probability(least) >= model.threshold());
        assert!(model.probability(least - 1) < model.threshold());
        let lines = [
            "안녕하세요 반가워요",
            "you are a worthless idiot",
            "nobody wants you here",
            "머리가 텅 비었네",
            "what time is the meeting",
            "",
        ];
        for line in lines {
            assert_eq!(
                model.flags(line),
                model.score(line) >= model.threshold(),
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_model_file_with_a_scale_that_is_not_positive_is_refused() {
        let mut bytes = Model::to_bytes(&vec![0.5; DIM], 0.0, 0.5);
        bytes[12..16].copy_from_slice(&(-1.0f32).to_le_bytes());
        assert!(Model::from_bytes(&bytes).is_err());
    }

    #[test]
    fn the_shipped_model_loads_and_scores_in_range() {
        let model = Model::builtin();
        let score = model.score("안녕하세요 반가워요");
        assert!((0.0..=1.0).contains(&score));
    }
}
