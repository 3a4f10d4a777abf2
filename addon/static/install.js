// "Install on device": put a trained model into an ESPHome device's YAML, then compile and flash.
// Pick a device, preview the diff, install (checked by `esphome config`), undo, or start a flash
// job whose page shows ESPHome's log live.
import { api } from './api.js';
import { errorBox, h, showError, when } from './dom.js';


export function installSection(job) {
  const devices = h('div', { id: 'install-devices' }, 'Looking for ESPHome devices…');
  const planBox = h('div', { id: 'install-plan', hidden: true });
  const doneBox = h('div', { id: 'install-done', hidden: true });
  const error = errorBox('install-error');
  const card = h('div', { class: 'card', id: 'install' }, h('h2', { text: 'Install on device' }),
    h('p', { class: 'muted', text: 'Adds this model to an ESPHome device: its files go to wake_words/ in the ESPHome folder and one entry under packages: in the device’s YAML. Nothing changes before you have seen the preview.' }),
    devices, planBox, doneBox, error);
  const post = (path, json) => api(path, { method: 'POST', json });
  let listing = { devices: [] };
  let picker = null;
  const device = () => listing.devices.find((d) => d.yaml_file === picker.value);

  async function run(button, work) {
    button.disabled = true;
    showError(error, null);
    try {
      await work();
    } catch (err) { // no stale plan or result beside the new error
      planBox.hidden = true;
      doneBox.hidden = true;
      showError(error, err);
    }
    button.disabled = false;
  }

  const preview = h('button', { id: 'install-preview', onclick: () => run(preview, async () => {
    doneBox.hidden = true;
    showPlan(await post(`api/jobs/${job.id}/esphome/plan`, { device: picker.value }));
  }) }, 'Preview changes');
  const undo = h('button', { id: 'install-undo', class: 'danger', hidden: true, onclick: () => run(undo, async () => {
    const undone = await post(`api/esphome/devices/${encodeURIComponent(picker.value)}/undo`);
    planBox.hidden = true;
    planBox.replaceChildren();
    doneBox.replaceChildren(h('p', { id: 'install-undone', text: `Undone: ${undone.yaml_file} is back as it was`
      + `${undone.method === 'restored' ? ', byte for byte' : ' (the entry was removed: the file had been edited since)'}.`
      + `${undone.removed_folder ? ` ${undone.removed_folder}/ was removed: no device uses it any more.` : ''}` }),
    diffView(undone.diff));
    doneBox.hidden = false;
    await load();
  }) }, 'Undo last install');

  function showPlan(plan) {
    const apply = h('button', { id: 'install-apply', onclick: () => run(apply, async () => {
      showDone(await post(`api/jobs/${job.id}/esphome/deploy`, { device: picker.value, confirm: true }));
      await load();
    }) }, 'Install');
    planBox.replaceChildren(h('h3', { text: `Changes to ${plan.yaml_file} and ${plan.folder}/` }),
      warnings(plan.warnings), diffView(plan.diff),
      plan.changed ? apply : h('p', { text: 'This model is already installed on the device: nothing to change.' }));
    planBox.hidden = false;
  }

  function showDone(result) {
    planBox.hidden = true;
    planBox.replaceChildren();
    const flash = h('button', { id: 'install-flash', onclick: () => run(flash, async () => {
      const started = await post(`api/jobs/${job.id}/esphome/flash`, { device: result.yaml_file });
      location.hash = `#/job/${started.id}`;
    }) }, 'Compile & flash');
    const facts = result.changed
      ? `Installed ${result.model_id} on ${result.device}${result.validated ? '; ESPHome checked the configuration: valid' : ''}.`
      : `${result.device} already had this model: nothing changed.`;
    doneBox.replaceChildren(h('p', { id: 'install-result', text: facts }), warnings(result.warnings),
      h('p', { class: 'muted', text: 'The device runs the model once its firmware is compiled and flashed over the air. The first compile downloads the ESP32 toolchain (about 1 GB); later ones reuse it.' }),
      flash);
    doneBox.hidden = false;
  }

  function showUndo() {
    const last = device() && device().last_install;
    undo.hidden = !last;
    if (last) undo.textContent = `Undo last install (${last.model_id || 'a model'}, ${when(last.at)})`;
  }

  async function load() {
    try {
      listing = await api('api/esphome/devices');
    } catch (err) { // the message says how to choose the folder, add-on or standalone
      devices.replaceChildren(h('p', { class: 'notice', id: 'install-unavailable', text: err.message }));
      return;
    }
    if (!listing.devices.some((d) => !d.error)) {
      devices.replaceChildren(h('p', { class: 'notice', id: 'install-unavailable',
        text: `No ESP32 device configurations in ${listing.esphome_dir}.` }), skipped(listing.skipped),
      h('p', { class: 'muted', text: `To use another folder, ${listing.folder_help}.` }));
      return;
    }
    const rank = (d) => (d.error ? 2 : d.micro_wake_word ? 0 : 1); // ready devices first
    listing.devices.sort((a, b) => rank(a) - rank(b));
    const chosen = picker ? picker.value : listing.devices[0].yaml_file;
    picker = h('select', { id: 'install-device' }, listing.devices.map((d) => h('option',
      { value: d.yaml_file, disabled: Boolean(d.error), selected: d.yaml_file === chosen }, `${d.friendly_name || d.name} (${d.yaml_file})${describe(d)}`)));
    picker.addEventListener('change', () => { planBox.hidden = true; doneBox.hidden = true; showUndo(); });
    devices.replaceChildren(h('div', { class: 'row' }, h('label', { class: 'field' }, h('span', { text: 'Device' }), picker), preview, undo),
      skipped(listing.skipped));
    showUndo();
  }
  load();
  return card;
}

// Configurations that are not ESP32 devices: said, so that none goes missing unexplained.
function skipped(list) {
  if (!list || !list.length) return null;
  return h('p', { class: 'muted', id: 'install-skipped', text: `Not listed (micro_wake_word runs only on an ESP32): ${list.join('; ')}.` });
}

function describe(d) {
  if (d.error) return ` — unreadable: ${d.error}`;
  if (!d.micro_wake_word) return ' — no micro_wake_word';
  return ` — micro_wake_word: ${d.wake_words.join(', ') || 'yes'}`;
}

function warnings(list) {
  if (!list || !list.length) return null;
  return h('ul', { class: 'warnings' }, list.map((w) => h('li', { text: w })));
}

// A unified diff, + and - lines coloured.
export function diffView(text) {
  return h('pre', { class: 'diff' }, (text || '').split('\n').map((line) => {
    let kind = '';
    if (line.startsWith('+++') || line.startsWith('---')) kind = 'file';
    else if (line.startsWith('+')) kind = 'add';
    else if (line.startsWith('-')) kind = 'del';
    else if (line.startsWith('@@')) kind = 'hunk';
    return h('span', { class: kind }, `${line}\n`);
  }));
}
