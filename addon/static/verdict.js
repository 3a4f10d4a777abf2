// A trained model in plain words: the verdict (mww_trainer.verdict), its figures in one table,
// the three sensitivity levels the device offers, and everything else behind "Details".
import { fmt, h } from './dom.js';

export function verdictBadge(verdict) {
  if (!verdict) return null;
  return h('span', { class: `verdict-badge ${verdict.level}`, title: verdict.headline, text: verdict.label });
}

export function verdictBox(verdict) {
  if (!verdict) {
    return h('p', { id: 'verdict', class: 'muted', text: 'No verdict: this model was not measured on held-out audio (it was trained by an older version).' });
  }
  const more = verdict.reasons.slice(1);
  return h('div', { id: 'verdict', class: `verdict ${verdict.level}` },
    h('h2', { id: 'verdict-headline', text: verdict.headline }),
    more.length ? h('p', { text: `Also: ${more.join('; ')}.` }) : null,
    verdict.actions.length ? h('div', {}, h('strong', { text: 'What to do' }),
      h('ul', { id: 'verdict-actions' }, verdict.actions.map((a) => h('li', { text: a })))) : null);
}

// The one table of figures: what, the result in words, what it was measured on.
export function figuresTable(verdict) {
  if (!verdict || !verdict.figures.length) return null;
  return h('div', { class: 'scroll' }, h('table', { class: 'metrics', id: 'metrics' },
    h('caption', { text: 'How it did on audio it never trained on' }),
    verdict.figures.map((f) => h('tr', {}, h('th', { text: f.name }),
      h('td', {}, h('strong', { text: f.value }), h('div', { text: f.text })),
      h('td', { class: 'muted', text: f.measured_on })))));
}

const percent = (x) => `${Math.round(100 * x)} %`;

export function levelsTable(sensitivity) {
  if (!sensitivity) return null;
  const levels = [...sensitivity.levels].reverse(); // Slightly sensitive first, as on the device
  return h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'sensitivity' },
    h('caption', { text: 'Sensitivity levels: after installing, choose one in Home Assistant (the device’s "Wake word sensitivity")' }),
    h('tr', {}, ['Level', 'Wake words heard', 'False wakes per hour', 'Sound-alikes'].map((t) => h('th', { text: t }))),
    levels.map((l) => h('tr', { 'data-level': l.name },
      h('td', {}, l.name, l.name === sensitivity.default ? ' (default)' : '',
        h('div', { class: 'muted', text: `cutoff ${l.cutoff.toFixed(3)}` })),
      h('td', { text: percent(l.recall) }),
      h('td', { text: l.fa_per_hour.toFixed(2) }), h('td', { text: percent(l.hard_negative_rate) })))));
}

function pairs(caption, id, entries) {
  if (!entries.length) return null;
  return h('table', { class: 'metrics', id }, h('caption', { text: caption }),
    entries.map(([k, v]) => h('tr', {}, h('th', { text: k.replaceAll('_', ' ') }), h('td', { text: fmt(v) }))));
}

// Everything that is not the verdict: raw figures, the training's own validation, checks, DET.
export function detailsBox(data) {
  const r = data.result || {};
  const ev = r.evaluation || {};
  const rec = ev.recommended || {};
  const checks = (r.verify && r.verify.checks) || [];
  const held = [['split', ev.split], ['probability_cutoff', r.cutoff], ['sliding_window_size', ev.sliding_window_size],
    ...Object.entries(ev.at_cutoff || {}), ['ambient_hours', ev.ambient_hours],
    ['recommended_cutoff', rec.cutoff], ['recommended_window', rec.sliding_window_size],
    ['recall_at_recommended', rec.recall], ['fa_per_hour_at_recommended', rec.fa_per_hour]].filter(([, v]) => v !== undefined);
  return h('details', { id: 'details' }, h('summary', { text: 'Details' }),
    h('p', { class: 'muted', text: `Probability cutoff ${fmt(r.cutoff)} · tensor arena ${r.tensor_arena_size} bytes · best step ${r.best_step} of ${r.steps}` }),
    h('div', { class: 'columns' },
      pairs('Held-out evaluation of the exported file', 'evaluation-details', held),
      pairs('During training: validation of the chosen checkpoint', 'validation-metrics', Object.entries(r.metrics || {})),
      h('div', {}, h('h3', { text: r.compatible ? 'Device checks: all passed' : 'Device checks: problems found' }),
        h('ul', { class: 'checks', id: 'verify' }, checks.map((c) => h('li', { class: c.ok ? 'ok' : 'fail' },
          h('strong', { text: `${c.ok ? '✓' : '✗'} ${c.name}` }), ` ${c.detail}`))))),
    data.has_det ? h('img', { class: 'det', alt: 'DET curve', src: `api/jobs/${data.id}/det.png` }) : null);
}
