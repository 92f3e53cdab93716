/** Which way a rollout moves a scale set, from the scale set's own upgrade policy and the template's opt-out. */

import type { ScaleSetImage, UpgradeMode } from '../activities/contracts.ts';
import type { RolloutPath } from '../runs/progress.ts';
import type { RolloutTarget } from '../template/spec.ts';

const DEFINITION_OF_VERSION = /^(.*\/galleries\/[^/]+\/images\/[^/]+)\/versions\/[^/]+$/i;

/** The path a scale set's own properties (and the template's opt-out) call for. */
export function chooseRolloutPath(
  model: { image: ScaleSetImage; upgradeMode: UpgradeMode; automaticOSUpgrade: boolean },
  target: Pick<RolloutTarget, 'mode'>,
  imageVersionId: string,
): RolloutPath {
  const definition = DEFINITION_OF_VERSION.exec(imageVersionId)?.[1];
  // The model names the definition and Azure follows it: promotion already started the upgrade.
  if (model.automaticOSUpgrade && 'id' in model.image && definition !== undefined && model.image.id.toLowerCase() === definition.toLowerCase()) {
    return 'automaticOSUpgrade';
  }
  if (target.mode === 'batches' || model.upgradeMode === 'Manual') return 'batches';
  return model.upgradeMode === 'Rolling' ? 'rolling' : 'automatic';
}

/** What each path means, for the plan's notes and the rollout's log. */
export const PATH_LOG: Record<RolloutPath, string> = {
  batches: "Kiln's batches and health gate",
  rolling: "Azure's rolling upgrade (its batches and thresholds), followed by Kiln's health gate",
  automatic: 'upgradePolicy Automatic: Azure upgrades every instance when the model changes; Kiln watches it',
  automaticOSUpgrade: "automatic OS image upgrade: promoting the version starts Azure's upgrade; Kiln watches it",
};

