/**
 * Plan-time notes on the rollout: which path each scale set will follow (its upgrade policy decides), and warnings
 * for scale sets Kiln cannot gate well (no health source) or cannot read.
 */

import type { VirtualMachineScaleSet } from '@azure/arm-compute';
import { KilnStepError } from '../azure/errors.ts';
import { automaticOSUpgrade, healthSource, modelImage, orchestrationMode, upgradeMode } from '../azure/scaleSets.ts';
import { chooseRolloutPath, PATH_LOG } from '../pipeline/rollout-path.ts';
import type { RolloutTarget } from '../template/spec.ts';
import type { PlanReads } from './plan-reads.ts';

/** A rollout target as plan read it: its scale set, or why Kiln may not read it. */
export type RolloutTargetRead = { target: RolloutTarget; scaleSet: VirtualMachineScaleSet } | { target: RolloutTarget; unreadable: string };

/** Reads every target's scale set at once; a transient failure is thrown (plan retries), a refusal becomes a warning. */
export function readRolloutTargets(reads: PlanReads, targets: RolloutTarget[]): Promise<RolloutTargetRead[]> {
  return Promise.all(
    targets.map(async (target): Promise<RolloutTargetRead> => {
      try {
        return { target, scaleSet: await reads.scaleSet(target.scaleSetId) };
      } catch (err) {
        if (!(err instanceof KilnStepError) || err.retryable) throw err;
        return { target, unreadable: err.message };
      }
    }),
  );
}

/** The notes, in target order: each target's rollout path, and warnings for a scale set Kiln cannot read or gate well. */
export function rolloutNotes(reads: RolloutTargetRead[], imageVersionId: string | undefined): string[] {
  const notes: string[] = [];
  for (const read of reads) {
    const { target } = read;
    if ('unreadable' in read) {
      notes.push(`warning ScaleSetUnreadable: rollout target ${target.scaleSetName}: ${read.unreadable}`);
      continue;
    }
    const scaleSet = read.scaleSet;
    const image = modelImage(scaleSet);
    if (image && imageVersionId) {
      const path = chooseRolloutPath({ image, upgradeMode: upgradeMode(scaleSet), automaticOSUpgrade: automaticOSUpgrade(scaleSet) }, target, imageVersionId);
      notes.push(`rollout ${target.scaleSetName} (${orchestrationMode(scaleSet)}, upgradePolicy ${upgradeMode(scaleSet)}): ${PATH_LOG[path]}`);
    }
    if (healthSource(scaleSet) === 'None') {
      notes.push(`warning NoHealthSource: scale set ${target.scaleSetName} has neither an Application Health extension nor a load balancer probe: its health gate can only see that instances run`);
    }
  }
  return notes;
}
