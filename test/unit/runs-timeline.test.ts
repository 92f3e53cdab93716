/** Progress slices stamped with their times, and the log line each change adds. */

import { describe, expect, it } from 'vitest';
import type { ScaleSetProgress } from '../../src/runs/progress.ts';
import { progressLine, stampProgress } from '../../src/runs/timeline.ts';

const vmss = (batch: number, status: ScaleSetProgress['status'] = 'Updating'): ScaleSetProgress => ({
  kind: 'scaleSet', scaleSetId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/web', status, updated: batch, total: 3, batch, batches: 3,
});

describe('stampProgress', () => {
  it('keeps when a scale set started, stamps each batch as it is reported, and the end once', () => {
    const s0 = stampProgress(undefined, vmss(0), 't0');
    const s2 = stampProgress(s0, vmss(2), 't2'); // batch 1 was not seen on its own: it ended by t2 too
    const s3 = stampProgress(s2, vmss(3, 'Succeeded'), 't3');
    const again = stampProgress(s3, vmss(3, 'Succeeded'), 't4');
    expect(s3).toMatchObject({ startedAt: 't0', endedAt: 't3', batchEndedAt: ['t2', 't2', 't3'] });
    expect(again).toMatchObject({ startedAt: 't0', endedAt: 't3', batchEndedAt: ['t2', 't2', 't3'] });
  });

  it('ends a region when it completes', () => {
    const queued = stampProgress(undefined, { kind: 'region', region: 'eastus', state: 'Replicating', percent: 10 }, 'a');
    expect(stampProgress(queued, { kind: 'region', region: 'eastus', state: 'Completed', percent: 100 }, 'b')).toMatchObject({ startedAt: 'a', endedAt: 'b' });
  });
});

describe('progressLine', () => {
  it('writes a line for a change only', () => {
    const region = { kind: 'region', region: 'eastus', state: 'Replicating', percent: 40 } as const;
    expect(progressLine(undefined, region, 'T')).toBe('[T] eastus: Replicating 40%\n');
    expect(progressLine(region, region, 'T')).toBeUndefined();
    expect(progressLine(vmss(1), vmss(2), 'T')).toBe('[T] web: Updating, batch 2/3, 2/3 instances updated\n');
  });
});
