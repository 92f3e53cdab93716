// A small Gantt chart in SVG: one bar per step, per region's replication and per scale set's batch.
import { h } from 'preact';
import htm from 'htm';

const html = htm.bind(h);
const ROW = 22;
const LABEL = 190;
const WIDTH = 900;

const COLORS = {
  Succeeded: '#2e7d32', Completed: '#2e7d32', Running: '#1565c0', Replicating: '#1565c0', Updating: '#1565c0',
  Failed: '#c62828', RolledBack: '#ef6c00', Canceled: '#757575', Skipped: '#bdbdbd', Pending: '#90a4ae', Queued: '#90a4ae',
  // A step whose scripts were not run: never the colour of a success.
  Simulated: '#f9a825',
};

const time = (iso) => (iso ? Date.parse(iso) : undefined);

/** The rows the chart shows, from the run's steps and its progress slices (times in ms; `end` undefined = still going). */
export function timelineRows(timeline) {
  const rows = [];
  for (const step of timeline.steps) {
    if (!step.startedAt) continue;
    rows.push({ group: 'step', label: step.name, status: step.status, start: time(step.startedAt), end: time(step.endedAt) });
  }
  for (const slice of timeline.slices) {
    if (!slice.startedAt) continue;
    if (slice.kind === 'region') {
      rows.push({ group: 'region', label: `replicate ${slice.region} ${slice.percent}%`, status: slice.state, start: time(slice.startedAt), end: time(slice.endedAt) });
      continue;
    }
    const name = slice.scaleSetId.split('/').at(-1);
    let start = time(slice.startedAt);
    (slice.batchEndedAt ?? []).forEach((endedAt, i) => {
      rows.push({ group: 'batch', label: `${name} batch ${i + 1}/${slice.batches}`, status: 'Succeeded', start, end: time(endedAt) });
      start = time(endedAt);
    });
    const done = slice.batchEndedAt?.length ?? 0;
    if (done < slice.batches && !slice.endedAt) {
      rows.push({ group: 'batch', label: `${name} batch ${done + 1}/${slice.batches}`, status: 'Updating', start, end: undefined });
    } else if (slice.endedAt && slice.status !== 'Succeeded') {
      rows.push({ group: 'batch', label: `${name} ${slice.status}`, status: slice.status, start, end: time(slice.endedAt) });
    }
  }
  return rows;
}

function seconds(ms) {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export function Gantt({ timeline, now }) {
  const rows = timelineRows(timeline);
  if (rows.length === 0) return html`<p class="muted">No step has started yet.</p>`;
  const t0 = Math.min(time(timeline.createdAt), ...rows.map((r) => r.start));
  const t1 = Math.max(time(timeline.endedAt) ?? now, ...rows.map((r) => r.end ?? now));
  const span = Math.max(t1 - t0, 1);
  const x = (t) => LABEL + ((t - t0) / span) * (WIDTH - LABEL - 10);
  const height = rows.length * ROW + 24;
  return html`<svg class="gantt" data-testid="gantt" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="timeline">
    ${rows.map((row, i) => {
      const end = row.end ?? now;
      const y = i * ROW + 4;
      return html`<g class="bar ${row.group}" data-row=${row.label} data-status=${row.status}>
        <text x="4" y=${y + 14} font-size="12">${row.label}</text>
        <rect x=${x(row.start)} y=${y} width=${Math.max(x(end) - x(row.start), 2)} height=${ROW - 6} rx="3" fill=${COLORS[row.status] ?? '#607d8b'}>
          <title>${row.label}: ${row.status}, ${seconds(end - row.start)}${row.end ? '' : ' so far'}</title>
        </rect>
      </g>`;
    })}
    <text x=${LABEL} y=${height - 4} font-size="11" fill="#666">0 s</text>
    <text x=${WIDTH - 10} y=${height - 4} font-size="11" fill="#666" text-anchor="end">${seconds(span)}</text>
  </svg>`;
}
