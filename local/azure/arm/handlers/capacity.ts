/**
 * What a subscription may create where: the regions each resource type is offered in (`providers/{namespace}`, by
 * display name as Azure lists them), VM sizes per region (`Microsoft.Compute/skus`) and vCPU usage (`usages`).
 */
import { withContext, type HandlerContext } from '../context.ts';
import type { ArmRequest, ArmResponse } from '../http.ts';
import { errors } from '../errors.ts';
import { checkLocation, displayName, regionNames } from '../regions.ts';
import type { Route } from '../routes.ts';
import { resourceSkus } from '../catalogue/vm-sizes.ts';
import { coreUsage } from './virtualMachines.ts';

/** `location eq 'eastus'` is the one filter Azure's skus API supports. */
function locationFilter(filter: string | null): string | undefined {
  if (!filter) return undefined;
  const match = /^\s*location\s+eq\s+'([^']+)'\s*$/i.exec(filter);
  if (!match) throw errors.invalidFilter(filter, "location eq '{location}'");
  return checkLocation(match[1]!, 'Microsoft.Compute/skus', '$filter');
}

/** Azure's localized names for the family quotas ("standardDSv5Family" → "Standard DSv5 Family vCPUs"). */
const familyLabel = (family: string): string => `Standard ${family.replace(/^standard/, '').replace(/Family$/, '')} Family vCPUs`;

/** The resource types the emulator serves, per provider. */
const PROVIDERS: Record<string, string[]> = {
  'Microsoft.Compute': ['virtualMachines', 'virtualMachineScaleSets', 'images', 'galleries', 'galleries/images', 'galleries/images/versions', 'disks', 'locations', 'skus'],
  'Microsoft.Network': ['virtualNetworks', 'virtualNetworks/subnets', 'networkSecurityGroups', 'networkInterfaces'],
  'Microsoft.KeyVault': ['vaults'],
};

export function getProvider(_ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const namespace = Object.keys(PROVIDERS).find((n) => n.toLowerCase() === req.params.namespace!.toLowerCase());
  if (!namespace) throw errors.invalidResourceNamespace(req.params.namespace!);
  const locations = regionNames().map(displayName);
  return {
    status: 200,
    body: {
      id: `/subscriptions/${req.params.sub}/providers/${namespace}`, namespace, registrationState: 'Registered', registrationPolicy: 'RegistrationRequired',
      resourceTypes: PROVIDERS[namespace]!.map((resourceType) => ({ resourceType, locations, apiVersions: [], capabilities: 'None' })),
    },
  };
}

export const listResourceSkus = (_ctx: HandlerContext, req: ArmRequest): ArmResponse =>
  ({ status: 200, body: { value: resourceSkus(locationFilter(req.query.get('$filter'))) } });

export function listUsage(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const location = checkLocation(req.params.location!, 'Microsoft.Compute/locations/usages');
  const usage = coreUsage(ctx, req.params.sub!, location);
  const families = new Set([...resourceSkus(location).map((s) => String(s.family)), ...usage.families.keys()]);
  const value = [
    { unit: 'Count', currentValue: usage.total, limit: ctx.coreLimits.total, name: { value: 'cores', localizedValue: 'Total Regional vCPUs' } },
    ...[...families].sort().map((family) => ({ unit: 'Count', currentValue: usage.families.get(family) ?? 0, limit: ctx.coreLimits.family, name: { value: family, localizedValue: familyLabel(family) } })),
  ];
  return { status: 200, body: { value } };
}

/** The route table: each operation's function, given the context. */
export function capacityRoutes(ctx: HandlerContext): Route[] {
  const on = withContext(ctx);
  return [
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/{namespace}', operation: 'providers.get', api: 'resources', handler: on(getProvider) },
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Compute/skus', operation: 'resourceSkus.list', api: 'skus', handler: on(listResourceSkus) },
    { method: 'GET', pattern: '/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/usages', operation: 'usage.list', api: 'compute', handler: on(listUsage) },
  ];
}
