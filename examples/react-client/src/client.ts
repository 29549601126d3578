// A small, framework-free QuickTalk client.
//
// It owns one WebSocket at a time and turns the wire protocol
// (src/protocol.ts) into a plain state object plus a few one-off events:
//
// - Reconnect and resume: after an unexpected close it reconnects with
//   exponential backoff and jitter (capped at 10 s) and sends
//   `resume {token, last_seq, room}` as the first frame of the new
//   connection. If the server answers `resume_failed`, the connection goes on
//   as the fresh session its `hello` announced and the UI is told.
// - No line lost or doubled: incoming `message` frames are de-duplicated by
//   (room, seq); our own lines stay "pending" until their echo (matched by
//   `cid`) arrives, and pending lines are re-sent with the same `cid` after a
//   successful resume (the server answers a repeated cid with the original
//   echo and never delivers it twice).
// - Close codes: 1008 (banned, flooding), 4003 (replaced by a resume
//   elsewhere) and 1000 end the session for good: no reconnect loop, the UI
//   offers "connect again". 1001 (server shutting down) and every other
//   close reconnect.
// - A dead link is noticed: every ping (25 s apart, or one at once through
//   `checkAlive()` when the tab becomes visible again) must be followed by
//   some frame within 10 s, else the socket is given up and the client
//   reconnects and resumes.
// - A reload resumes too: while a search or a chat is in progress the
//   client keeps its resume token, room, last seq, search preferences and
//   lines in the tab's sessionStorage (src/sessionStore.ts); a new client in
//   the same tab restores them and sends `resume` as its first frame.
//
// The WebSocket constructor, the random source and the timings are
// injectable, so the whole state machine runs under unit tests with a fake
// socket and fake timers.

import {
  CloseCode,
  DEFAULT_LIMITS,
  charLength,
  encodeClientFrame,
  parseServerFrame,
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  type HelloFrame,
  type Limits,
  type MatchedFrame,
  type MessageFrame,
  type PartnerLeftReason,
  type RejectReason,
  type RejectedFrame,
  type ReportReason,
  type ResumedFrame,
  type ServerFrame,
} from './protocol';
import {
  clearSavedChat,
  defaultSessionStorage,
  readSavedChat,
  writeSavedChat,
  type SavedChat,
  type StorageLike,
} from './sessionStore';

// -------------------------------------------------------------- socket type

/** The part of the browser's WebSocket this client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Something that can be called like `new WebSocket(url)`. */
export type WebSocketFactory = new (url: string) => WebSocketLike;

const WS_OPEN = 1;
/** Attempts in a row ending before a hello after which the server counts as unreachable. */
export const UNREACHABLE_AFTER = 3;

// -------------------------------------------------------------- public state

/**
 * Connection status:
 * - `connecting`: the very first connection is being opened;
 * - `resuming`: a new connection sent `resume` and waits for the answer;
 * - `open`: ready for user actions;
 * - `reconnecting`: the connection dropped; a retry is scheduled or running;
 * - `closed`: the session is over (banned, replaced, closed by us); only
 *   `reconnect()` starts a new one.
 */
export type ConnectionStatus = 'connecting' | 'resuming' | 'open' | 'reconnecting' | 'closed';

/** Where the user is in the chat flow. */
export type Phase = 'idle' | 'waiting' | 'chatting' | 'ended';

/** Why a line of ours was not delivered. `lost`: the chat ended under it (drop, new room). */
export interface LineRejection {
  reason: RejectReason | 'lost';
  category?: string;
}

/** A system notice in the chat log; the UI turns it into text in its language. */
export type Notice =
  | { kind: 'matched'; common: string[] }
  | { kind: 'matched_resumed' } // the `matched` frame was lost in a drop
  | { kind: 'partner_left'; reason: PartnerLeftReason }
  | { kind: 'resume_failed' } // reconnected, but the chat could not be restored
  | { kind: 'ended_away' } // the chat ended while we were disconnected
  | { kind: 'connection_closed'; code: number }
  | { kind: 'rejected'; reason: RejectReason; category?: string } // a rejection without a cid
  | { kind: 'reported' };

export type ChatLine =
  | {
      kind: 'you';
      /** Stable React key. */
      key: string;
      text: string;
      cid?: string;
      /** pending: sent (or to be sent), no echo yet; sent: echoed by the server; rejected: not delivered. */
      status: 'pending' | 'sent' | 'rejected';
      seq?: number;
      ts?: number;
      masked?: boolean;
      rejection?: LineRejection;
    }
  | { kind: 'stranger'; key: string; text: string; seq: number; ts: number; masked?: boolean }
  | { kind: 'system'; key: string; notice: Notice };

