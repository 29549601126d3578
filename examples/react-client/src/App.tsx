import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { JoinPrefs } from './client';
import { Composer } from './components/Composer';
import { ChatLog } from './components/ChatLog';
import { Header } from './components/Header';
import { ReportDialog } from './components/ReportDialog';
import { Setup } from './components/Setup';
import { StatusBanner } from './components/StatusBanner';
import { rescueFocus, type FocusTarget } from './focus';
import { detectUiLang, languageName, translate, type UiLang } from './i18n';
import { I18nContext } from './i18nContext';
import type { ReportReason } from './protocol';
import { useQuickTalk } from './useQuickTalk';

// Storage can throw (private mode, blocked cookies): then we just don't remember.
function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* ignore */
  }
}

function loadPrefs(): { interestsText: string; lang: string } {
  try {
    const saved = JSON.parse(load('qt.react.prefs') ?? 'null') as { interestsText?: unknown; lang?: unknown } | null;
    return {
      interestsText: typeof saved?.interestsText === 'string' ? saved.interestsText : '',
      lang: saved?.lang === 'ko' || saved?.lang === 'en' ? saved.lang : '',
    };
  } catch {
    return { interestsText: '', lang: '' };
  }
}

export function App({ serverUrl }: { serverUrl: string }) {
  // Only an explicit choice is remembered; otherwise the browser decides.
  const [uiLang, setUiLangState] = useState<UiLang>(() => {
    const saved = load('qt.react.ui');
    return saved === 'ko' || saved === 'en' ? saved : detectUiLang(navigator.language);
  });
  const setUiLang = useCallback((lang: UiLang) => {
    setUiLangState(lang);
    store('qt.react.ui', lang);
  }, []);
  const i18n = useMemo(() => ({ lang: uiLang, t: translate.bind(null, uiLang) }), [uiLang]);
  useEffect(() => {
    document.documentElement.lang = uiLang;
  }, [uiLang]);

  const { client, state, banner, dismissBanner } = useQuickTalk(serverUrl);
  const [prefsForm, setPrefsForm] = useState(loadPrefs);
  // The search started on this page; null after a reload, where the client
  // restored the search it resumes (next() then reuses that one).
  const prefs = useRef<JoinPrefs | null>(null);
  const [reportOpen, setReportOpen] = useState(false);
  const skipAfterReport = useRef(false);

  // "Also skip" in the report dialog: move on once the report is stored.
  useEffect(() => {
    if (!client) return;
    return client.on('reported', () => {
      if (skipAfterReport.current) client.next(prefs.current ?? undefined);
      skipAfterReport.current = false;
    });
  }, [client]);

  const ready = state.status === 'open';
  const { phase } = state;

  // Keyboard focus must not fall to <body> when the control that had it is
  // removed (Leave pressed with Enter) or disabled (the partner left while
  // you typed, a drop): it moves to the control that makes sense next.
  const lastFocused = useRef<FocusTarget | null>(null);
  useEffect(() => {
    const onFocusIn = (event: FocusEvent) => {
      if (event.target instanceof HTMLElement) lastFocused.current = event.target;
    };
    document.addEventListener('focusin', onFocusIn);
    return () => document.removeEventListener('focusin', onFocusIn);
  }, []);
  useLayoutEffect(() => {
    rescueFocus(phase, lastFocused.current, document.activeElement, document.body, (id) =>
      document.getElementById(id) as (HTMLElement & { disabled?: boolean }) | null,
    );
  });

  const start = (p: JoinPrefs, interestsText: string) => {
    prefs.current = p;
    setPrefsForm({ interestsText, lang: p.lang });
    store('qt.react.prefs', JSON.stringify({ interestsText, lang: p.lang }));
    client?.join(p);
  };
  const next = () => client?.next(prefs.current ?? undefined);
  const leave = () => client?.leave();
  const submitReport = (reason: ReportReason, note: string, skip: boolean) => {
    skipAfterReport.current = skip;
    if (client?.report(reason, note)) setReportOpen(false);
  };

  const t = i18n.t;
  let status: string;
  if (state.status === 'reconnecting' && state.session !== null) status = t('statusReconnecting');
  else if (state.status === 'resuming') status = t('statusResuming');
  else if (phase === 'waiting') status = t('statusWaiting');
  else if (phase === 'ended') status = t('statusEnded');
  else status = t('statusChatting');

  return (
    <I18nContext.Provider value={i18n}>
      <div className="app" data-phase={phase} data-status={state.status}>
        <Header online={state.online} onUiLang={setUiLang} />
        <StatusBanner
          state={state}
          banner={banner}
          onDismiss={dismissBanner}
          onReconnect={() => {
            dismissBanner();
            client?.reconnect();
          }}
        />
        <main className="main">
          {phase === 'idle' ? (
            <Setup limits={state.limits} initial={prefsForm} onStart={start} />
          ) : (
            <>
              <div className="topbar">
                <div className="who">
                  <p id="status" className="status">
                    {status}
                  </p>
                  {(phase === 'chatting' || phase === 'ended') && (
                    <p className="partner">
                      {state.partnerBot && (
                        <span id="bot-badge" className="badge bot" title={t('botTitle')}>
                          <span aria-hidden="true">🤖 </span>
                          {t('botBadge')}
                        </span>
                      )}
                      <span id="common">
                        {state.commonInterests.length
                          ? t('common', { list: state.commonInterests.join(', ') })
                          : t('noCommon')}
                      </span>
                      {state.partnerLang && (
                        <span id="partner-lang">{t('partnerLang', { lang: languageName(uiLang, state.partnerLang) })}</span>
                      )}
                    </p>
                  )}
                </div>
                <div className="tools">
                  {state.canReport && (
                    <button
                      type="button"
                      id="report"
                      onClick={() => setReportOpen(true)}
                      disabled={!ready || state.reportPending}
                    >
                      {t('report')}
                    </button>
                  )}
                  <button type="button" id="leave" onClick={leave} disabled={!ready}>
                    {phase === 'waiting' ? t('cancel') : phase === 'ended' ? t('changeInterests') : t('leave')}
                  </button>
                </div>
              </div>
              <ChatLog lines={state.lines} partnerBot={state.partnerBot} />
              <div className="typing-row" aria-live="polite">
                {state.partnerTyping && phase === 'chatting' && (
                  <p id="typing" className="typing">
                    {t('typing')}
                  </p>
                )}
              </div>
              <Composer
                client={client}
                phase={phase}
                ready={ready}
                maxChars={state.limits.max_text_chars}
                onNext={next}
              />
            </>
          )}
        </main>
        <ReportDialog open={reportOpen} onClose={() => setReportOpen(false)} onSubmit={submitReport} />
      </div>
    </I18nContext.Provider>
  );
}
