// "Try it": hear a trained model before flashing it. The microphone streams to the service,
// where the exported model listens exactly as the device does (its frontend, int8 input,
// cutoff, sliding window and the 3 s pause after loading and after each wake), in a process
// of its own; or one recording is scored the same way. Every URL is relative (ingress).
import { api } from './api.js';
import { errorBox, h, showError } from './dom.js';
import { Recorder, recordingProblem } from './recorder.js';

const SHOWN_S = 10; // seconds of trace on screen while listening
const SEND_S = 0.1; // audio per websocket frame
const HEARD_MS = 2500; // how long "Heard it!" stays up

function micProblemText(problem) {
  if (problem === 'insecure') {
    return `The browser gives the microphone only to HTTPS pages (or this computer's own localhost), and this page was opened over plain HTTP (${location.origin}). Open Home Assistant over HTTPS or in the companion app, or try a recording below.`;
  }
  return 'This browser does not offer microphone access to web pages: try a recording below.';
}

function openErrorText(err) {
  if (err && (err.name === 'NotAllowedError' || err.name === 'SecurityError')) {
    return 'The browser blocked the microphone for this page. Allow it (the microphone icon in the address bar, or the site settings), then press Start listening again.';
  }
  if (err && err.name === 'NotFoundError') return 'No microphone was found on this device.';
  return `The microphone could not be opened: ${err && err.message ? err.message : err}.`;
}

// A small line chart of probabilities with the cutoff and the wakes.
function drawTrace(canvas, slices, { cutoff, from, to }) {
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  const style = getComputedStyle(canvas);
  ctx.clearRect(0, 0, width, height);
  const x = (t) => ((t - from) / Math.max(to - from, 1e-6)) * width;
  const y = (p) => height - 2 - p * (height - 4);
  ctx.strokeStyle = style.getPropertyValue('--muted') || '#888';
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(0, y(cutoff));
  ctx.lineTo(width, y(cutoff));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeStyle = style.getPropertyValue('--danger') || '#d00';
  for (const s of slices) {
    if (!s.wake || s.t < from) continue;
    ctx.beginPath();
    ctx.moveTo(x(s.t), 0);
    ctx.lineTo(x(s.t), height);
    ctx.stroke();
  }
  ctx.strokeStyle = style.getPropertyValue('--primary') || '#03a9f4';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let first = true;
  for (const s of slices) {
    if (s.t < from) continue;
    if (first) ctx.moveTo(x(s.t), y(s.p)); else ctx.lineTo(x(s.t), y(s.p));
    first = false;
  }
  ctx.stroke();
  ctx.lineWidth = 1;
}

function traceCanvas(id) {
  return h('canvas', { id, class: 'trace', width: 600, height: 110 });
}

const LEGEND = 'Blue: the model’s probability every 30 ms · dashed: the cutoff · red: a wake.';

const atTime = (t) => `${t.toFixed(1)} s`;

// Int16 frames of about SEND_S seconds from the recorder's Float32 blocks.
class Framer {
  constructor(rate, send) {
    this.size = Math.round(rate * SEND_S);
    this.send = send;
    this.buffer = new Int16Array(this.size);
    this.held = 0;
  }

  push(block) {
    for (let i = 0; i < block.length; i++) {
      const s = Math.max(-1, Math.min(1, block[i]));
      this.buffer[this.held++] = s < 0 ? s * 0x8000 : s * 0x7fff; // as encodeWav writes takes
      if (this.held === this.size) this.flush();
    }
  }

  flush() {
    if (this.held) this.send(this.buffer.slice(0, this.held).buffer);
    this.held = 0;
  }
}

