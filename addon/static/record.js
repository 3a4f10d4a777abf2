// The recording tab: microphone permission, level meter, prompted takes, re-take; or the room.
import { api } from './api.js';
import { FLAG_TEXT, LABEL_NAMES, field, h, seconds, select, toast } from './dom.js';
import { Recorder, recordingProblem } from './recorder.js';
import { roomCard } from './room.js';

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

export function recordTab(ctx) {
  const problem = recordingProblem();
  if (problem) { ctx.body.append(insecureNotice(problem)); return null; }
  const user = (ctx.info && ctx.info.user) || {};
  const speaker = h('input', { id: 'speaker', value: user.display_name || user.name || '', placeholder: 'your name', required: true });
  const label = select('rec-label', Object.entries(LABEL_NAMES).slice(0, 4), 'positive');
  // Takes count toward the targets the service serves (addon/targets.py): per person, and in all.
  const recorded = ctx.project.targets.find((t) => t.kind === 'recorded');
  const perPerson = recorded.per_person;
  const count = h('input', { id: 'rec-count', type: 'number', min: 1, max: 500, value: perPerson, size: 4 });
  const goal = h('p', { id: 'rec-target', class: 'muted',
    text: `${recorded.name}: ${recorded.have} so far; ${recorded.recommended} recommended (${recorded.why}).` });
  const length = h('input', { id: 'rec-seconds', type: 'number', min: 1, max: 10, step: 0.5, value: 2.5, size: 4 });
  const meter = h('div', { class: 'meter', id: 'meter' }, h('div', { class: 'bar' }));
  const prompt = h('div', { class: 'prompt', id: 'prompt', text: 'Allow the microphone to start.' });
  const micButton = h('button', { id: 'mic-start' }, 'Allow microphone');
  const recordButton = h('button', { id: 'record', disabled: true }, 'Record');
  const takes = h('ul', { id: 'takes', class: 'takes' });
  const takesCard = h('div', { class: 'card', id: 'prompted' },
    h('p', { text: 'Each take records a few seconds; say the wake word once when asked. Silence is trimmed for you.' }),
    goal,
    h('div', { class: 'row' }, field('Speaker', speaker), field('Kind', label), field('Takes', count), field('Seconds per take', length)),
    h('div', { class: 'row' }, micButton, meter), prompt, recordButton);

  const recorder = new Recorder();
  let done = 0;
  let frame = 0;
  const lockModes = (busy) => { modes.forEach((b) => { b.disabled = busy; }); };
  const room = roomCard(ctx, { recorder, openMic, onBusy: lockModes });
  const modes = [['prompted', 'Prompted takes'], ['room', 'Record the room']].map(([mode, text]) =>
    h('button', { id: `mode-${mode}`, class: 'small mode', onclick: () => show(mode) }, text));
  function show(mode) {
    takesCard.hidden = mode !== 'prompted';
    takes.hidden = mode !== 'prompted';
    room.card.hidden = mode !== 'room';
    modes.forEach((b) => b.classList.toggle('active', b.id === `mode-${mode}`));
  }
  ctx.body.append(h('div', { class: 'row modes' }, modes), takesCard, takes, room.card);
  show('prompted');
  const phrase = ctx.project.phrase;
  const target = () => Number(count.value) || perPerson;
  const nextText = () => (done >= target() ? `Done: ${done} takes. Record more, or train.` : `Record ${done + 1}/${target()}`);

  function drawLevel() {
    const db = recorder.level();
    for (const bar of ctx.body.querySelectorAll('.meter .bar')) {
      bar.style.width = `${Math.max(0, Math.min(100, (db + 60) * (100 / 60)))}%`;
      bar.className = db > -3 ? 'bar hot' : 'bar';
    }
    frame = requestAnimationFrame(drawLevel);
  }

  // Opens the microphone once for both modes; false (and says why) when the browser refuses.
  async function openMic() {
    if (recorder.isOpen) return true;
    try {
      await recorder.open();
    } catch (err) {
      const why = `The microphone could not be opened: ${err.message}. Check the browser's permission for this page.`;
      prompt.textContent = why;
      toast(why, true);
      return false;
    }
    micButton.disabled = true;
    recordButton.disabled = false;
    recordButton.textContent = nextText();
    prompt.textContent = 'Ready. Press Record, wait for “say it now”, then speak.';
    drawLevel();
    return true;
  }

  micButton.addEventListener('click', openMic);

  async function takeOne(replace) {
    if (!speaker.value.trim()) { toast('Give the speaker’s name first: recordings are grouped by speaker.', true); return; }
    recordButton.disabled = true;
    lockModes(true);
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
      const problems = sample.flags;
      const warn = problems.length ? ` (${problems.map((f) => FLAG_TEXT[f] || f).join(', ')}: re-take?)` : '';
      prompt.textContent = `Saved ${seconds(sample.duration_s)}${warn}.`;
    } catch (err) {
      prompt.textContent = `Not saved: ${err.message}`;
    }
    recordButton.textContent = nextText();
    recordButton.disabled = false;
    lockModes(false);
  }

  function takeItem(sample) {
    const item = h('li', { 'data-id': sample.id },
      h('span', { text: `#${sample.id} · ${seconds(sample.duration_s)} ` }),
      sample.flags.map((f) => h('span', { class: `badge ${f}`, text: FLAG_TEXT[f] || f })),
      h('button', { class: 'small', onclick: () => new Audio(`api/projects/${ctx.slug}/samples/${sample.id}/audio`).play() }, '▶ Play'),
      h('button', { class: 'small retake', onclick: async () => {
        await api(`api/projects/${ctx.slug}/samples/${sample.id}?confirm=${sample.id}`, { method: 'DELETE' });
        takeOne(item);
      } }, 'Re-take'));
    return item;
  }

  recordButton.addEventListener('click', () => takeOne(null));
  return () => { room.stop(); cancelAnimationFrame(frame); recorder.close(); };
}

