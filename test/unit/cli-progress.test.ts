import { describe, expect, it } from 'vitest';
import { bakeExitCode, changeLines, progressBlock, snapshotOf, summaryLines, type RunView } from '../../cli/progress.ts';
import type { RunRecord } from '../../src/runs/record.ts';

const scaleSetId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss';

function running(percent: number, batch: number): RunView {
  return {
    id: 'ubuntu-web-20261125T131900Z-3f2a', templateName: 'ubuntu-web', trigger: 'cli', status: 'Running',
    createdAt: '2026-11-25T13:19:00Z', steps: [], outputs: { regions: {}, scaleSets: [] },
    progress: {
      runId: 'ubuntu-web-20261125T131900Z-3f2a', status: 'Running', step: 'replicate',
      steps: [{ name: 'plan', status: 'Succeeded' }, { name: 'replicate', status: 'Running' }, { name: 'rollout', status: 'Pending' }],
      regions: { eastus: { state: 'Replicating', percent }, westeurope: { state: 'Replicating', percent: 10 } },
      scaleSets: [{ id: scaleSetId, status: 'Updating', batch, batches: 3, updated: batch, total: 3 }],
    },
  };
}

const finished: RunRecord = {
  id: 'ubuntu-web-20261125T131900Z-3f2a', templateName: 'ubuntu-web', trigger: 'cli', status: 'Succeeded',
  createdAt: '2026-11-25T13:19:00Z', endedAt: '2026-11-25T13:20:00Z', steps: [{ name: 'plan', status: 'Succeeded', attempts: 1 }],
  outputs: {
    version: '1.0.1', imageVersionId: '/subscriptions/x/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery/images/ubuntu-web/versions/1.0.1',
    regions: { eastus: 'Completed' }, scaleSets: [{ id: scaleSetId, status: 'Succeeded', updated: 3, total: 3 }],
  },
};

describe('plain progress lines', () => {
  it('prints the run, steps, regions and batches the first time, then only what changed', () => {
    const first = snapshotOf(running(10, 0));
    expect(changeLines(undefined, first)).toEqual([
      'run ubuntu-web-20261125T131900Z-3f2a: Running',
      'step plan: Succeeded',
      'step replicate: Running',
      'replicate eastus: Replicating 10%',
      'replicate westeurope: Replicating 10%',
      'rollout web-vmss: Updating batch 0/3, 0/3 updated',
    ]);
    // 10% → 20% stays in the same quarter: nothing to say.
    expect(changeLines(first, snapshotOf(running(20, 0)))).toEqual([]);
    expect(changeLines(first, snapshotOf(running(55, 1)))).toEqual([
      'replicate eastus: Replicating 55%',
      'rollout web-vmss: Updating batch 1/3, 1/3 updated',
    ]);
  });

  it("tells a region's final state before the steps that came after replicate, when one look sees both", () => {
    const before = snapshotOf(running(90, 0));
    const later = running(90, 0);
    later.progress!.steps = [{ name: 'plan', status: 'Succeeded' }, { name: 'replicate', status: 'Succeeded' }, { name: 'promote', status: 'Succeeded' }, { name: 'rollout', status: 'Running' }];
    later.outputs = { regions: { eastus: 'Completed', westeurope: 'Completed' }, scaleSets: [] };
    expect(changeLines(before, snapshotOf(later))).toEqual([
      'step replicate: Succeeded',
      'replicate eastus: Completed 100%',
      'replicate westeurope: Completed 100%',
      'step promote: Succeeded',
      'step rollout: Running',
    ]);
  });
});

