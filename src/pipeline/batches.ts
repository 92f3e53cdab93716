/** Rollout arithmetic: batches by percent and the health threshold that stops a rollout. */

/**
 * Splits instances into batches of `batchPercent` of the scale set (rounded up, at least one instance), in order.
 * 3 instances at 20 % → three batches of one; 10 at 25 % → 3, 3, 3, 1.
 */
export function planBatches<T>(instances: readonly T[], batchPercent: number): T[][] {
  if (!(batchPercent > 0 && batchPercent <= 100)) {
    throw new RangeError(`batchPercent: expected a number in (0, 100], found ${batchPercent}`);
  }
  const size = Math.max(1, Math.ceil((instances.length * batchPercent) / 100));
  const batches: T[][] = [];
  for (let i = 0; i < instances.length; i += size) batches.push(instances.slice(i, i + size));
  return batches;
}

/** Percent of the upgraded instances that are unhealthy (0 when none were upgraded). */
export function unhealthyPercent(upgraded: number, unhealthy: number): number {
  return upgraded === 0 ? 0 : (unhealthy * 100) / upgraded;
}

/** True when the rollout must stop: the unhealthy share of upgraded instances passes the threshold. */
export function breachesHealthThreshold(upgraded: number, unhealthy: number, maxUnhealthyPercent: number): boolean {
  return unhealthyPercent(upgraded, unhealthy) > maxUnhealthyPercent;
}
