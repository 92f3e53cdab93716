/** The staging network (NSG + VNet with one subnet), through ARM's generic resources-by-id API. */

import type { GenericResource } from '@azure/arm-resources';
import type { AzureClients } from './clients.ts';
import { getIfExists } from './errors.ts';
import { providerId } from './ids.ts';
import { startOperation, type OperationHandle } from './operations.ts';

/** Microsoft.Network api-version for the generic calls (ARM takes whatever the caller names). */
export const NETWORK_API_VERSION = '2024-05-01';

export interface StagingNetworkNames {
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  vnet: string;
  subnet: string;
  nsg: string;
  tags: Record<string, string>;
}

export function networkSecurityGroupId(n: StagingNetworkNames): string {
  return providerId(n.subscriptionId, n.resourceGroup, `Microsoft.Network/networkSecurityGroups/${n.nsg}`);
}

export function virtualNetworkId(n: StagingNetworkNames): string {
  return providerId(n.subscriptionId, n.resourceGroup, `Microsoft.Network/virtualNetworks/${n.vnet}`);
}


/**
 * The NSG denies all inbound traffic from the internet: the build VM has no public IP and Kiln reaches it only
 * through Run Command, which needs outbound 443 alone (allowed by the default rules).
 */
export function networkSecurityGroupBody(n: StagingNetworkNames): GenericResource {
  return {
    location: n.location,
    tags: n.tags,
    properties: {
      securityRules: [
        {
          name: 'deny-internet-inbound',
          properties: {
            priority: 4000,
            direction: 'Inbound',
            access: 'Deny',
            protocol: '*',
            sourceAddressPrefix: 'Internet',
            sourcePortRange: '*',
            destinationAddressPrefix: '*',
            destinationPortRange: '*',
          },
        },
      ],
    },
  };
}

export function virtualNetworkBody(n: StagingNetworkNames): GenericResource {
  return {
    location: n.location,
    tags: n.tags,
    properties: {
      addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
      subnets: [
        {
          name: n.subnet,
          properties: { addressPrefix: '10.0.1.0/24', networkSecurityGroup: { id: networkSecurityGroupId(n) } },
        },
      ],
    },
  };
}

/** The SDK expands `/{+resourceId}`; an id that keeps its leading slash would give `//subscriptions/…`. */
function byId(id: string): string {
  return id.replace(/^\/+/, '');
}

export async function getResourceById(clients: AzureClients, id: string): Promise<GenericResource | undefined> {
  return getIfExists('read', id, () => clients.resources.resources.getById(byId(id), NETWORK_API_VERSION));
}

function provisioned(resource: GenericResource | undefined): boolean {
  return resource?.properties?.['provisioningState'] === 'Succeeded';
}

/** Starts creating whatever part of the staging network is missing; an empty list means it is all there. */
export async function startStagingNetwork(clients: AzureClients, n: StagingNetworkNames): Promise<OperationHandle[]> {
  const nsgId = networkSecurityGroupId(n);
  const vnetId = virtualNetworkId(n);
  const [nsg, vnet] = await Promise.all([getResourceById(clients, nsgId), getResourceById(clients, vnetId)]);
  const handles: OperationHandle[] = [];
  if (!provisioned(nsg)) {
    const handle = await startOperation(() => clients.resources.resources.createOrUpdateById(byId(nsgId), NETWORK_API_VERSION, networkSecurityGroupBody(n)), {
      action: 'create network security group',
      resourceId: nsgId,
      api: 'resources',
    });
    if (handle) handles.push(handle);
  }
  if (!provisioned(vnet)) {
    // The subnet refers to the NSG by id; ARM accepts the reference while the NSG is still provisioning.
    const handle = await startOperation(() => clients.resources.resources.createOrUpdateById(byId(vnetId), NETWORK_API_VERSION, virtualNetworkBody(n)), {
      action: 'create virtual network',
      resourceId: vnetId,
      api: 'resources',
    });
    if (handle) handles.push(handle);
  }
  return handles;
}
