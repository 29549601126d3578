// The React side of the client: one QuickTalkClient per server URL, its
// state through useSyncExternalStore, and its one-off events turned into a
// banner the UI can show and dismiss.

import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { QuickTalkClient, initialState, type CloseKind, type QuickTalkState } from './client';
import type { ErrorCode } from './protocol';

/** Something worth a banner. The UI picks the text in its language. */
export type Banner =
  | { kind: 'error'; code: ErrorCode }
  | { kind: 'closed'; closeKind: CloseKind }
  | { kind: 'resume_failed' }
  | { kind: 'resumed' }
  | { kind: 'reported' };

declare global {
  interface Window {
    /**
     * TEST HOOK for the end-to-end test: closes the socket the way a network
     * drop would; the client resumes after at least `offlineMs`.
     */
    __quicktalkDrop?: (offlineMs?: number) => void;
    /** Debug aid: the client's current state. */
    __quicktalkState?: () => QuickTalkState;
  }
}

// Shown until the client exists (the first render, before the effect ran).
const INITIAL: QuickTalkState = initialState();
const noSubscribe = () => () => {};
const initialSnapshot = () => INITIAL;

// Banners that only inform fade after a while; errors about the session stay.
const FADE_MS = 6000;

export function useQuickTalk(url: string) {
  const [client, setClient] = useState<QuickTalkClient | null>(null);
  const [banner, setBanner] = useState<Banner | null>(null);

  useEffect(() => {
    const c = new QuickTalkClient({ url });
    setClient(c);
    const offs = [
      c.on('error', (e) => {
        // resume_failed gets its own banner below; the rest are per code.
        if (e.code !== 'resume_failed') setBanner({ kind: 'error', code: e.code });
      }),
      c.on('resume_failed', () => setBanner({ kind: 'resume_failed' })),
      c.on('resumed', () => setBanner({ kind: 'resumed' })),
      c.on('closed', (e) => {
        if (e.kind !== 'client') setBanner({ kind: 'closed', closeKind: e.kind });
      }),
      c.on('reported', () => setBanner({ kind: 'reported' })),
    ];
    window.__quicktalkDrop = (offlineMs?: number) => c.dropForTest(offlineMs ?? 0);
    window.__quicktalkState = c.getState;
    // Phones freeze background tabs and networks come back: retry at once
    // instead of waiting out the backoff, and check a connection that looks
    // open (it may have died unseen while the tab slept).
    const retryNow = () => {
      if (c.getState().status === 'reconnecting') c.reconnect();
      c.checkAlive();
    };
    // A hidden tab may be discarded, and a reload resumes from what was
    // saved: renew the saved chat's time when the page goes away.
    const onVisibility = () => {
      if (document.hidden) c.saveSession();
      else retryNow();
    };
    const onPageHide = () => c.saveSession();
    window.addEventListener('online', retryNow);
    window.addEventListener('pagehide', onPageHide);
    document.addEventListener('visibilitychange', onVisibility);
    c.connect();
    return () => {
      offs.forEach((off) => off());
      window.removeEventListener('online', retryNow);
      window.removeEventListener('pagehide', onPageHide);
      document.removeEventListener('visibilitychange', onVisibility);
      if (window.__quicktalkState === c.getState) {
        delete window.__quicktalkDrop;
        delete window.__quicktalkState;
      }
      c.dispose();
    };
  }, [url]);

  const state = useSyncExternalStore(client?.subscribe ?? noSubscribe, client?.getState ?? initialSnapshot);

  // Informational banners fade; the others stay until replaced or dismissed.
  useEffect(() => {
    if (!banner || (banner.kind !== 'resumed' && banner.kind !== 'reported' && banner.kind !== 'error')) return;
    if (banner.kind === 'error' && banner.code === 'banned') return;
    const timer = setTimeout(() => setBanner(null), FADE_MS);
    return () => clearTimeout(timer);
  }, [banner]);

  const dismissBanner = useCallback(() => setBanner(null), []);

  return { client, state, banner, dismissBanner };
}
