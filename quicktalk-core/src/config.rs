//! Engine configuration: every window, limit and queue size, with the
//! protocol's defaults.

use std::time::Duration;

use crate::error::{Error, Result};

/// How the engine behaves. Start from [`EngineConfig::default`] (the protocol's
/// defaults) and change what you need; [`EngineConfig::validate`] names the
/// first setting that is out of range.
///
/// Build one with struct-update syntax:
/// `EngineConfig { rate_burst: 20, ..EngineConfig::default() }`.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Longest chat line, in Unicode scalar values (`limits.max_text_chars`). Default 500.
    pub max_text_chars: usize,
    /// Largest frame the transport accepts, in bytes; advertised in `hello`. Default 4096.
    pub max_frame_bytes: usize,
    /// Chat lines per second a session may send on average. Default 5.
    pub rate_per_sec: f64,
    /// Chat lines a session may send in a burst. Default 10.
    pub rate_burst: u32,
    /// Rate-limited lines within [`EngineConfig::flood_window`] after which the
    /// session is closed for flooding (1008). Default 20.
    pub flood_strikes: u32,
    /// The window in which flood strikes are counted. Default 10 s.
    pub flood_window: Duration,
    /// How long two sessions that chatted are not matched again, counted from
    /// the end of their chat. Default 5 min.
    pub rematch_cooldown: Duration,
    /// How long a session with interests waits for a common-interest partner
    /// before it may be matched with anyone. Default 5 s.
    pub interest_wait: Duration,
    /// How long a dropped session can be resumed. Default 30 s. Zero turns
    /// resume off: a drop ends the chat at once (`partner_left
    /// {reason: "disconnected"}`).
    pub resume_grace: Duration,
    /// A session that does nothing (no frame, no pong) for this long is closed
    /// with 4001 and treated like a drop. Default 60 s. A transport without
    /// pings (in-process sessions, bots) calls
    /// [`SessionHandle::touch`](crate::SessionHandle::touch) while its user
    /// is present but quiet.
    pub idle_timeout: Duration,
    /// How long a report keeps the two client keys apart. Session-level blocks
    /// last as long as the sessions. Default 24 h.
    pub report_block: Duration,
    /// Most lines per room kept for `resume` and for report context. Default
    /// 256. A room keeps at least [`EngineConfig::replay_lines`], what a
    /// resume may have to replay under the other limits, so raising the
    /// rate limit or the grace cannot make a resume skip lines. Lines both
    /// members have received (see [`crate::delivery`]) are dropped sooner,
    /// beyond the last `report_context_lines`.
    pub replay_capacity: usize,
    /// How long a connection must stay open after a delivery mark (see
    /// [`crate::delivery`]) before the lines the mark confirmed may be
    /// dropped. A pong proves the client's socket read the lines, not that
    /// the client kept them: browsers and WebSocket libraries answer pings
    /// themselves, ahead of the application. A client that crashes,
    /// reloads or loses its link within this time sends no later mark, and
    /// its `resume` gets every line it had not kept. A line the member
    /// sends that long after a mark settles it too. Default 2 s (a client
    /// takes the frames its socket read in milliseconds; each second more
    /// keeps a second more of every busy room's chat); zero trusts the next
    /// mark or line at once.
    pub delivery_settle: Duration,
    /// Lines before and at a report stored as its context, and the fewest
    /// lines a room keeps. Default 20.
    pub report_context_lines: usize,
    /// Frames queued for one connection before it is closed as too slow
    /// (4002). Default 256.
    pub outbox_capacity: usize,
    /// Most sessions (connected or within grace) the engine holds. Default 100,000.
    pub max_sessions: usize,
    /// Most interests in a `join` (at most the protocol's 10; 0 takes
    /// none). Default 10. Announced in `hello.limits`.
    pub max_interests: usize,
    /// Longest interest, in characters (1 to the protocol's 32). Default 32.
    /// Announced in `hello.limits`.
    pub max_interest_chars: usize,
    /// How often `online` counts are pushed (only when changed). Default 5 s.
    /// Each session hears a change within one interval; the pushes are
    /// spread over it in 100 ms slices rather than sent to every socket at
    /// once.
    pub online_interval: Duration,
    /// Records buffered for the store writer before overflow. Default 65,536
    /// (over a second of lines at 40,000 lines/s, so a WAL checkpoint stall
    /// does not drop history).
    pub store_queue: usize,
    /// Most records in one store write. Default 4,096 (a commit per few
    /// thousand lines keeps SQLite ahead of tens of thousands of lines/s).
    pub store_batch: usize,
    /// How long the store writer waits for more records before writing a
    /// batch that is not full, so a quiet server does not commit once per
    /// line. Zero writes at once; at most 10 s (lines wait that long before
    /// they are stored). Default 20 ms. A shutdown or a full batch ends the
    /// wait early.
    pub store_linger: Duration,
    /// Run the store writer on a thread of its own instead of a task of the
    /// caller's runtime. Under a saturated runtime the writer's turns wait
    /// behind every ready socket task and the store queue overflows (at
    /// 48,000 lines/s on 2 cores, more than half the lines); a thread gets
    /// its share of the CPU from the OS. Default `false` (a task, which
    /// follows a paused test clock); the reference server turns it on.
    pub store_writer_thread: bool,
    /// How much lower the store writer thread's CPU priority is than the
    /// chat's, as a nice value added to the process's (0-19; Linux, and
    /// only with [`store_writer_thread`](Self::store_writer_thread)). The
    /// writer's commits come in bursts; at the chat's priority they take
    /// the core from the socket tasks and show as latency (at 1,000 pairs x
    /// 4 lines/s on 2 cores, p99 4.96-6.6 ms with 0, 3.4-4.0 ms with 10).
    /// A lower-priority writer still gets every idle moment, and a store
    /// queue three quarters full holds senders back, so no line is lost;
    /// a server saturated by chat stores about 7% fewer lines per second.
    /// Default 10.
    pub store_writer_nice: u8,
    /// How long chat lines, moderation flags and room events are kept. Zero
    /// keeps none of them (reports and their context are always kept).
    /// Default 30 days.
    pub retention: Duration,
    /// How often the retention purge runs. Default 1 h.
    pub purge_interval: Duration,
    /// Events buffered for the event-bus publisher before overflow. Default 16,384.
    pub bus_queue: usize,
    /// Accept sessions that declare themselves bots (`join {bot: true}`).
    /// Their partners are told (`matched {partner_bot: true}`) and two bots
    /// are never paired. Default `false`: a bot's `join` gets
    /// `error {code: "bots_not_allowed"}`.
    pub allow_bots: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_text_chars: 500,
            max_frame_bytes: 4096,
            rate_per_sec: 5.0,
            rate_burst: 10,
            flood_strikes: 20,
            flood_window: Duration::from_secs(10),
            rematch_cooldown: Duration::from_secs(5 * 60),
            interest_wait: Duration::from_secs(5),
            resume_grace: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            report_block: Duration::from_secs(24 * 3600),
            replay_capacity: 256,
            report_context_lines: 20,
            delivery_settle: Duration::from_secs(2),
            outbox_capacity: 256,
            max_sessions: 100_000,
            max_interests: 10,
            max_interest_chars: 32,
            online_interval: Duration::from_secs(5),
            store_queue: 65_536,
            store_batch: 4096,
            store_linger: Duration::from_millis(20),
            store_writer_thread: false,
            store_writer_nice: 10,
            retention: Duration::from_secs(30 * 24 * 3600),
            purge_interval: Duration::from_secs(3600),
            bus_queue: 16_384,
            allow_bots: false,
        }
    }
}

