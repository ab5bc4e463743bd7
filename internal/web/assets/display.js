// display.js: the kiosk display. Large type, the last few lines, a QR code
// to the phone page, full screen and a screen wake lock.
import { watch, sessionId } from './captions.js';
import { applyTheme, applySize } from './prefs.js';

const d = document.body.dataset;
applyTheme(d.theme || 'dark');
if (d.size) applySize(Number(d.size));

// Full screen: a button, and in kiosk mode (?kiosk=1) at the first
// interaction (browsers allow it only from a user gesture; Chromium's
// --kiosk flag starts full screen anyway).
const fs = document.getElementById('fullscreen');
const enterFull = () => document.documentElement.requestFullscreen?.().catch(() => {});
fs.addEventListener('click', () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else enterFull();
});
document.addEventListener('fullscreenchange', () => {
  fs.textContent = document.fullscreenElement ? 'Exit full screen' : 'Full screen';
});
if (d.kiosk) {
  const once = () => { enterFull(); removeEventListener('pointerdown', once); removeEventListener('keydown', once); };
  addEventListener('pointerdown', once);
  addEventListener('keydown', once);
}

// Screen wake lock, re-acquired when the page becomes visible again (the
// browser releases it whenever the page is hidden).
let lock = null;
async function keepAwake() {
  if (!('wakeLock' in navigator) || document.visibilityState !== 'visible' || lock) return;
  try {
    lock = await navigator.wakeLock.request('screen');
    document.body.dataset.wakeLock = 'held';
    lock.addEventListener('release', () => { lock = null; document.body.dataset.wakeLock = 'released'; });
  } catch {
    document.body.dataset.wakeLock = 'refused';
  }
}
document.addEventListener('visibilitychange', keepAwake);
keepAwake();

// A link session's display is opened with #t=<token>; the phones need it
// too, so the QR code is fetched for it with the token in a POST body
// (never in a URL the server or a proxy might log).
async function linkQR(token) {
  const resp = await fetch('/display/' + encodeURIComponent(sessionId()) + '/qr', {
    method: 'POST', cache: 'no-store', credentials: 'omit',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (!resp.ok) return;
  const svg = await resp.text();
  const img = document.createElement('img');
  img.alt = 'QR code of the captions page';
  img.src = 'data:image/svg+xml;base64,' + btoa(svg);
  const box = document.getElementById('qr');
  box.replaceChildren(img);
  document.getElementById('qr-url').textContent = location.origin + '/live/' + sessionId() + ' (link in the code)';
}

// lines counts rendered lines: the caption box is that many line-heights
// tall (style.css), bottom-aligned, so a wrapped caption pushes its oldest
// lines out at the top and no line is ever cut in half.
const lines = Number(d.lines) || 4;
document.body.style.setProperty('--lines', String(lines));
const { linkToken, info } = await watch({ maxLines: lines });
if (info?.viewer_mode === 'link' && linkToken) linkQR(linkToken);
