// pages.mjs: the pages' own behaviour, against the fake live API of
// internal/web's tests (go test ./internal/web -run Browser). Each scenario
// prints one JSON line of observations; the Go test judges them.
//
//   node pages.mjs --base=http://127.0.0.1:PORT --out=DIR --wav=FILE
import { launch, args, report, watchPage, until, captionText, axeScan } from './lib.mjs';

const { base, out, wav } = args();
const browser = await launch(wav ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--use-file-for-fake-audio-capture=' + wav] : []);

async function push(session, ev) {
  const r = await fetch(base + '/test/push?session=' + session, { method: 'POST', body: JSON.stringify(ev) });
  if (!r.ok) throw new Error('push: ' + r.status);
}

async function scenario(name, fn) {
  const context = await browser.newContext({ viewport: { width: 420, height: 700 } });
  const page = await context.newPage();
  const errors = [];
  watchPage(page, errors);
  try {
    const fields = await fn(page, context);
    report(name, { ok: true, errors, ...fields });
  } catch (err) {
    report(name, { ok: false, error: String(err), errors, text: await captionText(page).catch(() => '') });
  } finally {
    await context.close();
  }
}

// Partials are replaced in place by their final; speakers are shown; the
// XSS caption stays text.
await scenario('live', async (page) => {
  await page.goto(base + '/live/pub');
  await until(page, () => document.querySelectorAll('#captions .line.final').length >= 3);
  const lines = await page.evaluate(() => Array.from(document.querySelectorAll('#captions .line'), (l) => ({
    segment: l.dataset.segment, cls: l.className, speaker: l.querySelector('.speaker').textContent,
    text: l.querySelector('.text').textContent, color: getComputedStyle(l).color,
  })));
  // A partial of a new segment, shown grey, then replaced by its final.
  await push('pub', { type: 'caption', segment: 9, final: false, text: 'partial words' });
  await until(page, () => document.querySelector('#captions .line.partial')?.textContent === 'partial words');
  const partial = await page.evaluate(() => {
    const p = document.querySelector('#captions .line.partial');
    const f = document.querySelector('#captions .line.final');
    return { color: getComputedStyle(p).color, finalColor: getComputedStyle(f).color, hidden: p.getAttribute('aria-hidden') };
  });
  await push('pub', { type: 'caption', segment: 9, final: true, text: 'final words' });
  await until(page, () => document.querySelector('#captions .line[data-segment="9"].final'));
  const seg9 = await page.evaluate(() => Array.from(document.querySelectorAll('#captions .line[data-segment="9"]'), (l) => l.textContent));
  // An engine switch is announced beside the state; the captions stay.
  await push('pub', { type: 'engine', engine: 'pocketsphinx', engine_from: 'deepgram', reason: 'reset' });
  await until(page, () => !document.getElementById('engine').hidden);
  const engine = { text: await page.textContent('#engine'), role: await page.getAttribute('#engine', 'role'),
    body: await page.evaluate(() => document.body.dataset.engine) };
  await push('pub', { type: 'engine', engine: 'deepgram', engine_from: 'pocketsphinx', reason: 'recovered' });
  await until(page, () => document.body.dataset.engine === 'deepgram');
  engine.back = await page.textContent('#engine');
  const state = await page.textContent('#state');
  const live = await page.getAttribute('#captions', 'aria-live');
  const xss = await page.evaluate(() => ({ fired: window.__xss === 1, imgs: document.querySelectorAll('#captions img').length }));
  await page.screenshot({ path: out + '/live.png' });
  return { lines, partial, seg9, state, live, xss, engine, text: await captionText(page) };
});

// Themes switch, are remembered, and the font size control works.
await scenario('themes', async (page) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(base + '/live/pub');
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const auto = { theme: await page.evaluate(() => document.documentElement.dataset.theme || 'auto'), bg: await bg() };
  await page.selectOption('#theme', 'light');
  const light = await bg();
  await page.selectOption('#theme', 'contrast');
  const contrast = await bg();
  const contrastFg = await page.evaluate(() => getComputedStyle(document.body).color);
  await page.reload();
  const remembered = await page.evaluate(() => document.documentElement.dataset.theme);
  const size0 = await page.evaluate(() => getComputedStyle(document.getElementById('captions')).fontSize);
  await page.focus('#font-up');
  await page.keyboard.press('Enter'); // keyboard operable
  await page.click('#font-up');
  const size1 = await page.evaluate(() => getComputedStyle(document.getElementById('captions')).fontSize);
  await page.screenshot({ path: out + '/live-contrast.png' });
  await page.selectOption('#theme', 'auto');
  return { auto, light, contrast, contrastFg, remembered, size0, size1 };
});

