//! Contact details and links: phone numbers, e-mail addresses (also spelled
//! `name at gmail dot com` or `골뱅이`), messenger handles and URLs.
//!
//! These run on the plain folded text (fullwidth digits are ASCII by then),
//! and only when a cheap look at the line says they could match, so a line
//! of ordinary chat costs a few byte scans here.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;

use quicktalk_core::ports::moderator::Category;

use crate::normalize::hangul::SyllableSet;

/// A contact or link found in the plain text, as plain-text byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub category: Category,
    pub span: Range<usize>,
}

/// The compiled contact patterns.
#[derive(Debug)]
pub(crate) struct ContactDetector {
    email: Regex,
    mail_host: Regex,
    url: Regex,
    spelled_url: Regex,
    /// A link with a space where its dot was (`casino . com`, `bit ly/x`).
    spaced_url: Regex,
    handle: Regex,
    messenger: AhoCorasick,
}

/// The words that can make a contact in a line of Latin letters without a
/// digit or mark: the keywords of a spelled-out address (`naver dot com`,
/// `name at gmail`) or phone number (`zero one zero ...`), and [`ID_WORD`]
/// (`kik id jenny`). Such a line is searched for contact only when its
/// normalised text has one. The filter's lexicon automaton finds them (see
/// `WordSet`), in the same walk as the entries.
pub(crate) fn keywords() -> impl Iterator<Item = &'static str> {
    ["dot", "zero", "ohoneoh"]
        .into_iter()
        .chain(MAIL_HOSTS)
        .chain([ID_WORD])
}

/// The word that introduces an id after a messenger's name (`line id
/// dexter`, `kik me add id jenny`): a keyword only where a word starts
/// (not in `kids` or `did`), as the handle pattern reads it.
pub(crate) const ID_WORD: &str = "id";

const TLDS: &str = "com|net|org|kr|co|io|me|ly|gg|gl|xyz|info|biz|tk|ru|cn|jp|uk|us|tv|site|online|link|click|top|app|dev|shop|store|club|live|pro|cc|to|be|de|fr|in|edu|gov";

/// Messenger and social names that introduce a handle.
const MESSENGERS: &[&str] = &[
    "kakao",
    "katalk",
    "kakaotalk",
    "ktalk",
    "카톡",
    "카카오톡",
    "오픈카톡",
    // 카톡 by its initial consonants.
    "ㅋㅌ",
    "카카오",
    "오픈채팅",
    "오픈톡",
    "line",
    "라인",
    "telegram",
    "텔레그램",
    "텔레",
    "텔그",
    "tg",
    "insta",
    "instagram",
    "ig",
    "인스타",
    "snap",
    "snapchat",
    "스냅",
    "discord",
    "디코",
    "디스코드",
    "whatsapp",
    "왓츠앱",
    "wechat",
    "위챗",
    "kik",
    "skype",
    "스카이프",
    "tiktok",
    "틱톡",
    "twitter",
    "트위터",
    "facebook",
    "페북",
    "아이디",
    "아디",
    // A mail account named by its provider (`gmail sora77`).
    "gmail",
    "지메일",
];

impl ContactDetector {
    pub(crate) fn new() -> Self {
        let at = r"(?:@|\(at\)|\[at\]|\{at\}|\sat\s|골뱅이)";
        let dot = r"(?:\.|\(dot\)|\[dot\]|\{dot\}|\sdot\s|쩜|점|닷)";
        // With a real `@` any top-level domain counts; spelled out (`at`,
        // `골뱅이`) only the usual mail ones, so `me at cherthala.in` is not
        // an address.
        let email = format!(
            r"[a-z0-9][a-z0-9._%+-]*\s*@\s*[a-z0-9-]+(?:\s*{dot}\s*[a-z0-9-]+)*\s*{dot}\s*(?:{TLDS})(?-u:\b)|[a-z0-9][a-z0-9._%+-]*\s*{at}\s*[a-z0-9-]+(?:\s*{dot}\s*[a-z0-9-]+)*\s*{dot}\s*(?:com|net|org|kr)(?-u:\b)"
        );
        let mail_host = format!(
            r"[a-z0-9][a-z0-9._-]{{2,}}\s*{at}\s*(?:gmail|naver|daum|hanmail|hotmail|outlook|yahoo|icloud|kakao|nate|네이버|지메일|다음|한메일)"
        );
        let url = format!(
            r"(?:https?://|www\.)[^\s]+|(?-u:\b)[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:{TLDS})(?-u:\b)(?:/[^\s]*)?"
        );
        let spelled_url = format!(
            r"(?-u:\b)[a-z0-9][a-z0-9-]+\s*(?:\(dot\)|\[dot\]|\{{dot\}}|\sdot\s|닷)\s*(?:{TLDS})(?-u:\b)|[a-z0-9가-힣]+\s*닷컴"
        );
        // A dot with a space on each side is no sentence's full stop (and
        // not `.com` named as a word: `the ip without .com`); the endings are
        // the ones that are not English words. Short-link hosts with a
        // space for the dot only with their path (`bit ly/abc`).
        let spaced_url = r"(?-u:\b)[a-z0-9][a-z0-9-]{2,}\s+\.\s+(?:com|net|org|kr|xyz|biz|info|io|site|online|shop|club|gg)(?-u:\b)|(?-u:\b)(?:bit\s+ly|goo\s+gl|t\s+co|t\s+me|tinyurl\s+com|han\s+gl|me2\s+do|vo\s+la|url\s+kr|is\s+gd|ow\s+ly|cutt\s+ly)/[a-z0-9][^\s]*";
        // Group 1: what introduces the id (`: `, `id `, `@`); group 2: the id.
        let handle = r"^(\s*(?:(?:id|아이디|아디)(?-u:\b))?\s*[:=]?\s*@?)([a-z0-9][a-z0-9_.-]{2,29}(?:#[0-9]{4})?)";
        let compile = |pattern: &str| Regex::new(pattern).expect("built-in contact pattern");
        Self {
            email: compile(&email),
            mail_host: compile(&mail_host),
            url: compile(&url),
            spelled_url: compile(&spelled_url),
            spaced_url: compile(spaced_url),
            handle: compile(handle),
            // The longest name at a place: `kakaotalk`, not `kakao` + `talk`.
            // A small set: a DFA walked without a prefilter costs a few
            // instructions a byte, where the prefilter's set-up on a chat
            // line's few dozen bytes cost more than the walk
            // (ko-curse-2runo 3% faster, en-clean-ubuntu-irc 4%).
            messenger: AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                .prefilter(false)
                .build(MESSENGERS)
                .expect("built-in messenger names"),
        }
    }

