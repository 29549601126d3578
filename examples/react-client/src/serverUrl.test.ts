import { describe, expect, it } from 'vitest';
import { resolveServerUrl } from './serverUrl';

describe('resolveServerUrl', () => {
  it('defaults to /ws on the page host', () => {
    expect(resolveServerUrl({ protocol: 'http:', host: 'localhost:5173', search: '' })).toBe('ws://localhost:5173/ws');
    expect(resolveServerUrl({ protocol: 'https:', host: 'chat.example', search: '?x=1' })).toBe('wss://chat.example/ws');
  });

  it('takes a ws(s) URL from ?server=', () => {
    expect(
      resolveServerUrl({ protocol: 'http:', host: 'a', search: '?server=ws://127.0.0.1:9000/ws' }),
    ).toBe('ws://127.0.0.1:9000/ws');
    expect(
      resolveServerUrl({ protocol: 'http:', host: 'a', search: `?server=${encodeURIComponent('wss://b.example/ws')}` }),
    ).toBe('wss://b.example/ws');
  });

  it('ignores anything else', () => {
    expect(resolveServerUrl({ protocol: 'http:', host: 'a', search: '?server=javascript:alert(1)' })).toBe('ws://a/ws');
    expect(resolveServerUrl({ protocol: 'http:', host: 'a', search: '?server=http://b/ws' })).toBe('ws://a/ws');
    expect(resolveServerUrl({ protocol: 'http:', host: 'a', search: '?server=::nope' })).toBe('ws://a/ws');
  });
});
