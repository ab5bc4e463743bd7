// Enrolment: record the person reading the consent script, encode it as a
// 16-bit WAV in memory, upload it with the consent fields. Nothing is stored
// by the browser.
const csrf = document.querySelector('meta[name=csrf]').content;
const $ = (id) => document.getElementById(id);

function wav(chunks, rate) {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const buf = new ArrayBuffer(44 + 2 * n);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, 'RIFF'); v.setUint32(4, 36 + 2 * n, true); str(8, 'WAVE'); str(12, 'fmt ');
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, 2 * rate, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  str(36, 'data'); v.setUint32(40, 2 * n, true);
  let o = 44;
  for (const c of chunks) for (const x of c) { v.setInt16(o, Math.max(-1, Math.min(1, x)) * 32767, true); o += 2; }
  return new Blob([buf], { type: 'audio/wav' });
}

let recording = null; // {ctx, stream, chunks, rate}
let blob = null;

async function start() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false } });
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule('/speakers/assets/recorder-worklet.js');
  const node = new AudioWorkletNode(ctx, 'izwi-recorder');
  const chunks = [];
  const t0 = performance.now();
  node.port.onmessage = (e) => {
    chunks.push(e.data);
    let peak = 0; for (const x of e.data) peak = Math.max(peak, Math.abs(x));
    $('level').value = peak;
    $('elapsed').textContent = ((performance.now() - t0) / 1000).toFixed(1) + ' s';
  };
  ctx.createMediaStreamSource(stream).connect(node);
  recording = { ctx, stream, chunks, rate: ctx.sampleRate };
  $('record').disabled = true; $('stop').disabled = false; $('submit').disabled = true;
}

async function stop() {
  if (!recording) return;
  recording.stream.getTracks().forEach((t) => t.stop());
  await recording.ctx.close();
  blob = wav(recording.chunks, recording.rate);
  recording.chunks.length = 0;
  recording = null;
  $('record').disabled = false; $('stop').disabled = true; $('submit').disabled = false;
}

function show(msg, cls) { const r = $('result'); r.textContent = msg; r.className = cls; }

async function enrol(ev) {
  ev.preventDefault();
  const form = $('enrol');
  const fd = new FormData(form);
  const upload = fd.get('upload');
  fd.delete('upload');
  const audio = (upload && upload.size > 0) ? upload : blob;
  if (!audio) { show('Record or upload the person reading the text first.', 'problem'); return; }
  fd.set('audio', audio, 'enrolment.wav');
  $('submit').disabled = true;
  const res = await fetch('/api/speakers', { method: 'POST', body: fd, headers: { 'X-CSRF-Token': csrf } });
  const body = await res.json().catch(() => ({}));
  if (res.ok) {
    show(`Enrolled ${body.subject.name}: ${body.quality.speech_s.toFixed(1)} s of speech.`, 'ok');
    form.reset(); blob = null;
  } else {
    show((body.error && body.error.message) || `Enrolment failed (${res.status}).`, 'problem');
    $('submit').disabled = false;
  }
  list();
}

async function erase(id, name) {
  if (!confirm(`Erase ${name}? Their voiceprint and consent record are destroyed for good.`)) return;
  await fetch(`/api/speakers/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { 'X-CSRF-Token': csrf } });
  list();
}

async function withdraw(id) {
  await fetch(`/api/speakers/${encodeURIComponent(id)}/withdraw`, { method: 'POST', headers: { 'X-CSRF-Token': csrf } });
  list();
}

async function list() {
  const res = await fetch('/api/speakers');
  if (!res.ok) return;
  const { subjects } = await res.json();
  const tb = document.querySelector('#subjects tbody');
  tb.replaceChildren();
  for (const s of subjects) {
    const tr = document.createElement('tr');
    const cell = (t) => { const td = document.createElement('td'); td.textContent = t; tr.append(td); return td; };
    const c = s.consents[s.consents.length - 1];
    cell(s.erased_at ? '(erased)' : s.name);
    cell(c ? c.status + ' until ' + c.deadline.slice(0, 10) : '—');
    cell(String(s.voiceprints.length));
    cell(s.created_at.slice(0, 10));
    const act = cell('');
    if (s.erased_at) { tr.className = 'erased'; } else {
      const ex = document.createElement('a'); ex.href = `/api/speakers/${encodeURIComponent(s.id)}/export`; ex.textContent = 'Export';
      const wd = document.createElement('button'); wd.textContent = 'Withdraw consent'; wd.onclick = () => withdraw(s.id);
      const del = document.createElement('button'); del.textContent = 'Erase'; del.onclick = () => erase(s.id, s.name);
      act.append(ex, ' ', wd, ' ', del);
    }
    tb.append(tr);
  }
}

if ($('enrol')) {
  $('record').onclick = () => start().catch((e) => show('Microphone: ' + e.message, 'problem'));
  $('stop').onclick = stop;
  $('enrol').onsubmit = enrol;
  document.querySelector('input[name=upload]').onchange = (e) => { $('submit').disabled = !e.target.files.length && !blob; };
}
list();
