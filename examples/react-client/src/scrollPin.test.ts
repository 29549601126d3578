import { describe, expect, it } from 'vitest';
import { BottomPin, nearEnd, type ResizeObserverFactory } from './scrollPin';

/** A scrolling box whose content and viewport heights a test sets. */
class Box {
  scrollHeight = 1000;
  clientHeight = 400;
  private top = 0;
  get scrollTop(): number {
    return this.top;
  }
  set scrollTop(v: number) {
    this.top = Math.max(0, Math.min(v, this.scrollHeight - this.clientHeight));
  }
}

/** A ResizeObserver the test triggers by hand. */
function fakeObserver() {
  const made: { callback: () => void; targets: unknown[]; disconnected: boolean }[] = [];
  const RO = class {
    entry: (typeof made)[number];
    constructor(callback: () => void) {
      this.entry = { callback, targets: [], disconnected: false };
      made.push(this.entry);
    }
    observe(target: unknown) {
      this.entry.targets.push(target);
    }
    disconnect() {
      this.entry.disconnected = true;
    }
  } as unknown as ResizeObserverFactory;
  return { RO, made, resize: () => made.filter((m) => !m.disconnected).forEach((m) => m.callback()) };
}

describe('BottomPin', () => {
  it('keeps the log at its end when its content grows without a scroll (a language switch re-wraps the lines)', () => {
    const box = new Box();
    const pin = new BottomPin(box);
    const { RO, made, resize } = fakeObserver();
    pin.observe(['log', 'content'], RO);
    expect(made[0].targets).toEqual(['log', 'content']);
    pin.keep();
    expect(box.scrollTop).toBe(600);
    pin.onScroll();
    // Korean lines wrap differently: the content grows, no scroll event.
    box.scrollHeight = 1300;
    expect(nearEnd(box)).toBe(false);
    resize();
    expect(box.scrollTop).toBe(900);
  });

  it('keeps it at its end when the log itself shrinks (phone keyboard, banner)', () => {
    const box = new Box();
    const pin = new BottomPin(box);
    const { RO, resize } = fakeObserver();
    pin.observe([box], RO);
    pin.keep();
    pin.onScroll();
    box.clientHeight = 250;
    resize();
    expect(box.scrollTop).toBe(750);
  });

  it('leaves a reader who scrolled up where they are', () => {
    const box = new Box();
    const pin = new BottomPin(box);
    const { RO, resize } = fakeObserver();
    pin.observe([box], RO);
    pin.keep();
    box.scrollTop = 100;
    pin.onScroll();
    box.scrollHeight = 1300;
    resize();
    pin.keep();
    expect(box.scrollTop).toBe(100);
  });

  it('stops observing when disconnected, and works without ResizeObserver', () => {
    const box = new Box();
    const pin = new BottomPin(box);
    const { RO, made } = fakeObserver();
    pin.observe([box], RO);
    pin.disconnect();
    expect(made[0].disconnected).toBe(true);
    pin.observe([box], undefined);
    pin.keep();
    expect(box.scrollTop).toBe(600);
  });
});
