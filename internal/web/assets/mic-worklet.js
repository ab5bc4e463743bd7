// mic-worklet.js: an AudioWorklet that turns the microphone into mono
// PCM16 little-endian frames of 20 ms at the context's sample rate, and
// reports the frame's peak level for the meter.

class PCM16 extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.max(1, Math.round(sampleRate / 50));
    this.frame = new DataView(new ArrayBuffer(this.size * 2));
    this.n = 0;
    this.peak = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const chans = input.length;
    const len = input[0].length;
    for (let i = 0; i < len; i++) {
      let s = 0;
      for (let c = 0; c < chans; c++) s += input[c][i];
      s /= chans;
      if (s > 1) s = 1; else if (s < -1) s = -1;
      const a = s < 0 ? -s : s;
      if (a > this.peak) this.peak = a;
      this.frame.setInt16(this.n * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      if (++this.n === this.size) {
        const buf = this.frame.buffer;
        this.port.postMessage({ pcm: buf, peak: this.peak }, [buf]);
        this.frame = new DataView(new ArrayBuffer(this.size * 2));
        this.n = 0;
        this.peak = 0;
      }
    }
    return true;
  }
}

registerProcessor('izwi-pcm16', PCM16);