/** Why the session ended for good (status `closed`). */
export type CloseKind = 'banned' | 'policy' | 'replaced' | 'normal' | 'client';

export interface QuickTalkState {
  status: ConnectionStatus;
  phase: Phase;
  /** The session id from `hello` (not secret). */
  session: string | null;
  online: number | null;
  limits: Limits;
  room: string | null;
  /** The highest `seq` seen in `room`. */
  lastSeq: number;
  commonInterests: string[];
  partnerLang: string | null;
  /** (addition) The stranger is a program. */
  partnerBot: boolean;
  partnerTyping: boolean;
  lines: readonly ChatLine[];
  /** There is a current or recent partner to report. */
  canReport: boolean;
  reportPending: boolean;
  /** Set when status is `closed`. */
  closed: { code: number; kind: CloseKind } | null;
  /** The close code of the last unexpected drop while reconnecting (1001 = server restarting). */
  dropCode: number | null;
  /** The last connection-level error code (e.g. `server_busy`), cleared when the connection is ready. */
  lastError: ErrorCode | null;
  /** Delay of the scheduled reconnect, in ms. */
  retryInMs: number | null;
  /** When the scheduled reconnect runs (ms since epoch, `Date.now()` clock), for a countdown. */
  retryAt: number | null;
  /**
   * (addition) The last few connection attempts in a row all ended before the
   * server said hello: it is down, or refuses this address or network
   * (browsers hide the HTTP status of a refused WebSocket, so the client
   * cannot tell which). Cleared by the next hello.
   */
  unreachable: boolean;
}

/** The state of a client that has not connected yet. */
export function initialState(): QuickTalkState {
  return {
    status: 'connecting',
    phase: 'idle',
    session: null,
    online: null,
    limits: { ...DEFAULT_LIMITS },
    room: null,
    lastSeq: 0,
    commonInterests: [],
    partnerLang: null,
    partnerBot: false,
    partnerTyping: false,
    lines: [],
    canReport: false,
    reportPending: false,
    closed: null,
    dropCode: null,
    lastError: null,
    retryInMs: null,
    retryAt: null,
    unreachable: false,
  };
}

/** One-off happenings the UI may want to announce (banners, toasts). */
export type ClientEvent =
  | { type: 'frame'; frame: ServerFrame }
  | { type: 'error'; code: ErrorCode; message: string }
  | { type: 'resumed'; room?: string; replayed: number }
  | { type: 'resume_failed'; chatLost: boolean }
  | { type: 'disconnected'; code: number; retryInMs: number }
  | { type: 'closed'; code: number; kind: CloseKind }
  | { type: 'reported' };

export type ClientEventType = ClientEvent['type'];
type EventOf<T extends ClientEventType> = Extract<ClientEvent, { type: T }>;

export interface JoinPrefs {
  interests: string[];
  /** `""` = any language. */
  lang: string;
}

export interface BackoffOptions {
  /** First delay (before jitter). */
  baseMs: number;
  /** Cap of the delay. */
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000, factor: 2 };

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential, capped,
 * with "equal jitter" (between half and all of the capped value) so that many
 * clients dropped at once by a restart do not come back in lockstep.
 */
export function backoffDelay(attempt: number, random: () => number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * Math.pow(opts.factor, Math.max(0, attempt)));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling * (0.5 + 0.5 * r));
}

export interface QuickTalkClientOptions {
  /** `ws://host:port/ws` or `wss://…`. */
  url: string;
  /** Defaults to the global `WebSocket`. */
  WebSocket?: WebSocketFactory;
  backoff?: Partial<BackoffOptions>;
  /** Defaults to `Math.random`. */
  random?: () => number;
  /** Application-level ping interval while connected; 0 disables it. Default 25 s. */
  pingIntervalMs?: number;
  /** When nothing at all arrives within this long after a ping, the link counts as dead. Default 10 s. */
  pongTimeoutMs?: number;
  /**
   * A connection that has not said `hello` within this long is given up and
   * tried again (a reconnect made while the network is still down would
   * otherwise wait out the browser's own handshake timeout, minutes). Default 10 s.
   */
  connectTimeoutMs?: number;
  /**
   * Where a search or chat in progress is kept for a reload: defaults to the
   * tab's `sessionStorage`; `null` keeps nothing.
   */
  storage?: StorageLike | null;
  /** Prefix of our `cid`s; random per client by default, so cids stay unique across reloads. */
  cidPrefix?: string;
}

