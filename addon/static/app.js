// The panel: wake words, their samples (record / upload / generate), training and results.
// Plain ES modules, no build step; every URL is relative so ingress paths just work.
import { api, connectLive } from './api.js';
import { Recorder, recordingProblem } from './recorder.js';

const LABEL_NAMES = {
  positive: 'Wake word',
  negative: 'Other speech',
  hard_negative: 'Sound-alikes',
  background: 'Background noise',
  rir: 'Room impulses',
};
const FLAG_TEXT = {
  clipped: 'clipped', silent: 'silent', too_short: 'too short', too_long: 'too long', converted: 'converted',
};
const TABS = ['samples', 'record', 'upload', 'generate', 'train', 'jobs', 'manage'];
const app = { info: null, view: null };

// --- helpers -------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (selector, root = document) => root.querySelector(selector);

function toast(message, isError = false) {
  const el = $('#toast');
  el.textContent = message;
  el.className = `toast show${isError ? ' error' : ''}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = 'toast'; }, isError ? 8000 : 3000);
}

function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { text: label }), input, hint ? h('small', { text: hint }) : null);
}

function select(id, options, value) {
  return h('select', { id }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

const seconds = (s) => (s === null || s === undefined ? '–' : `${Number(s).toFixed(2)} s`);
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : '–');

function eta(s) {
  if (s === null || s === undefined) return '–';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function errorBox(id) { return h('pre', { id, class: 'error', hidden: true }); }
function showError(box, error) { box.hidden = !error; box.textContent = error ? error.message || String(error) : ''; }

// --- routing -------------------------------------------------------------------------------

function route() {
  if (app.view && app.view.cleanup) app.view.cleanup();
  const [kind, id, tab] = location.hash.replace(/^#\/?/, '').split('/');
  const root = $('#view');
  root.replaceChildren();
  if (kind === 'p' && id) app.view = projectView(root, decodeURIComponent(id), TABS.includes(tab) ? tab : 'samples');
  else if (kind === 'job' && id) app.view = jobView(root, Number(id));
  else app.view = homeView(root);
}

function onLive(message) { if (app.view && app.view.onMessage) app.view.onMessage(message); }

// --- home: the list of wake words ----------------------------------------------------------

function homeView(root) {
  const list = h('div', { id: 'projects' }, 'Loading…');
  const error = errorBox('create-error');
  const user = (app.info && app.info.user) || {};
  const form = h('form', { id: 'new-project', class: 'card' },
    h('h2', { text: 'New wake word' }),
    field('Wake word', h('input', { id: 'phrase', required: true, placeholder: 'hey computer', autocomplete: 'off' }),
      'What you will say, spelled out: letters, digits, spaces, hyphens, apostrophes.'),
    field('Language', h('input', { id: 'language', value: 'en', size: 6 })),
    field('Author', h('input', { id: 'author', value: user.display_name || user.name || '' })),
    field('Website (optional)', h('input', { id: 'website', type: 'url', placeholder: 'https://…' })),
    field('Model name (optional)', h('input', { id: 'slug', placeholder: 'from the wake word' }),
      'Lowercase letters, digits and _ — names the model files.'),
    h('button', { id: 'create', type: 'submit' }, 'Create'),
    error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (id) => $(`#${id}`, form).value;
    try {
      const project = await api('api/projects', { method: 'POST', json: {
        phrase: value('phrase'), language: value('language'), author: value('author'),
        website: value('website'), slug: value('slug') } });
      location.hash = `#/p/${project.slug}/record`;
    } catch (err) { showError(error, err); }
  });
  const importInput = h('input', { id: 'import-file', type: 'file', accept: '.zip' });
  const importError = errorBox('import-error');
  const importCard = h('div', { class: 'card' }, h('h2', { text: 'Import a wake word' }),
    h('p', { text: 'A zip exported from this panel (samples and their details).' }), importInput,
    h('button', { id: 'import', onclick: async () => {
      if (!importInput.files.length) return;
      const form = new FormData();
      form.append('file', importInput.files[0]);
      try {
        const project = await api('api/projects/import', { method: 'POST', form });
        location.hash = `#/p/${project.slug}`;
      } catch (err) { showError(importError, err); }
    } }, 'Import'), importError);
  root.append(h('section', {}, h('h1', { text: 'Wake words' }), list), h('div', { class: 'columns' }, form, importCard));

  async function load() {
    const { projects } = await api('api/projects');
    if (!projects.length) { list.replaceChildren(h('p', { text: 'No wake words yet: create one below.' })); return; }
    list.replaceChildren(h('table', { class: 'list' },
      h('tr', {}, h('th', { text: 'Wake word' }), h('th', { text: 'Wake-word clips' }), h('th', { text: 'Other speech' }),
        h('th', { text: 'Created by' })),
      projects.map((p) => h('tr', {},
        h('td', {}, h('a', { href: `#/p/${p.slug}`, text: p.phrase }), h('small', { text: ` ${p.slug}` })),
        h('td', { text: p.counts.positive.count }), h('td', { text: p.counts.negative.count }),
        h('td', { text: p.created_by || '–' })))));
  }
  load().catch((err) => list.replaceChildren(h('p', { class: 'error', text: err.message })));
  return { onMessage: (m) => { if (m.type === 'projects') load(); } };
}

