// Where keyboard focus goes when the control that had it disappears or is
// disabled (Leave pressed with Enter removes the chat screen; the partner
// leaving disables the message field while you type; a drop disables the
// buttons). Browsers then drop focus to <body>, and a keyboard or screen
// reader user has to start over from the top of the page.

import type { Phase } from './client';

/** The part of an element this needs (an HTMLElement, or a fake in tests). */
export interface FocusTarget {
  readonly isConnected: boolean;
  readonly disabled?: boolean;
  focus(): void;
  /** Element.closest: a control inside a closed <dialog> cannot be focused either. */
  closest?(selector: string): unknown;
}

/** The controls that make sense next, best first, by element id. The log (focusable, never disabled) is the last resort. */
export const FOCUS_ORDER: Record<Phase, readonly string[]> = {
  idle: ['interests', 'start'],
  waiting: ['leave', 'log'],
  chatting: ['input', 'next', 'leave', 'log'],
  ended: ['next', 'leave', 'log'],
};

const usable = (el: FocusTarget | null | undefined): el is FocusTarget =>
  !!el && el.isConnected && !el.disabled && !el.closest?.('dialog:not([open])');

/**
 * Whether focus was lost: the element that last had it is gone or disabled,
 * and focus is now nowhere (on <body>) or still on that element. A user who
 * clicked on empty space leaves an enabled element behind and keeps their
 * choice.
 */
export function focusLost(last: FocusTarget | null, active: unknown, body: unknown): boolean {
  if (!last || usable(last)) return false;
  return active === null || active === body || active === last;
}

/** The first usable control for `phase`, or null. */
export function focusTarget(phase: Phase, byId: (id: string) => FocusTarget | null): FocusTarget | null {
  for (const id of FOCUS_ORDER[phase]) {
    const el = byId(id);
    if (usable(el)) return el;
  }
  return null;
}

/** Moves focus to a sensible control when it was lost; returns the element focused, if any. */
export function rescueFocus(
  phase: Phase,
  last: FocusTarget | null,
  active: unknown,
  body: unknown,
  byId: (id: string) => FocusTarget | null,
): FocusTarget | null {
  if (!focusLost(last, active, body)) return null;
  const target = focusTarget(phase, byId);
  target?.focus();
  return target;
}
