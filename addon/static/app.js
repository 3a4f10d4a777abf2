// The panel: wake words, their samples (record / upload / generate), training and results.
// Plain ES modules, no build step; every URL is relative so ingress paths just work.
import { api, connectLive } from './api.js';
import { $, LABEL_NAMES, errorBox, field, h, select, showError, toast, when } from './dom.js';
import { jobView } from './job.js';
import { verdictBadge } from './verdict.js';
import { packsNotice, packsSection, voicesNotice } from './packs.js';
import { recordTab } from './record.js';
import { satellitesTab } from './satellites.js';
import { countsTable, haveOf } from './counts.js';
import { samplesTab } from './samples.js';
import { speakersSection } from './speakers.js';

const TABS = ['samples', 'record', 'satellites', 'upload', 'generate', 'train', 'jobs', 'manage'];
const app = { info: null, view: null };

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
      'What you will say, spelled out: letters, digits, spaces, hyphens, apostrophes (! ? . , are left out).'),
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
  const importSlug = h('input', { id: 'import-slug', placeholder: 'the name it was exported with', autocomplete: 'off' });
  const importError = errorBox('import-error');
  const importCard = h('div', { class: 'card' }, h('h2', { text: 'Import a wake word' }),
    h('p', { text: 'A zip exported from this panel (samples and their details).' }), importInput,
    field('Import as (optional)', importSlug, 'Another model name, when one of that name exists already.'),
    h('button', { id: 'import', onclick: async () => {
      if (!importInput.files.length) return;
      const form = new FormData();
      form.append('file', importInput.files[0]);
      if (importSlug.value.trim()) form.append('slug', importSlug.value.trim());
      try {
        const project = await api('api/projects/import', { method: 'POST', form });
        location.hash = `#/p/${project.slug}`;
      } catch (err) { showError(importError, err); }
    } }, 'Import'), importError);
  const packs = packsSection();
  root.append(h('section', {}, h('h1', { text: 'Wake words' }), list), h('div', { class: 'columns' }, form, importCard),
    packs.card);

  async function load() {
    const { projects } = await api('api/projects');
    if (!projects.length) { list.replaceChildren(h('p', { text: 'No wake words yet: create one below.' })); return; }
    list.replaceChildren(h('table', { class: 'list' },
      h('tr', {}, h('th', { text: 'Wake word' }), h('th', { text: 'Wake-word clips' }), h('th', { text: 'Other speech (hours)' }),
        h('th', { text: 'Created by' })),
      projects.map((p) => h('tr', {},
        h('td', {}, h('a', { href: `#/p/${p.slug}`, text: p.phrase }), h('small', { text: ` ${p.slug}` })),
        h('td', { text: p.counts.positive.count }),
        h('td', { text: haveOf(p, 'negative') }),
        h('td', { text: p.created_by || '–' })))));
  }
  load().catch((err) => list.replaceChildren(h('p', { class: 'error', text: err.message })));
  return { onMessage: (m) => { if (m.type === 'projects') load(); packs.onMessage(m); } };
}

// --- a project -------------------------------------------------------------------------------

