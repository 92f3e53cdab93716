/** ARM resource ids: build the ones Kiln creates and take apart the ones a template gives. */

export interface ParsedResourceId {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Provider namespace, e.g. Microsoft.Compute. */
  provider: string;
  /** Type/name pairs below the provider, e.g. [['galleries','g'],['images','def']]. */
  segments: Array<[type: string, name: string]>;
}

/** Parses `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}…]`. */
export function parseResourceId(id: string): ParsedResourceId {
  const parts = id.split('/').filter((p) => p !== '');
  const bad = (why: string) =>
    new Error(`resource id ${JSON.stringify(id)}: expected /subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}, ${why}`);
  if (parts[0]?.toLowerCase() !== 'subscriptions' || !parts[1]) throw bad('found no subscription');
  if (parts[2]?.toLowerCase() !== 'resourcegroups' || !parts[3]) throw bad('found no resource group');
  if (parts[4]?.toLowerCase() !== 'providers' || !parts[5]) throw bad('found no provider');
  const rest = parts.slice(6);
  if (rest.length === 0 || rest.length % 2 !== 0) throw bad('found an incomplete type/name path');
  const segments: Array<[string, string]> = [];
  for (let i = 0; i < rest.length; i += 2) segments.push([rest[i]!, rest[i + 1]!]);
  return { id, subscriptionId: parts[1], resourceGroup: parts[3], provider: parts[5], segments };
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function providerId(subscriptionId: string, resourceGroup: string, path: string): string {
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${path}`;
}

export function virtualMachineId(subscriptionId: string, resourceGroup: string, vm: string): string {
  return providerId(subscriptionId, resourceGroup, `Microsoft.Compute/virtualMachines/${vm}`);
}

export function runCommandId(subscriptionId: string, resourceGroup: string, vm: string, name: string): string {
  return `${virtualMachineId(subscriptionId, resourceGroup, vm)}/runCommands/${name}`;
}

export function subnetResourceId(subscriptionId: string, resourceGroup: string, vnet: string, subnet: string): string {
  return providerId(subscriptionId, resourceGroup, `Microsoft.Network/virtualNetworks/${vnet}/subnets/${subnet}`);
}

export function galleryImageVersionId(imageDefinitionId: string, version: string): string {
  return `${imageDefinitionId}/versions/${version}`;
}

export function scaleSetId(subscriptionId: string, resourceGroup: string, scaleSet: string): string {
  return providerId(subscriptionId, resourceGroup, `Microsoft.Compute/virtualMachineScaleSets/${scaleSet}`);
}
