//! Cluster mode inside one process: several engines (nodes) on one
//! in-memory bus, with the cluster's matcher run beside them. The Kafka
//! version of the same is `quicktalk-server/tests/cluster.rs`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use quicktalk_core::cluster::ClusterMatcher;
use quicktalk_core::matcher::MatcherConfig;
use quicktalk_core::memory::MemoryEventBus;
use quicktalk_core::ports::event_bus::{BusEvent, EventBus, Route};
use quicktalk_core::protocol::{CloseReason, PartnerLeftReason, Sender, ServerFrame};
use quicktalk_core::{Engine, EngineConfig};
use support::*;
use tokio::task::JoinHandle;
use tokio::time::Instant;

struct Cluster {
    bus: MemoryEventBus,
    nodes: Vec<Engine>,
    matcher: JoinHandle<()>,
    config: EngineConfig,
}

fn config() -> EngineConfig {
    EngineConfig {
        interest_wait: Duration::from_millis(300),
        rate_per_sec: 100.0,
        rate_burst: 100,
        ..EngineConfig::default()
    }
}

/// Runs the cluster's matcher on `bus`: a new one asks the nodes to
/// announce their waits again, as a node taking over does.
async fn run_matcher(bus: MemoryEventBus, config: &EngineConfig) -> JoinHandle<()> {
    run_shard(bus, config, None).await
}

/// A matcher for one shard: the pool of `lang` (and every event without a
/// pool), as the Kafka adapter routes them; `None` takes every pool.
async fn run_shard(
    bus: MemoryEventBus,
    config: &EngineConfig,
    lang: Option<&'static str>,
) -> JoinHandle<()> {
    let mut events = bus.subscribe().await.unwrap();
    let mut matcher = ClusterMatcher::new(MatcherConfig::from(config));
    bus.publish(&[BusEvent::Reannounce {
        node: "matcher".into(),
    }])
    .await
    .unwrap();
    tokio::spawn(async move {
        loop {
            let event = tokio::time::timeout(Duration::from_millis(50), events.recv()).await;
            let now = Instant::now();
            let mut out = match event {
                Ok(Some(event))
                    if matches!(event.route(), Route::Match | Route::Nodes)
                        && (lang.is_none()
                            || event.match_key().is_none()
                            || event.match_key() == lang) =>
                {
                    matcher.apply(&event, now)
                }
                Ok(Some(_)) | Err(_) => Vec::new(),
                Ok(None) => return,
            };
            out.extend(matcher.tick(now));
            if !out.is_empty() {
                bus.publish(&out).await.unwrap();
            }
        }
    })
}

/// A bus that fails every publish while `down` (the engine's publisher
/// retries), as a broker outage looks to a node.
struct Flaky {
    bus: MemoryEventBus,
    down: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl EventBus for Flaky {
    async fn publish(&self, events: &[BusEvent]) -> quicktalk_core::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(quicktalk_core::Error::bus("brokers unreachable"));
        }
        self.bus.publish(events).await
    }

    async fn subscribe(&self) -> quicktalk_core::Result<quicktalk_core::ports::Subscription> {
        self.bus.subscribe().await
    }
}

async fn node(bus: &MemoryEventBus, name: &str, config: &EngineConfig) -> Engine {
    node_on(bus, Arc::new(bus.clone()), name, config).await
}

async fn node_on(
    bus: &MemoryEventBus,
    publish_to: Arc<dyn EventBus>,
    name: &str,
    config: &EngineConfig,
) -> Engine {
    let engine = Engine::builder()
        .config(config.clone())
        .event_bus(publish_to)
        .cluster_node(name)
        .build()
        .unwrap();
    let mut events = bus.subscribe().await.unwrap();
    let fed = engine.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            fed.apply_bus_event(event);
        }
    });
    engine
}

async fn cluster(nodes: usize) -> Cluster {
    // History kept for resumes on another node (`room_history`).
    let bus = MemoryEventBus::default().with_history(100_000);
    let config = config();
    let matcher = run_matcher(bus.clone(), &config).await;
    let mut engines = Vec::new();
    for n in 0..nodes {
        engines.push(node(&bus, &format!("node-{n}"), &config).await);
    }
    Cluster {
        bus,
        nodes: engines,
        matcher,
        config,
    }
}

