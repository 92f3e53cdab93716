/**
 * Step 11, rollout pieces: read a scale set's model image (the rollback target) and instances, point the model at
 * an image, upgrade a batch of instances, read their health. The sub-orchestration decides batches and rollback;
 * rolling back is beginScaleSetModel with the old image followed by the same upgrades.
 */

import { permanentError } from '../azure/errors.ts';
import { getScaleSet, instanceHealth, listInstances, modelImageReferenceId, startSetModelImage, startUpgradeInstances } from '../azure/scaleSets.ts';
import type {
  BeginInstanceUpgradeInput,
  BeginScaleSetModelInput,
  OperationStatus,
  ReadInstanceHealthInput,
  ReadInstanceHealthOutput,
  ReadScaleSetInput,
  ReadScaleSetOutput,
} from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { operationStatus, outcome, statusOf } from './outcomes.ts';

export async function readScaleSet({ scaleSetId }: ReadScaleSetInput): Promise<ReadScaleSetOutput> {
  return outcome(async () => {
    const { clients } = activityEnvironment();
    const scaleSet = await getScaleSet(clients, scaleSetId);
    const imageReferenceId = modelImageReferenceId(scaleSet);
    if (!imageReferenceId) {
      throw permanentError(`rollout: scale set ${scaleSetId} has no image reference id in its model (a marketplace image cannot be rolled back to)`, {
        code: 'UnsupportedImageReference',
        resourceId: scaleSetId,
      });
    }
    const instanceIds = (await listInstances(clients, scaleSetId))
      .map((vm) => vm.instanceId)
      .filter((id): id is string => id !== undefined)
      .sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
    return { imageReferenceId, instanceIds };
  });
}

export async function beginScaleSetModel({ scaleSetId, imageReferenceId }: BeginScaleSetModelInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startSetModelImage(activityEnvironment().clients, scaleSetId, imageReferenceId)));
}

export async function beginInstanceUpgrade({ scaleSetId, instanceIds }: BeginInstanceUpgradeInput): Promise<OperationStatus> {
  return operationStatus(async () => statusOf(await startUpgradeInstances(activityEnvironment().clients, scaleSetId, instanceIds)));
}

export async function readInstanceHealth({ scaleSetId, instanceIds }: ReadInstanceHealthInput): Promise<ReadInstanceHealthOutput> {
  return outcome(async () => {
    const wanted = new Set(instanceIds);
    const instances = (await listInstances(activityEnvironment().clients, scaleSetId)).filter((vm) => vm.instanceId !== undefined && wanted.has(vm.instanceId));
    const missing = instanceIds.filter((id) => !instances.some((vm) => vm.instanceId === id));
    if (missing.length > 0) {
      throw permanentError(`rollout: scale set ${scaleSetId} has no instance ${missing.join(', ')}`, { code: 'NotFound', resourceId: scaleSetId });
    }
    return instances.map((vm) => {
      const imageReferenceId = vm.storageProfile?.imageReference?.id;
      return { instanceId: vm.instanceId!, health: instanceHealth(vm), latestModel: vm.latestModelApplied === true, ...(imageReferenceId ? { imageReferenceId } : {}) };
    });
  });
}