describe('live block', () => {
  it('draws a bar per region and the scale-set batches, within the terminal width', () => {
    const lines = progressBlock(snapshotOf(running(50, 2)), 60);
    expect(lines[0]).toContain('Running');
    const eastus = lines.find((l) => l.includes('eastus'))!;
    expect(eastus).toMatch(/█+░+\s+50%/);
    expect(eastus.split('█').length - 1).toBe(eastus.split('░').length - 1);
    expect(lines.some((l) => l.includes('web-vmss') && l.includes('batch 2/3'))).toBe(true);
    expect(lines.every((l) => l.length <= 60)).toBe(true);
  });

  it('wraps the steps on a narrow terminal instead of cutting them off', () => {
    const snapshot = snapshotOf(running(50, 2));
    snapshot.steps = ['plan', 'lock', 'stage', 'customize', 'validate', 'generalize', 'capture', 'replicate'].map((name) => ({ name, status: 'Succeeded' }));
    const lines = progressBlock(snapshot, 40);
    const stepText = lines.filter((l) => l.includes('✔')).join(' ');
    for (const name of ['plan', 'generalize', 'replicate']) expect(stepText).toContain(`✔ ${name}`);
    expect(lines.every((l) => l.length <= 40)).toBe(true);
  });

  it("takes regions and scale sets from the record while the bake's own status stands still", () => {
    const waiting = running(10, 1);
    waiting.outputs = {
      regions: { eastus: 'Completed', westeurope: 'Replicating' },
      scaleSets: [{ id: scaleSetId, status: 'Updating', updated: 2, total: 3 }],
    };
    const snapshot = snapshotOf(waiting);
    expect(snapshot.regions).toEqual([
      { name: 'eastus', state: 'Completed', percent: 100 },
      { name: 'westeurope', state: 'Replicating', percent: 10 },
    ]);
    expect(snapshot.scaleSets).toEqual([{ name: 'web-vmss', status: 'Updating', batch: 1, batches: 3, updated: 2, total: 3 }]);
  });

  it('falls back to the record when there is no live progress', () => {
    const snapshot = snapshotOf(finished);
    expect(snapshot.regions).toEqual([{ name: 'eastus', state: 'Completed', percent: 100 }]);
  });
});

describe('summary', () => {
  it('states the outcome, the image version and the rollout result', () => {
    expect(summaryLines(finished)).toEqual([
      'ubuntu-web-20261125T131900Z-3f2a: Succeeded',
      `image version 1.0.1 (${finished.outputs.imageVersionId})`,
      'region eastus: Completed',
      'rollout web-vmss: Succeeded (3/3 instances updated)',
    ]);
  });

  it('shows the error and every template error of a refused run', () => {
    const refused: RunRecord = {
      ...finished, status: 'Failed', outputs: { regions: {}, scaleSets: [] },
      error: { step: 'validate-template', code: 'InvalidTemplate', message: 'template x has 2 errors' },
      templateErrors: [{ path: 'properties.source', message: 'required' }, { path: 'properties.distribute', message: 'required' }],
    };
    expect(summaryLines(refused)).toEqual([
      'ubuntu-web-20261125T131900Z-3f2a: Failed',
      'error in validate-template: InvalidTemplate: template x has 2 errors',
      '  properties.source: required',
      '  properties.distribute: required',
    ]);
  });

  it('tells a run with simulated steps from a clean success, in its lines and its exit code', () => {
    const simulated: RunRecord = {
      ...finished,
      steps: [{ name: 'customize', status: 'Simulated', attempts: 1 }],
      simulatedSteps: [{ step: 'customize', operation: "customizer 1 'web-content' (Shell)", reason: 'isolation is off' }],
    };
    expect(summaryLines(simulated)).toEqual([
      'ubuntu-web-20261125T131900Z-3f2a: Succeeded with 1 simulated step',
      `image version 1.0.1 (${finished.outputs.imageVersionId})`,
      'region eastus: Completed',
      'rollout web-vmss: Succeeded (3/3 instances updated)',
      '1 step was simulated, not run (nothing proves they would succeed):',
      "  customize: customizer 1 'web-content' (Shell): isolation is off",
    ]);
    expect([bakeExitCode(finished), bakeExitCode(simulated), bakeExitCode({ ...simulated, status: 'Failed' })]).toEqual([0, 2, 1]);
    const block = progressBlock({ id: 'x', status: 'Running', steps: [{ name: 'customize', status: 'Simulated' }], regions: [], scaleSets: [] });
    expect(block[1]).toBe('  ≈ customize');
  });
});
