// lib.mjs: what every browser script shares: launching Debian's chromium
// through playwright-core, and printing results for the Go test to judge.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.IZWI_CHROMIUM || '/usr/bin/chromium';

/** Launches headless chromium; extra args (fake media devices) appended. */
export async function launch(extra = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra],
  });
}

/** Parses --name=value arguments. */
export function args() {
  const out = {};
  for (const a of process.argv.slice(2)) {
    const m = /^--([a-z-]+)=(.*)$/s.exec(a);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Prints one result line the Go test reads: {"name": ..., ...fields}. */
export function report(name, fields) {
  process.stdout.write(JSON.stringify({ name, ...fields }) + '\n');
}

/** Collects console errors and CSP violations of a page. */
export function watchPage(page, errors) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
}

/** Waits until fn (evaluated in the page) is truthy, up to ms. */
export async function until(page, fn, arg, ms = 15000) {
  await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
}

/** The caption text shown, one line per caption. */
export function captionText(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('#captions .line .text'), (n) => n.textContent).join('\n'));
}

// axe-core's source, evaluated into a page to check it (Runtime.evaluate is
// not subject to the page's CSP, so the pages keep their strict policy).
const AXE = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

/** Runs axe-core's WCAG 2.x A/AA rules on the page; returns the serious
 * and critical violations (rule, impact, up to three offending nodes). */
export async function axeScan(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}
