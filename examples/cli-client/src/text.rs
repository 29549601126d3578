//! Every text the client shows, in English and Korean.
//!
//! The protocol sends codes (`partner_left.reason`, `error.code`,
//! `rejected.reason`), never display text, so each client words them itself.
//! Keeping all wording here makes adding a language one `match` arm per text.

use std::time::Duration;

use crate::protocol::REPORT_REASONS;
use crate::view::{Activity, Connection, Notice, Partner, Rejection, Retry};

/// The language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ui {
    /// English (the default).
    En,
    /// Korean (`--ko`).
    Ko,
}

impl Ui {
    fn pick(self, en: &str, ko: &str) -> String {
        match self {
            Ui::En => en.to_owned(),
            Ui::Ko => ko.to_owned(),
        }
    }

    /// The label before our own lines.
    pub fn you(self) -> String {
        self.pick("you", "나")
    }

    /// The label before the partner's lines.
    pub fn stranger(self, bot: bool) -> String {
        match (self, bot) {
            (Ui::En, false) => "stranger".into(),
            (Ui::En, true) => "stranger (bot)".into(),
            (Ui::Ko, false) => "상대".into(),
            (Ui::Ko, true) => "상대 (봇)".into(),
        }
    }

    /// The online counter.
    pub fn online(self, count: u64) -> String {
        match self {
            Ui::En => format!("{count} online"),
            Ui::Ko => format!("{count}명 접속 중"),
        }
    }

    /// The partner typing indicator.
    pub fn typing(self) -> String {
        self.pick("stranger is typing…", "상대가 입력 중…")
    }

    /// The input box title.
    pub fn input_title(self) -> String {
        self.pick(
            " Message · Enter sends · /help · Ctrl-C quits ",
            " 메시지 · Enter 전송 · /help 도움말 · Ctrl-C 종료 ",
        )
    }

    /// Marks on our own lines.
    pub fn pending(self) -> String {
        self.pick("(sending…)", "(전송 중…)")
    }

    /// A line that was delivered with parts hidden.
    pub fn masked(self) -> String {
        self.pick("(partly masked)", "(일부 가려짐)")
    }

    /// A line that was not delivered.
    pub fn not_delivered(self, rejection: &Rejection) -> String {
        let why = self.rejection(rejection);
        match self {
            Ui::En => format!("✗ not delivered: {why}"),
            Ui::Ko => format!("✗ 전송 안 됨: {why}"),
        }
    }

    /// The status line.
    pub fn status(self, connection: &Connection, activity: &Activity, url: &str) -> String {
        match connection {
            Connection::Connecting => match self {
                Ui::En => format!("Connecting to {url}…"),
                Ui::Ko => format!("{url}에 연결 중…"),
            },
            Connection::Reconnecting {
                after,
                attempt,
                why,
            } => {
                let secs = seconds(*after);
                let why = match (self, why) {
                    (Ui::En, Retry::Lost) => "Connection lost.".to_owned(),
                    (Ui::Ko, Retry::Lost) => "연결이 끊겼습니다.".to_owned(),
                    (Ui::En, Retry::Unreachable) => format!("Can't reach the server at {url}."),
                    (Ui::Ko, Retry::Unreachable) => format!("{url} 서버에 연결할 수 없습니다."),
                    (Ui::En, Retry::Status(429)) => {
                        "The server has too many connections from your address (HTTP 429).".into()
                    }
                    (Ui::Ko, Retry::Status(429)) => {
                        "이 주소에서 연결이 너무 많습니다 (HTTP 429).".into()
                    }
                    (Ui::En, Retry::Status(status)) => {
                        format!("The server refused the connection (HTTP {status}).")
                    }
                    (Ui::Ko, Retry::Status(status)) => {
                        format!("서버가 연결을 거부했습니다 (HTTP {status}).")
                    }
                };
                match self {
                    Ui::En => format!("{why} Reconnecting in {secs} s (try {attempt})…"),
                    Ui::Ko => format!("{why} {secs}초 후 다시 연결합니다 ({attempt}번째 시도)…"),
                }
            }
            Connection::Refused { status } => self.refused(*status),
            Connection::Resuming => self.pick(
                "Reconnected. Restoring your chat…",
                "다시 연결됨. 대화를 복구하는 중…",
            ),
            Connection::Closed { code } => self.closed(*code),
            Connection::Online => self.activity(activity),
        }
    }

    fn activity(self, activity: &Activity) -> String {
        match activity {
            Activity::Idle => self.pick(
                "Not chatting. Type /join to meet a stranger.",
                "대화 중이 아닙니다. /join 으로 상대를 찾으세요.",
            ),
            Activity::Waiting => self.pick("Looking for a stranger…", "상대를 찾는 중…"),
            Activity::Chatting(partner) => self.chatting(partner),
            Activity::PartnerLeft(reason) => {
                let why = self.partner_left(reason);
                match self {
                    Ui::En => format!("{why}. Type /next or /join for a new chat."),
                    Ui::Ko => format!("{why}. /next 또는 /join 으로 새 대화를 시작하세요."),
                }
            }
        }
    }

