// console.mjs: a volunteer runs a whole service from the admin console
// (cmd/izwi/console_browser_test.go), keyboard first, with axe-core
// checking every console page on the way:
//   first-run setup → log out → log in → create a session with the
//   keyboard only → open the display at its QR code's URL → pair a
//   microphone with the session's pairing QR (Chromium's fake capture
//   device plays a shared utterance) → captions appear on the display, the
//   console shows the input level and a viewer → stop → export the kept
//   transcript as SRT and PDF.
//
//   node console.mjs --console=URL --api=URL --token=SETUP --wav=FILE --wav-ms=N --out=DIR [--context=FILE]
import { writeFileSync } from 'node:fs';
import { launch, args, report, watchPage, until, axeScan } from './lib.mjs';

const a = args();
const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--use-file-for-fake-audio-capture=' + a.wav, '--autoplay-policy=no-user-gesture-required']);
const errors = [];
const axe = {}; // page path → serious/critical violations

async function check(page) {
  const path = new URL(page.url()).pathname;
  axe[path] = await axeScan(page);
}

/** Presses Tab until the focused element matches sel (at most n times). */
async function tabTo(page, sel, n = 40) {
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), sel)) return;
  }
  throw new Error('keyboard: could not reach ' + sel + ' with Tab');
}

