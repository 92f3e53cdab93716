/** The live progress GET /builds/{id} shows: the bake's custom status, brought up to date by its children's slices. */

import type { RegionProgress, ScaleSetProgress } from '../activities/contracts.ts';
import type { BakeProgress } from '../pipeline/contracts.ts';
import { upsertScaleSet } from '../runs/status.ts';

/**
 * While the bake waits for its replicate and rollout sub-orchestrations its own custom status stands still; each
 * child writes its slice (region percent, scale-set batch) to the run store. Those slices win over the status.
 */
export function withChildProgress(progress: BakeProgress, slices: (RegionProgress | ScaleSetProgress)[]): BakeProgress {
  const regions = { ...progress.regions };
  const scaleSets = [...progress.scaleSets];
  for (const slice of slices) {
    if (slice.kind === 'region') {
      regions[slice.region] = { state: slice.state, percent: slice.percent };
      continue;
    }
    upsertScaleSet(scaleSets, { id: slice.scaleSetId, status: slice.status, batch: slice.batch, batches: slice.batches, updated: slice.updated, total: slice.total });
  }
  return { ...progress, regions, scaleSets };
}
