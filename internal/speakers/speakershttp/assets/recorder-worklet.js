// Copies microphone frames to the page: the page keeps them only in memory
// until it uploads the recording, then drops them.
class Recorder extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.port.postMessage(ch.slice(0));
    return true;
  }
}
registerProcessor('izwi-recorder', Recorder);
