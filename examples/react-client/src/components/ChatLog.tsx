import { useLayoutEffect, useRef } from 'react';
import type { ChatLine, LineRejection, Notice } from '../client';
import { hasText, type TextKey } from '../i18n';
import { useI18n, type I18n } from '../i18nContext';
import { BottomPin } from '../scrollPin';

interface Props {
  lines: readonly ChatLine[];
  partnerBot: boolean;
}

function rejectionText({ t }: I18n, rejection: LineRejection): string {
  let reason: string;
  if (rejection.reason === 'moderation') {
    const cat = rejection.category;
    if (!cat) reason = t('rej_moderation_plain');
    else {
      const key = `cat_${cat}`;
      reason = t('rej_moderation', { category: hasText(key) ? t(key) : cat });
    }
  } else {
    const key = `rej_${rejection.reason}`;
    reason = hasText(key) ? t(key) : t('rej_other');
  }
  return t('notDelivered', { reason });
}

function noticeText(i18n: I18n, notice: Notice, partnerBot: boolean): string {
  const { t } = i18n;
  switch (notice.kind) {
    case 'matched': {
      const text = notice.common.length ? t('matchedCommon', { list: notice.common.join(', ') }) : t('matchedRandom');
      return partnerBot ? `${text} ${t('matchedBot')}` : text;
    }
    case 'matched_resumed':
      return t('matchedResumed');
    case 'partner_left': {
      const key = `left_${notice.reason}`;
      return t(hasText(key) ? (key as TextKey) : 'left_other');
    }
    case 'resume_failed':
      return t('resumeFailedNotice');
    case 'ended_away':
      return t('endedAway');
    case 'connection_closed':
      return t('connectionClosedNotice');
    case 'rejected':
      return rejectionText(i18n, { reason: notice.reason, category: notice.category });
    case 'reported':
      return t('reportedOk');
  }
}

/**
 * The conversation. Every text goes in as a React text node, never as HTML.
 * data-* attributes (from, status, seq, cid) describe each line for tests
 * and styling.
 */
export function ChatLog({ lines, partnerBot }: Props) {
  const i18n = useI18n();
  const { t, lang } = i18n;
  const ref = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const pin = useRef<BottomPin | null>(null);

  // Stay at the end when the log or its content changes size (a language
  // switch re-wraps every line, a phone keyboard or a banner shrinks the
  // log), unless the reader scrolled up.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const p = new BottomPin(el);
    pin.current = p;
    p.keep();
    p.observe([el, content.current]);
    return () => {
      p.disconnect();
      pin.current = null;
    };
  }, []);

  // Follow the conversation (and re-pin after a language switch).
  useLayoutEffect(() => {
    pin.current?.keep();
  }, [lines, lang, partnerBot]);

  return (
    <div
      id="log"
      className="log"
      role="log"
      aria-live="polite"
      aria-label={t('logTitle')}
      tabIndex={0}
      ref={ref}
      onScroll={() => pin.current?.onScroll()}
    >
      <div className="log-lines" ref={content}>
        {lines.map((line) => {
          if (line.kind === 'system') {
            return (
              <div key={line.key} className="line system" data-from="system" data-notice={line.notice.kind}>
                {noticeText(i18n, line.notice, partnerBot)}
              </div>
            );
          }
          const time = line.ts ? new Date(line.ts).toLocaleTimeString(lang) : undefined;
          if (line.kind === 'stranger') {
            return (
              <div key={line.key} className="line stranger" data-from="stranger" data-seq={line.seq} title={time}>
                <span className="sr-only">{t('whoStranger')} </span>
                <span className="text">{line.text}</span>
                {partnerBot && <span className="tag bot">{t('botBadge')}</span>}
                {line.masked && <span className="tag">{t('filtered')}</span>}
              </div>
            );
          }
          return (
            <div
              key={line.key}
              className={`line you ${line.status}`}
              data-from="you"
              data-status={line.status}
              data-seq={line.seq}
              data-cid={line.cid}
              title={time}
            >
              <span className="sr-only">{t('whoYou')} </span>
              <span className="text">{line.text}</span>
              {line.masked && <span className="tag">{t('filtered')}</span>}
              {line.status === 'pending' && <span className="sr-only"> ({t('sending')})</span>}
              {line.status === 'rejected' && line.rejection && (
                <span className="note">{rejectionText(i18n, line.rejection)}</span>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