/// The longest [`EngineConfig::store_linger`].
const MAX_STORE_LINGER: Duration = Duration::from_secs(10);
/// The longest [`EngineConfig::delivery_settle`].
const MAX_DELIVERY_SETTLE: Duration = Duration::from_secs(60);

fn at_least<T: PartialOrd + std::fmt::Display>(
    setting: &'static str,
    value: T,
    min: T,
) -> Result<()> {
    if value >= min {
        Ok(())
    } else {
        Err(Error::Config {
            setting,
            reason: format!("must be at least {min}, got {value}"),
        })
    }
}

fn at_most<T: PartialOrd + std::fmt::Display>(
    setting: &'static str,
    value: T,
    max: T,
) -> Result<()> {
    if value <= max {
        Ok(())
    } else {
        Err(Error::Config {
            setting,
            reason: format!("must be at most {max} (the protocol's bound), got {value}"),
        })
    }
}

/// The unit a duration setting is written in, for its error message.
enum Unit {
    Millis,
    Secs,
}

/// `value` may not exceed `max`; the error gives `why` and both values in
/// the setting's own unit.
fn duration_at_most(
    setting: &'static str,
    value: Duration,
    max: Duration,
    unit: Unit,
    why: &str,
) -> Result<()> {
    if value <= max {
        return Ok(());
    }
    let say = |time: Duration| match unit {
        Unit::Millis => format!("{} ms", time.as_millis()),
        Unit::Secs => format!("{} s", time.as_secs_f64()),
    };
    Err(Error::Config {
        setting,
        reason: format!("must be at most {} ({why}), got {}", say(max), say(value)),
    })
}

fn positive_duration(setting: &'static str, value: Duration) -> Result<()> {
    if value.is_zero() {
        Err(Error::Config {
            setting,
            reason: "must be longer than zero".into(),
        })
    } else {
        Ok(())
    }
}

