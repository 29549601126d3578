// QuickTalk wire protocol, version 1, as TypeScript types.
//
// This file mirrors docs/protocol.md (the contract every QuickTalk client
// relies on) field for field. Every frame is one JSON object in a WebSocket
// text frame, tagged by `type`. Fields marked "(addition)" in the docs are
// optional here so that this client also works against a server that only
// speaks the bare contract.
//
// The parser below is deliberately tolerant: unknown fields are dropped,
// unknown frame types and frames with missing or mistyped required fields
// come back as `null` (the caller ignores them), and enum-like strings the
// client does not know yet (a new error code, a new `partner_left` reason)
// are passed through as plain strings so the UI can show a generic text.

/** The protocol version announced in `hello.protocol`. */
export const PROTOCOL_VERSION = 1;

/**
 * A string union that still accepts any other string: the known values stay
 * visible to the type checker and editors, future values do not break us.
 */
export type Open<T extends string> = T | (string & {});

// ------------------------------------------------------------ client frames

/** Reasons accepted by `report`. */
export const REPORT_REASONS = [
  'spam',
  'harassment',
  'sexual',
  'hate',
  'self_harm',
  'minor',
  'other',
] as const;
export type ReportReason = (typeof REPORT_REASONS)[number];

/** `join`: enter the match queue. `next` carries the same fields. */
export interface JoinFrame {
  type: 'join';
  /** At most `limits.max_interests`, each 1..=`limits.max_interest_chars` characters. */
  interests?: string[];
  /** A primary language subtag such as `"ko"` or `"en"`; empty or absent = any. */
  lang?: string;
  /** (addition) The client is a program. This client never sets it. */
  bot?: boolean;
}

/** `next`: end the current chat (if any) and queue again. */
export interface NextFrame {
  type: 'next';
  interests?: string[];
  lang?: string;
  /** (addition) The client is a program. This client never sets it. */
  bot?: boolean;
}

/** `send`: a chat line for the partner; `cid` makes the echo matchable and resends idempotent. */
export interface SendFrame {
  type: 'send';
  text: string;
  /** 1..=64 characters; a repeated cid in the same room is answered with the original echo. */
  cid?: string;
}

/** `typing`: our typing indicator (only changes are meaningful). */
export interface TypingClientFrame {
  type: 'typing';
  active: boolean;
}

/** `leave`: end the chat or stop waiting; the connection stays open. */
export interface LeaveFrame {
  type: 'leave';
}

/** `report`: report the current or most recent partner. */
export interface ReportFrame {
  type: 'report';
  reason: ReportReason;
  /** At most 500 characters. */
  note?: string;
}

/** `resume`: the first frame of a new connection after a drop. */
export interface ResumeFrame {
  type: 'resume';
  token: string;
  last_seq: number;
  /** (addition) The room `last_seq` counts in. */
  room?: string;
}

/** `ping`: application-level ping, answered with `pong`. */
export interface PingFrame {
  type: 'ping';
}

/** Every frame a client may send. */
export type ClientFrame =
  | JoinFrame
  | NextFrame
  | SendFrame
  | TypingClientFrame
  | LeaveFrame
  | ReportFrame
  | ResumeFrame
  | PingFrame;

/** Serialises a client frame (plain JSON; undefined optional fields are left out). */
export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}

// ------------------------------------------------------------ server frames

/** `hello.limits`. Only `max_text_chars` is in the bare contract. */
export interface Limits {
  max_text_chars: number;
  max_frame_bytes?: number;
  max_interests?: number;
  max_interest_chars?: number;
  rate_per_sec?: number;
  rate_burst?: number;
  resume_grace_s?: number;
  idle_timeout_s?: number;
}

/** The limits the reference server uses by default; used until `hello` says otherwise. */
export const DEFAULT_LIMITS: Required<Limits> = {
  max_text_chars: 500,
  max_frame_bytes: 4096,
  max_interests: 10,
  max_interest_chars: 32,
  rate_per_sec: 5,
  rate_burst: 10,
  resume_grace_s: 30,
  idle_timeout_s: 60,
};

export interface HelloFrame {
  type: 'hello';
  session: string;
  resume_token: string;
  online: number;
  protocol: number;
  limits: Limits;
}

export interface WaitingFrame {
  type: 'waiting';
}

export interface MatchedFrame {
  type: 'matched';
  room: string;
  /** Empty = random fallback (no common interest). */
  common_interests: string[];
  partner_lang?: string;
  /** (addition) The stranger is a program (it joined with `bot: true`). */
  partner_bot?: boolean;
}

