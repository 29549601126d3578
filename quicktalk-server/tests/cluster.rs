//! Cluster mode: several `quicktalk` processes on one real Kafka broker
//! (`QUICKTALK_TEST_KAFKA`, started by `scripts/services.sh`), clients on
//! different nodes matched and chatting, and a node killed with SIGKILL.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use quicktalk_kafka::testing::{test_brokers, unique_prefix};
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
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let bind = addr.to_string();
        let mut flags = vec!["--bind", &bind, "--store", "memory"];
        flags.extend(kafka_node_flags(bus, prefix, name));
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
    fn stop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
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
        let message = tokio::time::timeout_at(deadline, client.socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within {within:?}"))
            .expect("open")
            .expect("a valid frame");
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
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
    let Some(brokers) = test_brokers() else {
        return;
    };
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    let nodes = [
        Node::start(&bus, &prefix, "n0").await,
        Node::start(&bus, &prefix, "n1").await,
        Node::start(&bus, &prefix, "n2").await,
    ];
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
async fn a_killed_node_ends_its_chats_elsewhere_its_clients_resume_elsewhere_and_matching_goes_on()
{
    let Some(brokers) = test_brokers() else {
        return;
    };
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    // The first node joins the matcher group first and usually runs the
    // matchmaking: killing it also tests the hand-over.
    let mut victim = Node::start(&bus, &prefix, "victim").await;
    let survivor = Node::start(&bus, &prefix, "survivor").await;
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
    let Some(brokers) = test_brokers() else {
        return;
    };
    let bus = format!("kafka://{brokers}");
    let prefix = unique_prefix();
    let names = ["r0", "r1", "r2"];
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(Node::start(&bus, &prefix, name).await);
    }
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

        nodes[i].stop();
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
