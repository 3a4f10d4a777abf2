// Group by speaker: the wake words and sound-alikes uploaded without a speaker, grouped by voice
// in a worker; a preview of each group with a few clips to play and a name to give it; Apply
// (their speaker in the library and their folder, which training splits by) and Undo.
import { api } from './api.js';
import { h, toast } from './dom.js';

const RUNNING = ['queued', 'running'];
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function speakersSection(ctx) {
  const box = h('div', { id: 'speakers', class: 'card', hidden: true });
  ctx.body.append(box);
  let status = null;

  async function load() {
    status = await api(`api/projects/${ctx.slug}/speakers`);
    draw();
  }

  function draw() {
    const { unlabelled, job, undo } = status;
    const running = job && RUNNING.includes(job.state);
    box.hidden = !unlabelled && !undo && !running;
    const parts = [h('h2', { text: 'Group by speaker' })];
    if (unlabelled || running) {
      parts.push(h('p', { id: 'speakers-unlabelled', text: `${plural(unlabelled, 'take')} (wake words and sound-alikes) came without a speaker. Grouping them by voice keeps each person in one of training's splits, so the figures you see are honest.` }));
    }
    if (running) {
      parts.push(h('p', { id: 'speakers-running' }, 'Listening to the takes… ', h('a', { href: `#/job/${job.id}`, text: `job #${job.id}` })));
    } else if (unlabelled) {
      parts.push(startForm());
      if (job && job.state === 'failed') parts.push(h('p', { class: 'error', text: `The last grouping failed: ${job.error}` }));
      if (job && job.state === 'succeeded') parts.push(preview(job));
    }
    if (undo) {
      parts.push(h('div', { id: 'speakers-undo-box', class: 'notice-bar' },
        h('span', { text: `${plural(undo.moved, 'take')} were given speakers by grouping. ` }),
        h('button', { id: 'speakers-undo', class: 'small', onclick: undoGroups }, 'Undo')));
    }
    box.replaceChildren(...parts);
  }

  function startForm() {
    const count = h('input', { id: 'group-count', type: 'number', min: 1, max: 50, inputmode: 'numeric', placeholder: 'suggested' });
    const start = h('button', { id: 'group-start' }, 'Group by speaker');
    start.addEventListener('click', async () => {
      const n = count.value.trim() ? Number(count.value) : null;
      try {
        await api(`api/projects/${ctx.slug}/speakers/group`, { method: 'POST', json: { n_clusters: n } });
        await load();
      } catch (err) { toast(err.message, true); }
    });
    return h('div', { class: 'group-start' },
      h('label', {}, 'How many people recorded them ', count),
      h('span', { class: 'muted', text: ' (leave empty to use the suggested count) ' }), start);
  }

  function preview(job) {
    const r = job.result;
    const names = r.groups.map((_, i) => h('input', { class: 'group-name', 'data-group': i, placeholder: 'Name (optional)', autocomplete: 'off' }));
    const groups = r.groups.map((g, i) => h('div', { class: 'group', 'data-group': i },
      h('h3', { text: `Voice ${i + 1}: ${plural(g.sample_ids.length, 'take')}` }), names[i],
      h('div', { class: 'group-clips' }, g.preview.map((id) => h('audio', {
        controls: true, preload: 'none', 'data-sample': id, src: `api/projects/${ctx.slug}/samples/${id}/audio`,
      })))));
    const apply = h('button', { id: 'group-apply' }, `Apply: give these ${plural(r.takes, 'take')} their speakers`);
    apply.addEventListener('click', async () => {
      try {
        const done = await api(`api/projects/${ctx.slug}/speakers/apply`, { method: 'POST', json: { job: job.id, names: names.map((n) => n.value.trim()) } });
        toast(`${plural(done.moved, 'take')} now have a speaker: ${done.speakers.join(', ')}`);
        await load();
      } catch (err) { toast(err.message, true); }
    });
    const count = r.by_count ? `the ${r.n_clusters} you asked for (suggested: ${r.suggested})` : `the suggested count, ${r.n_clusters}`;
    return h('div', { id: 'speaker-groups' },
      h('p', { id: 'speakers-summary', text: `${plural(r.takes, 'take')} in ${count} groups. Listen to a few clips of each: one voice per group? Then name them and apply, or group again with another count.` }),
      r.unreadable.length ? h('p', { class: 'muted', text: `Not readable: ${r.unreadable.join('; ')}` }) : null,
      h('div', { class: 'groups' }, groups), apply);
  }

  async function undoGroups() {
    try {
      const done = await api(`api/projects/${ctx.slug}/speakers/undo`, { method: 'POST' });
      toast(`${plural(done.restored, 'take')} back without a speaker`);
      await load();
    } catch (err) { toast(err.message, true); }
  }

  ctx.listeners.push((m) => {
    const ours = m.type === 'job' && m.job.project_slug === ctx.slug && m.job.kind === 'cluster';
    if (ours || (m.type === 'samples' && m.project === ctx.slug)) load().catch(() => {});
  });
  load().catch((err) => toast(err.message, true));
}