function liveCard(job) {
  const start = h('button', { id: 'try-start' }, 'Start listening');
  const stop = h('button', { id: 'try-stop', class: 'danger', hidden: true }, 'Stop');
  const status = h('p', { id: 'try-status', class: 'muted' });
  const heard = h('div', { id: 'try-heard', class: 'heard', hidden: true, text: 'Heard it!' });
  const canvas = traceCanvas('try-trace');
  const wakes = h('ul', { id: 'try-wakes', class: 'wakes' });
  const problem = recordingProblem();
  const card = h('div', { id: 'try-live' },
    h('p', { text: 'Say the wake word near this device’s microphone. The first 3 s cannot wake, as on the device after it loads a model.' }),
    problem ? h('p', { id: 'try-mic-problem', class: 'notice', text: micProblemText(problem) }) : null,
    h('div', { class: 'row' }, start, stop), heard, status, canvas, h('small', { text: LEGEND }), wakes);
  if (problem) start.disabled = true;

  let recorder = null;
  let socket = null;
  let slices = [];
  let point = null;
  let frame = 0;
  let heardTimer = 0;

  function draw() {
    if (point) {
      const now = slices.length ? slices[slices.length - 1].t : 0;
      drawTrace(canvas, slices, { cutoff: point.probability_cutoff, from: Math.max(0, now - SHOWN_S), to: Math.max(now, SHOWN_S) });
    }
    frame = requestAnimationFrame(draw);
  }

  function onMessage(message) {
    if (message.type === 'ready') {
      point = message;
      status.textContent = `Listening (cutoff ${message.probability_cutoff}, window ${message.sliding_window_size})…`;
    } else if (message.type === 'slices') {
      slices.push(...message.slices);
      const now = message.slices[message.slices.length - 1].t;
      canvas.dataset.heardS = now; // seconds listened so far
      slices = slices.filter((s) => s.t >= now - SHOWN_S - 1);
      for (const s of message.slices.filter((m) => m.wake)) {
        wakes.prepend(h('li', { text: `Heard it! at ${atTime(s.t)}` }));
        heard.hidden = false;
        clearTimeout(heardTimer);
        heardTimer = setTimeout(() => { heard.hidden = true; }, HEARD_MS);
      }
    } else if (message.type === 'error' || message.type === 'closed') {
      status.textContent = message.type === 'error' ? message.error : `Stopped: ${message.reason}.`;
      status.className = message.type === 'error' ? 'error' : 'muted';
    }
  }

  function finish() {
    if (recorder) { recorder.listen(null); recorder.close(); recorder = null; }
    if (socket) { const s = socket; socket = null; s.close(); }
    cancelAnimationFrame(frame);
    start.hidden = false;
    stop.hidden = true;
  }

  start.addEventListener('click', async () => {
    start.disabled = true;
    status.className = 'muted';
    status.textContent = 'Opening the microphone…';
    recorder = new Recorder();
    try {
      await recorder.open();
    } catch (err) {
      recorder = null;
      status.className = 'error';
      status.textContent = openErrorText(err);
      start.disabled = false;
      return;
    }
    const url = new URL(`api/jobs/${job.id}/try/ws?rate=${Math.round(recorder.rate)}`, document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    const framer = new Framer(recorder.rate, (data) => { if (socket && socket.readyState === 1) socket.send(data); });
    socket.onopen = () => recorder && recorder.listen((block) => framer.push(block));
    socket.onmessage = (event) => onMessage(JSON.parse(event.data));
    socket.onclose = () => {
      if (socket && status.className !== 'error' && !status.textContent.startsWith('Stopped')) {
        status.textContent = 'The connection to the service closed.';
      }
      finish();
    };
    slices = [];
    wakes.replaceChildren();
    start.hidden = true;
    stop.hidden = false;
    start.disabled = false;
    status.textContent = 'Loading the model…';
    draw();
  });

  stop.addEventListener('click', () => {
    if (socket && socket.readyState === 1) socket.send('end');
    status.textContent = `Stopped. ${wakes.children.length ? `Heard ${wakes.children.length} time(s).` : 'Not heard.'}`;
    finish();
  });

  return { card, stop: finish };
}

function fileCard(job) {
  const input = h('input', { id: 'try-file', type: 'file', accept: '.wav,.flac,audio/wav,audio/flac,audio/*' });
  const go = h('button', { id: 'try-file-go' }, 'Try this recording');
  const error = errorBox('try-file-error');
  const result = h('div', { id: 'try-file-result' });
  go.addEventListener('click', async () => {
    if (!input.files.length) return;
    const form = new FormData();
    form.append('file', input.files[0], input.files[0].name);
    go.disabled = true;
    showError(error, null);
    result.replaceChildren(h('p', { class: 'muted', text: 'Listening to the recording…' }));
    try {
      const r = await api(`api/jobs/${job.id}/try/file`, { method: 'POST', form });
      const peak = r.slices.reduce((m, s) => Math.max(m, s.p), 0);
      const canvas = traceCanvas('try-file-trace');
      result.replaceChildren(
        h('p', { id: 'try-file-verdict', class: r.wakes.length ? 'heard-text' : '',
          text: r.wakes.length
            ? `Heard it in ${r.name}: ${r.wakes.map(atTime).join(', ')}.`
            : `Not heard in ${r.name} (${atTime(r.duration_s)}; highest probability ${peak.toFixed(2)}, cutoff ${r.probability_cutoff}).` }),
        canvas, h('small', { text: LEGEND }));
      drawTrace(canvas, r.slices, { cutoff: r.probability_cutoff, from: 0, to: Math.max(r.duration_s, 0.5) });
    } catch (err) {
      result.replaceChildren();
      showError(error, err);
    }
    go.disabled = false;
  });
  return h('div', { id: 'try-recording' },
    h('h3', { text: 'Try a recording' }),
    h('p', { class: 'muted', text: 'A WAV or FLAC file, scored as the device would hear it after a few quiet seconds.' }),
    h('div', { class: 'row' }, input, go), error, result);
}

let current = null; // the card listening now: a page redrawn or left stops it

// The "Try it" card of a trained job's result page.
export function trySection(job) {
  if (current) current.stop();
  const live = liveCard(job);
  current = live;
  const leave = () => { live.stop(); window.removeEventListener('hashchange', leave); };
  window.addEventListener('hashchange', leave);
  return h('div', { class: 'card', id: 'try' },
    h('h2', { text: 'Try it' }),
    h('p', { text: 'Hear the model before you flash it: it listens exactly as the device does (the same features, int8 input, cutoff, sliding window and pause after each wake).' }),
    live.card, fileCard(job));
}
