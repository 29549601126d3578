import { describe, expect, it } from 'vitest';
import { focusLost, focusTarget, rescueFocus, type FocusTarget } from './focus';

class El implements FocusTarget {
  isConnected = true;
  disabled = false;
  focused = 0;
  constructor(readonly id: string) {}
  focus() {
    this.focused += 1;
  }
}

function page(ids: string[]) {
  const els = new Map(ids.map((id) => [id, new El(id)]));
  return { els, byId: (id: string) => els.get(id) ?? null, get: (id: string) => els.get(id)! };
}

const BODY = { body: true };

describe('focus rescue', () => {
  it('moves focus to the interests field when Leave (pressed with Enter) is removed', () => {
    const p = page(['leave', 'input', 'next', 'log']);
    const leave = p.get('leave');
    leave.isConnected = false; // the chat screen is gone
    const setup = page(['interests', 'start']);
    const to = rescueFocus('idle', leave, BODY, BODY, setup.byId);
    expect(to).toBe(setup.get('interests'));
    expect(setup.get('interests').focused).toBe(1);
  });

  it('moves focus to New chat when the partner leaves while you type (the field is disabled)', () => {
    const p = page(['input', 'next', 'leave', 'log']);
    p.get('input').disabled = true;
    const to = rescueFocus('ended', p.get('input'), BODY, BODY, p.byId);
    expect(to).toBe(p.get('next'));
    // Some browsers leave activeElement on the disabled element itself.
    p.get('next').focused = 0;
    expect(rescueFocus('ended', p.get('input'), p.get('input'), BODY, p.byId)).toBe(p.get('next'));
  });

  it('falls back along the list and to the log while every button is disabled (reconnecting)', () => {
    const p = page(['leave', 'log']);
    p.get('leave').disabled = true;
    expect(focusTarget('waiting', p.byId)).toBe(p.get('log'));
    const q = page(['input', 'next', 'leave', 'log']);
    q.get('next').disabled = true;
    expect(rescueFocus('chatting', q.get('next'), BODY, BODY, q.byId)).toBe(q.get('input'));
  });

  it('counts a control in a closed dialog as lost (the report was sent)', () => {
    const p = page(['input', 'next']);
    const submit = Object.assign(new El('report-submit'), { closest: (sel: string) => (sel === 'dialog:not([open])' ? {} : null) });
    expect(rescueFocus('chatting', submit, BODY, BODY, p.byId)).toBe(p.get('input'));
  });

  it('leaves focus alone when it was not lost', () => {
    const p = page(['input', 'next']);
    // Nothing had focus yet (page load): no focus is stolen.
    expect(focusLost(null, BODY, BODY)).toBe(false);
    // The user clicked on empty space: the element is still there and enabled.
    expect(focusLost(p.get('input'), BODY, BODY)).toBe(false);
    // Focus went somewhere else already.
    const gone = new El('x');
    gone.isConnected = false;
    expect(focusLost(gone, p.get('next'), BODY)).toBe(false);
    expect(rescueFocus('chatting', p.get('input'), BODY, BODY, p.byId)).toBeNull();
    expect(p.get('input').focused).toBe(0);
  });
});
