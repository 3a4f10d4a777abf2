// Small DOM helpers and formatting shared by the panel's views.

export const LABEL_NAMES = {
  positive: 'Wake word',
  negative: 'Other speech',
  hard_negative: 'Sound-alikes',
  background: 'Background noise',
  rir: 'Room impulses',
};
export const FLAG_TEXT = {
  clipped: 'clipped', silent: 'silent', too_short: 'too short', too_long: 'too long', low_rate: 'below 16 kHz',
};

export function h(tag, attrs = {}, ...children) {
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

export const $ = (selector, root = document) => root.querySelector(selector);

export function toast(message, isError = false) {
  const el = $('#toast');
  el.textContent = message;
  el.className = `toast show${isError ? ' error' : ''}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = 'toast'; }, isError ? 8000 : 3000);
}

export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { text: label }), input, hint ? h('small', { text: hint }) : null);
}

export function select(id, options, value) {
  return h('select', { id }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

export const seconds = (s) => (s === null || s === undefined ? '–' : `${Number(s).toFixed(2)} s`);
export const when = (t) => (t ? new Date(t * 1000).toLocaleString() : '–');

export function eta(s) {
  if (s === null || s === undefined) return '–';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function errorBox(id) { return h('pre', { id, class: 'error', hidden: true }); }
export function showError(box, error) { box.hidden = !error; box.textContent = error ? error.message || String(error) : ''; }

export function fmt(value) {
  if (typeof value !== 'number') return value === null || value === undefined ? '–' : String(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}
