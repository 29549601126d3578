// Every visible string, in English and Korean. The server's English
// `error.message` is for logs only and never shown: each error code, close
// reason, rejection reason and `partner_left` reason has its own text here.

export type UiLang = 'en' | 'ko';

const en = {
  title: 'QuickTalk',
  connecting: 'Connecting...',
  online: '{n} online',
  uiLanguage: 'Interface language',

  // setup
  setupTitle: 'Start a chat',
  interestsLabel: 'Interests (optional)',
  interestsPh: 'e.g. music, movies, games',
  interestsHelp: 'Separate with commas. Up to {max} interests, {chars} characters each.',
  interestsChips: 'Interests to be sent',
  interestsOverLimit: 'Only the first {max} interests are used. Left out: {list}',
  interestsTooLong: 'Longer than {chars} characters, left out: {list}',
  chatLangLabel: 'Chat language',
  langAny: 'Any language',
  langKo: 'Korean',
  langEn: 'English',
  start: 'Start',
  rules: 'Be kind, and never share personal details.',

  // status line
  statusWaiting: 'Looking for a stranger...',
  statusChatting: "You're chatting with a stranger.",
  statusEnded: 'The chat has ended.',
  statusReconnecting: 'Reconnecting...',
  statusResuming: 'Restoring your chat...',
  common: 'You both like: {list}',
  noCommon: 'No common interests (random match)',
  partnerLang: 'Stranger speaks: {lang}',
  botBadge: 'Bot',
  botTitle: 'This stranger is a program (a bot), not a person.',

  // log
  logTitle: 'Conversation',
  whoYou: 'You:',
  whoStranger: 'Stranger:',
  filtered: 'filtered',
  sending: 'sending...',
  notDelivered: 'Not delivered: {reason}',
  matchedCommon: "You're now chatting with a stranger. You both like: {list}.",
  matchedRandom: "You're now chatting with a random stranger. Say hi!",
  matchedBot: 'Heads-up: this stranger is a bot.',
  matchedResumed: "You're now chatting with a stranger.",
  left_left: 'Stranger has left the chat.',
  left_skipped: 'Stranger skipped to someone else.',
  left_disconnected: 'Stranger lost their connection.',
  left_timeout: 'Stranger was inactive for too long.',
  left_removed: 'Stranger was removed for breaking the rules.',
  left_other: 'The chat has ended.',
  endedAway: 'The chat ended while you were disconnected.',
  resumeFailedNotice: 'Connection lost; your chat ended.',
  connectionClosedNotice: 'The connection was closed; the chat ended.',
  reportedOk: 'Thank you. Your report was sent to the moderators.',

  // rejections
  rej_moderation: 'blocked by the filter ({category})',
  rej_moderation_plain: 'blocked by the filter',
  rej_rate_limited: "you're sending too fast",
  rej_too_long: 'the message is too long',
  rej_not_in_room: "you're not in a chat",
  rej_lost: 'the chat ended before it was delivered',
  rej_other: 'unknown reason',
  cat_profanity: 'profanity',
  cat_sexual: 'sexual content',
  cat_hate: 'hate speech',
  cat_threat: 'threats',
  cat_self_harm: 'self-harm',
  cat_contact: 'contact details',
  cat_spam: 'spam or links',

  // composer and tools
  inputPh: 'Type a message...',
  inputLabel: 'Message',
  send: 'Send',
  next: 'Next',
  newChat: 'New chat',
  leave: 'Leave',
  cancel: 'Cancel',
  changeInterests: 'Change interests',
  report: 'Report',
  typing: 'Stranger is typing...',
  counter: '{n}/{max}',

  // report dialog
  reportTitle: 'Report this stranger',
  reportReason: 'Reason',
  reason_spam: 'Spam or advertising',
  reason_harassment: 'Harassment or bullying',
  reason_sexual: 'Sexual content',
  reason_hate: 'Hate speech',
  reason_self_harm: 'Self-harm or suicide',
  reason_minor: 'Seems to be a minor',
  reason_other: 'Something else',
  reportNote: 'Details (optional)',
  reportNotePh: 'What happened?',
  reportSkip: 'Also skip to the next stranger',
  reportSubmit: 'Send report',

  // errors (one per code) and closes
  err_bad_request: 'The server could not understand the last request.',
  err_bad_state: "That isn't possible right now.",
  err_unsupported: 'That kind of data is not supported.',
  err_resume_failed: 'Connection lost; your chat could not be restored.',
  err_banned: 'You have been banned from QuickTalk for breaking the rules.',
  err_server_busy: 'The server is busy. Please try again in a moment.',
  err_shutting_down: 'The server is restarting. Reconnecting shortly...',
  err_bots_not_allowed: 'This server does not allow bots.',
  err_other: 'Something went wrong ({code}).',
  close_banned: 'You have been banned from QuickTalk for breaking the rules.',
  close_policy: 'The connection was closed because the rules were broken (flooding or a ban).',
  close_replaced: 'This chat continued in another tab or window.',
  close_normal: 'The connection was closed.',
  close_client: 'The connection was closed.',
  reconnecting: 'Connection lost. Reconnecting...',
  unreachable:
    "Can't reach the chat server: it may be down, or it refuses this network or address. Still trying...",
  reconnectingIn: 'Connection lost. Reconnecting in {s} s...',
  resumed: 'Reconnected.',
  reconnectNow: 'Connect again',
  dismiss: 'Dismiss',
};