// WCAG AA contrast (4.5:1) of every kind of text in every theme.
await scenario('contrast', async (page) => {
  await page.goto(base + '/live/pub');
  await until(page, () => document.querySelectorAll('#captions .line.final').length >= 3);
  await push('pub', { type: 'caption', segment: 50, final: false, text: 'a partial for contrast' });
  await until(page, () => document.querySelector('#captions .line.partial'));
  const ratios = {};
  for (const theme of ['light', 'dark', 'contrast']) {
    await page.selectOption('#theme', theme);
    ratios[theme] = await page.evaluate(() => {
      document.getElementById('jump').hidden = false;
      const rgb = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
        .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
      const ratio = (fg, bg) => { const [a, b] = [lum(rgb(fg)), lum(rgb(bg))].sort((x, y) => y - x); return (a + 0.05) / (b + 0.05); };
      const cs = (sel) => getComputedStyle(document.querySelector(sel));
      const bg = cs('body').backgroundColor, bar = cs('.bar').backgroundColor;
      const out = {
        text: ratio(cs('#captions .line.final').color, bg),
        partial: ratio(cs('#captions .line.partial').color, bg),
        speaker: ratio(cs('#captions .speaker:not([hidden])').color, bg),
        title: ratio(cs('#label').color, bar),
        button: ratio(cs('#font-up').color, cs('#font-up').backgroundColor),
        jump: ratio(cs('#jump').color, cs('#jump').backgroundColor),
      };
      document.getElementById('jump').hidden = true;
      return out;
    });
  }
  await page.selectOption('#theme', 'auto');
  return { ratios };
});

// Smart auto-scroll: follows at the bottom, stops when scrolled up, and
// offers "Jump to latest".
await scenario('scroll', async (page) => {
  await page.goto(base + '/live/long');
  await until(page, () => document.querySelectorAll('#captions .line').length >= 80);
  const atBottom = () => page.evaluate(() => { const b = document.getElementById('captions'); return b.scrollHeight - b.scrollTop - b.clientHeight < 30; });
  const followed = await atBottom();
  await page.evaluate(() => { document.getElementById('captions').scrollTop = 0; });
  await page.waitForTimeout(100); // let the scroll event land
  await push('long', { type: 'caption', segment: 1000, final: true, text: 'a new line while reading' });
  await until(page, () => !document.getElementById('jump').hidden);
  const scrolledTop = await page.evaluate(() => document.getElementById('captions').scrollTop);
  await page.click('#jump');
  const jumped = await atBottom();
  const jumpHidden = await page.evaluate(() => document.getElementById('jump').hidden);
  await push('long', { type: 'caption', segment: 1001, final: true, text: 'followed again' });
  await until(page, () => document.querySelector('#captions .line:last-child')?.textContent === 'followed again');
  await page.waitForTimeout(50);
  return { followed, scrolledTop, jumped, jumpHidden, followsAgain: await atBottom() };
});

