//! `SessionHandle`: what a transport calls for one connection.

use std::sync::Arc;

use crate::delivery::DeliveryMark;
use crate::engine::Shared;
use crate::engine::chat::Incoming;
use crate::engine::hub::{ConnId, LOCATE_WAIT, ResumeStep};
use crate::ids::{RoomId, SessionId};
use crate::outbox::Outbox;
use crate::protocol::{
    ClientFrame, ErrorCode, JoinRequest, ProtocolError, ReportRequest, ServerFrame,
};

/// One connection's way into the engine. Every answer (echo, `rejected`,
/// `error`, `pong`, ...) arrives on the connection's
/// [`EventStream`](crate::EventStream), never as a return value, so that
/// every transport sees the same frames in the same order.
///
/// Dropping the handle is the same as [`SessionHandle::disconnect`]: the
/// session is kept for the resume grace period.
pub struct SessionHandle {
    shared: Arc<Shared>,
    conn: ConnId,
    outbox: Arc<Outbox>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl SessionHandle {
    pub(crate) fn new(shared: Arc<Shared>, conn: ConnId, outbox: Arc<Outbox>) -> Self {
        Self {
            shared,
            conn,
            outbox,
        }
    }

    /// The session this connection speaks for now (it changes after a
    /// successful `resume`); `None` once the connection is detached.
    pub fn session(&self) -> Option<SessionId> {
        self.shared.hub.lock().session_for(self.conn)
    }

    /// Parses one text frame and acts on it; a malformed frame is answered
    /// with `error {code: "bad_request"}`.
    pub async fn handle_text(&self, text: &str) {
        match ClientFrame::parse(text) {
            Ok(frame) => self.handle_frame(frame).await,
            Err(error) => {
                self.outbox.wait_for_room().await;
                self.error(error);
            }
        }
    }

    /// Acts on one parsed client frame.
    ///
    /// Waits first while this connection's outbound queue is half full: a
    /// client sending frames faster than it reads the answers is slowed
    /// down, not closed as too slow (4002) by its own answers.
    pub async fn handle_frame(&self, frame: ClientFrame) {
        self.outbox.wait_for_room().await;
        match frame {
            ClientFrame::Join(request) => self.join(request),
            ClientFrame::Send(request) => {
                // A store falling behind slows the senders rather than
                // dropping their lines (see `feed`).
                self.shared.store_health.wait_for_room().await;
                self.send(&request.text, request.cid.as_deref());
            }
            ClientFrame::Typing { active } => self.typing(active),
            ClientFrame::Next(request) => self.next(request),
            ClientFrame::Leave => self.leave(),
            ClientFrame::Report(request) => self.report(request).await,
            ClientFrame::Resume(request) => {
                self.resume_in(&request.token, request.last_seq, request.room)
            }
            ClientFrame::Ping => self.ping(),
        }
    }

    /// Enters the match queue (`join`). `error {code: "bad_state"}` unless idle.
    pub fn join(&self, mut request: JoinRequest) {
        if let Err(error) = self.normalize(&mut request) {
            return self.error(error);
        }
        self.shared
            .with_hub(|hub, now| hub.join(self.conn, request, now));
    }

    /// Ends the current chat, if any, and queues again (`next`).
    pub fn next(&self, mut request: JoinRequest) {
        if let Err(error) = self.normalize(&mut request) {
            return self.error(error);
        }
        self.shared
            .with_hub(|hub, now| hub.next(self.conn, request, now));
    }

    /// Normalises a `join`/`next` within the engine's interest limits.
    fn normalize(&self, request: &mut JoinRequest) -> Result<(), ProtocolError> {
        let config = &self.shared.config;
        request.normalize_within(config.max_interests, config.max_interest_chars)
    }

    /// Ends the chat or stops waiting, staying connected (`leave`).
    pub fn leave(&self) {
        self.shared.with_hub(|hub, now| hub.leave(self.conn, now));
    }

    /// Sends a chat line (`send`). The moderator runs here, outside the
    /// engine's lock; the echo (or `rejected`) arrives on the stream. A `cid`
    /// outside the protocol's 1 to 64 characters is `error {code:
    /// "bad_request"}`.
    ///
    /// This never waits. A transport relaying a client's frames should call
    /// [`SessionHandle::handle_text`] or [`SessionHandle::handle_frame`]
    /// instead: they also hold the sender back while the store's queue is
    /// three quarters full, so a store falling behind slows chat rather than
    /// losing lines.
    pub fn send(&self, text: &str, cid: Option<&str>) {
        if let Some(Err(error)) = cid.map(crate::protocol::check_cid) {
            return self.error(error);
        }
        let fits = text.len() <= self.shared.config.max_text_chars
            || text.chars().count() <= self.shared.config.max_text_chars;
        let verdict = fits.then(|| self.shared.moderator.check(text));
        let line = Incoming { text, cid, verdict };
        self.shared
            .with_hub(|hub, now| hub.send(self.conn, line, now));
    }

    /// Typing indicator (`typing`).
    pub fn typing(&self, active: bool) {
        self.shared
            .with_hub(|hub, now| hub.typing(self.conn, active, now));
    }

    /// Reports the current or most recent partner (`report`). Answers
    /// `reported` once the store has the report.
    pub async fn report(&self, request: ReportRequest) {
        if let Err(error) = request.validate() {
            return self.error(error);
        }
        let Some((session, report)) = self
            .shared
            .with_hub(|hub, now| hub.report(self.conn, request, now))
        else {
            return;
        };
        let frame = match self.shared.store.save_report(&report).await {
            Ok(()) => {
                self.shared.hub.lock().report_stored(session, report.room);
                return;
            }
            Err(error) => {
                tracing::error!(%error, "could not store a report");
                ProtocolError {
                    code: ErrorCode::ServerBusy,
                    message: "the report could not be stored; try again".into(),
                }
                .to_frame()
            }
        };
        self.shared.hub.lock().push(session, frame);
    }

    /// Restores a dropped session on this connection (`resume`): every line
    /// of its room with `seq > last_seq` is replayed.
    pub fn resume(&self, token: &str, last_seq: u64) {
        self.resume_in(token, last_seq, None);
    }

    /// Like [`SessionHandle::resume`], naming the room `last_seq` belongs to;
    /// if the session has moved to another room since, everything in the new
    /// room is replayed.
    pub fn resume_in(&self, token: &str, last_seq: u64, room: Option<RoomId>) {
        let step = self
            .shared
            .with_hub(|hub, now| hub.resume(self.conn, token, last_seq, room, now));
        // Cluster mode: a session of another node; its room is read back
        // from the bus and the resume finishes when it is (after asking the
        // other nodes where it was, if this node never heard of it).
        let Some(step) = step else {
            return;
        };
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let handover = match step {
                ResumeStep::Handover(handover) => handover,
                ResumeStep::Locate(mut locating) => {
                    let _ = tokio::time::timeout(LOCATE_WAIT, &mut locating.found).await;
                    match shared.with_hub(|hub, _| hub.located(locating)) {
                        Some(handover) => handover,
                        None => return,
                    }
                }
            };
            let history = match &shared.bus {
                Some(bus) => {
                    // The room ends on the bus first, so the read has every
                    // line acknowledged in it.
                    let end = shared.with_hub(|hub, _| hub.handover_end(&handover));
                    match bus.publish(&end).await {
                        Ok(()) => bus.room_history(handover.room, handover.since_ms).await,
                        Err(error) => Err(error),
                    }
                }
                None => Ok(Vec::new()),
            };
            shared.with_hub(|hub, now| hub.adopt(handover, history, now));
        });
    }

    /// Application-level ping: answers `pong`.
    pub fn ping(&self) {
        self.shared.with_hub(|hub, now| {
            if let Some(id) = hub.session_of(self.conn, now) {
                hub.push(id, ServerFrame::Pong);
            }
        });
    }

    /// Records activity without a frame (e.g. a WebSocket pong), so the idle
    /// timeout does not fire.
    pub fn touch(&self) {
        let mut hub = self.shared.hub.lock();
        hub.session_of(self.conn, tokio::time::Instant::now());
    }

    /// The client has received every line up to `mark` (it came back in a
    /// WebSocket pong, say): once a later mark shows the connection stayed
    /// open [`EngineConfig::delivery_settle`](crate::EngineConfig::delivery_settle)
    /// longer, the room may drop what both members have. Also counts as
    /// activity, like [`SessionHandle::touch`]. See [`crate::delivery`].
    pub fn delivered(&self, mark: DeliveryMark) {
        let mut hub = self.shared.hub.lock();
        hub.delivered(self.conn, mark, tokio::time::Instant::now());
    }

    /// Sends an `error` frame to this connection (e.g. `unsupported` for a
    /// binary frame the transport received).
    pub fn error(&self, error: ProtocolError) {
        self.shared.with_hub(|hub, now| {
            if let Some(id) = hub.session_of(self.conn, now) {
                hub.push_error(id, error);
            }
        });
    }

    /// The connection is gone. The session stays resumable for the grace
    /// period; its partner notices nothing unless the grace runs out.
    pub fn disconnect(self) {
        // Drop does the work.
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        let conn = self.conn;
        self.shared.with_hub(|hub, now| hub.disconnect(conn, now));
    }
}