/// Drains `client` until `done` holds for what it received, or fails after 5 s.
/// Two clients (`key-a`, `key-b`) on one node, matched with each other.
async fn same_node_pair(node: &Engine) -> (Client, Client) {
    let mut a = Client::connect(node, "key-a").await;
    let mut b = Client::connect(node, "key-b").await;
    a.join(&[], None);
    b.join(&[], None);
    until(&mut a, "a matched", |f| matched(f).is_some()).await;
    until(&mut b, "b matched", |f| matched(f).is_some()).await;
    (a, b)
}

async fn until(client: &mut Client, what: &str, done: impl Fn(&[ServerFrame]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        client.drain();
        if done(&client.received) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 5 s; received {:?}",
            client.received
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn lines(client: &Client) -> Vec<(u64, Sender, String)> {
    Client::messages(&client.received)
        .into_iter()
        .map(|m| (m.seq, m.from, m.text.to_string()))
        .collect()
}

async fn cross_pair(cluster: &Cluster) -> (Client, Client) {
    let mut a = Client::connect(&cluster.nodes[0], "key-a").await;
    let mut b = Client::connect(&cluster.nodes[1], "key-b").await;
    a.join(&["music"], Some("ko"));
    until(&mut a, "a waits", |f| f.contains(&ServerFrame::Waiting)).await;
    b.join(&["music"], Some("ko"));
    until(&mut a, "a matched", |f| matched(f).is_some()).await;
    until(&mut b, "b matched", |f| matched(f).is_some()).await;
    (a, b)
}

#[tokio::test]
async fn strangers_on_two_nodes_are_matched_and_chat_with_gap_free_seq() {
    let cluster = cluster(2).await;
    let (mut a, mut b) = cross_pair(&cluster).await;
    let (ma, mb) = (matched(&a.received).unwrap(), matched(&b.received).unwrap());
    assert_eq!(ma.room, mb.room);
    assert_eq!(ma.common_interests, ["music"]);
    assert_eq!(mb.partner_lang.as_deref(), Some("ko"));

    for n in 0..20 {
        a.send(&format!("a{n}"), &format!("ca{n}"));
        b.send(&format!("b{n}"), &format!("cb{n}"));
    }
    until(&mut a, "a has 40 lines", |f| {
        Client::messages(f).len() == 40
    })
    .await;
    until(&mut b, "b has 40 lines", |f| {
        Client::messages(f).len() == 40
    })
    .await;
    let (la, lb) = (lines(&a), lines(&b));
    // Both see the same lines in the same order, numbered 1..=40.
    assert_eq!(
        la.iter().map(|l| l.0).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    let texts =
        |ls: &[(u64, Sender, String)]| ls.iter().map(|l| (l.0, l.2.clone())).collect::<Vec<_>>();
    assert_eq!(texts(&la), texts(&lb));
    // Each side's own lines come back as echoes with their cid, in order.
    let echoes: Vec<String> = Client::messages(&b.received)
        .into_iter()
        .filter(|m| m.from == Sender::You)
        .map(|m| m.cid.unwrap().to_string())
        .collect();
    assert_eq!(
        echoes,
        (0..20).map(|n| format!("cb{n}")).collect::<Vec<_>>()
    );
    let strangers = la.iter().filter(|l| l.1 == Sender::Stranger).count();
    assert_eq!(strangers, 20);

    b.handle().typing(true);
    until(&mut a, "typing crosses", |f| {
        f.contains(&ServerFrame::Typing { active: true })
    })
    .await;
    b.handle().leave();
    until(&mut a, "a told", |f| {
        is_partner_left(f, PartnerLeftReason::Left)
    })
    .await;
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_repeated_cid_from_the_far_node_is_delivered_once() {
    let cluster = cluster(2).await;
    let (mut a, mut b) = cross_pair(&cluster).await;
    // b's node does not number the room (a waited longer): both sends are
    // forwarded before either is echoed.
    b.send("only once", "same");
    b.send("only once", "same");
    b.send("after", "next");
    until(&mut b, "echoes", |f| Client::messages(f).len() >= 2).await;
    until(&mut a, "delivered", |f| Client::messages(f).len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.drain();
    b.drain();
    let delivered: Vec<(u64, String)> = lines(&a).into_iter().map(|l| (l.0, l.2)).collect();
    assert_eq!(
        delivered,
        [(1, "only once".to_owned()), (2, "after".to_owned())]
    );
    assert_eq!(lines(&b).len(), 2, "one echo per line: {:?}", b.received);
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_skipped_pair_is_not_rematched_across_nodes_and_a_third_is_found() {
    let cluster = cluster(3).await;
    let (mut a, mut b) = cross_pair(&cluster).await;
    b.handle().next(request(&["music"], Some("ko")));
    until(&mut a, "a told", |f| {
        is_partner_left(f, PartnerLeftReason::Skipped)
    })
    .await;
    a.handle().next(request(&["music"], Some("ko")));
    tokio::time::sleep(Duration::from_millis(600)).await;
    a.drain();
    b.drain();
    let rooms = |c: &Client| {
        c.received
            .iter()
            .filter(|f| matches!(f, ServerFrame::Matched(_)))
            .count()
    };
    assert_eq!((rooms(&a), rooms(&b)), (1, 1), "the cooldown holds");
    let mut c = Client::connect(&cluster.nodes[2], "key-c").await;
    c.join(&["music"], Some("ko"));
    until(&mut c, "c matched", |f| matched(f).is_some()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.drain();
    b.drain();
    assert_eq!(rooms(&a) + rooms(&b), 3, "exactly one of them meets c");
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_report_keeps_two_client_keys_apart_on_every_node() {
    let cluster = cluster(2).await;
    let (a, mut b) = cross_pair(&cluster).await;
    a.handle()
        .report(quicktalk_core::protocol::ReportRequest {
            reason: quicktalk_core::protocol::ReportReason::Spam,
            note: None,
        })
        .await;
    a.handle().leave();
    until(&mut b, "b told", |f| {
        f.iter()
            .any(|f| matches!(f, ServerFrame::PartnerLeft { .. }))
    })
    .await;
    // New sessions of the same two keys, on swapped nodes.
    let mut a2 = Client::connect(&cluster.nodes[1], "key-a").await;
    let mut b2 = Client::connect(&cluster.nodes[0], "key-b").await;
    a2.join(&[], Some("ko"));
    b2.join(&[], Some("ko"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    a2.drain();
    b2.drain();
    assert!(matched(&a2.received).is_none(), "{:?}", a2.received);
    assert!(matched(&b2.received).is_none());
    cluster.matcher.abort();
}

#[tokio::test]
async fn same_node_pairs_match_through_the_cluster_and_chat_directly() {
    let cluster = cluster(2).await;
    let (a, mut b) = same_node_pair(&cluster.nodes[1]).await;
    let mut published = cluster.bus.subscribe().await.unwrap();
    a.send("direct", "c1");
    until(&mut b, "delivered", |f| Client::messages(f).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let said = std::iter::from_fn(|| published.try_recv())
        .filter(|e| matches!(e, BusEvent::Said { .. }))
        .count();
    assert_eq!(said, 0, "a same-node line is not forwarded");
    cluster.matcher.abort();
}

#[tokio::test]
async fn online_counts_are_summed_over_the_nodes() {
    let cluster = cluster(2).await;
    let _a = Client::connect(&cluster.nodes[0], "key-a").await;
    let _b = Client::connect(&cluster.nodes[1], "key-b").await;
    // Heartbeats every second carry each node's count.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let c = Client::connect(&cluster.nodes[1], "key-c").await;
    let online = c
        .received
        .iter()
        .find_map(|f| match f {
            ServerFrame::Hello(hello) => Some(hello.online),
            _ => None,
        })
        .unwrap();
    assert_eq!(online, 3);
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_node_shutting_down_ends_its_chats_on_the_other_nodes() {
    let cluster = cluster(2).await;
    let (mut a, _b) = cross_pair(&cluster).await;
    cluster.nodes[1].shutdown(Duration::from_secs(1)).await;
    until(&mut a, "a told", |f| {
        is_partner_left(f, PartnerLeftReason::Disconnected)
    })
    .await;
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_new_matcher_hears_every_wait_again() {
    let mut cluster = cluster(2).await;
    cluster.matcher.abort();
    let mut a = Client::connect(&cluster.nodes[0], "key-a").await;
    let mut b = Client::connect(&cluster.nodes[1], "key-b").await;
    a.join(&[], Some("en"));
    b.join(&[], Some("en"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.drain();
    assert!(matched(&a.received).is_none(), "no matcher, no match");
    // A matcher that missed both waits takes over.
    cluster.matcher = run_matcher(cluster.bus.clone(), &cluster.config).await;
    until(&mut a, "a matched", |f| matched(f).is_some()).await;
    until(&mut b, "b matched", |f| matched(f).is_some()).await;
    cluster.matcher.abort();
}

#[tokio::test]
async fn across_nodes_an_echo_means_the_line_is_on_the_bus() {
    let bus = MemoryEventBus::default();
    let config = config();
    let matcher = run_matcher(bus.clone(), &config).await;
    let down = Arc::new(AtomicBool::new(false));
    let flaky = Arc::new(Flaky {
        bus: bus.clone(),
        down: down.clone(),
    });
    // node-0 publishes through the flaky link; node-1 does not.
    let nodes = vec![
        node_on(&bus, flaky, "node-0", &config).await,
        node(&bus, "node-1", &config).await,
    ];
    let cluster = Cluster {
        bus,
        nodes,
        matcher,
        config,
    };
    let (mut a, mut b) = cross_pair(&cluster).await;
    down.store(true, Ordering::SeqCst);
    for n in 0..3 {
        a.send(&format!("during {n}"), &format!("d{n}"));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.drain();
    b.drain();
    assert!(lines(&a).is_empty(), "no echo while the bus is down");
    assert!(lines(&b).is_empty());
    down.store(false, Ordering::SeqCst);
    until(&mut a, "echoes", |f| Client::messages(f).len() == 3).await;
    until(&mut b, "lines", |f| Client::messages(f).len() == 3).await;
    let seqs = |c: &Client| lines(c).into_iter().map(|l| l.0).collect::<Vec<_>>();
    assert_eq!((seqs(&a), seqs(&b)), (vec![1, 2, 3], vec![1, 2, 3]));
    cluster.matcher.abort();
}

/// Two nodes on one bus, node `flaky_node` publishing through a link that
/// fails while the flag is set; a pair across them (`a` on node-0, which
/// numbers the room: `a` waited longer).
async fn cluster_with_flaky(flaky_node: usize) -> (Cluster, Arc<AtomicBool>) {
    let bus = MemoryEventBus::default();
    let config = config();
    let matcher = run_matcher(bus.clone(), &config).await;
    let down = Arc::new(AtomicBool::new(false));
    let mut nodes = Vec::new();
    for n in 0..2 {
        let name = format!("node-{n}");
        nodes.push(if n == flaky_node {
            let flaky = Arc::new(Flaky {
                bus: bus.clone(),
                down: down.clone(),
            });
            node_on(&bus, flaky, &name, &config).await
        } else {
            node(&bus, &name, &config).await
        });
    }
    let cluster = Cluster {
        bus,
        nodes,
        matcher,
        config,
    };
    (cluster, down)
}

#[tokio::test]
async fn lines_the_numbering_node_never_numbered_are_rejected_when_the_chat_ends() {
    // b's lines leave its node only once its link is back; before that, a
    // (whose node numbers the room) skips. The lines cannot be delivered
    // any more: b gets a `rejected` for each, then `partner_left`, instead
    // of silence.
    let (cluster, down) = cluster_with_flaky(1).await;
    let (mut a, mut b) = cross_pair(&cluster).await;
    down.store(true, Ordering::SeqCst);
    for n in 0..3 {
        b.send(&format!("late {n}"), &format!("r{n}"));
    }
    a.handle().leave();
    until(&mut b, "b told", |f| {
        is_partner_left(f, PartnerLeftReason::Left)
    })
    .await;
    down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.drain();
    b.drain();
    let answers: Vec<String> = b
        .received
        .iter()
        .skip_while(|f| !matches!(f, ServerFrame::Rejected(_)))
        // The online count may change meanwhile; only the answers matter.
        .filter(|f| !matches!(f, ServerFrame::Online { .. }))
        .map(|f| match f {
            ServerFrame::Rejected(r) => format!("rejected {:?} {}", r.cid, r.reason.as_str()),
            ServerFrame::PartnerLeft { .. } => "partner_left".to_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        answers,
        [
            r#"rejected Some("r0") not_in_room"#,
            r#"rejected Some("r1") not_in_room"#,
            r#"rejected Some("r2") not_in_room"#,
            "partner_left",
        ]
    );
    assert!(lines(&a).is_empty(), "nothing reached a: {:?}", a.received);
    assert!(lines(&b).is_empty(), "no echo for a rejected line");
    cluster.matcher.abort();
}

/// The frames `client` got after its first `waiting`-or-later state, as
/// "echo cid", "line text", "partner_left", "waiting" (the rest left out).
fn answers_after_match(client: &Client) -> Vec<String> {
    client
        .received
        .iter()
        .skip_while(|f| matched(std::slice::from_ref(f)).is_none())
        .filter_map(|f| match f {
            ServerFrame::Message(m) if m.from == Sender::You => Some(format!(
                "echo {} {}",
                m.seq,
                m.cid.as_deref().unwrap_or("-")
            )),
            ServerFrame::Message(m) => Some(format!("line {} {}", m.seq, m.text)),
            ServerFrame::PartnerLeft { .. } => Some("partner_left".to_owned()),
            ServerFrame::Waiting => Some("waiting".to_owned()),
            ServerFrame::Rejected(r) => Some(format!("rejected {:?}", r.cid)),
            _ => None,
        })
        .collect()
}

/// The sender (on node `sender_node`, whose link to the bus is down) sends
/// a line and then `exit`s the chat; the link comes back. Returns what the
/// sender and the partner got after `matched` (see `answers_after_match`),
/// once the partner was told `reason` and the sender got an echo.
async fn a_line_then(
    sender_node: usize,
    exit: impl FnOnce(&quicktalk_core::SessionHandle),
    reason: PartnerLeftReason,
) -> (Vec<String>, Vec<String>) {
    let (cluster, down) = cluster_with_flaky(sender_node).await;
    let (a, b) = cross_pair(&cluster).await;
    let (mut sender, mut partner) = if sender_node == 0 { (a, b) } else { (b, a) };
    down.store(true, Ordering::SeqCst);
    sender.send("last words", "lw");
    exit(sender.handle());
    tokio::time::sleep(Duration::from_millis(100)).await;
    down.store(false, Ordering::SeqCst);
    until(&mut partner, "partner told", |f| is_partner_left(f, reason)).await;
    until(&mut sender, "the echo", |f| !Client::messages(f).is_empty()).await;
    cluster.matcher.abort();
    (answers_after_match(&sender), answers_after_match(&partner))
}

/// A line sent right before the sender's own `leave`, from the node that
/// numbers the room (a waited longer), reaches the partner and is echoed to
/// the sender once it is back from the bus (it used to get neither echo nor
/// `rejected`).
#[tokio::test]
async fn a_line_sent_just_before_leave_is_echoed_when_the_numbering_node_sent_it() {
    let (sender, partner) = a_line_then(0, |h| h.leave(), PartnerLeftReason::Left).await;
    assert_eq!(partner, ["line 1 last words", "partner_left"]);
    assert_eq!(sender, ["echo 1 lw"]);
}

/// The same from the other node, with `next`: the partner's node numbers
/// the line, and the echo reaches the sender while it waits.
#[tokio::test]
async fn a_line_sent_just_before_next_is_echoed_when_the_partner_node_numbered_it() {
    let next = |h: &quicktalk_core::SessionHandle| h.next(request(&["chess"], Some("en")));
    let (sender, partner) = a_line_then(1, next, PartnerLeftReason::Skipped).await;
    assert_eq!(partner, ["line 1 last words", "partner_left"]);
    assert_eq!(sender, ["waiting", "echo 1 lw"]);
}

/// A typing sent as the partner leaves reaches nobody: the one who left
/// has no chat any more (it used to get `typing` after its `leave`).
#[tokio::test]
async fn a_typing_sent_as_the_partner_leaves_does_not_follow_it() {
    // b's typing leaves its node only once its link is back, after a left.
    let (cluster, down) = cluster_with_flaky(1).await;
    let (mut a, mut b) = cross_pair(&cluster).await;
    down.store(true, Ordering::SeqCst);
    b.handle().typing(true);
    a.handle().leave();
    tokio::time::sleep(Duration::from_millis(100)).await;
    down.store(false, Ordering::SeqCst);
    until(&mut b, "b told", |f| {
        is_partner_left(f, PartnerLeftReason::Left)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.drain();
    assert!(
        !a.received
            .iter()
            .any(|f| matches!(f, ServerFrame::Typing { .. })),
        "{:?}",
        a.received
    );
    cluster.matcher.abort();
}

/// What one client did and saw, in order.
#[derive(Debug, Clone)]
enum Seen {
    Left,
    Frame(ServerFrame),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sessions_across_three_nodes_keep_the_invariants() {
    use rand::{Rng, SeedableRng};
    const CLIENTS: usize = 12;
    const LANGS: [Option<&str>; 3] = [None, Some("ko"), Some("en")];
    const TAGS: [&str; 3] = ["a", "b", "c"];
    let seed: u64 = std::env::var("QUICKTALK_CLUSTER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed} (QUICKTALK_CLUSTER_SEED)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let cluster = cluster(3).await;
    let mut clients = Vec::new();
    let mut langs = Vec::new();
    for n in 0..CLIENTS {
        clients.push(Client::connect(&cluster.nodes[n % 3], &format!("key-{n}")).await);
        langs.push(LANGS[n % 3]);
    }
    let mut log: Vec<Vec<Seen>> = vec![Vec::new(); CLIENTS];
    let mut sent = 0usize;
    for _ in 0..400 {
        let n = rng.random_range(0..CLIENTS);
        for frame in clients[n].drain() {
            log[n].push(Seen::Frame(frame));
        }
        let client = &clients[n];
        let tags: Vec<&str> = TAGS
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.4))
            .collect();
        match rng.random_range(0..10) {
            0..=1 => client.join(&tags, langs[n]),
            2 => {
                log[n].push(Seen::Left);
                client.handle().next(request(&tags, langs[n]));
            }
            3 => {
                log[n].push(Seen::Left);
                client.handle().leave();
            }
            4 => {
                client
                    .handle()
                    .report(quicktalk_core::protocol::ReportRequest {
                        reason: quicktalk_core::protocol::ReportReason::Spam,
                        note: None,
                    })
                    .await;
            }
            _ => {
                sent += 1;
                client.send(&format!("line {sent}"), &format!("c{sent}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..4))).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (n, client) in clients.iter_mut().enumerate() {
        for frame in client.drain() {
            log[n].push(Seen::Frame(frame));
        }
    }

    // Per client: never matched while in a room; every room's lines
    // numbered 1, 2, 3... as they arrive.
    let mut members: std::collections::HashMap<quicktalk_core::RoomId, Vec<usize>> =
        Default::default();
    let mut views: std::collections::HashMap<(quicktalk_core::RoomId, usize), Vec<(u64, String)>> =
        Default::default();
    let mut final_room = [None; CLIENTS];
    // Rooms that ended at once for a member: `partner_left` the next thing
    // it heard of the room after `matched`.
    let mut ended_at_once = std::collections::HashSet::new();
    for (n, seen) in log.iter().enumerate() {
        let mut room = None;
        let mut just_matched = false;
        for event in seen {
            match event {
                Seen::Left => room = None,
                Seen::Frame(ServerFrame::Matched(m)) => {
                    assert!(
                        room.is_none(),
                        "client {n} matched while in {room:?} (seed {seed})"
                    );
                    room = Some(m.room);
                    just_matched = true;
                    members.entry(m.room).or_default().push(n);
                }
                Seen::Frame(ServerFrame::PartnerLeft { .. }) => {
                    if just_matched && let Some(room) = room {
                        ended_at_once.insert(room);
                    }
                    room = None;
                }
                Seen::Frame(ServerFrame::Message(line)) => {
                    let room = room.expect("a line outside a room");
                    let view = views.entry((room, n)).or_default();
                    assert_eq!(
                        line.seq,
                        view.len() as u64 + 1,
                        "client {n}: seq gap or repeat in {room} (seed {seed})"
                    );
                    view.push((line.seq, line.text.to_string()));
                    just_matched = false;
                }
                Seen::Frame(_) => {}
            }
        }
        final_room[n] = room;
    }
    let mut pairs = std::collections::HashSet::new();
    for (room, who) in &members {
        // "Matched and left" (docs/cluster.md): a member whose wait was
        // accepted leaves before its node opens the room; the partner gets
        // `matched` and at once `partner_left`, and the one who left hears
        // nothing of the room.
        if who.len() == 1 && ended_at_once.contains(room) {
            assert!(
                views.get(&(*room, who[0])).is_none_or(Vec::is_empty),
                "room {room}: lines in a room whose partner never came (seed {seed})"
            );
            continue;
        }
        assert_eq!(who.len(), 2, "room {room} has {who:?} (seed {seed})");
        let (a, b) = (who[0].min(who[1]), who[0].max(who[1]));
        assert_ne!(a, b, "self-match (seed {seed})");
        assert!(
            pairs.insert((a, b)),
            "{a} and {b} met twice within the cooldown or after a report (seed {seed})"
        );
        if let (Some(x), Some(y)) = (langs[a], langs[b]) {
            assert_eq!(x, y, "lang filter broken (seed {seed})");
        }
        let view = |n: usize| views.get(&(*room, n)).cloned().unwrap_or_default();
        let (va, vb) = (view(a), view(b));
        let common = va.len().min(vb.len());
        assert_eq!(
            va[..common],
            vb[..common],
            "views of {room} differ (seed {seed})"
        );
        if final_room[a] == Some(*room) && final_room[b] == Some(*room) {
            // Both still in the room at the end: each has every line, its
            // own as echoes and the other's as deliveries.
            assert_eq!(va, vb, "room {room}: a line lost on one side (seed {seed})");
        }
    }
    assert!(
        members.len() >= 3,
        "the run made few rooms: {}",
        members.len()
    );
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_session_whose_node_went_away_resumes_on_another_with_what_it_missed() {
    let cluster = cluster(2).await;
    let (mut a, mut b) = cross_pair(&cluster).await;
    let room = matched(&a.received).unwrap().room;
    for n in 0..3 {
        b.send(&format!("seen {n}"), &format!("s{n}"));
    }
    until(&mut a, "a has 3", |f| Client::messages(f).len() == 3).await;
    a.drop_connection();
    for n in 0..4 {
        b.send(&format!("missed {n}"), &format!("m{n}"));
    }
    until(&mut b, "b has 7 echoes", |f| Client::messages(f).len() == 7).await;
    // a's node goes away (a rolling restart); b's chat ends with it.
    cluster.nodes[0].shutdown(Duration::from_secs(1)).await;
    until(&mut b, "b told", |f| {
        is_partner_left(f, PartnerLeftReason::Disconnected)
    })
    .await;
    // a comes back through the load balancer to the other node.
    a.reconnect(&cluster.nodes[1]).await;
    until(&mut a, "a resumed", |f| {
        f.iter()
            .any(|f| matches!(f, ServerFrame::PartnerLeft { .. }))
    })
    .await;
    let resumed = resumed(&a.received).expect("resumed");
    assert_eq!((resumed.room, resumed.replayed), (Some(room), 4));
    let replayed: Vec<(u64, String)> = lines(&a).into_iter().skip(3).map(|l| (l.0, l.2)).collect();
    assert_eq!(
        replayed,
        (0..4)
            .map(|n| (4 + n as u64, format!("missed {n}")))
            .collect::<Vec<_>>()
    );
    // The session goes on here: it can chat again.
    let mut c = Client::connect(&cluster.nodes[1], "key-c").await;
    a.join(&[], None);
    c.join(&[], None);
    until(&mut c, "c matched", |f| matched(f).is_some()).await;
    until(&mut a, "a matched again", |f| {
        f.iter()
            .filter(|f| matches!(f, ServerFrame::Matched(_)))
            .count()
            == 2
    })
    .await;
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_resume_on_another_node_takes_the_session_from_a_live_node() {
    let cluster = cluster(2).await;
    // Both on node 0; a's client reconnects to node 1 (a load balancer
    // without stickiness) while node 0 is alive.
    let (mut a, mut b) = same_node_pair(&cluster.nodes[0]).await;
    b.send("before", "b0");
    until(&mut a, "a has it", |f| Client::messages(f).len() == 1).await;
    a.drop_connection();
    b.send("while away", "b1");
    until(&mut b, "echo", |f| Client::messages(f).len() == 2).await;
    a.reconnect(&cluster.nodes[1]).await;
    until(&mut a, "a resumed", |f| {
        f.iter()
            .any(|f| matches!(f, ServerFrame::PartnerLeft { .. }))
    })
    .await;
    assert_eq!(resumed(&a.received).unwrap().replayed, 1);
    // Node 0 let go of a: b is told, and a's old token is dead there.
    until(&mut b, "b told", |f| {
        is_partner_left(f, PartnerLeftReason::Disconnected)
    })
    .await;
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_resume_on_another_node_closes_the_old_connection_still_open() {
    let cluster = cluster(2).await;
    let (mut a, _b) = same_node_pair(&cluster.nodes[0]).await;
    // a's client opens a second connection, to node 1, and resumes there
    // while its first is still open on node 0.
    let mut again = Client::connect(&cluster.nodes[1], "key-a").await;
    again.handle().resume(&a.token(), a.last_seq());
    until(&mut again, "resumed", |f| resumed(f).is_some()).await;
    // The first is closed as replaced (4003), not left open and deaf.
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.closed.is_none() {
        assert!(
            Instant::now() < deadline,
            "the old connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        a.drain();
    }
    assert_eq!(a.closed, Some(CloseReason::Replaced));
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_node_that_never_saw_the_room_asks_the_others_where_a_session_was() {
    let mut cluster = cluster(2).await;
    let (mut a, mut b) = cross_pair(&cluster).await;
    b.send("before", "b0");
    until(&mut a, "a has it", |f| Client::messages(f).len() == 1).await;
    // A third node joins after the room opened: it never saw `matched`.
    let late = node(&cluster.bus, "node-late", &cluster.config).await;
    cluster.nodes.push(late);
    a.drop_connection();
    b.send("while away", "b1");
    until(&mut b, "echo", |f| Client::messages(f).len() == 2).await;
    // a's client comes back through the balancer to the new node: it asks,
    // b's node (which knows a's token digest from the match) answers.
    a.reconnect(&cluster.nodes[2]).await;
    until(&mut a, "a resumed", |f| {
        f.iter()
            .any(|f| matches!(f, ServerFrame::PartnerLeft { .. }))
    })
    .await;
    assert_eq!(resumed(&a.received).unwrap().replayed, 1);
    assert_eq!(lines(&a).last().unwrap().2, "while away");
    until(&mut b, "b told", |f| {
        is_partner_left(f, PartnerLeftReason::Disconnected)
    })
    .await;
    cluster.matcher.abort();
}

#[tokio::test]
async fn a_node_shutting_down_tells_even_newer_nodes_where_its_sessions_were() {
    let bus = MemoryEventBus::default().with_history(100_000);
    let config = config();
    let matcher = run_matcher(bus.clone(), &config).await;
    let old = node(&bus, "node-old", &config).await;
    // Both members on the old node: no other node of the cluster knows
    // their tokens once the nodes that saw the match are gone.
    let mut a = Client::connect(&old, "key-a").await;
    let mut b = Client::connect(&old, "key-b").await;
    a.join(&[], None);
    b.join(&[], None);
    until(&mut a, "a matched", |f| matched(f).is_some()).await;
    until(&mut b, "b matched", |f| matched(f).is_some()).await;
    let newer = node(&bus, "node-new", &config).await;
    b.send("one", "b0");
    until(&mut a, "a has it", |f| Client::messages(f).len() == 1).await;
    a.drop_connection();
    b.send("two", "b1");
    until(&mut b, "echo", |f| Client::messages(f).len() == 2).await;
    old.shutdown(Duration::from_secs(1)).await;
    a.reconnect(&newer).await;
    until(&mut a, "a resumed", |f| {
        f.iter()
            .any(|f| matches!(f, ServerFrame::PartnerLeft { .. }))
    })
    .await;
    assert_eq!(resumed(&a.received).unwrap().replayed, 1);
    assert_eq!(lines(&a).last().unwrap().2, "two");
    matcher.abort();
}

#[tokio::test]
async fn sharded_matchers_never_match_a_session_without_lang_twice() {
    let bus = MemoryEventBus::default().with_history(100_000);
    let config = config();
    // Two shards: the Korean pool and the English pool; a session without
    // `lang` is in both.
    let ko = run_shard(bus.clone(), &config, Some("ko")).await;
    let en = run_shard(bus.clone(), &config, Some("en")).await;
    let nodes = [
        node(&bus, "node-0", &config).await,
        node(&bus, "node-1", &config).await,
        node(&bus, "node-2", &config).await,
    ];
    let mut k = Client::connect(&nodes[0], "key-k").await;
    let mut e = Client::connect(&nodes[1], "key-e").await;
    k.join(&[], Some("ko"));
    e.join(&[], Some("en"));
    until(&mut k, "k waits", |f| f.contains(&ServerFrame::Waiting)).await;
    until(&mut e, "e waits", |f| f.contains(&ServerFrame::Waiting)).await;
    // Both shards can pair the newcomer: exactly one room opens.
    let mut any = Client::connect(&nodes[2], "key-any").await;
    any.join(&[], None);
    until(&mut any, "matched", |f| matched(f).is_some()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    k.drain();
    e.drain();
    let matched_k = matched(&k.received).is_some();
    let matched_e = matched(&e.received).is_some();
    assert!(
        matched_k ^ matched_e,
        "one of the two, not both: k {matched_k} e {matched_e}"
    );
    assert_eq!(
        any.received
            .iter()
            .filter(|f| matches!(f, ServerFrame::Matched(_)))
            .count(),
        1
    );
    // The one left waits on and is matched with the next newcomer.
    let (mut left, lang) = if matched_k { (e, "en") } else { (k, "ko") };
    let mut next = Client::connect(&nodes[2], "key-next").await;
    next.join(&[], Some(lang));
    until(&mut next, "next matched", |f| matched(f).is_some()).await;
    until(&mut left, "left matched", |f| matched(f).is_some()).await;
    ko.abort();
    en.abort();
}