// --- a project -------------------------------------------------------------------------------

function projectView(root, slug, tab) {
  const body = h('div', { id: 'tab' });
  const header = h('div', { class: 'project-head' }, 'Loading…');
  const nav = h('nav', { class: 'tabs' }, TABS.map((t) =>
    h('a', { href: `#/p/${slug}/${t}`, class: t === tab ? 'active' : '', id: `tab-${t}` }, t[0].toUpperCase() + t.slice(1))));
  root.append(header, nav, body);
  const ctx = { slug, project: null, body, listeners: [] };
  const tabs = { samples: samplesTab, record: recordTab, upload: uploadTab, generate: generateTab,
    train: trainTab, jobs: jobsTab, manage: manageTab };
  let cleanup = null;
  api(`api/projects/${slug}`).then((project) => {
    ctx.project = project;
    header.replaceChildren(h('h1', { text: project.phrase }),
      h('p', { class: 'muted', text: `${project.slug} · ${project.language} · by ${project.author}` }));
    cleanup = tabs[tab](ctx);
  }).catch((err) => header.replaceChildren(h('p', { class: 'error', text: err.message })));
  return {
    onMessage: (m) => ctx.listeners.forEach((listener) => listener(m)),
    cleanup: () => cleanup && cleanup(),
  };
}

function countsTable(counts) {
  const rec = (app.info && app.info.recommended) || {};
  return h('table', { class: 'counts', id: 'counts' },
    h('tr', {}, h('th', { text: 'Kind' }), h('th', { text: 'Clips' }), h('th', { text: 'Duration' }),
      h('th', { text: 'Speakers' }), h('th', { text: 'Minimum / recommended' })),
    Object.entries(counts).map(([label, c]) => {
      const r = rec[label];
      const status = !r ? '' : c.count >= r.recommended ? 'good' : c.count >= r.minimum ? 'ok' : 'low';
      return h('tr', { class: status, 'data-label': label },
        h('td', { text: LABEL_NAMES[label] }), h('td', { class: 'count', text: c.count }),
        h('td', { text: `${Math.round(c.duration_s || 0)} s` }), h('td', { text: c.speakers }),
        h('td', {}, r ? `${r.minimum} / ${r.recommended}+` : '–',
          r ? h('meter', { min: 0, max: r.recommended, low: r.minimum, optimum: r.recommended, value: c.count }) : null));
    }));
}

