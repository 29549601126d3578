import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Phase, QuickTalkClient } from '../client';
import { charLength } from '../protocol';
import { useI18n } from '../i18nContext';

interface Props {
  client: QuickTalkClient | null;
  phase: Phase;
  ready: boolean;
  maxChars: number;
  onNext: () => void;
}

/** After this long without a keystroke our typing indicator goes off. */
const TYPING_IDLE_MS = 3000;

/** The input row: next/new chat, the message field with a counter, send. */
export function Composer({ client, phase, ready, maxChars, onNext }: Props) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const idle = useRef<ReturnType<typeof setTimeout> | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const chatting = phase === 'chatting';
  const length = charLength(text);
  const tooLong = length > maxChars;

  const stopTyping = () => {
    if (idle.current) clearTimeout(idle.current);
    idle.current = null;
    client?.setTyping(false);
  };

  // The chat changed (ended, new room): our indicator is off.
  useEffect(() => {
    if (!chatting) stopTyping();
    else input.current?.focus();
  }, [chatting]); // stopTyping only reads refs and the client

  const onChange = (value: string) => {
    setText(value);
    if (!chatting || !client) return;
    if (!value.trim()) return stopTyping();
    client.setTyping(true); // sent only when it changes
    if (idle.current) clearTimeout(idle.current);
    idle.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const send = () => {
    if (!client || !chatting || tooLong) return;
    if (client.send(text) !== null) {
      setText('');
      if (idle.current) clearTimeout(idle.current);
      idle.current = null; // sending ends the typing state on both sides
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    // Korean IME: the Enter that ends a composition must not send.
    if (e.key === 'Enter' && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send();
    }
  };

  return (
    <div className="composer">
      <button type="button" id="next" onClick={onNext} disabled={!ready || phase === 'waiting'}>
        {phase === 'ended' ? t('newChat') : t('next')}
      </button>
      <div className={`field${length > 0 ? ' counting' : ''}`}>
        <input
          ref={input}
          type="text"
          id="input"
          autoComplete="off"
          enterKeyHint="send"
          placeholder={t('inputPh')}
          aria-label={t('inputLabel')}
          aria-invalid={tooLong}
          value={text}
          disabled={!chatting}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={onKeyDown}
        />
        {length > 0 && (
          <span id="counter" className={tooLong ? 'over' : undefined}>
            {t('counter', { n: length, max: maxChars })}
          </span>
        )}
      </div>
      <button type="button" id="send" className="primary" onClick={send} disabled={!chatting || !text.trim() || tooLong}>
        {t('send')}
      </button>
    </div>
  );
}
