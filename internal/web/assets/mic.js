// mic.js: streams this device's microphone into the session. Opened from
// the console's pairing QR, the page holds a single-use pairing code (in
// the URL fragment, which no server sees, removed at once) that buys one
// ingest ticket. Otherwise an API key is typed into a password field and
// kept in this module's memory only (never in storage, never in a URL);
// it buys single-use tickets. Audio
// goes getUserMedia → AudioWorklet (PCM16 at the context's own rate, which
// the ingest URL declares; the server converts) → the ingest WebSocket.
import { watch, keyTicket, pairTicket, takeFragment, wsURL, TICKET_PROTOCOL, APIError } from './captions.js';
import { themeControl } from './prefs.js';

themeControl(null);

const form = document.getElementById('mic-form');
const keyInput = document.getElementById('key');
const startBtn = document.getElementById('start');
const stopBtn = document.getElementById('stop');
const meter = document.getElementById('level');
const status = document.getElementById('mic-status');
const errorEl = document.getElementById('mic-error');

// What the ingest socket's close codes mean (internal/live/livehttp).
const CLOSE_TEXT = {
  1001: 'The server is restarting',
  1003: 'The server refused this audio format',
  1008: 'The audio stream broke the server\'s rules',
  1011: 'The server could not recognise speech (no engine loaded?)',
  4004: 'This session no longer exists',
  4008: 'The audio stream was idle for too long',
  4009: 'The session already has a source, or has stopped',
  4029: 'A quota is exhausted for this key',
};

// Frames are dropped, never queued without bound, when the socket backs up.
const MAX_BUFFERED = 256 * 1024;

let key = '';
// pairCode is the console's pairing code, spent by the first Start.
let pairCode = takeFragment('pair');
if (pairCode) {
  document.getElementById('key-field').hidden = true;
  keyInput.required = false;
  document.body.dataset.paired = 'yes';
}
let run = null; // { ctx, stream, node, ws }
let sent = 0, dropped = 0;

const page = watch({ ticketWithKey: true });

function say(text) { status.textContent = text; }
function fail(text) { errorEl.textContent = text; }

async function startSessionIfIdle() {
  const p = await page;
  const state = p.state();
  if (state !== 'idle' && state !== 'connecting') return;
  const resp = await fetch('/v1/sessions/' + encodeURIComponent(document.body.dataset.session) + '/start', {
    method: 'POST', cache: 'no-store', credentials: 'omit', headers: { 'Authorization': 'Bearer ' + key },
  });
  // 409: already live (or stopped: the ingest socket will say so).
  if (!resp.ok && resp.status !== 409) throw new APIError(resp.status, '', 'could not start the session');
}

async function captionsWithKey() {
  const p = await page;
  if (p.feed && p.feed()) return; // public, or already following
  p.startFeed(() => keyTicket(key, 'live.read'));
}

async function start() {
  fail('');
  const paired = pairCode !== '';
  if (!paired) {
    key = keyInput.value.trim() || key;
    keyInput.value = '';
    if (!key) { fail('Enter an API key with the live.write scope, or pair this device from the console.'); return; }
  }
  startBtn.disabled = true;
  try {
    let ticket;
    if (paired) {
      const code = pairCode;
      pairCode = ''; // single use, whatever the answer
      ticket = await pairTicket(code);
    } else {
      ticket = await keyTicket(key, 'live.write');
      await startSessionIfIdle();
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule('/assets/mic-worklet.js');
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, 'izwi-pcm16', { numberOfOutputs: 0 });
    const url = wsURL('/audio') + '?encoding=linear16&sample_rate=' + Math.round(ctx.sampleRate) + '&channels=1';
    const ws = new WebSocket(url, [TICKET_PROTOCOL, ticket]);
    ws.binaryType = 'arraybuffer';
    run = { ctx, stream, node, ws };
    sent = 0; dropped = 0;
    node.port.onmessage = (m) => {
      // The meter reads in decibels (-60 dBFS .. 0), as ears do.
      meter.value = Math.max(0, 1 + Math.log10(Math.max(m.data.peak, 1e-6)) / 3);
      if (ws.readyState !== WebSocket.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED) { dropped++; return; }
      ws.send(m.data.pcm);
      sent++;
      if (sent % 50 === 0) say('Streaming at ' + Math.round(ctx.sampleRate) + ' Hz — ' + sent / 50 + ' s sent' + (dropped ? ', ' + dropped + ' frames dropped' : '') + '.');
    };
    ws.onopen = () => { say('Streaming at ' + Math.round(ctx.sampleRate) + ' Hz.'); document.body.dataset.streaming = 'open'; };
    ws.onclose = (e) => {
      if (run && run.ws === ws) {
        fail(e.code === 1000 ? '' : (CLOSE_TEXT[e.code] || 'The server closed the audio stream') +
          (e.reason ? ' (' + e.reason + ')' : '') + '.');
        stop(false);
      }
    };
    source.connect(node);
    stopBtn.disabled = false;
    if (!paired) captionsWithKey();
  } catch (err) {
    startBtn.disabled = false;
    if (err instanceof APIError && (err.status === 401 || err.status === 403)) {
      fail(paired ? 'The pairing code was not accepted (used or expired): pair again from the console.' : 'The key was not accepted for this session.');
      if (paired) { document.getElementById('key-field').hidden = false; keyInput.required = true; }
    }
    else if (err.name === 'NotAllowedError') fail('Microphone access was refused.');
    else fail('Could not start: ' + err.message);
    stop(false);
  }
}

function stop(finalize = true) {
  const r = run;
  run = null;
  if (r) {
    if (finalize && r.ws.readyState === WebSocket.OPEN) r.ws.send(JSON.stringify({ type: 'finalize' }));
    r.ws.close(1000, 'stopped');
    r.node.port.onmessage = null;
    r.stream.getTracks().forEach((t) => t.stop());
    r.ctx.close();
  }
  meter.value = 0;
  startBtn.disabled = false;
  stopBtn.disabled = true;
  delete document.body.dataset.streaming;
  say('Not streaming.');
}

form.addEventListener('submit', (e) => { e.preventDefault(); start(); });
stopBtn.addEventListener('click', () => stop(true));
