// The Samples tab: what the wake word has against its targets, and the sample list, a page at a
// time from the service (search, kind / source / warning filters), with play, delete, and bulk
// delete of the ticked rows or of everything the filters match: one confirmation naming the
// count, then an Undo for the latest delete.
import { api } from './api.js';
import { FLAG_TEXT, LABEL_NAMES, h, seconds, select, toast } from './dom.js';
import { countsTable } from './counts.js';

const PAGE = 50;
const SOURCES = ['browser', 'upload', 'synthetic', 'satellite', 'import', 'room', 'recorded'];
const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? '' : 's'}`;

export function samplesTab(ctx) {
  const search = h('input', { id: 'sample-search', type: 'search', placeholder: 'File, speaker, source or kind', autocomplete: 'off' });
  const kind = select('label-filter', [['', 'All kinds'], ...Object.entries(LABEL_NAMES)], '');
  const source = select('source-filter', [['', 'All sources'], ...SOURCES.map((s) => [s, s])], '');
  const flag = select('flag-filter', [['', 'Any warnings or none'], ['any', 'With a warning'], ...Object.entries(FLAG_TEXT)], '');
  const pickPage = h('input', { id: 'pick-page', type: 'checkbox', title: 'Tick every row on this page' });
  const picked = h('span', { id: 'picked', class: 'muted' });
  const pickAll = h('button', { id: 'pick-all', class: 'link', hidden: true });
  const remove = h('button', { id: 'delete-picked', class: 'danger small', disabled: true }, 'Delete selected');
  const undoBox = h('div', { id: 'undo-box', class: 'notice-bar', hidden: true });
  const table = h('table', { id: 'samples', class: 'list samples' });
  const pager = h('div', { id: 'pager', class: 'pager' });
  const counts = h('div');
  ctx.body.append(counts,
    h('div', { class: 'sample-tools' }, search, kind, source, flag),
    h('div', { id: 'sample-bulk', class: 'bulk' }, h('label', { class: 'pick' }, pickPage, ' All on this page'), picked, pickAll, remove),
    undoBox, table, pager);

  const state = { offset: 0, total: 0, rows: [], chosen: new Set(), allMatching: false };
  let player = null;
  let loading = 0;

  const filter = () => ({ label: kind.value, source: source.value, flag: flag.value, q: search.value.trim() });
  const query = (extra) => new URLSearchParams(Object.entries({ ...filter(), ...extra }).filter(([, v]) => v !== '')).toString();

  async function loadCounts() {
    const project = await api(`api/projects/${ctx.slug}`);
    counts.replaceChildren(countsTable(project));
  }

  async function load() {
    const ticket = ++loading; // answers to older requests (typing fast) are dropped
    const page = await api(`api/projects/${ctx.slug}/samples?${query({ offset: state.offset, limit: PAGE })}`);
    if (ticket !== loading) return;
    if (!page.samples.length && state.offset > 0 && page.total > 0) { // the last page emptied
      state.offset = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE);
      load();
      return;
    }
    state.total = page.total;
    state.rows = page.samples;
    drawRows();
    drawPager();
    drawBulk();
  }

  function drawRows() {
    const head = h('tr', { class: 'head' }, h('th', {}), ['#', 'Kind', 'Speaker', 'Source', 'Length', 'Warnings', 'File', ''].map((t) => h('th', { text: t })));
    table.replaceChildren(head, ...state.rows.map(row));
    if (!state.rows.length) {
      const filtered = Object.values(filter()).some(Boolean);
      table.append(h('tr', { class: 'empty' }, h('td', { colspan: 9, text: filtered ? 'No sample matches: change the search or the filters.' : 'No samples yet: record, upload or generate some.' })));
    }
  }

  function row(s) {
    const tick = h('input', { type: 'checkbox', class: 'pick-row', checked: state.allMatching || state.chosen.has(s.id), 'aria-label': `Select sample ${s.id}` });
    tick.addEventListener('change', () => {
      if (state.allMatching) { // unticking one row leaves the ticked page, no longer "all"
        state.allMatching = false;
        state.rows.forEach((r) => state.chosen.add(r.id));
      }
      if (tick.checked) state.chosen.add(s.id); else state.chosen.delete(s.id);
      drawBulk();
    });
    const name = s.path.split('/').pop();
    return h('tr', { 'data-id': s.id, class: 'sample' },
      h('td', { class: 'pick' }, tick), h('td', { class: 'id', text: s.id }), h('td', { class: 'kind', text: LABEL_NAMES[s.label] }),
      h('td', { class: 'speaker', text: s.speaker }), h('td', { class: 'source', text: s.source }),
      h('td', { class: 'duration', text: seconds(s.duration_s) }),
      h('td', { class: 'flags' }, s.flags.map((f) => h('span', { class: `badge ${f}`, text: FLAG_TEXT[f] || f }))),
      h('td', { class: 'name', title: s.path, text: name }),
      h('td', { class: 'actions' },
        h('button', { class: 'play small', title: `Play ${name}`, onclick: () => {
          if (player) player.pause();
          player = new Audio(`api/projects/${ctx.slug}/samples/${s.id}/audio`);
          player.play();
        } }, '▶'),
        h('button', { class: 'delete small danger', onclick: () => removeSamples({ ids: [s.id] }, 1, `sample ${s.id} (${name})`) }, 'Delete')));
  }

  function drawPager() {
    const last = state.offset + state.rows.length;
    const go = (offset) => { state.offset = offset; load().catch(failed); };
    pager.replaceChildren(
      h('button', { id: 'page-prev', class: 'small', disabled: state.offset === 0, onclick: () => go(Math.max(0, state.offset - PAGE)) }, '‹ Newer'),
      h('span', { id: 'page-info', text: state.total ? `${(state.offset + 1).toLocaleString()}–${last.toLocaleString()} of ${plural(state.total, 'sample')}` : '0 samples' }),
      h('button', { id: 'page-next', class: 'small', disabled: last >= state.total, onclick: () => go(state.offset + PAGE) }, 'Older ›'));
  }

  function chosenCount() { return state.allMatching ? state.total : state.chosen.size; }

  function drawBulk() {
    const n = chosenCount();
    const onPage = state.rows.filter((r) => state.allMatching || state.chosen.has(r.id)).length;
    pickPage.checked = state.rows.length > 0 && onPage === state.rows.length;
    pickPage.indeterminate = onPage > 0 && onPage < state.rows.length;
    picked.textContent = n ? `${plural(n, 'sample')} selected` : '';
    remove.disabled = n === 0;
    remove.textContent = n ? `Delete ${plural(n, 'sample')}` : 'Delete selected';
    const wholePage = pickPage.checked && !state.allMatching && state.total > state.rows.length;
    pickAll.hidden = !(wholePage || state.allMatching);
    pickAll.textContent = state.allMatching ? 'Clear the selection' : `Select all ${plural(state.total, 'sample')} that match`;
  }

  pickPage.addEventListener('change', () => {
    state.allMatching = false;
    state.rows.forEach((r) => (pickPage.checked ? state.chosen.add(r.id) : state.chosen.delete(r.id)));
    table.querySelectorAll('.pick-row').forEach((box) => { box.checked = pickPage.checked; });
    drawBulk();
  });
  pickAll.addEventListener('click', () => {
    state.allMatching = !state.allMatching;
    if (!state.allMatching) state.chosen.clear();
    table.querySelectorAll('.pick-row').forEach((box) => { box.checked = state.allMatching; });
    drawBulk();
  });
  remove.addEventListener('click', () => {
    const n = chosenCount();
    const what = state.allMatching ? { filter: filter() } : { ids: [...state.chosen] };
    const described = state.allMatching && Object.values(filter()).some(Boolean) ? `${plural(n, 'sample')} that match the search and filters` : plural(n, 'sample');
    removeSamples(what, n, described);
  });

  async function removeSamples(what, n, described) {
    if (!confirm(`Delete ${described}? Their audio is removed; you can undo this delete until the next one.`)) return;
    try {
      const done = await api(`api/projects/${ctx.slug}/samples/delete`, { method: 'POST', json: { ...what, confirm: n } });
      state.chosen.clear();
      state.allMatching = false;
      showUndo(done);
    } catch (err) { toast(err.message, true); }
    refresh();
  }

  function showUndo(done) {
    if (!done.deleted) { undoBox.hidden = true; return; }
    const undo = h('button', { id: 'undo-delete', class: 'small' }, 'Undo');
    undo.addEventListener('click', async () => {
      undo.disabled = true;
      try {
        const { restored } = await api(`api/projects/${ctx.slug}/samples/undo`, { method: 'POST', json: { undo: done.undo } });
        undoBox.replaceChildren(h('span', { id: 'undo-text', text: `${plural(restored, 'sample')} put back.` }));
      } catch (err) { undoBox.replaceChildren(h('span', { id: 'undo-text', class: 'error', text: err.message })); }
      refresh();
    });
    undoBox.replaceChildren(h('span', { id: 'undo-text', text: `Deleted ${plural(done.deleted, 'sample')}.` }), undo);
    undoBox.hidden = false;
  }

  const failed = (err) => toast(err.message, true);
  const refresh = () => { loadCounts().catch(failed); load().catch(failed); };
  const restart = () => { state.offset = 0; state.chosen.clear(); state.allMatching = false; load().catch(failed); };
  let typing = null;
  search.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(restart, 250); });
  [kind, source, flag].forEach((el) => el.addEventListener('change', restart));
  ctx.listeners.push((m) => { if (m.type === 'samples' && m.project === ctx.slug) refresh(); });
  refresh();
  return () => { clearTimeout(typing); if (player) player.pause(); };
}
