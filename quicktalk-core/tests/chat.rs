//! Matching and chatting through the engine API.

mod support;

use std::time::Duration;

use quicktalk_core::ports::ChatStore;
use quicktalk_core::protocol::{
    CloseReason, ErrorCode, PartnerLeftReason, RejectReason, Sender, ServerFrame,
};
use quicktalk_core::{Engine, EngineConfig, Error};
use support::*;

#[tokio::test(start_paused = true)]
async fn two_strangers_with_a_common_interest_are_matched_and_chat_both_ways() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    let mut b = Client::connect(&engine, "b").await;
    a.join(&["Music", "art"], Some("ko"));
    assert_eq!(a.drain(), [ServerFrame::Waiting]);
    b.join(&["music"], Some("ko"));
    let a_matched = matched(&a.drain()).unwrap();
    let b_matched = matched(&b.drain()).unwrap();
    assert_eq!(a_matched.room, b_matched.room);
    assert_eq!(a_matched.common_interests, ["music"]);
    assert_eq!(a_matched.partner_lang.as_deref(), Some("ko"));

    a.send("안녕하세요", "a1");
    b.send("hello", "b1");
    a.send("how are you", "a2");
    let a_lines = Client::messages(&a.drain());
    let b_lines = Client::messages(&b.drain());
    let seen_by_a: Vec<(u64, Sender, &str)> =
        a_lines.iter().map(|m| (m.seq, m.from, &*m.text)).collect();
    assert_eq!(
        seen_by_a,
        [
            (1, Sender::You, "안녕하세요"),
            (2, Sender::Stranger, "hello"),
            (3, Sender::You, "how are you")
        ]
    );
    let seen_by_b: Vec<(u64, Sender)> = b_lines.iter().map(|m| (m.seq, m.from)).collect();
    assert_eq!(
        seen_by_b,
        [
            (1, Sender::Stranger),
            (2, Sender::You),
            (3, Sender::Stranger)
        ]
    );
    assert_eq!(
        a_lines[0].cid.as_deref(),
        Some("a1"),
        "the echo carries the cid"
    );
    assert_eq!(b_lines[0].cid, None, "the partner never sees the cid");
    assert_eq!(engine.stats().rooms, 1);
    assert_eq!(engine.stats().online, 2);
}

#[tokio::test(start_paused = true)]
async fn strangers_without_a_common_interest_are_matched_by_fallback_after_interest_wait() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    let mut b = Client::connect(&engine, "b").await;
    a.join(&["music"], None);
    b.join(&["books"], None);
    advance(&engine, Duration::from_millis(4_900)).await;
    assert!(matched(&a.drain()).is_none());
    advance(&engine, Duration::from_millis(100)).await;
    let m = matched(&a.drain()).expect("fallback match after interest_wait");
    assert!(m.common_interests.is_empty());
    assert!(matched(&b.drain()).is_some());
}

#[tokio::test(start_paused = true)]
async fn the_engine_timer_task_runs_the_fallback_by_itself() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    let mut b = Client::connect(&engine, "b").await;
    a.join(&["music"], None);
    b.join(&[], None);
    // No explicit tick: the timer task must wake up on its own.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(matched(&a.drain()).is_some());
    assert!(matched(&b.drain()).is_some());
}

#[tokio::test(start_paused = true)]
async fn different_languages_are_never_matched() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    let mut b = Client::connect(&engine, "b").await;
    a.join(&[], Some("ko"));
    b.join(&[], Some("en"));
    advance(&engine, Duration::from_secs(30)).await;
    assert!(matched(&a.drain()).is_none());
    assert!(matched(&b.drain()).is_none());
    assert_eq!(engine.stats().waiting, 2);
}

#[tokio::test(start_paused = true)]
async fn join_while_waiting_or_chatting_is_a_bad_state_error() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    a.join(&[], None);
    a.drain();
    a.join(&[], None);
    assert_eq!(error_codes(&a.drain()), [ErrorCode::BadState]);
    a.handle().leave();
    let (mut c, _d) = matched_pair(&engine).await;
    c.join(&[], None);
    assert_eq!(error_codes(&c.drain()), [ErrorCode::BadState]);
}

