/** Step 3a, the staging resource group (tagged, expiring), and its undo: delete it and make sure it is gone. */

import { permanentError } from '../azure/errors.ts';
import { getResourceById, NETWORK_API_VERSION } from '../azure/network.ts';
import { pollOperationHandle, startOperation, type OperationHandle } from '../azure/operations.ts';
import {
  ensureResourceGroup,
  getResourceGroup,
  listGroupResources,
  resourceGroupExists,
  startResourceGroupDelete,
  TAG_EXPIRES_AT,
  TAG_MANAGED,
  TAG_RUN_ID,
  type ResourceGroupInfo,
} from '../azure/resourceGroups.ts';
import { normalizeRegion } from '../template/fields.ts';
import { deleteRunCommandBlobs } from '../azure/runCommandBlobs.ts';
import { getVm, startDeleteVm } from '../azure/virtualMachines.ts';
import { providerId } from '../azure/ids.ts';
import type { AzureClients } from '../azure/clients.ts';
import type { BakePlan, BeginDeleteStagingGroupInput, CreateStagingGroupInput, CreateStagingGroupOutput, OperationStatus } from './contracts.ts';
import { activityEnvironment } from './environment.ts';
import { stagingNames } from './naming.ts';
import { operationStatus } from './outcomes.ts';
import type { Pollers } from './poll.ts';

export const TAG_TEMPLATE = 'kiln-template';

/**
 * The tags on a group Kiln creates: the template's tags and managedResourceTags, then Kiln's own (which win); the
 * janitor deletes groups whose kiln-expires-at has passed.
 */
export function stagingTags(plan: BakePlan, templateName: string): Record<string, string> {
  return { ...plan.staging.tags, [TAG_MANAGED]: 'true', [TAG_RUN_ID]: plan.runId, [TAG_TEMPLATE]: templateName, [TAG_EXPIRES_AT]: plan.staging.expiresAt };
}

/** A group this run created, including a stagingResourceGroup the template named that did not exist yet. */
function createdByRun(group: ResourceGroupInfo | undefined, plan: BakePlan): boolean {
  return group?.tags[TAG_RUN_ID] === plan.runId && group.tags[TAG_MANAGED] === 'true';
}

/**
 * The NIC and OS disk Azure makes with the build VM: they carry no tags (Azure does not copy the VM's), so a repeat
 * knows them by name (`{vm}-nic`, `{vm}_OsDisk_…`).
 */
function madeWithBuildVm(id: string, plan: BakePlan): boolean {
  const [type, name] = id.split('/').slice(-2).map((s) => s.toLowerCase());
  const vm = plan.staging.vmName.toLowerCase();
  return (type === 'networkinterfaces' && name === `${vm}-nic`) || (type === 'disks' && name!.startsWith(`${vm}_osdisk_`));
}

export async function createStagingGroup({ plan, templateName }: CreateStagingGroupInput): Promise<CreateStagingGroupOutput> {
  return operationStatus(async () => {
    const { clients } = activityEnvironment();
    const name = plan.staging.resourceGroupName;
    if (!plan.staging.createdByKiln) {
      const group = await getResourceGroup(clients, name);
      // An existing group the template names is the user's: Kiln leaves its tags alone; it must be empty and in the bake's region.
      if (group && !createdByRun(group, plan)) {
        if (normalizeRegion(group.location) !== normalizeRegion(plan.location)) {
          throw permanentError(`stagingResourceGroup ${plan.staging.resourceGroupId} is in ${group.location}; it must be in the template's location ${plan.location}`, {
            code: 'StagingResourceGroupLocationMismatch',
            resourceId: plan.staging.resourceGroupId,
          });
        }
        // As AIB requires: the group holds nothing but what this run put there (a repeat finds its own resources).
        const foreign = (await listGroupResources(clients, name)).filter((r) => r.tags[TAG_RUN_ID] !== plan.runId && !madeWithBuildVm(r.id, plan));
        if (foreign.length > 0) {
          const shown = foreign.slice(0, 5).map((r) => r.id.split('/').slice(-2).join('/')).join(', ');
          throw permanentError(`stagingResourceGroup ${plan.staging.resourceGroupId} must be empty; it holds ${foreign.length} resource${foreign.length === 1 ? '' : 's'} (${shown}${foreign.length > 5 ? ', …' : ''})`, {
            code: 'StagingResourceGroupNotEmpty',
            resourceId: plan.staging.resourceGroupId,
          });
        }
        return { state: 'Succeeded' };
      }
      // A named group that does not exist is created, as AIB does; its run-id tag marks it as this run's to delete.
    }
    await ensureResourceGroup(clients, name, { location: plan.location, tags: stagingTags(plan, templateName) });
    return { state: 'Succeeded' };
  });
}

// ---- cleanup ---------------------------------------------------------------------------------------------------

/** Poll kinds of the cleanup: the whole group going, or (in a group the template gave) Kiln's own resources. */
export const GROUP_DELETED = 'staging-group-deleted';
export const STAGED_RESOURCES_DELETED = 'staged-resources-deleted';

/** The staging group being deleted; `lro` is the delete this look is waiting for, if any. */
export interface GroupDeletedRef {
  kind: typeof GROUP_DELETED;
  resourceId: string;
  name: string;
  lro: OperationHandle | null;
}

