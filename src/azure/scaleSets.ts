/** Scale sets for the rollout: the model's image, pointing it at a new one, upgrading instances, their health. */

import type { VirtualMachineScaleSet, VirtualMachineScaleSetVM } from '@azure/arm-compute';
import type { AzureClients } from './clients.ts';
import { callAzure } from './errors.ts';
import { parseResourceId } from './ids.ts';
import { startOperation, type OperationHandle } from './operations.ts';

export function scaleSetParts(scaleSetId: string): { resourceGroup: string; name: string } {
  const p = parseResourceId(scaleSetId);
  const last = p.segments.at(-1);
  if (p.provider.toLowerCase() !== 'microsoft.compute' || p.segments.length !== 1 || last?.[0].toLowerCase() !== 'virtualmachinescalesets') {
    throw new Error(`scale set id ${JSON.stringify(scaleSetId)}: expected …/providers/Microsoft.Compute/virtualMachineScaleSets/{name}`);
  }
  return { resourceGroup: p.resourceGroup, name: last[1] };
}

export async function getScaleSet(clients: AzureClients, scaleSetId: string): Promise<VirtualMachineScaleSet> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  return callAzure('read scale set', scaleSetId, () => clients.compute.virtualMachineScaleSets.get(resourceGroup, name));
}

/** The model's image reference id (a gallery version or definition id, or a managed image id). */
export function modelImageReferenceId(scaleSet: VirtualMachineScaleSet): string | undefined {
  return scaleSet.virtualMachineProfile?.storageProfile?.imageReference?.id;
}

/** Every instance with its instance view (power, health) and whether it runs the latest model. */
export async function listInstances(clients: AzureClients, scaleSetId: string): Promise<VirtualMachineScaleSetVM[]> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  return callAzure('list instances of', scaleSetId, async () => {
    const out: VirtualMachineScaleSetVM[] = [];
    for await (const vm of clients.compute.virtualMachineScaleSetVMs.list(resourceGroup, name, { expand: 'instanceView' })) out.push(vm);
    return out;
  });
}

/** Points the model at a new image (PATCH: everything else in the model, the upgrade policy included, stays). */
export async function startSetModelImage(clients: AzureClients, scaleSetId: string, imageReferenceId: string): Promise<OperationHandle | undefined> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  const current = await getScaleSet(clients, scaleSetId);
  if (modelImageReferenceId(current)?.toLowerCase() === imageReferenceId.toLowerCase()) return undefined;
  return startOperation(
    () =>
      clients.compute.virtualMachineScaleSets.update(resourceGroup, name, {
        virtualMachineProfile: { storageProfile: { imageReference: { id: imageReferenceId } } },
      }),
    { action: 'update scale set model of', resourceId: scaleSetId, api: 'compute' },
  );
}

/** Brings the given instances to the latest model (manual upgrade); already-current ones are left out. */
export async function startUpgradeInstances(clients: AzureClients, scaleSetId: string, instanceIds: string[]): Promise<OperationHandle | undefined> {
  const { resourceGroup, name } = scaleSetParts(scaleSetId);
  const wanted = new Set(instanceIds);
  const stale = (await listInstances(clients, scaleSetId))
    .filter((vm) => vm.instanceId !== undefined && wanted.has(vm.instanceId) && vm.latestModelApplied !== true)
    .map((vm) => vm.instanceId!);
  if (stale.length === 0) return undefined;
  return startOperation(() => clients.compute.virtualMachineScaleSets.updateInstances(resourceGroup, name, { instanceIds: stale }), {
    action: 'upgrade instances of',
    resourceId: scaleSetId,
    api: 'compute',
  });
}

export type InstanceHealthState = 'Healthy' | 'Unhealthy' | 'Initializing' | 'Unknown';

/** The application health an instance reports (HealthState/healthy …); Unknown without a health source. */
export function instanceHealth(vm: VirtualMachineScaleSetVM): InstanceHealthState {
  const code = vm.instanceView?.vmHealth?.status?.code?.toLowerCase();
  switch (code) {
    case 'healthstate/healthy':
      return 'Healthy';
    case 'healthstate/unhealthy':
      return 'Unhealthy';
    case 'healthstate/initializing':
      return 'Initializing';
    default:
      return 'Unknown';
  }
}
