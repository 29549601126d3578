//! `quicktalk moderate`: the second moderation pass, a worker that reads
//! every room's stream from Kafka and finds what the inline filter cannot
//! see in one line:
//!
//! - a word split across lines (`씨` then `발`, `fu` then `ck you`, a phone
//!   number typed in pieces): the last lines of each writer are checked
//!   joined together;
//! - the same line sent by one client key into many rooms (spam);
//! - repeated attempts to share contact details (lines the inline filter
//!   blocked, counted per client key).
//!
//! Each finding is stored as a moderation flag (the admin API lists them).
//! A client key with `--ban-after` findings within a day is banned for
//! `--ban-hours`: the ban is stored and published on `{prefix}.control`,
//! and every node closes that key's sessions.
//!
//! The worker's memory is per copy: with several copies (each owns some
//! partitions, so some rooms), the split-word and contact checks are exact
//! (a room lives on one partition), while the many-rooms spam check sees
//! only its own rooms.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::time::Duration;

use quicktalk_core::ports::chat_store::{Ban, ModerationFlag};
use quicktalk_core::ports::event_bus::BusEvent;
use quicktalk_core::ports::moderator::{Action, Category, Severity};
use quicktalk_core::{ClientKey, RoomId, SessionId};
use quicktalk_kafka::{ControlChannel, ControlEvent};
use quicktalk_nlp::Filter;

use crate::Error;
use crate::bus::{BusArgs, kafka_error, retry_store};
use crate::storage::StoreArgs;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// `quicktalk moderate`: the second moderation pass over the room events.
#[derive(Debug, Clone, clap::Args)]
pub struct ModerateArgs {
    /// The bus to read (must be `kafka://...`) and its settings.
    #[command(flatten)]
    pub bus: BusArgs,
    /// Where flags and bans are written (the admin API's store).
    #[command(flatten)]
    pub storage: StoreArgs,
    /// The worker's own `/livez`.
    #[command(flatten)]
    pub health: crate::worker_health::HealthArgs,
    /// The same line from one client key in this many rooms is spam.
    #[arg(long, env = "QUICKTALK_MODERATE_SPAM_ROOMS", default_value_t = 3)]
    pub spam_rooms: usize,
    /// ...within this many minutes.
    #[arg(
        long,
        env = "QUICKTALK_MODERATE_SPAM_WINDOW_MINS",
        default_value_t = 10
    )]
    pub spam_window_mins: u64,
    /// Lines blocked for contact details from one client key within a day
    /// before that is a finding.
    #[arg(long, env = "QUICKTALK_MODERATE_CONTACT_ATTEMPTS", default_value_t = 3)]
    pub contact_attempts: usize,
    /// Findings against one client key within a day that ban it (0: never ban).
    #[arg(long, env = "QUICKTALK_MODERATE_BAN_AFTER", default_value_t = 3)]
    pub ban_after: usize,
    /// Hours a ban by this worker lasts.
    #[arg(long, env = "QUICKTALK_MODERATE_BAN_HOURS", default_value_t = 24)]
    pub ban_hours: u64,
}

/// What the worker decided about one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Store this flag.
    Flag(ModerationFlag),
    /// Store this ban and tell every node.
    Ban(Ban),
}

/// The worker's rules over the stream, without I/O.
pub struct Analyzer {
    filter: Filter,
    spam_rooms: usize,
    spam_window_ms: i64,
    contact_attempts: usize,
    ban_after: usize,
    ban_ms: i64,
    /// The last lines of each writer in each room (oldest first).
    recent: HashMap<(RoomId, SessionId), VecDeque<String>>,
    /// (client key, line fingerprint) -> rooms it was sent to, first time.
    repeated: HashMap<(ClientKey, u64), (Vec<RoomId>, i64)>,
    reported_spam: HashSet<(ClientKey, u64)>,
    contact: HashMap<ClientKey, VecDeque<i64>>,
    findings: HashMap<ClientKey, VecDeque<i64>>,
    banned: HashMap<ClientKey, i64>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("rooms_followed", &self.recent.len())
            .finish_non_exhaustive()
    }
}

/// A line's fingerprint for the spam check: case, spacing and punctuation
/// do not make a line new.
fn fingerprint(text: &str) -> u64 {
    let mut hasher =
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
    for c in text.chars().filter(|c| c.is_alphanumeric()) {
        for lower in c.to_lowercase() {
            hasher.write_u32(lower as u32);
        }
    }
    hasher.finish()
}

