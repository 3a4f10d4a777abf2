// Speech packs: recordings of real people talking, fetched once and used as negatives in every
// training; voice packs: piper voices that speak in every Generate job. Each shows its size and
// licence; a fetch asks once, then reports live progress.
import { api } from './api.js';
import { errorBox, h, showError } from './dom.js';

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'kB', 'MB', 'GB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${value} B`;
}

// The line a training page shows when no pack is installed (null when one is).
export async function packsNotice() {
  try {
    const listing = await api('api/packs');
    if (!listing.notice) return null;
    return h('p', { class: 'notice', id: 'packs-missing' }, `${listing.notice} `,
      h('a', { href: '#/', text: 'Fetch a speech pack on the start page.' }));
  } catch (err) {
    return null;
  }
}

// The line the Generate tab shows: which voice packs speak, or how to get one.
export async function voicesNotice() {
  try {
    const listing = await api('api/packs');
    if (listing.voice_packs.length) return h('p', { class: 'muted', id: 'voices-installed', text: listing.voices_notice });
    return h('p', { class: 'notice', id: 'voices-missing' }, `${listing.voices_notice} `,
      h('a', { href: '#/', text: 'Fetch a voice pack under Speech packs on the start page.' }));
  } catch (err) {
    return null;
  }
}

export function packsSection() {
  const notice = h('p', { class: 'notice', id: 'packs-notice', hidden: true });
  const list = h('div', { id: 'packs-list' }, 'Loading…');
  const error = errorBox('packs-error');
  const card = h('div', { class: 'card', id: 'packs' }, h('h2', { text: 'Speech packs' }),
    h('p', { class: 'muted', text: 'Real people talking, used as “other speech” in every training: what teaches a model to stay quiet around conversation. Voice packs are piper voices with hundreds of speakers that say your wake word in Generate. Each pack is downloaded once into the add-on’s data folder.' }),
    notice, list, error);
  const bars = new Map(); // pack id -> its progress cell while a fetch runs

  async function run(work) {
    showError(error, null);
    try { await work(); } catch (err) { showError(error, err); }
  }

  function fetchButton(pack) {
    const resume = pack.partial_bytes > 0;
    return h('button', { class: 'small', 'data-fetch': pack.id, onclick: () => run(async () => {
      const left = bytes(pack.size_bytes - pack.partial_bytes);
      const question = `Download “${pack.title}”: ${left}${resume ? ' left' : ''}, licence ${pack.licence}.\n\n${pack.attribution}`;
      if (!confirm(question)) return;
      await api(`api/packs/${pack.id}/fetch`, { method: 'POST', json: { confirm: true } });
      await load();
    }) }, resume ? `Resume (${bytes(pack.partial_bytes)} here)` : 'Fetch');
  }

  function status(pack) {
    if (pack.installed) {
      const what = pack.role === 'voices' ? 'voice model(s), used by Generate' : 'files';
      return h('td', { class: 'installed' }, `Installed: ${pack.installed.audio_files} ${what} `,
        h('button', { class: 'small danger', onclick: () => run(async () => {
          if (!confirm(`Remove ${pack.title} (${bytes(pack.installed.audio_bytes)})?`)) return;
          await api(`api/packs/${pack.id}?confirm=${encodeURIComponent(pack.id)}`, { method: 'DELETE' });
          await load();
        }) }, 'Remove'));
    }
    const fetch = pack.fetch;
    if (fetch && fetch.state === 'running') {
      const cell = h('td', { class: 'fetching' });
      bars.set(pack.id, cell);
      showProgress(cell, fetch);
      return cell;
    }
    const failed = fetch && fetch.state !== 'succeeded' ? h('div', { class: 'error', text: fetch.error }) : null;
    return h('td', {}, fetchButton(pack), failed);
  }

  function showProgress(cell, fetch) {
    const rate = fetch.rate_bytes_per_s ? `, ${bytes(fetch.rate_bytes_per_s)}/s` : '';
    cell.replaceChildren(h('progress', { max: 1, value: fetch.fraction }),
      h('small', { text: `${fetch.stage}: ${bytes(fetch.done)} of ${bytes(fetch.total)}${rate} ` }),
      h('button', { class: 'small danger', onclick: () => run(async () => {
        await api(`api/packs/${fetch.pack}/cancel`, { method: 'POST' });
        await load();
      }) }, 'Cancel'));
  }

  function row(pack) {
    const licence = pack.licence_url ? h('a', { href: pack.licence_url, target: '_blank', rel: 'noopener', text: pack.licence }) : pack.licence;
    return h('tr', { 'data-pack': pack.id },
      h('td', {}, h('strong', { text: pack.title || pack.id }), h('div', { class: 'muted', text: pack.description || '' })),
      h('td', { text: pack.size_bytes ? bytes(pack.size_bytes) : '–' },
        pack.hours ? h('div', { class: 'muted', text: `${pack.hours} h of speech` }) : null,
        pack.role === 'voices' ? h('div', { class: 'muted', text: 'voices for Generate' }) : null),
      h('td', {}, licence || '–', pack.attribution
        ? h('details', {}, h('summary', { text: 'attribution' }), h('small', { text: pack.attribution })) : null),
      status(pack));
  }

  async function load() {
    const listing = await api('api/packs');
    const message = listing.catalog_error || listing.notice;
    notice.hidden = !message;
    notice.textContent = message || '';
    bars.clear();
    list.replaceChildren(listing.packs.length ? h('table', { class: 'list' },
      h('tr', {}, ['Pack', 'Download', 'Licence', ''].map((t) => h('th', { text: t }))),
      listing.packs.map(row)) : h('p', { text: 'No packs are offered right now.' }));
  }

  function onMessage(message) {
    if (message.type !== 'pack') return;
    const fetch = message.fetch;
    const cell = bars.get(fetch.pack);
    if (fetch.state === 'running' && cell) showProgress(cell, fetch);
    else load().catch((err) => showError(error, err));
  }

  load().catch((err) => showError(error, err));
  return { card, onMessage };
}
