//! Cluster mode: several `quicktalk` processes on one real Kafka broker
//! (`QUICKTALK_TEST_KAFKA`, started by `scripts/services.sh`), clients on
//! different nodes matched and chatting, and a node killed with SIGKILL.

mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use quicktalk_kafka::testing::{test_brokers, unique_prefix};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use support::workers::{kafka_node_flags, quicktalk};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// A `quicktalk` node process, killed when dropped.
struct Node {
    child: Child,
    server: Server,
}

impl Node {
    async fn start(bus: &str, prefix: &str, name: &str) -> Self {
        Self::start_with(bus, prefix, name, &[]).await
    }

    /// A node with `extra` flags after the cluster ones.
    async fn start_with(bus: &str, prefix: &str, name: &str, extra: &[&str]) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let bind = addr.to_string();
        let mut flags = vec!["--bind", &bind, "--store", "memory"];
        flags.extend(kafka_node_flags(bus, prefix, name));
        flags.extend(extra);
        let child = quicktalk(&flags)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the node starts");
        let server = Server::at(addr);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = try_http(&server, "/readyz").await {
                break;
            }
            assert!(Instant::now() < deadline, "node {name} not ready in 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, server }
    }

    /// SIGTERM (a rolling restart) and wait for the graceful exit.
    async fn stop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("node did not stop within 20 s of SIGTERM");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Nodes named `names` on the test broker, with `extra` flags: the bus URL,
/// the topic prefix and the nodes (None when no broker is configured).
async fn start_nodes(names: &[&str], extra: &[&str]) -> Option<(String, String, Vec<Node>)> {
    let brokers = test_brokers()?;
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(Node::start_with(&bus, &prefix, name, extra).await);
    }
    Some((bus, prefix, nodes))
}

async fn try_http(server: &Server, path: &str) -> Result<(u16, String), std::io::Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, response))
}

/// The next frame of type `kind` within `within` (others of the listed
/// `skip` types are passed over; anything else fails the test).
async fn next_of(client: &mut Client, kind: &str, skip: &[&str], within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = next_frame(client, deadline, kind).await;
        let got = value["type"].as_str().unwrap_or_default().to_owned();
        if got == "matched" {
            client.matched = Some(value.clone());
        }
        if got == kind {
            return value;
        }
        assert!(
            got == "online" || skip.contains(&got.as_str()),
            "expected {kind}, got {value}"
        );
    }
}

/// Two nodes on the test broker, `victim` started first; `None` without a
/// broker.
async fn victim_and_survivor() -> Option<(Node, Node)> {
    let brokers = test_brokers()?;
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    let victim = Node::start(&bus, &prefix, "victim").await;
    let survivor = Node::start(&bus, &prefix, "survivor").await;
    Some((victim, survivor))
}

