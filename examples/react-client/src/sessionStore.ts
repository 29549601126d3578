// What a tab keeps so that a reload (or a phone discarding a background tab)
// resumes the chat instead of ending it (docs/protocol.md, "Sessions and
// resume"): the resume token, the room and the highest `seq` seen in it, the
// search preferences and the lines on screen. It lives in the tab's
// `sessionStorage` only: never shared with other tabs, gone when the tab
// closes. Nothing here is sent anywhere but in the `resume` frame.

import type { ChatLine, JoinPrefs, Notice } from './client';

/** The part of the Web Storage API the client uses (sessionStorage, or a fake in tests). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const SESSION_KEY = 'qt.react.chat';
/** At most this many lines are kept; older ones are only not shown again after a reload. */
export const MAX_SAVED_LINES = 300;

export interface SavedChat {
  v: 1;
  /** When it was written (ms since epoch); a resume is tried only within the grace period after it. */
  at: number;
  graceMs: number;
  token: string;
  /** Only a search or a chat in progress is kept; an ended chat or the start screen is not. */
  phase: 'waiting' | 'chatting';
  room: string | null;
  lastSeq: number;
  prefs: JoinPrefs;
  commonInterests: string[];
  partnerLang: string | null;
  partnerBot: boolean;
  cidPrefix: string;
  cidCounter: number;
  lines: ChatLine[];
}

/** The sessionStorage of this tab, or null where there is none or it is blocked. */
export function defaultSessionStorage(): StorageLike | null {
  try {
    const s = (globalThis as { sessionStorage?: StorageLike }).sessionStorage;
    return s ?? null;
  } catch {
    return null; // SecurityError: storage is off for this page
  }
}

export function writeSavedChat(storage: StorageLike, saved: SavedChat): void {
  try {
    storage.setItem(SESSION_KEY, JSON.stringify({ ...saved, lines: saved.lines.slice(-MAX_SAVED_LINES) }));
  } catch {
    /* storage full or off: a reload then starts over */
  }
}

export function clearSavedChat(storage: StorageLike): void {
  try {
    storage.removeItem(SESSION_KEY);
  } catch {
    /* ignore */
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string';
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter(isStr) : []);

const NOTICE_KINDS: ReadonlySet<string> = new Set<Notice['kind']>([
  'matched',
  'matched_resumed',
  'partner_left',
  'resume_failed',
  'ended_away',
  'connection_closed',
  'rejected',
  'reported',
]);

/** One stored line, checked field by field (the store is ours, but a tab may hold an older or broken copy). */
function readLine(v: unknown): ChatLine | null {
  if (!isObj(v) || !isStr(v.key)) return null;
  if (v.kind === 'system') {
    const notice = v.notice;
    if (!isObj(notice) || !isStr(notice.kind) || !NOTICE_KINDS.has(notice.kind)) return null;
    if (notice.kind === 'matched') return { kind: 'system', key: v.key, notice: { kind: 'matched', common: strings(notice.common) } };
    return { kind: 'system', key: v.key, notice: notice as unknown as Notice };
  }
  if (!isStr(v.text)) return null;
  const masked = v.masked === true ? { masked: true } : {};
  if (v.kind === 'stranger') {
    if (!isInt(v.seq) || !isInt(v.ts)) return null;
    return { kind: 'stranger', key: v.key, text: v.text, seq: v.seq, ts: v.ts, ...masked };
  }
  if (v.kind !== 'you') return null;
  if (v.status === 'pending') {
    // Not acknowledged before the reload: sent again, with the same cid, after `resumed`.
    if (!isStr(v.cid)) return null;
    return { kind: 'you', key: v.key, text: v.text, cid: v.cid, status: 'pending' };
  }
  if (v.status === 'sent') {
    const line: ChatLine = { kind: 'you', key: v.key, text: v.text, status: 'sent', ...masked };
    if (isStr(v.cid)) line.cid = v.cid;
    if (isInt(v.seq)) line.seq = v.seq;
    if (isInt(v.ts)) line.ts = v.ts;
    return line;
  }
  if (v.status === 'rejected') {
    const r = v.rejection;
    const line: ChatLine = { kind: 'you', key: v.key, text: v.text, status: 'rejected' };
    if (isObj(r) && isStr(r.reason)) {
      line.rejection = isStr(r.category) ? { reason: r.reason, category: r.category } : { reason: r.reason };
    }
    return line;
  }
  return null;
}

/**
 * The saved chat of this tab, when there is one that may still be resumed
 * (written less than its grace period ago). A broken or expired entry is
 * removed and null returned.
 */
export function readSavedChat(storage: StorageLike, now: number): SavedChat | null {
  let raw: unknown;
  try {
    raw = JSON.parse(storage.getItem(SESSION_KEY) ?? 'null');
  } catch {
    raw = undefined;
  }
  if (raw === null) return null;
  const v = raw;
  const ok =
    isObj(v) &&
    v.v === 1 &&
    isStr(v.token) &&
    v.token !== '' &&
    (v.phase === 'waiting' || v.phase === 'chatting') &&
    typeof v.at === 'number' &&
    typeof v.graceMs === 'number' &&
    now - v.at >= 0 &&
    now - v.at < v.graceMs &&
    (v.phase === 'waiting' || isStr(v.room));
  if (!ok) {
    clearSavedChat(storage);
    return null;
  }
  const prefs = isObj(v.prefs) ? v.prefs : {};
  const lines = Array.isArray(v.lines) ? v.lines.map(readLine).filter((l): l is ChatLine => l !== null) : [];
  return {
    v: 1,
    at: v.at as number,
    graceMs: v.graceMs as number,
    token: v.token as string,
    phase: v.phase as 'waiting' | 'chatting',
    room: v.phase === 'chatting' ? (v.room as string) : null,
    lastSeq: v.phase === 'chatting' && isInt(v.lastSeq) ? v.lastSeq : 0,
    prefs: { interests: strings(prefs.interests), lang: isStr(prefs.lang) ? prefs.lang : '' },
    commonInterests: strings(v.commonInterests),
    partnerLang: isStr(v.partnerLang) ? v.partnerLang : null,
    partnerBot: v.partnerBot === true,
    cidPrefix: isStr(v.cidPrefix) && v.cidPrefix !== '' ? v.cidPrefix : 'r',
    cidCounter: isInt(v.cidCounter) ? v.cidCounter : 0,
    lines: v.phase === 'chatting' ? lines : [],
  };
}