export type MessageFrom = 'you' | 'stranger';

export interface MessageFrame {
  type: 'message';
  /** Per room, from 1, gap-free. */
  seq: number;
  from: MessageFrom;
  text: string;
  /** Unix milliseconds. */
  ts: number;
  /** Only on our own echo. */
  cid?: string;
  /** Dangerous spans were replaced by `*`. */
  masked?: boolean;
}

export interface TypingServerFrame {
  type: 'typing';
  active: boolean;
}

export const PARTNER_LEFT_REASONS = ['left', 'skipped', 'disconnected', 'timeout', 'removed'] as const;
export type PartnerLeftReason = Open<(typeof PARTNER_LEFT_REASONS)[number]>;

export interface PartnerLeftFrame {
  type: 'partner_left';
  reason: PartnerLeftReason;
}

export const REJECT_REASONS = ['moderation', 'rate_limited', 'too_long', 'not_in_room'] as const;
export type RejectReason = Open<(typeof REJECT_REASONS)[number]>;

export interface RejectedFrame {
  type: 'rejected';
  cid?: string;
  reason: RejectReason;
  /** For `moderation`: e.g. `sexual`, `hate`, `threat`, `contact`, `spam`. */
  category?: string;
}

export interface ReportedFrame {
  type: 'reported';
}

export interface ResumedFrame {
  type: 'resumed';
  /** Absent when the restored session is idle. */
  room?: string;
  /** How many `message` frames follow (then maybe `partner_left`). */
  replayed: number;
  /** The new token; the old one is spent. */
  resume_token: string;
}

export interface OnlineFrame {
  type: 'online';
  count: number;
}

export const ERROR_CODES = [
  'bad_request',
  'bad_state',
  'unsupported',
  'resume_failed',
  'banned',
  'server_busy',
  'shutting_down',
  'bots_not_allowed',
] as const;
export type ErrorCode = Open<(typeof ERROR_CODES)[number]>;

export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  /** English, for logs only; clients show their own text per code. */
  message: string;
}

export interface PongFrame {
  type: 'pong';
}

/** Every frame a server may send (that this client understands). */
export type ServerFrame =
  | HelloFrame
  | WaitingFrame
  | MatchedFrame
  | MessageFrame
  | TypingServerFrame
  | PartnerLeftFrame
  | RejectedFrame
  | ReportedFrame
  | ResumedFrame
  | OnlineFrame
  | ErrorFrame
  | PongFrame;

export type ServerFrameType = ServerFrame['type'];

