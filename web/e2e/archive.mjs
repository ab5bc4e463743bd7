// archive.mjs: the console's Archive and Review pages
// (cmd/izwi/archive_browser_test.go) against a server that kept a
// session's transcript and low-confidence snippets:
//   first-run setup → Archive → the kept session → captions with times →
//   correct one → export SRT and PDF → Review → play a snippet → correct
//   one, approve another → delete the transcript (crypto-shred).
// axe-core checks each page with its content.
//
//   node archive.mjs --console=URL --token=SETUP --session=ID --out=DIR
import { launch, args, report, watchPage, until, axeScan } from './lib.mjs';

const a = args();
const browser = await launch(['--autoplay-policy=no-user-gesture-required']);
const errors = [];
const axe = {};
const check = async (page) => { axe[new URL(page.url()).pathname.replace(a.session, '{id}')] = await axeScan(page); };

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  watchPage(page, errors);
  page.on('dialog', (d) => d.accept());
  await page.goto(a.console + '/setup');
  await page.fill('#token', a.token);
  await page.fill('#name', 'volunteer');
  await page.fill('#password', 'a long volunteer passphrase');
  await Promise.all([page.waitForURL(a.console + '/'), page.click('button[type=submit]')]);

  // The archive lists the kept session; its page shows times and text.
  await page.goto(a.console + '/archive');
  await check(page);
  const listed = await page.$$eval('main table a', (as) => as.map((x) => x.textContent));
  await page.click(`a[href="/archive/${a.session}"]`);
  await page.waitForURL(/\/archive\/ses_/);
  await check(page);
  const rows = await page.$$eval('#lines tbody tr', (trs) => trs.map((tr) => ({
    seq: tr.dataset.seq, time: tr.cells[0].textContent, text: tr.querySelector('textarea').value })));
  // Correct the first caption, then reload: the correction was kept.
  await page.fill('#lines tbody tr:first-child textarea', 'Corrected by a volunteer.');
  await page.click('#lines tbody tr:first-child button');
  await until(page, () => document.getElementById('result').textContent === 'Correction saved.');
  await page.reload();
  const corrected = await page.inputValue('#lines tbody tr:first-child textarea');
  // Find filters the rows in the page.
  await page.fill('#find', 'corrected by');
  const found = await page.$$eval('#lines tbody tr', (trs) => trs.filter((tr) => !tr.hidden).length);

  // Exports through the page's links (the browser's own download).
  const exports = {};
  for (const f of ['srt', 'pdf']) {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`a[href$="format=${f}"]`)]);
    const path = a.out + '/' + dl.suggestedFilename();
    await dl.saveAs(path);
    exports[f] = { name: dl.suggestedFilename(), path };
  }

  // Review: snippets with audio players and expiry; the audio plays.
  await page.goto(a.console + '/review');
  await check(page);
  const snippets = await page.$$eval('main tbody tr', (trs) => trs.length);
  const audio = await page.evaluate(async () => {
    const el = document.querySelector('main audio');
    const r = await fetch(el.src);
    const head = { status: r.status, type: r.headers.get('content-type'), cache: r.headers.get('cache-control') };
    el.preload = 'auto';
    el.load();
    await new Promise((res, rej) => { el.oncanplay = res; el.onerror = () => rej(new Error('audio error')); });
    return { ...head, duration: el.duration };
  });
  const expiry = await page.$eval('main tbody tr td:last-child', (td) => td.textContent);
  // Correct the first snippet, approve the next.
  await page.fill('main tbody tr:first-child textarea', 'A reviewed correction.');
  await page.click('main tbody tr:first-child button[value=corrected]');
  await until(page, (n) => document.querySelectorAll('main tbody tr').length === n - 1, snippets);
  let left = snippets - 1;
  if (left > 0) {
    await page.click('main tbody tr:first-child button[value=approved]');
    await until(page, (n) => document.querySelectorAll('main tbody tr').length === n - 1, left);
    left--;
  }
  await page.reload();
  const afterReview = await page.$$eval('main tbody tr', (trs) => trs.length);

  // The session's caption page: word filters saved, the overlay builder's
  // address follows the form and the preview frame loads it.
  await page.goto(a.console + '/sessions/' + a.session);
  await Promise.all([page.waitForURL(/\/captions$/), page.click('#captions-link')]);
  await check(page);
  await page.uncheck('input[name=profanity_filter]');
  await page.fill('#replace', 'hour = Hour Glass');
  await page.click('#settings button[type=submit]');
  await until(page, () => document.getElementById('result').textContent.startsWith('Saved'));
  await page.fill('#o-bg', '#123456');
  await page.selectOption('#o-position', 'top');
  await page.fill('#o-hold', '5');
  const overlayURL = await page.inputValue('#o-url');
  await until(page, (u) => document.getElementById('preview').src === u, overlayURL);
  const frame = page.frames().find((f) => f.url() === overlayURL);
  if (frame) await frame.waitForSelector('body.page-overlay');
  const previewed = !!frame;

  // Delete the transcript: crypto-shredded, gone from the archive.
  await page.goto(a.console + '/archive/' + a.session);
  await Promise.all([page.waitForURL(a.console + '/archive'), page.click('form.delete button')]);
  const afterDelete = await page.$$eval('main table a', (as) => as.length);
  report('archive', { ok: true, listed, rows, corrected, found, exports, snippets, audio, expiry, afterReview, left, afterDelete,
    overlayURL, previewed });
} catch (err) {
  report('archive', { ok: false, error: String(err) });
}
report('axe', { ok: errors.length === 0, axe, errors });
await browser.close();
