// A scriptable stand-in for the browser's WebSocket, for unit tests.
// The test plays the server: open(), receive(frame), serverClose(code).

import type { WebSocketLike } from '../client';

export class FakeWebSocket implements WebSocketLike {
  /** Every socket created since the last reset(), oldest first. */
  static instances: FakeWebSocket[] = [];
  /** When set, the constructor throws (e.g. a blocked URL). */
  static failConstruct = false;

  static reset(): void {
    FakeWebSocket.instances = [];
    FakeWebSocket.failConstruct = false;
  }

  static get last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (!ws) throw new Error('no socket was created');
    return ws;
  }

  readyState = 0; // CONNECTING
  readonly sent: string[] = [];
  closedByClient: { code?: number } | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {
    if (FakeWebSocket.failConstruct) throw new SyntaxError('blocked');
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }

  close(code?: number): void {
    this.closedByClient = { code };
    this.readyState = 3;
  }

  // ------------------------------------------------------- server side

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: object | string): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  /** The frames the client sent, parsed. */
  get frames(): Record<string, unknown>[] {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}