    /// Everything found in `plain`, pushed to `out`. The filter calls this
    /// only for lines its feature scan says could hold a contact: a digit,
    /// an `@ . : / _ =`, Latin letters in a Korean line, `공`/`영`/`빵` with
    /// eight digit syllables (see [`may_hold_a_spelled_phone`]) or `닷`, or
    /// a spelled-out keyword, and an ASCII letter or digit, `공`/`영`/`빵` or
    /// `닷` to match.
    pub(crate) fn find(&self, plain: &str, out: &mut Vec<Found>) {
        // Cheap byte checks first: most lines have nothing a pattern needs.
        let scan = Scan::of(plain);
        phones(plain, &scan, out);
        let contact = |span: Range<usize>| Found {
            category: Category::Contact,
            span,
        };
        let korean = |word: &str| !scan.ascii && plain.contains(word);
        let at = scan.at_sign || korean("골뱅이");
        // Asked only for a spelled `at` (a Korean line would search its
        // text three times for nothing).
        let has_dot = || scan.dot || scan.dot_word || korean("점") || korean("쩜") || korean("닷");
        if at || (scan.spelled_at && has_dot()) {
            for hit in self.email.find_iter(plain) {
                if !overlaps(out, &hit.range()) {
                    out.push(contact(hit.range()));
                }
            }
        }
        if (at || scan.spelled_at) && names_mail_host(plain) {
            for hit in self.mail_host.find_iter(plain) {
                if !overlaps(out, &hit.range()) {
                    out.push(contact(hit.range()));
                }
            }
        }
        if scan.link {
            for hit in self.url.find_iter(plain) {
                if !overlaps(out, &hit.range())
                    && is_link(hit.as_str())
                    && !is_sentence_break(plain, hit.range())
                {
                    out.push(Found {
                        category: Category::Spam,
                        span: hit.range(),
                    });
                }
            }
        }
        if scan.spaced_link {
            for hit in self.spaced_url.find_iter(plain) {
                // `fun . com on`: come on, not a link.
                let come_on =
                    hit.as_str().ends_with("com") && plain[hit.end()..].starts_with(" on");
                if !overlaps(out, &hit.range()) && !come_on {
                    out.push(Found {
                        category: Category::Spam,
                        span: hit.range(),
                    });
                }
            }
        }
        if scan.dot_word || korean("닷") {
            for hit in self.spelled_url.find_iter(plain) {
                if !overlaps(out, &hit.range()) && names_a_host(hit.as_str()) {
                    out.push(Found {
                        category: Category::Spam,
                        span: hit.range(),
                    });
                }
            }
        }
        // An id is ASCII: a line with no ASCII letter or digit has none; a
        // line without Hangul (no Korean name, particle or id word) needs a
        // digit or an id marker to hold one.
        if scan.ascii_word && (scan.id_marks || scan.hangul) {
            self.handles(plain, out);
        }
        // The same read on the letters typed one per word (an id is ASCII:
        // a line with no ASCII letter or digit has none, squeezed or not).
        if !scan.ascii_word {
            return;
        }
        if let Some((squeezed, from)) = squeeze_spelled(plain) {
            let scan = Scan::of(&squeezed);
            if scan.ascii_word && (scan.id_marks || scan.hangul) {
                let mut spelled = Vec::new();
                self.handles(&squeezed, &mut spelled);
                for found in spelled {
                    let span = from[found.span.start]..from[found.span.end - 1] + 1;
                    if !overlaps(out, &span) {
                        out.push(Found { span, ..found });
                    }
                }
            }
        }
    }

    /// A messenger name followed by something that looks like an id.
    fn handles(&self, plain: &str, out: &mut Vec<Found>) {
        for name in self.messenger.find_iter(plain) {
            let before = plain[..name.start()].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let rest = &plain[name.end()..];
            // An English name must be a word of its own: `installed` is not
            // `insta` + `lled`.
            let ascii_name = plain.as_bytes()[name.start()].is_ascii();
            // A product is no id: `insta360`, `line6` (an id follows a space
            // or a mark).
            if ascii_name && rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                continue;
            }
            // The id may follow after a particle (카톡은, 인스타는) or a colon,
            // and after words that ask to add or look it up (`카톡 친추
            // minji99`, `my snap is jennyx22`, `kik me: jenny_x`).
            let mut skip = particles(rest);
            let mut fillers = 0;
            // Whether one of them is an id word (see below).
            let mut id_word = false;
            while fillers < 2 {
                let Some((next, word)) = filler(&rest[skip..]) else {
                    break;
                };
                id_word |= ID_WORDS.contains(&word);
                skip += next;
                skip += particles(&rest[skip..]);
                fillers += 1;
            }
            let Some(captures) = self.handle.captures(&rest[skip..]) else {
                continue;
            };
            let Some(id) = captures.get(2) else {
                continue;
            };
            let marked = skip > 0
                || captures
                    .get(1)
                    .is_some_and(|m| !m.as_str().trim().is_empty());
            // A sentence's full stop is not part of the id (`line out.`).
            let id_like = id
                .as_str()
                .trim_end_matches(['.', '-', '_'])
                .contains(|c: char| c.is_ascii_digit() || c == '_' || c == '.');
            // After a Korean messenger name any Latin word is an id (Korean
            // chat has few English words there); after an English one it
            // must look like an id or be introduced as one. After a name
            // that is an everyday English word (`line 344`, `snap 2`) only
            // an introduced id counts (`line: abc12`, `line id abc12`).
            let everyday = matches!(&plain[name.range()], "line" | "snap");
            let named = captures.get(1).is_some_and(|m| {
                let marker = m.as_str();
                marker.contains('@') || marker.contains("id") || marker.contains("아이디")
            });
            let found = if fillers > 0 {
                // After words between the name and it, only what is plainly an
                // id: `@name`, or letters with digits or `_ .`, four or more
                // (`snap me at 5pm` is a time).
                named
                    // Introduced by an id word (`line id dexter`, `my kik id
                    // is jenny`); after an everyday name only right before
                    // the id (`the line id is wrong` names none).
                    || (id_word && (!everyday || fillers == 1))
                    || (id_like
                        && id.len() >= 4
                        && id.as_str().contains(|c: char| c.is_ascii_alphabetic()))
            } else if everyday {
                // `line: cool_kid99`, `line id dexter`, not `this line: dexter`;
                // an id of letters and digits needs no introduction (`snap
                // sora77`), a number alone does (`line 344`, `snap ps5`).
                let letters_and_digits = id.len() >= 5
                    && id.as_str().contains(|c: char| c.is_ascii_alphabetic())
                    && id.as_str().contains(|c: char| c.is_ascii_digit());
                named || (marked && id_like) || letters_and_digits
            } else {
                marked || id_like || !ascii_name
            };
            if !found {
                continue;
            }
            let end = name.end() + skip + id.end();
            if overlaps(out, &(name.start()..end)) {
                continue;
            }
            out.push(Found {
                category: Category::Contact,
                span: name.start()..end,
            });
        }
    }
}

