// A job's progress as one bar per stage. Bars only move forward: a stage that has begun
// fills the ones before it, a stage's bar keeps its highest value, and an event of a stage
// we do not know counts toward the stage under way. Red marks where a job failed.
import { eta, h } from './dom.js';

const PLANS = {
  train: [
    ['prepare', 'Preparing the clips', ['start', 'restart', 'ingest', 'features', 'dataset', 'compute']],
    ['train', 'Training', ['train', 'validate', 'mining', 'stopped']],
    ['export', 'Export and device checks', ['export', 'verify']],
    ['evaluate', 'Held-out evaluation', ['evaluate']],
  ],
  tune: [
    ['prepare', 'Preparing the clips', ['start', 'restart', 'ingest', 'features', 'dataset', 'compute']],
    ['tune', 'Improving', ['tune']],
    ['export', 'Export and device checks', ['export', 'verify']],
    ['evaluate', 'Held-out evaluation', ['evaluate']],
  ],
  cluster: [['embed', 'Listening to the takes', ['start', 'restart', 'embed']], ['cluster', 'Grouping by voice', ['cluster']]],
  synth: [['synth', 'Generating samples', ['start', 'restart', 'unpack', 'synth']]],
  flash: [['compile', 'Compiling', ['start', 'restart', 'compile']], ['upload', 'Uploading', ['upload']]],
};

export function stageBars(kind) {
  const plan = PLANS[kind] || [['work', 'Working', []]];
  const rows = plan.map(([key, label]) => {
    const bar = h('progress', { max: 1, value: 0 });
    const note = h('span', { class: 'muted stage-note' });
    return { key, bar, note, fill: 0, first: null, el: h('div', { class: 'stage-row', 'data-stage': key }, h('span', { text: label }), bar, note) };
  });
  const root = h('div', { id: 'stages' }, rows.map((r) => r.el));
  let current = 0;

  function setFill(i, value, timeS) {
    const row = rows[i];
    if (value <= row.fill) return;
    if (row.first === null && timeS) row.first = [timeS, row.fill];
    row.fill = Math.min(1, value);
    row.bar.value = row.fill;
    row.note.textContent = `${Math.round(100 * row.fill)} %`;
    if (row.first && timeS > row.first[0] && row.fill > row.first[1] && row.fill < 1) {
      const rate = (row.fill - row.first[1]) / (timeS - row.first[0]);
      row.note.textContent += ` · ${eta((1 - row.fill) / rate)} left`;
    }
  }

  function add(event) {
    if (event.stage === 'end') return;
    const found = plan.findIndex(([, , stages]) => stages.includes(event.stage));
    if (found > current) {
      for (let i = current; i < found; i += 1) setFill(i, 1);
      current = found;
    }
    if (event.total) setFill(current, event.done / event.total, event.time_s);
  }

  function finish(state) {
    rows.forEach((r) => r.el.classList.remove('failed'));
    if (state === 'succeeded') rows.forEach((_, i) => setFill(i, 1));
    else if (state === 'failed' || state === 'cancelled') rows[current].el.classList.add(state);
  }

  // The training's own estimate is better than ours: it knows the steps still to come.
  function trainingEta(seconds) {
    const i = plan.findIndex(([key]) => key === 'train');
    if (i < 0 || i !== current || rows[i].fill >= 1 || seconds === null || seconds === undefined) return;
    rows[i].note.textContent = `${Math.round(100 * rows[i].fill)} % · ${eta(seconds)} left`;
  }

  return { root, add, finish, trainingEta };
}