function samplesTab(ctx) {
  const filter = select('label-filter', [['', 'All kinds'], ...Object.entries(LABEL_NAMES)], '');
  const table = h('table', { id: 'samples', class: 'list' });
  const counts = h('div');
  ctx.body.append(counts, h('div', { class: 'row' }, filter), table);
  let player = null;
  async function load() {
    const project = await api(`api/projects/${ctx.slug}`);
    counts.replaceChildren(countsTable(project.counts));
    const query = filter.value ? `?label=${filter.value}` : '';
    const { samples } = await api(`api/projects/${ctx.slug}/samples${query}`);
    table.replaceChildren(h('tr', {}, ['#', 'Kind', 'Speaker', 'Source', 'Length', 'Warnings', ''].map((t) => h('th', { text: t }))),
      ...samples.slice().reverse().map((s) => h('tr', { 'data-id': s.id, class: 'sample' },
        h('td', { text: s.id }), h('td', { text: LABEL_NAMES[s.label] }), h('td', { text: s.speaker }),
        h('td', { text: s.source }), h('td', { class: 'duration', text: seconds(s.duration_s) }),
        h('td', {}, s.flags.map((f) => h('span', { class: `badge ${f}`, text: FLAG_TEXT[f] || f }))),
        h('td', {},
          h('button', { class: 'play small', onclick: () => {
            if (player) player.pause();
            player = new Audio(`api/projects/${ctx.slug}/samples/${s.id}/audio`);
            player.play();
          } }, '▶'),
          h('button', { class: 'delete small danger', onclick: async () => {
            if (!confirm(`Delete sample ${s.id}?`)) return;
            await api(`api/projects/${ctx.slug}/samples/${s.id}?confirm=${s.id}`, { method: 'DELETE' });
            load();
          } }, 'Delete')))));
    if (!samples.length) table.append(h('tr', {}, h('td', { colspan: 7, text: 'No samples yet: record, upload or generate some.' })));
  }
  filter.addEventListener('change', load);
  ctx.listeners.push((m) => { if (m.type === 'samples' && m.project === ctx.slug) load(); });
  load().catch((err) => toast(err.message, true));
}

function insecureNotice(problem) {
  return h('div', { class: 'card notice', id: 'insecure' },
    h('h2', { text: 'The browser will not share the microphone here' }),
    h('p', { text: problem === 'insecure'
      ? `This page was opened over plain HTTP (${location.origin}), which browsers do not trust with a microphone.`
      : 'This browser does not offer microphone access to web pages.' }),
    h('p', { text: 'Ways to record anyway:' }),
    h('ul', {},
      h('li', { text: 'Open Home Assistant over HTTPS (Home Assistant Cloud, or your own certificate), then come back here.' }),
      h('li', { text: 'Use the Home Assistant companion app on your phone: it allows the microphone.' }),
      h('li', { text: 'Record on any device and add the files in the Upload tab (a zip of many works too).' }),
      h('li', { text: 'Record through a voice satellite.' })));
}

