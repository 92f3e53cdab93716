/**
 * Times of a run's long waits: each saved progress slice is stamped with when its region or scale set started and
 * ended (and each batch ended), so a timeline can be drawn afterwards; and the line each change adds to the run log.
 */

import type { RegionProgress, ScaleSetProgress } from './progress.ts';

type Slice = RegionProgress | ScaleSetProgress;

const REGION_ENDS = new Set(['Completed', 'Failed']);
const SCALE_SET_ENDS = new Set(['Succeeded', 'RolledBack', 'Failed']);

function ended(slice: Slice): boolean {
  return slice.kind === 'region' ? REGION_ENDS.has(slice.state) : SCALE_SET_ENDS.has(slice.status);
}

/** `next` with the times carried over from `previous` (the same slice as last saved) and the changes at `now` added. */
export function stampProgress(previous: Slice | undefined, next: Slice, now: string): Slice {
  const startedAt = previous?.startedAt ?? now;
  const endedAt = previous?.endedAt ?? (ended(next) ? now : undefined);
  const times = { startedAt, ...(endedAt ? { endedAt } : {}) };
  if (next.kind === 'region') return { ...next, ...times };
  const batchEndedAt = [...(previous?.kind === 'scaleSet' ? (previous.batchEndedAt ?? []) : [])];
  // A batch is reported once it is healthy; every batch up to the reported one has ended by now.
  while (batchEndedAt.length < next.batch) batchEndedAt.push(now);
  return { ...next, ...times, batchEndedAt };
}

/** The run log a slice's changes go to. */
export function progressLogOf(slice: Slice): 'replicate' | 'rollout' {
  return slice.kind === 'region' ? 'replicate' : 'rollout';
}

/** One log line for what changed since `previous`, or undefined when nothing a reader would see did. */
export function progressLine(previous: Slice | undefined, next: Slice, now: string): string | undefined {
  const note = next.message ? ` — ${next.message}` : '';
  if (next.kind === 'region') {
    if (previous?.kind === 'region' && previous.state === next.state && previous.percent === next.percent) return undefined;
    return `[${now}] ${next.region}: ${next.state} ${next.percent}%${note}\n`;
  }
  if (previous?.kind === 'scaleSet' && previous.status === next.status && previous.batch === next.batch && previous.updated === next.updated) return undefined;
  const name = next.scaleSetId.split('/').at(-1) ?? next.scaleSetId;
  return `[${now}] ${name}: ${next.status}, batch ${next.batch}/${next.batches}, ${next.updated}/${next.total} instances updated${note}\n`;
}
