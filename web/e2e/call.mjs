// call.mjs: a WebRTC call from Chromium, as OpenAI's browser flow makes
// one (cmd/izwi/browser_calls_test.go): the fake microphone (a WAV file)
// on an audio track, a data channel, the SDP offer POSTed with a bearer
// token (an ephemeral client secret or a key); the events' types are
// collected until one named --until, the remote track is recorded with
// MediaRecorder (WebM/Opus) and measured with WebAudio (voiced 20 ms
// frames), then the script reports them.
//
//   node call.mjs --base=URL --path=/v1/realtime/calls --token=ek_... \
//     --label=oai-events --wav=FILE --until=response.done [--first=JSON] [--tail=MS]
import { launch, args, report, watchPage } from './lib.mjs';

const a = args();
const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--use-file-for-fake-audio-capture=' + a.wav, '--autoplay-policy=no-user-gesture-required']);
const errors = [];
try {
  const context = await browser.newContext();
  await context.grantPermissions(['microphone']);
  const page = await context.newPage();
  watchPage(page, errors);
  // A page of the server's origin whose policy lets it use the microphone
  // (the health check; it has no icon, so none is asked for).
  await page.route('**/favicon.ico', (r) => r.fulfill({ status: 204 }));
  await page.goto(a.base + '/healthz');
  const res = await page.evaluate(async (a) => {
    const events = [];
    const pc = new RTCPeerConnection();
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    pc.addTrack(mic.getAudioTracks()[0], mic);
    const dc = pc.createDataChannel(a.label);
    const chunks = [];
    let recorder, voicedMs = 0, meter;
    const gotTrack = new Promise((resolve) => {
      pc.ontrack = (e) => {
        const stream = new MediaStream([e.track]);
        const el = new Audio(); // Chromium renders a remote track only when it is played
        el.srcObject = stream; el.muted = true; el.play().catch(() => {});
        recorder = new MediaRecorder(stream, { mimeType: 'audio/webm;codecs=opus' });
        recorder.ondataavailable = (ev) => chunks.push(ev.data);
        recorder.start(100);
        const ac = new AudioContext();
        const an = ac.createAnalyser();
        an.fftSize = 1024;
        ac.createMediaStreamSource(stream).connect(an);
        const buf = new Float32Array(an.fftSize);
        meter = setInterval(() => {
          an.getFloatTimeDomainData(buf);
          let e = 0;
          for (const x of buf) e += x * x;
          if (Math.sqrt(e / buf.length) > 0.01) voicedMs += 20;
        }, 20);
        resolve();
      };
    });
    const done = new Promise((resolve, reject) => {
      dc.onmessage = (m) => {
        const ev = JSON.parse(m.data);
        events.push(ev.type);
        if (ev.type === 'error' || ev.type === 'call.closed') reject(new Error(m.data));
        if (ev.type === a.until) resolve();
      };
    });
    dc.onopen = () => { if (a.first) dc.send(a.first); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') r();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
    });
    const resp = await fetch(a.base + a.path, { method: 'POST', body: pc.localDescription.sdp,
      headers: { Authorization: 'Bearer ' + a.token, 'Content-Type': 'application/sdp' } });
    if (resp.status !== 201) throw new Error('POST ' + a.path + ': ' + resp.status + ' ' + await resp.text());
    await pc.setRemoteDescription({ type: 'answer', sdp: await resp.text() });
    await gotTrack;
    await Promise.race([done, new Promise((_, reject) =>
      setTimeout(() => reject(new Error('no ' + a.until + ' in 60 s; events: ' + events.join(' '))), 60000))]);
    await new Promise((r) => setTimeout(r, Number(a.tail || 3000))); // the reply plays in real time
    clearInterval(meter);
    const stopped = new Promise((r) => { recorder.onstop = r; });
    recorder.stop();
    await stopped;
    const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    dc.close(); // the server ends the call at once
    pc.close();
    return { events, voicedMs, webm: btoa(bin) };
  }, a);
  report('call', { ok: true, ...res });
} catch (err) {
  report('call', { ok: false, error: String(err) });
} finally {
  report('errors', { ok: true, errors });
  await browser.close();
}