function recordTab(ctx) {
  const problem = recordingProblem();
  if (problem) { ctx.body.append(insecureNotice(problem)); return null; }
  const user = (app.info && app.info.user) || {};
  const speaker = h('input', { id: 'speaker', value: user.display_name || user.name || '', placeholder: 'your name', required: true });
  const label = select('rec-label', Object.entries(LABEL_NAMES).slice(0, 4), 'positive');
  const count = h('input', { id: 'rec-count', type: 'number', min: 1, max: 500, value: 20, size: 4 });
  const length = h('input', { id: 'rec-seconds', type: 'number', min: 1, max: 10, step: 0.5, value: 2.5, size: 4 });
  const meter = h('div', { class: 'meter', id: 'meter' }, h('div', { class: 'bar' }));
  const prompt = h('div', { class: 'prompt', id: 'prompt', text: 'Allow the microphone to start.' });
  const micButton = h('button', { id: 'mic-start' }, 'Allow microphone');
  const recordButton = h('button', { id: 'record', disabled: true }, 'Record');
  const takes = h('ul', { id: 'takes', class: 'takes' });
  ctx.body.append(h('div', { class: 'card' },
    h('p', { text: 'Each take records a few seconds; say the wake word once when asked. Silence is trimmed for you.' }),
    h('div', { class: 'row' }, field('Speaker', speaker), field('Kind', label), field('Takes', count), field('Seconds per take', length)),
    h('div', { class: 'row' }, micButton, meter), prompt, recordButton), takes);

  const recorder = new Recorder();
  let done = 0;
  let frame = 0;
  const phrase = ctx.project.phrase;
  const target = () => Number(count.value) || 20;
  const nextText = () => (done >= target() ? `Done: ${done} takes. Record more, or train.` : `Record ${done + 1}/${target()}`);

  function drawLevel() {
    const db = recorder.level();
    const bar = $('.bar', meter);
    bar.style.width = `${Math.max(0, Math.min(100, (db + 60) * (100 / 60)))}%`;
    bar.className = db > -3 ? 'bar hot' : 'bar';
    frame = requestAnimationFrame(drawLevel);
  }

  micButton.addEventListener('click', async () => {
    try {
      await recorder.open();
    } catch (err) {
      prompt.textContent = `The microphone could not be opened: ${err.message}. Check the browser's permission for this page.`;
      return;
    }
    micButton.disabled = true;
    recordButton.disabled = false;
    recordButton.textContent = nextText();
    prompt.textContent = 'Ready. Press Record, wait for “say it now”, then speak.';
    drawLevel();
  });

  async function takeOne(replace) {
    if (!speaker.value.trim()) { toast('Give the speaker’s name first: recordings are grouped by speaker.', true); return; }
    recordButton.disabled = true;
    prompt.className = 'prompt';
    prompt.textContent = 'Get ready…';
    await new Promise((resolve) => setTimeout(resolve, 600));
    prompt.className = 'prompt live';
    prompt.textContent = label.value === 'positive' ? `Say “${phrase}” now` : 'Recording now';
    const wav = await recorder.take(Number(length.value) || 2.5);
    prompt.className = 'prompt';
    prompt.textContent = 'Saving…';
    const form = new FormData();
    form.append('label', label.value);
    form.append('speaker', speaker.value.trim());
    form.append('source', 'browser');
    form.append('file', wav, 'take.wav');
    try {
      const { added } = await api(`api/projects/${ctx.slug}/samples`, { method: 'POST', form });
      const sample = added[0];
      const item = takeItem(sample);
      if (replace) replace.replaceWith(item); else { takes.prepend(item); done += 1; }
      const problems = sample.flags.filter((f) => f !== 'converted');
      const warn = problems.length ? ` (${problems.map((f) => FLAG_TEXT[f] || f).join(', ')}: re-take?)` : '';
      prompt.textContent = `Saved ${seconds(sample.duration_s)}${warn}.`;
    } catch (err) {
      prompt.textContent = `Not saved: ${err.message}`;
    }
    recordButton.textContent = nextText();
    recordButton.disabled = false;
  }

  function takeItem(sample) {
    const item = h('li', { 'data-id': sample.id },
      h('span', { text: `#${sample.id} · ${seconds(sample.duration_s)} ` }),
      sample.flags.filter((f) => f !== 'converted').map((f) => h('span', { class: `badge ${f}`, text: FLAG_TEXT[f] || f })),
      h('button', { class: 'small', onclick: () => new Audio(`api/projects/${ctx.slug}/samples/${sample.id}/audio`).play() }, '▶ Play'),
      h('button', { class: 'small retake', onclick: async () => {
        await api(`api/projects/${ctx.slug}/samples/${sample.id}?confirm=${sample.id}`, { method: 'DELETE' });
        takeOne(item);
      } }, 'Re-take'));
    return item;
  }

  recordButton.addEventListener('click', () => takeOne(null));
  return () => { cancelAnimationFrame(frame); recorder.close(); };
}

