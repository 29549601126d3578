// Where the client connects.
//
// Default: the page's own host, `/ws` (`wss:` on an https page). This is
// what a deployment behind the QuickTalk server (or the Vite dev proxy)
// wants. A `?server=ws://host:port/ws` query parameter overrides it; the
// end-to-end test uses that to point the built app at a server on another
// port. Only `ws:`/`wss:` URLs are taken; anything else falls back to the
// default.

export interface PageLocation {
  protocol: string;
  host: string;
  search: string;
}

export function resolveServerUrl(location: PageLocation): string {
  const override = new URLSearchParams(location.search).get('server');
  if (override) {
    try {
      const url = new URL(override);
      if (url.protocol === 'ws:' || url.protocol === 'wss:') return url.toString();
    } catch {
      /* not a URL: use the default */
    }
  }
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}
