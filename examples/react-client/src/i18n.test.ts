import { describe, expect, it } from 'vitest';
import { TEXTS, detectUiLang, hasText, translate, type TextKey } from './i18n';
import { ERROR_CODES, PARTNER_LEFT_REASONS, REJECT_REASONS, REPORT_REASONS } from './protocol';

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
});
