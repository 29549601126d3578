//! A state-machine property test: random sequences of connect, join, send,
//! next, leave, typing, report, drop, resume and clock moves, driven through
//! the public engine API, with the protocol's invariants checked after every
//! step from what the clients actually receive:
//!
//! - nobody is matched with themselves or sits in two rooms;
//! - cooldown and report blocks are never violated, `lang` always holds;
//! - a session that joins gets the longest-waiting eligible partner (common
//!   interest first), and no eligible pair is ever left waiting;
//! - every room's `seq` reaches each member gap-free and in order, and no line
//!   is lost or duplicated across drops and resumes.
//!
//! `QUICKTALK_INVARIANT_CASES` sets the number of cases (default 10,000).

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;
use quicktalk_core::protocol::{
    ErrorCode, JoinRequest, ReportReason, ReportRequest, Sender, ServerFrame,
};
use quicktalk_core::{
    ClientKey, Engine, EngineConfig, Event, EventStream, RoomId, SessionHandle, SessionId,
};
use tokio::time::Instant;

const PEOPLE: usize = 5;
/// People 2 and 3 share a client key (one NAT).
const KEYS: [&str; PEOPLE] = ["k0", "k1", "k2", "k2", "k4"];
const TAGS: [&str; 3] = ["a", "b", "c"];
const LANGS: [Option<&str>; 3] = [None, Some("ko"), Some("en")];
const STEP: Duration = Duration::from_millis(500);