/// The next text frame before `deadline`, parsed (`waiting_for` names it
/// in the failure).
async fn next_frame(
    client: &mut Client,
    deadline: tokio::time::Instant,
    waiting_for: &str,
) -> Value {
    loop {
        let message = tokio::time::timeout_at(deadline, client.socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {waiting_for} in time"))
            .expect("open")
            .expect("a valid frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Two clients on two nodes, matched through a shared interest.
async fn cross_pair(one: &Node, other: &Node, interest: &str) -> (Client, Client) {
    let mut a = Client::connect(&one.server).await;
    let mut b = Client::connect(&other.server).await;
    a.join(&[interest]).await;
    a.expect("waiting").await;
    b.join(&[interest]).await;
    let within = Duration::from_secs(15);
    next_of(&mut a, "matched", &[], within).await;
    let matched = next_of(&mut b, "matched", &["waiting"], within).await;
    assert_eq!(matched["common_interests"], json!([interest]));
    assert_eq!(a.last_matched_room(), b.last_matched_room());
    (a, b)
}

/// A received line: seq, text, cid, from.
type Line = (u64, String, Option<String>, String);

/// `a` and `b` send `count` lines each, interleaved; both must see every
/// line once, numbered 1.. in one order, with their own echoed by cid.
async fn chat_both_ways(a: &mut Client, b: &mut Client, count: usize) {
    for n in 0..count {
        a.send(json!({"type": "send", "text": format!("a {n} 안녕"), "cid": format!("a{n}")}))
            .await;
        b.send(json!({"type": "send", "text": format!("b {n} hi"), "cid": format!("b{n}")}))
            .await;
    }
    let mut seen: [Vec<Line>; 2] = Default::default();
    for (side, client) in [&mut *a, &mut *b].into_iter().enumerate() {
        while seen[side].len() < 2 * count {
            let line = next_of(client, "message", &[], Duration::from_secs(10)).await;
            seen[side].push((
                line["seq"].as_u64().unwrap(),
                line["text"].as_str().unwrap().to_owned(),
                line["cid"].as_str().map(str::to_owned),
                line["from"].as_str().unwrap().to_owned(),
            ));
        }
    }
    for lines in &seen {
        let seqs: Vec<u64> = lines.iter().map(|l| l.0).collect();
        assert_eq!(seqs, (1..=2 * count as u64).collect::<Vec<_>>(), "gap-free");
    }
    let texts = |side: usize| seen[side].iter().map(|l| l.1.clone()).collect::<Vec<_>>();
    assert_eq!(texts(0), texts(1), "one order on both nodes");
    for (side, prefix) in [(0, "a"), (1, "b")] {
        let echoes: Vec<String> = seen[side]
            .iter()
            .filter(|l| l.3 == "you")
            .map(|l| l.2.clone().expect("an echo carries its cid"))
            .collect();
        let sent: Vec<String> = (0..count).map(|n| format!("{prefix}{n}")).collect();
        assert_eq!(echoes, sent, "every line echoed once, in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_match_strangers_across_nodes_and_they_chat() {
    let Some((_, _, nodes)) = start_nodes(&["n0", "n1", "n2"], &[]).await else {
        return;
    };
    let mut pairs = Vec::new();
    for (i, interest) in ["chess", "jazz", "hiking"].into_iter().enumerate() {
        pairs.push(cross_pair(&nodes[i], &nodes[(i + 1) % 3], interest).await);
    }
    for (a, b) in &mut pairs {
        chat_both_ways(a, b, 30).await;
    }
    // Typing and leaving cross nodes too.
    let (a, b) = &mut pairs[0];
    b.send(json!({"type": "typing", "active": true})).await;
    assert_eq!(
        next_of(a, "typing", &[], Duration::from_secs(5)).await["active"],
        true
    );
    b.send(json!({"type": "leave"})).await;
    let left = next_of(a, "partner_left", &["typing"], Duration::from_secs(5)).await;
    assert_eq!(left["reason"], "left");
    // Every node counts every node's sessions (heartbeats every second).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let newcomer = Client::connect(&nodes[2].server).await;
    assert_eq!(newcomer.hello["online"], 7, "{}", newcomer.hello);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_ban_on_one_node_closes_the_keys_sessions_on_every_node() {
    const TOKEN: &str = "cluster-admin-token-0123456789";
    let Some((_, _, nodes)) = start_nodes(&["k0", "k1"], &["--admin-token", TOKEN]).await else {
        return;
    };
    // a on k0, b on k1; both come from 127.0.0.1, so they share a key.
    let (mut a, mut b) = cross_pair(&nodes[0], &nodes[1], "bans").await;
    a.send(json!({"type": "report", "reason": "spam"})).await;
    next_of(
        &mut a,
        "reported",
        &["message", "typing"],
        Duration::from_secs(5),
    )
    .await;
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    let (_, reports) = http(&nodes[0].server, "GET", "/api/admin/reports", &headers, "").await;
    let reports: Value = serde_json::from_str(&reports).unwrap();
    let key = reports[0]["reported_key"].as_str().unwrap().to_owned();
    let ban = json!({"client_key": key, "reason": "spam", "duration_s": 3600}).to_string();
    let (status, body) = http(&nodes[0].server, "POST", "/api/admin/bans", &headers, &ban).await;
    assert_eq!(status, 201, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["published"], true, "{body}");
    // The session on the other node is closed too, as a banned one is.
    let close = tokio::time::timeout(Duration::from_secs(15), b.closed())
        .await
        .expect("the other node carries the ban out")
        .expect("a close frame");
    assert_eq!(u16::from(close.code), 1008);
    // And the other node refuses the key from now on.
    let mut again = Client::connect_raw(&nodes[1].server, None).await.unwrap();
    assert_eq!(again.expect("error").await["code"], "banned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_ends_its_chats_elsewhere_its_clients_resume_elsewhere_and_matching_goes_on()
{
    // The first node joins the matcher group first and usually runs the
    // matchmaking: killing it also tests the hand-over.
    let Some((mut victim, survivor)) = victim_and_survivor().await else {
        return;
    };
    let (mut a, mut b) = cross_pair(&survivor, &victim, "go").await;
    chat_both_ways(&mut a, &mut b, 3).await;
    // b's connection drops (its session waits on the victim for a resume)
    // and a writes on: lines b has not seen.
    let token = b.hello["resume_token"].as_str().unwrap().to_owned();
    drop(b);
    for n in 0..4 {
        a.send(json!({"type": "send", "text": format!("missed {n}"), "cid": format!("m{n}")}))
            .await;
        assert_eq!(
            next_of(&mut a, "message", &[], Duration::from_secs(5)).await["seq"],
            7 + n
        );
    }
    // A session waiting on the victim must not be matched after it dies.
    let mut doomed = Client::connect(&victim.server).await;
    doomed.join(&["tea"]).await;
    doomed.expect("waiting").await;

    let killed = Instant::now();
    victim.kill();
    let left = next_of(&mut a, "partner_left", &[], Duration::from_secs(5)).await;
    assert_eq!(left["reason"], "disconnected");
    assert!(killed.elapsed() < Duration::from_secs(5));

    // b comes back through the load balancer to the survivor: the lines it
    // missed are read back from Kafka, once each, then the chat's end.
    let mut back = Client::connect(&survivor.server).await;
    back.send(json!({"type": "resume", "token": token, "last_seq": 6}))
        .await;
    let resumed = next_of(&mut back, "resumed", &[], Duration::from_secs(15)).await;
    assert_eq!(resumed["replayed"], 4, "{resumed}");
    for n in 0..4 {
        let line = next_of(&mut back, "message", &[], Duration::from_secs(5)).await;
        assert_eq!(
            (line["seq"].clone(), line["text"].clone()),
            (json!(7 + n), json!(format!("missed {n}")))
        );
    }
    next_of(&mut back, "partner_left", &[], Duration::from_secs(5)).await;

    // Matching goes on among the living (the matcher may have been on the
    // victim: its partition moves, and the waits are announced again).
    a.join(&["tea"]).await;
    a.expect("waiting").await;
    let mut c = Client::connect(&survivor.server).await;
    c.join(&["tea"]).await;
    next_of(&mut a, "matched", &[], Duration::from_secs(20)).await;
    next_of(&mut c, "matched", &["waiting"], Duration::from_secs(20)).await;
    assert_eq!(a.last_matched_room(), c.last_matched_room());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_sent_as_its_numbering_node_is_killed_gets_one_answer_before_partner_left() {
    let Some((mut victim, survivor)) = victim_and_survivor().await else {
        return;
    };
    // The victim's member waits clearly longer, so the victim numbers the
    // room (a line from the survivor's member goes there to be numbered),
    // unless the matchmaking pools move meanwhile and the waits are heard
    // again in another order: the group is let settle first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut gone = Client::connect(&victim.server).await;
    gone.join(&["void"]).await;
    gone.expect("waiting").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut stays = Client::connect(&survivor.server).await;
    stays.join(&["void"]).await;
    next_of(&mut gone, "matched", &[], Duration::from_secs(15)).await;
    next_of(&mut stays, "matched", &["waiting"], Duration::from_secs(15)).await;
    // Numbered there: the first line's echo comes back through the victim.
    stays
        .send(json!({"type": "send", "text": "hello", "cid": "h1"}))
        .await;
    next_of(&mut stays, "message", &[], Duration::from_secs(5)).await;
    victim.kill();
    stays
        .send(json!({"type": "send", "text": "anyone there?", "cid": "void1"}))
        .await;
    // The line gets one answer before the chat's end is told: `rejected`
    // when the dead node was to number it (no echo can come from there), or
    // its echo should this node number the room after all.
    let mut answers = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let left = loop {
        let frame = next_frame(&mut stays, deadline, "partner_left").await;
        match frame["type"].as_str() {
            Some("partner_left") => break frame,
            Some("online" | "typing") => {}
            _ => answers.push(frame),
        }
    };
    assert_eq!(left["reason"], "disconnected");
    assert_eq!(answers.len(), 1, "one answer: {answers:?}");
    let answer = &answers[0];
    assert_eq!(answer["cid"], "void1", "{answer}");
    assert!(
        answer["type"] == "message" || answer["reason"] == "not_in_room",
        "{answer}"
    );
}

/// Sends `count` lines from `from` (each echoed); returns their seqs and
/// texts, and adds the seqs of the partner's lines read meanwhile to `seen`.
async fn send_acked(
    from: &mut Client,
    tag: &str,
    count: usize,
    seen: &mut Vec<u64>,
) -> Vec<(u64, String)> {
    let mut acked = Vec::new();
    for n in 0..count {
        let text = format!("{tag} {n}");
        from.send(json!({"type": "send", "text": text, "cid": format!("{tag}{n}")}))
            .await;
        loop {
            let frame = next_of(from, "message", &[], Duration::from_secs(10)).await;
            let seq = frame["seq"].as_u64().unwrap();
            seen.push(seq);
            if frame["from"] == "you" {
                assert_eq!(frame["text"], json!(text));
                acked.push((seq, text));
                break;
            }
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_node_loses_no_acknowledged_line() {
    let names = ["r0", "r1", "r2"];
    let Some((bus, prefix, mut nodes)) = start_nodes(&names, &[]).await else {
        return;
    };
    for i in 0..3 {
        let (next, other) = ((i + 1) % 3, (i + 2) % 3);
        // a on the node about to restart, b on the next one.
        let (mut a, mut b) = cross_pair(&nodes[i], &nodes[next], &format!("restart{i}")).await;
        let token = a.hello["resume_token"].as_str().unwrap().to_owned();
        let (mut a_seen, mut b_seen) = (Vec::new(), Vec::new());
        let mut from_a = send_acked(&mut a, "a", 4, &mut a_seen).await;
        let from_b = send_acked(&mut b, "b", 4, &mut b_seen).await;
        from_a.extend(send_acked(&mut a, "late a", 3, &mut a_seen).await);
        // What a saw of the room so far.
        while a_seen.len() < from_a.len() + from_b.len() {
            let line = next_of(&mut a, "message", &[], Duration::from_secs(10)).await;
            a_seen.push(line["seq"].as_u64().unwrap());
        }
        let last_seq = *a_seen.iter().max().unwrap();

        nodes[i].stop().await;
        // b got every line a had acknowledged (some while it sent), then
        // the end.
        let mut b_got: Vec<(u64, String)> = from_a
            .iter()
            .filter(|line| b_seen.contains(&line.0))
            .cloned()
            .collect();
        loop {
            let frame = next_of(
                &mut b,
                "message",
                &["partner_left"],
                Duration::from_secs(10),
            )
            .await;
            if frame["from"] == "stranger" {
                b_got.push((
                    frame["seq"].as_u64().unwrap(),
                    frame["text"].as_str().unwrap().to_owned(),
                ));
            }
            if b_got.len() == from_a.len() {
                break;
            }
        }
        assert_eq!(
            b_got, from_a,
            "restart {i}: a line a had acknowledged did not reach b"
        );
        next_of(&mut b, "partner_left", &[], Duration::from_secs(10)).await;
        // a reconnects through the balancer to the third node and resumes.
        let mut back = Client::connect(&nodes[other].server).await;
        back.send(json!({"type": "resume", "token": token, "last_seq": last_seq}))
            .await;
        let resumed = next_of(&mut back, "resumed", &[], Duration::from_secs(15)).await;
        assert_eq!(resumed["replayed"], 0, "a had seen everything: {resumed}");
        next_of(&mut back, "partner_left", &[], Duration::from_secs(5)).await;
        // The node comes back under its name.
        nodes[i] = Node::start(&bus, &prefix, names[i]).await;
    }
    // And the restarted cluster still matches across nodes.
    let (mut a, mut b) = cross_pair(&nodes[0], &nodes[2], "after").await;
    chat_both_ways(&mut a, &mut b, 3).await;
}

// Randomised sessions across three nodes, and a rolling restart under load:
// the core's invariants checked from what the clients saw.

/// Flags for the nodes below: client keys from `X-Forwarded-For` (each
/// simulated person its own address), a cooldown longer than the test (so a
/// pair of sessions matched twice is a violation), the interest fallback
/// after 1 s.
const PEOPLE_FLAGS: &[&str] = &[
    "--trusted-proxies",
    "127.0.0.1",
    "--rematch-cooldown-secs",
    "600",
    "--interest-wait-secs",
    "1",
];

const LANGS: [Option<&str>; 3] = [Some("ko"), Some("en"), None];
const INTERESTS: [&str; 3] = ["music", "games", "books"];

/// The seed of the randomised scripts: `QUICKTALK_TEST_SEED`, or a fresh one
/// (printed, so a failure can be replayed with the same scripts).
fn test_seed(test: &str) -> u64 {
    let seed = std::env::var("QUICKTALK_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: QUICKTALK_TEST_SEED={seed}");
    seed
}

/// How a person's chat ended.
#[derive(Debug, Clone, PartialEq)]
enum End {
    /// The person ended it (`next`, `leave`, or a report and `leave`).
    Mine,
    /// The server said `partner_left` with this reason.
    Partner(String),
}

/// One session's view of one room.
#[derive(Debug, Clone)]
struct View {
    room: String,
    person: usize,
    session: String,
    lang: Option<&'static str>,
    interests: Vec<&'static str>,
    common: Vec<String>,
    partner_lang: Option<String>,
    matched_at: Instant,
    /// Every line received: seq, own (an echo), text.
    lines: Vec<(u64, bool, String)>,
    /// Own lines echoed (acknowledged): seq, text.
    acked: Vec<(u64, String)>,
    end: End,
    /// When `reported` came for a report of this room's partner.
    reported_at: Option<Instant>,
}

impl View {
    fn open(matched: &Value, person: usize, session: &Value) -> Self {
        Self {
            room: matched["room"].as_str().unwrap().to_owned(),
            person,
            session: session.as_str().unwrap().to_owned(),
            lang: None,
            interests: Vec::new(),
            common: serde_json::from_value(matched["common_interests"].clone()).unwrap(),
            partner_lang: matched["partner_lang"].as_str().map(str::to_owned),
            matched_at: Instant::now(),
            lines: Vec::new(),
            acked: Vec::new(),
            end: End::Mine,
            reported_at: None,
        }
    }

    /// Records a `message` frame; true when it is the echo of `cid`.
    fn record(&mut self, frame: &Value, cid: Option<&str>) -> bool {
        let seq = frame["seq"].as_u64().unwrap();
        let own = frame["from"] == "you";
        let text = frame["text"].as_str().unwrap().to_owned();
        self.lines.push((seq, own, text.clone()));
        if !own {
            return false;
        }
        self.acked.push((seq, text));
        cid.is_some() && frame["cid"].as_str() == cid
    }
}

/// A simulated person: one address (client key), one `lang`, a random
/// script of rounds (join, a few lines, an ending), sometimes a new session.
struct Person {
    index: usize,
    ip: String,
    lang: Option<&'static str>,
    rng: StdRng,
    nodes: Vec<SocketAddr>,
    client: Client,
    views: Vec<View>,
    /// Times the person stopped waiting (a room a proposal opened just
    /// before may then be seen by the partner alone).
    left_waiting: usize,
}

impl Person {
    async fn new(index: usize, seed: u64, nodes: Vec<SocketAddr>) -> Self {
        let mut rng =
            StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let ip = format!("10.9.0.{}", index + 1);
        let node = nodes[rng.random_range(0..nodes.len())];
        let client = Client::connect_from(&Server::at(node), &ip).await.unwrap();
        Self {
            index,
            ip,
            lang: LANGS[index % LANGS.len()],
            rng,
            nodes,
            client,
            views: Vec::new(),
            left_waiting: 0,
        }
    }

    fn interests(&mut self) -> Vec<&'static str> {
        INTERESTS
            .into_iter()
            .filter(|_| self.rng.random_bool(0.4))
            .collect()
    }

    /// The next frame within `within` (`online` and `typing` passed over).
    async fn frame(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.client.socket.next())
                .await
                .ok()?
                .unwrap_or_else(|| panic!("person {}: connection closed", self.index))
                .expect("a valid frame");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            if !matches!(value["type"].as_str(), Some("online" | "typing")) {
                return Some(value);
            }
        }
    }

    /// `matched` within `within`, or None. A line sent as the last room
    /// ended may come back refused; anything else is a violation.
    async fn wait_matched(&mut self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            let frame = self
                .frame(deadline.saturating_duration_since(Instant::now()))
                .await?;
            match frame["type"].as_str() {
                Some("matched") => return Some(frame),
                Some("waiting") => {}
                Some("rejected") if frame["reason"] == "not_in_room" => {}
                _ => panic!("person {}: {frame} while waiting", self.index),
            }
        }
    }

    /// Reads until a frame of type `until`, recording lines in `view` and
    /// a `partner_left` as its end.
    async fn settle(&mut self, view: &mut View, until: &str) {
        loop {
            let frame = self
                .frame(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("person {}: no {until}", self.index));
            match frame["type"].as_str() {
                Some(kind) if kind == until => return,
                Some("message") => {
                    view.record(&frame, None);
                }
                Some("partner_left") => {
                    view.end = End::Partner(frame["reason"].as_str().unwrap().to_owned());
                }
                Some("rejected") if frame["reason"] == "not_in_room" => {}
                _ => panic!("person {}: {frame} before {until}", self.index),
            }
        }
    }

    /// A few lines, each sent once the last was echoed (the partner's lines
    /// recorded as they come), then an ending. True when a `next` queued the
    /// person again with `next_interests`.
    async fn chat(&mut self, view: &mut View, round: usize, next_interests: &[&str]) -> bool {
        for k in 0..self.rng.random_range(0..=4) {
            let cid = format!("{round}-{k}");
            let text = format!("p{} r{round} l{k}", self.index);
            self.client
                .send(json!({"type": "send", "text": text, "cid": cid}))
                .await;
            loop {
                let frame = self
                    .frame(Duration::from_secs(10))
                    .await
                    .unwrap_or_else(|| panic!("person {}: no echo of {cid}", self.index));
                match frame["type"].as_str() {
                    Some("message") => {
                        if view.record(&frame, Some(&cid)) {
                            break;
                        }
                    }
                    Some("partner_left") => {
                        view.end = End::Partner(frame["reason"].as_str().unwrap().to_owned());
                        return false;
                    }
                    // The chat ended on the numbering node before the line
                    // got there: not delivered, and the end follows.
                    Some("rejected")
                        if frame["reason"] == "not_in_room" && frame["cid"] == cid.as_str() => {}
                    _ => panic!("person {}: {frame} in a chat", self.index),
                }
            }
        }
        match self.rng.random_range(0..4) {
            0 => {
                let next = json!({"type": "next", "lang": self.lang, "interests": next_interests});
                self.client.send(next).await;
                self.settle(view, "waiting").await;
                return true;
            }
            1 => {}
            2 => {
                self.client
                    .send(json!({"type": "report", "reason": "spam"}))
                    .await;
                self.settle(view, "reported").await;
                view.reported_at = Some(Instant::now());
            }
            _ => {
                // Wait for the partner to end it.
                while view.end == End::Mine {
                    let Some(frame) = self.frame(Duration::from_secs(2)).await else {
                        break;
                    };
                    match frame["type"].as_str() {
                        Some("message") => {
                            view.record(&frame, None);
                        }
                        Some("partner_left") => {
                            view.end = End::Partner(frame["reason"].as_str().unwrap().to_owned());
                        }
                        _ => panic!("person {}: {frame} in a chat", self.index),
                    }
                }
            }
        }
        if view.end == End::Mine {
            self.client.send(json!({"type": "leave"})).await;
        }
        self.client.send(json!({"type": "ping"})).await;
        self.settle(view, "pong").await;
        if view.reported_at.is_some() {
            // A report holds cluster-wide once the matchers have read it.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        false
    }

    async fn run(mut self, rounds: usize) -> (Vec<View>, usize) {
        let mut interests = self.interests();
        let mut queued = false;
        for round in 0..rounds {
            if !queued {
                let join = json!({"type": "join", "lang": self.lang, "interests": interests});
                self.client.send(join).await;
            }
            let next_interests = self.interests();
            let mut view = match self.wait_matched(Duration::from_secs(6)).await {
                Some(matched) => View::open(&matched, self.index, &self.client.hello["session"]),
                None => {
                    // Nobody came: stop waiting. A room opened just before
                    // is ended by the leave.
                    self.left_waiting += 1;
                    self.client.send(json!({"type": "leave"})).await;
                    self.client.send(json!({"type": "ping"})).await;
                    let mut late: Option<View> = None;
                    loop {
                        let frame = self.frame(Duration::from_secs(10)).await.expect("pong");
                        match frame["type"].as_str() {
                            Some("pong") => break,
                            Some("matched") => {
                                late = Some(View::open(
                                    &frame,
                                    self.index,
                                    &self.client.hello["session"],
                                ));
                            }
                            Some(_) if late.is_some() => {
                                let view = late.as_mut().unwrap();
                                if frame["type"] == "message" {
                                    view.record(&frame, None);
                                } else if frame["type"] == "partner_left" {
                                    view.end =
                                        End::Partner(frame["reason"].as_str().unwrap().to_owned());
                                }
                            }
                            _ => panic!("person {}: {frame} after leaving the queue", self.index),
                        }
                    }
                    if let Some(mut view) = late {
                        (view.lang, view.interests) = (self.lang, interests.clone());
                        self.views.push(view);
                    }
                    queued = false;
                    interests = next_interests;
                    continue;
                }
            };
            (view.lang, view.interests) = (self.lang, interests.clone());
            queued = self.chat(&mut view, round, &next_interests).await;
            self.views.push(view);
            interests = next_interests;
            if !queued && self.rng.random_bool(0.25) {
                // Back as a new session (same address: same client key),
                // maybe on another node.
                let _ = self.client.socket.close(None).await;
                let node = self.nodes[self.rng.random_range(0..self.nodes.len())];
                self.client = Client::connect_from(&Server::at(node), &self.ip)
                    .await
                    .unwrap();
            }
        }
        let _ = self.client.socket.close(None).await;
        (self.views, self.left_waiting)
    }
}

/// Checks the core's invariants over every session's view of its rooms.
fn check_views(views: &[View], left_waiting: usize) {
    let mut rooms: HashMap<&str, Vec<&View>> = HashMap::new();
    for view in views {
        rooms.entry(&view.room).or_default().push(view);
    }
    let mut lonely = 0;
    let mut session_pairs = HashSet::new();
    for (room, members) in &rooms {
        match members.as_slice() {
            [only] => {
                // Its partner stopped waiting after its node accepted.
                lonely += 1;
                assert!(
                    only.lines.iter().all(|line| line.1),
                    "room {room}: a stranger's line in a room only one side saw: {only:?}"
                );
                assert_eq!(
                    only.end,
                    End::Partner("left".into()),
                    "room {room}: {only:?}"
                );
            }
            [a, b] => {
                check_room(room, a, b);
                let mut pair = [a.session.clone(), b.session.clone()];
                pair.sort();
                assert!(
                    session_pairs.insert(pair),
                    "room {room}: the same two sessions matched twice within the cooldown"
                );
            }
            more => panic!("room {room} seen by {} sessions", more.len()),
        }
    }
    assert!(
        lonely <= left_waiting,
        "{lonely} rooms seen by one side, {left_waiting} waits given up"
    );
    // A report blocks the two client keys (persons) for good, whatever
    // their sessions and nodes.
    for report in views.iter().filter(|view| view.reported_at.is_some()) {
        let reported_at = report.reported_at.unwrap();
        let Some(partner) = rooms[report.room.as_str()]
            .iter()
            .find(|v| v.person != report.person)
        else {
            continue;
        };
        for members in rooms.values() {
            if let [a, b] = members.as_slice() {
                let persons = [a.person.min(b.person), a.person.max(b.person)];
                if persons
                    == [
                        report.person.min(partner.person),
                        report.person.max(partner.person),
                    ]
                {
                    assert!(
                        a.matched_at.min(b.matched_at) < reported_at,
                        "persons {persons:?} matched again {:?} after a report \
                         ({report:?}); the new room: {a:?} {b:?}",
                        reported_at
                            .elapsed()
                            .saturating_sub(a.matched_at.min(b.matched_at).elapsed()),
                    );
                }
            }
        }
    }
}

/// One room as its two members saw it.
fn check_room(room: &str, a: &View, b: &View) {
    assert_ne!(
        a.person, b.person,
        "room {room}: a person matched with itself"
    );
    if let (Some(x), Some(y)) = (a.lang, b.lang) {
        assert_eq!(x, y, "room {room}: langs differ");
    }
    for (view, other) in [(a, b), (b, a)] {
        assert_eq!(
            view.partner_lang.as_deref(),
            other.lang,
            "room {room}: partner_lang"
        );
        for interest in &view.common {
            assert!(
                view.interests.contains(&interest.as_str())
                    && other.interests.contains(&interest.as_str()),
                "room {room}: {interest} is not common to {:?} and {:?}",
                view.interests,
                other.interests
            );
        }
        let seqs: Vec<u64> = view.lines.iter().map(|line| line.0).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "room {room}: seq gap-free, each once: {view:?}"
        );
        for line in view.lines.iter().filter(|line| !line.1) {
            assert!(
                line.2.starts_with(&format!("p{} ", other.person)),
                "room {room}: {line:?} is not from the partner"
            );
        }
        if matches!(view.end, End::Partner(_)) {
            // The partner ended it after its lines were echoed: each of
            // them reached this side.
            for (seq, text) in &other.acked {
                assert!(
                    view.lines.contains(&(*seq, false, text.clone())),
                    "room {room}: acknowledged line {seq} {text:?} lost: {view:?}"
                );
            }
        }
    }
    for (x, y) in a.lines.iter().zip(&b.lines) {
        assert_eq!(
            (x.0, &x.2),
            (y.0, &y.2),
            "room {room}: the two sides disagree"
        );
        assert_ne!(
            x.1, y.1,
            "room {room}: a line is its author's on both sides"
        );
    }
    let mut common_a = a.common.clone();
    let mut common_b = b.common.clone();
    common_a.sort();
    common_b.sort();
    assert_eq!(common_a, common_b, "room {room}: common interests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomised_sessions_across_three_nodes_keep_the_core_invariants() {
    let Some((_, _, nodes)) = start_nodes(&["s0", "s1", "s2"], PEOPLE_FLAGS).await else {
        return;
    };
    let seed = test_seed("randomised_sessions");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|node| node.server.addr).collect();
    let people: Vec<_> = (0..15)
        .map(|index| {
            let addrs = addrs.clone();
            tokio::spawn(async move { Person::new(index, seed, addrs).await.run(6).await })
        })
        .collect();
    let (mut views, mut left_waiting) = (Vec::new(), 0);
    for person in people {
        match person.await {
            Ok((seen, left)) => {
                views.extend(seen);
                left_waiting += left;
            }
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    let lines: usize = views.iter().map(|view| view.acked.len()).sum();
    eprintln!(
        "randomised_sessions: {} room views, {lines} lines acknowledged, {left_waiting} waits given up",
        views.len()
    );
    assert!(
        views.len() >= 30 && lines >= 30,
        "too little happened to check anything"
    );
    check_views(&views, left_waiting);
}

/// One client's view of one room in the load test.
#[derive(Debug, Default)]
struct LoadRoom {
    room: String,
    client: usize,
    /// Every line received (live or replayed after a resume): seq, own, text.
    lines: Vec<(u64, bool, String)>,
    /// Own lines echoed: seq, text.
    acked: Vec<(u64, String)>,
    /// The client stopped reading with a `resume` still unanswered.
    resume_pending: bool,
}

impl LoadRoom {
    fn last_seq(&self) -> u64 {
        self.lines.last().map_or(0, |line| line.0)
    }
}

/// What one load client saw.
#[derive(Debug, Default)]
struct LoadReport {
    rooms: Vec<LoadRoom>,
    resumed: usize,
    /// Resumes refused for a session that was idle or waiting.
    resume_failed: usize,
    resume_failed_in_room: usize,
}

/// Connects to one of the live nodes (trying the next one when a node is
/// going away) as a client at `ip`.
async fn connect_live(live: &std::sync::Mutex<Vec<SocketAddr>>, ip: &str, first: usize) -> Client {
    for attempt in 0..100 {
        let addrs = live.lock().unwrap().clone();
        let server = Server::at(addrs[(first + attempt) % addrs.len()]);
        let headers = [("x-forwarded-for", ip)];
        if let Ok(Ok(mut client)) = tokio::time::timeout(
            Duration::from_secs(5),
            Client::connect_with_headers(&server, &headers),
        )
        .await
        {
            if let Ok(Some(Ok(Message::Text(text)))) =
                tokio::time::timeout(Duration::from_secs(5), client.socket.next()).await
            {
                let hello: Value = serde_json::from_str(&text).unwrap();
                if hello["type"] == "hello" {
                    client.hello = hello;
                    return client;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no live node took a connection");
}

/// Sends a frame; a node going away fails it, and the read that follows
/// sees the connection end.
async fn try_send(client: &mut Client, frame: Value) {
    let _ = client
        .socket
        .send(Message::Text(frame.to_string().into()))
        .await;
}

/// A client of the load: joins, chats 8 lines/s while matched, joins again
/// when the chat ends, and when its node goes away reconnects to another
/// and resumes. Runs until `stop`, then reads on: at least 3 s, until 1 s
/// passes with nothing read and no resume is pending (a resume that needed
/// `locate` and a read of the room's partition can outlast the 3 s, and its
/// replay is what the comparison needs), at most 20 s.
async fn load_client(
    index: usize,
    live: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
) -> LoadReport {
    let ip = format!("10.8.{}.{}", index / 200, index % 200 + 1);
    let mut client = connect_live(&live, &ip, index).await;
    let mut token = client.hello["resume_token"].as_str().unwrap().to_owned();
    let mut report = LoadReport::default();
    let mut room: Option<LoadRoom> = None;
    let mut sent = 0_u64;
    try_send(&mut client, json!({"type": "join"})).await;
    let mut tick = tokio::time::interval(Duration::from_millis(125));
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut drain_cap = tokio::time::Instant::now();
    // A `resume` is the first frame of a connection: nothing else is sent
    // until it is answered.
    let mut resuming = false;
    loop {
        if drain_until.is_none() && stop.load(Ordering::SeqCst) {
            let now = tokio::time::Instant::now();
            drain_until = Some(now + Duration::from_secs(3));
            drain_cap = now + Duration::from_secs(20);
        }
        let drain =
            drain_until.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        let message = tokio::select! {
            () = tokio::time::sleep_until(drain) => {
                if resuming && tokio::time::Instant::now() < drain_cap {
                    drain_until = Some(drain + Duration::from_millis(250));
                    continue;
                }
                break;
            }
            _ = tick.tick() => {
                if room.is_some() && drain_until.is_none() && !resuming {
                    sent += 1;
                    let line = json!({"type": "send", "text": format!("c{index} {sent}"), "cid": sent.to_string()});
                    // A node going away fails the send: the read below sees it.
                    let _ = client.socket.send(Message::Text(line.to_string().into())).await;
                }
                continue;
            }
            message = client.socket.next() => message,
        };
        if let Some(until) = drain_until.as_mut() {
            // Something came: read on for another quiet second.
            let quiet = (tokio::time::Instant::now() + Duration::from_secs(1)).min(drain_cap);
            *until = (*until).max(quiet);
        }
        let frame = match message {
            Some(Ok(Message::Text(text))) => serde_json::from_str::<Value>(&text).unwrap(),
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                if drain_until.is_some() {
                    break;
                }
                // The node went away: another node, and `resume`.
                client = connect_live(&live, &ip, index + 1).await;
                let last_seq = room.as_ref().map_or(0, LoadRoom::last_seq);
                resuming = true;
                try_send(
                    &mut client,
                    json!({"type": "resume", "token": token, "last_seq": last_seq}),
                )
                .await;
                continue;
            }
            Some(Ok(_)) => continue,
        };
        match frame["type"].as_str().unwrap_or_default() {
            "matched" => {
                assert!(room.is_none(), "client {index}: matched while in a room");
                room = Some(LoadRoom {
                    room: frame["room"].as_str().unwrap().to_owned(),
                    client: index,
                    ..LoadRoom::default()
                });
            }
            "message" => {
                let current = room
                    .as_mut()
                    .unwrap_or_else(|| panic!("client {index}: {frame} outside a room"));
                let (seq, own) = (frame["seq"].as_u64().unwrap(), frame["from"] == "you");
                let text = frame["text"].as_str().unwrap().to_owned();
                current.lines.push((seq, own, text.clone()));
                if own {
                    current.acked.push((seq, text));
                }
            }
            "partner_left" => {
                report.rooms.extend(room.take());
                if drain_until.is_none() {
                    try_send(&mut client, json!({"type": "join"})).await;
                }
            }
            "resumed" => {
                resuming = false;
                report.resumed += 1;
                token = frame["resume_token"].as_str().unwrap().to_owned();
                if let (Some(id), None) = (frame["room"].as_str(), &room) {
                    // Matched as its node went away (the `matched` frame
                    // did not get out): the room is in the replay.
                    room = Some(LoadRoom {
                        room: id.to_owned(),
                        client: index,
                        ..LoadRoom::default()
                    });
                }
                if frame["room"].is_null() {
                    // It was waiting: it waits again.
                    report.rooms.extend(room.take());
                    try_send(&mut client, json!({"type": "join"})).await;
                }
            }
            "error" if frame["code"] == "resume_failed" => {
                // Idle or waiting on a node that is gone: a new session.
                resuming = false;
                report.resume_failed += 1;
                if let Some(lost) = room.take() {
                    eprintln!(
                        "client {index}: {frame} for room {} (last seq {})",
                        lost.room,
                        lost.last_seq()
                    );
                    report.resume_failed_in_room += 1;
                    report.rooms.push(lost);
                }
                token = client.hello["resume_token"].as_str().unwrap().to_owned();
                try_send(&mut client, json!({"type": "join"})).await;
            }
            "error" if frame["code"] == "shutting_down" => {}
            "rejected" if frame["reason"] == "not_in_room" => {}
            "waiting" | "online" | "typing" | "pong" => {}
            _ => panic!("client {index}: unexpected {frame}"),
        }
    }
    report.rooms.extend(room.map(|room| LoadRoom {
        resume_pending: resuming,
        ..room
    }));
    let _ = client.socket.close(None).await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_no_acknowledged_line() {
    let names = ["l0", "l1", "l2"];
    let Some((bus, prefix, mut nodes)) = start_nodes(&names, PEOPLE_FLAGS).await else {
        return;
    };
    let live = Arc::new(std::sync::Mutex::new(
        nodes
            .iter()
            .map(|node| node.server.addr)
            .collect::<Vec<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..32)
        .map(|index| tokio::spawn(load_client(index, live.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(4)).await;
    for i in 0..3 {
        // The balancer stops sending new clients to the node, then it
        // restarts under its name.
        let addr = nodes[i].server.addr;
        live.lock().unwrap().retain(|live| *live != addr);
        nodes[i].stop().await;
        nodes[i] = Node::start_with(&bus, &prefix, names[i], PEOPLE_FLAGS).await;
        live.lock().unwrap().push(nodes[i].server.addr);
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut reports = Vec::new();
    for client in clients {
        match client.await {
            Ok(report) => reports.push(report),
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    let resumed: usize = reports.iter().map(|r| r.resumed).sum();
    let failed: usize = reports.iter().map(|r| r.resume_failed_in_room).sum();
    let refused: usize = reports.iter().map(|r| r.resume_failed).sum();
    let rooms: Vec<&LoadRoom> = reports.iter().flat_map(|r| &r.rooms).collect();
    let acked: usize = rooms.iter().map(|room| room.acked.len()).sum();
    eprintln!(
        "rolling restart under load: {} room views, {acked} lines acknowledged, {resumed} resumes, \
         {refused} resumes refused (idle or waiting)",
        rooms.len()
    );
    assert!(acked >= 1000, "too little load: {acked} lines");
    assert!(
        resumed >= 5,
        "too few clients resumed on another node: {resumed}"
    );
    assert_eq!(
        failed, 0,
        "a client in a chat could not resume on another node"
    );
    let mut by_room: HashMap<&str, Vec<&LoadRoom>> = HashMap::new();
    for room in &rooms {
        by_room.entry(&room.room).or_default().push(room);
    }
    for (id, members) in &by_room {
        for view in members {
            let seqs: Vec<u64> = view.lines.iter().map(|line| line.0).collect();
            assert_eq!(
                seqs,
                (1..=seqs.len() as u64).collect::<Vec<_>>(),
                "room {id}: client {} saw seq with a gap or twice",
                view.client
            );
        }
        match members.as_slice() {
            [a, b] => {
                for (from, to) in [(a, b), (b, a)] {
                    for (seq, text) in &from.acked {
                        assert!(
                            to.lines.contains(&(*seq, false, text.clone())),
                            "room {id}: line {seq} {text:?} acknowledged to client {} never reached client {} \
                             (it saw up to seq {}; its resume unanswered at the end: {})",
                            from.client,
                            to.client,
                            to.last_seq(),
                            to.resume_pending
                        );
                    }
                }
            }
            [only] => assert!(
                only.lines.iter().all(|line| line.1),
                "room {id}: a partner's line in a room the partner never saw"
            ),
            more => panic!("room {id} seen by {} clients", more.len()),
        }
    }
}
