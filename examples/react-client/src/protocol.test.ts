import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  ERROR_CODES,
  encodeClientFrame,
  parseInterests,
  parseServerFrame,
  splitInterests,
  type ClientFrame,
} from './protocol';

const parse = (frame: unknown) => parseServerFrame(JSON.stringify(frame));

describe('parseServerFrame', () => {
  it('parses the examples of docs/protocol.md', () => {
    expect(
      parse({
        type: 'hello',
        session: '4f0c9a1b2c3d4e5f',
        resume_token: '9c1e',
        online: 1,
        protocol: 1,
        limits: { max_text_chars: 500, max_frame_bytes: 4096, rate_per_sec: 5.0, resume_grace_s: 30 },
      }),
    ).toEqual({
      type: 'hello',
      session: '4f0c9a1b2c3d4e5f',
      resume_token: '9c1e',
      online: 1,
      protocol: 1,
      limits: { max_text_chars: 500, max_frame_bytes: 4096, rate_per_sec: 5, resume_grace_s: 30 },
    });
    expect(parse({ type: 'waiting' })).toEqual({ type: 'waiting' });
    expect(
      parse({ type: 'matched', room: 'a1b2c3d4e5f60718', common_interests: ['music'], partner_lang: 'ko' }),
    ).toEqual({ type: 'matched', room: 'a1b2c3d4e5f60718', common_interests: ['music'], partner_lang: 'ko' });
    expect(
      parse({ type: 'message', seq: 4, from: 'you', text: '야 *** 뭐하냐', ts: 1764050000000, cid: 'c7', masked: true }),
    ).toEqual({ type: 'message', seq: 4, from: 'you', text: '야 *** 뭐하냐', ts: 1764050000000, cid: 'c7', masked: true });
    expect(parse({ type: 'message', seq: 1, from: 'stranger', text: '안녕하세요', ts: 1764050000000 })).toEqual({
      type: 'message',
      seq: 1,
      from: 'stranger',
      text: '안녕하세요',
      ts: 1764050000000,
    });
    expect(parse({ type: 'typing', active: true })).toEqual({ type: 'typing', active: true });
    expect(parse({ type: 'partner_left', reason: 'skipped' })).toEqual({ type: 'partner_left', reason: 'skipped' });
    expect(parse({ type: 'rejected', cid: 'c8', reason: 'moderation', category: 'contact' })).toEqual({
      type: 'rejected',
      cid: 'c8',
      reason: 'moderation',
      category: 'contact',
    });
    expect(parse({ type: 'rejected', reason: 'not_in_room' })).toEqual({ type: 'rejected', reason: 'not_in_room' });
    expect(parse({ type: 'reported' })).toEqual({ type: 'reported' });
    expect(parse({ type: 'resumed', room: 'a1b2', replayed: 2, resume_token: 'e41f' })).toEqual({
      type: 'resumed',
      room: 'a1b2',
      replayed: 2,
      resume_token: 'e41f',
    });
    expect(parse({ type: 'resumed', replayed: 0, resume_token: 'e41f' })).toEqual({
      type: 'resumed',
      replayed: 0,
      resume_token: 'e41f',
    });
    expect(parse({ type: 'online', count: 12 })).toEqual({ type: 'online', count: 12 });
    expect(parse({ type: 'error', code: 'bad_request', message: 'invalid frame' })).toEqual({
      type: 'error',
      code: 'bad_request',
      message: 'invalid frame',
    });
    expect(parse({ type: 'pong' })).toEqual({ type: 'pong' });
  });

  it('reads partner_bot only when it is true', () => {
    expect(parse({ type: 'matched', room: 'r', common_interests: [], partner_bot: true })).toEqual({
      type: 'matched',
      room: 'r',
      common_interests: [],
      partner_bot: true,
    });
    expect(parse({ type: 'matched', room: 'r', common_interests: [], partner_bot: false })).not.toHaveProperty(
      'partner_bot',
    );
    expect(parse({ type: 'matched', room: 'r', common_interests: [], partner_bot: 'yes' })).not.toHaveProperty(
      'partner_bot',
    );
  });

  it('drops unknown fields', () => {
    expect(parse({ type: 'waiting', queue_position: 3 })).toEqual({ type: 'waiting' });
    expect(parse({ type: 'online', count: 3, region: 'kr' })).toEqual({ type: 'online', count: 3 });
    const hello = parse({
      type: 'hello',
      session: 's',
      resume_token: 't',
      online: 0,
      protocol: 1,
      limits: { max_text_chars: 100, brand_new_limit: 9 },
      motd: 'hi',
    });
    expect(hello).toEqual({
      type: 'hello',
      session: 's',
      resume_token: 't',
      online: 0,
      protocol: 1,
      limits: { max_text_chars: 100 },
    });
  });

  it('ignores unknown frame types and junk safely', () => {
    expect(parse({ type: 'brand_new', x: 1 })).toBeNull();
    expect(parse({ type: 'toString' })).toBeNull();
    expect(parse({ type: '__proto__' })).toBeNull();
    expect(parse({ type: 'constructor' })).toBeNull();
    expect(parse({ no_type: true })).toBeNull();
    expect(parse([{ type: 'waiting' }])).toBeNull();
    expect(parse('waiting')).toBeNull();
    expect(parse(null)).toBeNull();
    expect(parseServerFrame('{not json')).toBeNull();
    expect(parseServerFrame(new ArrayBuffer(4))).toBeNull();
    expect(parseServerFrame(undefined)).toBeNull();
  });

  it('rejects known frames missing a required field', () => {
    expect(parse({ type: 'message', seq: 1, from: 'you' })).toBeNull(); // no text
    expect(parse({ type: 'message', seq: '1', from: 'you', text: 'x', ts: 1 })).toBeNull();
    expect(parse({ type: 'message', seq: 0, from: 'you', text: 'x', ts: 1 })).toBeNull(); // seq starts at 1
    expect(parse({ type: 'message', seq: 1.5, from: 'you', text: 'x', ts: 1 })).toBeNull();
    expect(parse({ type: 'message', seq: 1, from: 'them', text: 'x', ts: 1 })).toBeNull();
    expect(parse({ type: 'matched', common_interests: [] })).toBeNull();
    expect(parse({ type: 'hello', session: 's' })).toBeNull();
    expect(parse({ type: 'resumed', replayed: 1 })).toBeNull();
    expect(parse({ type: 'typing' })).toBeNull();
    expect(parse({ type: 'online', count: 'many' })).toBeNull();
  });

  it('leaves out optional fields of the wrong type', () => {
    expect(parse({ type: 'message', seq: 2, from: 'you', text: 'x', ts: 5, cid: 7, masked: 'yes' })).toEqual({
      type: 'message',
      seq: 2,
      from: 'you',
      text: 'x',
      ts: 5,
    });
    expect(parse({ type: 'matched', room: 'r', common_interests: ['a', 3, 'b'], partner_lang: 5 })).toEqual({
      type: 'matched',
      room: 'r',
      common_interests: ['a', 'b'],
    });
  });

  it('passes unknown error codes and reasons through as strings', () => {
    for (const code of ERROR_CODES) {
      expect(parse({ type: 'error', code, message: '' })).toMatchObject({ code });
    }
    expect(parse({ type: 'error', code: 'bots_not_allowed', message: 'no' })).toMatchObject({ code: 'bots_not_allowed' });
    expect(parse({ type: 'error', code: 'from_the_future', message: '' })).toMatchObject({ code: 'from_the_future' });
    expect(parse({ type: 'partner_left', reason: 'abducted' })).toEqual({ type: 'partner_left', reason: 'abducted' });
  });
});