fn config() -> EngineConfig {
    EngineConfig {
        interest_wait: Duration::from_secs(2),
        rematch_cooldown: Duration::from_secs(10),
        resume_grace: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(3600),
        report_block: Duration::from_secs(20),
        rate_per_sec: 10_000.0,
        rate_burst: 10_000,
        online_interval: Duration::from_secs(3600),
        ..EngineConfig::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Connect(usize),
    Join(usize, u8, usize),
    Next(usize, u8, usize),
    Leave(usize),
    Send(usize, bool),
    Typing(usize, bool),
    Report(usize),
    Drop(usize, bool),
    Resume(usize),
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let person = 0..PEOPLE;
    prop_oneof![
        3 => person.clone().prop_map(Op::Connect),
        4 => (person.clone(), 0u8..8, 0..LANGS.len()).prop_map(|(p, m, l)| Op::Join(p, m, l)),
        2 => (person.clone(), 0u8..8, 0..LANGS.len()).prop_map(|(p, m, l)| Op::Next(p, m, l)),
        1 => person.clone().prop_map(Op::Leave),
        5 => (person.clone(), any::<bool>()).prop_map(|(p, r)| Op::Send(p, r)),
        1 => (person.clone(), any::<bool>()).prop_map(|(p, a)| Op::Typing(p, a)),
        1 => person.clone().prop_map(Op::Report),
        2 => (person.clone(), any::<bool>()).prop_map(|(p, lose)| Op::Drop(p, lose)),
        2 => person.clone().prop_map(Op::Resume),
        3 => (1u8..=24).prop_map(Op::Advance),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct Wish {
    interests: Vec<String>,
    lang: Option<String>,
    since: Instant,
    order: u64,
}

impl Wish {
    fn fallback_ready(&self, now: Instant, wait: Duration) -> bool {
        self.interests.is_empty() || now.duration_since(self.since) >= wait
    }
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Idle,
    Waiting(Wish),
    Chatting(RoomId),
}

struct Person {
    key: ClientKey,
    handle: Option<SessionHandle>,
    events: Option<EventStream>,
    session: Option<SessionId>,
    token: Option<String>,
    detached_at: Option<Instant>,
    state: State,
    /// The request of the last join/next, until `waiting` or `matched` answers it.
    pending: Option<Wish>,
    /// Seqs received per room, in order of arrival (lost frames excluded).
    seqs: HashMap<RoomId, Vec<u64>>,
    /// First echo seq of each cid sent, per room (cids repeat only within a room).
    cid_seq: HashMap<(RoomId, String), u64>,
    cids: Vec<String>,
    last_room: Option<RoomId>,
}

#[derive(Default)]
struct Truth {
    members: HashMap<RoomId, Vec<SessionId>>,
    max_seq: HashMap<RoomId, u64>,
    /// When each pair of sessions last stopped chatting.
    ended: HashMap<(SessionId, SessionId), Instant>,
    /// Rooms whose end is recorded: a member who was away when the chat
    /// ended hears `partner_left` later, on resume, but the cooldown counts
    /// from the end itself.
    ended_rooms: HashSet<RoomId>,
    session_blocks: HashSet<(SessionId, SessionId)>,
    key_blocks: HashMap<(ClientKey, ClientKey), Instant>,
    langs: HashMap<SessionId, Option<String>>,
    keys: HashMap<SessionId, ClientKey>,
}

fn pair<T: Ord + Clone>(a: &T, b: &T) -> (T, T) {
    if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

struct World {
    engine: Engine,
    config: EngineConfig,
    people: Vec<Person>,
    truth: Truth,
    next_order: u64,
    cid_counter: u64,
    /// Persons whose join/next in this step must be checked against the
    /// expected partner (computed before the op).
    expected: Option<(usize, Option<usize>)>,
}

impl World {
    async fn new() -> Self {
        let config = config();
        let engine = Engine::builder().config(config.clone()).build().unwrap();
        let people = KEYS
            .iter()
            .map(|key| Person {
                key: ClientKey::from(*key),
                handle: None,
                events: None,
                session: None,
                token: None,
                detached_at: None,
                state: State::Idle,
                pending: None,
                seqs: HashMap::new(),
                cid_seq: HashMap::new(),
                cids: Vec::new(),
                last_room: None,
            })
            .collect();
        Self {
            engine,
            config,
            people,
            truth: Truth::default(),
            next_order: 0,
            cid_counter: 0,
            expected: None,
        }
    }

    fn now() -> Instant {
        Instant::now()
    }

    fn blocked(&self, a: SessionId, b: SessionId, now: Instant) -> bool {
        if let Some(&end) = self.truth.ended.get(&pair(&a, &b)) {
            if now < end + self.config.rematch_cooldown {
                return true;
            }
        }
        if self.truth.session_blocks.contains(&pair(&a, &b)) {
            return true;
        }
        let (ka, kb) = (&self.truth.keys[&a], &self.truth.keys[&b]);
        if ka != kb {
            if let Some(&until) = self.truth.key_blocks.get(&pair(ka, kb)) {
                if now < until {
                    return true;
                }
            }
        }
        false
    }

    fn lang_ok(a: &Wish, b: &Wish) -> bool {
        a.lang.is_none() || b.lang.is_none() || a.lang == b.lang
    }

    fn common(a: &Wish, b: &Wish) -> bool {
        a.interests.iter().any(|i| b.interests.contains(i))
    }

    fn eligible(&self, p: usize, a: &Wish, q: usize, b: &Wish, now: Instant) -> bool {
        let (Some(sa), Some(sb)) = (self.people[p].session, self.people[q].session) else {
            return false;
        };
        if sa == sb || !Self::lang_ok(a, b) || self.blocked(sa, sb, now) {
            return false;
        }
        let wait = self.config.interest_wait;
        Self::common(a, b) || (a.fallback_ready(now, wait) && b.fallback_ready(now, wait))
    }

    fn waiting(&self) -> Vec<(usize, Wish)> {
        self.people
            .iter()
            .enumerate()
            .filter_map(|(index, person)| match &person.state {
                State::Waiting(wish) if person.handle.is_some() => Some((index, wish.clone())),
                _ => None,
            })
            .collect()
    }

    /// Whom `p` should be paired with when it enqueues `wish` now.
    fn expected_partner(&self, p: usize, wish: &Wish, now: Instant) -> Option<usize> {
        let waiting: Vec<(usize, Wish)> = self
            .waiting()
            .into_iter()
            .filter(|(q, _)| *q != p)
            .collect();
        let by_age = |candidates: Vec<&(usize, Wish)>| {
            candidates
                .into_iter()
                .min_by_key(|(_, w)| w.order)
                .map(|(q, _)| *q)
        };
        let common: Vec<&(usize, Wish)> = waiting
            .iter()
            .filter(|(q, w)| Self::common(wish, w) && self.eligible(p, wish, *q, w, now))
            .collect();
        if !common.is_empty() {
            return by_age(common);
        }
        by_age(
            waiting
                .iter()
                .filter(|(q, w)| self.eligible(p, wish, *q, w, now))
                .collect(),
        )
    }

    fn wish(&mut self, mask: u8, lang: usize) -> Wish {
        self.next_order += 1;
        Wish {
            interests: TAGS
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << bit) != 0)
                .map(|(_, tag)| tag.to_string())
                .collect(),
            lang: LANGS[lang].map(str::to_owned),
            since: Self::now(),
            order: self.next_order,
        }
    }

    fn request(wish: &Wish) -> JoinRequest {
        JoinRequest {
            interests: wish.interests.clone(),
            lang: wish.lang.clone(),
            bot: false,
        }
    }

    fn end_pair(&mut self, room: RoomId) {
        if !self.truth.ended_rooms.insert(room) {
            return;
        }
        if let Some(members) = self.truth.members.get(&room) {
            if members.len() == 2 {
                self.truth
                    .ended
                    .insert(pair(&members[0], &members[1]), Self::now());
            }
        }
    }

    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = Self::now();
        match *op {
            Op::Connect(p) => {
                let person = &self.people[p];
                if person.handle.is_some() || person.detached_at.is_some() {
                    return Ok(());
                }
                let (handle, events) = self.engine.connect(person.key.clone()).await.unwrap();
                let person = &mut self.people[p];
                person.handle = Some(handle);
                person.events = Some(events);
                person.state = State::Idle;
                person.last_room = None;
            }
            Op::Join(p, mask, lang) | Op::Next(p, mask, lang) => {
                if self.people[p].handle.is_none() {
                    return Ok(());
                }
                let is_next = matches!(op, Op::Next(..));
                let state = self.people[p].state.clone();
                if !is_next && state != State::Idle {
                    self.people[p]
                        .handle
                        .as_ref()
                        .unwrap()
                        .join(JoinRequest::default());
                    return Ok(());
                }
                if let State::Chatting(room) = state {
                    self.end_pair(room);
                }
                self.people[p].state = State::Idle;
                let wish = self.wish(mask, lang);
                self.expected = Some((p, self.expected_partner(p, &wish, now)));
                let request = Self::request(&wish);
                self.people[p].pending = Some(wish);
                let handle = self.people[p].handle.as_ref().unwrap();
                if is_next {
                    handle.next(request)
                } else {
                    handle.join(request)
                }
            }
            Op::Leave(p) => {
                let Some(handle) = &self.people[p].handle else {
                    return Ok(());
                };
                handle.leave();
                if let State::Chatting(room) = self.people[p].state {
                    self.end_pair(room);
                }
                self.people[p].state = State::Idle;
            }
            Op::Send(p, repeat) => {
                let person = &mut self.people[p];
                let Some(handle) = &person.handle else {
                    return Ok(());
                };
                let cid = match (repeat, person.cids.last()) {
                    (true, Some(cid)) => cid.clone(),
                    _ => {
                        self.cid_counter += 1;
                        let cid = format!("c{}", self.cid_counter);
                        person.cids.push(cid.clone());
                        cid
                    }
                };
                handle.send(&format!("line {cid}"), Some(&cid));
            }
            Op::Typing(p, active) => {
                if let Some(handle) = &self.people[p].handle {
                    handle.typing(active);
                }
            }
            Op::Report(p) => {
                let person = &self.people[p];
                let Some(handle) = &person.handle else {
                    return Ok(());
                };
                handle
                    .report(ReportRequest {
                        reason: ReportReason::Spam,
                        note: None,
                    })
                    .await;
                let Some(room) = person.last_room else {
                    return Ok(());
                };
                let me = person.session.unwrap();
                let members = self.truth.members[&room].clone();
                if let Some(&other) = members.iter().find(|&&m| m != me) {
                    self.truth.session_blocks.insert(pair(&me, &other));
                    let (ka, kb) = (
                        self.truth.keys[&me].clone(),
                        self.truth.keys[&other].clone(),
                    );
                    if ka != kb {
                        self.truth
                            .key_blocks
                            .insert(pair(&ka, &kb), now + self.config.report_block);
                    }
                }
            }
            Op::Drop(p, lose) => {
                if self.people[p].handle.is_none() {
                    return Ok(());
                }
                // Frames still queued are lost with the connection, or were
                // read just before it dropped.
                self.drain(p, lose)?;
                let person = &mut self.people[p];
                person.handle = None;
                person.events = None;
                person.detached_at = Some(now);
                if let State::Waiting(_) = person.state {
                    person.state = State::Idle;
                }
            }
            Op::Resume(p) => {
                let person = &self.people[p];
                if person.detached_at.is_none() {
                    return Ok(());
                }
                let token = person.token.clone().unwrap();
                let room = match person.state {
                    State::Chatting(room) => Some(room),
                    _ => None,
                };
                let last_seq = room
                    .and_then(|r| person.seqs.get(&r))
                    .and_then(|s| s.last().copied())
                    .unwrap_or(0);
                let (handle, events) = self.engine.connect(person.key.clone()).await.unwrap();
                handle.resume_in(&token, last_seq, room);
                let person = &mut self.people[p];
                person.handle = Some(handle);
                person.events = Some(events);
                person.detached_at = None;
            }
            Op::Advance(steps) => {
                for _ in 0..steps {
                    tokio::time::advance(STEP).await;
                    self.engine.tick();
                    self.expire_graces();
                    self.settle()?;
                }
                return Ok(());
            }
        }
        self.settle()
    }

    /// Sessions whose grace ran out are gone: their people start over.
    fn expire_graces(&mut self) {
        let now = Self::now();
        for person in &mut self.people {
            if person
                .detached_at
                .is_some_and(|at| now >= at + self.config.resume_grace)
            {
                person.detached_at = None;
                person.session = None;
                person.token = None;
                // Lines of an expired session's rooms may be lost: that is the grace.
                person.seqs.clear();
                person.state = State::Idle;
                person.last_room = None;
            }
        }
    }

    fn drain(&mut self, p: usize, lost: bool) -> Result<(), TestCaseError> {
        let mut frames = Vec::new();
        if let Some(events) = &mut self.people[p].events {
            while let Some(event) = events.try_recv() {
                if let Event::Frame(frame) = event {
                    frames.push(frame);
                }
            }
        }
        for frame in frames {
            self.observe(p, frame, lost)?;
        }
        Ok(())
    }

    fn observe(&mut self, p: usize, frame: ServerFrame, lost: bool) -> Result<(), TestCaseError> {
        let now = Self::now();
        match frame {
            ServerFrame::Hello(hello) => {
                let person = &mut self.people[p];
                // A hello on a resuming connection names the fresh session
                // that the resume replaces.
                if person.session.is_none() {
                    person.session = Some(hello.session);
                    person.token = Some(hello.resume_token);
                    self.truth.keys.insert(hello.session, person.key.clone());
                }
            }
            ServerFrame::Waiting => {
                let person = &mut self.people[p];
                let wish = person.pending.take().expect("waiting answers a join");
                self.truth
                    .langs
                    .insert(person.session.unwrap(), wish.lang.clone());
                person.state = State::Waiting(wish);
                if let Some((q, expected)) = self.expected.take() {
                    prop_assert_eq!(q, p);
                    prop_assert_eq!(expected, None, "person {} should have been matched", p);
                }
            }
            ServerFrame::Matched(matched) => {
                let me = self.people[p].session.unwrap();
                prop_assert!(
                    !matches!(self.people[p].state, State::Chatting(_)),
                    "person {} matched while already chatting",
                    p
                );
                let wish = match self.people[p].pending.take() {
                    Some(wish) => wish,
                    None => match std::mem::replace(&mut self.people[p].state, State::Idle) {
                        State::Waiting(wish) => wish,
                        other => {
                            return Err(TestCaseError::fail(format!("matched from {other:?}")));
                        }
                    },
                };
                self.truth.langs.insert(me, wish.lang.clone());
                let members = self.truth.members.entry(matched.room).or_default();
                prop_assert!(!members.contains(&me), "a session matched with itself");
                members.push(me);
                prop_assert!(members.len() <= 2, "three sessions in one room");
                if members.len() == 2 {
                    let (a, b) = (members[0], members[1]);
                    prop_assert!(
                        !self.truth.session_blocks.contains(&pair(&a, &b)),
                        "reported pair matched"
                    );
                    if let Some(&end) = self.truth.ended.get(&pair(&a, &b)) {
                        prop_assert!(
                            now >= end + self.config.rematch_cooldown,
                            "rematched within the cooldown"
                        );
                    }
                    let (ka, kb) = (&self.truth.keys[&a], &self.truth.keys[&b]);
                    if ka != kb {
                        if let Some(&until) = self.truth.key_blocks.get(&pair(ka, kb)) {
                            prop_assert!(now >= until, "report-blocked keys matched");
                        }
                    }
                    let (la, lb) = (&self.truth.langs[&a], &self.truth.langs[&b]);
                    prop_assert!(
                        la.is_none() || lb.is_none() || la == lb,
                        "lang filter broken"
                    );
                }
                let person = &mut self.people[p];
                person.state = State::Chatting(matched.room);
                person.last_room = Some(matched.room);
            }
            ServerFrame::Message(message) => {
                let room = match self.people[p].state {
                    State::Chatting(room) => room,
                    _ => self.people[p]
                        .last_room
                        .expect("a message belongs to a room"),
                };
                let max = self.truth.max_seq.entry(room).or_default();
                *max = (*max).max(message.seq);
                let person = &mut self.people[p];
                if message.from == Sender::You {
                    let cid = message
                        .cid
                        .as_deref()
                        .expect("own echo carries the cid")
                        .to_owned();
                    match person.cid_seq.get(&(room, cid.clone())) {
                        Some(&seq) => {
                            prop_assert_eq!(
                                seq,
                                message.seq,
                                "a repeated cid got a different echo"
                            );
                            let seen = person.seqs.get(&room).is_some_and(|s| s.contains(&seq));
                            if seen || lost {
                                return Ok(());
                            }
                        }
                        None => {
                            person.cid_seq.insert((room, cid), message.seq);
                        }
                    }
                }
                if !lost {
                    let seqs = person.seqs.entry(room).or_default();
                    let expected = seqs.last().copied().unwrap_or(0) + 1;
                    prop_assert_eq!(
                        message.seq,
                        expected,
                        "person {} in room {}: seqs {:?}",
                        p,
                        room,
                        seqs
                    );
                    seqs.push(message.seq);
                }
            }
            ServerFrame::PartnerLeft { .. } => {
                if let State::Chatting(room) = self.people[p].state {
                    self.end_pair(room);
                }
                self.people[p].state = State::Idle;
            }
            ServerFrame::Resumed(resumed) => {
                let person = &mut self.people[p];
                person.token = Some(resumed.resume_token);
                person.state = match resumed.room {
                    Some(room) => {
                        person.last_room = Some(room);
                        State::Chatting(room)
                    }
                    None => State::Idle,
                };
            }
            ServerFrame::Error(error) if error.code == ErrorCode::ResumeFailed => {
                return Err(TestCaseError::fail(
                    "a resume within the grace period failed",
                ));
            }
            ServerFrame::Error(error) => {
                prop_assert_eq!(
                    error.code,
                    ErrorCode::BadState,
                    "unexpected error {:?}",
                    error
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// Drains every connection and checks the global invariants.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for p in 0..PEOPLE {
            self.drain(p, false)?;
        }
        if let Some((p, expected)) = self.expected.take() {
            if let State::Chatting(room) = self.people[p].state {
                let me = self.people[p].session.unwrap();
                let other = self.truth.members[&room].iter().copied().find(|&s| s != me);
                let actual = self
                    .people
                    .iter()
                    .position(|x| x.session == other && other.is_some());
                prop_assert_eq!(
                    actual,
                    expected,
                    "person {} was not given the longest-waiting eligible partner",
                    p
                );
            }
        }
        let now = Self::now();
        let waiting = self.waiting();
        prop_assert_eq!(
            self.engine.stats().waiting,
            waiting.len() as u64,
            "waiting count"
        );
        for (i, (p, a)) in waiting.iter().enumerate() {
            for (q, b) in &waiting[i + 1..] {
                prop_assert!(
                    !self.eligible(*p, a, *q, b, now),
                    "eligible pair {} and {} left waiting",
                    p,
                    q
                );
            }
        }
        Ok(())
    }

    /// At the end: every connected member has every line of its rooms.
    fn check_complete(&self) -> Result<(), TestCaseError> {
        for person in &self.people {
            if person.handle.is_none() {
                continue;
            }
            for (room, seqs) in &person.seqs {
                let max = self.truth.max_seq.get(room).copied().unwrap_or(0);
                prop_assert_eq!(seqs.len() as u64, max, "a line of room {} was lost", room);
            }
            if let Some(room) = person.last_room {
                let max = self.truth.max_seq.get(&room).copied().unwrap_or(0);
                let got = person.seqs.get(&room).map_or(0, Vec::len) as u64;
                prop_assert_eq!(got, max, "a line of the last room was lost");
            }
        }
        Ok(())
    }
}

fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut world = World::new().await;
        for op in &ops {
            world.apply(op).await?;
        }
        world.check_complete()
    })
}

fn cases() -> u32 {
    std::env::var("QUICKTALK_INVARIANT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_keeps_its_invariants_under_random_sessions(ops in prop::collection::vec(op(), 1..60)) {
        run_case(ops)?;
    }
}
