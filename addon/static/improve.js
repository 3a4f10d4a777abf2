// "Improve this model" on a result that is not Ready: a tune job from the model's checkpoint,
// with the targets prefilled (the verdict's Ready bars); a tuned model's before and after; and
// the notes ingest left on the data (speaker leakage among them).
import { api } from './api.js';
import { h, toast } from './dom.js';

const percent = (x) => `${(100 * x).toFixed(1)} %`;

export function improveSection(data) {
  const verdict = (data.result || {}).verdict;
  if (!verdict || verdict.level === 'ready') return null;
  const fah = h('input', { id: 'tune-fah', type: 'number', min: 0, max: 10, step: 0.1, inputmode: 'decimal' });
  const recall = h('input', { id: 'tune-recall', type: 'number', min: 50, max: 100, step: 1, inputmode: 'numeric' });
  const start = h('button', { id: 'improve' }, 'Improve this model');
  api('api/info').then((info) => {
    const d = info.tune_defaults || {};
    if (!fah.value && d.target_fah !== undefined) fah.value = d.target_fah;
    if (!recall.value && d.target_recall !== undefined) recall.value = Math.round(100 * d.target_recall);
  }).catch(() => {});
  start.addEventListener('click', async () => {
    try {
      // An empty field (the defaults not loaded yet) is left to the server's default, never 0.
      const json = {};
      if (fah.value !== '') json.target_fah = Number(fah.value);
      if (recall.value !== '') json.target_recall = Number(recall.value) / 100;
      const job = await api(`api/jobs/${data.id}/improve`, { method: 'POST', json });
      location.hash = `#/job/${job.id}`;
    } catch (err) { toast(err.message, true); }
  });
  return h('div', { class: 'card', id: 'improve-box' }, h('h2', { text: 'Improve this model' }),
    h('p', { text: 'Fine-tunes this model in short rounds (it learns from the sounds it wakes on by mistake) until it meets the targets below, or stops improving. Then it is exported and checked like a training. This model stays as it is.' }),
    h('label', {}, 'False wakes per hour, at most ', fah), ' ',
    h('label', {}, 'Wake words heard, at least (%) ', recall), ' ', start);
}

// Before and after tuning, on the validation clips it was tuned against.
export function tuningBox(tuning) {
  if (!tuning) return null;
  const row = (name, m) => h('tr', {}, h('th', { text: name }), h('td', { text: m.fa_per_hour.toFixed(2) }),
    h('td', { text: percent(m.recall) }), h('td', { text: m.cutoff.toFixed(3) }));
  const met = tuning.met ? 'Both targets met.' : `Targets not met (${tuning.reason}); the best tuned weights were kept.`;
  return h('div', { id: 'tuning' },
    h('p', { id: 'tuning-summary', text: `Tuned in ${tuning.iterations} round${tuning.iterations === 1 ? '' : 's'} towards at most ${tuning.target_fah} false wakes per hour and ${percent(tuning.target_recall)} of wake words heard. ${met}` }),
    h('div', { class: 'scroll' }, h('table', { class: 'metrics tuning', id: 'tuning-table' },
      h('caption', { text: 'On the validation clips, before and after' }),
      h('tr', {}, ['', 'False wakes per hour', 'Wake words heard', 'Cutoff'].map((t) => h('th', { text: t }))),
      row('Before', tuning.before), row('After', tuning.after))));
}

export function notesBox(notes) {
  if (!notes || !notes.length) return null;
  return h('details', { id: 'dataset-notes', class: 'notes', open: notes.some((n) => n.startsWith('speaker leakage')) },
    h('summary', { text: `Notes on the data (${notes.length})` }),
    h('ul', {}, notes.map((n) => h('li', { class: n.startsWith('speaker leakage') ? 'leak' : '', text: n }))));
}
