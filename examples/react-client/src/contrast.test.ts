// Checks the colour pairs of src/styles.css with the WCAG 2 contrast formula:
// text 4.5:1, focus ring and control borders 3:1 against what they touch.
import { describe, expect, it } from 'vitest';

// Read from disk: vitest hands tests an empty string for CSS imports (even
// `?raw`). node:fs is imported by a computed name because the app's type
// check has no Node types.
const fs = (await import(/* @vite-ignore */ ['node', 'fs'].join(':'))) as {
  readFileSync(path: URL, encoding: 'utf8'): string;
};
const css = fs.readFileSync(new URL('./styles.css', import.meta.url), 'utf8');

function luminance(hex: string): number {
  const n = hex.replace('#', '');
  const full = n.length === 3 ? [...n].map((c) => c + c).join('') : n;
  const [r, g, b] = [0, 2, 4]
    .map((i) => parseInt(full.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** The custom properties of the first `:root { ... }` after `from`. */
function vars(from: number): Record<string, string> {
  const start = css.indexOf(':root {', from);
  const block = css.slice(start, css.indexOf('}', start));
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;/g)) out[m[1]] = m[2];
  return out;
}

const light = vars(0);
const dark = { ...light, ...vars(css.indexOf('@media (prefers-color-scheme: dark)')) };

describe.each([
  ['light', light],
  ['dark', dark],
])('colour contrast (%s)', (_, v) => {
  it('text on the primary buttons and own lines is at least 4.5:1', () => {
    expect(contrast(v['accent-text'], v.accent)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(v['you-text'], v.you)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(v['bot-text'], v.bot)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(v.text, v.panel)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(v.muted, v.panel)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(v['warn-text'], v['warn-bg'])).toBeGreaterThanOrEqual(4.5);
    expect(contrast(v.err, v.panel)).toBeGreaterThanOrEqual(4.5);
  });

  it('the focus ring and control borders are at least 3:1 against the backgrounds they touch', () => {
    for (const bg of [v.panel, v.bg, v['warn-bg']]) {
      expect(contrast(v.focus, bg)).toBeGreaterThanOrEqual(3);
      expect(contrast(v['control-border'], bg)).toBeGreaterThanOrEqual(3);
    }
  });

  it('the stylesheet uses the control border for controls', () => {
    expect(css).toMatch(/input\[type="text"\], select, textarea \{[^}]*border: 1px solid var\(--control-border\)/);
    expect(css).toMatch(/:focus-visible \{ outline: 3px solid var\(--focus\)/);
  });
});
