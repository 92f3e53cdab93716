// The dashboard: bakes (live list), a bake's page (timeline, live log, template, errors, actions), templates and schedules.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from 'kiln/api';
import { Gantt } from 'kiln/gantt';

const html = htm.bind(h);
const FINAL = new Set(['Succeeded', 'Failed', 'Canceled']);
const STATUSES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Canceled'];
const TRIGGERS = ['http', 'blob', 'timer', 'cli', 'retry'];
const LIST_REFRESH_MS = 2000;
const RUN_REFRESH_MS = 1000;

let client;

/** Calls `look` now and every `ms` until the component goes away or `look` returns false. */
function usePolling(look, ms, deps) {
  useEffect(() => {
    let stopped = false;
    let timer;
    const tick = async () => {
      let again = true;
      try {
        again = (await look()) !== false;
      } catch (error) {
        console.error(error);
      }
      if (!stopped && again) timer = setTimeout(tick, ms);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function duration(record, now) {
  const end = record.endedAt ? Date.parse(record.endedAt) : now;
  const s = Math.max(0, Math.round((end - Date.parse(record.createdAt)) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const Status = ({ status }) => html`<span class="status ${status}" data-testid="status">${status}</span>`;

function BuildList() {
  const [items, setItems] = useState();
  const [error, setError] = useState();
  const [filter, setFilter] = useState({ text: '', status: '', trigger: '' });
  usePolling(async () => {
    try {
      setItems((await client.builds(filter.status)).items);
      setError(undefined);
    } catch (e) {
      setError(e.message);
    }
  }, LIST_REFRESH_MS, [filter.status]);
  const now = Date.now();
  const text = filter.text.toLowerCase();
  const shown = (items ?? []).filter((r) => (!text || r.id.includes(text) || r.templateName.toLowerCase().includes(text)) && (!filter.trigger || r.trigger === filter.trigger));
  const set = (field) => (event) => setFilter({ ...filter, [field]: event.target.value });
  return html`<section>
    <h2>Bakes</h2>
    <div class="filters">
      <input placeholder="template or run id" value=${filter.text} onInput=${set('text')} data-testid="filter-text" />
      <select value=${filter.status} onChange=${set('status')} data-testid="filter-status"><option value="">any status</option>${STATUSES.map((s) => html`<option>${s}</option>`)}</select>
      <select value=${filter.trigger} onChange=${set('trigger')} data-testid="filter-trigger"><option value="">any trigger</option>${TRIGGERS.map((s) => html`<option>${s}</option>`)}</select>
    </div>
    ${error && html`<p class="error">${error}</p>`}
    ${items === undefined ? html`<p class="muted">Loading…</p>` : html`<table class="runs" data-testid="runs">
      <thead><tr><th>run</th><th>template</th><th>trigger</th><th>status</th><th>version</th><th>started</th><th>duration</th></tr></thead>
      <tbody>${shown.map((r) => html`<tr data-run=${r.id}>
        <td><a href="#/builds/${r.id}">${r.id}</a></td><td>${r.templateName}</td><td>${r.trigger}</td><td><${Status} status=${r.status} /></td>
        <td>${r.outputs?.version ?? '—'}</td><td>${when(r.createdAt)}</td><td>${duration(r, now)}</td></tr>`)}</tbody>
    </table>`}
    ${items && shown.length === 0 ? html`<p class="muted">No bakes match.</p>` : ''}
  </section>`;
}

/** Follows the run's log from a cursor; each step's text is kept apart, in the order the steps first wrote. */
function useLiveLog(id) {
  const [logs, setLogs] = useState([]);
  const cursor = useRef();
  useEffect(() => {
    setLogs([]);
    cursor.current = undefined;
  }, [id]);
  usePolling(async () => {
    const answer = await client.logs(id, cursor.current);
    cursor.current = answer.cursor;
    if (answer.logs.some((l) => l.text !== '')) {
      setLogs((current) => {
        const next = current.map((l) => ({ ...l }));
        for (const { step, text } of answer.logs) {
          const found = next.find((l) => l.step === step);
          if (found) found.text += text;
          else next.push({ step, text });
        }
        return next;
      });
    }
    return !answer.done;
  }, RUN_REFRESH_MS, [id]);
  return logs;
}

function Actions({ run, onError }) {
  const progress = run.progress;
  const gateOpen = progress?.step === 'approve' && typeof progress.waitingFor === 'string' && progress.waitingFor.startsWith('approval');
  const act = (name, work) => async () => {
    try {
      await work();
    } catch (e) {
      onError(`${name}: ${e.message}`);
    }
  };
  return html`<div class="actions">
    ${gateOpen && html`<button data-testid="approve" onClick=${act('approve', () => client.approve(run.id))}>Approve rollout</button>`}
    ${!FINAL.has(run.status) && html`<button data-testid="cancel" onClick=${act('cancel', () => confirm(`Cancel ${run.id}?`) && client.cancel(run.id))}>Cancel</button>`}
    ${(run.status === 'Failed' || run.status === 'Canceled') && run.spec && html`<button data-testid="retry" onClick=${act('retry', async () => {
      location.hash = `#/builds/${(await client.retry(run.id)).id}`;
    })}>Retry from last good step</button>`}
  </div>`;
}

function Errors({ run }) {
  const { error, templateErrors } = run;
  if (!error && !templateErrors?.length) return '';
  return html`<section class="errors" data-testid="errors">
    <h3>Errors</h3>
    ${error && html`<p><b>${error.step}</b> ${error.code}: ${error.message}${error.exitCode !== undefined ? ` (exit code ${error.exitCode})` : ''}</p>
      ${error.lastLines?.length ? html`<pre>${error.lastLines.join('\n')}</pre>` : ''}`}
    ${templateErrors?.length ? html`<ul>${templateErrors.map((e) => html`<li><code>${e.path}</code>: ${e.message}</li>`)}</ul>` : ''}
  </section>`;
}

function BuildPage({ id }) {
  const [run, setRun] = useState();
  const [timeline, setTimeline] = useState();
  const [error, setError] = useState();
  const [now, setNow] = useState(Date.now());
  const logs = useLiveLog(id);
  usePolling(async () => {
    try {
      const [record, times] = await Promise.all([client.build(id), client.timeline(id)]);
      setRun(record);
      setTimeline(times);
      setNow(Date.now());
      return !FINAL.has(record.status);
    } catch (e) {
      setError(e.message);
      return e.status !== 404;
    }
  }, RUN_REFRESH_MS, [id]);
  if (!run) return html`<p class=${error ? 'error' : 'muted'}>${error ?? 'Loading…'}</p>`;
  const progress = run.progress;
  return html`<section data-testid="build" data-status=${run.status}>
    <h2>${run.id} <${Status} status=${run.status} /></h2>
    <p class="muted">template <b>${run.templateName}</b> · trigger ${run.trigger} · started ${when(run.createdAt)} · ${duration(run, now)}
      ${run.outputs?.version ? html` · version <b data-testid="version">${run.outputs.version}</b>` : ''}
      ${run.resumeFrom ? html` · resumes <a href="#/builds/${run.resumeFrom}">${run.resumeFrom}</a>` : ''}</p>
    ${progress?.waitingFor && html`<p class="waiting" data-testid="waiting">Waiting for ${progress.waitingFor}</p>`}
    <${Actions} run=${run} onError=${setError} />
    ${error && html`<p class="error">${error}</p>`}
    <${Errors} run=${run} />
    ${run.simulatedSteps?.length > 0 && html`<div class="waiting" data-testid="simulated"><b>${run.simulatedSteps.length} step(s) simulated, not run</b>
      <ul>${run.simulatedSteps.map((s) => html`<li>${s.step}: ${s.operation} — ${s.reason}</li>`)}</ul></div>`}
    <h3>Timeline</h3>
    ${timeline && html`<${Gantt} timeline=${timeline} now=${now} />`}
    <h3>Log</h3>
    <div class="log" data-testid="log">${logs.length === 0 ? html`<p class="muted">Nothing written yet.</p>` : logs.map((l) => html`<div class="step-log" data-step=${l.step}>
      <div class="step-boundary">${l.step}</div><pre>${l.text}</pre></div>`)}</div>
    ${run.spec && html`<details><summary>Template it ran</summary><pre data-testid="spec">${JSON.stringify(run.spec, null, 2)}</pre></details>`}
  </section>`;
}

function Templates() {
  const [items, setItems] = useState();
  const [shown, setShown] = useState();
  const [error, setError] = useState();
  usePolling(async () => {
    try {
      setItems((await client.schedules()).items);
    } catch (e) {
      setError(e.message);
    }
  }, 10_000, []);
  const show = async (name) => setShown({ name, template: await client.template(name) });
  return html`<section>
    <h2>Templates</h2>
    ${error && html`<p class="error">${error}</p>`}
    ${items === undefined ? html`<p class="muted">Loading…</p>` : html`<table data-testid="templates">
      <thead><tr><th>template</th><th>patch schedule</th><th>next patch rebuild</th><th>on source update</th></tr></thead>
      <tbody>${items.map((t) => html`<tr data-template=${t.name}>
        <td><a href="javascript:void 0" onClick=${() => show(t.name)}>${t.name}</a></td>
        ${t.valid ? html`<td><code>${t.patch ?? '—'}</code></td><td>${when(t.nextPatchRebuild)}</td><td>${t.onSourceUpdate ? 'yes' : 'no'}</td>`
          : html`<td colspan="3" class="error">invalid: ${t.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}</td>`}
      </tr>`)}</tbody></table>`}
    ${shown && html`<h3>${shown.name}</h3><pre>${JSON.stringify(shown.template, null, 2)}</pre>`}
  </section>`;
}

function App({ forget }) {
  const hash = useHash();
  const build = /^#\/builds\/([^/]+)$/.exec(hash);
  return html`<header><h1><a href="#/">Kiln</a></h1><nav><a href="#/">Bakes</a><a href="#/templates">Templates</a></nav>
    <button class="link" onClick=${forget}>Forget key</button></header>
    <main>${build ? html`<${BuildPage} id=${decodeURIComponent(build[1])} />` : hash === '#/templates' ? html`<${Templates} />` : html`<${BuildList} />`}</main>`;
}

export function start(root, key, forget) {
  client = api(key, forget);
  render(html`<${App} forget=${forget} />`, root);
}
