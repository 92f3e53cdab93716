/**
 * Plan-time notes on the rollout: which path each scale set will follow (its upgrade policy decides), and warnings
 * for scale sets Kiln cannot gate well (no health source) or cannot read.
 */

import type { AzureClients } from '../azure/clients.ts';
import { KilnStepError } from '../azure/errors.ts';
import { automaticOSUpgrade, getScaleSet, healthSource, modelImage, orchestrationMode, upgradeMode } from '../azure/scaleSets.ts';
import { chooseRolloutPath, PATH_LOG } from '../pipeline/rollout-path.ts';
import type { RolloutTarget } from '../template/spec.ts';

export async function rolloutNotes(clients: AzureClients, targets: RolloutTarget[], imageVersionId: string | undefined): Promise<string[]> {
  const notes: string[] = [];
  for (const target of targets) {
    let scaleSet;
    try {
      scaleSet = await getScaleSet(clients, target.scaleSetId);
    } catch (err) {
      if (!(err instanceof KilnStepError) || err.retryable) throw err;
      notes.push(`warning ScaleSetUnreadable: rollout target ${target.scaleSetName}: ${err.message}`);
      continue;
    }
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
