import type { UiLang } from '../i18n';
import { useI18n } from '../i18nContext';

interface Props {
  online: number | null;
  onUiLang: (lang: UiLang) => void;
}

/** Title, the `online` count and the interface language toggle. */
export function Header({ online, onUiLang }: Props) {
  const { lang, t } = useI18n();
  return (
    <header className="header">
      <h1>{t('title')}</h1>
      <span id="online" className="online">
        {online === null ? t('connecting') : t('online', { n: online })}
      </span>
      <div className="langs" role="group" aria-label={t('uiLanguage')}>
        <button type="button" id="ui-ko" lang="ko" aria-pressed={lang === 'ko'} onClick={() => onUiLang('ko')}>
          한국어
        </button>
        <button type="button" id="ui-en" lang="en" aria-pressed={lang === 'en'} onClick={() => onUiLang('en')}>
          English
        </button>
      </div>
    </header>
  );
}
