import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QuickTalkClient, UNREACHABLE_AFTER, backoffDelay, type ChatLine, type ClientEvent, type QuickTalkClientOptions } from './client';
import { FakeWebSocket } from './testing/fakeWebSocket';

const URL = 'ws://quicktalk.test/ws';

function hello(session = 's1', token = 'tok1', extra: object = {}) {
  return {
    type: 'hello',
    session,
    resume_token: token,
    online: 7,
    protocol: 1,
    limits: { max_text_chars: 300, max_interests: 10, rate_per_sec: 5 },
    ...extra,
  };
}

function makeClient(options: Partial<QuickTalkClientOptions> = {}) {
  const client = new QuickTalkClient({
    url: URL,
    WebSocket: FakeWebSocket,
    random: () => 1, // no jitter: delays are exactly the capped exponential
    pingIntervalMs: 0,
    cidPrefix: 't',
    ...options,
  });
  client.connect();
  return client;
}

/** A client whose first connection got its hello. */
function connected(options: Partial<QuickTalkClientOptions> = {}) {
  const client = makeClient(options);
  const ws = FakeWebSocket.last;
  ws.open();
  ws.receive(hello());
  return { client, ws };
}

/** A client in room `room` (seq 0 so far). */
function chatting(room = 'room1') {
  const { client, ws } = connected();
  client.join({ interests: ['music'], lang: 'ko' });
  ws.receive({ type: 'waiting' });
  ws.receive({ type: 'matched', room, common_interests: ['music'] });
  return { client, ws };
}

const msg = (seq: number, from: 'you' | 'stranger', text: string, extra: object = {}) => ({
  type: 'message',
  seq,
  from,
  text,
  ts: 1_764_050_000_000 + seq,
  ...extra,
});

/** Waits out any backoff and returns the new socket, opened and greeted. */
function reconnect(session = 's2', token = 'fresh-token') {
  const before = FakeWebSocket.instances.length;
  vi.advanceTimersByTime(10_000);
  expect(FakeWebSocket.instances.length).toBe(before + 1);
  const ws = FakeWebSocket.last;
  ws.open();
  ws.receive(hello(session, token));
  return ws;
}

type TextLine = Exclude<ChatLine, { kind: 'system' }>;
const chatLines = (lines: readonly ChatLine[]) => lines.filter((l): l is TextLine => l.kind !== 'system');
const texts = (lines: readonly ChatLine[]) => chatLines(lines).map((l) => l.text);

function recordEvents(client: QuickTalkClient) {
  const events: ClientEvent[] = [];
  for (const type of ['resumed', 'resume_failed', 'disconnected', 'closed', 'error', 'reported'] as const) {
    client.on(type, (e) => events.push(e));
  }
  return events;
}

