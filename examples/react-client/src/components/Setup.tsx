import { useState, type FormEvent } from 'react';
import type { Limits } from '../protocol';
import { DEFAULT_LIMITS, parseInterests } from '../protocol';
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
  const tags = parseInterests(interestsText, limits);

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
          aria-describedby="interests-help"
          value={interestsText}
          onChange={(e) => setInterestsText(e.target.value)}
        />
        <p id="interests-help" className="help">
          {t('interestsHelp', {
            max: limits.max_interests ?? DEFAULT_LIMITS.max_interests,
            chars: limits.max_interest_chars ?? DEFAULT_LIMITS.max_interest_chars,
          })}
        </p>
        {tags.length > 0 && (
          <ul className="chips" aria-hidden="true">
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
