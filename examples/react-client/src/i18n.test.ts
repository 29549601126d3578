import { describe, expect, it } from 'vitest';
import { TEXTS, detectUiLang, hasText, translate, type TextKey } from './i18n';
import { ERROR_CODES, PARTNER_LEFT_REASONS, REJECT_REASONS, REPORT_REASONS } from './protocol';
import { retrySeconds } from './countdown';

// The app's sources (not the tests), to check that every text is used.
const SOURCES = Object.entries(
  import.meta.glob<string>(['./**/*.ts', './**/*.tsx', '!./**/*.test.ts'], { query: '?raw', import: 'default', eager: true }),
);
// Texts picked by a key built from a server value or a state (`err_${code}` and so on).
const DYNAMIC_PREFIXES = ['err_', 'left_', 'rej_', 'cat_', 'reason_', 'close_'];

describe('i18n', () => {
  it('has a Korean and an English text for every error code, leave reason, rejection and report reason', () => {
    const keys = [
      ...ERROR_CODES.map((c) => `err_${c}`),
      ...PARTNER_LEFT_REASONS.map((r) => `left_${r}`),
      ...REJECT_REASONS.map((r) => `rej_${r}`),
      ...REPORT_REASONS.map((r) => `reason_${r}`),
      ...['banned', 'policy', 'replaced', 'normal'].map((k) => `close_${k}`),
      'botBadge',
    ];
    for (const key of keys) {
      expect(hasText(key), key).toBe(true);
      expect(TEXTS.en[key as TextKey], key).toBeTruthy();
      expect(TEXTS.ko[key as TextKey], key).toBeTruthy();
    }
    expect(translate('ko', 'botBadge')).toBe('봇');
    expect(translate('en', 'botBadge')).toBe('Bot');
  });

  it('fills placeholders', () => {
    expect(translate('en', 'online', { n: 3 })).toBe('3 online');
    expect(translate('ko', 'online', { n: 3 })).toBe('3명 접속 중');
  });

  it('defaults to Korean only for Korean browsers', () => {
    expect(detectUiLang('ko-KR')).toBe('ko');
    expect(detectUiLang('ko')).toBe('ko');
    expect(detectUiLang('en-US')).toBe('en');
    expect(detectUiLang('kok')).toBe('en');
    expect(detectUiLang(undefined)).toBe('en');
  });

  it('uses every text (no stale ones), the log title and the retry countdown included', () => {
    expect(SOURCES.length).toBeGreaterThan(5);
    const code = SOURCES.filter(([path]) => path !== './i18n.ts')
      .map(([, text]) => text)
      .join('\n');
    const unused = (Object.keys(TEXTS.en) as TextKey[]).filter(
      (key) => !DYNAMIC_PREFIXES.some((p) => key.startsWith(p)) && !code.includes(`'${key}'`),
    );
    expect(unused).toEqual([]);
    for (const key of Object.keys(TEXTS.en) as TextKey[]) expect(TEXTS.ko[key], key).toBeTruthy();
  });

  it('counts down to the scheduled reconnect in whole seconds', () => {
    expect(retrySeconds(null, 0)).toBeNull();
    expect(retrySeconds(10_000, 1_000)).toBe(9);
    expect(retrySeconds(10_000, 1_001)).toBe(9);
    expect(retrySeconds(10_000, 8_999)).toBe(2);
    expect(retrySeconds(10_000, 9_500)).toBeNull(); // due within a second: "reconnecting..."
    expect(translate('en', 'reconnectingIn', { s: 3 })).toBe('Connection lost. Reconnecting in 3 s...');
    expect(translate('ko', 'reconnectingIn', { s: 3 })).toBe('연결이 끊어졌습니다. 3초 후 다시 연결합니다...');
  });

  it('has the interest hints in both languages', () => {
    expect(translate('en', 'interestsTooLong', { chars: 32, list: 'x' })).toContain('32');
    expect(translate('ko', 'interestsOverLimit', { max: 10, list: 'x' })).toContain('10');
  });
});