/// Bytes of Korean particles and marks at the start of `text` (`은 `,
/// `: `): what may come between a messenger's name and the id.
fn particles(text: &str) -> usize {
    text.char_indices()
        .take_while(|&(_, c)| matches!(c, '은' | '는' | '이' | '가' | '요' | ':' | '='))
        .last()
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// Words between a messenger's name and an id: asking to add or look it up.
const FILLERS: &[&str] = &[
    "친추",
    "추가",
    "검색",
    "아이디",
    "아뒤",
    "아디",
    "주소",
    "id",
    "me",
    "at",
    "is",
    "my",
    "add",
    "on",
    "name",
    "username",
    "handle",
];

/// The fillers that say the next word is an id.
const ID_WORDS: &[&str] = &[ID_WORD, "아이디", "아뒤", "아디"];

/// The bytes of one filler word (with the spaces before it) at the start of
/// `text`, when the word ends there, and the word.
fn filler(text: &str) -> Option<(usize, &'static str)> {
    let trimmed = text.trim_start_matches(' ');
    let spaces = text.len() - trimmed.len();
    let word = FILLERS.iter().find(|word| {
        trimmed.starts_with(*word)
            && !trimmed[word.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
    })?;
    Some((spaces + word.len(), word))
}

/// Letters typed one per word to get an id past the patterns (`k a k a o
/// i d  m i n j i 9 9`, `카 톡 아 이 디 m i n j i 9 9`): the line with the
/// single spaces between such letters taken out (a wider gap stays, as one
/// space), and for each byte of it the byte of `plain` it came from. None
/// unless at least four letters in a row were typed that way (`a b`, `ㅋ ㅋ`).
fn squeeze_spelled(plain: &str) -> Option<(String, Vec<usize>)> {
    if !four_spelled_in_a_row(plain.as_bytes()) {
        return None;
    }
    // Each word, whether it is joined to the last (both of one character,
    // one space between), and where the last one ended.
    let mut offset = 0;
    let mut last: Option<(usize, bool)> = None; // end, single
    let words = plain.split(' ').filter_map(move |word| {
        let start = offset;
        offset += word.len() + 1;
        if word.is_empty() {
            return None;
        }
        let single = word.chars().nth(1).is_none();
        let joined =
            last.is_some_and(|(end, last_single)| last_single && single && start == end + 1);
        let gap = last.map(|(end, _)| end);
        last = Some((start + word.len(), single));
        Some((start, word, joined, gap))
    });
    let mut squeezed = String::with_capacity(plain.len());
    let mut from = Vec::with_capacity(plain.len());
    for (start, word, joined, gap) in words {
        if let (Some(gap), false) = (gap, joined) {
            squeezed.push(' ');
            from.push(gap);
        }
        squeezed.push_str(word);
        from.extend(start..start + word.len());
    }
    Some((squeezed, from))
}

/// Whether four or more words of one character each follow each other with
/// one space between them (what [`squeeze_spelled`] reads): the pieces of a
/// split on single spaces (a search for the next space, not a test of every
/// byte), as most lines have no such run.
fn four_spelled_in_a_row(bytes: &[u8]) -> bool {
    let mut run = 0;
    bytes.split(|&b| b == b' ').any(|word| {
        // One character: as long as its first byte says.
        let width = match word.first() {
            None => 0,
            Some(0..0x80) => 1,
            Some(0x80..0xE0) => 2,
            Some(0xE0..0xF0) => 3,
            Some(_) => 4,
        };
        run = if width > 0 && word.len() == width {
            run + 1
        } else {
            0
        };
        run >= 4
    })
}

/// What the patterns need of a line, from one pass over its bytes (a
/// dozen `contains` scans before; the Korean words are looked for only in
/// a line that is not ASCII).
#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    ascii: bool,
    /// A Hangul syllable or jamo (a byte that starts one): only then can a
    /// Korean messenger name, particle or id word be there.
    hangul: bool,
    at_sign: bool,
    /// `at` with white space on each side (`\sat\s`), or `(at)`, `[at]`,
    /// `{at}`: only then can a spelled `at` of the address patterns match
    /// (`that `, `what ` cannot).
    spelled_at: bool,
    dot: bool,
    /// `dot`.
    dot_word: bool,
    /// A `.` between an ASCII letter or digit and a letter (`bit.ly`), or
    /// a scheme (`://`) or `www`: only then can the link pattern match.
    link: bool,
    /// A `.` right after a space, or a `/` after a two-character word
    /// (` .com`, ` ly/`): only then can the spaced-link pattern match.
    spaced_link: bool,
    /// An ASCII letter or digit.
    ascii_word: bool,
    /// An ASCII letter: only then can English number words be read.
    ascii_letter: bool,
    /// What an id after a messenger name needs in a line without Hangul: a
    /// digit or `_ @ : =`, a `.` inside a word (`jenny.kim`; a sentence's
    /// full stop is none), or `id` starting a word (`kik me add id jenny`).
    id_marks: bool,
}

/// Per byte: what [`Scan`] learns from the byte alone, and whether it
/// needs a closer look (its neighbours).
const ALNUM: u8 = 1;
const ID_MARK: u8 = 2;
const NOT_ASCII: u8 = 4;
const LOOK: u8 = 8;
const HANGUL: u8 = 16;
const LETTER: u8 = 32;
static BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        let mut bits = 0;
        if byte.is_ascii_alphanumeric() {
            bits |= ALNUM;
        }
        if byte.is_ascii_alphabetic() {
            bits |= LETTER;
        }
        if byte.is_ascii_digit() || matches!(byte, b'_' | b'@' | b':' | b'=') {
            bits |= ID_MARK;
        }
        if !byte.is_ascii() {
            bits |= NOT_ASCII;
        }
        // The first bytes of U+1100-11FF (jamo), U+3000-3FFF (compatibility
        // jamo) and U+A000-DFFF (syllables).
        if matches!(byte, 0xE1 | 0xE3 | 0xEA..=0xED) {
            bits |= HANGUL;
        }
        if matches!(byte, b'@' | b'.' | b'a' | b'd' | b':' | b'w' | b'/') {
            bits |= LOOK;
        }
        table[b] = bits;
        b += 1;
    }
    table
};

impl Scan {
    fn of(plain: &str) -> Self {
        let bytes = plain.as_bytes();
        let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
        let mut scan = Scan::default();
        let mut seen = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let bits = BYTES[usize::from(b)];
            seen |= bits;
            if bits & LOOK == 0 {
                continue;
            }
            match b {
                b'@' => scan.at_sign = true,
                b'.' => {
                    scan.dot = true;
                    scan.id_marks |= is_id_byte(at(i + 1));
                    scan.link |= i > 0
                        && bytes[i - 1].is_ascii_alphanumeric()
                        && at(i + 1).is_ascii_alphabetic();
                    scan.spaced_link |= i > 0 && bytes[i - 1] == b' ';
                }
                b'/' => {
                    scan.spaced_link |= i >= 3
                        && bytes[i - 3] == b' '
                        && bytes[i - 2].is_ascii_alphanumeric()
                        && bytes[i - 1].is_ascii_alphanumeric();
                }
                b'a' if at(i + 1) == b't' => {
                    let (before, after) = (if i > 0 { bytes[i - 1] } else { 0 }, at(i + 2));
                    scan.spelled_at |= (may_be_space(before) && may_be_space(after))
                        || matches!((before, after), (b'(', b')') | (b'[', b']') | (b'{', b'}'));
                }
                b'd' => {
                    scan.dot_word |= at(i + 1) == b'o' && at(i + 2) == b't';
                    scan.id_marks |= i > 0
                        && bytes[i - 1] == b'i'
                        && (i < 2 || !bytes[i - 2].is_ascii_alphanumeric());
                }
                b':' => scan.link |= at(i + 1) == b'/' && at(i + 2) == b'/',
                b'w' => scan.link |= at(i + 1) == b'w' && at(i + 2) == b'w',
                _ => {}
            }
        }
        scan.ascii = seen & NOT_ASCII == 0;
        scan.ascii_word = seen & ALNUM != 0;
        scan.ascii_letter = seen & LETTER != 0;
        scan.id_marks |= seen & ID_MARK != 0;
        scan.hangul = seen & HANGUL != 0;
        scan
    }
}

/// A byte that may end a white-space character (`\s` in a pattern): ASCII
/// white space, or the last byte of a wider character.
fn may_be_space(byte: u8) -> bool {
    byte.is_ascii_whitespace() || byte == 0x0B || byte >= 0x80
}

