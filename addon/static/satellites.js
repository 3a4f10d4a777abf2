// The Satellites tab: record takes through Home Assistant's voice satellites.
// The service runs the session (api/projects/<slug>/satellite-session); live events arrive on
// the panel's websocket as {type: 'satellite', ...}; takes are ordinary samples, playable here.
import { api } from './api.js';
import { FLAG_TEXT, LABEL_NAMES, errorBox, field, h, select, showError } from './dom.js';

const KINDS = ['positive', 'negative', 'hard_negative'].map((k) => [k, LABEL_NAMES[k]]);
const MODE_TEXT = {
  ask_question: 'asks (ask_question)', start_conversation: 'asks (start_conversation)',
  manual: 'wake it yourself',
};

export function satellitesTab(ctx) {
  const error = errorBox('sat-error');
  const list = h('div', { id: 'sat-list' }, 'Looking for satellites…');
  const label = select('sat-label', KINDS, 'positive');
  const count = h('input', { id: 'sat-count', type: 'number', min: 1, max: 500, value: 10, size: 4 });
  const speaker = h('input', { id: 'sat-speaker', placeholder: 'the satellite’s area', autocomplete: 'off' });
  const phrases = h('input', { id: 'sat-phrases', placeholder: 'hey commuter, hi computer', size: 30 });
  const phrasesField = field('Sound-alike phrases (comma between)', phrases);
  const start = h('button', { id: 'sat-start' }, 'Start recording');
  const prompt = h('div', { class: 'prompt', id: 'sat-prompt' });
  const meter = h('div', { class: 'meter', id: 'sat-meter' }, h('div', { class: 'bar' }));
  const state = h('p', { id: 'sat-state', class: 'muted' });
  const buttons = ['retake', 'skip', 'cancel', 'resume'].map((action) => h('button', {
    id: `sat-${action}`, class: 'small', hidden: true, onclick: () => control(action),
  }, { retake: 'Re-take the last', skip: 'Skip this take', cancel: 'Cancel', resume: 'Resume' }[action]));
  const takes = h('ul', { id: 'sat-takes', class: 'takes' });
  const setup = h('div', { class: 'card', id: 'sat-setup' },
    h('h2', { text: 'Record through voice satellites' }),
    h('p', { text: 'Each take is recorded by the satellite’s own microphone, in its room. Satellites that can ask will say the phrase to repeat; others: wake the satellite yourself (wake word or button), then say it.' }),
    list,
    h('div', { class: 'row' }, field('Kind', label), field('Takes per satellite', count), field('Speaker (optional)', speaker)),
    phrasesField, start, error);
  const progress = h('div', { class: 'card', id: 'sat-progress' },
    h('h2', { text: 'Session' }), prompt, meter, state, h('div', { class: 'row' }, buttons), takes);
  ctx.body.append(setup, progress);

  const showPhrases = () => { phrasesField.hidden = label.value !== 'hard_negative'; };
  label.addEventListener('change', showPhrases);
  showPhrases();

  async function loadSatellites() {
    try {
      const found = await api('api/satellites');
      if (!found.satellites.length) {
        list.replaceChildren(h('p', { text: `Home Assistant ${found.version} has no voice satellites (assist_satellite entities).` }));
        return;
      }
      list.replaceChildren(h('table', { class: 'list', id: 'sat-table' },
        h('tr', {}, ['', 'Satellite', 'Area', 'Integration', 'State', 'Takes are'].map((t) => h('th', { text: t }))),
        found.satellites.map((s) => h('tr', {},
          h('td', {}, h('input', { type: 'checkbox', class: 'sat-pick', value: s.entity_id, checked: s.available, disabled: !s.available || !s.device_id })),
          h('td', { text: s.name }), h('td', { text: s.area || '—' }), h('td', { text: s.integration || '?' }),
          h('td', { text: s.state }),
          h('td', {}, MODE_TEXT[s.prompt], s.why_not ? h('div', { class: 'muted sat-why', text: s.why_not }) : null)))));
    } catch (err) {
      list.replaceChildren();
      showError(error, err);
    }
  }

  start.addEventListener('click', async () => {
    const chosen = [...ctx.body.querySelectorAll('.sat-pick:checked')].map((c) => c.value);
    try {
      const status = await api(`api/projects/${ctx.slug}/satellite-session`, { method: 'POST', json: {
        satellites: chosen, label: label.value, count: Number(count.value), speaker: speaker.value,
        phrases: phrases.value.split(',').map((p) => p.trim()).filter(Boolean) } });
      render(status);
    } catch (err) { showError(error, err); }
  });

  async function control(action) {
    try {
      const path = action === 'resume' ? 'api/satellites/session/resume' : `api/satellites/session/${action}`;
      render(await api(path, { method: 'POST' }));
    } catch (err) { showError(error, err); }
  }

  function render({ session, running }) {
    start.disabled = running;
    buttons.forEach((b) => {
      const action = b.id.slice(4);
      b.hidden = action === 'resume' ? running || !session || ['finished'].includes(session.state) : !running;
    });
    if (!session || session.project !== ctx.slug) { progress.hidden = true; return; }
    progress.hidden = false;
    const spec = session.spec;
    const current = session.current;
    if (running && current) {
      prompt.textContent = `Take ${current.n} of ${current.of} on ${current.name}: ${current.mode === 'manual' ? `wake ${current.name}, then ` : ''}${current.prompt}`;
    } else if (running) {
      prompt.textContent = 'Connecting to Home Assistant…';
    } else {
      prompt.textContent = '';
    }
    const problem = session.error || session.last_problem;
    const skipped = (session.skipped || []).length;
    state.textContent = `${session.takes.length} of ${spec.count * spec.targets.length} takes stored` +
      (skipped ? ` · ${skipped} skipped` : '') + ` · ${session.state}` + (problem ? ` · ${problem.message}` : '');
    state.className = session.error ? 'error' : 'muted';
    takes.replaceChildren(...session.takes.slice().reverse().map((t) => h('li', { class: 'sat-take' },
      h('span', { text: `${t.satellite} #${t.n}: ${t.summary}` }),
      t.problems.length ? h('span', { class: 'flags', text: ` (${t.problems.map((p) => FLAG_TEXT[p] || p.replace('_', ' ')).join(', ')})` }) : null,
      h('audio', { controls: true, preload: 'none', src: `api/projects/${ctx.slug}/samples/${t.sample_id}/audio` }))));
  }

  function drawLevel(dbfs) {
    const bar = meter.querySelector('.bar');
    bar.style.width = `${Math.max(0, Math.min(100, (dbfs + 60) * (100 / 60)))}%`;
    bar.className = dbfs > -3 ? 'bar hot' : 'bar';
  }

  const refresh = () => api('api/satellites/session').then(render).catch((err) => showError(error, err));
  ctx.listeners.push((message) => {
    if (message.type !== 'satellite') return;
    if ('dbfs' in message) { drawLevel(message.dbfs); return; }
    refresh();
  });
  loadSatellites();
  refresh();
  // Live events are the fast path; a poll while the tab is open covers a dropped websocket.
  const poll = setInterval(refresh, 1000);
  return () => clearInterval(poll);
}