function uploadTab(ctx) {
  const label = select('up-label', Object.entries(LABEL_NAMES), 'positive');
  const speaker = h('input', { id: 'up-speaker', placeholder: 'optional; a zip’s folders name speakers' });
  const files = h('input', { id: 'up-files', type: 'file', multiple: true, accept: 'audio/*,.wav,.flac,.ogg,.mp3,.zip' });
  const out = h('div', { id: 'upload-result' });
  const error = errorBox('upload-error');
  const button = h('button', { id: 'upload' }, 'Upload');
  button.addEventListener('click', async () => {
    if (!files.files.length) return;
    const form = new FormData();
    form.append('label', label.value);
    form.append('speaker', speaker.value);
    form.append('source', 'upload');
    for (const file of files.files) form.append('file', file, file.name);
    button.disabled = true;
    showError(error, null);
    try {
      const { added, skipped } = await api(`api/projects/${ctx.slug}/samples`, { method: 'POST', form });
      out.replaceChildren(h('div', {}, h('p', { text: `Added ${added.length} clip(s).` }),
        skipped.length ? h('ul', {}, skipped.map((s) => h('li', { class: 'muted', text: s }))) : null));
    } catch (err) { showError(error, err); }
    button.disabled = false;
  });
  const limit = app.info ? app.info.max_upload_mb : '?';
  ctx.body.append(h('div', { class: 'card' },
    h('p', { text: `Audio files (WAV, FLAC, OGG, MP3) or a zip of them, up to ${limit} MiB per upload. They are converted to 16 kHz mono.` }),
    h('div', { class: 'row' }, field('Kind', label), field('Speaker', speaker)), files, button, error, out));
}

function generateTab(ctx) {
  const number = (id, value, max, step = 1) => h('input', { id, type: 'number', min: 0, max, step, value, size: 5 });
  const inputs = {
    positives: number('syn-positives', 200, 5000), hard_negatives: number('syn-hard', 100, 5000),
    ambient_minutes: number('syn-ambient', 10, 240, 0.5), background: number('syn-background', 10, 200),
    rirs: number('syn-rirs', 5, 200),
  };
  const error = errorBox('generate-error');
  const button = h('button', { id: 'generate' }, 'Generate');
  button.addEventListener('click', async () => {
    const body = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, Number(el.value)]));
    try {
      const job = await api(`api/projects/${ctx.slug}/synth`, { method: 'POST', json: body });
      location.hash = `#/job/${job.id}`;
    } catch (err) { showError(error, err); }
  });
  ctx.body.append(h('div', { class: 'card' },
    h('p', { text: `Synthetic speech from espeak-ng voices saying “${ctx.project.phrase}”, sound-alike phrases, other talk and noise. Good to start with; real recordings make the model better.` }),
    h('div', { class: 'row' }, field('Wake-word clips', inputs.positives), field('Sound-alikes', inputs.hard_negatives),
      field('Other speech (minutes)', inputs.ambient_minutes), field('Noise files', inputs.background),
      field('Room impulses', inputs.rirs)), button, error));
}

function trainTab(ctx) {
  const presets = (app.info && app.info.presets) || ['fast_test', 'standard', 'max_quality'];
  const preset = select('preset', presets.map((p) => [p, p.replace('_', ' ')]), app.info && app.info.default_preset);
  const overrides = h('textarea', { id: 'overrides', rows: 8, spellcheck: 'false',
    placeholder: 'Optional overrides, YAML or JSON, e.g.\ntraining:\n  batch_size: 64' });
  const error = errorBox('train-error');
  const counts = h('div', {}, countsTable(ctx.project.counts));
  const button = h('button', { id: 'train' }, 'Start training');
  button.addEventListener('click', async () => {
    showError(error, null);
    try {
      const job = await api(`api/projects/${ctx.slug}/train`, { method: 'POST',
        json: { preset: preset.value, overrides: overrides.value } });
      location.hash = `#/job/${job.id}`;
    } catch (err) { showError(error, err); }
  });
  ctx.body.append(h('div', { class: 'card' }, counts,
    h('p', { text: 'fast test: minutes, to check everything works · standard: a usable model (hours on a CPU) · max quality: longest.' }),
    field('Preset', preset), field('Overrides', overrides), button, error));
}