/// A byte an id may have after its first (`[a-z0-9_.-]`).
fn is_id_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-')
}

/// Mail providers people name instead of writing an address.
const MAIL_HOSTS: [&str; 14] = [
    "gmail",
    "naver",
    "daum",
    "hanmail",
    "hotmail",
    "outlook",
    "yahoo",
    "icloud",
    "kakao",
    "nate",
    "네이버",
    "지메일",
    "다음",
    "한메일",
];

/// Whether the line names a mail provider (`name at gmail`).
fn names_mail_host(plain: &str) -> bool {
    MAIL_HOSTS.iter().any(|host| plain.contains(host))
}

/// A URL-shaped match that is a link, not `e.g.` or a sentence run together.
fn is_link(text: &str) -> bool {
    text.starts_with("http")
        || text.starts_with("www.")
        || text.split('.').next().is_some_and(|host| host.len() >= 2)
        // A one-letter host with a path is a short link (`t.me/channel`).
        || text.contains('/')
}

/// Chat words that start a sentence run into the next one with no space
/// after the full stop (`lol.me too`, `ok.so what`).
const INTERJECTIONS: &[&str] = &[
    "lol", "lmao", "haha", "hehe", "ok", "okay", "omg", "wow", "yes", "yeah", "yep", "no", "nope",
    "sure", "good", "nice", "thanks", "thx", "hi", "hey", "hmm", "so", "well", "oh", "ah",
];

/// Domain endings that are also English words a sentence starts with.
const WORD_TLDS: &[&str] = &["me", "to", "be", "in", "us"];

/// A bare `word.word` (no scheme, `www.` or path) that is a full stop with
/// the space left out, not a link: the first word is a chat interjection
/// (`lol.gg`, `ok.com on let's go`), or the second an English word after
/// a word of letters only, and more text follows (`meet.me at 5`, `nice.to
/// meet u`; `casino-bonus.me now` stays a link).
fn is_sentence_break(plain: &str, span: Range<usize>) -> bool {
    let text = &plain[span.clone()];
    let Some((name, ending)) = text.split_once('.') else {
        return false;
    };
    if text.starts_with("http") || name == "www" || ending.contains(['.', '/']) {
        return false;
    }
    let more = plain[span.end..].starts_with([' ', '?', '!', ',']);
    let word = name.bytes().all(|b| b.is_ascii_alphabetic());
    INTERJECTIONS.contains(&name) || (WORD_TLDS.contains(&ending) && word && more)
}

/// Whether a spelled-out domain names a host (`naver dot com`), not an
/// era (`the dot com bubble`, `the 2000 dot com crash`).
fn names_a_host(text: &str) -> bool {
    let name = text.split_whitespace().next().unwrap_or("");
    let article = matches!(name, "the" | "a" | "an" | "this" | "that" | "its");
    !article && !name.bytes().all(|b| b.is_ascii_digit())
}

fn overlaps(found: &[Found], span: &Range<usize>) -> bool {
    found
        .iter()
        .any(|f| f.span.start < span.end && span.start < f.span.end)
}

/// A digit read at byte `at` of `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digit {
    value: u8,
    /// Spelled (a Korean number word, `o` for zero), not a digit character.
    spelled: bool,
    /// Bytes it takes.
    width: usize,
}

/// The digit at byte `at` of `text` (after `prev`): [`digit`], a native
/// Korean counting word (`하나둘셋넷` = 1234, `일곱` before the `일` of 1),
/// and the letter o for a zero right beside an ASCII digit
/// (`o1o-1234-5678`); all but digit characters read as spelled, so only a
/// number that starts like a mobile one is a phone.
fn digit_in(text: &str, at: usize, prev: Option<char>, english: bool) -> Option<Digit> {
    let rest = &text[at..];
    // Most of what is read: a digit character, which nothing below reads
    // otherwise ([`digit`] gives it its value).
    if let Some(&byte) = rest.as_bytes().first()
        && byte.is_ascii_digit()
    {
        return Some(Digit {
            value: byte - b'0',
            spelled: false,
            width: 1,
        });
    }
    let c = rest.chars().next()?;
    if matches!(c, 'o' | 'l' | 'i') {
        let next = text.as_bytes().get(at + 1);
        let beside =
            prev.is_some_and(|p| p.is_ascii_digit()) || next.is_some_and(u8::is_ascii_digit);
        // An `l` or `i` for a 1 starts no word (`call0905...` is `call`).
        let in_word = c != 'o' && prev.is_some_and(|p| p.is_ascii_alphabetic());
        if beside && !in_word {
            return Some(Digit {
                value: u8::from(c != 'o'),
                spelled: true,
                width: 1,
            });
        }
    }
    if c.is_ascii_alphabetic() {
        // A whole English number word (`zero one zero ...`), only in a line
        // that has one (the caller's cheap test): the word search would
        // otherwise run at every word of every line with digits.
        if !english || prev.is_some_and(|p| p.is_ascii_alphabetic()) {
            return None;
        }
        let (value, width) = english_digit(rest)?;
        return Some(Digit {
            value,
            spelled: true,
            width,
        });
    }
    // The first syllables of the words in NATIVE_DIGITS: most syllables
    // start none, and need no search of the list.
    if starts_native_digit(c) {
        if let Some(&(word, value)) = NATIVE_DIGITS
            .iter()
            .find(|(word, _)| rest.starts_with(word))
        {
            return Some(Digit {
                value,
                spelled: true,
                width: word.len(),
            });
        }
    }
    digit(c).map(|(value, spelled)| Digit {
        value,
        spelled,
        width: c.len_utf8(),
    })
}

/// Whether [`digit_in`] can read a digit at `c`: an ASCII digit, `o l i`
/// (beside a digit), any ASCII letter in a line read for `english` number
/// words, or the first syllable of a number word. Most letters of an
/// English line and syllables of a Korean one are none of these, and need
/// not be read.
#[inline]
fn may_be_digit(c: char, english: bool) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit()
            || (c.is_ascii_alphabetic() && (english || matches!(c, 'o' | 'l' | 'i')));
    }
    // One bit a syllable: a `match` over twenty syllables is a chain of
    // compares and mispredicted branches on every syllable of a line.
    DIGIT_SYLLABLES.contains(c)
}

/// The fewest characters that read as digits a line needs before
/// [`phones`] reads it for a number (the shortest phone it takes has more).
const PHONE_DIGITS: usize = 8;

/// Whether the characters of a plain text with no ASCII letter or digit
/// could hold a phone number: [`phones`] needs [`PHONE_DIGITS`] characters
/// that read as digits, and there each is a syllable of
/// [`DIGIT_SYLLABLES`]. Most Korean lines with a `공` or `영` (`공원`,
/// `영화`) have a few, and need no contact search at all.
pub(crate) fn may_hold_a_spelled_phone(chars: impl Iterator<Item = char>) -> bool {
    chars
        .filter(|&c| DIGIT_SYLLABLES.contains(c))
        .nth(PHONE_DIGITS - 1)
        .is_some()
}

/// The syllables that [`digit`] reads or that start a native number word:
/// every other syllable starts no digit.
static DIGIT_SYLLABLES: SyllableSet = {
    let mut set = SyllableSet::new(&[]);
    let mut code = '가' as u32;
    while code <= '힣' as u32 {
        if let Some(c) = char::from_u32(code)
            && (digit(c).is_some() || starts_native_digit(c))
        {
            set = set.with(c);
        }
        code += 1;
    }
    set
};