/** Kiln's own resources in a group the template gave, deleted one after another. */
export interface StagedResourcesRef {
  kind: typeof STAGED_RESOURCES_DELETED;
  resourceId: string;
  resourceGroup: string;
  vm: string;
  vnet: string;
  nsg: string;
  /** Kiln created the network (so the VNet and NSG are its to delete). */
  network: boolean;
}

export async function beginDeleteStagingGroup({ plan }: BeginDeleteStagingGroupInput): Promise<OperationStatus> {
  return operationStatus(async () => {
    const { clients } = activityEnvironment();
    // Run Command output may hold unmasked text; it goes with the run's other build leftovers. Deleted while the
    // group is looked at: cleanup's begin, after the delete sent at capture, is then one round trip when it is gone.
    const [, gone] = await Promise.all([
      deleteRunCommandBlobs(clients, plan.runId),
      plan.staging.createdByKiln ? resourceGroupExists(clients, plan.staging.resourceGroupName).then((exists) => !exists) : false,
    ]);
    if (gone) return { state: 'Succeeded' };
    if (!plan.staging.createdByKiln && !createdByRun(await getResourceGroup(clients, plan.staging.resourceGroupName), plan)) {
      return deleteStagedResources(clients, stagedResourcesRef(plan));
    }
    const handle = await startResourceGroupDelete(clients, plan.staging.resourceGroupName);
    if (!handle && !(await resourceGroupExists(clients, plan.staging.resourceGroupName))) return { state: 'Succeeded' };
    return {
      state: 'InProgress',
      operation: { kind: GROUP_DELETED, resourceId: plan.staging.resourceGroupId, name: plan.staging.resourceGroupName, lro: handle ?? null },
    };
  });
}

/** One look at a group deletion: Succeeded only once the group is really gone (HEAD answers 404). */
export async function pollGroupDeleted(clients: AzureClients, ref: GroupDeletedRef): Promise<OperationStatus> {
  const { name, lro } = ref;
  if (!(await resourceGroupExists(clients, name))) return { state: 'Succeeded' };
  if (lro) {
    const status = await pollOperationHandle(clients, lro);
    // The delete finished but the group still answers: ARM's read side lags a moment; look again.
    if (status.done) return { state: 'InProgress', operation: { ...ref, lro: null } };
    return { state: 'InProgress', operation: ref, ...(status.retryAfterMs !== undefined ? { retryAfterMs: status.retryAfterMs } : {}) };
  }
  const group = await getResourceGroup(clients, name);
  if (group?.provisioningState === 'Deleting') return { state: 'InProgress', operation: ref };
  // Still there and nobody deleting it (an earlier delete failed, or ours was lost): start again.
  const handle = await startResourceGroupDelete(clients, name);
  return { state: 'InProgress', operation: { ...ref, lro: handle ?? null } };
}

function stagedResourcesRef(plan: BakePlan): StagedResourcesRef {
  const names = stagingNames(plan.runId, plan.staging.resourceGroupName);
  return {
    kind: STAGED_RESOURCES_DELETED,
    resourceId: plan.staging.resourceGroupId,
    resourceGroup: plan.staging.resourceGroupName,
    vm: plan.staging.vmName,
    vnet: names.vnet,
    nsg: names.nsg,
    network: plan.staging.createNetwork,
  };
}

/**
 * In a group the template gave, Kiln deletes only what it made, in dependency order: the VM (its NIC and disk go
 * with it), then the VNet, then the NSG. Each look starts the next deletion; Succeeded once all are gone.
 */
export async function deleteStagedResources(clients: AzureClients, ref: StagedResourcesRef): Promise<OperationStatus> {
  const rg = ref.resourceGroup;
  const vm = await getVm(clients, rg, ref.vm);
  if (vm) {
    if (vm.provisioningState !== 'Deleting') await startDeleteVm(clients, rg, ref.vm);
    return { state: 'InProgress', operation: ref };
  }
  if (ref.network) {
    const sub = clients.subscriptionId;
    for (const id of [
      providerId(sub, rg, `Microsoft.Network/virtualNetworks/${ref.vnet}`),
      providerId(sub, rg, `Microsoft.Network/networkSecurityGroups/${ref.nsg}`),
    ]) {
      const resource = await getResourceById(clients, id);
      if (!resource) continue;
      if (resource.properties?.['provisioningState'] !== 'Deleting') {
        await startOperation(() => clients.resources.resources.deleteById(id.replace(/^\/+/, ''), NETWORK_API_VERSION), { action: 'delete', resourceId: id, api: 'resources' });
      }
      return { state: 'InProgress', operation: ref };
    }
  }
  return { state: 'Succeeded' };
}

/** The undo of the whole staging (beginDeleteStagingGroup) is polled by these. */
export const cleanupPollers: Pollers<typeof GROUP_DELETED | typeof STAGED_RESOURCES_DELETED> = {
  [GROUP_DELETED]: (env, ref) => pollGroupDeleted(env.clients, ref),
  [STAGED_RESOURCES_DELETED]: (env, ref) => deleteStagedResources(env.clients, ref),
};