impl Analyzer {
    /// The rules `args` sets, with the default Korean/English filter.
    pub fn new(args: &ModerateArgs) -> Self {
        Self {
            filter: Filter::new(),
            spam_rooms: args.spam_rooms.max(2),
            spam_window_ms: i64::try_from(args.spam_window_mins.saturating_mul(60_000))
                .unwrap_or(i64::MAX),
            contact_attempts: args.contact_attempts.max(1),
            ban_after: args.ban_after,
            ban_ms: i64::try_from(args.ban_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX),
            recent: HashMap::new(),
            repeated: HashMap::new(),
            reported_spam: HashSet::new(),
            contact: HashMap::new(),
            findings: HashMap::new(),
            banned: HashMap::new(),
        }
    }

    /// What this event adds up to, in order.
    pub fn observe(&mut self, event: &BusEvent) -> Vec<Decision> {
        let mut decisions = Vec::new();
        match event {
            BusEvent::Message {
                room,
                seq,
                from,
                client_key,
                text,
                ts,
                ..
            } => {
                let flag = |category, text: String| ModerationFlag {
                    room: *room,
                    seq: Some(*seq),
                    session: *from,
                    client_key: client_key.clone(),
                    action: Action::Flag,
                    category: Some(category),
                    severity: Severity::Medium,
                    text,
                    ts: *ts,
                };
                if let Some((category, joined)) = self.split_word(*room, *from, text) {
                    decisions.push(Decision::Flag(flag(
                        category,
                        format!("[moderate: split across lines] {joined}"),
                    )));
                }
                if let Some(rooms) = self.repeated_line(client_key, *room, text, *ts) {
                    decisions.push(Decision::Flag(flag(
                        Category::Spam,
                        format!("[moderate: the same line in {rooms} rooms] {text}"),
                    )));
                }
            }
            BusEvent::Blocked {
                room,
                from,
                client_key,
                category: Some(Category::Contact),
                ts,
            } => {
                let attempts = self.contact.entry(client_key.clone()).or_default();
                attempts.push_back(*ts);
                while attempts.front().is_some_and(|&t| t < ts - DAY_MS) {
                    attempts.pop_front();
                }
                if attempts.len() >= self.contact_attempts {
                    let count = attempts.len();
                    attempts.clear();
                    decisions.push(Decision::Flag(ModerationFlag {
                        room: *room,
                        seq: None,
                        session: *from,
                        client_key: client_key.clone(),
                        action: Action::Flag,
                        category: Some(Category::Contact),
                        severity: Severity::Medium,
                        text: format!(
                            "[moderate: {count} blocked attempts to share contact details]"
                        ),
                        ts: *ts,
                    }));
                }
            }
            BusEvent::PartnerLeft { room, .. } => {
                self.recent.retain(|(r, _), _| r != room);
            }
            _ => {}
        }
        let bans: Vec<Decision> = decisions
            .iter()
            .filter_map(|decision| match decision {
                Decision::Flag(flag) => self.count_finding(&flag.client_key, flag.ts),
                Decision::Ban(_) => None,
            })
            .collect();
        decisions.extend(bans);
        decisions
    }

    /// The current line joined to the writer's previous one or two: a
    /// finding the user would have seen (mask or block) that no single line
    /// has.
    fn split_word(
        &mut self,
        room: RoomId,
        from: SessionId,
        text: &str,
    ) -> Option<(Category, String)> {
        let visible =
            |check: &quicktalk_nlp::Check| matches!(check.action, Action::Mask | Action::Block);
        let alone = self.filter.check(text);
        let recent = self.recent.entry((room, from)).or_default();
        let mut found = None;
        if !visible(&alone) {
            let mut parts: Vec<&str> = Vec::new();
            for previous in recent.iter().rev() {
                parts.insert(0, previous);
                for separator in ["", " "] {
                    let joined = format!("{}{separator}{text}", parts.join(separator));
                    let check = self.filter.check(&joined);
                    if visible(&check)
                        && let Some(category) = check.category
                    {
                        found = Some((category, format!("{} | {text}", parts.join(" | "))));
                        break;
                    }
                }
                if found.is_some() {
                    break;
                }
            }
        }
        if found.is_some() {
            recent.clear();
        } else {
            recent.push_back(text.to_owned());
            if recent.len() > 2 {
                recent.pop_front();
            }
        }
        found
    }

