// Keeps a scrolling box (the chat log) at its end while the reader is there:
// new lines, a language switch that re-wraps every line, a phone keyboard
// opening, a banner showing above it, a rotation. A reader who scrolled up
// is left where they are.

/** The part of an element the pin reads and writes. */
export interface ScrollBox {
  scrollTop: number;
  readonly scrollHeight: number;
  readonly clientHeight: number;
}

/** Something that can be called like `new ResizeObserver(callback)`. */
export type ResizeObserverFactory = new (callback: () => void) => {
  observe(target: never): void;
  disconnect(): void;
};

/** Within this many pixels of the end counts as "at the end". */
export const NEAR_END_PX = 60;

export function nearEnd(box: ScrollBox): boolean {
  return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_END_PX;
}

export class BottomPin {
  /** The box was at its end when last seen (its last scroll event). */
  private stuck = true;
  private observer: { disconnect(): void } | null = null;

  constructor(private readonly box: ScrollBox) {}

  /** Call from the box's scroll event: remembers whether the reader is at the end. */
  onScroll(): void {
    this.stuck = nearEnd(this.box);
  }

  /** Call after the content changed: back to the end when the reader was there. */
  keep(): void {
    if (this.stuck) this.box.scrollTop = this.box.scrollHeight;
  }

  /**
   * Re-pins whenever one of `targets` (the box and its content) changes size.
   * A resize changes no scrollTop and fires no scroll event, so the box
   * would otherwise stay where it was while its end moved away.
   */
  observe(targets: readonly unknown[], RO: ResizeObserverFactory | undefined = globalThis.ResizeObserver): void {
    this.disconnect();
    if (!RO) return;
    const observer = new RO(() => this.keep());
    for (const target of targets) observer.observe(target as never);
    this.observer = observer;
  }

  disconnect(): void {
    this.observer?.disconnect();
    this.observer = null;
  }
}
