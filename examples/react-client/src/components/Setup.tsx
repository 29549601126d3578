import { useState, type FormEvent } from 'react';
import type { Limits } from '../protocol';
import { DEFAULT_LIMITS, splitInterests } from '../protocol';
import type { JoinPrefs } from '../client';
import { useI18n } from '../i18nContext';

interface Props {
  limits: Limits;
  initial: { interestsText: string; lang: string };
  onStart: (prefs: JoinPrefs, interestsText: string) => void;
}

/** The start screen: interests (comma separated) and the chat language. */
export function Setup({ limits, initial, onStart }: Props) {
  const { t } = useI18n();
  const [interestsText, setInterestsText] = useState(initial.interestsText);
  const [lang, setLang] = useState(initial.lang);
  const { tags, overLimit, tooLong } = splitInterests(interestsText, limits);
  const max = limits.max_interests ?? DEFAULT_LIMITS.max_interests;
  const chars = limits.max_interest_chars ?? DEFAULT_LIMITS.max_interest_chars;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onStart({ interests: tags, lang }, tags.join(', '));
  };

  return (
    <form id="setup" className="setup" onSubmit={submit} aria-labelledby="setup-title">
      <h2 id="setup-title" className="sr-only">
        {t('setupTitle')}
      </h2>
      <div>
        <label htmlFor="interests">{t('interestsLabel')}</label>
        <input
          type="text"
          id="interests"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          placeholder={t('interestsPh')}
          aria-describedby="interests-help interests-hint"
          aria-invalid={overLimit.length > 0 || tooLong.length > 0}
          value={interestsText}
          onChange={(e) => setInterestsText(e.target.value)}
        />
        <p id="interests-help" className="help">
          {t('interestsHelp', { max, chars })}
        </p>
        {/* What was typed but will not be sent, said instead of dropped silently (a live region, so it is read out). */}
        <div id="interests-hint" className="hint" aria-live="polite">
          {overLimit.length > 0 && <p>{t('interestsOverLimit', { max, list: overLimit.join(', ') })}</p>}
          {tooLong.length > 0 && <p>{t('interestsTooLong', { chars, list: tooLong.join(', ') })}</p>}
        </div>
        {tags.length > 0 && (
          <ul id="chips" className="chips" aria-label={t('interestsChips')}>
            {tags.map((tag) => (
              <li key={tag}>{tag}</li>
            ))}
          </ul>
        )}
      </div>
      <div>
        <label htmlFor="lang">{t('chatLangLabel')}</label>
        <select id="lang" value={lang} onChange={(e) => setLang(e.target.value)}>
          <option value="">{t('langAny')}</option>
          <option value="ko">{t('langKo')}</option>
          <option value="en">{t('langEn')}</option>
        </select>
      </div>
      <button type="submit" id="start" className="primary">
        {t('start')}
      </button>
      <p className="help">{t('rules')}</p>
    </form>
  );
}