/** WebSocket close codes used by the server. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001, // server shutting down
  ABNORMAL: 1006, // no close frame: a network drop (set by the browser, never sent)
  POLICY: 1008, // banned or flooding
  TOO_BIG: 1009,
  INTERNAL: 1011,
  TRY_AGAIN_LATER: 1013, // right after error {code: "server_busy"}
  IDLE_TIMEOUT: 4001,
  TOO_SLOW: 4002,
  REPLACED: 4003, // a resume on another connection took this session
} as const;

// ------------------------------------------------------------------- parser

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const int = (v: unknown): number | undefined => (Number.isInteger(v) ? (v as number) : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const strList = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;

function parseLimits(v: unknown): Limits {
  const out: Limits = { max_text_chars: DEFAULT_LIMITS.max_text_chars };
  if (!isObj(v)) return out;
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const n = num(v[key]);
    if (n !== undefined && n >= 0) out[key] = n;
  }
  return out;
}

// One builder per frame type. A builder returns null when a required field
// is missing or has the wrong type; optional fields of the wrong type are
// simply left out.
const BUILDERS: { [K in ServerFrameType]: (f: Obj) => Extract<ServerFrame, { type: K }> | null } = {
  hello(f) {
    const session = str(f.session);
    const resume_token = str(f.resume_token);
    if (session === undefined || resume_token === undefined) return null;
    return {
      type: 'hello',
      session,
      resume_token,
      online: int(f.online) ?? 0,
      protocol: int(f.protocol) ?? PROTOCOL_VERSION,
      limits: parseLimits(f.limits),
    };
  },
  waiting: () => ({ type: 'waiting' }),
  matched(f) {
    const room = str(f.room);
    if (room === undefined) return null;
    const frame: MatchedFrame = { type: 'matched', room, common_interests: strList(f.common_interests) ?? [] };
    const lang = str(f.partner_lang);
    if (lang) frame.partner_lang = lang;
    if (f.partner_bot === true) frame.partner_bot = true;
    return frame;
  },
  message(f) {
    const seq = int(f.seq);
    const text = str(f.text);
    if (seq === undefined || seq < 1 || text === undefined || (f.from !== 'you' && f.from !== 'stranger')) {
      return null;
    }
    const frame: MessageFrame = { type: 'message', seq, from: f.from, text, ts: num(f.ts) ?? Date.now() };
    const cid = str(f.cid);
    if (cid !== undefined) frame.cid = cid;
    if (f.masked === true) frame.masked = true;
    return frame;
  },
  typing(f) {
    const active = bool(f.active);
    return active === undefined ? null : { type: 'typing', active };
  },
  partner_left: (f) => ({ type: 'partner_left', reason: str(f.reason) ?? 'unknown' }),
  rejected(f) {
    const frame: RejectedFrame = { type: 'rejected', reason: str(f.reason) ?? 'unknown' };
    const cid = str(f.cid);
    if (cid !== undefined) frame.cid = cid;
    const category = str(f.category);
    if (category !== undefined) frame.category = category;
    return frame;
  },
  reported: () => ({ type: 'reported' }),
  resumed(f) {
    const resume_token = str(f.resume_token);
    if (resume_token === undefined) return null;
    const frame: ResumedFrame = { type: 'resumed', replayed: int(f.replayed) ?? 0, resume_token };
    const room = str(f.room);
    if (room) frame.room = room;
    return frame;
  },
  online(f) {
    const count = int(f.count);
    return count === undefined ? null : { type: 'online', count };
  },
  error: (f) => ({ type: 'error', code: str(f.code) ?? 'unknown', message: str(f.message) ?? '' }),
  pong: () => ({ type: 'pong' }),
};

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/**
 * Parses one server frame from a WebSocket message's data.
 *
 * Returns `null` for anything this client cannot use: binary data, invalid
 * JSON, a non-object, an unknown or missing `type`, or a known type whose
 * required fields are missing. Never throws.
 */
export function parseServerFrame(data: unknown): ServerFrame | null {
  if (typeof data !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObj(value)) return null;
  const type = value.type;
  // hasOwn guards against `type: "toString"` and friends.
  if (typeof type !== 'string' || !hasOwn(BUILDERS, type)) return null;
  const build = BUILDERS[type as ServerFrameType] as (f: Obj) => ServerFrame | null;
  return build(value);
}

// ------------------------------------------------------------------ helpers

/** Counts Unicode code points, as the server does (not UTF-16 units). */
export const charLength = (s: string): number => Array.from(s).length;

/** What the interests field holds, split and normalised, and what had to be left out. */
export interface InterestsInput {
  /** What will be sent: trimmed, inner whitespace collapsed, lower-cased, de-duplicated, within the limits. */
  tags: string[];
  /** Distinct interests beyond `max_interests` (only the first ones are sent). */
  overLimit: string[];
  /** Interests longer than `max_interest_chars` (left out). */
  tooLong: string[];
}

/**
 * Splits a comma separated interest list (`,`, and the full-width `，` and
 * `、` of Korean and CJK keyboards) the way the server normalises it. Spaces
 * belong to an interest: "rock music" is one interest; runs of whitespace in
 * it become one space.
 */
export function splitInterests(text: string, limits: Limits = DEFAULT_LIMITS): InterestsInput {
  const max = limits.max_interests ?? DEFAULT_LIMITS.max_interests;
  const maxChars = limits.max_interest_chars ?? DEFAULT_LIMITS.max_interest_chars;
  const out: InterestsInput = { tags: [], overLimit: [], tooLong: [] };
  for (const raw of text.split(/[,，、]/)) {
    const tag = raw.trim().replace(/\s+/g, ' ').toLowerCase();
    if (!tag || out.tags.includes(tag) || out.overLimit.includes(tag) || out.tooLong.includes(tag)) continue;
    if (charLength(tag) > maxChars) out.tooLong.push(tag);
    else if (out.tags.length >= max) out.overLimit.push(tag);
    else out.tags.push(tag);
  }
  return out;
}

/** The interests to send for what the user typed (see `splitInterests`). */
export function parseInterests(text: string, limits: Limits = DEFAULT_LIMITS): string[] {
  return splitInterests(text, limits).tags;
}
