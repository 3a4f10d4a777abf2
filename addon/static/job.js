// A job's page: live progress (websocket), cancel, logs, and the results of a training.
import { api } from './api.js';
import { eta, fmt, h, toast } from './dom.js';
import { installSection } from './install.js';
import { stageBars } from './stages.js';
import { detailsBox, figuresTable, levelsTable, verdictBox } from './verdict.js';
import { improveSection, notesBox, tuningBox } from './improve.js';
import { trySection } from './try.js';

const TITLES = { train: 'Training', synth: 'Sample generation', flash: 'Compile & flash', tune: 'Improving', cluster: 'Group by speaker' };
const ESPHOME_STAGES = new Set(['compile', 'upload']); // a flash job: every line is ESPHome's log

export function jobView(root, id) {
  const title = h('h1', { text: `Job #${id}` });
  const stateBadge = h('span', { id: 'job-state', class: 'state' });
  const barHolder = h('div', { id: 'job-progress' });
  const stage = h('div', { id: 'job-stage', class: 'muted' });
  const facts = h('dl', { id: 'job-facts', class: 'facts' });
  const validation = h('div', { id: 'job-validation' });
  const cancel = h('button', { id: 'cancel', class: 'danger', hidden: true }, 'Cancel');
  const retry = h('button', { id: 'retry', hidden: true }, 'Start again from the last checkpoint');
  const failure = h('pre', { id: 'job-error', class: 'error', hidden: true });
  const results = h('section', { id: 'results', hidden: true });
  const events = h('pre', { id: 'events', class: 'log' });
  const log = h('pre', { id: 'log', class: 'log' });
  const logBox = h('details', {}, h('summary', { text: 'Worker log' }), log);
  logBox.addEventListener('toggle', () => { if (logBox.open) loadLog(); });
  root.append(h('div', { class: 'job-head' }, title, stateBadge), h('div', { class: 'card' }, barHolder, stage, facts, validation, cancel, retry, failure),
    results, h('div', { class: 'card' }, h('h2', { text: 'Progress log' }), events, logBox));
  let job = null;
  let lastEvent = 0;
  const lines = [];
  let stages = null; // made once the job's kind is known
  const early = []; // events that came before it

  cancel.addEventListener('click', async () => {
    if (!confirm('Cancel this job?')) return;
    try { showJob(await api(`api/jobs/${id}/cancel`, { method: 'POST' })); } catch (err) { toast(err.message, true); }
  });

  retry.addEventListener('click', async () => {
    try { showJob(await api(`api/jobs/${id}/retry`, { method: 'POST' })); } catch (err) { toast(err.message, true); }
  });

  async function loadLog() { log.textContent = await api(`api/jobs/${id}/log`) || '(empty)'; }

  function addEvents(list) {
    for (const e of list) {
      if (e.id && e.id <= lastEvent) continue;
      lastEvent = Math.max(lastEvent, e.id || 0);
      if (stages) stages.add(e); else early.push(e);
      const previous = lines[lines.length - 1];
      const esphome = ESPHOME_STAGES.has(e.stage);
      const text = esphome ? e.message : `${e.stage}: ${e.message || ''}${e.total ? ` (${e.done}/${e.total})` : ''}`;
      const bar = esphome && e.total && previous && previous.total; // the upload's percentage redraws
      const replaces = previous && previous.stage === e.stage && (bar || (!esphome && e.stage !== 'validate'));
      if (replaces) lines[lines.length - 1] = { stage: e.stage, text, total: e.total };
      else lines.push({ stage: e.stage, text, total: e.total });
    }
    events.textContent = lines.slice(-200).map((l) => l.text).join('\n');
    events.scrollTop = events.scrollHeight;
  }

  function showProgress(p) {
    if (!p) return;
    if (stages) stages.trainingEta(p.eta_s);
    stage.textContent = `${p.stage}${p.message ? `: ${p.message.split('\n')[0]}` : ''}`;
    const rows = [];
    if (p.total_steps) rows.push(['Step', `${p.step} / ${p.total_steps}`]);
    if (p.eta_s !== null && p.eta_s !== undefined && job && !['succeeded', 'failed', 'cancelled'].includes(job.state)) rows.push(['Time left', eta(p.eta_s)]);
    if (p.loss !== null && p.loss !== undefined) rows.push(['Loss', p.loss.toFixed(4)]);
    if (p.accuracy !== null && p.accuracy !== undefined) rows.push(['Accuracy', p.accuracy.toFixed(3)]);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
    const v = p.validation || {};
    const keys = ['step', 'recall_at_cutoff', 'average_viable_recall', 'ambient_false_positives_per_hour', 'hard_negative_trigger_rate', 'auc_roc', 'cutoff', 'val_loss'];
    const shown = keys.filter((k) => v[k] !== undefined);
    validation.replaceChildren(shown.length ? h('table', { class: 'metrics' },
      h('caption', { text: 'Latest validation' }), shown.map((k) => h('tr', {}, h('th', { text: k.replaceAll('_', ' ') }), h('td', { text: fmt(v[k]) })))) : '');
  }

  function showJob(data) {
    job = data;
    if (!stages) {
      stages = stageBars(data.kind);
      barHolder.replaceChildren(stages.root);
      early.splice(0).forEach((e) => stages.add(e));
    }
    title.textContent = `${TITLES[data.kind] || data.kind} #${data.id} · ${data.project_slug}`;
    stateBadge.textContent = data.state;
    stateBadge.className = `state ${data.state}`;
    cancel.hidden = ['succeeded', 'failed', 'cancelled'].includes(data.state);
    retry.hidden = !['failed', 'cancelled'].includes(data.state);
    failure.hidden = !data.error;
    failure.textContent = data.error || '';
    if (data.progress) showProgress(data.progress);
    stages.finish(data.state);
    if (data.state === 'succeeded') showResults(data);
    else if (data.kind === 'flash' && ['failed', 'cancelled'].includes(data.state)) showFlashEnd(data, false);
  }

  function showFlashEnd(data, ok) {
    const r = data.result || {};
    results.hidden = false;
    results.replaceChildren(h('div', { class: 'card' }, h('h2', { text: ok ? 'Flashed' : 'Not flashed' }),
      ok ? h('p', { id: 'flash-result', text: `${r.message || 'flashed'} in ${Math.round(r.flash_seconds || 0)} s.` })
        : h('p', { text: 'The device keeps the firmware it had. Fix what the message above says, then try again.' }),
      h('a', { class: 'button', href: `#/job/${data.spec.model_job}` }, 'Back to the model')));
  }

  function showResults(data) {
    results.hidden = false;
    const r = data.result || {};
    if (data.kind === 'flash') { showFlashEnd(data, true); return; }
    if (data.kind === 'cluster') {
      results.replaceChildren(h('div', { class: 'card' }, h('h2', { text: 'Grouped' }),
        h('p', { text: `${r.takes} takes in ${r.n_clusters} groups. Listen to them and apply the groups on the Samples tab.` }),
        h('a', { class: 'button', href: `#/p/${data.project_slug}/samples` }, 'See the groups')));
      return;
    }
    if (data.kind !== 'train' && data.kind !== 'tune') {
      results.replaceChildren(h('div', { class: 'card' }, h('h2', { text: 'Done' }),
        h('p', { text: `${r.filed ?? 0} clips were added to the library.` }),
        h('a', { class: 'button', href: `#/p/${data.project_slug}/samples` }, 'See the samples')));
      return;
    }
    const verdict = r.verdict;
    results.replaceChildren(h('div', { class: 'card' }, h('h2', { text: 'Your model' }),
      verdictBox(verdict), tuningBox(r.tuning), figuresTable(verdict), levelsTable((r.evaluation || {}).sensitivity),
      notesBox(r.dataset_notes),
      h('p', {}, h('a', { class: 'button', id: 'download', href: `api/jobs/${data.id}/download`, download: `${data.project_slug}_job${data.id}.zip` }, 'Download model (.tflite + manifest + ESPHome YAML)')),
      detailsBox(data)),
    improveSection(data), trySection(data), installSection(data));
  }

  async function refresh() {
    showJob(await api(`api/jobs/${id}`));
    const { events: list } = await api(`api/jobs/${id}/events?after=${lastEvent}`);
    addEvents(list);
  }
  refresh().catch((err) => failure.replaceWith(h('p', { class: 'error', text: err.message })));

  return {
    onMessage: (m) => {
      if (m.type === 'events' && m.job_id === id) {
        addEvents(m.events);
        if (job) job.progress = m.progress;
        showProgress(m.progress);
      } else if (m.type === 'job' && m.job.id === id) {
        const finished = ['succeeded', 'failed', 'cancelled'].includes(m.job.state);
        if (finished) { refresh(); if (logBox.open) loadLog(); } else showJob({ ...m.job, progress: m.progress || (job && job.progress), has_det: job && job.has_det });
      }
    },
  };
}

