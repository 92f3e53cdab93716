/**
 * Step 11, rollout pieces: read a scale set's model (its image is the rollback target, whatever kind it is) and
 * members, point the model at an image, upgrade members, start, follow or cancel Azure's rolling upgrade. The
 * sub-orchestration decides which path to follow; rolling back is beginScaleSetModel with the old image again.
 */

import { permanentError } from '../azure/errors.ts';
import {
  automaticOSUpgrade,
  getLatestRollingUpgrade,
  getScaleSet,
  healthSource,
  isGalleryDefinition,
  listMembers,
  modelImage,
  orchestrationMode,
  rollingBatchPercent,
  runsImage,
  startCancelRollingUpgrade,
  startRollingUpgrade,
  startSetModelImage,
  startUpgradeInstances,
  upgradeMode,
  type ScaleSetImage,
  type ScaleSetMember,
} from '../azure/scaleSets.ts';
import type {
  BeginInstanceUpgradeInput,
  BeginScaleSetModelInput,
  MemberState,
  OperationStatus,
  ReadInstancesInput,
  ReadInstancesOutput,
  ReadRollingUpgradeOutput,
  ReadScaleSetInput,
  ReadScaleSetOutput,
  ScaleSetInput,
} from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { operationStatus, outcome, statusOf } from './outcomes.ts';

const memberState = (member: ScaleSetMember, image: ScaleSetImage): MemberState => ({
  instanceId: member.instanceId,
  health: member.health,
  onImage: runsImage(member.running, image),
  protected: member.protected,
});

/** The version most members run, when they run a definition (what "the image they ran" means there). */
function commonExactVersion(members: ScaleSetMember[]): string | undefined {
  const counts = new Map<string, number>();
  for (const m of members) if (m.running.exactVersion) counts.set(m.running.exactVersion, (counts.get(m.running.exactVersion) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
}

export async function readScaleSet({ scaleSetId }: ReadScaleSetInput): Promise<ReadScaleSetOutput> {
  return outcome(async () => {
    const { clients } = activityEnvironment();
    const scaleSet = await getScaleSet(clients, scaleSetId);
    const image = modelImage(scaleSet);
    if (!image) {
      throw permanentError(`rollout: scale set ${scaleSetId} has no image reference in its model (expected an id or publisher/offer/sku)`, {
        code: 'UnsupportedImageReference',
        resourceId: scaleSetId,
      });
    }
    const mode = orchestrationMode(scaleSet);
    const members = await listMembers(clients, scaleSetId, mode);
    const exactVersion = 'id' in image && isGalleryDefinition(image.id) ? commonExactVersion(members) : undefined;
    return {
      image,
      ...(exactVersion ? { exactVersion } : {}),
      orchestrationMode: mode,
      upgradeMode: upgradeMode(scaleSet),
      automaticOSUpgrade: automaticOSUpgrade(scaleSet),
      healthSource: healthSource(scaleSet),
      rollingBatchPercent: rollingBatchPercent(scaleSet),
      instances: members.map((m) => memberState(m, image)),
    };
  });
}

export async function readInstances({ scaleSetId, orchestrationMode: mode, image }: ReadInstancesInput): Promise<ReadInstancesOutput> {
  return outcome(async () => (await listMembers(activityEnvironment().clients, scaleSetId, mode)).map((m) => memberState(m, image)));
}

export async function beginScaleSetModel({ scaleSetId, image, upgradeMode: mode }: BeginScaleSetModelInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startSetModelImage(activityEnvironment().clients, scaleSetId, image, mode ? { upgradeMode: mode } : {})));
}

export async function beginInstanceUpgrade({ scaleSetId, instanceIds, image }: BeginInstanceUpgradeInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startUpgradeInstances(activityEnvironment().clients, scaleSetId, instanceIds, image)));
}

export async function readRollingUpgrade({ scaleSetId }: ScaleSetInput): Promise<ReadRollingUpgradeOutput> {
  return outcome(async () => (await getLatestRollingUpgrade(activityEnvironment().clients, scaleSetId)) ?? null);
}

/** Starts Azure's rolling upgrade; the orchestration follows it with readRollingUpgrade, not this operation. */
export async function beginRollingUpgrade({ scaleSetId }: ScaleSetInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    await startRollingUpgrade(activityEnvironment().clients, scaleSetId);
    return { state: 'Succeeded' };
  });
}

/** Undo of a rolling upgrade Kiln follows: Azure's cancel (Kiln's own cancel is passed on). */
export async function beginCancelRollingUpgrade({ scaleSetId }: ScaleSetInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startCancelRollingUpgrade(activityEnvironment().clients, scaleSetId)));
}
