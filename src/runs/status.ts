/** Status projection: the run record as the API and CLI show it, merged with live sub-orchestration progress. */

import type { BakeProgress, RegionProgress, ScaleSetProgress, StepName } from './progress.ts';
import type { RunRecord, ScaleSetOutcome } from './record.ts';

/**
 * The record with the children's progress slices applied: a region's replication state and a scale set's
 * batches move while the parent orchestration waits for its sub-orchestrations.
 */
export function mergeProgress(record: RunRecord, slices: (RegionProgress | ScaleSetProgress)[]): RunRecord {
  if (slices.length === 0) return record;
  const regions = { ...record.outputs.regions };
  const scaleSets: ScaleSetOutcome[] = [...record.outputs.scaleSets];
  for (const slice of slices) {
    if (slice.kind === 'region') {
      regions[slice.region] = slice.state;
    } else {
      upsertScaleSet(scaleSets, { id: slice.scaleSetId, status: slice.status, updated: slice.updated, total: slice.total });
    }
  }
  return { ...record, outputs: { ...record.outputs, regions, scaleSets } };
}

/** Puts a scale set's latest entry in the list, in place of the one with the same id (ARM ids compare case-insensitively). */
export function upsertScaleSet<T extends { id: string }>(list: T[], entry: T): void {
  const at = list.findIndex((s) => s.id.toLowerCase() === entry.id.toLowerCase());
  if (at === -1) list.push(entry);
  else list[at] = entry;
}

/** The orchestration's custom status for a record it keeps: current step, each step's state, regions, scale sets. */
export function progressOf(record: RunRecord, waitingFor?: string): BakeProgress {
  const running = record.steps.findLast((s) => s.status === 'Running') ?? record.steps.at(-1);
  return {
    runId: record.id,
    status: record.status,
    step: (running?.name ?? 'plan') as StepName,
    steps: record.steps.map((s) => ({ name: s.name as StepName, status: s.status })),
    regions: Object.fromEntries(
      Object.entries(record.outputs.regions).map(([name, state]) => [name, { state, percent: state === 'Completed' ? 100 : 0 }]),
    ),
    scaleSets: record.outputs.scaleSets.map((s) => ({
      id: s.id,
      status: s.status,
      batch: 0,
      batches: 0,
      updated: s.updated,
      total: s.total,
    })),
    ...(waitingFor ? { waitingFor } : {}),
  };
}