    fn chatting(self, partner: &Partner) -> String {
        let who = self.stranger(partner.bot);
        let mut text = if partner.common_interests.is_empty() {
            match self {
                Ui::En => format!("Matched with a random {who}"),
                Ui::Ko => format!("무작위 {who}와 연결됨"),
            }
        } else {
            let common = partner.common_interests.join(", ");
            match self {
                Ui::En => format!("Matched with a {who}. Common interests: {common}"),
                Ui::Ko => format!("{who}와 연결됨. 공통 관심사: {common}"),
            }
        };
        if let Some(lang) = &partner.lang {
            text.push_str(&match self {
                Ui::En => format!(" (speaks {lang})"),
                Ui::Ko => format!(" (언어: {lang})"),
            });
        }
        text
    }

    /// A `partner_left.reason`.
    pub fn partner_left(self, reason: &str) -> String {
        match reason {
            "left" => self.pick("The stranger left the chat", "상대가 대화를 떠났습니다"),
            "skipped" => self.pick(
                "The stranger skipped to someone new",
                "상대가 다음 상대로 넘어갔습니다",
            ),
            "disconnected" => self.pick(
                "The stranger's connection dropped",
                "상대의 연결이 끊겼습니다",
            ),
            "timeout" => self.pick(
                "The stranger timed out",
                "상대가 응답하지 않아 대화가 끝났습니다",
            ),
            "removed" => self.pick(
                "The stranger was removed for breaking the rules",
                "상대가 규칙 위반으로 퇴장되었습니다",
            ),
            other => match self {
                Ui::En => format!("The chat ended ({other})"),
                Ui::Ko => format!("대화가 끝났습니다 ({other})"),
            },
        }
    }

    /// An `error.code`.
    pub fn error(self, code: &str) -> String {
        match code {
            "bad_request" => self.pick(
                "The server could not read that request.",
                "서버가 요청을 이해하지 못했습니다.",
            ),
            "bad_state" => self.pick(
                "That is not possible right now.",
                "지금은 할 수 없는 동작입니다.",
            ),
            "unsupported" => self.pick(
                "The server does not support that.",
                "서버가 지원하지 않는 동작입니다.",
            ),
            "resume_failed" => self.pick(
                "Your previous chat could not be restored; starting over.",
                "이전 대화를 복구하지 못해 새로 시작합니다.",
            ),
            "banned" => self.pick(
                "You are banned from this server.",
                "이 서버에서 차단되었습니다.",
            ),
            "server_busy" => self.pick(
                "The server is full. Trying again shortly.",
                "서버가 가득 찼습니다. 잠시 후 다시 시도합니다.",
            ),
            "shutting_down" => {
                self.pick("The server is shutting down.", "서버가 종료되는 중입니다.")
            }
            "bots_not_allowed" => self.pick(
                "This server does not allow bots.",
                "이 서버는 봇을 허용하지 않습니다.",
            ),
            other => match self {
                Ui::En => format!("Server error: {other}"),
                Ui::Ko => format!("서버 오류: {other}"),
            },
        }
    }

    /// A `rejected.reason` (and category), or the client's `connection_lost`.
    pub fn rejection(self, rejection: &Rejection) -> String {
        match rejection.reason.as_str() {
            "moderation" => {
                let category = rejection.category.as_deref().map(|c| self.category(c));
                match (self, category) {
                    (Ui::En, Some(category)) => format!("blocked by moderation ({category})"),
                    (Ui::En, None) => "blocked by moderation".into(),
                    (Ui::Ko, Some(category)) => format!("검열로 차단됨 ({category})"),
                    (Ui::Ko, None) => "검열로 차단됨".into(),
                }
            }
            "rate_limited" => self.pick("too fast, slow down", "너무 빠릅니다. 천천히 보내세요"),
            "too_long" => self.pick("too long", "너무 깁니다"),
            "not_in_room" => self.pick("you are not in a chat", "대화 중이 아닙니다"),
            "connection_lost" => self.pick("the connection was lost", "연결이 끊겼습니다"),
            other => other.to_owned(),
        }
    }

    /// A moderation category.
    fn category(self, category: &str) -> String {
        match category {
            "sexual" => self.pick("sexual content", "성적인 내용"),
            "hate" => self.pick("hate speech", "혐오 표현"),
            "threat" => self.pick("threat", "위협"),
            "contact" => self.pick("contact details", "연락처"),
            "spam" => self.pick("spam or link", "스팸 또는 링크"),
            "self_harm" => self.pick("self-harm", "자해"),
            "profanity" => self.pick("profanity", "욕설"),
            other => other.to_owned(),
        }
    }

