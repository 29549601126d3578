//! Dropped connections: resume, replay, grace and idle timeouts.

mod support;

use std::time::Duration;

use quicktalk_core::Event;
use quicktalk_core::protocol::{CloseReason, ErrorCode, PartnerLeftReason, ServerFrame};
use quicktalk_core::{Engine, EngineConfig};
use support::*;

#[tokio::test(start_paused = true)]
async fn resume_within_grace_replays_every_missed_line_exactly_once() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send("before the drop", "a1");
    b.drain();
    b.drop_connection();
    for n in 2..=4 {
        a.send(&format!("missed {n}"), &format!("a{n}"));
    }
    advance(&engine, Duration::from_secs(10)).await;
    b.reconnect(&engine).await;
    let frames = b.drain();
    let resumed = resumed(&frames).expect("resumed");
    assert_eq!(resumed.replayed, 3);
    assert!(resumed.room.is_some());
    let seqs: Vec<u64> = Client::messages(&frames).iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [2, 3, 4]);
    // The partner noticed nothing.
    assert!(
        !a.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::PartnerLeft { .. }))
    );
    // The chat goes on, both ways.
    b.send("back", "b1");
    assert_eq!(Client::messages(&a.drain())[0].seq, 5);
}

#[tokio::test(start_paused = true)]
async fn resume_replays_own_lines_with_their_cid() {
    let (engine, _) = engine();
    let (mut a, _b) = matched_pair(&engine).await;
    a.drop_connection();
    // Nothing was received after the match: last_seq 0 replays nothing yet.
    a.reconnect(&engine).await;
    a.send("mine", "m1");
    a.drain();
    // The echo was lost in a drop: replay from the seq before it.
    let token = a.token();
    let (handle, events) = engine.connect(a.key.clone()).await.unwrap();
    a.events = events;
    handle.resume(&token, 0);
    a.handle = Some(handle);
    let frames = a.drain();
    let replayed = Client::messages(&frames);
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].cid.as_deref(), Some("m1"));
}

#[tokio::test(start_paused = true)]
async fn the_partner_gets_partner_left_disconnected_when_grace_runs_out() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    b.drop_connection();
    advance(&engine, Duration::from_secs(29)).await;
    assert!(!is_partner_left(
        &a.drain(),
        PartnerLeftReason::Disconnected
    ));
    advance(&engine, Duration::from_secs(1)).await;
    assert!(is_partner_left(&a.drain(), PartnerLeftReason::Disconnected));
    // The token is spent.
    b.reconnect(&engine).await;
    let frames = b.drain();
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::ResumeFailed))
    );
    assert_eq!(engine.stats().sessions, 2, "a, and b's fresh session");
}

#[tokio::test(start_paused = true)]
async fn a_session_resumed_after_its_partner_left_gets_the_replay_then_partner_left() {
    let (engine, _) = engine();
    let (a, mut b) = matched_pair(&engine).await;
    b.drop_connection();
    a.send("bye", "a1");
    a.handle().leave();
    b.reconnect(&engine).await;
    let frames = b.drain();
    assert_eq!(resumed(&frames).unwrap().replayed, 1);
    let last_two: Vec<&str> = frames[frames.len() - 2..]
        .iter()
        .map(ServerFrame::type_name)
        .collect();
    assert_eq!(last_two, ["message", "partner_left"]);
    assert!(is_partner_left(&frames, PartnerLeftReason::Left));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_token_fails_to_resume_and_the_connection_stays_usable() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    a.handle().resume("not-a-token", 0);
    let frames = a.drain();
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::ResumeFailed))
    );
    a.join(&[], None);
    assert_eq!(a.drain(), [ServerFrame::Waiting]);
}

#[tokio::test(start_paused = true)]
async fn resume_after_other_frames_is_refused() {
    let (engine, _) = engine();
    let (mut a, _b) = matched_pair(&engine).await;
    let token = a.token();
    let mut c = Client::connect(&engine, "c").await;
    c.join(&[], None);
    c.handle().resume(&token, 0);
    assert!(
        c.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::Error(e) if e.code == ErrorCode::ResumeFailed))
    );
    assert!(a.drain().is_empty(), "a keeps its session");
}