#[tokio::test(start_paused = true)]
async fn invalid_join_fields_are_a_bad_request() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    a.handle()
        .handle_text(r#"{"type":"join","interests":[""]}"#)
        .await;
    a.handle().handle_text("{oops").await;
    a.handle().handle_text(r#"{"type":"fly"}"#).await;
    assert_eq!(error_codes(&a.drain()), [ErrorCode::BadRequest; 3]);
    assert_eq!(engine.stats().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn the_configured_interest_limits_are_applied_and_announced() {
    let (engine, _) = engine_with(EngineConfig {
        max_interests: 2,
        max_interest_chars: 5,
        ..EngineConfig::default()
    });
    let mut a = Client::connect(&engine, "a").await;
    let limits = a.received.iter().find_map(|f| match f {
        ServerFrame::Hello(hello) => Some(hello.limits.clone()),
        _ => None,
    });
    let limits = limits.expect("hello");
    assert_eq!((limits.max_interests, limits.max_interest_chars), (2, 5));
    // Through the JSON path and the typed one alike.
    a.handle()
        .handle_text(r#"{"type":"join","interests":["a","b","c"]}"#)
        .await;
    a.join(&["a", "b", "c"], None);
    a.join(&["music!"], None);
    assert_eq!(error_codes(&a.drain()), [ErrorCode::BadRequest; 3]);
    a.join(&["a", "music"], None);
    assert!(a.drain().contains(&ServerFrame::Waiting));
    // Beyond the protocol's bounds is a start-up error naming the setting.
    for config in [
        EngineConfig {
            max_interests: 11,
            ..EngineConfig::default()
        },
        EngineConfig {
            max_interest_chars: 33,
            ..EngineConfig::default()
        },
    ] {
        let error = Engine::builder().config(config).build().unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_typed_api_checks_the_protocols_bounds_as_the_json_path_does() {
    let (engine, store) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.handle().send("no cid", Some(""));
    a.handle().send("long cid", Some(&"c".repeat(65)));
    a.handle()
        .report(quicktalk_core::protocol::ReportRequest {
            reason: quicktalk_core::protocol::ReportReason::Spam,
            note: Some("n".repeat(501)),
        })
        .await;
    assert_eq!(error_codes(&a.drain()), [ErrorCode::BadRequest; 3]);
    assert!(
        Client::messages(&b.drain()).is_empty(),
        "nothing was delivered"
    );
    assert!(store.reports(10).await.unwrap().is_empty());
    // At the bounds, both go through.
    a.handle().send("ok", Some(&"c".repeat(64)));
    assert_eq!(Client::messages(&b.drain()).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn send_while_idle_or_waiting_is_rejected_as_not_in_room() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    a.send("hello?", "c1");
    let rejected = rejection(&a.drain()).unwrap();
    assert_eq!(
        (rejected.reason, rejected.cid.as_deref()),
        (RejectReason::NotInRoom, Some("c1"))
    );
    a.join(&[], None);
    a.drain();
    a.send("anyone?", "c2");
    assert!(is_rejected(&a.drain(), RejectReason::NotInRoom));
}

#[tokio::test(start_paused = true)]
async fn a_line_over_max_text_chars_is_rejected_as_too_long() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send(&"가".repeat(500), "ok");
    assert_eq!(Client::messages(&a.drain()).len(), 1, "500 characters fit");
    a.send(&"가".repeat(501), "long");
    assert!(is_rejected(&a.drain(), RejectReason::TooLong));
    assert_eq!(Client::messages(&b.drain()).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_repeated_cid_is_answered_with_the_original_echo_and_not_delivered_twice() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send("once", "same");
    let first = Client::messages(&a.drain());
    a.send("once", "same");
    let second = Client::messages(&a.drain());
    assert_eq!(first, second, "the same echo, same seq and ts");
    assert_eq!(Client::messages(&b.drain()).len(), 1);
    a.send("next line", "other");
    assert_eq!(
        Client::messages(&a.drain())[0].seq,
        2,
        "no seq was spent on the repeat"
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_line_is_a_bad_request() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.send("   ", "blank");
    assert_eq!(error_codes(&a.drain()), [ErrorCode::BadRequest]);
    assert!(b.drain().is_empty());
    // Characters that show nothing are no line either: zero-width spaces, a
    // NUL, the Hangul filler, a byte-order mark.
    for (n, blank) in [
        "\u{200B}\u{200B}",
        "\u{0000}",
        "\u{3164}",
        "\u{FEFF} \u{3000}",
    ]
    .into_iter()
    .enumerate()
    {
        a.send(blank, &format!("blank{n}"));
        assert_eq!(
            error_codes(&a.drain()),
            [ErrorCode::BadRequest],
            "{blank:?}"
        );
    }
    assert!(b.drain().is_empty());
    a.send("\u{200B}hi", "visible");
    assert_eq!(Client::messages(&b.drain()).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_line_that_is_not_sent_still_ends_the_typing_indicator() {
    let (engine, _) = engine();
    let (a, mut b) = matched_pair(&engine).await;
    let too_long = "x".repeat(EngineConfig::default().max_text_chars + 1);
    for text in [too_long.as_str(), " "] {
        a.handle().typing(true);
        a.send(text, "unsent");
        assert_eq!(
            b.drain(),
            [
                ServerFrame::Typing { active: true },
                ServerFrame::Typing { active: false }
            ],
            "{text:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn lines_over_the_rate_limit_are_rejected_and_the_rest_delivered() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    for n in 0..12 {
        a.send(&format!("line {n}"), &format!("c{n}"));
    }
    let frames = a.drain();
    assert_eq!(Client::messages(&frames).len(), 10, "the burst");
    let limited: Vec<_> = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Rejected(r) if r.reason == RejectReason::RateLimited))
        .collect();
    assert_eq!(limited.len(), 2);
    assert_eq!(Client::messages(&b.drain()).len(), 10);
    advance(&engine, Duration::from_millis(200)).await;
    a.send("refilled", "c99");
    assert_eq!(Client::messages(&a.drain()).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_session_that_keeps_flooding_is_closed_and_its_partner_told_removed() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    let (c, mut d) = matched_pair(&engine).await;
    for n in 0..40 {
        a.send("spam", &format!("c{n}"));
    }
    a.drain();
    assert_eq!(a.closed, Some(CloseReason::Flooding));
    assert!(is_partner_left(&b.drain(), PartnerLeftReason::Removed));
    // Other sessions are untouched.
    c.send("still here", "x");
    assert_eq!(Client::messages(&d.drain()).len(), 1);
    assert!(c.closed.is_none());
}

#[tokio::test(start_paused = true)]
async fn typing_reaches_the_partner_only_when_it_changes() {
    let (engine, _) = engine();
    let (a, mut b) = matched_pair(&engine).await;
    a.handle().typing(true);
    a.handle().typing(true);
    a.handle().typing(false);
    assert_eq!(
        b.drain(),
        [
            ServerFrame::Typing { active: true },
            ServerFrame::Typing { active: false }
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_partner_toggling_typing_as_fast_as_it_can_is_told_at_most_four_starts_a_second() {
    let (engine, _) = engine();
    let (a, mut b) = matched_pair(&engine).await;
    // Forty toggles in a second (a page sends a start before each of many
    // quick lines) reach b as four starts and their stops, and are no flood.
    for n in 0..40 {
        a.handle().typing(n % 2 == 0);
    }
    assert!(a.closed.is_none());
    let frames = b.drain();
    assert_eq!(frames.len(), 8, "{frames:?}");
    assert_eq!(frames.last(), Some(&ServerFrame::Typing { active: false }));
    assert!(b.closed.is_none());
    // A second later it may start again.
    tokio::time::advance(Duration::from_secs(1)).await;
    a.handle().typing(true);
    let typing: Vec<ServerFrame> = b
        .drain()
        .into_iter()
        .filter(|f| matches!(f, ServerFrame::Typing { .. }))
        .collect();
    assert_eq!(typing, [ServerFrame::Typing { active: true }]);
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_typing_toggles_closes_the_sender_as_flooding_not_its_partner() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    // 300 toggles in one write used to reach b as 300 frames and close b
    // (4002, its queue full).
    for n in 0..300 {
        a.handle().typing(n % 2 == 0);
    }
    a.drain();
    assert_eq!(a.closed, Some(CloseReason::Flooding));
    let frames = b.drain();
    assert!(is_partner_left(&frames, PartnerLeftReason::Removed));
    let typing = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Typing { .. }))
        .count();
    assert!(typing <= 8, "{frames:?}");
    assert!(b.closed.is_none());
}

#[tokio::test(start_paused = true)]
async fn join_and_leave_as_fast_as_possible_closes_the_session_as_flooding() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "key-a").await;
    for _ in 0..20 {
        a.join(&[], None);
        a.handle().leave();
    }
    a.drain();
    assert_eq!(a.closed, Some(CloseReason::Flooding));
    // Ten a second is fine.
    let mut c = Client::connect(&engine, "key-c").await;
    for _ in 0..5 {
        c.join(&[], None);
        c.handle().leave();
        advance(&engine, Duration::from_millis(1000)).await;
    }
    c.drain();
    assert!(c.closed.is_none());
}

#[tokio::test(start_paused = true)]
async fn next_tells_the_partner_skipped_and_never_rematches_the_same_pair_within_the_cooldown() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.handle().next(request(&[], None));
    assert_eq!(a.drain(), [ServerFrame::Waiting]);
    assert!(is_partner_left(&b.drain(), PartnerLeftReason::Skipped));
    b.join(&[], None);
    assert_eq!(
        b.drain(),
        [ServerFrame::Waiting],
        "the cooldown keeps them apart"
    );
    let mut c = Client::connect(&engine, "c").await;
    c.join(&[], None);
    assert!(matched(&c.drain()).is_some());
    assert!(matched(&a.drain()).is_some(), "a waited longest");
    assert!(b.drain().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_pair_in_cooldown_is_matched_once_it_expires() {
    // Long silences here are not what is tested: keep the idle timeout out of the way.
    let (engine, _) = engine_with(EngineConfig {
        idle_timeout: Duration::from_secs(3600),
        ..EngineConfig::default()
    });
    let (mut a, mut b) = matched_pair(&engine).await;
    a.handle().leave();
    b.drain();
    a.join(&[], None);
    b.join(&[], None);
    a.drain();
    b.drain();
    advance(&engine, Duration::from_secs(299)).await;
    assert!(matched(&a.drain()).is_none());
    advance(&engine, Duration::from_secs(1)).await;
    assert!(matched(&a.drain()).is_some());
    assert!(matched(&b.drain()).is_some());
}

#[tokio::test(start_paused = true)]
async fn leave_tells_the_partner_left_and_both_go_idle() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    a.handle().leave();
    assert!(a.drain().is_empty());
    assert!(is_partner_left(&b.drain(), PartnerLeftReason::Left));
    b.send("hello?", "late");
    assert!(is_rejected(&b.drain(), RejectReason::NotInRoom));
    assert_eq!(engine.stats().rooms, 0);
}

#[tokio::test(start_paused = true)]
async fn leave_while_waiting_stops_waiting() {
    let (engine, _) = engine();
    let a = Client::connect(&engine, "a").await;
    a.join(&[], None);
    a.handle().leave();
    assert_eq!(engine.stats().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn ping_gets_pong() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    a.handle().handle_text(r#"{"type":"ping"}"#).await;
    assert_eq!(a.drain(), [ServerFrame::Pong]);
}

#[tokio::test(start_paused = true)]
async fn online_counts_are_pushed_when_they_change() {
    let (engine, _) = engine();
    let mut a = Client::connect(&engine, "a").await;
    let _b = Client::connect(&engine, "b").await;
    advance(&engine, Duration::from_secs(5)).await;
    assert_eq!(a.drain(), [ServerFrame::Online { count: 2 }]);
    advance(&engine, Duration::from_secs(5)).await;
    assert!(a.drain().is_empty(), "unchanged counts are not repeated");
}

#[tokio::test(start_paused = true)]
async fn online_counts_go_out_in_slices_over_the_interval_not_all_at_once() {
    let (engine, _) = engine();
    let mut clients = Vec::new();
    for n in 0..200 {
        clients.push(Client::connect(&engine, &format!("c{n}")).await);
    }
    // The default 5 s interval goes out in 50 slices, 100 ms apart: no
    // step reaches more than a fraction of the sessions, and within the
    // interval every session hears the count exactly once.
    let mut heard: Vec<Vec<ServerFrame>> = vec![Vec::new(); clients.len()];
    let mut most_in_one_step = 0;
    for _ in 0..50 {
        advance(&engine, Duration::from_millis(100)).await;
        let mut this_step = 0;
        for (frames, client) in heard.iter_mut().zip(&mut clients) {
            let new = client.drain();
            this_step += usize::from(!new.is_empty());
            frames.extend(new);
        }
        most_in_one_step = most_in_one_step.max(this_step);
    }
    assert!(
        most_in_one_step < 40,
        "{most_in_one_step} of 200 in one step"
    );
    for frames in &heard {
        assert_eq!(*frames, [ServerFrame::Online { count: 200 }]);
    }
    advance(&engine, Duration::from_secs(5)).await;
    assert!(clients.iter_mut().all(|client| client.drain().is_empty()));
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_is_closed_as_too_slow_without_touching_its_partner() {
    let config = EngineConfig {
        outbox_capacity: 8,
        rate_burst: 100,
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(config);
    let (mut a, mut b) = matched_pair(&engine).await;
    for n in 0..20 {
        a.send(&format!("line {n}"), &format!("c{n}"));
        a.drain();
    }
    b.drain();
    assert_eq!(b.closed, Some(CloseReason::TooSlow));
    assert!(a.closed.is_none());
    assert_eq!(
        Client::messages(&a.received).len(),
        20,
        "the sender got every echo"
    );
}

#[tokio::test(start_paused = true)]
async fn the_engine_refuses_sessions_past_max_sessions() {
    let config = EngineConfig {
        max_sessions: 2,
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(config);
    let _a = Client::connect(&engine, "a").await;
    let _b = Client::connect(&engine, "b").await;
    assert!(matches!(
        engine.connect("c".into()).await,
        Err(Error::ServerBusy)
    ));
}

#[tokio::test(start_paused = true)]
async fn an_invalid_config_is_refused_naming_the_setting() {
    let config = EngineConfig {
        rate_burst: 0,
        ..EngineConfig::default()
    };
    let error = Engine::builder().config(config).build().unwrap_err();
    assert!(matches!(
        error,
        Error::Config {
            setting: "rate_burst",
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_every_connection_with_1001_and_refuses_new_ones() {
    let (engine, _) = engine();
    let (mut a, mut b) = matched_pair(&engine).await;
    assert!(engine.shutdown(Duration::from_secs(5)).await);
    a.drain();
    b.drain();
    assert_eq!(a.closed, Some(CloseReason::ShuttingDown));
    assert_eq!(b.closed.map(CloseReason::code), Some(1001));
    assert!(matches!(
        engine.connect("c".into()).await,
        Err(Error::ShuttingDown)
    ));
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    assert!(matches!(Engine::builder().build(), Err(Error::NoRuntime)));
}

#[test]
fn building_in_a_runtime_without_timers_is_an_error_not_a_broken_engine() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let built = runtime.block_on(async { Engine::builder().build() });
    assert!(matches!(built, Err(Error::NoRuntime)));
}

#[tokio::test]
async fn shutdown_stores_lines_at_once_without_waiting_out_the_store_linger() {
    // A writer gathering a batch for 9 s must not hold a 2-s shutdown past
    // its timeout with the line unstored (it slept the whole linger).
    for store_writer_thread in [false, true] {
        let config = EngineConfig {
            store_linger: Duration::from_secs(9),
            store_writer_thread,
            ..EngineConfig::default()
        };
        let (engine, store) = engine_with(config);
        let (a, _b) = matched_pair(&engine).await;
        a.send("hello", "c1");
        // Let the writer take the line and start gathering.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            engine.shutdown(Duration::from_secs(2)).await,
            "shutdown drained the store queue in time (thread: {store_writer_thread})"
        );
        assert_eq!(store.all_messages().len(), 1);
    }
}

#[test]
fn a_store_linger_over_ten_seconds_and_a_text_limit_beyond_the_frame_limit_are_refused() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let long_linger = EngineConfig {
            store_linger: Duration::from_secs(3600),
            ..EngineConfig::default()
        };
        let built = Engine::builder().config(long_linger).build();
        assert!(matches!(
            built,
            Err(Error::Config {
                setting: "store_linger",
                ..
            })
        ));
        let long_text = EngineConfig {
            max_text_chars: 2000,
            ..EngineConfig::default()
        };
        let built = Engine::builder().config(long_text).build();
        assert!(matches!(
            built,
            Err(Error::Config {
                setting: "max_text_chars",
                ..
            })
        ));
    });
}

#[tokio::test]
async fn a_store_writer_on_its_own_thread_stores_every_line_and_flushes_on_shutdown() {
    let config = EngineConfig {
        store_writer_thread: true,
        rate_per_sec: 1000.0,
        rate_burst: 1000,
        ..EngineConfig::default()
    };
    let (engine, store) = engine_with(config);
    let (a, b) = matched_pair(&engine).await;
    for n in 0..50 {
        a.send(&format!("line {n}"), &format!("c{n}"));
        b.send(&format!("reply {n}"), &format!("r{n}"));
    }
    assert!(engine.shutdown(Duration::from_secs(5)).await);
    let stored = store.all_messages();
    assert_eq!(
        stored.len(),
        100,
        "every line reached the store before shutdown returned"
    );
    let mut seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<u64>>());
}

/// The nice value in a Linux `stat` file (field 19; the fields after the
/// `(comm)` part, which may itself hold spaces).
#[cfg(target_os = "linux")]
fn nice_in(stat: &std::path::Path) -> Option<i32> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(16)?.parse().ok()
}

/// The nice values of this process's threads called `comm` (a thread name
/// cut to 15 bytes, as Linux keeps it).
#[cfg(target_os = "linux")]
fn thread_nices(comm: &str) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            (name.trim() == comm).then(|| nice_in(&path.join("stat")))?
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_store_writer_thread_runs_at_the_configured_lower_priority() {
    let own = nice_in(std::path::Path::new("/proc/thread-self/stat")).expect("own nice value");
    // Other tests' writers run at the default 10; 7 is this test's own.
    let config = EngineConfig {
        store_writer_thread: true,
        store_writer_nice: 7,
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(config);
    let expected = (own + 7).min(19);
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = thread_nices("quicktalk-store");
        if seen.contains(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        seen.contains(&expected),
        "a store writer at nice {expected} (the test's {own} + 7), saw {seen:?}"
    );
    assert!(engine.shutdown(Duration::from_secs(5)).await);
}

fn bot_request(interests: &[&str]) -> quicktalk_core::protocol::JoinRequest {
    quicktalk_core::protocol::JoinRequest {
        bot: true,
        ..request(interests, None)
    }
}

#[tokio::test(start_paused = true)]
async fn a_bot_is_refused_unless_the_operator_allows_bots() {
    let (engine, _) = engine();
    let mut bot = Client::connect(&engine, "bot").await;
    let mut person = Client::connect(&engine, "person").await;
    person.join(&[], None);
    person.drain();
    bot.handle().join(bot_request(&[]));
    assert_eq!(error_codes(&bot.drain()), [ErrorCode::BotsNotAllowed]);
    assert!(person.drain().is_empty(), "the refused bot was not matched");
    person.handle().leave();
    // A refused `next` keeps the chat the session is in.
    let (mut a, mut b) = matched_pair(&engine).await;
    a.handle().next(bot_request(&[]));
    assert_eq!(error_codes(&a.drain()), [ErrorCode::BotsNotAllowed]);
    assert!(b.drain().is_empty(), "the partner was not told anything");
    a.send("still here", "a1");
    assert_eq!(Client::messages(&b.drain()).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_allowed_bot_is_labelled_to_its_partner_and_never_meets_another_bot() {
    let (engine, _) = engine_with(EngineConfig {
        allow_bots: true,
        ..EngineConfig::default()
    });
    let mut bot1 = Client::connect(&engine, "bot1").await;
    let mut bot2 = Client::connect(&engine, "bot2").await;
    bot1.handle().join(bot_request(&[]));
    bot2.handle().join(bot_request(&[]));
    assert_eq!(bot1.drain(), [ServerFrame::Waiting]);
    assert_eq!(bot2.drain(), [ServerFrame::Waiting]);
    let mut person = Client::connect(&engine, "person").await;
    person.join(&[], None);
    let seen_by_person = matched(&person.drain()).expect("matched with the first bot");
    assert!(seen_by_person.partner_bot, "the person is told it is a bot");
    let seen_by_bot = matched(&bot1.drain()).expect("the longest-waiting bot");
    assert!(!seen_by_bot.partner_bot, "the bot's partner is a person");
    assert!(bot2.drain().is_empty(), "bots wait for people");
    // The next person meets the second bot; two people then meet unlabelled.
    let mut second = Client::connect(&engine, "second").await;
    second.join(&[], None);
    assert!(matched(&second.drain()).unwrap().partner_bot);
    assert!(matched(&bot2.drain()).is_some());
    let (mut c, mut d) = (
        Client::connect(&engine, "c").await,
        Client::connect(&engine, "d").await,
    );
    c.join(&[], None);
    d.join(&[], None);
    assert!(!matched(&c.drain()).unwrap().partner_bot);
    assert!(!matched(&d.drain()).unwrap().partner_bot);
}