    /// An upgrade refused for good, and what to do about it.
    fn refused(self, status: u16) -> String {
        match (self, status) {
            (Ui::En, 401) => "The server wants a login (HTTP 401): pass its token with \
                 --header \"Authorization: Bearer <token>\". Not reconnecting."
                .into(),
            (Ui::Ko, 401) => {
                "로그인이 필요합니다 (HTTP 401): --header \"Authorization: Bearer <토큰>\"으로 \
                 토큰을 넘기세요. 다시 연결하지 않습니다."
                    .into()
            }
            (Ui::En, _) => format!(
                "The server refused this client (HTTP {status}: its origin or address is not \
                 allowed). Not reconnecting."
            ),
            (Ui::Ko, _) => format!(
                "서버가 이 클라이언트를 거부했습니다 (HTTP {status}: 허용되지 않은 출처나 주소). \
                 다시 연결하지 않습니다."
            ),
        }
    }

    fn closed(self, code: u16) -> String {
        match (self, code) {
            (Ui::En, 4003) => "This chat was resumed in another window. Not reconnecting.".into(),
            (Ui::Ko, 4003) => {
                "다른 창에서 이 대화를 이어받았습니다. 다시 연결하지 않습니다.".into()
            }
            (Ui::En, _) => format!(
                "The server closed the connection (code {code}: banned or flooding). Not reconnecting."
            ),
            (Ui::Ko, _) => format!(
                "서버가 연결을 끊었습니다 (코드 {code}: 차단 또는 도배). 다시 연결하지 않습니다."
            ),
        }
    }

    /// A transcript notice.
    pub fn notice(self, notice: &Notice) -> String {
        match notice {
            Notice::Matched(partner) => format!("── {} ──", self.chatting(partner)),
            Notice::PartnerLeft(reason) => format!("{}.", self.partner_left(reason)),
            Notice::YouLeft => self.pick("You left the chat.", "대화를 떠났습니다."),
            Notice::YouSkipped => self.pick("You skipped the stranger.", "상대를 건너뛰었습니다."),
            Notice::Reported => self.pick(
                "Report received. Thank you. Type /next to move on.",
                "신고가 접수되었습니다. 감사합니다. /next 로 넘어갈 수 있습니다.",
            ),
            Notice::Error { code } => self.error(code),
            Notice::Rejected(rejection) => self.not_delivered(rejection),
            Notice::ConnectionLost => self.pick("Connection lost.", "연결이 끊겼습니다."),
            Notice::Resumed => self.pick(
                "Reconnected; chat restored.",
                "다시 연결되어 대화를 복구했습니다.",
            ),
            Notice::Closed { code } => self.closed(*code),
            Notice::NotConnected => self.pick(
                "Not connected yet. Try again in a moment.",
                "아직 연결되지 않았습니다. 잠시 후 다시 시도하세요.",
            ),
            Notice::ReportUsage => {
                let reasons = REPORT_REASONS.join(", ");
                match self {
                    Ui::En => format!("Usage: /report <reason> [note]. Reasons: {reasons}"),
                    Ui::Ko => format!("사용법: /report <사유> [메모]. 사유: {reasons}"),
                }
            }
            Notice::UnknownCommand(name) => match self {
                Ui::En => format!("Unknown command /{name}. Type /help."),
                Ui::Ko => format!("알 수 없는 명령 /{name}. /help 를 입력하세요."),
            },
            Notice::Help => self.pick(
                "Commands: /next skip · /leave end the chat · /join find a stranger · \
                 /report <reason> [note] · /quit exit · //text sends a line starting with /",
                "명령: /next 건너뛰기 · /leave 대화 끝내기 · /join 상대 찾기 · \
                 /report <사유> [메모] 신고 · /quit 종료 · //text 는 /로 시작하는 줄을 보냅니다",
            ),
        }
    }
}

/// `0.5`, `1`, `8`: seconds without a needless `.0`.
fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{:.1}", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_code_has_its_own_text_in_both_languages() {
        let errors = [
            "bad_request",
            "bad_state",
            "unsupported",
            "resume_failed",
            "banned",
            "server_busy",
            "shutting_down",
            "bots_not_allowed",
        ];
        let reasons = ["left", "skipped", "disconnected", "timeout", "removed"];
        let rejections = [
            "moderation",
            "rate_limited",
            "too_long",
            "not_in_room",
            "connection_lost",
        ];
        for ui in [Ui::En, Ui::Ko] {
            for code in errors {
                assert_ne!(ui.error(code), ui.error("never_heard_of"), "{code}");
            }
            for reason in reasons {
                assert_ne!(
                    ui.partner_left(reason),
                    ui.partner_left("never_heard_of"),
                    "{reason}"
                );
            }
            for reason in rejections {
                assert_ne!(ui.rejection(&Rejection::new(reason)), reason, "{reason}");
            }
        }
        assert_ne!(Ui::En.error("banned"), Ui::Ko.error("banned"));
    }

    #[test]
    fn status_names_the_bot_and_the_common_interests() {
        let partner = Partner {
            common_interests: vec!["music".into()],
            lang: None,
            bot: true,
        };
        let text = Ui::En.status(&Connection::Online, &Activity::Chatting(partner), "ws://x");
        assert_eq!(
            text,
            "Matched with a stranger (bot). Common interests: music"
        );
        assert_eq!(seconds(Duration::from_millis(500)), "0.5");
        assert_eq!(seconds(Duration::from_secs(8)), "8");
    }
}