// Reconnect with catch-up after a drop (and at once after 4008), without
// duplicates even though the server resends the last events.
await scenario('reconnect', async (page) => {
  await page.goto(base + '/live/pub');
  await until(page, () => document.querySelector('#captions .line[data-segment="9"]'));
  const before = await page.evaluate(() => document.querySelectorAll('#captions .line').length);
  await fetch(base + '/test/drop?session=pub&code=1011', { method: 'POST' });
  await push('pub', { type: 'caption', segment: 10, final: true, text: 'after the drop' });
  await until(page, () => document.querySelector('#captions .line[data-segment="10"]'));
  await fetch(base + '/test/drop?session=pub&code=4008', { method: 'POST' });
  await push('pub', { type: 'caption', segment: 11, final: true, text: 'after falling behind' });
  await until(page, () => document.querySelector('#captions .line[data-segment="11"]'));
  const segments = await page.evaluate(() => Array.from(document.querySelectorAll('#captions .line'), (l) => l.dataset.segment));
  const stats = await (await fetch(base + '/test/stats')).json();
  // The state banner follows state events.
  await push('pub', { type: 'state', state: 'interrupted' });
  await until(page, () => document.getElementById('state').dataset.state === 'interrupted');
  const interrupted = await page.textContent('#state');
  // Stopped: open partials end as they stand.
  const partialsBefore = await page.evaluate(() => document.querySelectorAll('#captions .line.partial').length);
  await push('pub', { type: 'state', state: 'stopped' });
  await until(page, () => document.getElementById('state').dataset.state === 'stopped');
  const stopped = await page.textContent('#state');
  const partialsAfter = await page.evaluate(() => document.querySelectorAll('#captions .line.partial').length);
  await push('pub', { type: 'state', state: 'live' });
  // Live again, nothing heard yet: "waiting for audio", not a green Live.
  await until(page, () => document.getElementById('state').dataset.state === 'waiting');
  // 4004: the session was deleted; the page says so and stops retrying.
  await fetch(base + '/test/drop?session=pub&code=4004', { method: 'POST' });
  await until(page, () => document.body.dataset.feed === 'missing');
  const missing = await page.textContent('#state');
  return { before, segments, afters: stats.afters, interrupted, missing, stopped, partialsBefore, partialsAfter };
});

// A password session: the prompt, a wrong password, then captions.
await scenario('password', async (page) => {
  await page.goto(base + '/live/pw');
  await until(page, () => !document.getElementById('secret-form').hidden);
  const state = await page.textContent('#state');
  await page.fill('#secret', 'wrong password');
  await page.press('#secret', 'Enter');
  await until(page, () => document.getElementById('secret-error').textContent !== '');
  const wrong = await page.textContent('#secret-error');
  await page.screenshot({ path: out + '/live-password.png' });
  await page.fill('#secret', 'correct horse');
  await page.click('#secret-form button');
  await until(page, () => document.querySelectorAll('#captions .line.final').length >= 1);
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + location.href);
  return { state, wrong, formHidden: await page.evaluate(() => document.getElementById('secret-form').hidden), text: await captionText(page), stored };
});

// A link session: the token from #t= gets a ticket and leaves the address
// bar; the display shows a QR code that includes it (fetched by POST).
await scenario('link', async (page) => {
  await page.goto(base + '/live/lnk#t=tok_secret_123');
  await until(page, () => document.querySelectorAll('#captions .line.final').length >= 1);
  const href = page.url();
  await page.goto(base + '/display/lnk?lines=3#t=tok_secret_123');
  await until(page, () => document.querySelector('#qr img') && document.querySelector('#captions .line.final'));
  const qr = await page.evaluate(() => document.querySelector('#qr img').src.length);
  return { href, displayHref: page.url(), qr, text: await captionText(page) };
});