// ------------------------------------------------------------------- client

type Listener = () => void;

export class QuickTalkClient {
  private readonly url: string;
  private readonly WS: WebSocketFactory;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private cidPrefix: string;
  private readonly storage: StorageLike | null;
  private stored = false; // an entry of ours is in storage
  private lastSaved: unknown[] = [];

  private state: QuickTalkState;
  private readonly stateListeners = new Set<Listener>();
  private readonly eventListeners = new Map<ClientEventType, Set<(event: ClientEvent) => void>>();

  private ws: WebSocketLike | null = null;
  private ready = false; // hello handled and, when resuming, the resume answered
  private disposed = false;
  private token: string | null = null;
  private fresh: { session: string; token: string } | null = null; // kept in case the resume fails
  private resuming = false;
  private attempt = 0; // reconnect attempts since the connection was last ready
  private greeted = false; // the current socket got its hello
  private failedInRow = 0; // attempts in a row that ended before a hello
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private heard = 0; // frames received on the current socket: a ping with nothing after it means a dead link
  /** Messages of the restored room up to this seq were shown before the reload. */
  private seenFloor: { room: string; seq: number } | null = null;
  /** A test hook asked for the network to stay "down" until then (ms since epoch). */
  private offlineUntil = 0;

  private prefs: JoinPrefs = { interests: [], lang: '' };
  private queued = false; // the server knows about our current join/next
  private ignoreBadStateOnce = false; // see markReady()
  private readonly pending = new Map<string, string>(); // cid -> text, lines without an echo yet
  private readonly seen = new Set<string>(); // `${room}#${seq}` of every message shown
  private cidCounter = 0;
  private lineCounter = 0;
  private typingOut = false;
  private replayLeft = 0; // replayed `message` frames still to come after `resumed`
  private resendAfterReplay = false;

  constructor(options: QuickTalkClientOptions) {
    this.url = options.url;
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket;
    if (!WS) throw new Error('no WebSocket implementation available');
    this.WS = WS as WebSocketFactory;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
    this.pingIntervalMs = options.pingIntervalMs ?? 25_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.cidPrefix = options.cidPrefix ?? Math.random().toString(36).slice(2, 8);
    this.storage = options.storage === undefined ? defaultSessionStorage() : options.storage;
    this.state = initialState();
    if (this.storage) {
      const saved = readSavedChat(this.storage, Date.now());
      if (saved) this.restore(saved);
    }
  }

  /** Takes over a search or chat a previous page of this tab left (see sessionStore.ts). */
  private restore(saved: SavedChat): void {
    this.token = saved.token;
    this.prefs = saved.prefs;
    // Our cids go on where the old page stopped: a repeated cid would be taken for a resend.
    this.cidPrefix = saved.cidPrefix;
    this.cidCounter = saved.cidCounter;
    const lines = saved.lines.map((line) => ({ ...line, key: this.nextKey() }));
    for (const line of lines) {
      if (line.kind === 'you' && line.status === 'pending' && line.cid !== undefined) this.pending.set(line.cid, line.text);
    }
    if (saved.room !== null) {
      this.seenFloor = { room: saved.room, seq: saved.lastSeq };
      for (const line of lines) if (line.kind !== 'system' && line.seq !== undefined) this.seen.add(`${saved.room}#${line.seq}`);
    }
    this.stored = true;
    this.state = {
      ...this.state,
      phase: saved.phase,
      room: saved.room,
      lastSeq: saved.lastSeq,
      commonInterests: saved.commonInterests,
      partnerLang: saved.partnerLang,
      partnerBot: saved.partnerBot,
      canReport: saved.phase === 'chatting',
      lines,
    };
  }

  /**
   * Writes what a reload needs to resume, or removes it when there is
   * nothing to resume (start screen, a chat that is over, a closed session).
   * Called after every state change; `force` rewrites it even when nothing
   * changed, to renew its time (page hidden or unloading).
   */
  private persist(force = false): void {
    if (!this.storage || this.disposed) return;
    const { phase, room, lastSeq, lines, commonInterests, partnerLang, partnerBot, status } = this.state;
    const keep = this.token !== null && status !== 'closed' && (phase === 'waiting' || phase === 'chatting');
    if (!keep) {
      if (this.stored) clearSavedChat(this.storage);
      this.stored = false;
      this.lastSaved = [];
      return;
    }
    const parts = [this.token, phase, room, lastSeq, lines, commonInterests, partnerLang, partnerBot, this.prefs, this.cidCounter];
    if (!force && this.stored && parts.every((p, i) => p === this.lastSaved[i])) return;
    this.lastSaved = parts;
    this.stored = true;
    writeSavedChat(this.storage, {
      v: 1,
      at: Date.now(),
      graceMs: (this.state.limits.resume_grace_s ?? DEFAULT_LIMITS.resume_grace_s) * 1000,
      token: this.token!,
      phase: phase as 'waiting' | 'chatting',
      room: phase === 'chatting' ? room : null,
      lastSeq: phase === 'chatting' ? lastSeq : 0,
      prefs: this.prefs,
      commonInterests,
      partnerLang,
      partnerBot,
      cidPrefix: this.cidPrefix,
      cidCounter: this.cidCounter,
      lines: phase === 'chatting' ? [...lines] : [],
    });
  }

