/** What the CLI shows of a running bake: a snapshot of its progress, plain change lines, and the live block. */

import type { BakeProgress } from '../src/pipeline/contracts.ts';
import { FINAL_RUN_STATUSES, type RunRecord } from '../src/runs/record.ts';

/** A run as GET /builds/{id} answers it: the record, plus the live progress while it runs. */
export type RunView = RunRecord & { progress?: BakeProgress | null };

export interface ProgressSnapshot {
  id: string;
  status: string;
  step?: string;
  waitingFor?: string;
  steps: { name: string; status: string }[];
  regions: { name: string; state: string; percent: number }[];
  scaleSets: { name: string; status: string; batch: number; batches: number; updated: number; total: number }[];
}

const FINISHED_REGION_STATES = new Set(['Completed', 'Succeeded', 'Replicated']);

/** The last segment of an ARM id: `web-vmss` for a scale set id. */
function shortName(id: string): string {
  return id.split('/').filter(Boolean).at(-1) ?? id;
}

/**
 * Live progress when the bake is running, the record's durable copy otherwise. While the bake waits for its
 * sub-orchestrations its custom status stands still; the record (merged with the children's progress) moves, so
 * regions and scale sets take the record's state where it has one.
 */
export function snapshotOf(run: RunView): ProgressSnapshot {
  const live = run.progress ?? undefined;
  const recordRegions = run.outputs.regions;
  const regionNames = [...new Set([...Object.keys(live?.regions ?? {}), ...Object.keys(recordRegions)])];
  const regions = regionNames.map((name) => {
    const state = recordRegions[name] ?? live?.regions[name]?.state ?? 'Pending';
    const percent = FINISHED_REGION_STATES.has(state) ? 100 : (live?.regions[name]?.percent ?? 0);
    return { name, state, percent };
  });
  const liveSets = live?.scaleSets ?? [];
  const scaleSets = (run.outputs.scaleSets.length ? run.outputs.scaleSets : liveSets).map((set) => {
    const batches = liveSets.find((s) => s.id.toLowerCase() === set.id.toLowerCase());
    return {
      name: shortName(set.id), status: set.status, batch: batches?.batch ?? 0, batches: batches?.batches ?? 0,
      updated: set.updated, total: set.total,
    };
  });
  return {
    id: run.id,
    status: run.status === 'Pending' && live ? live.status : run.status,
    ...(live ? { step: live.step } : {}),
    ...(live?.waitingFor ? { waitingFor: live.waitingFor } : {}),
    steps: (live?.steps ?? run.steps).map(({ name, status }) => ({ name, status })),
    regions,
    scaleSets,
  };
}

/** Replication percent is reported in quarters on plain output, so a log stays short. */
function quarter(percent: number): number {
  return Math.floor(percent / 25) * 25;
}

/** The lines that say what changed between two snapshots (plain output: CI logs, pipes). */
export function changeLines(before: ProgressSnapshot | undefined, after: ProgressSnapshot): string[] {
  const lines: string[] = [];
  const runLine = before?.status === after.status ? undefined : `run ${after.id}: ${after.status}`;
  // A final status is told last, after the steps that led to it.
  const ended = FINAL_RUN_STATUSES.has(after.status);
  if (runLine && !ended) lines.push(runLine);
  const regionLines = after.regions.flatMap((region) => {
    const old = before?.regions.find((r) => r.name === region.name);
    const changed = !old || old.state !== region.state || quarter(old.percent) !== quarter(region.percent);
    return changed ? [`replicate ${region.name}: ${region.state} ${Math.round(region.percent)}%`] : [];
  });
  const scaleSetLines = after.scaleSets.flatMap((set) => {
    const old = before?.scaleSets.find((s) => s.name === set.name);
    if (old && old.status === set.status && old.batch === set.batch && old.updated === set.updated) return [];
    const batch = set.batches ? ` batch ${set.batch}/${set.batches}` : '';
    return [`rollout ${set.name}: ${set.status}${batch}, ${set.updated}/${set.total} updated`];
  });
  // A region's or scale set's news goes right after its step's line: a region's final state, saved once all regions
  // ended, is not told after the steps that came later.
  const detail: Record<string, string[]> = { replicate: regionLines, rollout: scaleSetLines };
  for (const step of after.steps) {
    const old = before?.steps.find((s) => s.name === step.name);
    if (old?.status !== step.status && step.status !== 'Pending') lines.push(`step ${step.name}: ${step.status}`);
    lines.push(...(detail[step.name] ?? []));
    delete detail[step.name];
  }
  for (const rest of Object.values(detail)) lines.push(...rest);
  if (after.waitingFor && after.waitingFor !== before?.waitingFor) lines.push(`waiting for ${after.waitingFor}`);
  if (runLine && ended) lines.push(runLine);
  return lines;
}

