/** Parses Azure Resource Manager ids and checks that one names the expected resource type. */

export interface ArmId {
  /** The id as given. */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Provider type with child types, e.g. `Microsoft.Compute/galleries/images`; '' for a resource group id. */
  type: string;
  /** Resource names along the type chain, e.g. ['kilnGallery', 'ubuntu-web']. */
  names: string[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Azure's resource-group rule: 1-90 of letters, digits, `-_.()`, not ending in a period.
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
const RESOURCE_NAME = /^[^/?#\s]{1,260}$/;

/** Returns the parts of `id`, or undefined when it is not a well-formed subscription-scoped ARM id. */
export function parseArmId(id: string): ArmId | undefined {
  const parts = id.split('/');
  if (parts.length < 5 || parts[0] !== '') return undefined;
  const [, subscriptions, subscriptionId = '', resourceGroups, resourceGroup = ''] = parts;
  if (subscriptions?.toLowerCase() !== 'subscriptions' || !GUID.test(subscriptionId)) return undefined;
  if (resourceGroups?.toLowerCase() !== 'resourcegroups' || !RESOURCE_GROUP.test(resourceGroup)) return undefined;
  const rest = parts.slice(5);
  if (rest.length === 0) return { id, subscriptionId, resourceGroup, type: '', names: [] };
  // providers/{namespace}/{type}/{name}[/{childType}/{childName}…]
  const [providers, namespace = '', ...pairs] = rest;
  if (providers?.toLowerCase() !== 'providers' || !/^[A-Za-z][\w.]*$/.test(namespace)) return undefined;
  if (pairs.length === 0 || pairs.length % 2 !== 0) return undefined;
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const type = pairs[i] ?? '';
    const name = pairs[i + 1] ?? '';
    if (!/^[A-Za-z]\w*$/.test(type) || !RESOURCE_NAME.test(name)) return undefined;
    types.push(type);
    names.push(name);
  }
  return { id, subscriptionId, resourceGroup, type: `${namespace}/${types.join('/')}`, names };
}

/** The resource types templates refer to, with the id shape shown in error messages. */
export const ARM_TYPES = {
  resourceGroup: { type: '', example: '/subscriptions/{subscription}/resourceGroups/{group}' },
  galleryImage: {
    type: 'Microsoft.Compute/galleries/images',
    example: '/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}',
  },
  galleryImageVersion: {
    type: 'Microsoft.Compute/galleries/images/versions',
    example:
      '/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}/versions/{version}',
  },
  managedImage: {
    type: 'Microsoft.Compute/images',
    example: '/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/images/{image}',
  },
  scaleSet: {
    type: 'Microsoft.Compute/virtualMachineScaleSets',
    example: '/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}',
  },
  subnet: {
    type: 'Microsoft.Network/virtualNetworks/subnets',
    example: '/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}',
  },
  userAssignedIdentity: {
    type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
    example:
      '/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}',
  },
} as const;

export type ArmKind = keyof typeof ARM_TYPES;

/** Parses `id` and checks its resource type (ARM types compare case-insensitively). */
export function parseArmIdOf(kind: ArmKind, id: string): ArmId | undefined {
  const parsed = parseArmId(id);
  if (!parsed || parsed.type.toLowerCase() !== ARM_TYPES[kind].type.toLowerCase()) return undefined;
  return parsed;
}
