// "Record the room": minutes of the household talking (people, TV, radio) where the satellite
// stands, cut into chunks and uploaded while it records, each one an "Other speech" sample.
// Chunks are WAVs at the microphone's rate, like the takes; the service makes them 16 kHz.
import { api } from './api.js';
import { field, h, select, toast } from './dom.js';
import { encodeWav } from './recorder.js';

const SOURCE = 'room';
const CHUNK_S = 30; // seconds per uploaded part; ?room_chunk_s=N (2-60) shortens it for tests
const MIN_TAIL_S = 1.6; // a shorter last part would be flagged "too short" (one training clip)
const RETRY_S = [2, 5, 15]; // waits before re-sending a part the service did not take
// Speaker folders the trainer reads as speech synthesis (mww_trainer/ingest/origin.py).
const ENGINE_NAME = /^(synth[ _]|(espeak|mbrola|festival|flite|pico|piper)-)/i;

function chunkSeconds() {
  const asked = Number(new URLSearchParams(location.search).get('room_chunk_s'));
  return asked >= 2 && asked <= 60 ? asked : CHUNK_S;
}

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
const minutes = (s) => `${(s / 60).toFixed(1)} min`;

// Cuts a stream of sample blocks into parts of `size` samples, splitting blocks at the seams.
class Cutter {
  constructor(size, onPart) {
    Object.assign(this, { size, onPart, blocks: [], held: 0, total: 0 });
  }

  push(block) {
    this.total += block.length;
    while (block.length) {
      const room = this.size - this.held;
      const piece = block.length > room ? block.subarray(0, room) : block;
      this.blocks.push(piece);
      this.held += piece.length;
      block = block.subarray(piece.length);
      if (this.held === this.size) this.flush();
    }
  }

  flush() {
    const blocks = this.blocks;
    this.blocks = [];
    this.held = 0;
    if (blocks.length) this.onPart(blocks);
  }
}

// The card, and what the record tab needs: whether it is busy, and how to stop it on leaving.
export function roomCard(ctx, { recorder, openMic, onBusy }) {
  const name = h('input', { id: 'room-name', value: 'room', placeholder: 'living room', size: 14 });
  const limit = select('room-minutes', [['5', '5 minutes'], ['10', '10 minutes'], ['30', '30 minutes']], '10');
  const total = h('p', { id: 'room-total', text: 'Room audio so far: …' });
  const elapsed = h('span', { id: 'room-elapsed', class: 'elapsed', text: '0:00' });
  const meter = h('div', { class: 'meter', id: 'room-meter' }, h('div', { class: 'bar' }));
  const start = h('button', { id: 'room-start' }, 'Start');
  const stop = h('button', { id: 'room-stop', class: 'danger', disabled: true }, 'Stop');
  const status = h('p', { id: 'room-status', class: 'muted' });
  const partS = chunkSeconds();
  const card = h('div', { class: 'card', id: 'room' },
    h('p', { text: 'Leave it recording while the household talks, with the TV or radio on, where the satellite stands: '
      + 'it teaches the model to stay quiet when people talk nearby. Don’t say the wake word while it records.' }),
    total,
    h('div', { class: 'row' }, field('Room', name), field('Stop after', limit), start, stop),
    h('div', { class: 'row' }, meter, elapsed),
    h('p', { class: 'muted', text: `Saved every ${partS} s as it records, so closing the page loses at most the last part.` }),
    status);

  let cutter = null;
  let roomS = 0; // seconds of room audio the wake word has
  let saved = 0;
  let pending = 0;
  let failed = 0;
  let lastError = '';
  let queue = Promise.resolve();

  async function loadTotal() {
    const found = await api(`api/projects/${ctx.slug}/samples?label=negative&source=${SOURCE}&limit=1`);
    roomS = found.duration_s; // of every part recorded so far, not only the page
    showTotal();
  }
  const showTotal = () => { total.textContent = `Room audio so far: ${minutes(roomS)}.`; };

  function showStatus(note = '') {
    const waiting = pending ? `, ${pending} being saved` : '';
    const lost = failed ? ` ${failed} not saved (${lastError}).` : '';
    const state = cutter ? '' : ' Stopped.';
    status.textContent = `${saved} part${saved === 1 ? '' : 's'} saved${waiting}.${lost}${state}${note}`;
  }

  async function upload(blocks, rate, speaker) {
    const form = new FormData();
    for (const [key, value] of [['label', 'negative'], ['speaker', speaker], ['source', SOURCE], ['trim', 'false']]) {
      form.append(key, value);
    }
    form.append('file', encodeWav(blocks, rate), 'room.wav');
    for (let attempt = 0; ; attempt += 1) {
      try {
        const { added } = await api(`api/projects/${ctx.slug}/samples`, { method: 'POST', form });
        const sample = added[0];
        saved += 1;
        roomS += sample.duration_s;
        showTotal();
        return sample.flags.includes('silent') ? ' The last part was silent: is the microphone muted?' : '';
      } catch (err) {
        const again = !err.status || err.status >= 500;
        if (!again || attempt >= RETRY_S.length) {
          failed += 1;
          lastError = err.message;
          return '';
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_S[attempt] * 1000));
      }
    }
  }

  function send(blocks, rate, speaker) {
    pending += 1;
    showStatus();
    queue = queue.then(() => upload(blocks, rate, speaker)).then((note) => { pending -= 1; showStatus(note); });
  }

  async function begin() {
    const speaker = name.value.trim() || 'room';
    if (ENGINE_NAME.test(speaker)) {
      toast('That name reads as a speech engine’s to the trainer; choose another name for the room.', true);
      return;
    }
    start.disabled = true;
    if (!(await openMic())) { start.disabled = false; return; }
    const rate = recorder.rate;
    const maxSamples = Number(limit.value) * 60 * rate;
    cutter = new Cutter(Math.round(partS * rate), (blocks) => send(blocks, rate, speaker));
    let shown = -1;
    await recorder.listen((block) => {
      const left = maxSamples - cutter.total;
      cutter.push(block.length > left ? block.subarray(0, left) : block);
      const s = Math.floor(cutter.total / rate);
      if (s !== shown) { shown = s; elapsed.textContent = `${clock(s)} / ${clock(maxSamples / rate)}`; }
      if (cutter.total >= maxSamples) end();
    });
    for (const el of [start, name, limit]) el.disabled = true;
    stop.disabled = false;
    onBusy(true);
    addEventListener('beforeunload', warnOnLeave);
    status.textContent = 'Recording…';
  }

  function end() {
    if (!cutter) return;
    recorder.listen(null);
    if (cutter.held >= MIN_TAIL_S * recorder.rate) cutter.flush();
    cutter = null;
    for (const el of [start, name, limit]) el.disabled = false;
    stop.disabled = true;
    onBusy(false);
    removeEventListener('beforeunload', warnOnLeave);
    showStatus();
  }

  function warnOnLeave(event) { event.preventDefault(); event.returnValue = ''; }

  start.addEventListener('click', () => begin().catch((err) => toast(err.message, true)));
  stop.addEventListener('click', end);
  ctx.listeners.push((m) => { if (m.type === 'samples' && m.project === ctx.slug && !pending) loadTotal().catch(() => {}); });
  loadTotal().catch((err) => { total.textContent = `Room audio so far: unknown (${err.message}).`; });
  return { card, busy: () => Boolean(cutter), stop: end };
}
