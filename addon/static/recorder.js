// Microphone capture in the browser: level meter, fixed-length takes or a continuous feed,
// WAV encoding.
// The WAV is 16-bit mono at the audio context's rate; the service resamples to 16 kHz.

export function recordingProblem() {
  if (!window.isSecureContext) return 'insecure';
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return 'unsupported';
  return null;
}

export class Recorder {
  async open() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    this.context = new AudioContext();
    await this.context.audioWorklet.addModule(new URL('capture-worklet.js', import.meta.url));
    this.source = this.context.createMediaStreamSource(this.stream);
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.node = new AudioWorkletNode(this.context, 'capture');
    this.chunks = null;
    this.tap = null;
    this.node.port.onmessage = (event) => {
      if (this.chunks) this.chunks.push(event.data);
      if (this.tap) this.tap(event.data);
    };
    this.source.connect(this.analyser);
    this.source.connect(this.node);
    // Audio graphs are pulled from the destination: keep the capture node in the pull, silently.
    const mute = this.context.createGain();
    mute.gain.value = 0;
    this.node.connect(mute).connect(this.context.destination);
    this.buffer = new Float32Array(this.analyser.fftSize);
  }

  get isOpen() { return Boolean(this.context); }

  get rate() { return this.context.sampleRate; }

  // The input level in dBFS (RMS over the analyser's window).
  level() {
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const v of this.buffer) sum += v * v;
    const rms = Math.sqrt(sum / this.buffer.length);
    return rms > 0 ? 20 * Math.log10(rms) : -120;
  }

  // Records for `seconds`; resolves to a WAV Blob.
  async take(seconds) {
    if (this.context.state === 'suspended') await this.context.resume();
    this.chunks = [];
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const chunks = this.chunks;
    this.chunks = null;
    return encodeWav(chunks, this.context.sampleRate);
  }

  // Continuous capture: every block of samples goes to onBlock until listen(null).
  async listen(onBlock) {
    if (onBlock && this.context.state === 'suspended') await this.context.resume();
    this.tap = onBlock;
  }

  close() {
    if (!this.context) return;
    this.stream.getTracks().forEach((track) => track.stop());
    this.context.close();
    this.context = null;
  }
}

export function encodeWav(chunks, rate) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + length * 2));
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, 'RIFF');
  view.setUint32(4, 36 + length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, length * 2, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const v of chunk) {
      const s = Math.max(-1, Math.min(1, v));
      view.setInt16(offset, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([view], { type: 'audio/wav' });
}