    /// How many rooms this line has now been sent to by this key, when that
    /// just reached the spam threshold.
    fn repeated_line(
        &mut self,
        key: &ClientKey,
        room: RoomId,
        text: &str,
        ts: i64,
    ) -> Option<usize> {
        if text.chars().filter(|c| c.is_alphanumeric()).count() < 8 {
            return None;
        }
        let id = (key.clone(), fingerprint(text));
        if self.reported_spam.contains(&id) {
            return None;
        }
        let window = self.spam_window_ms;
        // Forget what left the window (bounded memory).
        if self.repeated.len() > 100_000 {
            self.repeated.retain(|_, (_, first)| *first >= ts - window);
        }
        let entry = self
            .repeated
            .entry(id.clone())
            .or_insert_with(|| (Vec::new(), ts));
        if entry.1 < ts - window {
            *entry = (Vec::new(), ts);
        }
        if !entry.0.contains(&room) {
            entry.0.push(room);
        }
        let rooms = entry.0.len();
        (rooms >= self.spam_rooms).then(|| {
            self.repeated.remove(&id);
            self.reported_spam.insert(id);
            rooms
        })
    }

    fn count_finding(&mut self, key: &ClientKey, ts: i64) -> Option<Decision> {
        let findings = self.findings.entry(key.clone()).or_default();
        findings.push_back(ts);
        while findings.front().is_some_and(|&t| t < ts - DAY_MS) {
            findings.pop_front();
        }
        if self.ban_after == 0 || findings.len() < self.ban_after {
            return None;
        }
        if self.banned.get(key).is_some_and(|&until| until > ts) {
            return None;
        }
        let until = ts.saturating_add(self.ban_ms);
        self.banned.insert(key.clone(), until);
        Some(Decision::Ban(Ban {
            client_key: key.clone(),
            reason: format!(
                "moderation worker: {} findings within a day",
                findings.len()
            ),
            created: ts,
            until: Some(until),
        }))
    }
}