#[tokio::test(start_paused = true)]
async fn a_resume_replaces_a_connection_that_is_still_open_with_4003() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    let token = a.token();
    let (handle, mut events) = engine.connect(a.key.clone()).await.unwrap();
    handle.resume(&token, 0);
    a.drain();
    assert_eq!(a.closed, Some(CloseReason::Replaced));
    // The old handle going away now must not detach the resumed session.
    a.handle = None;
    b.send("still there?", "b1");
    let mut frames = Vec::new();
    while let Some(quicktalk_core::Event::Frame(frame)) = events.try_recv() {
        frames.push(frame);
    }
    assert_eq!(
        Client::messages(&frames).last().unwrap().text.as_ref(),
        "still there?"
    );
    assert!(
        !b.drain()
            .iter()
            .any(|f| matches!(f, ServerFrame::PartnerLeft { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_works_once() {
    let (engine, _) = engine();
    let (mut a, _b) = matched_pair(&engine).await;
    let token = a.token();
    a.drop_connection();
    a.reconnect(&engine).await;
    a.drain();
    let (again, mut events) = engine.connect(a.key.clone()).await.unwrap();
    again.resume(&token, 0);
    let frames: Vec<_> = std::iter::from_fn(|| events.try_recv()).collect();
    assert!(frames.iter().any(|e| matches!(e, quicktalk_core::Event::Frame(ServerFrame::Error(err)) if err.code == ErrorCode::ResumeFailed)));
}

#[tokio::test(start_paused = true)]
async fn a_waiting_session_that_drops_leaves_the_queue() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    a.join(&[], None);
    a.drop_connection();
    assert_eq!(engine.stats().waiting, 0);
    let mut b = Client::connect(&engine, "b").await;
    b.join(&[], None);
    assert_eq!(
        b.drain(),
        [ServerFrame::Waiting],
        "nobody is matched with a gone connection"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_closed_with_4001_and_its_partner_told_timeout_after_grace() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    // b stays active, a is silent.
    advance_while_active(&engine, 60, &b).await;
    a.drain();
    assert_eq!(a.closed, Some(CloseReason::IdleTimeout));
    assert!(b.closed.is_none());
    assert!(
        !is_partner_left(&b.drain(), PartnerLeftReason::Timeout),
        "grace first"
    );
    advance_while_active(&engine, 30, &b).await;
    assert!(is_partner_left(&b.drain(), PartnerLeftReason::Timeout));
}

#[tokio::test(start_paused = true)]
async fn an_idle_closed_session_can_resume() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    advance_while_active(&engine, 60, &b).await;
    a.drain();
    assert_eq!(a.closed, Some(CloseReason::IdleTimeout));
    a.handle = None;
    a.reconnect(&engine).await;
    assert!(resumed(&a.drain()).unwrap().room.is_some());
    b.drain();
    a.send("I'm back", "x");
    assert_eq!(Client::messages(&b.drain()).len(), 1);
}

/// A pair whose second member was closed as too slow (a queue of 8 frames,
/// lines 1..=20 sent) and whose handle is gone: the engine, the sender and
/// the slow reader, ready to reconnect.
async fn slow_reader(replay_capacity: Option<usize>) -> (Engine, Client, Client) {
    let defaults = EngineConfig::default();
    let config = EngineConfig {
        outbox_capacity: 8,
        replay_capacity: replay_capacity.unwrap_or(defaults.replay_capacity),
        rate_burst: 100,
        ..defaults
    };
    let (engine, _) = engine_with(config);
    let (a, mut b) = matched_pair(&engine).await;
    send_lines(&a, 1..=20);
    b.drain();
    assert_eq!(b.closed, Some(CloseReason::TooSlow));
    b.handle = None;
    (engine, a, b)
}

fn send_lines(client: &Client, numbers: std::ops::RangeInclusive<u32>) {
    for n in numbers {
        client.send(&format!("line {n}"), &format!("c{n}"));
    }
}

/// The `seq`s of every line a client has received.
fn seqs(client: &Client) -> Vec<u64> {
    Client::messages(&client.received)
        .iter()
        .map(|m| m.seq)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_resumes_and_gets_what_its_queue_dropped() {
    let (engine, _a, mut b) = slow_reader(None).await;
    b.reconnect(&engine).await;
    let frames = b.drain();
    assert_eq!(
        seqs(&b),
        (1..=20).collect::<Vec<_>>(),
        "every line exactly once, in order"
    );
    assert!(resumed(&frames).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_partner_at_full_rate_during_the_drop_pushes_out_no_missed_line() {
    // The slow reader's queue (8 frames) is thrown away at the close, and
    // its partner goes on at the burst the limits allow while it is away:
    // the room keeps every line it missed even though `replay_capacity`
    // alone (16) would not hold them.
    let (engine, a, mut b) = slow_reader(Some(16)).await;
    send_lines(&a, 21..=80);
    b.reconnect(&engine).await;
    let frames = b.drain();
    assert!(resumed(&frames).is_some());
    assert_eq!(
        seqs(&b),
        (1..=80).collect::<Vec<_>>(),
        "every line exactly once, in order"
    );
}

#[tokio::test(start_paused = true)]
async fn a_replay_longer_than_the_queue_leaves_room_for_new_lines() {
    // The replay is queued past the capacity (it must arrive whole); the
    // partner's next lines must not count it against the resumed reader,
    // or the first of them closes the connection as too slow and throws
    // away `resumed` with the only copy of the new resume token.
    let (engine, a, mut b) = slow_reader(None).await;
    b.reconnect(&engine).await;
    // Before the resumed reader reads anything, the partner goes on.
    send_lines(&a, 21..=26);
    let frames = b.drain();
    assert_eq!(b.closed, None, "not closed again");
    assert!(resumed(&frames).is_some());
    assert_eq!(seqs(&b), (1..=26).collect::<Vec<_>>());
    // Past the capacity of new frames it is as slow as before.
    send_lines(&a, 27..=40);
    b.drain();
    assert_eq!(b.closed, Some(CloseReason::TooSlow));
}

#[tokio::test(start_paused = true)]
async fn resumed_sessions_keep_hearing_the_online_count_once_per_change() {
    let (engine, _) = engine();
    let mut clients = Vec::new();
    for n in 0..30 {
        clients.push(Client::connect(&engine, &format!("c{n}")).await);
    }
    advance(&engine, Duration::from_secs(5)).await;
    for client in &mut clients {
        client.drain();
    }
    // A third of them drop and resume on new connections: the fresh
    // sessions those connections opened are gone, the old ones are back.
    for client in clients.iter_mut().take(10) {
        client.drop_connection();
    }
    for client in clients.iter_mut().take(10) {
        client.reconnect(&engine).await;
        assert!(resumed(&client.drain()).is_some());
    }
    clients.push(Client::connect(&engine, "late").await);
    advance(&engine, Duration::from_secs(5)).await;
    for (n, client) in clients.iter_mut().enumerate() {
        let counts = online_counts(&client.drain());
        // Every session, resumed, untouched or new, hears the change
        // exactly once within the interval.
        assert_eq!(counts, [31], "client {n}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_whose_hello_count_went_stale_hears_the_settled_one() {
    let (engine, _) = engine();
    let mut early = Vec::new();
    for n in 0..2 {
        early.push(Client::connect(&engine, &format!("c{n}")).await);
    }
    advance(&engine, Duration::from_secs(5)).await;
    // Every slice has been told 2. A newcomer's hello says 3; someone
    // drops before its slice comes round, so the count is 2 again, the
    // same as the slice was last told.
    let mut late = Client::connect(&engine, "late").await;
    let hello = late.received.iter().find_map(|f| match f {
        ServerFrame::Hello(hello) => Some(hello.online),
        _ => None,
    });
    assert_eq!(hello, Some(3));
    early[1].drop_connection();
    advance(&engine, Duration::from_secs(5)).await;
    assert_eq!(
        online_counts(&late.drain()),
        [2],
        "the newcomer must not be left showing 3"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_ends_the_event_stream_after_what_was_queued() {
    let (engine, _) = engine();
    let (handle, mut events) = engine.connect("dropper".into()).await.unwrap();
    handle.join(request(&[], None));
    drop(handle);
    // What was queued before the drop is still read, then the stream ends
    // (a task writing it must not wait forever).
    let mut frames = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(event) = events.recv().await {
            frames.push(event);
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream never ended: {frames:?}");
    assert!(
        matches!(
            frames.as_slice(),
            [
                Event::Frame(ServerFrame::Hello(_)),
                Event::Frame(ServerFrame::Waiting)
            ]
        ),
        "{frames:?}"
    );
}

/// A client on the bare contract (no `room` in `resume`) whose connection
/// dropped with `matched` unread still counts `last_seq` in the room before.
#[tokio::test(start_paused = true)]
async fn a_resume_without_room_after_a_lost_match_replays_the_new_room() {
    let (engine, _) = engine();
    let (mut a, b) = matched_pair(&engine).await;
    for n in 1..=6 {
        b.send(&format!("first room {n}"), &format!("b{n}"));
    }
    a.drain();
    assert_eq!(a.last_seq(), 6);
    let token = a.token();
    let mut c = Client::connect(&engine, "key-c").await;
    c.join(&[], None);
    a.handle().next(request(&[], None));
    // The connection drops before `a` reads `matched` (with `c`).
    a.handle = None;
    for n in 1..=3 {
        c.send(&format!("new room {n}"), &format!("c{n}"));
    }
    let echoes: Vec<u64> = Client::messages(&c.drain()).iter().map(|m| m.seq).collect();
    assert_eq!(echoes, [1, 2, 3], "c's lines were acknowledged");
    let (handle, events) = engine.connect(a.key.clone()).await.unwrap();
    a.events = events;
    handle.resume(&token, 6);
    a.handle = Some(handle);
    let frames = a.drain();
    assert_eq!(resumed(&frames).expect("resumed").replayed, 3);
    let texts: Vec<String> = Client::messages(&frames)
        .into_iter()
        .map(|m| m.text.to_string())
        .collect();
    assert_eq!(texts, ["new room 1", "new room 2", "new room 3"]);
}

#[tokio::test(start_paused = true)]
async fn a_last_seq_the_room_never_reached_replays_the_whole_room() {
    let (engine, _) = engine();
    let (a, mut b) = matched_pair(&engine).await;
    a.send("one", "a1");
    a.send("two", "a2");
    b.drop_connection();
    a.send("three", "a3");
    let token = b.token();
    let (handle, events) = engine.connect(b.key.clone()).await.unwrap();
    b.events = events;
    handle.resume(&token, 9_999);
    b.handle = Some(handle);
    let seqs: Vec<u64> = Client::messages(&b.drain()).iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        [1, 2, 3],
        "nothing skipped; the client tells repeats by seq"
    );
}
