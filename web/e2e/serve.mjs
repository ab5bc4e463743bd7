// serve.mjs: the pages against a real `izwi serve` (cmd/izwi/browser_test.go).
// The Go test creates the sessions and streams real speech into them; this
// script opens the pages, says "ready", waits for the Go test's "streamed"
// on stdin, then reports what each page shows. The mic page streams a
// shared utterance from Chromium's fake capture device by itself.
//
//   node serve.mjs --base=URL --out=DIR --pub=ID --pw=ID --password=PW \
//     --mic=ID --link=ID --token=T --key=izk_... --wav=FILE --wav-ms=N
import { createInterface } from 'node:readline';
import { launch, args, report, watchPage, until, captionText } from './lib.mjs';

const a = args();
const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--use-file-for-fake-audio-capture=' + a.wav, '--autoplay-policy=no-user-gesture-required']);
const errors = [];

async function open(path, viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  watchPage(page, errors);
  await page.goto(a.base + path);
  return { context, page };
}

const feedOpen = (page) => until(page, () => document.body.dataset.feed === 'open', undefined, 20000);

/** Waits for captions, then until the text has not changed for quietMs
 * and no line is partial (or until the deadline). */
async function settled(page, quietMs = 2500, deadlineMs = 45000) {
  await until(page, () => document.querySelector('#captions .line'), undefined, deadlineMs);
  const end = Date.now() + deadlineMs;
  let last = '', since = Date.now();
  while (Date.now() < end) {
    const text = await captionText(page);
    const partial = await page.evaluate(() => !!document.querySelector('#captions .line.partial'));
    if (text !== last) { last = text; since = Date.now(); }
    else if (!partial && Date.now() - since >= quietMs) break;
    await page.waitForTimeout(200);
  }
  return last;
}

const stdin = createInterface({ input: process.stdin });
const streamed = new Promise((resolve) => stdin.on('line', (l) => { if (l.trim() === 'streamed') resolve(); }));

try {
  const phone = await open('/live/' + a.pub, { width: 420, height: 760 });
  const display = await open('/display/' + a.pub, { width: 1280, height: 720 });
  const pw = await open('/live/' + a.pw, { width: 420, height: 760 });
  await feedOpen(phone.page);
  await feedOpen(display.page);
  await until(pw.page, () => !document.getElementById('secret-form').hidden);
  const prompted = await pw.page.textContent('#state');
  await pw.page.screenshot({ path: a.out + '/live-password.png' });
  await pw.page.fill('#secret', a.password);
  await pw.page.press('#secret', 'Enter');
  await feedOpen(pw.page);
  report('ready', { ok: true });

  await streamed;
  const phoneText = await settled(phone.page);
  const label = await phone.page.evaluate(() => ({
    text: document.getElementById('label').textContent, imgs: document.querySelectorAll('img').length, fired: window.__xss === 1,
  }));
  await phone.page.screenshot({ path: a.out + '/live.png' });
  await phone.page.selectOption('#theme', 'contrast');
  const contrast = await phone.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await phone.page.screenshot({ path: a.out + '/live-contrast.png' });
  report('live', { ok: true, text: phoneText, label, contrast });

  const displayText = await settled(display.page, 500, 10000);
  const qr = await display.page.evaluate(() => ({ svg: !!document.querySelector('#qr svg path'), url: document.getElementById('qr-url').textContent }));
  await display.page.screenshot({ path: a.out + '/display.png' });
  report('display', { ok: true, text: displayText, qr });

  report('password', { ok: true, prompted, text: await settled(pw.page) });

  const overlay = await open('/overlay/' + a.pub + '?lines=2', { width: 1280, height: 720 });
  await until(overlay.page, () => document.querySelectorAll('#captions .line').length >= 1);
  await overlay.page.screenshot({ path: a.out + '/overlay.png', omitBackground: true });
  report('overlay', { ok: true, lines: await overlay.page.evaluate(() => document.querySelectorAll('#captions .line').length) });

  // A link session: the #t= token buys a ticket and leaves the address
  // bar; the display asks for a QR code that carries it (POST body).
  const link = await open('/live/' + a.link + '#t=' + a.token, { width: 420, height: 760 });
  await feedOpen(link.page);
  const linkDisplay = await open('/display/' + a.link + '#t=' + a.token, { width: 1280, height: 720 });
  await feedOpen(linkDisplay.page);
  let qrImg = false;
  try {
    await until(linkDisplay.page, () => document.querySelector('#qr img'), undefined, 5000);
    qrImg = true;
  } catch { /* the QR route is not mounted */ }
  report('link', { ok: true, href: link.page.url(), displayHref: linkDisplay.page.url(), qrImg });

  // The mic page: Chromium's fake microphone plays the shared utterance
  // (in a loop, from its start when capture begins); stop after one pass.
  // It streams over WebRTC (an Opus track; captions on its data channel).
  const mic = await open('/mic/' + a.mic, { width: 420, height: 760 });
  await mic.context.grantPermissions(['microphone']);
  await mic.page.fill('#key', a.key);
  await mic.page.click('#start');
  await until(mic.page, () => document.body.dataset.streaming === 'open', undefined, 20000);
  // The file starts when the worklet starts pulling; stop just after one
  // pass so the loop adds as little as possible.
  await mic.page.waitForTimeout(Number(a['wav-ms']) + 150);
  await mic.page.click('#stop');
  const micText = await settled(mic.page);
  await mic.page.screenshot({ path: a.out + '/mic.png' });
  const stored = await mic.page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + location.href);
  const transport = await mic.page.evaluate(() => document.body.dataset.transport);
  report('mic', { ok: true, text: micText, keyStored: stored.includes(a.key), transport });
} catch (err) {
  report('error', { ok: false, error: String(err) });
} finally {
  report('errors', { ok: true, errors });
  stdin.close();
  await browser.close();
}