/// Runs the worker until `shutdown` resolves. Returns how many flags and
/// bans it wrote.
///
/// # Errors
/// [`Error::Config`] for a bad setting, an unreachable broker or store.
pub async fn moderate(
    args: &ModerateArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(u64, u64), Error> {
    let (config, reader) = args.bus.join_worker_group("moderate", "moderate").await?;
    let store = args.storage.open(None).await?;
    let control = ControlChannel::connect(&config)
        .await
        .map_err(kafka_error)?;
    let mut analyzer = Analyzer::new(args);
    let heartbeat = crate::worker_health::serve(&args.health).await?;
    tracing::info!(group = reader.group(), "second moderation pass running");
    let (mut flags_total, mut bans_total) = (0u64, 0u64);
    let mut failures = quicktalk_kafka::ReadFailures::new("the rooms topic");
    tokio::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            () = &mut shutdown => break,
            batch = reader.next_batch(1024, Duration::from_millis(20)) => batch,
        };
        // The loop came round: a broker outage is not a stuck worker.
        heartbeat.beat();
        let batch = match batch {
            // An empty batch only says the wait ran out: not that reading works.
            Ok(batch) if batch.is_empty() => continue,
            Ok(batch) => {
                failures.recovered();
                batch
            }
            Err(error) => {
                failures.failed(&error).await;
                continue;
            }
        };
        let mut flags = Vec::new();
        let mut bans = Vec::new();
        for record in &batch {
            for decision in analyzer.observe(&record.event) {
                match decision {
                    Decision::Flag(flag) => flags.push(flag),
                    Decision::Ban(ban) => bans.push(ban),
                }
            }
        }
        if !flags.is_empty() {
            retry_store("flags", || store.append_flags(&flags)).await;
        }
        for ban in &bans {
            retry_store("ban", || store.put_ban(ban)).await;
            let event = ControlEvent::Ban {
                client_key: ban.client_key.clone(),
                reason: ban.reason.clone(),
                until: ban.until,
            };
            while let Err(error) = control.publish(&event).await {
                tracing::warn!(%error, "publishing a ban failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            tracing::info!(reason = %ban.reason, "banned a client key");
        }
        if let Err(error) = reader.commit() {
            tracing::warn!(%error, "commit failed; the batch will be read again");
        }
        flags_total += flags.len() as u64;
        bans_total += bans.len() as u64;
    }
    tracing::info!(
        flags = flags_total,
        bans = bans_total,
        "second moderation pass stopped"
    );
    Ok((flags_total, bans_total))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn args() -> ModerateArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: ModerateArgs,
        }
        Cli::try_parse_from(["test", "--spam-rooms", "2", "--ban-after", "2"])
            .unwrap()
            .args
    }

    fn line(room: u64, seq: u64, key: &str, text: &str) -> BusEvent {
        BusEvent::Message {
            room: RoomId::from_raw(room),
            seq,
            from: SessionId::from_raw(room * 100),
            client_key: ClientKey::from(key),
            text: Arc::from(text),
            ts: 1_000 + seq as i64,
            masked: false,
            cid: None,
        }
    }

    fn flags(decisions: &[Decision]) -> Vec<&ModerationFlag> {
        decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Flag(flag) => Some(flag),
                Decision::Ban(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_word_split_across_lines_is_flagged_once() {
        let mut analyzer = Analyzer::new(&args());
        assert!(analyzer.observe(&line(1, 1, "k", "씨")).is_empty());
        let decisions = analyzer.observe(&line(1, 2, "k", "발"));
        let found = flags(&decisions);
        assert_eq!(found.len(), 1, "{decisions:?}");
        assert_eq!(found[0].category, Some(Category::Profanity));
        assert!(found[0].text.contains("씨 | 발"), "{}", found[0].text);
        // Innocent neighbours are not joined into findings.
        let mut analyzer = Analyzer::new(&args());
        for (seq, text) in [
            "안녕하세요",
            "오늘 날씨 좋네요",
            "hello there",
            "how are you",
        ]
        .iter()
        .enumerate()
        {
            assert!(
                analyzer.observe(&line(2, seq as u64, "k", text)).is_empty(),
                "{text}"
            );
        }
    }

    #[test]
    fn a_phone_number_typed_in_pieces_is_flagged_as_contact() {
        let mut analyzer = Analyzer::new(&args());
        analyzer.observe(&line(1, 1, "k", "010"));
        let decisions = analyzer.observe(&line(1, 2, "k", "1234 5678"));
        assert_eq!(flags(&decisions)[0].category, Some(Category::Contact));
    }

    #[test]
    fn one_line_in_many_rooms_is_spam_and_findings_lead_to_a_ban() {
        let mut analyzer = Analyzer::new(&args());
        let spam = "free coins at my channel today";
        assert!(analyzer.observe(&line(1, 1, "spammer", spam)).is_empty());
        // Another key's copy does not count toward the spammer's rooms.
        assert!(analyzer.observe(&line(2, 1, "someone", spam)).is_empty());
        let decisions =
            analyzer.observe(&line(3, 1, "spammer", "FREE coins at my channel, today!"));
        assert_eq!(flags(&decisions)[0].category, Some(Category::Spam));
        assert!(
            !decisions.iter().any(|d| matches!(d, Decision::Ban(_))),
            "one finding, no ban yet"
        );
        // A second finding (a split word) bans the key (--ban-after 2).
        analyzer.observe(&line(4, 1, "spammer", "씨"));
        let decisions = analyzer.observe(&line(4, 2, "spammer", "발"));
        let ban = decisions.iter().find_map(|d| match d {
            Decision::Ban(ban) => Some(ban),
            Decision::Flag(_) => None,
        });
        let ban = ban.expect("banned after two findings");
        assert_eq!(ban.client_key, ClientKey::from("spammer"));
        assert_eq!(ban.until, Some(ban.created + 24 * 3_600_000));
    }

    #[test]
    fn repeated_blocked_contact_attempts_are_a_finding() {
        let mut analyzer = Analyzer::new(&args());
        let blocked = |ts| BusEvent::Blocked {
            room: RoomId::from_raw(1),
            from: SessionId::from_raw(1),
            client_key: ClientKey::from("k"),
            category: Some(Category::Contact),
            ts,
        };
        assert!(analyzer.observe(&blocked(1)).is_empty());
        assert!(analyzer.observe(&blocked(2)).is_empty());
        let decisions = analyzer.observe(&blocked(3));
        assert_eq!(flags(&decisions)[0].category, Some(Category::Contact));
    }
}
