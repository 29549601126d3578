//! Unit tests of the state machine: events in, frames and view out.

use super::*;

fn search() -> Search {
    Search {
        interests: vec!["music".into()],
        lang: None,
    }
}

fn hello(token: &str) -> Event {
    Event::Frame(ServerFrame::Hello {
        resume_token: token.into(),
        online: 2,
    })
}

fn matched(room: &str) -> Event {
    Event::Frame(ServerFrame::Matched {
        room: room.into(),
        common_interests: vec!["music".into()],
        partner_lang: None,
        partner_bot: false,
    })
}

fn message(seq: u64, from: Sender, text: &str, cid: Option<&str>) -> Event {
    Event::Frame(ServerFrame::Message {
        seq,
        from,
        text: text.into(),
        cid: cid.map(Into::into),
        masked: false,
    })
}

fn send(text: &str, cid: &str) -> Action {
    Action::Send(ClientFrame::Send {
        text: text.into(),
        cid: cid.into(),
    })
}

/// A client that got `hello` with token `t1` and is matched in room `r1`.
fn chatting() -> Client {
    let mut client = Client::new(search());
    client.handle(Event::Dialing);
    client.handle(Event::Connected);
    assert_eq!(
        client.handle(hello("t1")),
        [Action::Send(ClientFrame::Join(search()))],
        "joins at start"
    );
    client.handle(Event::Frame(ServerFrame::Waiting));
    client.handle(matched("r1"));
    client
}

fn mine(client: &Client) -> Vec<(String, String, Delivery)> {
    client
        .view()
        .lines
        .iter()
        .filter_map(|line| match line {
            ChatLine::Mine {
                cid,
                text,
                delivery,
                ..
            } => Some((cid.clone(), text.clone(), delivery.clone())),
            _ => None,
        })
        .collect()
}