function jobsTable(jobs) {
  return h('table', { class: 'list', id: 'jobs' },
    h('tr', {}, ['Job', 'Kind', 'State', 'Started', 'By'].map((t) => h('th', { text: t }))),
    jobs.map((j) => h('tr', { 'data-id': j.id },
      h('td', {}, h('a', { href: `#/job/${j.id}`, text: `#${j.id}` })), h('td', { text: j.kind }),
      h('td', {}, h('span', { class: `state ${j.state}`, text: j.state })), h('td', { text: when(j.started_at || j.created_at) }),
      h('td', { text: j.created_by || '–' }))));
}

function jobsTab(ctx) {
  const holder = h('div', {}, 'Loading…');
  ctx.body.append(holder);
  const load = async () => {
    const { jobs } = await api(`api/jobs?project=${ctx.slug}`);
    holder.replaceChildren(jobs.length ? jobsTable(jobs) : h('p', { text: 'No jobs yet.' }));
  };
  ctx.listeners.push((m) => { if (m.type === 'job' && m.job.project_slug === ctx.slug) load(); });
  load().catch((err) => toast(err.message, true));
}

function manageTab(ctx) {
  const confirmInput = h('input', { id: 'confirm-slug', placeholder: ctx.slug });
  const error = errorBox('delete-error');
  const remove = h('button', { id: 'delete-project', class: 'danger' }, 'Delete this wake word');
  remove.addEventListener('click', async () => {
    try {
      await api(`api/projects/${ctx.slug}?confirm=${encodeURIComponent(confirmInput.value)}`, { method: 'DELETE' });
      location.hash = '#/';
    } catch (err) { showError(error, err); }
  });
  ctx.body.append(
    h('div', { class: 'card' }, h('h2', { text: 'Export' }),
      h('p', { text: 'All samples and their details as one zip, to keep or to import elsewhere.' }),
      h('a', { class: 'button', id: 'export', href: `api/projects/${ctx.slug}/export`, download: `${ctx.slug}_project.zip` }, 'Download project zip')),
    h('div', { class: 'card danger-zone' }, h('h2', { text: 'Delete' }),
      h('p', { text: `Removes every sample and model of this wake word. Type ${ctx.slug} to confirm.` }),
      confirmInput, remove, error));
}

// --- a job ---------------------------------------------------------------------------------