/// Whether `c` is the first syllable of a word in [`NATIVE_DIGITS`].
#[inline]
const fn starts_native_digit(c: char) -> bool {
    matches!(c, '하' | '둘' | '셋' | '넷' | '다' | '여' | '일' | '아')
}

/// The length of the connector word `text` starts with, when one does and
/// a space or a digit follows it.
fn connector(text: &str) -> Option<usize> {
    // Each starts with Hangul or one of these letters: no search after a
    // digit of a long number.
    let first = *text.as_bytes().first()?;
    if first.is_ascii() && !matches!(first, b'a' | b't' | b'd') {
        return None;
    }
    CONNECTORS
        .iter()
        .find(|word| {
            text.starts_with(*word)
                && text[word.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == ' ' || c.is_ascii_digit())
        })
        .map(|word| word.len())
}

/// Words said between the groups of a phone number, longest first where
/// one starts another.
const CONNECTORS: [&str; 10] = [
    "그리고",
    "다음에",
    "다음",
    "하고",
    "이랑",
    "랑",
    "에",
    "and",
    "then",
    "dash",
];

/// The English number word `text` starts with, whole (not `one` of
/// `onest`): its value and length.
fn english_digit(text: &str) -> Option<(u8, usize)> {
    // A number word must end where the letters do (`one`, not `once`): it
    // is the whole run of letters, so only a run of a number word's length
    // is compared (`m45terbate` compares none).
    let run = text.bytes().take_while(u8::is_ascii_alphabetic).count();
    ENGLISH_DIGITS
        .iter()
        .find(|(word, _)| word.len() == run && text.as_bytes()[..run] == *word.as_bytes())
        .map(|&(word, value)| (value, word.len()))
}

