import { describe, expect, it } from 'vitest';
import { breachesHealthThreshold, planBatches, unhealthyPercent } from '../../src/pipeline/batches.ts';
import { nextPollDelay, POLL_FRACTION } from '../../src/pipeline/polling.ts';
import { lockLeaseMs, WATCHDOG_MS } from '../../src/pipeline/watchdogs.ts';
import type { BakeSpec } from '../../src/template/spec.ts';

describe('nextPollDelay', () => {
  const bounds = { minMs: 100, maxMs: 1_000 };

  it('starts at the lower bound and grows with the time waited, up to the upper bound', () => {
    expect(nextPollDelay(0, bounds)).toBe(100);
    expect(nextPollDelay(4_000, bounds)).toBe(100);
    expect(nextPollDelay(20_000, bounds)).toBe(400);
    expect(nextPollDelay(3_600_000, bounds)).toBe(1_000);
  });

  it('keeps the detection delay within the polling budget once past the lower bound', () => {
    for (const elapsed of [10_000, 30_000, 45_000]) {
      expect(nextPollDelay(elapsed, bounds) / elapsed).toBeLessThanOrEqual(POLL_FRACTION);
    }
  });

  it('looks no later than the operation hint says, but never below the lower bound', () => {
    expect(nextPollDelay(3_600_000, bounds, 400)).toBe(400);
    expect(nextPollDelay(60_000, bounds, 10)).toBe(100);
    expect(nextPollDelay(0, bounds, 60_000)).toBe(100);
    expect(nextPollDelay(40_000, bounds, 60_000)).toBe(800);
  });
});

describe('planBatches', () => {
  it('cuts 3 instances at 20 % into three batches of one', () => {
    expect(planBatches(['0', '1', '2'], 20)).toEqual([['0'], ['1'], ['2']]);
  });

  it('rounds the batch size up and keeps order', () => {
    expect(planBatches([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 25)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
    expect(planBatches([1, 2, 3], 100)).toEqual([[1, 2, 3]]);
  });

  it('has no batches for an empty scale set and rejects a bad percent', () => {
    expect(planBatches([], 20)).toEqual([]);
    expect(() => planBatches([1], 0)).toThrow(/batchPercent: expected a number in \(0, 100\], found 0/);
  });
});

describe('health threshold', () => {
  it('stops when the unhealthy share of upgraded instances passes the maximum', () => {
    expect(unhealthyPercent(3, 1)).toBeCloseTo(33.33, 1);
    expect(breachesHealthThreshold(1, 1, 20)).toBe(true);
    expect(breachesHealthThreshold(5, 1, 20)).toBe(false);
    expect(breachesHealthThreshold(4, 1, 20)).toBe(true);
    expect(breachesHealthThreshold(3, 0, 0)).toBe(false);
    expect(breachesHealthThreshold(3, 3, 100)).toBe(false);
  });
});

describe('lockLeaseMs', () => {
  const spec = {
    buildTimeoutInMinutes: 60,
    approval: { required: true, timeout: { iso: 'PT2H', ms: 7_200_000 } },
    rollout: [
      { batchPercent: 50, pauseBetweenBatches: { iso: 'PT0S', ms: 0 } },
      { batchPercent: 20, pauseBetweenBatches: { iso: 'PT1M', ms: 60_000 } },
    ],
  } as unknown as BakeSpec;

  const withRollout = (rollout: unknown[]) => ({ ...spec, rollout }) as unknown as BakeSpec;

  it('covers at least the build, the approval gate, every batch of the slowest rollout and cleanup', () => {
    const floor = 3_600_000 + 7_200_000 + 5 * (WATCHDOG_MS.instanceUpgrade.Linux + WATCHDOG_MS.healthGate) + WATCHDOG_MS.deleteStagingGroup;
    expect(lockLeaseMs(spec, 'Linux')).toBeGreaterThan(floor);
  });

  it('grows by exactly the extra build time and the approval timeout', () => {
    expect(lockLeaseMs({ ...spec, buildTimeoutInMinutes: 120 } as BakeSpec, 'Linux') - lockLeaseMs(spec, 'Linux')).toBe(3_600_000);
    expect(lockLeaseMs(spec, 'Linux') - lockLeaseMs({ ...spec, approval: { required: false } } as unknown as BakeSpec, 'Linux')).toBe(7_200_000);
  });

  it('is decided by the slowest scale set (rollouts run in parallel), and Windows instances take longer', () => {
    const [fast, slow] = spec.rollout;
    expect(lockLeaseMs(withRollout([slow]), 'Linux')).toBe(lockLeaseMs(spec, 'Linux'));
    expect(lockLeaseMs(withRollout([fast]), 'Linux')).toBeLessThan(lockLeaseMs(spec, 'Linux'));
    expect(lockLeaseMs(spec, 'Windows')).toBeGreaterThan(lockLeaseMs(spec, 'Linux'));
  });
});