beforeEach(() => {
  FakeWebSocket.reset();
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('hello', () => {
  it('opens the given URL and becomes ready on hello, sending nothing', () => {
    const client = makeClient();
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(FakeWebSocket.last.url).toBe(URL);
    expect(client.getState().status).toBe('connecting');
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive(hello('abc', 'tok'));
    const state = client.getState();
    expect(state.status).toBe('open');
    expect(state.session).toBe('abc');
    expect(state.online).toBe(7);
    expect(state.limits.max_text_chars).toBe(300);
    expect(state.limits.max_interest_chars).toBe(32); // default for a field the server left out
    expect(ws.sent).toEqual([]); // a first connection has nothing to resume
  });

  it('notifies subscribers with a new state object', () => {
    const client = makeClient();
    const seen: unknown[] = [];
    client.subscribe(() => seen.push(client.getState()));
    const before = client.getState();
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(hello());
    expect(seen.length).toBeGreaterThan(0);
    expect(client.getState()).not.toBe(before);
  });

  it('sends a join made before hello once the connection is ready', () => {
    const client = makeClient();
    client.join({ interests: ['music', 'books'], lang: 'en' });
    expect(client.getState().phase).toBe('waiting');
    const ws = FakeWebSocket.last;
    ws.open();
    expect(ws.sent).toEqual([]);
    ws.receive(hello());
    expect(ws.frames).toEqual([{ type: 'join', interests: ['music', 'books'], lang: 'en' }]);
  });

  it('ignores unknown frames and garbage', () => {
    const { client, ws } = connected();
    const before = client.getState();
    ws.receive({ type: 'brand_new_frame', x: 1 });
    ws.receive('not json');
    ws.receive({ type: 'message' }); // missing fields
    expect(client.getState()).toBe(before);
  });
});

describe('join, matched and messages', () => {
  it('walks through join, waiting, matched with a bot partner, and lines both ways', () => {
    const { client, ws } = connected();
    client.join({ interests: ['music'], lang: '' });
    expect(ws.frames).toEqual([{ type: 'join', interests: ['music'] }]); // no lang, no bot field
    ws.receive({ type: 'waiting' });
    expect(client.getState().phase).toBe('waiting');
    ws.receive({
      type: 'matched',
      room: 'r1',
      common_interests: ['music'],
      partner_lang: 'ko',
      partner_bot: true,
      future: 'ignored',
    });
    let state = client.getState();
    expect(state.phase).toBe('chatting');
    expect(state.room).toBe('r1');
    expect(state.commonInterests).toEqual(['music']);
    expect(state.partnerLang).toBe('ko');
    expect(state.partnerBot).toBe(true);
    expect(state.canReport).toBe(true);
    expect(state.lines[0]).toMatchObject({ kind: 'system', notice: { kind: 'matched', common: ['music'] } });

    ws.receive(msg(1, 'stranger', 'hello'));
    state = client.getState();
    expect(chatLines(state.lines)).toEqual([
      expect.objectContaining({ kind: 'stranger', text: 'hello', seq: 1 }),
    ]);
    expect(state.lastSeq).toBe(1);
  });

  it('a person partner has no bot flag', () => {
    const { client } = chatting();
    expect(client.getState().partnerBot).toBe(false);
  });

  it('ignores a matched that answers a search already left', () => {
    const { client, ws } = connected();
    client.join({ interests: [], lang: '' });
    client.leave();
    ws.receive({ type: 'matched', room: 'r9', common_interests: [] });
    expect(client.getState().phase).toBe('idle');
    expect(ws.frames.map((f) => f.type)).toEqual(['join', 'leave']);
  });

  it('next ends the chat and searches again with the remembered interests', () => {
    const { client, ws } = chatting();
    client.next();
    expect(ws.frames.at(-1)).toEqual({ type: 'next', interests: ['music'], lang: 'ko' });
    expect(client.getState()).toMatchObject({ phase: 'waiting', room: null, lines: [] });
  });

  it('partner_left ends the chat with its reason', () => {
    const { client, ws } = chatting();
    ws.receive({ type: 'partner_left', reason: 'skipped' });
    const state = client.getState();
    expect(state.phase).toBe('ended');
    expect(state.lines.at(-1)).toMatchObject({ kind: 'system', notice: { kind: 'partner_left', reason: 'skipped' } });
    expect(state.canReport).toBe(true);
  });
});

describe('own lines: echo as ack', () => {
  it('shows a line as pending until the echo with its cid arrives', () => {
    const { client, ws } = chatting();
    const cid1 = client.send('  hi there ');
    const cid2 = client.send('second');
    expect(cid1).toBe('t-1');
    expect(cid2).toBe('t-2');
    expect(ws.frames.slice(-2)).toEqual([
      { type: 'send', text: 'hi there', cid: 't-1' },
      { type: 'send', text: 'second', cid: 't-2' },
    ]);
    expect(chatLines(client.getState().lines).map((l) => l.kind === 'you' && l.status)).toEqual(['pending', 'pending']);

    // The echo carries the text as moderated.
    ws.receive(msg(1, 'you', 'hi ***** ', { cid: 't-1', masked: true }));
    const lines = chatLines(client.getState().lines);
    expect(lines[0]).toMatchObject({ kind: 'you', cid: 't-1', status: 'sent', seq: 1, text: 'hi ***** ', masked: true });
    expect(lines[1]).toMatchObject({ kind: 'you', cid: 't-2', status: 'pending' });
    expect(lines).toHaveLength(2); // acknowledged in place, not added again
  });

  it('puts an incoming line above our still pending lines', () => {
    const { client, ws } = chatting();
    client.send('mine');
    ws.receive(msg(1, 'stranger', 'theirs'));
    expect(texts(client.getState().lines)).toEqual(['theirs', 'mine']);
  });

  it('an echo whose cid is unknown is shown as an own line', () => {
    const { client, ws } = chatting();
    ws.receive(msg(1, 'you', 'from before', { cid: 'other-9' }));
    expect(chatLines(client.getState().lines)).toEqual([
      expect.objectContaining({ kind: 'you', status: 'sent', text: 'from before', seq: 1 }),
    ]);
  });

  it('marks a rejected line with its reason and category', () => {
    const { client, ws } = chatting();
    client.send('내 번호 010-1234-5678');
    ws.receive({ type: 'rejected', cid: 't-1', reason: 'moderation', category: 'contact' });
    expect(chatLines(client.getState().lines)[0]).toMatchObject({
      status: 'rejected',
      rejection: { reason: 'moderation', category: 'contact' },
    });
    // Without a cid it becomes a notice.
    ws.receive({ type: 'rejected', reason: 'not_in_room' });
    expect(client.getState().lines.at(-1)).toMatchObject({ kind: 'system', notice: { kind: 'rejected', reason: 'not_in_room' } });
  });

  it('refuses empty, too long, or out-of-chat lines', () => {
    const { client, ws } = connected();
    expect(client.send('hi')).toBeNull(); // idle
    client.join({ interests: [], lang: '' });
    ws.receive({ type: 'matched', room: 'r', common_interests: [] });
    expect(client.send('   ')).toBeNull();
    expect(client.send('x'.repeat(301))).toBeNull(); // hello said 300
    expect(client.send('가'.repeat(300))).not.toBeNull(); // counted in characters
  });
});

describe('dedupe by seq', () => {
  it('shows a message seen twice only once', () => {
    const { client, ws } = chatting();
    ws.receive(msg(1, 'stranger', 'a'));
    ws.receive(msg(2, 'stranger', 'b'));
    ws.receive(msg(2, 'stranger', 'b'));
    ws.receive(msg(1, 'stranger', 'a'));
    expect(texts(client.getState().lines)).toEqual(['a', 'b']);
    expect(client.getState().lastSeq).toBe(2);
  });

  it('counts seqs per room', () => {
    const { client, ws } = chatting('r1');
    ws.receive(msg(1, 'stranger', 'in r1'));
    client.next();
    ws.receive({ type: 'matched', room: 'r2', common_interests: [] });
    ws.receive(msg(1, 'stranger', 'in r2'));
    expect(texts(client.getState().lines)).toEqual(['in r2']);
  });
});

describe('typing', () => {
  it('sends only changes and follows the partner indicator', () => {
    const { client, ws } = chatting();
    const count = () => ws.frames.filter((f) => f.type === 'typing').length;
    client.setTyping(true);
    client.setTyping(true);
    expect(count()).toBe(1);
    client.setTyping(false);
    client.setTyping(false);
    expect(count()).toBe(2);
    expect(ws.frames.filter((f) => f.type === 'typing')).toEqual([
      { type: 'typing', active: true },
      { type: 'typing', active: false },
    ]);
    // Sending a line ends our typing state on the server: the next keystroke sends true again.
    client.setTyping(true);
    client.send('x');
    client.setTyping(true);
    expect(count()).toBe(4);

    ws.receive({ type: 'typing', active: true });
    expect(client.getState().partnerTyping).toBe(true);
    ws.receive(msg(1, 'stranger', 'done typing'));
    expect(client.getState().partnerTyping).toBe(false);
  });

  it('does not send typing outside a chat', () => {
    const { client, ws } = connected();
    client.setTyping(true);
    expect(ws.sent).toEqual([]);
  });
});

describe('reconnect and resume', () => {
  it('sends resume first, with the last seq and the room', () => {
    const { client, ws } = chatting('roomA');
    ws.receive(msg(1, 'stranger', 'one'));
    ws.receive(msg(2, 'you', 'two', { cid: 'x' }));
    ws.receive(msg(3, 'stranger', 'three'));
    ws.serverClose(1006);
    expect(client.getState().status).toBe('reconnecting');

    const ws2 = reconnect('s2', 'fresh');
    expect(ws2.frames[0]).toEqual({ type: 'resume', token: 'tok1', last_seq: 3, room: 'roomA' });
    expect(ws2.frames).toHaveLength(1);
    expect(client.getState().status).toBe('resuming');

    // User actions wait for the answer: a line typed now is not sent yet.
    client.send('typed while resuming');
    client.setTyping(true);
    expect(ws2.frames).toHaveLength(1);

    ws2.receive({ type: 'resumed', room: 'roomA', replayed: 0, resume_token: 'tok2' });
    expect(client.getState().status).toBe('open');
    expect(client.getState().session).toBe('s1'); // the old session lives on
    expect(ws2.frames.at(-1)).toEqual({ type: 'send', text: 'typed while resuming', cid: 't-1' });

    // The next resume uses the token from `resumed`.
    ws2.serverClose(1006);
    const ws3 = reconnect('s3', 'fresh3');
    expect(ws3.frames[0]).toMatchObject({ type: 'resume', token: 'tok2', last_seq: 3, room: 'roomA' });
  });

  it('resumes an idle session without a room', () => {
    const { ws } = connected();
    ws.serverClose(4001); // idle timeout is treated like a drop
    const ws2 = reconnect();
    expect(ws2.frames).toEqual([{ type: 'resume', token: 'tok1', last_seq: 0 }]);
  });

  it('re-sends unacknowledged lines with the same cid after the replay, and never doubles a line', () => {
    const { client, ws } = chatting('roomA');
    ws.receive(msg(1, 'stranger', 'hi'));
    client.send('first'); // t-1: reached the server, echo lost in the drop
    client.send('second'); // t-2: lost in the drop
    ws.serverClose(1006);
    client.send('third'); // t-3: typed while offline
    expect(chatLines(client.getState().lines).filter((l) => l.kind === 'you' && l.status === 'pending')).toHaveLength(3);

    const ws2 = reconnect();
    expect(ws2.frames[0]).toMatchObject({ type: 'resume', last_seq: 1, room: 'roomA' });
    ws2.receive({ type: 'resumed', room: 'roomA', replayed: 2, resume_token: 'tok2' });
    // Nothing is re-sent before the replay is in.
    expect(ws2.frames).toHaveLength(1);
    ws2.receive(msg(2, 'stranger', 'are you there?'));
    ws2.receive(msg(3, 'you', 'first', { cid: 't-1' }));
    // t-1 was acknowledged by the replay; t-2 and t-3 go out again with their cids.
    expect(ws2.frames.slice(1)).toEqual([
      { type: 'send', text: 'second', cid: 't-2' },
      { type: 'send', text: 'third', cid: 't-3' },
    ]);
    // The server's echoes, one of them repeated: each line is shown once.
    ws2.receive(msg(4, 'you', 'second', { cid: 't-2' }));
    ws2.receive(msg(4, 'you', 'second', { cid: 't-2' }));
    ws2.receive(msg(5, 'you', 'third', { cid: 't-3' }));
    ws2.receive(msg(2, 'stranger', 'are you there?'));
    const lines = chatLines(client.getState().lines);
    expect(texts(lines)).toEqual(['hi', 'are you there?', 'first', 'second', 'third']);
    expect(lines.every((l) => l.kind === 'stranger' || l.status === 'sent')).toBe(true);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('enters the room of a resumed whose matched was lost', () => {
    const { client, ws } = connected();
    client.join({ interests: [], lang: '' });
    ws.serverClose(1006);
    const ws2 = reconnect();
    expect(ws2.frames[0]).toEqual({ type: 'resume', token: 'tok1', last_seq: 0 });
    ws2.receive({ type: 'resumed', room: 'rX', replayed: 1, resume_token: 't2' });
    ws2.receive(msg(1, 'stranger', 'hello?'));
    const state = client.getState();
    expect(state.phase).toBe('chatting');
    expect(state.room).toBe('rX');
    expect(state.lines[0]).toMatchObject({ kind: 'system', notice: { kind: 'matched_resumed' } });
    expect(texts(state.lines)).toEqual(['hello?']);
  });

  it('queues again after a drop while waiting', () => {
    const { client, ws } = connected();
    client.join({ interests: ['music'], lang: '' });
    ws.receive({ type: 'waiting' });
    ws.serverClose(1006);
    const ws2 = reconnect();
    ws2.receive({ type: 'resumed', replayed: 0, resume_token: 't2' });
    expect(ws2.frames.slice(1)).toEqual([{ type: 'join', interests: ['music'] }]);
    expect(client.getState().phase).toBe('waiting');
  });

  it('ends a chat whose resume says it is over', () => {
    const { client, ws } = chatting();
    client.send('unsent');
    ws.serverClose(1006);
    const ws2 = reconnect();
    ws2.receive({ type: 'resumed', replayed: 0, resume_token: 't2' });
    const state = client.getState();
    expect(state.phase).toBe('ended');
    expect(chatLines(state.lines)[0]).toMatchObject({ status: 'rejected', rejection: { reason: 'lost' } });
    expect(ws2.frames).toHaveLength(1); // nothing re-sent into a chat that is over
  });

  it('treats the test hook drop as unexpected and stays offline as long as asked', () => {
    const { client, ws } = chatting('r1');
    ws.receive(msg(1, 'stranger', 'a'));
    client.dropForTest(3000);
    expect(ws.closedByClient).not.toBeNull();
    expect(client.getState().status).toBe('reconnecting');
    // Frames the old socket still delivers are lost, as on a real drop.
    ws.receive(msg(2, 'stranger', 'lost in the drop'));
    expect(texts(client.getState().lines)).toEqual(['a']);
    vi.advanceTimersByTime(2900);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(200);
    expect(FakeWebSocket.instances).toHaveLength(2);
    const ws2 = FakeWebSocket.last;
    ws2.open();
    ws2.receive(hello('s2', 'f2'));
    expect(ws2.frames[0]).toEqual({ type: 'resume', token: 'tok1', last_seq: 1, room: 'r1' });
  });
});

describe('resume_failed', () => {
  it('goes on as the fresh session and tells the UI the chat is lost', () => {
    const { client, ws } = chatting();
    const events = recordEvents(client);
    client.send('pending line');
    ws.serverClose(1006);
    const ws2 = reconnect('fresh-session', 'fresh-token');
    ws2.receive({ type: 'error', code: 'resume_failed', message: 'unknown or expired resume token' });
    const state = client.getState();
    expect(state.status).toBe('open');
    expect(state.session).toBe('fresh-session');
    expect(state.phase).toBe('ended');
    expect(state.canReport).toBe(false);
    expect(state.lines.at(-1)).toMatchObject({ kind: 'system', notice: { kind: 'resume_failed' } });
    expect(chatLines(state.lines)[0]).toMatchObject({ status: 'rejected', rejection: { reason: 'lost' } });
    expect(events).toContainEqual({ type: 'resume_failed', chatLost: true });
    expect(ws2.frames).toHaveLength(1); // the pending line is not re-sent into nowhere

    // The fresh session's token is the one resumed next time.
    ws2.serverClose(1006);
    const ws3 = reconnect();
    expect(ws3.frames[0]).toMatchObject({ type: 'resume', token: 'fresh-token' });
  });

  it('re-sends a search as the fresh session', () => {
    const { client, ws } = connected();
    client.join({ interests: [], lang: 'ko' });
    ws.serverClose(1006);
    const ws2 = reconnect();
    ws2.receive({ type: 'error', code: 'resume_failed', message: '' });
    expect(ws2.frames.slice(1)).toEqual([{ type: 'join', lang: 'ko' }]);
    expect(client.getState().phase).toBe('waiting');
  });
});

describe('backoff', () => {
  it('grows exponentially and is capped at 10 s', () => {
    const client = makeClient();
    const delays: number[] = [];
    client.on('disconnected', (e) => delays.push(e.retryInMs));
    for (let i = 0; i < 8; i++) {
      FakeWebSocket.last.serverClose(1006); // refused before opening
      vi.advanceTimersByTime(delays.at(-1)!);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    expect(FakeWebSocket.instances).toHaveLength(9);
  });

  it('waits exactly the delay before the next attempt', () => {
    makeClient();
    FakeWebSocket.last.serverClose(1006);
    vi.advanceTimersByTime(499);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('applies jitter between half and all of the delay', () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 0.5)).toBe(3000);
    expect(backoffDelay(20, () => 1)).toBe(10_000);
    expect(backoffDelay(20, () => 0)).toBe(5000);
    for (let attempt = 0; attempt < 12; attempt++) {
      const d = backoffDelay(attempt, Math.random);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(10_000);
    }
  });

  it('says the server is unreachable after three attempts in a row end before a hello, until one gets it', () => {
    const client = makeClient();
    for (let i = 0; i < UNREACHABLE_AFTER; i++) {
      expect(client.getState().unreachable).toBe(false);
      const ws = FakeWebSocket.last;
      ws.open(); // a proxy may accept the upgrade and close at once
      ws.serverClose(1006);
      vi.advanceTimersByTime(client.getState().retryInMs!);
    }
    expect(client.getState()).toMatchObject({ status: 'reconnecting', unreachable: true });
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive(hello());
    expect(client.getState()).toMatchObject({ status: 'open', unreachable: false });
  });

  it('a drop after a hello is not counted as unreachable', () => {
    const { client, ws } = connected();
    ws.serverClose(1006);
    vi.advanceTimersByTime(500);
    FakeWebSocket.last.serverClose(1006);
    vi.advanceTimersByTime(1000);
    FakeWebSocket.last.serverClose(1006);
    expect(client.getState().unreachable).toBe(false);
    vi.advanceTimersByTime(2000);
    FakeWebSocket.last.serverClose(1006);
    expect(client.getState().unreachable).toBe(true);
  });

  it('starts over after a successful connection', () => {
    const { client, ws } = connected();
    const delays: number[] = [];
    client.on('disconnected', (e) => delays.push(e.retryInMs));
    ws.serverClose(1006);
    vi.advanceTimersByTime(500);
    FakeWebSocket.last.serverClose(1006);
    vi.advanceTimersByTime(1000);
    const ws3 = FakeWebSocket.last;
    ws3.open();
    ws3.receive(hello('s3', 't3'));
    ws3.receive({ type: 'resumed', replayed: 0, resume_token: 't4' });
    ws3.serverClose(1006);
    expect(delays).toEqual([500, 1000, 500]);
  });
});

describe('close codes', () => {
  it('does not reconnect after a ban (error banned, then 1008)', () => {
    const { client, ws } = chatting();
    const events = recordEvents(client);
    ws.receive({ type: 'error', code: 'banned', message: 'banned' });
    ws.serverClose(1008);
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    const state = client.getState();
    expect(state.status).toBe('closed');
    expect(state.closed).toEqual({ code: 1008, kind: 'banned' });
    expect(state.phase).toBe('ended');
    expect(events).toContainEqual({ type: 'closed', code: 1008, kind: 'banned' });
  });

  it('does not reconnect after flooding (1008 without a ban)', () => {
    const { client, ws } = connected();
    ws.serverClose(1008);
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.getState().closed).toEqual({ code: 1008, kind: 'policy' });
  });

  it('does not reconnect after being replaced by a resume elsewhere (4003)', () => {
    const { client, ws } = chatting();
    ws.serverClose(4003);
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.getState().closed).toEqual({ code: 4003, kind: 'replaced' });
  });

  it('starts a new session (no resume) when asked to reconnect after a final close', () => {
    const { client, ws } = connected();
    ws.serverClose(4003);
    client.reconnect();
    const ws2 = FakeWebSocket.last;
    expect(FakeWebSocket.instances).toHaveLength(2);
    ws2.open();
    ws2.receive(hello('new', 'newtok'));
    expect(ws2.sent).toEqual([]);
    expect(client.getState()).toMatchObject({ status: 'open', session: 'new', closed: null });
  });

  it('reconnects and resumes after a server shutdown (1001)', () => {
    const { client, ws } = chatting('r1');
    ws.serverClose(1001);
    expect(client.getState()).toMatchObject({ status: 'reconnecting', dropCode: 1001 });
    const ws2 = reconnect();
    expect(ws2.frames[0]).toMatchObject({ type: 'resume', room: 'r1' });
  });

  it('reconnects after server_busy (1013)', () => {
    const client = makeClient();
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive({ type: 'error', code: 'server_busy', message: 'busy' });
    ws.serverClose(1013);
    expect(client.getState()).toMatchObject({ status: 'reconnecting', lastError: 'server_busy' });
    vi.advanceTimersByTime(500);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('a disposed client never reconnects', () => {
    const { client, ws } = connected();
    client.dispose();
    expect(ws.closedByClient).toEqual({ code: 1000 });
    ws.serverClose(1006);
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.getState().status).toBe('closed');
  });

  it('treats a constructor that throws as a failed attempt', () => {
    FakeWebSocket.failConstruct = true;
    const client = makeClient();
    expect(client.getState()).toMatchObject({ status: 'reconnecting', retryInMs: 500 });
    FakeWebSocket.failConstruct = false;
    vi.advanceTimersByTime(500);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe('report and ping', () => {
  it('reports the partner and confirms with reported', () => {
    const { client, ws } = chatting();
    const events = recordEvents(client);
    expect(client.report('spam', '  sells things  ')).toBe(true);
    expect(ws.frames.at(-1)).toEqual({ type: 'report', reason: 'spam', note: 'sells things' });
    expect(client.getState().reportPending).toBe(true);
    ws.receive({ type: 'reported' });
    expect(client.getState().reportPending).toBe(false);
    expect(client.getState().lines.at(-1)).toMatchObject({ kind: 'system', notice: { kind: 'reported' } });
    expect(events).toContainEqual({ type: 'reported' });
  });

  it('has nobody to report before a chat', () => {
    const { client, ws } = connected();
    expect(client.report('other')).toBe(false);
    expect(ws.sent).toEqual([]);
  });

  it('pings while connected', () => {
    const { ws } = connected({ pingIntervalMs: 1000 });
    vi.advanceTimersByTime(2500);
    expect(ws.frames).toEqual([{ type: 'ping' }, { type: 'ping' }]);
  });

  it('reports errors with their code', () => {
    const { client, ws } = connected();
    const events = recordEvents(client);
    ws.receive({ type: 'error', code: 'bots_not_allowed', message: 'no bots' });
    expect(events).toEqual([{ type: 'error', code: 'bots_not_allowed', message: 'no bots' }]);
    expect(client.getState().lastError).toBe('bots_not_allowed');
  });

  it('updates the online count', () => {
    const { client, ws } = connected();
    ws.receive({ type: 'online', count: 42 });
    expect(client.getState().online).toBe(42);
  });
});

describe('dead link detection', () => {
  it('gives the socket up when nothing arrives within 10 s of a ping, then reconnects and resumes', () => {
    const { client, ws } = connected({ pingIntervalMs: 25_000 });
    client.join({ interests: [], lang: '' });
    ws.receive({ type: 'matched', room: 'rD', common_interests: [] });
    ws.receive(msg(1, 'stranger', 'hi'));
    vi.advanceTimersByTime(25_000);
    expect(ws.frames.at(-1)).toEqual({ type: 'ping' });
    vi.advanceTimersByTime(9_999);
    expect(client.getState().status).toBe('open');
    vi.advanceTimersByTime(1);
    expect(ws.closedByClient).not.toBeNull();
    expect(client.getState().status).toBe('reconnecting');
    // The dead socket's late events change nothing.
    ws.receive(msg(2, 'stranger', 'too late'));
    ws.serverClose(1006);
    const ws2 = reconnect();
    expect(ws2.frames[0]).toEqual({ type: 'resume', token: 'tok1', last_seq: 1, room: 'rD' });
    expect(texts(client.getState().lines)).toEqual(['hi']);
  });

  it('keeps a link on which anything arrives after the ping', () => {
    const { client, ws } = connected({ pingIntervalMs: 25_000 });
    vi.advanceTimersByTime(25_000);
    vi.advanceTimersByTime(3_000);
    ws.receive({ type: 'online', count: 3 }); // not a pong, but the link is alive
    vi.advanceTimersByTime(20_000);
    expect(client.getState().status).toBe('open');
    expect(ws.closedByClient).toBeNull();
    vi.advanceTimersByTime(2_000); // the next ping at 50 s
    ws.receive({ type: 'pong' });
    vi.advanceTimersByTime(10_000);
    expect(client.getState().status).toBe('open');
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it('checkAlive() pings at once (tab visible again) and detects a dead link', () => {
    const { client, ws } = connected(); // no interval pings
    client.checkAlive();
    client.checkAlive(); // one check at a time
    expect(ws.frames).toEqual([{ type: 'ping' }]);
    vi.advanceTimersByTime(10_000);
    expect(ws.closedByClient).not.toBeNull();
    expect(client.getState().status).toBe('reconnecting');
  });

  it('gives up a reconnect that never says hello (the network still down) and tries again', () => {
    const { client, ws } = connected();
    client.join({ interests: [], lang: '' });
    ws.receive({ type: 'matched', room: 'rE', common_interests: [] });
    ws.serverClose(1006);
    // The first retry (after its backoff): a socket that never says hello.
    for (let i = 0; i < 6_000 && FakeWebSocket.last === ws; i++) vi.advanceTimersByTime(10);
    const hanging = FakeWebSocket.last;
    hanging.open();
    const before = FakeWebSocket.instances.length;
    vi.advanceTimersByTime(9_999);
    expect(hanging.closedByClient).toBeNull();
    vi.advanceTimersByTime(1);
    expect(hanging.closedByClient).not.toBeNull();
    expect(client.getState().status).toBe('reconnecting');
    for (let i = 0; i < 6_000 && FakeWebSocket.instances.length === before; i++) vi.advanceTimersByTime(10); // the backoff
    const ws3 = FakeWebSocket.last;
    ws3.open();
    ws3.receive(hello('s-3', 'tok-3'));
    expect(ws3.frames[0]).toEqual({ type: 'resume', token: 'tok1', last_seq: 0, room: 'rE' });
  });

  it('checkAlive() sends nothing before hello (resume must be the first frame)', () => {
    const client = makeClient();
    const ws = FakeWebSocket.last;
    ws.open();
    client.checkAlive();
    expect(ws.sent).toEqual([]);
  });
});

describe('retry countdown', () => {
  it('says when the scheduled reconnect runs, and clears it once connected', () => {
    vi.setSystemTime(1_000_000);
    const { client, ws } = connected();
    ws.serverClose(1006);
    expect(client.getState().retryInMs).toBe(500);
    expect(client.getState().retryAt).toBe(1_000_500);
    reconnect();
    FakeWebSocket.last.receive({ type: 'resumed', replayed: 0, resume_token: 't2' });
    expect(client.getState().retryAt).toBeNull();
  });
});

// ------------------------------------------------------- reload and resume

class MemoryStorage {
  readonly map = new Map<string, string>();
  writes = 0;
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.writes += 1;
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

describe('reload and resume (sessionStorage)', () => {
  /** A chat in room `rR` with lines 1..3 and one own line still pending, kept in `storage`. */
  function chatBeforeReload(storage: MemoryStorage) {
    const { client, ws } = connected({ storage });
    client.join({ interests: ['rock music'], lang: 'en' });
    ws.receive({ type: 'waiting' });
    ws.receive({ type: 'matched', room: 'rR', common_interests: ['rock music'], partner_lang: 'en' });
    ws.receive(msg(1, 'stranger', 'one'));
    client.send('two'); // t-1
    ws.receive(msg(2, 'you', 'two', { cid: 't-1' }));
    ws.receive(msg(3, 'stranger', 'three'));
    client.send('unacked'); // t-2: its echo is lost in the reload
    return { client, ws };
  }

  /** The page reloads: the old client is gone (its socket closes), a new one starts in the same tab. */
  function reload(storage: MemoryStorage, old: QuickTalkClient) {
    old.saveSession(); // pagehide
    const fresh = makeClient({ storage });
    return fresh;
  }

  it('keeps what a resume needs in sessionStorage while chatting', () => {
    const storage = new MemoryStorage();
    chatBeforeReload(storage);
    const saved = JSON.parse(storage.getItem('qt.react.chat')!);
    expect(saved).toMatchObject({ token: 'tok1', phase: 'chatting', room: 'rR', lastSeq: 3 });
    expect(saved.lines.filter((l: { kind: string }) => l.kind !== 'system').map((l: { text: string }) => l.text)).toEqual([
      'one',
      'two',
      'three',
      'unacked',
    ]);
  });

  it('restores the chat after a reload and sends resume as the first frame, without doubling or losing a line', () => {
    const storage = new MemoryStorage();
    const before = chatBeforeReload(storage);
    const client = reload(storage, before.client);
    // The transcript is back at once, before the server answered.
    let state = client.getState();
    expect(state.phase).toBe('chatting');
    expect(state.room).toBe('rR');
    expect(state.commonInterests).toEqual(['rock music']);
    expect(texts(state.lines)).toEqual(['one', 'two', 'three', 'unacked']);
    expect(new Set(state.lines.map((l) => l.key)).size).toBe(state.lines.length);

    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive(hello('s-new', 'tok-new'));
    expect(ws.frames).toEqual([{ type: 'resume', token: 'tok1', last_seq: 3, room: 'rR' }]);
    expect(client.getState().status).toBe('resuming');

    // The server replays from 0 (e.g. it took last_seq as 0): known lines are skipped.
    ws.receive({ type: 'resumed', room: 'rR', replayed: 4, resume_token: 'tok2' });
    ws.receive(msg(1, 'stranger', 'one'));
    ws.receive(msg(2, 'you', 'two', { cid: 't-1' }));
    ws.receive(msg(3, 'stranger', 'three'));
    ws.receive(msg(4, 'stranger', 'four, sent during the reload'));
    // The line without an echo goes out again with the same cid; a new line gets a new cid.
    expect(ws.frames.slice(1)).toEqual([{ type: 'send', text: 'unacked', cid: 't-2' }]);
    ws.receive(msg(5, 'you', 'unacked', { cid: 't-2' }));
    expect(client.send('after reload')).toBe('t-3');

    state = client.getState();
    expect(state.status).toBe('open');
    const lines = chatLines(state.lines);
    expect(texts(lines)).toEqual(['one', 'two', 'three', 'four, sent during the reload', 'unacked', 'after reload']);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, undefined]);

    // The new token is what a second reload would use.
    expect(JSON.parse(storage.getItem('qt.react.chat')!)).toMatchObject({ token: 'tok2', lastSeq: 5 });
  });

  it('takes the echo of a line still pending after a reload even when its seq is below the last one seen', () => {
    const storage = new MemoryStorage();
    const { client: old, ws: first } = connected({ storage });
    old.join({ interests: [], lang: '' });
    first.receive({ type: 'matched', room: 'rQ', common_interests: [] });
    first.receive(msg(1, 'stranger', 'one'));
    old.send('mine'); // t-1: the server numbers it 2, but its echo is lost
    first.receive(msg(3, 'stranger', 'three'));
    const client = reload(storage, old);
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive(hello('s-new', 'tok-new'));
    expect(ws.frames).toEqual([{ type: 'resume', token: 'tok1', last_seq: 3, room: 'rQ' }]);
    ws.receive({ type: 'resumed', room: 'rQ', replayed: 1, resume_token: 'tok2' });
    ws.receive(msg(2, 'you', 'mine', { cid: 't-1' }));
    const lines = chatLines(client.getState().lines);
    expect(texts(lines)).toEqual(['one', 'three', 'mine']); // where it was typed, as without a reload
    expect(lines.find((l) => l.text === 'mine')).toMatchObject({ status: 'sent', seq: 2 });
    expect(ws.frames).toHaveLength(1); // acknowledged by the replay: not sent again
  });

  it('starts fresh cleanly when the resume fails', () => {
    const storage = new MemoryStorage();
    const before = chatBeforeReload(storage);
    const client = reload(storage, before.client);
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive(hello('s-new', 'tok-new'));
    ws.receive({ type: 'error', code: 'resume_failed', message: 'unknown or expired resume token' });
    const state = client.getState();
    expect(state.status).toBe('open');
    expect(state.session).toBe('s-new');
    expect(state.phase).toBe('ended');
    expect(state.lines.at(-1)).toMatchObject({ kind: 'system', notice: { kind: 'resume_failed' } });
    expect(chatLines(state.lines).at(-1)).toMatchObject({ text: 'unacked', status: 'rejected' });
    expect(ws.frames).toHaveLength(1); // nothing re-sent into nowhere
    expect(storage.getItem('qt.react.chat')).toBeNull();
    // A new chat from here is a plain join of the fresh session.
    client.next();
    expect(ws.frames.at(-1)).toEqual({ type: 'next', interests: ['rock music'], lang: 'en' });
  });

  it('resumes a search after a reload and queues again', () => {
    const storage = new MemoryStorage();
    const first = connected({ storage });
    first.client.join({ interests: ['jazz'], lang: '' });
    first.ws.receive({ type: 'waiting' });
    const client = reload(storage, first.client);
    expect(client.getState().phase).toBe('waiting');
    const ws = FakeWebSocket.last;
    ws.open();
    ws.receive(hello('s2', 'tok-x'));
    expect(ws.frames).toEqual([{ type: 'resume', token: 'tok1', last_seq: 0 }]);
    ws.receive({ type: 'resumed', replayed: 0, resume_token: 'tok2' });
    expect(ws.frames.slice(1)).toEqual([{ type: 'join', interests: ['jazz'] }]);
  });

  it('clears the stored state when the user leaves or the chat ends', () => {
    const storage = new MemoryStorage();
    const a = chatBeforeReload(storage);
    a.client.leave();
    expect(storage.getItem('qt.react.chat')).toBeNull();

    FakeWebSocket.reset();
    const b = chatBeforeReload(storage);
    b.ws.receive({ type: 'partner_left', reason: 'left' });
    expect(storage.getItem('qt.react.chat')).toBeNull();
    // Nothing to resume: a new page starts fresh.
    const fresh = makeClient({ storage });
    expect(fresh.getState().phase).toBe('idle');
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(hello('s9', 'tok9'));
    expect(FakeWebSocket.last.sent).toEqual([]);
  });

  it('clears it when the session is closed for good', () => {
    const storage = new MemoryStorage();
    const { ws } = chatBeforeReload(storage);
    ws.serverClose(4003);
    expect(storage.getItem('qt.react.chat')).toBeNull();
  });

  it('does not resume a stored chat older than the grace period', () => {
    vi.setSystemTime(5_000_000);
    const storage = new MemoryStorage();
    chatBeforeReload(storage);
    vi.setSystemTime(5_000_000 + 31_000);
    const client = makeClient({ storage });
    expect(client.getState().phase).toBe('idle');
    expect(client.getState().lines).toEqual([]);
    expect(storage.getItem('qt.react.chat')).toBeNull();
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(hello('s3', 'tok3'));
    expect(FakeWebSocket.last.sent).toEqual([]);
  });

  it('ignores a broken stored value', () => {
    const storage = new MemoryStorage();
    storage.setItem('qt.react.chat', '{not json');
    expect(makeClient({ storage }).getState().phase).toBe('idle');
    expect(storage.getItem('qt.react.chat')).toBeNull();
  });

  it('keeps nothing without storage', () => {
    const { client } = chatting();
    expect(client.getState().phase).toBe('chatting'); // no sessionStorage in this environment: nothing breaks
  });
});
