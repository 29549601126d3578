//! The message format on the topics: one JSON object per event,
//! `{"v":1,"node":"<publisher>","body":<BusEvent>}`, keyed by room id.
//!
//! JSON rather than a compact binary: an event is a few hundred bytes and
//! encoding it costs about a microsecond, next to a network round trip of
//! hundreds; in exchange anyone can read the topic with the stock console
//! consumer, and new fields are additive. `v` changes only for a change old
//! readers must not misread; a reader skips (and counts) what it cannot read.

use quicktalk_core::ports::event_bus::BusEvent;
use serde::{Deserialize, Serialize};

/// The envelope version this crate writes and reads.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Outgoing<'a> {
    v: u32,
    node: &'a str,
    body: &'a BusEvent,
}

/// An event read in one pass (no intermediate JSON tree: every node reads
/// every event of the cluster).
#[derive(Deserialize)]
struct Incoming {
    v: u32,
    node: String,
    body: BusEvent,
}

/// Only the version, to say why an event could not be read.
#[derive(Deserialize)]
struct Version {
    v: u32,
}

/// An event as read from a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The node that published it.
    pub node: String,
    /// The event.
    pub event: BusEvent,
}

/// The bytes of one event published by `node`.
pub fn encode(node: &str, event: &BusEvent) -> Vec<u8> {
    serde_json::to_vec(&Outgoing {
        v: VERSION,
        node,
        body: event,
    })
    // Plain data with string keys: serializing cannot fail.
    .unwrap_or_default()
}

/// Reads one event; the error says why not.
pub fn decode(bytes: &[u8]) -> Result<Envelope, String> {
    let version_error = |v: u32| format!("envelope version {v} (this build reads {VERSION})");
    match serde_json::from_slice::<Incoming>(bytes) {
        Ok(incoming) if incoming.v == VERSION => Ok(Envelope {
            node: incoming.node,
            event: incoming.body,
        }),
        Ok(incoming) => Err(version_error(incoming.v)),
        Err(error) => match serde_json::from_slice::<Version>(bytes) {
            Ok(Version { v }) if v != VERSION => Err(version_error(v)),
            _ => Err(error.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use quicktalk_core::ports::event_bus::{ClusterMember, ClusterSeat};
    use quicktalk_core::protocol::PartnerLeftReason;
    use quicktalk_core::{ClientKey, RoomId, SessionId};

    use super::*;

    fn member(session: u64) -> ClusterMember {
        ClusterMember {
            node: format!("node-{session}").into(),
            session: SessionId::from_raw(session),
            client_key: ClientKey::from("k"),
            lang: Some("ko".into()),
            interests: vec!["music".into()],
            bot: session == 2,
            ticket: session * 10,
            resume: Some("ab12".into()),
        }
    }

    #[test]
    fn every_event_round_trips() {
        let room = RoomId::from_raw(7);
        let events = [
            BusEvent::Matched {
                room,
                sessions: [SessionId::from_raw(1), SessionId::from_raw(2)],
                client_keys: [ClientKey::from("a"), ClientKey::from("b")],
                common_interests: vec!["music".into()],
                ts: 1,
                cluster: Some([
                    ClusterSeat {
                        node: "node-a".into(),
                        resume: Some("ef56".into()),
                    },
                    ClusterSeat {
                        node: "node-b".into(),
                        resume: None,
                    },
                ]),
            },
            BusEvent::Message {
                room,
                seq: 3,
                from: SessionId::from_raw(1),
                client_key: ClientKey::from("a"),
                text: "안녕 \"quoted\"".into(),
                ts: 2,
                masked: true,
                cid: Some("c-1".into()),
            },
            BusEvent::Typing {
                room,
                from: SessionId::from_raw(2),
                active: true,
            },
            BusEvent::PartnerLeft {
                room,
                left: SessionId::from_raw(2),
                reason: PartnerLeftReason::Skipped,
                ts: 4,
            },
            BusEvent::Waiting(member(1)),
            BusEvent::Cancelled {
                node: "node-a".into(),
                session: SessionId::from_raw(1),
                ticket: 3,
            },
            BusEvent::Excluded {
                sessions: [SessionId::from_raw(1), SessionId::from_raw(2)],
                client_keys: Some([ClientKey::from("a"), ClientKey::from("b")]),
                age_ms: 1500,
            },
            BusEvent::Proposed {
                room,
                members: [member(1), member(2)],
                common_interests: vec!["music".into()],
                waited_ms: [1200, 0],
            },
            BusEvent::Answered {
                room,
                session: SessionId::from_raw(2),
                accept: false,
            },
            BusEvent::Said {
                room,
                from: SessionId::from_raw(2),
                text: "hi".into(),
                cid: None,
                masked: false,
                ts: 5,
            },
            BusEvent::Heartbeat {
                node: "node-b".into(),
                online: 42,
                leaving: true,
                instance: 7,
            },
            BusEvent::Reannounce {
                node: "node-b".into(),
            },
            BusEvent::Rekeyed {
                room,
                session: SessionId::from_raw(2),
                resume: "cd34".into(),
            },
            BusEvent::Locate {
                digest: "ab12".into(),
                asker: "node-c".into(),
            },
            BusEvent::Located {
                digest: "ab12".into(),
                asker: Some("node-c".into()),
                session: SessionId::from_raw(1),
                client_key: ClientKey::from("a"),
                room,
                partner: SessionId::from_raw(2),
                node: "node-a".into(),
                since_ms: 6,
            },
            BusEvent::Located {
                digest: "ef56".into(),
                asker: None,
                session: SessionId::from_raw(2),
                client_key: ClientKey::from("b"),
                room,
                partner: SessionId::from_raw(1),
                node: "node-b".into(),
                since_ms: 7,
            },
        ];
        for event in events {
            let bytes = encode("node-a", &event);
            let back = decode(&bytes).unwrap();
            assert_eq!((back.node.as_str(), &back.event), ("node-a", &event));
        }
    }

    #[test]
    fn a_newer_version_or_garbage_is_refused_with_a_reason() {
        let newer = br#"{"v":2,"node":"x","body":{"event":"typing"}}"#;
        assert!(decode(newer).unwrap_err().contains("version 2"));
        assert!(decode(b"not json").is_err());
        let unknown = br#"{"v":1,"node":"x","body":{"event":"teleported"}}"#;
        assert!(decode(unknown).is_err());
    }
}
