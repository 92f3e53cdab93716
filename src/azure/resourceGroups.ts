/** Resource groups: the staging group a bake builds in, its tags, its deletion, and the janitor's listing. */

import type { ResourceGroup } from '@azure/arm-resources';
import type { AzureClients } from './clients.ts';
import { callAzure, getIfExists } from './errors.ts';
import { resourceGroupId } from './ids.ts';
import { startOperation, type OperationHandle } from './operations.ts';

/** Tags Kiln puts on every staging group; the janitor finds expired ones by them. */
export const TAG_MANAGED = 'kiln-managed';
export const TAG_RUN_ID = 'kiln-run-id';
export const TAG_EXPIRES_AT = 'kiln-expires-at';

export interface ResourceGroupInfo {
  name: string;
  id: string;
  location: string;
  tags: Record<string, string>;
  provisioningState: string | undefined;
}

function info(clients: AzureClients, rg: ResourceGroup, name: string): ResourceGroupInfo {
  return {
    name: rg.name ?? name,
    id: resourceGroupId(clients.subscriptionId, rg.name ?? name),
    location: rg.location,
    tags: rg.tags ?? {},
    provisioningState: rg.properties?.provisioningState,
  };
}

export async function getResourceGroup(clients: AzureClients, name: string): Promise<ResourceGroupInfo | undefined> {
  const id = resourceGroupId(clients.subscriptionId, name);
  const rg = await getIfExists('read resource group', id, () => clients.resources.resourceGroups.get(name));
  return rg && info(clients, rg, name);
}

/** Creates the group or updates its tags (PUT is create-or-update, so a repeat is harmless). */
export async function ensureResourceGroup(
  clients: AzureClients,
  name: string,
  options: { location: string; tags: Record<string, string> },
): Promise<ResourceGroupInfo> {
  const id = resourceGroupId(clients.subscriptionId, name);
  const rg = await callAzure('create resource group', id, () =>
    clients.resources.resourceGroups.createOrUpdate(name, { location: options.location, tags: options.tags }),
  );
  return info(clients, rg, name);
}

/** Starts deleting the group; undefined when it is already gone (deleting what is gone is success). */
export async function startResourceGroupDelete(clients: AzureClients, name: string): Promise<OperationHandle | undefined> {
  const id = resourceGroupId(clients.subscriptionId, name);
  const exists = await callAzure('check resource group', id, () => clients.resources.resourceGroups.checkExistence(name));
  if (!exists.body) return undefined;
  return startOperation(
    () =>
      clients.resources.resourceGroups.delete(name, {
        // VMs and scale sets go first and in bulk; a stuck VM must not keep the group alive.
        forceDeletionTypes: 'Microsoft.Compute/virtualMachines,Microsoft.Compute/virtualMachineScaleSets',
      }),
    { action: 'delete resource group', resourceId: id, api: 'resources' },
  );
}

export async function resourceGroupExists(clients: AzureClients, name: string): Promise<boolean> {
  const id = resourceGroupId(clients.subscriptionId, name);
  const exists = await callAzure('check resource group', id, () => clients.resources.resourceGroups.checkExistence(name));
  return exists.body === true;
}

/** Every group carrying tag `name` = `value` (server-side filter). */
export async function listResourceGroupsByTag(clients: AzureClients, name: string, value: string): Promise<ResourceGroupInfo[]> {
  const scope = `/subscriptions/${clients.subscriptionId}`;
  return callAzure('list resource groups in', scope, async () => {
    const out: ResourceGroupInfo[] = [];
    for await (const rg of clients.resources.resourceGroups.list({ filter: `tagName eq '${name}' and tagValue eq '${value}'` })) {
      if (rg.name) out.push(info(clients, rg, rg.name));
    }
    return out;
  });
}

/** The resources in a group, with their tags (a staging group the template names must hold none but the run's own). */
export async function listGroupResources(clients: AzureClients, name: string): Promise<Array<{ id: string; type: string; tags: Record<string, string> }>> {
  const id = resourceGroupId(clients.subscriptionId, name);
  return callAzure('list resources in', id, async () => {
    const out: Array<{ id: string; type: string; tags: Record<string, string> }> = [];
    for await (const r of clients.resources.resources.listByResourceGroup(name)) out.push({ id: r.id ?? '', type: r.type ?? '', tags: r.tags ?? {} });
    return out;
  });
}