// The kiosk display: large type, the last lines, the server-rendered QR.
await scenario('display', async (page) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.addInitScript(() => {
    window.__wakeLocks = [];
    const request = navigator.wakeLock.request.bind(navigator.wakeLock);
    navigator.wakeLock.request = async (type) => { const l = await request(type); window.__wakeLocks.push(l); return l; };
  });
  await page.goto(base + '/display/pub?lines=3');
  await until(page, () => document.querySelectorAll('#captions .line').length >= 3);
  await until(page, () => document.body.dataset.wakeLock);
  const r = await page.evaluate(() => ({
    lines: document.querySelectorAll('#captions .line').length,
    fontSize: parseFloat(getComputedStyle(document.getElementById('captions')).fontSize),
    qr: !!document.querySelector('#qr svg path'),
    qrURL: document.getElementById('qr-url').textContent,
    fullscreenButton: !!document.getElementById('fullscreen'),
    wakeLock: document.body.dataset.wakeLock || '',
  }));
  // The browser releases the wake lock when the page is hidden; on the
  // next visibilitychange to visible the page must take it again.
  // (Headless chromium never hides a page, so the release and the event
  // are played by hand on the sentinel the init script kept.)
  let wakeCycle = await page.evaluate(() => window.__wakeLocks.length + '');
  await page.evaluate(() => window.__wakeLocks[0].release());
  await until(page, () => document.body.dataset.wakeLock === 'released', undefined, 5000);
  wakeCycle += ',released';
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await until(page, () => document.body.dataset.wakeLock === 'held', undefined, 5000);
  wakeCycle += ',held,' + await page.evaluate(() => window.__wakeLocks.length);
  r.wakeCycle = wakeCycle;
  await page.click('#fullscreen');
  await page.waitForTimeout(200);
  r.fullscreen = await page.evaluate(() => !!document.fullscreenElement);
  await page.screenshot({ path: out + '/display.png' });
  return { ...r, text: await captionText(page) };
});

// The OBS overlay: a transparent page with the last N lines.
await scenario('overlay', async (page) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(base + '/overlay/pub?lines=2&size=40');
  await until(page, () => document.querySelectorAll('#captions .line').length >= 2);
  // A caption long enough to wrap: still two lines of text on screen.
  await push('pub', { type: 'caption', segment: 60, final: true,
    text: 'a caption long enough to wrap over several lines of the overlay, which must still show only the last two lines of text' });
  await until(page, () => document.querySelector('#captions .line[data-segment="60"]'));
  await page.waitForTimeout(100);
  const r = await page.evaluate(() => ({
    lines: document.querySelectorAll('#captions .line').length,
    bodyBg: getComputedStyle(document.body).backgroundColor,
    htmlBg: getComputedStyle(document.documentElement).backgroundColor,
    fontSize: getComputedStyle(document.getElementById('captions')).fontSize,
    buttons: document.querySelectorAll('button, select, input').length,
    boxLines: document.getElementById('captions').clientHeight / parseFloat(getComputedStyle(document.getElementById('captions')).lineHeight),
    wraps: document.querySelector('#captions .line[data-segment="60"]').getClientRects()[0].height > 80,
  }));
  await page.screenshot({ path: out + '/overlay.png', omitBackground: true });
  return { ...r, text: await captionText(page) };
});

// The mic page: key → ticket, the fake microphone (a shared utterance) →
// worklet → PCM16 on the ingest socket; the key is never stored.
await scenario('mic', async (page, context) => {
  await context.grantPermissions(['microphone']);
  await page.goto(base + '/mic/pub');
  await page.fill('#key', 'izk_test_key');
  await page.click('#start');
  await until(page, () => document.body.dataset.streaming === 'open');
  await until(page, () => document.getElementById('level').value > 0.01, undefined, 10000);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out + '/mic.png' });
  await page.click('#stop');
  await page.waitForTimeout(300);
  const stats = (await (await fetch(base + '/test/stats')).json()).ingest;
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + location.href +
    document.getElementById('key').value);
  return { stats, stored, rate: await page.evaluate(() => new AudioContext().sampleRate),
    transport: await page.evaluate(() => document.body.dataset.transport) };
});