export type TextKey = keyof typeof en;

const ko: Record<TextKey, string> = {
  title: 'QuickTalk',
  connecting: '연결 중...',
  online: '{n}명 접속 중',
  uiLanguage: '화면 언어',

  setupTitle: '대화 시작하기',
  interestsLabel: '관심사 (선택)',
  interestsPh: '예: 음악, 영화, 게임',
  interestsHelp: '쉼표로 구분하세요. 최대 {max}개, 각각 {chars}자까지 입력할 수 있어요.',
  interestsChips: '보낼 관심사',
  interestsOverLimit: '관심사는 앞의 {max}개만 사용돼요. 빠진 관심사: {list}',
  interestsTooLong: '{chars}자를 넘어서 빠진 관심사: {list}',
  chatLangLabel: '대화 언어',
  langAny: '상관없음',
  langKo: '한국어',
  langEn: '영어',
  start: '시작하기',
  rules: '서로 존중하고, 개인 정보는 절대 공유하지 마세요.',

  statusWaiting: '낯선 사람을 찾는 중...',
  statusChatting: '낯선 사람과 대화 중입니다.',
  statusEnded: '대화가 끝났습니다.',
  statusReconnecting: '다시 연결하는 중...',
  statusResuming: '대화를 복구하는 중...',
  common: '공통 관심사: {list}',
  noCommon: '공통 관심사 없음 (무작위 연결)',
  partnerLang: '상대방 언어: {lang}',
  botBadge: '봇',
  botTitle: '이 상대는 사람이 아닌 프로그램(봇)입니다.',

  logTitle: '대화 내용',
  whoYou: '나:',
  whoStranger: '상대방:',
  filtered: '필터링됨',
  sending: '보내는 중...',
  notDelivered: '전송되지 않음: {reason}',
  matchedCommon: '낯선 사람과 연결되었습니다. 공통 관심사: {list}',
  matchedRandom: '무작위로 고른 낯선 사람과 연결되었습니다. 먼저 인사해 보세요!',
  matchedBot: '알림: 이 상대는 봇입니다.',
  matchedResumed: '낯선 사람과 연결되었습니다.',
  left_left: '상대방이 나갔습니다.',
  left_skipped: '상대방이 다음 상대로 넘어갔습니다.',
  left_disconnected: '상대방의 연결이 끊어졌습니다.',
  left_timeout: '상대방이 오랫동안 응답이 없어 대화가 끝났습니다.',
  left_removed: '상대방이 규칙 위반으로 퇴장되었습니다.',
  left_other: '대화가 끝났습니다.',
  endedAway: '연결이 끊긴 사이에 대화가 끝났습니다.',
  resumeFailedNotice: '연결이 끊어져 대화가 종료되었습니다.',
  connectionClosedNotice: '연결이 종료되어 대화가 끝났습니다.',
  reportedOk: '신고가 접수되었습니다. 알려 주셔서 고맙습니다.',

  rej_moderation: '필터에 걸렸습니다 ({category})',
  rej_moderation_plain: '필터에 걸렸습니다',
  rej_rate_limited: '메시지를 너무 빨리 보내고 있어요',
  rej_too_long: '메시지가 너무 깁니다',
  rej_not_in_room: '대화 중이 아닙니다',
  rej_lost: '전달되기 전에 대화가 끝났습니다',
  rej_other: '알 수 없는 이유',
  cat_profanity: '욕설',
  cat_sexual: '선정적인 내용',
  cat_hate: '혐오 표현',
  cat_threat: '위협',
  cat_self_harm: '자해',
  cat_contact: '연락처 등 개인 정보',
  cat_spam: '스팸 또는 링크',

  inputPh: '메시지를 입력하세요...',
  inputLabel: '메시지',
  send: '보내기',
  next: '다음',
  newChat: '새 대화',
  leave: '나가기',
  cancel: '취소',
  changeInterests: '관심사 바꾸기',
  report: '신고',
  typing: '상대방이 입력 중...',
  counter: '{n}/{max}',

  reportTitle: '상대방 신고하기',
  reportReason: '신고 사유',
  reason_spam: '스팸 또는 광고',
  reason_harassment: '괴롭힘 또는 모욕',
  reason_sexual: '음란하거나 성적인 내용',
  reason_hate: '혐오 발언',
  reason_self_harm: '자해 또는 자살 관련',
  reason_minor: '미성년자로 보임',
  reason_other: '기타',
  reportNote: '자세한 내용 (선택)',
  reportNotePh: '어떤 일이 있었나요?',
  reportSkip: '신고 후 다음 상대로 넘어가기',
  reportSubmit: '신고하기',

  err_bad_request: '서버가 마지막 요청을 이해하지 못했습니다.',
  err_bad_state: '지금은 할 수 없는 작업입니다.',
  err_unsupported: '지원하지 않는 형식입니다.',
  err_resume_failed: '연결이 끊어져 대화를 복구하지 못했습니다.',
  err_banned: '규칙 위반으로 QuickTalk 이용이 제한되었습니다.',
  err_server_busy: '서버가 혼잡합니다. 잠시 후 다시 시도해 주세요.',
  err_shutting_down: '서버를 다시 시작하는 중입니다. 곧 다시 연결합니다...',
  err_bots_not_allowed: '이 서버는 봇을 허용하지 않습니다.',
  err_other: '문제가 발생했습니다 ({code}).',
  close_banned: '규칙 위반으로 QuickTalk 이용이 제한되었습니다.',
  close_policy: '규칙 위반(도배 또는 이용 제한)으로 연결이 종료되었습니다.',
  close_replaced: '다른 탭이나 창에서 대화가 이어지고 있습니다.',
  close_normal: '연결이 종료되었습니다.',
  close_client: '연결이 종료되었습니다.',
  reconnecting: '연결이 끊어졌습니다. 다시 연결하는 중...',
  unreachable: '채팅 서버에 연결할 수 없습니다. 서버가 멈췄거나 이 네트워크나 주소를 받지 않습니다. 계속 시도하는 중...',
  reconnectingIn: '연결이 끊어졌습니다. {s}초 후 다시 연결합니다...',
  resumed: '다시 연결되었습니다.',
  reconnectNow: '다시 연결',
  dismiss: '닫기',
};

export const TEXTS: Record<UiLang, Record<TextKey, string>> = { en, ko };

export type Vars = Record<string, string | number>;

/** Looks a text up and fills `{name}` placeholders. */
export function translate(lang: UiLang, key: TextKey, vars?: Vars): string {
  const text = TEXTS[lang][key] ?? TEXTS.en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (_, name: string) => (vars[name] === undefined ? '' : String(vars[name])));
}

/** Whether a dynamic key (built from a server value) has a text. */
export function hasText(key: string): key is TextKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** The UI language a browser prefers: Korean for `ko*`, English otherwise. */
export function detectUiLang(navigatorLanguage: string | undefined): UiLang {
  return /^ko\b/i.test(navigatorLanguage ?? '') ? 'ko' : 'en';
}

/** A readable name for a `partner_lang` tag. */
export function languageName(lang: UiLang, tag: string): string {
  if (tag === 'ko') return translate(lang, 'langKo');
  if (tag === 'en') return translate(lang, 'langEn');
  return tag;
}