function jobView(root, id) {
  const title = h('h1', { text: `Job #${id}` });
  const stateBadge = h('span', { id: 'job-state', class: 'state' });
  const bar = h('progress', { id: 'job-progress', max: 1, value: 0 });
  const stage = h('div', { id: 'job-stage', class: 'muted' });
  const facts = h('dl', { id: 'job-facts', class: 'facts' });
  const validation = h('div', { id: 'job-validation' });
  const cancel = h('button', { id: 'cancel', class: 'danger', hidden: true }, 'Cancel');
  const failure = h('pre', { id: 'job-error', class: 'error', hidden: true });
  const results = h('section', { id: 'results', hidden: true });
  const events = h('pre', { id: 'events', class: 'log' });
  const log = h('pre', { id: 'log', class: 'log' });
  const logBox = h('details', {}, h('summary', { text: 'Worker log' }), log);
  logBox.addEventListener('toggle', () => { if (logBox.open) loadLog(); });
  root.append(h('div', { class: 'job-head' }, title, stateBadge), h('div', { class: 'card' }, bar, stage, facts, validation, cancel, failure),
    results, h('div', { class: 'card' }, h('h2', { text: 'Progress log' }), events, logBox));
  let job = null;
  let lastEvent = 0;
  const lines = [];

  cancel.addEventListener('click', async () => {
    if (!confirm('Cancel this job?')) return;
    try { showJob(await api(`api/jobs/${id}/cancel`, { method: 'POST' })); } catch (err) { toast(err.message, true); }
  });

  async function loadLog() { log.textContent = await api(`api/jobs/${id}/log`) || '(empty)'; }

  function addEvents(list) {
    for (const e of list) {
      if (e.id && e.id <= lastEvent) continue;
      lastEvent = Math.max(lastEvent, e.id || 0);
      const previous = lines[lines.length - 1];
      const text = `${e.stage}: ${e.message || ''}${e.total ? ` (${e.done}/${e.total})` : ''}`;
      if (previous && previous.stage === e.stage && e.stage !== 'validate') lines[lines.length - 1] = { stage: e.stage, text };
      else lines.push({ stage: e.stage, text });
    }
    events.textContent = lines.slice(-200).map((l) => l.text).join('\n');
    events.scrollTop = events.scrollHeight;
  }

  function showProgress(p) {
    if (!p) return;
    bar.value = p.total_steps ? p.step / p.total_steps : p.fraction;
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
    title.textContent = `${data.kind === 'train' ? 'Training' : 'Sample generation'} #${data.id} · ${data.project_slug}`;
    stateBadge.textContent = data.state;
    stateBadge.className = `state ${data.state}`;
    cancel.hidden = ['succeeded', 'failed', 'cancelled'].includes(data.state);
    failure.hidden = !data.error;
    failure.textContent = data.error || '';
    if (data.progress) showProgress(data.progress);
    if (data.state === 'succeeded') showResults(data);
  }

  function showResults(data) {
    results.hidden = false;
    const r = data.result || {};
    if (data.kind !== 'train') {
      results.replaceChildren(h('div', { class: 'card' }, h('h2', { text: 'Done' }),
        h('p', { text: `${r.filed ?? 0} clips were added to the library.` }),
        h('a', { class: 'button', href: `#/p/${data.project_slug}/samples` }, 'See the samples')));
      return;
    }
    const metrics = r.metrics || {};
    const checks = (r.verify && r.verify.checks) || [];
    results.replaceChildren(h('div', { class: 'card' }, h('h2', { text: 'Your model' }),
      h('p', {}, h('a', { class: 'button', id: 'download', href: `api/jobs/${data.id}/download`, download: `${data.project_slug}_job${data.id}.zip` }, 'Download model (.tflite + manifest + ESPHome YAML)')),
      h('p', { class: 'muted', text: `Probability cutoff ${fmt(r.cutoff)} · tensor arena ${r.tensor_arena_size} bytes · best step ${r.best_step} of ${r.steps}` }),
      h('div', { class: 'columns' },
        h('table', { class: 'metrics', id: 'metrics' }, h('caption', { text: 'Metrics of the chosen checkpoint' }),
          Object.entries(metrics).map(([k, v]) => h('tr', {}, h('th', { text: k.replaceAll('_', ' ') }), h('td', { text: fmt(v) })))),
        h('div', {}, h('h3', { text: r.compatible ? 'Device checks: all passed' : 'Device checks: problems found' }),
          h('ul', { class: 'checks', id: 'verify' }, checks.map((c) => h('li', { class: c.ok ? 'ok' : 'fail' },
            h('strong', { text: `${c.ok ? '✓' : '✗'} ${c.name}` }), ` ${c.detail}`))))),
      data.has_det ? h('img', { class: 'det', alt: 'DET curve', src: `api/jobs/${data.id}/det.png` }) : null));
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

function fmt(value) {
  if (typeof value !== 'number') return value === null || value === undefined ? '–' : String(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

// --- start -----------------------------------------------------------------------------------

async function start() {
  try { app.info = await api('api/info'); } catch (err) { toast(err.message, true); }
  connectLive(onLive, (up) => {
    const el = $('#connection');
    el.textContent = up ? 'live' : 'offline';
    el.className = `connection ${up ? 'up' : ''}`;
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