describe('client frames', () => {
  it('encodes frames with the documented field names', () => {
    const frames: [ClientFrame, string][] = [
      [{ type: 'join', interests: ['music'], lang: 'ko' }, '{"type":"join","interests":["music"],"lang":"ko"}'],
      [{ type: 'next' }, '{"type":"next"}'],
      [{ type: 'send', text: '안녕', cid: 'a-1' }, '{"type":"send","text":"안녕","cid":"a-1"}'],
      [{ type: 'typing', active: false }, '{"type":"typing","active":false}'],
      [{ type: 'leave' }, '{"type":"leave"}'],
      [{ type: 'report', reason: 'self_harm', note: 'n' }, '{"type":"report","reason":"self_harm","note":"n"}'],
      [
        { type: 'resume', token: '77ab', last_seq: 3, room: 'a1b2' },
        '{"type":"resume","token":"77ab","last_seq":3,"room":"a1b2"}',
      ],
      [{ type: 'ping' }, '{"type":"ping"}'],
    ];
    for (const [frame, json] of frames) expect(encodeClientFrame(frame)).toBe(json);
  });
});

describe('parseInterests', () => {
  it('normalises like the server: trimmed, lower-cased, de-duplicated, bounded', () => {
    expect(parseInterests(' Music, books,music ,,  K-Pop ')).toEqual(['music', 'books', 'k-pop']);
    expect(parseInterests('음악，영화、게임')).toEqual(['음악', '영화', '게임']);
    expect(parseInterests('a'.repeat(33) + ', ok')).toEqual(['ok']);
    expect(parseInterests(Array.from({ length: 15 }, (_, i) => `t${i}`).join(','))).toHaveLength(
      DEFAULT_LIMITS.max_interests,
    );
    expect(parseInterests('a, b, c', { max_text_chars: 500, max_interests: 2 })).toEqual(['a', 'b']);
    expect(parseInterests('')).toEqual([]);
  });

  it('splits on commas only: an interest may hold spaces', () => {
    expect(parseInterests('rock music, K  Pop ,  board\tgames')).toEqual(['rock music', 'k pop', 'board games']);
    expect(parseInterests('rock music')).toEqual(['rock music']);
    expect(parseInterests('Rock  Music, rock music')).toEqual(['rock music']);
    expect(parseInterests('한국 음악，영화 음악、게임')).toEqual(['한국 음악', '영화 음악', '게임']);
  });

  it('says what had to be left out instead of dropping it silently', () => {
    const limits = { max_text_chars: 500, max_interests: 2, max_interest_chars: 8 };
    expect(splitInterests('a, b, c, d, a', limits)).toEqual({ tags: ['a', 'b'], overLimit: ['c', 'd'], tooLong: [] });
    expect(splitInterests('music, far too long one, ok', limits)).toEqual({
      tags: ['music', 'ok'],
      overLimit: [],
      tooLong: ['far too long one'],
    });
    expect(splitInterests('music, movies')).toEqual({ tags: ['music', 'movies'], overLimit: [], tooLong: [] });
  });
});