/// English number words, as a phone number is read out (`oh` for zero).
const ENGLISH_DIGITS: [(&str, u8); 11] = [
    ("zero", 0),
    ("oh", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
];

/// Native Korean counting words for the digits (a phone number read out
/// `공일공 하나둘셋넷`). Alone they are everyday words (`하나도 없어`,
/// `둘이서`): they make a phone only inside a number that starts like a
/// mobile one.
/// (Their first syllables are listed again in [`starts_native_digit`].)
const NATIVE_DIGITS: [(&str, u8); 9] = [
    ("하나", 1),
    ("둘", 2),
    ("셋", 3),
    ("넷", 4),
    ("다섯", 5),
    ("여섯", 6),
    ("일곱", 7),
    ("여덟", 8),
    ("아홉", 9),
];

/// A digit in `c`, reading Korean number words too (공일공 = 010, and
/// `빵` for zero as it is read out in numbers).
#[inline]
const fn digit(c: char) -> Option<(u8, bool)> {
    let korean = match c {
        '0'..='9' => return Some((c as u8 - b'0', false)),
        '공' | '영' | '빵' => 0,
        '일' => 1,
        '이' => 2,
        '삼' => 3,
        '사' => 4,
        '오' => 5,
        '육' | '륙' => 6,
        '칠' => 7,
        '팔' => 8,
        '구' => 9,
        _ => return None,
    };
    Some((korean, true))
}

/// Phone numbers: Korean mobile and landline numbers, `+` international
/// numbers and 3-3-4 North American numbers, written with any mix of
/// separators, fullwidth digits or Korean number words.
fn phones(plain: &str, scan: &Scan, out: &mut Vec<Found>) {
    let ascii = scan.ascii;
    // Korean number words count in any line that is not ASCII (`010
    // 일이삼사 5678`); they make a phone only when it starts like a mobile
    // number (below).
    // A number read out in English starts with its zero (`zero one zero`,
    // `oh one oh`): only then are English words read as digits.
    // Or run into digits (`1two3four`).
    let bytes = plain.as_bytes();
    // Enough digit characters settle it at once; only a line short of them
    // counts what reads as digits (number words, letters beside digits).
    let ascii_digits = plain.bytes().filter(u8::is_ascii_digit).count();
    // Each needs an ASCII letter (most Korean lines with digits have none).
    let english = scan.ascii_letter
        && (plain.contains("zero")
            || plain.contains("oh one")
            || (ascii_digits > 0
                && (1..bytes.len()).any(|at| {
                    bytes[at - 1].is_ascii_digit()
                        && bytes[at].is_ascii_alphabetic()
                        && english_digit(&plain[at..]).is_some()
                })));
    // Short of eight ASCII digits, a phone has a digit read from a word or
    // a letter, and such a number is a phone only when it starts with a
    // zero (see `is_phone` below): a line with no character that can read
    // as one has none (most Korean lines, whose 이, 사 and 오 are digits).
    // An ASCII line reads no digit from its letters unless it reads out
    // English numbers (its digits are counted as they are, below).
    // A zero: `0`, `o`, or a Korean word for it (each a fast substring
    // search, not one pass decoding every character).
    let zero = || {
        plain.contains('0')
            || plain.contains('o')
            || ["공", "영", "빵"].iter().any(|word| plain.contains(word))
    };
    // Without Hangul (no Korean number word) and with no ASCII digit (no
    // letter beside one), nothing reads as a digit: `it’s` or `café` make a
    // line not ASCII, not a line with digits.
    let no_digit = ascii_digits == 0 && !scan.hangul;
    if ascii_digits < PHONE_DIGITS && !english && (ascii || no_digit || !zero()) {
        return;
    }
    let digits = if ascii_digits >= PHONE_DIGITS || (ascii && !english) {
        ascii_digits
    } else {
        // Enough settle it (below).
        plain
            .char_indices()
            .filter(|&(at, c)| {
                may_be_digit(c, english) && digit_in(plain, at, None, english).is_some()
            })
            .take(PHONE_DIGITS)
            .count()
    };
    if digits < PHONE_DIGITS {
        return;
    }
    // One pass over the line, no allocation: the scan of a candidate
    // number moves `at` past it, and `prev` is the character before `at`.
    let mut at = 0;
    let mut prev: Option<char> = None;
    while let Some(c) = plain[at..].chars().next() {
        let start = at;
        if !may_be_digit(c, english)
            || digit_in(plain, at, prev, english).is_none()
            || prev.is_some_and(|p| p.is_ascii_digit())
        {
            at += c.len_utf8();
            prev = Some(c);
            continue;
        }
        // Digits inside a word of letters and digits are no phone number
        // (`ffb00501808306c047`, a hash).
        if prev.is_some_and(|p| p.is_ascii_alphabetic()) {
            let word = plain[at..]
                .bytes()
                .take_while(u8::is_ascii_alphanumeric)
                .count();
            if plain[at..at + word]
                .bytes()
                .any(|b| b.is_ascii_alphabetic())
            {
                at += word;
                prev = plain[..at].chars().next_back();
                continue;
            }
        }
        let plus = prev == Some('+');
        let number = scan_number(&plain[at..], english);
        // Korean number words are ordinary syllables (이, 사, 오); a run of
        // them is a number only when it starts like a phone number.
        let spelled = number.korean_words > 0;
        // A book's ISBN is no phone, nor a run like 0123456789.
        let isbn = plain[..start]
            .trim_end_matches([' ', ':', '-', '#'])
            .ends_with("isbn");
        // A number joined by words is a phone only when it starts like a
        // mobile one (`010 하고 1234 하고 5678`), not `3 and 4 and 5`.
        let mobile = matches!(
            number.first,
            [Some(0), Some(1), Some(0 | 1 | 6 | 7 | 8 | 9)]
        );
        let is_phone = !isbn
            && !number.runs.contains(&true)
            && (number.connectors == 0 || mobile)
            && match number.first {
                [Some(0), Some(1), Some(0 | 1 | 6 | 7 | 8 | 9)] => (10..=11).contains(&number.len),
                [Some(0), ..] if !spelled => (9..=11).contains(&number.len),
                // A Korean mobile with the country code and no `+`
                // (`82-10-1234-5678`, `82 010 ...`).
                [Some(8), Some(2), Some(0 | 1)] if !spelled => (12..=13).contains(&number.len),
                _ if plus && !spelled => (8..=15).contains(&number.len),
                _ => !spelled && number.len == 10 && number.groups == [3, 3, 4],
            };
        if is_phone {
            out.push(Found {
                category: Category::Contact,
                span: start.saturating_sub(usize::from(plus))..start + number.end,
            });
        }
        // On past the characters the scan took (at least the first).
        let taken = number.taken.max(c.len_utf8());
        at += taken;
        prev = plain[..at].chars().next_back();
    }
}

/// A run of digits and separators as [`scan_number`] reads it.
struct Number {
    /// How many digits.
    len: usize,
    /// The first three digits.
    first: [Option<u8>; 3],
    /// The digits so far all go up by one, down by one, or repeat one
    /// (`0123456789`, `9876543210`, `0000000000`): nobody's number.
    runs: [bool; 3],
    last: Option<u8>,
    /// The digits in each group between separators, when there are at most
    /// three groups (`[3, 3, 4]` is a North American number); else zeros.
    groups: [usize; 3],
    /// Digits written as Korean number words.
    korean_words: usize,
    /// Words read between digit groups (`010 하고 1234`, `and`).
    connectors: usize,
    /// Bytes from the start to the end of the last digit.
    end: usize,
    /// Bytes the scan consumed (digits and separators).
    taken: usize,
}

/// Reads digits (and Korean number words) from the start of `text`, across
/// separators (`-`, `.`, a space...): at most two marks and two spaces
/// between digits.
fn scan_number(text: &str, english: bool) -> Number {
    let mut number = Number {
        len: 0,
        first: [None; 3],
        runs: [true; 3],
        last: None,
        groups: [0; 3],
        korean_words: 0,
        connectors: 0,
        end: 0,
        taken: 0,
    };
    // Separators since the last digit: marks and spaces, two of each at
    // most (`(555) 123`, `010 - 1234`, `010 ㅡ 1234`).
    let (mut group, mut group_count, mut marks, mut spaces) = (0, 0, 0, 0);
    let mut connectors = 0;
    let mut close_group = |group: &mut usize, groups: &mut [usize; 3]| {
        if *group > 0 {
            if let Some(slot) = groups.get_mut(group_count) {
                *slot = *group;
            }
            group_count += 1;
            *group = 0;
        }
    };
    let mut prev = None;
    for (offset, c) in text.char_indices() {
        if offset < number.taken {
            continue; // the rest of a number word or a connector
        }
        // A word between two groups of a number said aloud (`010 하고
        // 1234 하고 5678`), read before the digits (`이랑` starts with 이).
        let after_group = prev.is_some_and(|p: char| p == ' ' || p.is_ascii_digit());
        if number.len > 0 && after_group && marks < 2 {
            if let Some(width) = connector(&text[offset..]) {
                close_group(&mut group, &mut number.groups);
                // Counted once a digit follows (`call 0909... and join`
                // ends the number at its last digit).
                connectors += 1;
                (marks, spaces) = (marks + 1, 0);
                number.taken = offset + width;
                prev = text[..number.taken].chars().next_back();
                continue;
            }
        }
        let read = digit_in(text, offset, prev, english);
        prev = Some(c);
        let mut width = c.len_utf8();
        if let Some(digit) = read {
            if let Some(slot) = number.first.get_mut(number.len) {
                *slot = Some(digit.value);
            }
            if let Some(last) = number.last {
                let steps = [(last + 1) % 10, (last + 9) % 10, last];
                for (run, step) in number.runs.iter_mut().zip(steps) {
                    *run &= digit.value == step;
                }
            }
            number.last = Some(digit.value);
            number.len += 1;
            group += 1;
            number.korean_words += usize::from(digit.spelled);
            number.connectors += std::mem::take(&mut connectors);
            (marks, spaces) = (0, 0);
            width = digit.width;
            number.end = offset + width;
        } else if c == ' ' && spaces < 2 {
            close_group(&mut group, &mut number.groups);
            spaces += 1;
        } else if matches!(
            c,
            '-' | '.' | ')' | '(' | '/' | '~' | 'ㅡ' | '—' | '–' | '*' | '_' | '·'
        ) && marks < 2
        {
            close_group(&mut group, &mut number.groups);
            marks += 1;
        } else {
            break;
        }
        number.taken = offset + width;
    }
    close_group(&mut group, &mut number.groups);
    if group_count > 3 {
        number.groups = [0; 3];
    }
    number
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<Category> {
        let mut out = Vec::new();
        ContactDetector::new().find(text, &mut out);
        out.into_iter().map(|f| f.category).collect()
    }

    #[test]
    fn only_a_char_that_may_be_a_digit_reads_as_one() {
        // What follows matters only to a char that may be a digit (a number
        // word's first syllable, `o` beside a digit): two contexts suffice.
        let mut text = String::new();
        for english in [false, true] {
            for c in ('\0'..='\u{10FFFF}').filter(|&c| !may_be_digit(c, english)) {
                for rest in ["1", "나", "ne 2", "ero"] {
                    text.clear();
                    text.push(c);
                    text.push_str(rest);
                    for prev in [None, Some('1'), Some(' ')] {
                        assert_eq!(digit_in(&text, 0, prev, english), None, "{text:?}");
                    }
                }
            }
        }
    }

    /// A line with no ASCII letter or digit and no `닷` holds contact only
    /// when it may hold a phone spelled in Korean: generated lines of
    /// number words, other syllables, jamo and separators.
    #[test]
    fn a_line_without_eight_digit_syllables_holds_no_spelled_contact() {
        let pieces = [
            "공",
            "영",
            "빵",
            "일",
            "이",
            "삼",
            "사",
            "오",
            "육",
            "칠",
            "팔",
            "구",
            "하나",
            "둘",
            "셋",
            "넷",
            "다섯",
            "여섯",
            "일곱",
            "여덟",
            "아홉",
            "하고",
            "그리고",
            "에",
            "랑",
            "원",
            "화",
            "점",
            "골뱅이",
            "쩜",
            "카톡",
            "ㅋ",
            " ",
            "-",
            ".",
            "@",
            "+",
        ];
        let detector = ContactDetector::new();
        let mut rng = crate::rng::XorShift::new(0x5eed_0035);
        let (mut held, mut gated) = (0, 0);
        for _ in 0..200_000 {
            let mut line = String::new();
            if rng.below(2) == 0 {
                // How a spelled phone starts.
                line.push_str(["공일공", "영일공", "빵일공 "][rng.below(3)]);
            }
            for _ in 0..1 + rng.below(16) {
                // Digits most of the time: many lines hold eight or so.
                let piece = if rng.below(3) == 0 {
                    rng.below(pieces.len())
                } else {
                    rng.below(12)
                };
                line.push_str(pieces[piece]);
            }
            let mut out = Vec::new();
            detector.find(&line, &mut out);
            if !may_hold_a_spelled_phone(line.chars()) {
                gated += 1;
                assert!(out.is_empty(), "{line:?}: {out:?}");
            } else if !out.is_empty() {
                held += 1;
            }
        }
        // Both sides of the gate were seen.
        assert!(held > 100 && gated > 100, "{held} found, {gated} gated");
    }

    /// An English number word is read only whole: what comparing every
    /// word with the text's start gives, for every string of up to three
    /// pieces.
    #[test]
    fn english_number_words_are_read_whole() {
        let naive = |text: &str| {
            ENGLISH_DIGITS
                .iter()
                .find(|(word, _)| {
                    text.starts_with(word)
                        && !text[word.len()..].starts_with(|c: char| c.is_ascii_alphabetic())
                })
                .map(|&(word, value)| (value, word.len()))
        };
        let pieces = [
            "one", "two", "seven", "oh", "zero", "o", "n", "e", "s", "x", "1", " ", "-", "é",
        ];
        let mut texts = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|text| pieces.iter().map(move |piece| format!("{text}{piece}")))
                .collect();
            texts.extend(longer);
        }
        for text in &texts {
            assert_eq!(english_digit(text), naive(text), "{text:?}");
        }
        assert_eq!(english_digit("seven-1"), Some((7, 5)));
        assert_eq!(english_digit("sevens"), None);
    }

    #[test]
    fn every_native_number_word_reads_as_its_digit() {
        for (word, value) in NATIVE_DIGITS {
            let read = digit_in(word, 0, None, false).map(|d| (d.value, d.width));
            assert_eq!(read, Some((value, word.len())), "{word}");
        }
    }

    #[test]
    fn four_spelled_words_need_one_space_between_each() {
        for (text, run) in [
            ("k a k a o", true),
            ("id m i n j", true),
            ("카 톡 아 이 디", true),
            (" a b c d ", true),
            ("a b c", false),
            ("a b c de f", false),
            ("a b  c d", false),
            ("ㅋ ㅋ ㅋ", false),
            ("", false),
            ("hello world", false),
        ] {
            assert_eq!(four_spelled_in_a_row(text.as_bytes()), run, "{text:?}");
            assert_eq!(squeeze_spelled(text).is_some(), run, "{text:?}");
        }
    }

    #[test]
    fn one_character_words_agree_with_counting_chars() {
        // Four one-character words in a row: four consecutive pieces of a
        // split on single spaces, each of one char.
        let reference = |text: &str| {
            let mut run = 0;
            text.split(' ').any(|word| {
                run = if word.chars().count() == 1 {
                    run + 1
                } else {
                    0
                };
                run >= 4
            })
        };
        let alphabet = ['a', ' ', ' ', 'ㅋ', '가', 'é', '😀', 'b'];
        let mut rng = crate::rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let mut text = String::new();
            let seed = rng.next_u64();
            for k in 0..(seed % 24) {
                text.push(alphabet[((seed >> (k * 2 % 60)) % 8) as usize]);
            }
            assert_eq!(
                four_spelled_in_a_row(text.as_bytes()),
                reference(&text),
                "{text:?}"
            );
        }
    }

    /// The one-pass scan says what the `contains` tests it replaced said.
    #[test]
    fn the_byte_scan_agrees_with_plain_searches() {
        let hangul = |c: char| {
            matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3000}'..='\u{3FFF}')
                || ('\u{A000}'..='\u{D7FF}').contains(&c)
        };
        let id_mark_after_dot =
            |w: &[u8]| w[0] == b'.' && (w[1].is_ascii_alphanumeric() || b"_.-".contains(&w[1]));
        let naive = |plain: &str| Scan {
            ascii: plain.is_ascii(),
            hangul: plain.chars().any(hangul),
            at_sign: plain.contains('@'),
            spelled_at: plain.contains("(at)")
                || plain.contains("[at]")
                || plain.contains("{at}")
                // White space on each side, or a character the byte scan
                // cannot tell from it without decoding (any non-ASCII one).
                || plain.char_indices().any(|(i, c)| {
                    let space = |c: char| c.is_whitespace() || !c.is_ascii();
                    space(c)
                        && plain[i + c.len_utf8()..].starts_with("at")
                        && plain[i + c.len_utf8() + 2..].chars().next().is_some_and(space)
                }),
            dot: plain.contains('.'),
            dot_word: plain.contains("dot"),
            link: plain.contains("://")
                || plain.contains("www")
                || plain.as_bytes().windows(3).any(|w| {
                    w[1] == b'.' && w[0].is_ascii_alphanumeric() && w[2].is_ascii_alphabetic()
                }),
            spaced_link: plain.contains(" .")
                || plain.as_bytes().windows(4).any(|w| {
                    w[0] == b' '
                        && w[1].is_ascii_alphanumeric()
                        && w[2].is_ascii_alphanumeric()
                        && w[3] == b'/'
                }),
            ascii_word: plain.bytes().any(|b| b.is_ascii_alphanumeric()),
            ascii_letter: plain.bytes().any(|b| b.is_ascii_alphabetic()),
            id_marks: plain
                .bytes()
                .any(|b| b.is_ascii_digit() || matches!(b, b'_' | b'@' | b':' | b'='))
                || plain.as_bytes().windows(2).any(id_mark_after_dot)
                || plain.match_indices("id").any(|(i, _)| {
                    !plain[..i]
                        .bytes()
                        .next_back()
                        .is_some_and(|b| b.is_ascii_alphanumeric())
                }),
        };
        let pieces = [
            "a", "t", " ", "(", ")", "[", "]", "{", "}", "@", ".", "d", "o", "i", "w", ":", "/",
            "1", "_", "=", "-", "x", "\t", "\u{3000}", "점", "ㅎ", "ᄀ", "’", "é",
        ];
        // Every string of up to four pieces, and some whole lines.
        let mut texts = vec![
            "name at gmail dot com".to_string(),
            "see www.example.com or https://bit.ly/x".to_string(),
            "me (at) naver [at] daum.net".to_string(),
            "line id @dexter_99 = ok:".to_string(),
        ];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for text in &frontier {
                for piece in pieces {
                    next.push(format!("{text}{piece}"));
                }
            }
            texts.extend(next.iter().cloned());
            frontier = next;
        }
        for text in &texts {
            assert_eq!(Scan::of(text), naive(text), "{text:?}");
        }
    }

    #[test]
    fn phone_numbers_in_many_spellings_are_contact() {
        for text in [
            "010-1234-5678",
            "내 번호 01012345678",
            "010 1234 5678 연락해",
            "공일공 일이삼사 오육칠팔",
            "영일영 일이삼사 오육칠팔",
            "call +44 20 7946 0958",
            "555-123-4567",
            "02-123-4567",
            "(555) 123-4567",
            "번호는+82 10 1234 5678",
            "010 ㅡ 1234 ㅡ 5678",
            "010 - 1234 - 5678",
            "o1o-1234-5678",
            "010 일이삼사 5678",
            "k a k a o  i d  m i n j i 9 9",
            "카 톡 아 이 디 m i n j i 9 9",
            "내 인 스 타 는 cool_kid99 야",
            "내 번호 공일공 하나둘셋넷 오육칠팔",
            "010 하나둘셋 넷다섯여섯일곱",
            "빵일빵 일곱여덟아홉둘 삼사오육",
            // Letters for digits, English number words, a star between.
            "o10-l234-5678",
            "010 1two3four 5678",
            "zero one zero one two three four five six seven eight",
            "oh one oh one two three four five six seven eight",
            "010*1234*5678",
            // Words between the groups; a word after the number ends it.
            "010 하고 1234 하고 5678 로 연락해",
            "Call 09090204448 and join",
            "call 555-123-4567 and ask",
            "010에 1234에 5678",
            "공일공 다음 일이삼사 다음 오육칠팔",
            "010 이랑 1234 이랑 5678",
            "my number is 010 and 1234 and 5678",
            "82-10-4321-8765",
            "82 10 4321 8765",
        ] {
            assert_eq!(found(text), [Category::Contact], "{text}");
        }
    }

    #[test]
    fn ordinary_numbers_are_not_phones() {
        for text in [
            "2024-11-25 10:30",
            "my favorite number is 12122121221555512515",
            // Joined by words, but not like a mobile number.
            "555 and 123 and 4567",
            "3000원 하고 2000원 하고 5000원 냈어",
            "2019 그리고 2020 그리고 2021",
            "이 사람 오늘 일 이상해",
            "18년형 받았대",
            "81.58.1",
            // Ten digits in four groups: not a 3-3-4 number.
            "12-345-67-890",
            // A hash with a phone-like run inside.
            "commit ffb00501808306c047",
            // Letters typed one per word that spell no id.
            "a b c d e f g 순서대로 외워",
            "ㅋ ㅋ ㅋ ㅋ 카톡 왔다 3 개",
            "g g 2 0 2 4 wp",
            // Native counting words are everyday words.
            "하나 둘 셋 넷 다섯 세고 들어가자",
            "사과 하나 둘 주세요 일곱 여덟 개 정도",
            "빵 하나 둘 셋 넷 다섯 여섯 사왔어",
            // English number words are everyday words too.
            "one two three four five six seven eight nine ten",
            "i have zero idea, one two three go",
            "oh one more thing",
            "call0905 is not a phone",
            // Runs and book numbers.
            "0123456789",
            "0000000000",
            "isbn 0-306-40615-2",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn emails_handles_and_links_are_found() {
        assert_eq!(found("minji99@gmail.com"), [Category::Contact]);
        assert_eq!(found("minji99 at gmail dot com"), [Category::Contact]);
        assert_eq!(found("minji99 골뱅이 naver.com"), [Category::Contact]);
        // Every spelled `at` the pattern knows, braces too (the line's byte
        // scan once let `{at}` through), and white space other than a space.
        assert_eq!(found("minji99{at}gmail{dot}com"), [Category::Contact]);
        assert_eq!(found("minji99 [at] naver.com"), [Category::Contact]);
        assert_eq!(
            found("minji99\u{3000}at\u{3000}naver.com"),
            [Category::Contact]
        );
        // An id word, and a `.` inside an id, are what lets a line with no
        // digit or `_ @ : =` hold one; a sentence's full stop is not.
        assert_eq!(found("kik me add id jenny."), [Category::Contact]);
        assert_eq!(found("kik jenny.kim"), [Category::Contact]);
        assert_eq!(found("what is that line about."), []);
        assert_eq!(found("카톡 아이디 minji99"), [Category::Contact]);
        assert_eq!(found("ㅋㅌ minji99"), [Category::Contact]);
        assert_eq!(found("insta: @cool_kid"), [Category::Contact]);
        assert_eq!(found("go to https://spam.example/x"), [Category::Spam]);
        assert_eq!(found("visit bit.ly/abc"), [Category::Spam]);
        assert_eq!(found("naver dot com"), [Category::Spam]);
        // Short links, the ideographic full stop.
        assert_eq!(found("join t.me/freecoins now"), [Category::Spam]);
        assert_eq!(found("goo.gl/xyz"), [Category::Spam]);
        // A space where the dot was.
        assert_eq!(found("check casino . com for bonus"), [Category::Spam]);
        assert_eq!(found("luckyslots . net has a bonus"), [Category::Spam]);
        assert_eq!(found("bit ly/abc123"), [Category::Spam]);
        assert_eq!(found("여기로 와 goo gl/xyz"), [Category::Spam]);
        // The longest messenger name, and words between it and the id.
        for text in [
            "kakaotalk minji99",
            "카카오톡 sungmin1004 추가해",
            "텔레그램 @secretchat",
            "카톡 친추 minji99",
            "ㅋㅌ 아뒤 minji99",
            "tg @bigdeals",
            "kik me: jenny_x",
            "my snap is jennyx22",
            "snap me at jennyx22",
            "my ig is sunny_day",
            "snap sora77",
            "add my snap sora77",
            "discord sora#7777",
            "line sora77",
            "gmail sora77",
            "지메일 sora77",
        ] {
            assert_eq!(found(text), [Category::Contact], "{text}");
        }
    }

    #[test]
    fn words_after_a_messenger_name_are_no_id_unless_they_look_like_one() {
        for text in [
            "snap me at 5pm",
            "line me at 10",
            "my ig is dead lol",
            "tg is cool",
            "카톡 친추 해줘",
            "snap ps5",
            "line 344",
            "insta360 camera is cool",
            "gmail is down again",
            "지메일 계정 있어?",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    /// `connector` looks for a word only where one of them can start.
    #[test]
    fn every_connector_starts_where_the_search_looks() {
        for word in CONNECTORS {
            let first = word.as_bytes()[0];
            assert!(
                !first.is_ascii() || matches!(first, b'a' | b't' | b'd'),
                "{word}: add its first letter to `connector`'s test"
            );
            assert_eq!(connector(&format!("{word} 1")), Some(word.len()), "{word}");
        }
    }

    #[test]
    fn an_id_introduced_by_its_word_is_an_id() {
        for text in [
            "line id dexter",
            "kik id jenny",
            "snap id jenny",
            "my kik id is jenny",
            "kik me add id jenny",
            "카톡 아이디 minji",
            "라인 아디 jenny",
        ] {
            assert_eq!(found(text), [Category::Contact], "{text}");
        }
        // The word with no id after it, or with a word between that is not
        // a filler, is none.
        for text in ["what's your kik id", "kik id?", "the line id is wrong"] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn a_full_stop_without_its_space_is_not_a_link() {
        for text in [
            "lol.me too",
            "meet.me at 5",
            "ok.com on let's go",
            "sure.net is down",
            "the dot com bubble",
            "the 2000 dot com crash",
            // The letter o beside no digit is no zero.
            "call me or 1234 5678",
            // Spaces around a full stop, a slash between words.
            "ok . to be honest i forgot",
            "wait . me too",
            "it was fun . com on let's go again",
            "and/or it me/you",
            "just the ip without .com",
            "50 / 50 chance",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
        // Links and spelled domains stay links.
        assert_eq!(found("see casino-bonus.me now"), [Category::Spam]);
        assert_eq!(found("go to bit.ly/abc"), [Category::Spam]);
        assert_eq!(found("www.lol.gg"), [Category::Spam]);
        assert_eq!(found("naver dot com"), [Category::Spam]);
    }

    #[test]
    fn messenger_names_alone_are_not_contact() {
        assert!(found("너 인스타 해?").is_empty());
        assert!(found("ㅋㅋㅋㅌㅋ 진짜 웃겨").is_empty());
        assert!(found("line up please").is_empty());
        assert!(found("e.g. this is fine").is_empty());
    }
}