const PASSWORD = 'a long volunteer passphrase';

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watchPage(page, errors);

  // First-run setup with the token izwi serve printed.
  await page.goto(a.console + '/setup');
  await check(page);
  await page.fill('#token', a.token);
  await page.fill('#name', 'volunteer');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(a.console + '/'), page.click('button[type=submit]')]);
  await check(page);

  // Log out, log back in.
  await Promise.all([page.waitForURL(/\/login$/), page.click('.logout button')]);
  await check(page);
  await page.fill('#name', 'volunteer');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(a.console + '/'), page.press('#password', 'Enter')]);

  // Every page in the navigation passes axe.
  const nav = await page.$$eval('nav[aria-label=Console] a', (as) => as.map((x) => x.getAttribute('href')));
  for (const href of nav) {
    await page.goto(a.console + href);
    await check(page);
  }
  report('nav', { ok: nav.includes('/sessions'), nav });

  // API keys: create with a scope and a limit (the secret shown once),
  // rotate (a new secret), revoke.
  await page.goto(a.console + '/keys');
  await page.fill('#key-name', 'obs-overlay');
  await page.check('#scope-live\\.read');
  await page.fill('#rps', '5');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/keys"] button[type=submit]')]);
  const secret = await page.$eval('#key-secret', (el) => el.textContent.trim());
  const limits = await page.$eval('tbody', (el) => el.textContent);
  await Promise.all([page.waitForNavigation(), page.click('button:text("Rotate obs-overlay")')]);
  const rotated = await page.$eval('#key-secret', (el) => el.textContent.trim());
  await Promise.all([page.waitForNavigation(), page.click('button:text("Revoke obs-overlay")')]);
  const afterRevoke = await page.$$eval('tbody tr', (rows) => rows.map((r) => r.textContent));
  report('keys', { ok: true, secret, rotated, limits, afterRevoke, reloaded: (await page.content()).includes(secret) });

  // A weekly service on Sundays, shown in the two-week calendar.
  await page.goto(a.console + '/schedules');
  await page.fill('#s-label', 'Sunday service');
  await page.check('#day-Sun');
  await page.fill('#s-start', '09:30');
  await page.fill('#s-stop', '11:00');
  await page.fill('#s-tz', 'Africa/Johannesburg');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/schedules"] button[type=submit]')]);
  const schedError = await page.$eval('main', (el) => (el.querySelector('.error') || { textContent: '' }).textContent);
  const calendar = await page.$$eval('.calendar > li', (lis) => lis.map((li) => li.textContent.replace(/\s+/g, ' ').trim()));
  await check(page);
  report('schedules', { ok: true, schedError, calendar });

  // Settings: the public URL is checked against this server.
  await page.goto(a.console + '/settings');
  await page.fill('#public_url', a.api);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/settings"] button[type=submit]')]);
  const urlCheck = await page.$eval('#url-check', (el) => el.textContent);
  await page.goto(a.console + '/audit');
  const verdict = await page.$eval('#audit-verdict', (el) => el.textContent);
  await page.goto(a.console + '/health');
  const health = await page.$$eval('tbody tr', (rows) => rows.map((r) => r.textContent.replace(/\s+/g, ' ').trim()));
  report('ops', { ok: true, check: urlCheck, verdict, health });

  // Keyboard only: the skip link comes first and moves focus to the main
  // content; the create form is filled and sent without the mouse.
  await page.goto(a.console + '/sessions');
  await page.keyboard.press('Tab');
  const skip = await page.evaluate(() => document.activeElement.textContent);
  await page.keyboard.press('Enter');
  const mainFocused = await page.evaluate(() => document.activeElement.id === 'main' || location.hash === '#main');
  await tabTo(page, '#label');
  await page.keyboard.type('Sunday service');
  await tabTo(page, '#vocabulary');
  await page.keyboard.type('izwi:IH Z W IY, supper');
  await tabTo(page, '#keep_transcript');
  await page.keyboard.press('Space');
  await tabTo(page, 'form[action="/sessions"] button[type=submit]');
  // The focused control shows a focus ring (:focus-visible).
  const focusRing = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  if (!/\/sessions\/ses_/.test(page.url())) {
    throw new Error('create session: ' + await page.evaluate(() => (document.querySelector('.error') || document.body).textContent));
  }
  const sessionURL = page.url();
  report('keyboard', { ok: true, skip, mainFocused, url: page.url(), focusRing });
  await check(page);

  // Caption outputs: the add form's fields are reached by their labels
  // (refusals are admin.TestSessionPages': a 409 page would be a console
  // error here).
  await page.getByLabel('Kind').selectOption('obs');
  await page.getByLabel(/^URL/).fill('ws://127.0.0.1:4455');
  await page.getByLabel(/^Credentials file name/).fill('obs');
  await page.getByLabel(/^Delay in seconds/).fill('2');
  const outputForm = await page.$eval('#output-add', (f) => Object.fromEntries(new FormData(f)));
  report('outputs', { ok: true, kind: outputForm.kind, url: outputForm.url, credentials: outputForm.credentials, delay: outputForm.delay });

  // Prepared text: the service sheet, uploaded as a document on the
  // session page, before the service starts.
  let contextSize = '';
  if (a.context) {
    await page.setInputFiles('#context-document', a.context);
    await Promise.all([page.waitForNavigation(), page.click('#context-set')]);
    contextSize = await page.$eval('#context-size', (el) => el.textContent);
  }

  // The display, opened at the URL its QR code carries.
  const display = await page.$eval('a[data-link=Display]', (el) => ({
    url: el.href, qr: !!el.closest('.card').querySelector('svg[role=img] path'),
  }));
  const dctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const dpage = await dctx.newPage();
  watchPage(dpage, errors);
  await dpage.goto(display.url);
  await until(dpage, () => document.body.dataset.feed === 'open', undefined, 20000);
  axe['/display'] = await axeScan(dpage);
  // The display shows only its last few lines; keep every final it showed,
  // by segment (a correction replaces), to read the whole service back.
  await dpage.evaluate(() => {
    const box = document.getElementById('captions');
    window.shownFinals = new Map();
    new MutationObserver(() => {
      for (const p of box.querySelectorAll('.line:not(.partial)')) window.shownFinals.set(p.dataset.segment, p.querySelector('.text').textContent);
    }).observe(box, { childList: true, subtree: true, characterData: true, attributes: true });
  });

  // Pair a microphone: the QR's URL opens the mic page on "another device".
  await Promise.all([page.waitForSelector('#pair-url'), page.click('#pair-mic')]);
  await check(page);
  const pairURL = await page.$eval('#pair-url', (el) => el.href);
  const mctx = await browser.newContext({ viewport: { width: 420, height: 760 } });
  await mctx.grantPermissions(['microphone']);
  const mic = await mctx.newPage();
  watchPage(mic, errors);
  await mic.goto(pairURL);
  const micURL = mic.url();
  const keyHidden = await mic.evaluate(() => document.getElementById('key-field').hidden);
  await mic.click('#start');
  await until(mic, () => document.body.dataset.streaming === 'open', undefined, 20000);

  // The console shows the audio arriving and the display as a viewer.
  await page.goto(sessionURL);
  await until(page, () => Number(document.getElementById('viewers').textContent) >= 1 &&
    document.getElementById('level').value > 0, undefined, 20000);
  const status = await page.evaluate(() => ({
    state: document.getElementById('state').textContent,
    viewers: Number(document.getElementById('viewers').textContent),
    level: document.getElementById('level').value,
  }));
  await page.screenshot({ path: a.out + '/console-session.png', fullPage: true });

  await mic.waitForTimeout(Number(a['wav-ms']) + 150);
  await mic.click('#stop');
  await until(dpage, () => document.querySelector('#captions .line:not(.partial)'), undefined, 45000);
  // Let the last final land.
  let text = '', since = Date.now();
  for (const end = Date.now() + 30000; Date.now() < end;) {
    const t = await dpage.evaluate(() => Array.from(window.shownFinals.values()).join('\n'));
    const partial = await dpage.evaluate(() => !!document.querySelector('#captions .line.partial'));
    if (t !== text) { text = t; since = Date.now(); } else if (!partial && Date.now() - since > 2500) break;
    await dpage.waitForTimeout(200);
  }
  await dpage.screenshot({ path: a.out + '/console-display.png' });
  // What the engine made of the prepared text, once it has heard audio
  // with it (the session view asks the engines at most every 5 s).
  let contextEngines = [];
  for (const end = Date.now() + 15000; a.context && Date.now() < end;) {
    await page.goto(sessionURL);
    contextEngines = await page.$$eval('.context-engine', (els) => els.map((el) => el.textContent));
    if (contextEngines.length) break;
    await page.waitForTimeout(1000);
  }
  report('context', { ok: true, size: contextSize, engines: contextEngines });
  report('service', { ok: true, display, pairURL, micURL, keyHidden, status, text });

  // Stop the service from the console.
  await Promise.all([page.waitForURL(/\/sessions\/ses_/), page.click('#action-stop')]);
  await until(page, () => document.getElementById('state').textContent.trim() === 'stopped', undefined, 10000);
  report('stop', { ok: true, state: await page.$eval('#state', (el) => el.textContent.trim()) });

  // Export the kept transcript as SRT and PDF from the session page.
  const srtURL = await page.$eval('a[data-export=srt]', (el) => el.href);
  const pdfURL = await page.$eval('a[data-export=pdf]', (el) => el.href);
  const srt = await page.request.get(srtURL);
  const pdf = await page.request.get(pdfURL);
  const pdfBody = await pdf.body();
  writeFileSync(a.out + '/transcript.pdf', pdfBody);
  report('export', { ok: srt.ok() && pdf.ok(), srt: await srt.text(), srtType: srt.headers()['content-type'],
    pdfType: pdf.headers()['content-type'], pdf: a.out + '/transcript.pdf' });
} catch (err) {
  report('error', { ok: false, error: String(err && err.stack || err) });
} finally {
  report('axe', { ok: true, axe });
  report('errors', { ok: true, errors });
  await browser.close();
}
