import { describe, expect, it } from 'vitest';
import { withChildProgress } from '../../src/api/live-progress.ts';
import type { BakeProgress } from '../../src/pipeline/contracts.ts';

const scaleSetId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss';

const waiting: BakeProgress = {
  runId: 'ubuntu-web-20261125T131900Z-3f2a', status: 'Running', step: 'rollout',
  steps: [{ name: 'rollout', status: 'Running' }],
  regions: { eastus: { state: 'Replicating', percent: 10 } },
  scaleSets: [{ id: scaleSetId, status: 'Pending', batch: 0, batches: 0, updated: 0, total: 3 }],
};

describe('live progress for the CLI', () => {
  it("takes each region's percent and each scale set's batch from the children's slices", () => {
    const live = withChildProgress(waiting, [
      { kind: 'region', region: 'eastus', state: 'Completed', percent: 100 },
      { kind: 'region', region: 'westeurope', state: 'Replicating', percent: 40 },
      { kind: 'scaleSet', scaleSetId: scaleSetId.toUpperCase(), status: 'Updating', updated: 1, total: 3, batch: 2, batches: 3 },
    ]);
    expect(live.regions).toEqual({ eastus: { state: 'Completed', percent: 100 }, westeurope: { state: 'Replicating', percent: 40 } });
    expect(live.scaleSets).toEqual([{ id: scaleSetId.toUpperCase(), status: 'Updating', batch: 2, batches: 3, updated: 1, total: 3 }]);
    expect(live.step).toBe('rollout');
    expect(waiting.regions.eastus!.percent).toBe(10);
  });
});