impl EngineConfig {
    /// The most lines a room keeps for `resume`: `replay_capacity`, or more
    /// when a resume could need more under the other limits. A member that
    /// comes back may have missed a whole send queue thrown away by a
    /// slow-reader close (`outbox_capacity` frames), the lines written but not
    /// yet confirmed by a settled delivery mark (both members for about two
    /// seconds and `delivery_settle`), and everything its partner sent
    /// during the grace (the burst, then `rate_per_sec`). With the
    /// defaults: 256 + 30 + 5 x 36 = 466.
    pub fn replay_lines(&self) -> usize {
        let seconds = self.resume_grace.as_secs_f64() + 4.0 + self.delivery_settle.as_secs_f64();
        let lines = 3.0 * f64::from(self.rate_burst) + self.rate_per_sec * seconds;
        // `as` saturates: an unlimited rate keeps lines for as long as they come.
        let lines = lines.ceil() as usize;
        self.replay_capacity
            .max(self.outbox_capacity.saturating_add(lines))
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first setting that is out of range.
    pub fn validate(&self) -> Result<()> {
        at_least("max_text_chars", self.max_text_chars, 1)?;
        at_least("max_frame_bytes", self.max_frame_bytes, 256)?;
        // A line of `max_text_chars` characters of up to 4 UTF-8 bytes each,
        // in its JSON frame, must fit the frame limit that clients are told.
        let needed = self.max_text_chars.saturating_mul(4).saturating_add(256);
        if needed > self.max_frame_bytes {
            return Err(Error::Config {
                setting: "max_text_chars",
                reason: format!(
                    "{} characters may need {needed} bytes, more than the frame limit (max_frame_bytes) {}",
                    self.max_text_chars, self.max_frame_bytes
                ),
            });
        }
        if !(self.rate_per_sec.is_finite() && self.rate_per_sec > 0.0) {
            return Err(Error::Config {
                setting: "rate_per_sec",
                reason: format!("must be a positive number, got {}", self.rate_per_sec),
            });
        }
        at_least("rate_burst", self.rate_burst, 1)?;
        at_least("flood_strikes", self.flood_strikes, 1)?;
        positive_duration("flood_window", self.flood_window)?;
        positive_duration("idle_timeout", self.idle_timeout)?;
        positive_duration("online_interval", self.online_interval)?;
        positive_duration("purge_interval", self.purge_interval)?;
        at_least("replay_capacity", self.replay_capacity, 1)?;
        at_least("outbox_capacity", self.outbox_capacity, 8)?;
        at_least("max_sessions", self.max_sessions, 1)?;
        at_least("max_interest_chars", self.max_interest_chars, 1)?;
        at_most(
            "max_interest_chars",
            self.max_interest_chars,
            crate::protocol::MAX_INTEREST_CHARS,
        )?;
        at_most(
            "max_interests",
            self.max_interests,
            crate::protocol::MAX_INTERESTS,
        )?;
        at_least("store_queue", self.store_queue, 1)?;
        at_least("store_batch", self.store_batch, 1)?;
        duration_at_most(
            "store_linger",
            self.store_linger,
            MAX_STORE_LINGER,
            Unit::Millis,
            "lines wait that long before they are stored",
        )?;
        duration_at_most(
            "delivery_settle",
            self.delivery_settle,
            MAX_DELIVERY_SETTLE,
            Unit::Secs,
            "rooms keep that much more chat for resumes",
        )?;
        at_least("bus_queue", self.bus_queue, 1)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_protocol_defaults_and_valid() {
        let config = EngineConfig::default();
        config.validate().unwrap();
        assert_eq!(config.max_text_chars, 500);
        assert_eq!(config.rate_burst, 10);
        assert_eq!(config.resume_grace, Duration::from_secs(30));
        assert_eq!(config.rematch_cooldown, Duration::from_secs(300));
    }

    #[test]
    fn a_room_keeps_what_a_resume_may_need_under_the_limits() {
        let config = EngineConfig::default();
        assert_eq!(config.replay_lines(), 256 + 30 + 5 * 36);
        // A faster rate or a longer grace keeps more lines, never fewer
        // than asked for.
        let faster = EngineConfig {
            rate_per_sec: 50.0,
            ..EngineConfig::default()
        };
        assert_eq!(faster.replay_lines(), 256 + 30 + 50 * 36);
        let roomy = EngineConfig {
            replay_capacity: 5_000,
            ..EngineConfig::default()
        };
        assert_eq!(roomy.replay_lines(), 5_000);
    }

    #[test]
    fn an_invalid_value_names_its_setting() {
        let config = EngineConfig {
            rate_per_sec: 0.0,
            ..EngineConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(matches!(
            error,
            Error::Config {
                setting: "rate_per_sec",
                ..
            }
        ));
        assert!(error.to_string().contains("rate_per_sec"));

        let config = EngineConfig {
            outbox_capacity: 1,
            ..EngineConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(Error::Config {
                setting: "outbox_capacity",
                ..
            })
        ));

        let config = EngineConfig {
            delivery_settle: Duration::from_secs(61),
            ..EngineConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(
            error.to_string().contains("delivery_settle")
                && error.to_string().contains("at most 60 s"),
            "{error}"
        );
        let config = EngineConfig {
            store_linger: Duration::from_millis(10_001),
            ..EngineConfig::default()
        };
        let error = config.validate().unwrap_err();
        assert!(error.to_string().contains("at most 10000 ms"), "{error}");
    }
}
