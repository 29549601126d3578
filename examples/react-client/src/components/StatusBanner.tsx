import type { QuickTalkState } from '../client';
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
  let text: string | null = null;
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
    else text = t('reconnecting');
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
      <span role="status">{text}</span>
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