const stepMarks: Record<string, string> = {
  Succeeded: '✔',
  Simulated: '≈',
  Running: '▸',
  Failed: '✖',
  Canceled: '⊘',
  Skipped: '–',
  Pending: '·',
};

function bar(percent: number, width: number): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** The live block a terminal redraws: steps, a bar per replication region, scale-set batches. */
export function progressBlock(snapshot: ProgressSnapshot, columns = 80): string[] {
  const lines = [`${snapshot.id}  ${snapshot.status}${snapshot.step ? `  (${snapshot.step})` : ''}`];
  // Steps wrap onto as many lines as the terminal needs, so none is cut off.
  let stepLine = '';
  for (const step of snapshot.steps.map((s) => `${stepMarks[s.status] ?? '?'} ${s.name}`)) {
    if (stepLine && stepLine.length + 2 + step.length > columns - 1) {
      lines.push(stepLine);
      stepLine = '';
    }
    stepLine = stepLine ? `${stepLine}  ${step}` : `  ${step}`;
  }
  if (stepLine) lines.push(stepLine);
  if (snapshot.regions.length) {
    const nameWidth = Math.max(...snapshot.regions.map((r) => r.name.length));
    const width = Math.max(10, Math.min(40, columns - nameWidth - 24));
    for (const region of snapshot.regions) {
      lines.push(`  ${region.name.padEnd(nameWidth)}  ${bar(region.percent, width)} ${String(Math.round(region.percent)).padStart(3)}%  ${region.state}`);
    }
  }
  for (const set of snapshot.scaleSets) {
    const batch = set.batches ? `batch ${set.batch}/${set.batches}  ` : '';
    lines.push(`  ${set.name}  ${batch}${set.updated}/${set.total} updated  ${set.status}`);
  }
  if (snapshot.waitingFor) lines.push(`  waiting for ${snapshot.waitingFor}`);
  // A line wider than the terminal wraps and breaks the redraw's line count.
  return lines.map((line) => (line.length > columns ? line.slice(0, columns - 1) : line));
}

/** How a finished bake ends for `kiln bake`: 0 clean success, 2 succeeded with simulated steps, 1 otherwise. */
export function bakeExitCode(run: RunRecord): number {
  if (run.status !== 'Succeeded') return 1;
  return (run.simulatedSteps ?? []).length > 0 ? 2 : 0;
}

/** The result lines a finished bake ends with: outcome, image version, rollout, and any step that was not run. */
export function summaryLines(run: RunRecord): string[] {
  const simulated = run.simulatedSteps ?? [];
  const plural = simulated.length === 1 ? '' : 's';
  const lines = [`${run.id}: ${run.status}${run.status === 'Succeeded' && simulated.length > 0 ? ` with ${simulated.length} simulated step${plural}` : ''}`];
  if (run.outputs.version) lines.push(`image version ${run.outputs.version}${run.outputs.imageVersionId ? ` (${run.outputs.imageVersionId})` : ''}`);
  for (const [region, state] of Object.entries(run.outputs.regions)) lines.push(`region ${region}: ${state}`);
  if (run.outputs.scaleSets.length === 0 && run.status === 'Succeeded') lines.push('rollout: none (no scale sets in the template)');
  for (const set of run.outputs.scaleSets) {
    lines.push(`rollout ${shortName(set.id)}: ${set.status} (${set.updated}/${set.total} instances updated)`);
  }
  if (simulated.length > 0) {
    lines.push(`${simulated.length} step${simulated.length === 1 ? ' was' : 's were'} simulated, not run (nothing proves they would succeed):`);
    for (const s of simulated) lines.push(`  ${s.step}: ${s.operation}: ${s.reason}`);
  }
  if (run.error) lines.push(`error in ${run.error.step}: ${run.error.code}: ${run.error.message}`);
  for (const error of run.templateErrors ?? []) lines.push(`  ${error.path}: ${error.message}`);
  return lines;
}