fn stranger_texts(client: &Client) -> Vec<String> {
    client
        .view()
        .lines
        .iter()
        .filter_map(|line| match line {
            ChatLine::Stranger { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Drops the connection and reconnects up to the `resume` frame; returns it.
fn drop_and_reconnect(client: &mut Client, code: Option<u16>) -> Vec<Action> {
    let actions = client.handle(Event::Closed { code });
    assert!(matches!(actions[..], [Action::Reconnect { .. }]));
    client.handle(Event::Dialing);
    client.handle(Event::Connected);
    client.handle(hello("fresh"))
}

#[test]
fn quitting_in_a_chat_leaves_it_first() {
    let mut client = chatting();
    assert_eq!(
        client.handle(Event::Quit),
        [Action::Send(ClientFrame::Leave), Action::Exit]
    );
    let mut idle = Client::new(search());
    assert_eq!(idle.handle(Event::Quit), [Action::Exit]);
}

#[test]
fn own_line_is_pending_until_the_echo_with_its_cid() {
    let mut client = chatting();
    let actions = client.handle(Event::Submit("hello".into()));
    assert_eq!(actions, [send("hello", "cli-1")]);
    assert_eq!(
        mine(&client),
        [("cli-1".into(), "hello".into(), Delivery::Pending)]
    );

    // An echo of another cid does not ack it.
    client.handle(message(1, Sender::You, "other", Some("cli-9")));
    assert_eq!(mine(&client)[0].2, Delivery::Pending);

    client.handle(Event::Frame(ServerFrame::Message {
        seq: 2,
        from: Sender::You,
        text: "h***o".into(),
        cid: Some("cli-1".into()),
        masked: true,
    }));
    assert_eq!(
        mine(&client)[0],
        (
            "cli-1".into(),
            "h***o".into(),
            Delivery::Delivered { masked: true }
        ),
        "acked, showing the moderated text"
    );
}

#[test]
fn rejected_line_is_marked_with_its_reason() {
    let mut client = chatting();
    client.handle(Event::Submit("call me 010-1234-5678".into()));
    client.handle(Event::Frame(ServerFrame::Rejected {
        cid: Some("cli-1".into()),
        reason: "moderation".into(),
        category: Some("contact".into()),
    }));
    assert_eq!(
        mine(&client)[0].2,
        Delivery::Rejected(Rejection {
            reason: "moderation".into(),
            category: Some("contact".into())
        })
    );
}

#[test]
fn lines_are_deduplicated_by_room_and_seq() {
    let mut client = chatting();
    client.handle(message(1, Sender::Stranger, "one", None));
    client.handle(message(2, Sender::Stranger, "two", None));
    client.handle(message(2, Sender::Stranger, "two", None));
    client.handle(message(1, Sender::Stranger, "one", None));
    assert_eq!(stranger_texts(&client), ["one", "two"]);

    // A new room counts from 1 again.
    client.handle(matched("r2"));
    client.handle(message(1, Sender::Stranger, "new one", None));
    assert_eq!(stranger_texts(&client), ["one", "two", "new one"]);
}

#[test]
fn resume_is_the_first_frame_after_a_drop_with_token_last_seq_and_room() {
    let mut client = chatting();
    client.handle(message(1, Sender::Stranger, "one", None));
    client.handle(message(2, Sender::Stranger, "two", None));

    let actions = drop_and_reconnect(&mut client, Some(1006));
    assert_eq!(
        actions,
        [Action::Send(ClientFrame::Resume {
            token: "t1".into(),
            last_seq: 2,
            room: Some("r1".into()),
        })]
    );
    assert_eq!(client.view().connection, Connection::Resuming);

    // The next resume uses the token from `resumed`, not the first `hello`.
    client.handle(Event::Frame(ServerFrame::Resumed {
        room: Some("r1".into()),
        resume_token: "t2".into(),
    }));
    let actions = drop_and_reconnect(&mut client, None);
    assert_eq!(
        actions,
        [Action::Send(ClientFrame::Resume {
            token: "t2".into(),
            last_seq: 2,
            room: Some("r1".into()),
        })]
    );
}

#[test]
fn unacknowledged_lines_are_resent_with_the_same_cid_after_resumed() {
    let mut client = chatting();
    client.handle(Event::Submit("first".into()));
    client.handle(message(1, Sender::You, "first", Some("cli-1")));
    client.handle(Event::Submit("lost in the drop".into()));
    drop_and_reconnect(&mut client, Some(1006));

    // Typed while offline: nothing is sent, the line waits.
    assert_eq!(client.handle(Event::Submit("typed offline".into())), []);

    let actions = client.handle(Event::Frame(ServerFrame::Resumed {
        room: Some("r1".into()),
        resume_token: "t2".into(),
    }));
    assert_eq!(
        actions,
        [
            send("lost in the drop", "cli-2"),
            send("typed offline", "cli-3")
        ]
    );

    // The replayed echo acks the line once; a repeated echo changes nothing.
    client.handle(message(2, Sender::You, "lost in the drop", Some("cli-2")));
    client.handle(message(2, Sender::You, "lost in the drop", Some("cli-2")));
    client.handle(message(3, Sender::You, "typed offline", Some("cli-3")));
    let delivered = Delivery::Delivered { masked: false };
    assert_eq!(
        mine(&client)
            .into_iter()
            .map(|(_, _, delivery)| delivery)
            .collect::<Vec<_>>(),
        [delivered.clone(), delivered.clone(), delivered]
    );
}

#[test]
fn a_stranger_line_replayed_after_a_resume_goes_above_our_waiting_lines() {
    let mut client = chatting();
    drop_and_reconnect(&mut client, Some(1006));
    client.handle(Event::Submit("typed offline".into()));
    client.handle(Event::Frame(ServerFrame::Resumed {
        room: Some("r1".into()),
        resume_token: "t2".into(),
    }));
    // The stranger's line the drop swallowed (seq 1), then our echo (seq 2).
    client.handle(message(1, Sender::Stranger, "are you there?", None));
    client.handle(message(2, Sender::You, "typed offline", Some("cli-1")));
    let order: Vec<&str> = client
        .view()
        .lines
        .iter()
        .filter_map(|line| match line {
            ChatLine::Mine { text, .. } | ChatLine::Stranger { text, .. } => Some(text.as_str()),
            ChatLine::Notice(_) => None,
        })
        .collect();
    assert_eq!(order, ["are you there?", "typed offline"], "seq order");
}

#[test]
fn failed_resume_adopts_the_fresh_session_and_queues_again() {
    let mut client = chatting();
    client.handle(Event::Submit("pending".into()));
    drop_and_reconnect(&mut client, None);
    let actions = client.handle(Event::Frame(ServerFrame::Error {
        code: "resume_failed".into(),
        message: String::new(),
    }));
    assert_eq!(actions, [Action::Send(ClientFrame::Join(search()))]);
    assert_eq!(
        mine(&client)[0].2,
        Delivery::Rejected(Rejection::new("connection_lost"))
    );

    // The next drop resumes the fresh session from its own `hello`.
    let actions = drop_and_reconnect(&mut client, None);
    assert!(matches!(
        &actions[..],
        [Action::Send(ClientFrame::Resume { token, last_seq: 0, room: None })] if token == "fresh"
    ));
}

#[test]
fn a_drop_while_waiting_joins_again_after_resumed() {
    let mut client = Client::new(search());
    client.handle(hello("t1"));
    client.handle(Event::Frame(ServerFrame::Waiting));
    drop_and_reconnect(&mut client, None);
    let actions = client.handle(Event::Frame(ServerFrame::Resumed {
        room: None,
        resume_token: "t2".into(),
    }));
    assert_eq!(actions, [Action::Send(ClientFrame::Join(search()))]);
}

#[test]
fn no_reconnect_after_close_1008_or_4003() {
    for code in [1008, 4003] {
        let mut client = chatting();
        assert_eq!(client.handle(Event::Closed { code: Some(code) }), []);
        assert_eq!(client.view().connection, Connection::Closed { code });
        // Lines typed now can never go out, so they do not wait forever.
        assert_eq!(client.handle(Event::Submit("anyone?".into())), []);
        assert_eq!(
            mine(&client)[0].2,
            Delivery::Rejected(Rejection::new("connection_lost"))
        );
    }
    for code in [
        None,
        Some(1000),
        Some(1001),
        Some(1006),
        Some(1013),
        Some(4001),
    ] {
        let mut client = chatting();
        assert!(
            matches!(
                client.handle(Event::Closed { code })[..],
                [Action::Reconnect { .. }]
            ),
            "code {code:?} reconnects"
        );
    }
}

#[test]
fn a_refused_upgrade_says_why_and_stops_only_when_retrying_cannot_help() {
    // 401 (a login is needed) and 403 (origin or address not allowed): no
    // retry loop posing as a lost connection.
    for status in [401, 403] {
        let mut client = Client::new(search());
        client.handle(Event::Dialing);
        client.handle(Event::Refused { status });
        assert_eq!(client.handle(Event::Closed { code: None }), []);
        assert_eq!(client.view().connection, Connection::Refused { status });
    }
    // 429 (over a cap) may pass later: retried, with the reason shown.
    let mut client = Client::new(search());
    client.handle(Event::Dialing);
    client.handle(Event::Refused { status: 429 });
    assert!(matches!(
        client.handle(Event::Closed { code: None })[..],
        [Action::Reconnect { .. }]
    ));
    assert!(matches!(
        client.view().connection,
        Connection::Reconnecting {
            why: Retry::Status(429),
            ..
        }
    ));
    // Nothing answered the dial: unreachable, not lost.
    client.handle(Event::Dialing);
    client.handle(Event::Closed { code: None });
    assert!(matches!(
        client.view().connection,
        Connection::Reconnecting {
            why: Retry::Unreachable,
            ..
        }
    ));
}

#[test]
fn backoff_doubles_from_half_a_second_to_eight() {
    let delays: Vec<_> = (1..=7).map(backoff).collect();
    let ms: Vec<_> = delays.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 8000, 8000]);

    // Consecutive failures grow the delay; a `hello` resets it.
    let mut client = chatting();
    let mut after = Vec::new();
    for _ in 0..3 {
        if let [Action::Reconnect { after: delay }] =
            client.handle(Event::Closed { code: None })[..]
        {
            after.push(delay.as_millis());
        }
    }
    assert_eq!(after, [500, 1000, 2000]);
    client.handle(hello("again"));
    assert!(matches!(
        client.handle(Event::Closed { code: None })[..],
        [Action::Reconnect { after }] if after == FIRST_BACKOFF
    ));
}

#[test]
fn typing_is_sent_only_on_changes_and_cleared_by_sending() {
    let mut client = chatting();
    let typing = |active| Action::Send(ClientFrame::Typing { active });
    assert_eq!(
        client.handle(Event::InputChanged { empty: false }),
        [typing(true)]
    );
    assert_eq!(client.handle(Event::InputChanged { empty: false }), []);
    assert_eq!(
        client.handle(Event::InputChanged { empty: true }),
        [typing(false)]
    );
    assert_eq!(client.handle(Event::InputChanged { empty: true }), []);

    client.handle(Event::InputChanged { empty: false });
    assert_eq!(
        client.handle(Event::Submit("hi".into())),
        [typing(false), send("hi", "cli-1")]
    );

    // Not in a room: nothing to tell.
    client.handle(Event::Frame(ServerFrame::PartnerLeft {
        reason: "left".into(),
    }));
    assert_eq!(client.handle(Event::InputChanged { empty: false }), []);
}

#[test]
fn partner_typing_shows_until_their_line_arrives() {
    let mut client = chatting();
    client.handle(Event::Frame(ServerFrame::Typing { active: true }));
    assert!(client.view().partner_typing);
    client.handle(message(1, Sender::Stranger, "hey", None));
    assert!(!client.view().partner_typing);
}

#[test]
fn commands_send_their_frames() {
    let mut client = chatting();
    assert_eq!(
        client.handle(Event::Submit("/next".into())),
        [Action::Send(ClientFrame::Next(search()))]
    );
    assert_eq!(
        client.handle(Event::Submit("/report spam buy my stuff".into())),
        [Action::Send(ClientFrame::Report {
            reason: "spam".into(),
            note: Some("buy my stuff".into())
        })]
    );
    client.handle(Event::Frame(ServerFrame::Reported));
    assert_eq!(
        client.view().lines.last(),
        Some(&ChatLine::Notice(Notice::Reported))
    );
    assert_eq!(
        client.handle(Event::Submit("/leave".into())),
        [Action::Send(ClientFrame::Leave)]
    );
    assert_eq!(client.view().activity, Activity::Idle);
    assert_eq!(
        client.handle(Event::Submit("/join".into())),
        [Action::Send(ClientFrame::Join(search()))]
    );
    assert_eq!(client.handle(Event::Submit("/quit".into())), [Action::Exit]);
    assert_eq!(
        client.handle(Event::Closed { code: Some(1000) }),
        [],
        "no reconnect after quitting"
    );
}

#[test]
fn bad_commands_and_offline_commands_only_show_a_notice() {
    let mut client = Client::new(search());
    assert_eq!(client.handle(Event::Submit("/next".into())), []);
    assert_eq!(
        client.view().lines.last(),
        Some(&ChatLine::Notice(Notice::NotConnected))
    );
    assert_eq!(client.handle(Event::Submit("/report rude".into())), []);
    assert_eq!(
        client.view().lines.last(),
        Some(&ChatLine::Notice(Notice::ReportUsage))
    );
}

#[test]
fn bot_partner_is_marked() {
    let mut client = chatting();
    client.handle(Event::Frame(ServerFrame::Matched {
        room: "r2".into(),
        common_interests: vec![],
        partner_lang: Some("en".into()),
        partner_bot: true,
    }));
    client.handle(message(1, Sender::Stranger, "beep", None));
    assert!(matches!(&client.view().activity, Activity::Chatting(p) if p.bot));
    assert_eq!(
        client.view().lines.last(),
        Some(&ChatLine::Stranger {
            text: "beep".into(),
            masked: false,
            bot: true
        })
    );
}
