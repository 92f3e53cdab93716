/** The run record as the bake keeps it: pure updates, so the orchestration only decides when to save. */

import type { StepName } from '../activities/contracts.ts';
import { BAKE_STEPS } from '../runs/progress.ts';
import type { RunRecord, StepRecord, StepStatus } from '../runs/record.ts';
import type { BakeInput } from './contracts.ts';

/** A Running record with every step Pending. */
export function newRunRecord(input: BakeInput, now: string): RunRecord {
  return {
    id: input.runId,
    templateName: input.templateName,
    trigger: input.trigger,
    status: 'Running',
    createdAt: input.acceptedAt ?? now,
    steps: BAKE_STEPS.map((name) => ({ name, status: 'Pending', attempts: 0 })),
    outputs: { regions: {}, scaleSets: [] },
    spec: input.spec,
    ...(input.resumeFrom ? { resumeFrom: input.resumeFrom } : {}),
  };
}

/** The record with one step changed. */
export function updateStep(record: RunRecord, name: StepName, patch: Partial<Omit<StepRecord, 'name'>>): RunRecord {
  return { ...record, steps: record.steps.map((step) => (step.name === name ? { ...step, ...patch } : step)) };
}

export function stepOf(record: RunRecord, name: StepName): StepRecord {
  const step = record.steps.find((s) => s.name === name);
  if (!step) throw new Error(`run ${record.id}: no step ${name}`);
  return step;
}

/** Steps still Pending become `status` (Skipped after a failure upstream, Canceled after a cancel). */
export function settlePendingSteps(record: RunRecord, status: StepStatus): RunRecord {
  return { ...record, steps: record.steps.map((step) => (step.status === 'Pending' ? { ...step, status } : step)) };
}
