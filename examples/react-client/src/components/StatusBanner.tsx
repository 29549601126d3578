import { useEffect, useState } from 'react';
import type { QuickTalkState } from '../client';
import { retrySeconds } from '../countdown';
import { hasText } from '../i18n';
import { useI18n } from '../i18nContext';
import type { Banner } from '../useQuickTalk';

interface Props {
  state: QuickTalkState;
  banner: Banner | null;
  onDismiss: () => void;
  onReconnect: () => void;
}

/**
 * One line above the chat: the connection's trouble first (closed for good,
 * reconnecting, restoring), else the latest notice from the client.
 */
export function StatusBanner({ state, banner, onDismiss, onReconnect }: Props) {
  const { t } = useI18n();
  // A clock for the retry countdown, ticking only while a reconnect is scheduled.
  const [now, setNow] = useState(() => Date.now());
  const counting = state.status === 'reconnecting' && state.retryAt !== null;
  useEffect(() => {
    if (!counting) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [counting, state.retryAt]);

  let text: string | null = null;
  // Said to screen readers instead of `text` when `text` changes every second.
  let spoken: string | null = null;
  let tone: 'info' | 'warn' | 'error' = 'info';
  let action: 'reconnect' | 'dismiss' | null = null;

  if (state.status === 'closed' && state.closed && state.closed.kind !== 'client') {
    text = t(`close_${state.closed.kind}`);
    tone = 'error';
    action = 'reconnect';
  } else if (state.status === 'reconnecting') {
    tone = 'warn';
    if (state.dropCode === 1001 || state.lastError === 'shutting_down') text = t('err_shutting_down');
    else if (state.lastError === 'server_busy') text = t('err_server_busy');
    else if (state.unreachable) text = t('unreachable');
    else {
      const secs = retrySeconds(state.retryAt, now);
      text = secs === null ? t('reconnecting') : t('reconnectingIn', { s: secs });
      spoken = t('reconnecting');
    }
  } else if (state.status === 'resuming') {
    tone = 'warn';
    text = t('statusResuming');
  } else if (banner) {
    action = 'dismiss';
    switch (banner.kind) {
      case 'error': {
        const key = `err_${banner.code}`;
        text = hasText(key) ? t(key) : t('err_other', { code: banner.code });
        tone = 'error';
        break;
      }
      case 'closed':
        text = t(`close_${banner.closeKind}`);
        tone = 'error';
        break;
      case 'resume_failed':
        text = t('err_resume_failed');
        tone = 'warn';
        break;
      case 'resumed':
        text = t('resumed');
        break;
      case 'reported':
        text = t('reportedOk');
        break;
    }
  }

  if (text === null) return <div id="banner" className="banner" hidden />;
  return (
    <div id="banner" className={`banner show ${tone}`} data-tone={tone}>
      <span role="status">
        {spoken === null ? (
          text
        ) : (
          <>
            <span aria-hidden="true">{text}</span>
            <span className="sr-only">{spoken}</span>
          </>
        )}
      </span>
      {action === 'reconnect' && (
        <button type="button" id="reconnect" onClick={onReconnect}>
          {t('reconnectNow')}
        </button>
      )}
      {action === 'dismiss' && (
        <button type="button" className="link" aria-label={t('dismiss')} onClick={onDismiss}>
          ×
        </button>
      )}
    </div>
  );
}
