import { describe, expect, it } from 'vitest';
import type { StepName } from '../../src/activities/contracts.ts';
import { unexpectedFailure } from '../../src/pipeline/bake-run.ts';
import { newRunRecord, settlePendingSteps, updateStep } from '../../src/pipeline/journal.ts';
import { resumePlan } from '../../src/pipeline/resume.ts';
import { BAKE_STEPS } from '../../src/runs/progress.ts';
import type { RunRecord, StepStatus } from '../../src/runs/record.ts';
import type { BakeSpec } from '../../src/template/spec.ts';

const input = { runId: 'web-20261125T130000Z-0001', templateName: 'web', trigger: 'http' as const, spec: { name: 'web' } as BakeSpec };

function runWith(statuses: Partial<Record<StepName, StepStatus>>, outputs: Partial<RunRecord['outputs']> = {}): RunRecord {
  let record = newRunRecord(input, '2026-11-25T13:00:00.000Z');
  for (const [name, status] of Object.entries(statuses)) record = updateStep(record, name as StepName, { status });
  return { ...record, status: 'Failed', outputs: { ...record.outputs, ...outputs } };
}

const imageDone = {
  plan: 'Succeeded',
  lock: 'Succeeded',
  stage: 'Succeeded',
  customize: 'Succeeded',
  validate: 'Skipped',
  generalize: 'Succeeded',
  capture: 'Succeeded',
} as const;
const captured = { version: '1.0.7', imageVersionId: '/g/images/web/versions/1.0.7', regions: { eastus: 'Completed', westeurope: 'Failed' } };

describe('resumePlan', () => {
  it('reuses the captured version when replication failed, and runs replication again', () => {
    const plan = resumePlan(runWith({ ...imageDone, replicate: 'Failed' }, captured));
    expect(plan.reuseVersion).toBe('1.0.7');
    expect(plan.reused).toEqual(['stage', 'customize', 'validate', 'generalize', 'capture']);
    expect(plan.outputs).toEqual({ version: '1.0.7', imageVersionId: '/g/images/web/versions/1.0.7' });
  });

  it('also reuses replication and promotion when only the rollout failed', () => {
    const plan = resumePlan(
      runWith({ ...imageDone, replicate: 'Succeeded', promote: 'Succeeded', approve: 'Skipped', rollout: 'Failed' }, captured),
    );
    expect(plan.reused).toEqual(['stage', 'customize', 'validate', 'generalize', 'capture', 'replicate', 'promote']);
    expect(plan.outputs.regions).toEqual(captured.regions);
  });

  it('bakes again when the failure came before capture', () => {
    expect(resumePlan(runWith({ plan: 'Succeeded', lock: 'Succeeded', stage: 'Succeeded', customize: 'Failed' }))).toEqual({
      reused: [],
      outputs: {},
    });
  });

  it('bakes again when validation failed even though the image was distributed', () => {
    expect(resumePlan(runWith({ ...imageDone, validate: 'Failed', replicate: 'Succeeded' }, captured)).reused).toEqual([]);
  });
});

describe('journal', () => {
  it('starts with every step of docs/design.md §1 pending, in order', () => {
    const record = newRunRecord({ ...input, resumeFrom: 'web-x' }, '2026-11-25T13:00:00.000Z');
    expect(record.steps.map((s) => s.name)).toEqual([...BAKE_STEPS]);
    expect(record.steps.every((s) => s.status === 'Pending' && s.attempts === 0)).toBe(true);
    expect(record).toMatchObject({ status: 'Running', resumeFrom: 'web-x', outputs: { regions: {}, scaleSets: [] } });
  });

  it('settles the steps still pending, leaving the others', () => {
    const record = settlePendingSteps(updateStep(newRunRecord(input, 'now'), 'plan', { status: 'Succeeded' }), 'Canceled');
    expect(record.steps[0]!.status).toBe('Succeeded');
    expect(record.steps.slice(1).every((s) => s.status === 'Canceled')).toBe(true);
  });
});

describe('unexpectedFailure', () => {
  it('reads the code and message out of an activity failure carrying the exception-properties JSON', () => {
    const details = { errorType: 'TransientAzureError', errorMessage: 'create VM failed (503)', properties: { code: 'ServiceUnavailable' }, stackTrace: 'at x\n at y' };
    const error = new Error(`Activity function 'beginStagingVm' failed: ${JSON.stringify(details)} \n {"stack":"..."}`);
    expect(unexpectedFailure(error)).toEqual({ code: 'ServiceUnavailable', message: "Activity function 'beginStagingVm' failed: create VM failed (503)" });
  });

  it('keeps the first line of any other error', () => {
    expect(unexpectedFailure(new Error('boom\n    at stack'))).toEqual({ code: 'Unexpected', message: 'boom' });
  });
});