function projectView(root, slug, tab) {
  const body = h('div', { id: 'tab' });
  const header = h('div', { class: 'project-head' }, 'Loading…');
  const nav = h('nav', { class: 'tabs' }, TABS.map((t) =>
    h('a', { href: `#/p/${slug}/${t}`, class: t === tab ? 'active' : '', id: `tab-${t}` }, t[0].toUpperCase() + t.slice(1))));
  root.append(header, nav, body);
  const ctx = { slug, project: null, body, listeners: [], info: app.info };
  const samples = (c) => { speakersSection(c); return samplesTab(c); }; // unlabelled takes first
  const tabs = { samples, record: recordTab, satellites: satellitesTab, upload: uploadTab, generate: generateTab,
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
  // Defaults and bounds are the service's (addon/jobspec.py): they reach the recommended targets.
  const { synth_defaults: given, synth_bounds: most } = app.info;
  const number = (id, key, step = 1) => h('input', { id, type: 'number', min: 0, max: most[key], step, value: given[key], size: 5 });
  const inputs = {
    positives: number('syn-positives', 'positives'), hard_negatives: number('syn-hard', 'hard_negatives'),
    single_words: number('syn-words', 'single_words'),
    ambient_minutes: number('syn-ambient', 'ambient_minutes', 0.5),
    recorded_minutes: number('syn-recorded', 'recorded_minutes', 0.5), background: number('syn-background', 'background'),
    rirs: number('syn-rirs', 'rirs'),
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
  const card = h('div', { class: 'card' },
    h('p', { text: `Synthetic speech saying “${ctx.project.phrase}”, sound-alike phrases, other talk and noise, and if you ask for them everyday words said alone (“no”, “two”, “up”), which people say all day. Every speech engine installed speaks (espeak-ng, MBROLA, festival, flite, SVOX pico, piper), each an equal share, so the model does not learn one engine's sound. “People talking” adds real people's recordings this machine has (voice prompts, game dialogue and read letters from Debian packages) as other speech: real voices teach the model to stay quiet around people. The defaults are the recipe we measure (a quarter of an hour or more on a CPU); add a speech pack and your own recordings: real voices make the model better.` }),
    h('div', { class: 'row' }, field('Wake-word clips', inputs.positives), field('Sound-alikes', inputs.hard_negatives),
      field('Words said alone', inputs.single_words),
      field('Other speech (minutes)', inputs.ambient_minutes), field('People talking (minutes)', inputs.recorded_minutes),
      field('Noise files', inputs.background),
      field('Room impulses', inputs.rirs)), button, error);
  ctx.body.append(card);
  voicesNotice().then((notice) => notice && card.prepend(notice));
}

function trainTab(ctx) {
  const presets = (app.info && app.info.presets) || ['fast_test', 'standard', 'max_quality'];
  const preset = select('preset', presets.map((p) => [p, p.replace('_', ' ')]), app.info && app.info.default_preset);
  const estimate = h('span', { id: 'preset-estimate', class: 'muted' });
  const overrides = h('textarea', { id: 'overrides', rows: 8, spellcheck: 'false',
    placeholder: 'Optional overrides, YAML or JSON, e.g.\ntraining:\n  batch_size: 64' });
  const error = errorBox('train-error');
  const counts = h('div', {}, countsTable(ctx.project));
  const missing = ctx.project.below_minimum || [];
  const warning = h('div', { id: 'train-warning', class: 'card notice', hidden: !missing.length },
    h('p', { text: 'Below the minimum for a usable model:' }),
    h('ul', {}, missing.map((line) => h('li', { text: line }))),
    h('p', { class: 'muted', text: 'Generate with the defaults, record, or fetch a speech pack first; or start anyway to try the pipeline.' }));
  const button = h('button', { id: 'train' }, missing.length ? 'Start training…' : 'Start training');
  const anyway = h('button', { id: 'train-anyway', class: 'danger', hidden: true }, 'Start anyway');
  async function start() {
    showError(error, null);
    try {
      const job = await api(`api/projects/${ctx.slug}/train`, { method: 'POST',
        json: { preset: preset.value, overrides: overrides.value } });
      location.hash = `#/job/${job.id}`;
    } catch (err) { showError(error, err); }
  }
  button.addEventListener('click', () => {
    if (!missing.length) { start(); return; }
    warning.classList.add('asked');
    anyway.hidden = false;
    anyway.scrollIntoView({ block: 'nearest' });
  });
  anyway.addEventListener('click', start);
  let estimates = {};
  const showEstimate = () => {
    const e = estimates[preset.value];
    estimate.textContent = e ? ` ${e.text} on this machine (${e.basis})` : '';
  };
  preset.addEventListener('change', showEstimate);
  api('api/train/estimates').then((r) => { estimates = r.estimates; showEstimate(); }).catch(() => {});
  const card = h('div', { class: 'card' }, counts,
    h('p', { text: 'fast test: minutes, to check everything works · standard: a usable model (hours on a CPU) · max quality: longest.' }),
    field('Preset', h('span', {}, preset, estimate)), field('Overrides', overrides), warning,
    h('div', { class: 'row' }, button, anyway), error);
  ctx.body.append(card);
  packsNotice().then((notice) => notice && card.prepend(notice));
}

function jobsTable(jobs) {
  return h('table', { class: 'list', id: 'jobs' },
    h('tr', {}, ['Job', 'Kind', 'State', 'Started', 'By'].map((t) => h('th', { text: t }))),
    jobs.map((j) => h('tr', { 'data-id': j.id },
      h('td', {}, h('a', { href: `#/job/${j.id}`, text: `#${j.id}` })), h('td', { text: j.kind }),
      h('td', {}, h('span', { class: `state ${j.state}`, text: j.state }), verdictBadge(j.result && j.result.verdict)), h('td', { text: when(j.started_at || j.created_at) }),
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
