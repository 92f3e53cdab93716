/**
 * ARM's linked access checks: a write whose body references another resource (a NIC's subnet, a VM's identity, a
 * scale set's image) also needs an action on that resource's id; ARM checks them from the request body after the
 * request's own action and before the provider sees the request, and refuses with 403 LinkedAuthorizationFailed.
 */
import { errors } from '../errors.ts';
import type { PermissionGrants } from './authorization.ts';
import { requestAction } from './authorization-actions.ts';

const SUBNET_JOIN = 'Microsoft.Network/virtualNetworks/subnets/join/action';
const NSG_JOIN = 'Microsoft.Network/networkSecurityGroups/join/action';
const NIC_JOIN = 'Microsoft.Network/networkInterfaces/join/action';
const POOL_JOIN = 'Microsoft.Network/loadBalancers/backendAddressPools/join/action';
const PROBE_JOIN = 'Microsoft.Network/loadBalancers/probes/join/action';
const IDENTITY_ASSIGN = 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action';

/** An image reference's id: a gallery version or definition (latest) is read as a version, a managed image as an image. */
function imageRead(id: string): string | undefined {
  if (/\/providers\/Microsoft\.Compute\/galleries\/[^/]+\/images\/[^/]+(\/versions\/[^/]+)?$/i.test(id)) return 'Microsoft.Compute/galleries/images/versions/read';
  if (/\/providers\/Microsoft\.Compute\/images\/[^/]+$/i.test(id)) return 'Microsoft.Compute/images/read';
  return undefined;
}

/**
 * Where a body references another resource, and the action that reference needs. A path is dot-separated property
 * names; `[]` after a name stands for each element of that array, `{}` for each key of that object.
 */
type Link = [path: string, action: string | ((id: string) => string | undefined)];

const ipConfigurationLinks = (at: string): Link[] => [[`${at}.properties.subnet.id`, SUBNET_JOIN], [`${at}.properties.loadBalancerBackendAddressPools[].id`, POOL_JOIN]];
/** A VM's or scale set's inline NIC: its IP configurations and its NSG. */
const nicConfigurationLinks = (at: string): Link[] => [...ipConfigurationLinks(`${at}.properties.ipConfigurations[]`), [`${at}.properties.networkSecurityGroup.id`, NSG_JOIN]];

/** By the request's own action (lower case), as a provider's manifest declares them. */
const LINKS: Record<string, Link[]> = {
  'microsoft.network/networkinterfaces/write': [...ipConfigurationLinks('properties.ipConfigurations[]'), ['properties.networkSecurityGroup.id', NSG_JOIN]],
  'microsoft.network/virtualnetworks/subnets/write': [['properties.networkSecurityGroup.id', NSG_JOIN]],
  'microsoft.network/virtualnetworks/write': [['properties.subnets[].properties.networkSecurityGroup.id', NSG_JOIN]],
  'microsoft.compute/virtualmachines/write': [
    ['properties.networkProfile.networkInterfaces[].id', NIC_JOIN],
    ...nicConfigurationLinks('properties.networkProfile.networkInterfaceConfigurations[]'),
    ['identity.userAssignedIdentities{}', IDENTITY_ASSIGN],
    ['properties.storageProfile.imageReference.id', imageRead],
  ],
  'microsoft.compute/virtualmachinescalesets/write': [
    ...nicConfigurationLinks('properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[]'),
    ['properties.virtualMachineProfile.networkProfile.healthProbe.id', PROBE_JOIN],
    ['identity.userAssignedIdentities{}', IDENTITY_ASSIGN],
    ['properties.virtualMachineProfile.storageProfile.imageReference.id', imageRead],
  ],
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The strings a path reaches in a body (an id that is not a string is the provider's to refuse). */
function valuesAt(value: unknown, steps: string[]): string[] {
  if (steps.length === 0) return typeof value === 'string' ? [value] : [];
  const [step, ...rest] = steps as [string, ...string[]];
  if (!isObject(value)) return [];
  if (step.endsWith('{}')) {
    const map = value[step.slice(0, -2)];
    return isObject(map) ? Object.keys(map).flatMap((key) => valuesAt(key, rest)) : [];
  }
  if (step.endsWith('[]')) {
    const list = value[step.slice(0, -2)];
    return Array.isArray(list) ? list.flatMap((item) => valuesAt(item, rest)) : [];
  }
  return valuesAt(value[step], rest);
}

export interface LinkedAction {
  action: string;
  scope: string;
}

/** The linked actions a request's body needs, each once, in body order; only ids inside a subscription are scopes. */
export function linkedActions(method: string, path: string, body: unknown): LinkedAction[] {
  const own = requestAction(method, path);
  const links = own ? LINKS[own.action.toLowerCase()] : undefined;
  if (!links) return [];
  const seen = new Map<string, LinkedAction>();
  for (const [linkPath, action] of links) {
    for (const id of valuesAt(body, linkPath.split('.'))) {
      const needed = typeof action === 'string' ? action : action(id);
      if (!needed || !/^\/subscriptions\/[^/]+\//i.test(id)) continue;
      const key = `${needed}|${id}`.toLowerCase();
      if (!seen.has(key)) seen.set(key, { action: needed, scope: id });
    }
  }
  return [...seen.values()];
}

/** Throws ARM's 403 LinkedAuthorizationFailed, naming every linked action the grants do not allow at its scope. */
export function authorizeLinked(grants: PermissionGrants, request: { method: string; path: string; body: unknown }): void {
  const own = requestAction(request.method, request.path);
  if (!own) return;
  const refused = linkedActions(request.method, request.path, request.body).filter((l) => !grants.allows(l.action, l.scope));
  if (refused.length > 0) throw errors.linkedAuthorizationFailed(own.action, own.scope, refused);
}
