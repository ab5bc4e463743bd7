// mic.js: streams this device's microphone into the session. Opened from
// the console's pairing QR, the page holds a single-use pairing code (in
// the URL fragment, which no server sees, removed at once) that buys one
// ingest ticket. Otherwise an API key is typed into a password field and
// kept in this module's memory only (never in storage, never in a URL);
// it buys single-use tickets. Audio goes over WebRTC when the browser and
// server can (an Opus track over DTLS-SRTP, signalled on /webrtc with a
// ticket; captions come back on a data channel), else getUserMedia →
// AudioWorklet (PCM16 at the context's own rate, which the ingest URL
// declares; the server converts) → the ingest WebSocket. The worklet feeds
// the level meter either way.
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
let run = null; // { ctx, stream, node, ws, rtc }
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

// Bounds on each WebRTC step; past one the page falls back to the WebSocket.
const RTC_STEP_MS = 8000;

function within(ms, promise, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(what + ' timed out')), ms))]);
}

/** startWebRTC connects a peer with an audio sender (its track is set once
 * the microphone is open, so no speech is lost to the handshake); captions
 * come back on the "captions" data channel. Resolves once connected, or
 * rejects with err.spent telling whether the ticket was used (the caller
 * falls back). The signalling socket is the peer's lifeline. */
async function startWebRTC(ticket, onCaption, onEnd) {
  const pc = new RTCPeerConnection();
  let ws = null;
  let spent = false; // the ticket was redeemed (the signalling socket opened)
  try {
    const { sender } = pc.addTransceiver('audio', { direction: 'sendonly' });
    const dc = pc.createDataChannel('captions');
    dc.onmessage = (m) => { try { onCaption(JSON.parse(m.data)); } catch { /* not JSON: ignore */ } };
    await pc.setLocalDescription(await pc.createOffer());
    await within(RTC_STEP_MS, new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
    }), 'ICE gathering');
    ws = new WebSocket(wsURL('/webrtc'), [TICKET_PROTOCOL, ticket]);
    const answer = await within(RTC_STEP_MS, new Promise((resolve, reject) => {
      ws.onopen = () => { spent = true; ws.send(JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp })); };
      ws.onmessage = (m) => { try { resolve(JSON.parse(m.data)); } catch (e) { reject(e); } };
      ws.onclose = (e) => reject(new Error('signalling closed (' + e.code + ')'));
    }), 'signalling');
    if (!answer || answer.type !== 'answer') throw new Error('no answer');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    await within(RTC_STEP_MS, new Promise((resolve, reject) => {
      const check = () => {
        if (pc.connectionState === 'connected') resolve();
        if (pc.connectionState === 'failed') reject(new Error('connection failed'));
      };
      pc.addEventListener('connectionstatechange', check);
      check();
    }), 'connection');
    ws.onmessage = null;
    ws.onclose = (e) => onEnd(e);
    return { pc, ws, dc, sender };
  } catch (err) {
    if (ws) { ws.onclose = null; ws.close(); }
    pc.close();
    err.spent = spent;
    throw err;
  }
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
    const p = await page;
    const mine = {};
    const ended = (e) => {
      if (run === mine) {
        fail(e.code === 1000 ? '' : (CLOSE_TEXT[e.code] || 'The server closed the audio stream') +
          (e.reason ? ' (' + e.reason + ')' : '') + '.');
        stop(false);
      }
    };
    let rtc = null;
    if (window.RTCPeerConnection && document.body.dataset.webrtc === '1') {
      try {
        rtc = await startWebRTC(ticket, p.apply, ended);
      } catch (err) {
        // The WebSocket below takes over, with a fresh ticket if this one
        // was spent (a pairing code buys only one).
        if (err.spent) {
          if (paired) throw new Error('the WebRTC connection failed; pair again from the console');
          ticket = await keyTicket(key, 'live.write');
        }
      }
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      if (rtc) { rtc.ws.onclose = null; rtc.ws.close(1000, 'no microphone'); rtc.pc.close(); }
      throw err;
    }
    if (rtc) await rtc.sender.replaceTrack(stream.getAudioTracks()[0]);
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule('/assets/mic-worklet.js');
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, 'izwi-pcm16', { numberOfOutputs: 0 });
    run = Object.assign(mine, { ctx, stream, node, ws: null, rtc: null });
    sent = 0; dropped = 0;
    if (rtc) {
      run.rtc = rtc;
      document.body.dataset.transport = 'webrtc';
      node.port.onmessage = (m) => {
        meter.value = Math.max(0, 1 + Math.log10(Math.max(m.data.peak, 1e-6)) / 3);
      };
      say('Streaming over WebRTC.');
      document.body.dataset.streaming = 'open';
    } else {
      const url = wsURL('/audio') + '?encoding=linear16&sample_rate=' + Math.round(ctx.sampleRate) + '&channels=1';
      const ws = new WebSocket(url, [TICKET_PROTOCOL, ticket]);
      ws.binaryType = 'arraybuffer';
      run.ws = ws;
      document.body.dataset.transport = 'websocket';
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
      ws.onclose = ended;
      if (!paired) captionsWithKey();
    }
    source.connect(node);
    stopBtn.disabled = false;
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

// After Stop over WebRTC the peer stays open this long for the last
// captions, which arrive on its data channel.
const RTC_LINGER_MS = 5000;

function stop(finalize = true) {
  const r = run;
  run = null;
  if (r) {
    if (r.ws) {
      if (finalize && r.ws.readyState === WebSocket.OPEN) r.ws.send(JSON.stringify({ type: 'finalize' }));
      r.ws.onclose = null;
      r.ws.close(1000, 'stopped');
    }
    if (r.rtc) {
      const { pc, ws } = r.rtc;
      ws.onclose = null;
      if (finalize && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'finalize' }));
      // The microphone stops now; the peer lingers for the last captions.
      setTimeout(() => { ws.close(1000, 'stopped'); pc.close(); }, finalize ? RTC_LINGER_MS : 0);
    }
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
