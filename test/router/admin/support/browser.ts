import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (apt-get install chromium); playwright-core drives it, nothing is downloaded. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless chromium with nothing of its own on the network (no updates, sync, QUIC or first-run pages). */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions', '--mute-audio'],
  });
}

// Functions run in the page by waitForFunction/evaluate (serialised: self-contained, no
// closures). Passed as functions, not strings: the dashboard's CSP forbids eval.

/** The dashboard's connection badge is in `state` (live, connecting, disconnected, locked). */
export function connectionIs(state: string): boolean {
  return (globalThis as any).document.getElementById('connection')?.dataset.state === state;
}

/** The text of the first element matching `selector` matches `pattern` (a RegExp source). */
export function textMatches([selector, pattern]: [string, string]): boolean {
  return new RegExp(pattern).test((globalThis as any).document.querySelector(selector)?.textContent ?? '');
}

/** Every [app, field] cell of the apps table shows a number above 0. */
export function cellsAbove0(cells: [string, string][]): boolean {
  const d = (globalThis as any).document;
  return cells.every(([app, field]) => Number(d.querySelector(`tr[data-app="${app}"] td[data-field="${field}"]`)?.textContent ?? '0') > 0);
}
