// What a wake word has of each kind, against what a good model needs (served by the service,
// addon/targets.py, with what this one has): the Samples and Train tabs show it.
import { LABEL_NAMES, h } from './dom.js';

export function countsTable(project) {
  return h('div', {},
    h('table', { class: 'counts', id: 'counts' },
      h('tr', {}, ['Kind', 'Clips', 'Duration', 'Speakers'].map((t) => h('th', { text: t }))),
      Object.entries(project.counts).map(([label, c]) => h('tr', { 'data-label': label },
        h('td', { text: LABEL_NAMES[label] }), h('td', { class: 'count', text: c.count }),
        h('td', { text: `${Math.round(c.duration_s || 0)} s` }), h('td', { text: c.speakers })))),
    targetsTable(project.targets || []));
}

function targetAmount(t, value) {
  return t.unit === 'hours' ? `${Number(value).toFixed(1)} h` : `${Math.round(value)}`;
}

export function haveOf(project, kind) {
  const target = project.targets.find((t) => t.kind === kind);
  return targetAmount(target, target.have);
}

function targetsTable(targets) {
  return h('table', { class: 'counts', id: 'targets' },
    h('tr', {}, ['Toward a good model', 'Have', 'Minimum', 'Recommended', ''].map((t) => h('th', { text: t }))),
    targets.map((t) => h('tr', { class: t.status, 'data-kind': t.kind, title: t.why },
      h('td', {}, t.name, h('small', { class: 'muted', text: ` ${t.unit === 'hours' ? 'hours of audio' : 'clips'}` })),
      h('td', { class: 'have', text: targetAmount(t, t.have) + (t.pack_hours ? ` (${t.pack_hours.toFixed(1)} h from speech packs)` : '') }),
      h('td', { text: targetAmount(t, t.minimum) }), h('td', { text: targetAmount(t, t.recommended) }),
      h('td', {}, h('meter', { min: 0, max: t.recommended, low: t.minimum, optimum: t.recommended, value: t.have })))));
}
