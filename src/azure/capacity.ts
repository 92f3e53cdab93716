/** What the subscription may create where: regions a resource type is offered in, VM sizes per region, vCPU usage. */

import type { AzureClients } from './clients.ts';
import { callAzure } from './errors.ts';
import { normalizeRegion } from './regions.ts';

export interface VmSizeFacts {
  name: string;
  family?: string;
  vCPUs?: number;
  hyperVGenerations: string[];
  /** Why the subscription may not use the size there (Azure's reasonCode), when it may not. */
  restriction?: string;
}

/** The regions (ARM names) a provider offers a resource type in; Azure lists them by display name. */
export async function resourceTypeRegions(clients: AzureClients, namespace: string, resourceType: string): Promise<Set<string>> {
  const provider = await callAzure('read resource provider', `/subscriptions/${clients.subscriptionId}/providers/${namespace}`, () => clients.resources.providers.get(namespace));
  const type = provider.resourceTypes?.find((t) => t.resourceType?.toLowerCase() === resourceType.toLowerCase());
  return new Set((type?.locations ?? []).map(normalizeRegion));
}

/** The VM size as `Microsoft.Compute/skus` describes it in a region, or undefined when the region does not offer it. */
export async function vmSizeIn(clients: AzureClients, location: string, vmSize: string): Promise<VmSizeFacts | undefined> {
  const region = normalizeRegion(location);
  return callAzure('list VM sizes in', `/subscriptions/${clients.subscriptionId}/providers/Microsoft.Compute/skus`, async () => {
    for await (const sku of clients.compute.resourceSkus.list({ filter: `location eq '${region}'` })) {
      if (sku.resourceType !== 'virtualMachines' || sku.name?.toLowerCase() !== vmSize.toLowerCase()) continue;
      if (!(sku.locations ?? []).some((l) => normalizeRegion(l) === region)) continue;
      const capability = (name: string) => sku.capabilities?.find((c) => c.name === name)?.value;
      const restriction = sku.restrictions?.find((r) => r.type === 'Location' && (r.values ?? []).some((v) => normalizeRegion(v) === region));
      const vCPUs = Number(capability('vCPUs'));
      return {
        name: sku.name,
        ...(sku.family ? { family: sku.family } : {}),
        ...(Number.isFinite(vCPUs) ? { vCPUs } : {}),
        hyperVGenerations: (capability('HyperVGenerations') ?? 'V1').split(','),
        ...(restriction ? { restriction: restriction.reasonCode ?? 'restricted' } : {}),
      };
    }
    return undefined;
  });
}

export interface CoreUsage {
  name: string;
  current: number;
  limit: number;
}

/** vCPU usage and limits in a region, by quota name (`cores`, `standardDSv5Family`, …). */
export async function coreUsage(clients: AzureClients, location: string): Promise<Map<string, CoreUsage>> {
  const region = normalizeRegion(location);
  return callAzure('read usage in', `/subscriptions/${clients.subscriptionId}/providers/Microsoft.Compute/locations/${region}/usages`, async () => {
    const usage = new Map<string, CoreUsage>();
    for await (const u of clients.compute.usage.list(region)) {
      const name = u.name?.value;
      if (name) usage.set(name.toLowerCase(), { name: u.name?.localizedValue ?? name, current: u.currentValue, limit: u.limit });
    }
    return usage;
  });
}