  /**
   * Renews the stored chat's time. Call it when the page is hidden or
   * unloaded (`visibilitychange`, `pagehide`): the resume grace counts from
   * the moment the connection goes away, not from the last line.
   */
  saveSession(): void {
    this.persist(true);
  }

  // ------------------------------------------------------- subscriptions

  /** The current state. A new object after every change (safe for useSyncExternalStore). */
  getState = (): QuickTalkState => this.state;

  /** Calls `listener` after every state change; returns the unsubscribe function. */
  subscribe = (listener: Listener): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };

  /** Listens to one kind of event; returns the unsubscribe function. */
  on<T extends ClientEventType>(type: T, listener: (event: EventOf<T>) => void): () => void {
    let set = this.eventListeners.get(type);
    if (!set) this.eventListeners.set(type, (set = new Set()));
    const wrapped = listener as (event: ClientEvent) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  private emit(event: ClientEvent): void {
    for (const listener of [...(this.eventListeners.get(event.type) ?? [])]) listener(event);
  }

  private update(patch: Partial<QuickTalkState>): void {
    this.state = { ...this.state, ...patch };
    this.persist();
    for (const listener of [...this.stateListeners]) listener();
  }

  // ------------------------------------------------------------ lifecycle

  /** Opens the first connection. */
  connect(): void {
    if (this.disposed || this.ws) return;
    this.open();
  }

  /**
   * Connects again now: skips the rest of a backoff wait, or starts a new
   * session after the old one was closed for good (banned, replaced).
   */
  reconnect(): void {
    if (this.disposed || this.ws) return;
    if (this.state.status === 'closed') {
      this.update({ status: 'connecting', closed: null, lastError: null });
    }
    this.offlineUntil = 0;
    this.open();
  }

  /** Closes the connection for good (component unmount, page unload). */
  dispose(): void {
    this.disposed = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try {
        ws.close(CloseCode.NORMAL);
      } catch {
        /* already closed */
      }
    }
    this.ready = false;
    this.update({ status: 'closed', closed: { code: CloseCode.NORMAL, kind: 'client' }, partnerTyping: false });
  }

  /**
   * TEST HOOK (used by the end-to-end test through `window.__quicktalkDrop`):
   * closes the socket abruptly, the way a network drop would. Frames still in
   * flight are lost, the client treats it as an unexpected close (1006) and
   * resumes. `offlineMs` keeps the "network" down at least that long before
   * the first reconnect attempt.
   */
  dropForTest(offlineMs = 0): void {
    const ws = this.ws;
    if (!ws) return;
    this.offlineUntil = Date.now() + Math.max(0, offlineMs);
    this.abandon(ws);
  }

  /** Gives a socket up as dead: its late events are ignored, and the client reconnects and resumes. */
  private abandon(ws: WebSocketLike): void {
    detach(ws);
    try {
      ws.close();
    } catch {
      /* ignore */
    }
    this.onClose(ws, CloseCode.ABNORMAL);
  }

  /**
   * Checks a connection that looks open (call it when the tab becomes
   * visible again or the network comes back): sends a ping, and when nothing
   * at all arrives within the pong timeout, gives the socket up, reconnects
   * and resumes. Does nothing while a check is already running or before the
   * `hello` is handled (a resume must be the connection's first frame).
   */
  checkAlive(): void {
    if (this.pongTimer === null) this.ping();
  }

  private ping(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WS_OPEN || !(this.ready || this.resuming)) return;
    this.sendFrame({ type: 'ping' });
    if (this.pongTimer !== null) return; // the earlier ping's deadline is still running
    const heard = this.heard;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (this.ws === ws && this.heard === heard) this.abandon(ws);
    }, this.pongTimeoutMs);
  }

  private open(): void {
    this.clearRetry();
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url);
    } catch {
      // A malformed URL or a blocked scheme: treat like a failed attempt.
      this.greeted = false;
      this.countFailure();
      this.scheduleReconnect(CloseCode.ABNORMAL);
      return;
    }
    this.ws = ws;
    this.greeted = false;
    this.ready = false;
    this.resuming = false;
    if (this.state.status !== 'connecting') this.update({ status: 'reconnecting', retryInMs: null, retryAt: null });
    // Events of a socket we already gave up on must not touch the state.
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.heard += 1;
      this.onData(event.data);
    };
    ws.onclose = (event) => {
      if (ws === this.ws) this.onClose(ws, event.code);
    };
    ws.onerror = () => {
      /* a close event always follows */
    };
    this.clearConnectTimer();
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (this.ws === ws && !this.greeted) this.abandon(ws);
    }, this.connectTimeoutMs);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private onClose(ws: WebSocketLike, code: number): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.ready = false;
    this.resuming = false; // an unanswered resume leaves the old token valid
    this.fresh = null;
    this.queued = false; // the server drops a waiting session from the queue at once
    this.typingOut = false;
    this.replayLeft = 0;
    this.resendAfterReplay = false;
    this.stopPing();
    if (this.disposed) return;

    const kind = finalCloseKind(code, this.state.lastError);
    if (kind) {
      // The session is over here (or lives on in another tab): resuming would
      // fail or steal it back. Only an explicit reconnect() starts again.
      this.token = null;
      this.clearRetry();
      const phase = this.state.phase;
      this.failPending('lost');
      if (phase === 'chatting') this.addNotice({ kind: 'connection_closed', code });
      this.update({
        status: 'closed',
        closed: { code, kind },
        phase: phase === 'chatting' ? 'ended' : phase === 'waiting' ? 'idle' : phase,
        session: null,
        partnerTyping: false,
        canReport: false,
        reportPending: false,
        retryInMs: null,
        retryAt: null,
      });
      this.emit({ type: 'closed', code, kind });
      return;
    }
    this.update({ partnerTyping: false, reportPending: false, dropCode: code });
    this.countFailure();
    this.scheduleReconnect(code);
  }

  /** A connection ended: counts it when it never got as far as a hello. */
  private countFailure(): void {
    this.failedInRow = this.greeted ? 0 : this.failedInRow + 1;
    const unreachable = this.failedInRow >= UNREACHABLE_AFTER;
    if (unreachable !== this.state.unreachable) this.update({ unreachable });
  }

  private scheduleReconnect(code: number): void {
    this.clearRetry();
    const delay = Math.max(
      backoffDelay(this.attempt, this.random, this.backoff),
      this.offlineUntil - Date.now(),
    );
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
    this.update({ status: 'reconnecting', retryInMs: delay, retryAt: Date.now() + delay });
    this.emit({ type: 'disconnected', code, retryInMs: delay });
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private stopPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.pongTimer !== null) clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }

  private clearTimers(): void {
    this.clearRetry();
    this.stopPing();
    this.clearConnectTimer();
  }

  private sendFrame(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WS_OPEN) return false;
    ws.send(encodeClientFrame(frame));
    return true;
  }

  /** User actions go out only on a settled connection (not before the resume is answered). */
  private act(frame: ClientFrame): boolean {
    return this.ready && this.sendFrame(frame);
  }

  // ------------------------------------------------------------- incoming

  private onData(data: unknown): void {
    const frame = parseServerFrame(data);
    if (!frame) return; // unknown or malformed: ignored on purpose
    this.emit({ type: 'frame', frame });
    switch (frame.type) {
      case 'hello':
        return this.onHello(frame);
      case 'resumed':
        return this.onResumed(frame);
      case 'waiting':
        if (this.state.phase === 'waiting') this.queued = true;
        return;
      case 'matched':
        return this.onMatched(frame);
      case 'message':
        return this.onMessage(frame);
      case 'typing':
        this.update({ partnerTyping: this.state.phase === 'chatting' && frame.active });
        return;
      case 'partner_left':
        if (this.state.phase !== 'chatting') return;
        this.failPending('lost');
        this.addNotice({ kind: 'partner_left', reason: frame.reason });
        this.typingOut = false;
        this.update({ phase: 'ended', partnerTyping: false });
        return;
      case 'rejected':
        return this.onRejected(frame);
      case 'reported':
        this.addNotice({ kind: 'reported' });
        this.update({ reportPending: false });
        this.emit({ type: 'reported' });
        return;
      case 'online':
        this.update({ online: frame.count });
        return;
      case 'error':
        return this.onError(frame);
      case 'pong':
        return;
    }
  }

  private onHello(f: HelloFrame): void {
    this.greeted = true;
    this.clearConnectTimer();
    this.failedInRow = 0;
    this.update({
      limits: { ...DEFAULT_LIMITS, ...f.limits },
      online: f.online,
      unreachable: false,
    });
    this.startPing();
    if (this.token) {
      // Resume must be the first frame; keep the fresh session in case it fails.
      this.fresh = { session: f.session, token: f.resume_token };
      this.resuming = true;
      const { room, phase, lastSeq } = this.state;
      const inRoom = room !== null && (phase === 'chatting' || phase === 'ended');
      this.sendFrame(
        inRoom
          ? { type: 'resume', token: this.token, last_seq: lastSeq, room: room! }
          : { type: 'resume', token: this.token, last_seq: 0 },
      );
      this.update({ status: 'resuming' });
    } else {
      this.token = f.resume_token;
      this.update({ session: f.session });
      this.markReady(false);
    }
  }

  private onResumed(f: ResumedFrame): void {
    if (!this.resuming) return;
    this.token = f.resume_token; // the old one is spent: persist() stores the new one below
    this.resuming = false;
    this.fresh = null;
    const { phase, room } = this.state;
    if (f.room && f.room === room && (phase === 'chatting' || phase === 'ended')) {
      // Same chat: the missed lines follow; then lines still pending go out
      // again with their cid (see flushResend).
      this.resendAfterReplay = true;
    } else if (f.room) {
      // The `matched` frame was lost in the drop: we are in a room we never saw.
      this.startChat(f.room, null, null, false);
      this.resendAfterReplay = false;
    } else if (phase === 'chatting') {
      // The chat ended while we were away and its end was already consumed.
      this.failPending('lost');
      this.addNotice({ kind: 'ended_away' });
      this.update({ phase: 'ended', partnerTyping: false });
    }
    this.replayLeft = f.replayed;
    this.emit({ type: 'resumed', room: f.room, replayed: f.replayed });
    this.markReady(true);
  }

  private resumeFailed(): void {
    // The connection goes on as the fresh session its hello announced.
    this.token = this.fresh?.token ?? null;
    const session = this.fresh?.session ?? null;
    this.fresh = null;
    this.resuming = false;
    const chatLost = this.state.phase === 'chatting';
    this.failPending('lost');
    if (chatLost) this.addNotice({ kind: 'resume_failed' });
    this.update({
      session,
      phase: chatLost ? 'ended' : this.state.phase,
      partnerTyping: false,
      canReport: false, // the fresh session has no partner to report
    });
    this.emit({ type: 'resume_failed', chatLost });
    // A search is simply sent again by markReady(); idle and ended lose nothing.
    this.markReady(false);
  }

  private markReady(afterResume: boolean): void {
    this.ready = true;
    this.attempt = 0;
    this.offlineUntil = 0;
    if (this.state.phase === 'waiting' && !this.queued) {
      // A search the drop (or a not yet open socket) swallowed. After a
      // resume that replaced a still open connection the server may already
      // have us waiting and answer bad_state: that one answer is expected.
      this.ignoreBadStateOnce = afterResume;
      this.queued = this.sendFrame(this.joinFrame('join'));
    }
    if (this.resendAfterReplay && this.replayLeft === 0) this.flushResend();
    this.update({ status: 'open', dropCode: null, lastError: null, retryInMs: null, retryAt: null });
  }

  /** Sends every line still without an echo again, with its original cid. */
  private flushResend(): void {
    this.resendAfterReplay = false;
    if (this.state.phase !== 'chatting') return;
    for (const [cid, text] of this.pending) this.sendFrame({ type: 'send', text, cid });
  }

  private onMatched(f: MatchedFrame): void {
    // Frames are answered in order: a `matched` after we left locally answers
    // a search we already cancelled.
    if (this.state.phase !== 'waiting') return;
    this.startChat(f.room, f.common_interests, f.partner_lang ?? null, f.partner_bot === true);
  }

  private startChat(room: string, common: string[] | null, partnerLang: string | null, partnerBot: boolean): void {
    this.failPending('lost');
    this.seen.clear(); // keys carry the room; only the current room's matter
    this.seenFloor = null;
    this.queued = false;
    this.typingOut = false;
    this.addNotice(common === null ? { kind: 'matched_resumed' } : { kind: 'matched', common });
    this.update({
      phase: 'chatting',
      room,
      lastSeq: 0,
      commonInterests: common ?? [],
      partnerLang,
      partnerBot,
      partnerTyping: false,
      canReport: true,
    });
  }

  private onMessage(f: MessageFrame): void {
    const { phase, room } = this.state;
    if (room === null || (phase !== 'chatting' && phase !== 'ended')) return;
    if (this.replayLeft > 0) this.replayLeft -= 1;
    const key = `${room}#${f.seq}`;
    // A line of ours still pending is never "shown": its echo may have a
    // seq below the last one seen (a later line of the partner's arrived
    // before the reload, the echo did not).
    const ownPending = f.from === 'you' && f.cid !== undefined && this.pending.has(f.cid);
    const shownBeforeReload =
      !ownPending && this.seenFloor !== null && this.seenFloor.room === room && f.seq <= this.seenFloor.seq;
    if (!shownBeforeReload && !this.seen.has(key)) {
      this.seen.add(key);
      this.applyMessage(f);
    }
    if (this.resendAfterReplay && this.replayLeft === 0) this.flushResend();
  }

  private applyMessage(f: MessageFrame): void {
    const lastSeq = Math.max(this.state.lastSeq, f.seq);
    const lines = [...this.state.lines];
    const own = f.from === 'you' && f.cid !== undefined && this.pending.has(f.cid);
    if (own) {
      // The echo acknowledges our line and carries its text as moderated.
      this.pending.delete(f.cid!);
      const i = lines.findIndex((l) => l.kind === 'you' && l.cid === f.cid && l.status === 'pending');
      if (i >= 0) {
        const line = lines[i] as Extract<ChatLine, { kind: 'you' }>;
        lines[i] = { ...line, text: f.text, status: 'sent', seq: f.seq, ts: f.ts, masked: f.masked };
        this.update({ lines, lastSeq });
        return;
      }
    }
    const line: ChatLine =
      f.from === 'you'
        ? { kind: 'you', key: this.nextKey(), text: f.text, cid: f.cid, status: 'sent', seq: f.seq, ts: f.ts, masked: f.masked }
        : { kind: 'stranger', key: this.nextKey(), text: f.text, seq: f.seq, ts: f.ts, masked: f.masked };
    // Our own lines still pending get their real place (seq) only when
    // echoed, so incoming lines go above them: this keeps the log in seq order.
    const firstPending = lines.findIndex((l) => l.kind === 'you' && l.status === 'pending');
    lines.splice(firstPending < 0 ? lines.length : firstPending, 0, line);
    this.update({
      lines,
      lastSeq,
      partnerTyping: f.from === 'stranger' ? false : this.state.partnerTyping,
    });
  }

  private onRejected(f: RejectedFrame): void {
    if (f.cid === undefined) {
      this.addNotice({ kind: 'rejected', reason: f.reason, category: f.category });
      return;
    }
    if (!this.pending.has(f.cid)) return; // a line from a log we already cleared
    this.pending.delete(f.cid);
    const rejection: LineRejection = { reason: f.reason };
    if (f.category !== undefined) rejection.category = f.category;
    this.update({
      lines: this.state.lines.map((l) =>
        l.kind === 'you' && l.cid === f.cid && l.status === 'pending' ? { ...l, status: 'rejected', rejection } : l,
      ),
    });
  }

  private onError(f: ErrorFrame): void {
    if (f.code === 'resume_failed' && this.resuming) {
      this.emit({ type: 'error', code: f.code, message: f.message });
      this.resumeFailed();
      return;
    }
    if (f.code === 'bad_state' && this.ignoreBadStateOnce) {
      this.ignoreBadStateOnce = false;
      return;
    }
    if (this.state.reportPending && (f.code === 'bad_state' || f.code === 'server_busy')) {
      // The report did not go through; the UI may offer it again.
      this.update({ reportPending: false });
    }
    this.update({ lastError: f.code });
    this.emit({ type: 'error', code: f.code, message: f.message });
  }

  private startPing(): void {
    this.stopPing();
    if (this.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
    }
  }

  // ------------------------------------------------------------- actions

  /** Whether user actions can go out right now. */
  get isReady(): boolean {
    return this.ready;
  }

  /**
   * Enters the queue (from idle or ended). Before the connection is ready the
   * search is remembered and sent as soon as it is.
   */
  join(prefs: JoinPrefs): boolean {
    const phase = this.state.phase;
    if (phase === 'waiting' || phase === 'chatting') return false;
    if (this.state.status === 'closed' && !this.disposed) this.reconnect();
    this.prefs = { interests: [...prefs.interests], lang: prefs.lang };
    this.search('join');
    return true;
  }

  /** Ends the current chat (or search) and looks for the next stranger. */
  next(prefs?: JoinPrefs): boolean {
    if (!this.ready) return false;
    if (prefs) this.prefs = { interests: [...prefs.interests], lang: prefs.lang };
    this.search('next');
    return true;
  }

  /** Ends the chat or stops waiting; back to the start screen. */
  leave(): boolean {
    if (!this.ready) return false;
    const phase = this.state.phase;
    if (phase === 'waiting' || phase === 'chatting') this.sendFrame({ type: 'leave' });
    this.queued = false;
    this.typingOut = false;
    this.failPending('lost');
    this.update({ phase: 'idle', partnerTyping: false });
    return true;
  }

  /**
   * Sends a chat line. It shows at once as pending and turns into a normal
   * line when its echo comes back. Returns the cid, or null when nothing was
   * sent (not chatting, empty, too long). While reconnecting the line stays
   * pending and goes out after the resume.
   */
  send(text: string): string | null {
    const trimmed = text.trim();
    if (!trimmed || this.state.phase !== 'chatting') return null;
    if (charLength(trimmed) > this.state.limits.max_text_chars) return null;
    const cid = `${this.cidPrefix}-${++this.cidCounter}`;
    this.pending.set(cid, trimmed);
    this.update({
      lines: [...this.state.lines, { kind: 'you', key: this.nextKey(), text: trimmed, cid, status: 'pending' }],
    });
    this.act({ type: 'send', text: trimmed, cid });
    this.typingOut = false; // sending a line ends our typing state on the server
    return cid;
  }

  /** Our typing indicator. Only changes are sent. */
  setTyping(active: boolean): void {
    if (active === this.typingOut) return;
    if (active && (this.state.phase !== 'chatting' || !this.ready)) return;
    if (this.act({ type: 'typing', active })) this.typingOut = active;
    else if (!active) this.typingOut = false;
  }

  /** Reports the current or most recent partner; `reported` confirms it. */
  report(reason: ReportReason, note?: string): boolean {
    if (!this.ready || !this.state.canReport) return false;
    const trimmed = note?.trim();
    const frame: ClientFrame = trimmed
      ? { type: 'report', reason, note: Array.from(trimmed).slice(0, 500).join('') }
      : { type: 'report', reason };
    if (!this.act(frame)) return false;
    this.update({ reportPending: true });
    return true;
  }

  // ------------------------------------------------------------- helpers

  private search(type: 'join' | 'next'): void {
    this.pending.clear();
    this.seen.clear();
    this.seenFloor = null;
    this.typingOut = false;
    this.update({
      phase: 'waiting',
      room: null,
      lastSeq: 0,
      lines: [],
      commonInterests: [],
      partnerLang: null,
      partnerBot: false,
      partnerTyping: false,
    });
    this.ignoreBadStateOnce = false;
    this.queued = this.act(this.joinFrame(type));
  }

  private joinFrame(type: 'join' | 'next'): ClientFrame {
    const frame: { type: 'join' | 'next'; interests?: string[]; lang?: string } = { type };
    if (this.prefs.interests.length) frame.interests = this.prefs.interests;
    if (this.prefs.lang) frame.lang = this.prefs.lang;
    return frame as ClientFrame;
  }

  /** Marks every pending line as not delivered. */
  private failPending(reason: LineRejection['reason']): void {
    if (this.pending.size === 0) return;
    const lost = new Set(this.pending.keys());
    this.pending.clear();
    this.update({
      lines: this.state.lines.map((l) =>
        l.kind === 'you' && l.status === 'pending' && l.cid !== undefined && lost.has(l.cid)
          ? { ...l, status: 'rejected', rejection: { reason } }
          : l,
      ),
    });
  }

  private addNotice(notice: Notice): void {
    this.update({ lines: [...this.state.lines, { kind: 'system', key: this.nextKey(), notice }] });
  }

  private nextKey(): string {
    return `l${++this.lineCounter}`;
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}

/** The close codes after which the session is over and reconnecting would loop. */
function finalCloseKind(code: number, lastError: ErrorCode | null): CloseKind | null {
  switch (code) {
    case CloseCode.POLICY:
      return lastError === 'banned' ? 'banned' : 'policy';
    case CloseCode.REPLACED:
      return 'replaced';
    case CloseCode.NORMAL:
      return 'normal';
    default:
      return null; // 1001 shutdown, 1006 drop, 1011, 1013, 4001, 4002, ...: reconnect and resume
  }
}