// States a venue's screens show: live with nothing heard yet is "waiting
// for audio" (after a restart the history is gone: no green Live over a
// blank page); the first words make it Live; paused blanks the captions;
// resumed waits for audio again; stopped says the session ended.
await scenario('states', async (page) => {
  await page.goto(base + '/display/quiet');
  const state = () => page.evaluate(() => ({ state: document.getElementById('state').dataset.state,
    text: document.getElementById('state').textContent, lines: document.querySelectorAll('#captions .line').length }));
  await until(page, () => document.body.dataset.feed === 'open');
  const waiting = await state();
  await push('quiet', { type: 'caption', segment: 1, final: true, text: 'first words' });
  await until(page, () => document.querySelector('#captions .line'));
  const heard = await state();
  await push('quiet', { type: 'state', state: 'paused' });
  await until(page, () => document.getElementById('state').dataset.state === 'paused');
  const paused = await state();
  await push('quiet', { type: 'state', state: 'live' });
  await until(page, () => document.getElementById('state').dataset.state === 'waiting');
  const resumed = await state();
  await push('quiet', { type: 'state', state: 'stopped' });
  await until(page, () => document.getElementById('state').dataset.state === 'stopped');
  return { waiting, heard, paused, resumed, ended: await state() };
});

// lines counts rendered lines: with captions long enough to wrap, the
// display's box is exactly N line-heights and shows no cut line.
await scenario('displayLines', async (page) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(base + '/display/wrap?lines=3');
  await until(page, () => document.querySelectorAll('#captions .line').length >= 3);
  return page.evaluate(() => {
    const box = document.getElementById('captions');
    const lh = parseFloat(getComputedStyle(box).lineHeight);
    const rendered = Array.from(box.querySelectorAll('.line'), (l) => Math.round(l.getBoundingClientRect().height / lh))
      .reduce((a, b) => a + b, 0);
    return { boxLines: box.clientHeight / lh, rendered, captions: box.querySelectorAll('.line').length };
  });
});

// A portrait screen: captions across the width, the QR code below them.
await scenario('portrait', async (page) => {
  await page.setViewportSize({ width: 720, height: 1280 });
  await page.goto(base + '/display/pub?lines=4');
  await until(page, () => document.querySelector('#captions .line'));
  await page.screenshot({ path: out + '/display-portrait.png' });
  return page.evaluate(() => {
    const c = document.getElementById('captions').getBoundingClientRect();
    const q = document.querySelector('.qr').getBoundingClientRect();
    return { captionsWidth: c.width / innerWidth, qrBelow: q.top >= c.bottom - 1 };
  });
});

// Overlay styles from the URL: a box with a colour and opacity, a font, a
// position, and a hold time after which the captions clear.
await scenario('overlayStyle', async (page) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(base + '/overlay/styled?bg=123456&opacity=50&font=serif&position=top&hold=1&lines=2&size=40');
  await until(page, () => document.querySelector('#captions .line'));
  const r = await page.evaluate(() => {
    const c = document.getElementById('captions');
    const cs = getComputedStyle(c);
    return { bg: cs.backgroundColor, font: cs.fontFamily, top: c.getBoundingClientRect().top };
  });
  await page.screenshot({ path: out + '/overlay-styled.png', omitBackground: true });
  // The hold time: one second after the last caption the box is empty.
  await until(page, () => document.querySelectorAll('#captions .line').length === 0, undefined, 5000);
  r.cleared = true;
  return r;
});

// The index at /: public sessions only, as links to their phone page.
await scenario('index', async (page) => {
  await page.goto(base + '/');
  return page.evaluate(() => ({ links: Array.from(document.querySelectorAll('main a'), (a) => a.getAttribute('href')),
    text: document.querySelector('main').textContent }));
});

// axe-core on every viewer page: no serious or critical WCAG 2.2 AA
// violation.
await scenario('axe', async (page) => {
  const axe = {};
  for (const path of ['/', '/live/pub', '/display/pub', '/overlay/styled?bg=000000&opacity=80', '/mic/pub']) {
    await page.goto(base + path);
    await until(page, () => document.readyState === 'complete');
    axe[path] = await axeScan(page);
  }
  return { axe };
});

await browser.close();
