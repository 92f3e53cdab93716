// The emulator's conformance suite: request/response pairs written from the REST API specs' operations and
// Azure's documented error codes, replayed over HTTPS in order against a seeded emulator. Each pair names the
// operation it exercises and, for a rejection, the rule; the suite checks every operation Kiln calls has a happy
// path and every rule a rejection, and prints the counts.
import { request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureEmulator, type AzureEmulator } from '../../local/azure/index.ts';

const SUB = '/subscriptions/00000000-0000-0000-0000-000000000000';
const RG = `${SUB}/resourceGroups/conformance`;
const COMPUTE = `${RG}/providers/Microsoft.Compute`;
const NETWORK = `${RG}/providers/Microsoft.Network`;
const GALLERY = `${COMPUTE}/galleries/confGallery`;
const MARKETPLACE = `${SUB}/providers/Microsoft.Compute/locations/eastus/publishers`;
const API = { resources: '2025-04-01', compute: '2026-04-01', gallery: '2025-12-03', network: '2024-05-01', skus: '2021-07-01', disk: '2026-03-02', authorization: '2022-04-01' } as const;
const PERMISSIONS = 'providers/Microsoft.Authorization/permissions';
const UBUNTU = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };
const SUBNET = `${NETWORK}/virtualNetworks/vnet/subnets/build`;
const NIC = `${NETWORK}/networkInterfaces`;
const nicBody = (location: string, subnet: string | undefined) =>
  ({ location, properties: { ipConfigurations: subnet ? [{ name: 'ipconfig1', properties: { subnet: { id: subnet } } }] : [] } });

interface Pair {
  /** The SDK's operation name. */
  operation: string;
  /** For a rejection: the rule it shows. */
  rule?: string;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  api: keyof typeof API;
  body?: unknown;
  /** The response: status, and for an error Azure's code; `match` is a partial body. */
  status: number;
  code?: string;
  match?: Record<string, unknown>;
  /** Wait for the operation the request started before the next pair. */
  settle?: boolean;
  /** What the caller holds from this pair on (Microsoft.Authorization/permissions grants). */
  grants?: Array<{ scope: string; actions: string[]; notActions?: string[] }>;
}

/** Each VM body gets a NIC of its own name (a NIC another VM holds is refused), unless the pair names one. */
let nicCount = 0;
const vm = (over: { location?: string; vmSize?: string; image?: Record<string, unknown>; computerName?: string; osProfile?: Record<string, unknown>; osDisk?: Record<string, unknown>; subnet?: string; plan?: unknown; nics?: unknown[]; nicName?: string; securityType?: string } = {}) => ({
  location: over.location ?? 'eastus',
  ...(over.plan ? { plan: over.plan } : {}),
  properties: {
    ...(over.securityType ? { securityProfile: { securityType: over.securityType, uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } } } : {}),
    hardwareProfile: { vmSize: over.vmSize ?? 'Standard_D2s_v5' },
    storageProfile: { imageReference: over.image ?? UBUNTU, osDisk: { createOption: 'FromImage', ...(over.osDisk ?? {}) } },
    osProfile: over.osProfile ?? { computerName: over.computerName ?? 'confvm', adminUsername: 'azureuser', adminPassword: 'Conformance-Passw0rd!' },
    networkProfile: over.nics ? { networkInterfaces: over.nics } : {
      networkApiVersion: '2022-11-01',
      networkInterfaceConfigurations: [{ name: over.nicName ?? `nic-${++nicCount}`, properties: { primary: true, ipConfigurations: [{ name: 'ip', properties: { subnet: { id: over.subnet ?? SUBNET } } }] } }],
    },
  },
});
const WINDOWS = { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' };

const PAIRS: Pair[] = [
  // ---- regions and resource groups ----
  { operation: 'providers.get', method: 'GET', path: `${SUB}/providers/Microsoft.Compute`, api: 'resources', status: 200, match: { namespace: 'Microsoft.Compute', registrationState: 'Registered' } },
  { operation: 'providers.get', rule: 'unknown provider namespace', method: 'GET', path: `${SUB}/providers/Microsoft.Nope`, api: 'resources', status: 404, code: 'InvalidResourceNamespace' },
  { operation: 'resourceGroups.createOrUpdate', method: 'PUT', path: RG, api: 'resources', body: { location: 'East US' }, status: 201, match: { name: 'conformance', location: 'eastus' } },
  { operation: 'resourceGroups.createOrUpdate', rule: 'location must be a region', method: 'PUT', path: `${SUB}/resourceGroups/on-mars`, api: 'resources', body: { location: 'mars' }, status: 400, code: 'LocationNotAvailableForResourceGroup' },
  { operation: 'resourceGroups.get', method: 'GET', path: RG, api: 'resources', status: 200, match: { properties: { provisioningState: 'Succeeded' } } },
  { operation: 'virtualMachines.list', method: 'GET', path: `${COMPUTE}/virtualMachines`, api: 'compute', status: 200, match: { value: [] } },
  { operation: 'resourceGroups.checkExistence', method: 'HEAD', path: RG, api: 'resources', status: 204 },
  { operation: 'resourceGroups.checkExistence', rule: 'missing group', method: 'HEAD', path: `${SUB}/resourceGroups/none-such`, api: 'resources', status: 404 },
  { operation: 'resourceGroups.list', method: 'GET', path: `${SUB}/resourcegroups?$filter=${encodeURIComponent("tagName eq 'kiln-run' and tagValue eq 'x'")}`, api: 'resources', status: 200, match: { value: [] } },
  { operation: 'resources.listByResourceGroup', method: 'GET', path: `${RG}/resources`, api: 'resources', status: 200, match: { value: [] } },
  { operation: 'resourceGroups.get', rule: 'missing group', method: 'GET', path: `${SUB}/resourceGroups/none-such`, api: 'resources', status: 404, code: 'ResourceGroupNotFound' },

  // ---- permissions (the caller's, by scope: everything at the subscription unless told) ----
  { operation: 'permissions.list', method: 'GET', path: `${SUB}/${PERMISSIONS}`, api: 'authorization', status: 200, match: { value: [{ actions: ['*'], notActions: [] }] } },
  { operation: 'permissions.list', method: 'GET', path: `${RG}/${PERMISSIONS}`, api: 'authorization', status: 200, match: { value: [{ actions: ['*'] }] } },
  { operation: 'permissions.list', rule: 'missing group', method: 'GET', path: `${SUB}/resourceGroups/none-such/${PERMISSIONS}`, api: 'authorization', status: 404, code: 'ResourceGroupNotFound' },
  { operation: 'permissions.list', method: 'GET', path: `${GALLERY}/${PERMISSIONS}`, api: 'authorization', status: 200,
    grants: [{ scope: SUB, actions: ['Microsoft.Authorization/*/read', 'Microsoft.Compute/*/read'] }, { scope: GALLERY, actions: ['Microsoft.Compute/galleries/*'], notActions: ['Microsoft.Compute/galleries/delete'] }],
    match: { value: [{ actions: ['Microsoft.Authorization/*/read', 'Microsoft.Compute/*/read'] }, { actions: ['Microsoft.Compute/galleries/*'], notActions: ['Microsoft.Compute/galleries/delete'] }] } },
  { operation: 'permissions.list', rule: 'listing permissions needs Microsoft.Authorization/permissions/read', method: 'GET', path: `${RG}/${PERMISSIONS}`, api: 'authorization', status: 403, code: 'AuthorizationFailed',
    grants: [{ scope: SUB, actions: ['Microsoft.Compute/*'] }] },
  { operation: 'resourceGroups.createOrUpdate', rule: 'a request needs its action among the grants at its scope', method: 'PUT', path: `${SUB}/resourceGroups/not-allowed`, api: 'resources', body: { location: 'eastus' }, status: 403, code: 'AuthorizationFailed',
    match: { error: { message: expect.stringContaining(`perform action 'Microsoft.Resources/subscriptions/resourceGroups/write' over scope '${SUB}/resourceGroups/not-allowed'`) } } },
  { operation: 'virtualMachines.list', method: 'GET', path: `${COMPUTE}/virtualMachines`, api: 'compute', status: 200 },
  { operation: 'permissions.list', method: 'GET', path: `${SUB}/${PERMISSIONS}`, api: 'authorization', status: 200, grants: [{ scope: SUB, actions: ['*'] }] },

  // ---- network ----
  { operation: 'networkSecurityGroups.createOrUpdate', method: 'PUT', path: `${NETWORK}/networkSecurityGroups/nsg`, api: 'network', settle: true, status: 201,
    body: { location: 'eastus', properties: { securityRules: [{ name: 'deny-in', properties: { priority: 4000, direction: 'Inbound', access: 'Deny', protocol: '*', sourceAddressPrefix: 'Internet', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '*' } }] } } },
  { operation: 'networkSecurityGroups.createOrUpdate', rule: 'NSG rule priority 100–4096', method: 'PUT', path: `${NETWORK}/networkSecurityGroups/bad`, api: 'network', status: 400, code: 'SecurityRuleInvalidPriority',
    body: { location: 'eastus', properties: { securityRules: [{ name: 'low', properties: { priority: 5, direction: 'Inbound', access: 'Allow', protocol: '*' } }] } } },
  { operation: 'networkSecurityGroups.createOrUpdate', rule: 'NSG rules unique per priority and direction', method: 'PUT', path: `${NETWORK}/networkSecurityGroups/bad`, api: 'network', status: 400, code: 'SecurityRuleConflict',
    body: { location: 'eastus', properties: { securityRules: [{ name: 'a', properties: { priority: 200, direction: 'Inbound', access: 'Allow', protocol: '*' } }, { name: 'b', properties: { priority: 200, direction: 'Inbound', access: 'Deny', protocol: '*' } }] } } },
  { operation: 'virtualNetworks.createOrUpdate', method: 'PUT', path: `${NETWORK}/virtualNetworks/vnet`, api: 'network', settle: true, status: 201,
    body: { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'build', properties: { addressPrefix: '10.0.1.0/24', networkSecurityGroup: { id: `${NETWORK}/networkSecurityGroups/nsg` } } }] } } },
  { operation: 'virtualNetworks.createOrUpdate', rule: 'address prefix in CIDR notation', method: 'PUT', path: `${NETWORK}/virtualNetworks/banana`, api: 'network', status: 400, code: 'InvalidAddressPrefixFormat',
    body: { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['banana'] } } } },
  { operation: 'virtualNetworks.createOrUpdate', rule: 'prefix aligned to its length', method: 'PUT', path: `${NETWORK}/virtualNetworks/misaligned`, api: 'network', status: 400, code: 'InvalidCIDRNotation',
    body: { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.1/16'] } } } },
  { operation: 'virtualNetworks.createOrUpdate', rule: 'subnet inside its VNet', method: 'PUT', path: `${NETWORK}/virtualNetworks/outside`, api: 'network', status: 400, code: 'NetcfgSubnetRangeOutsideVnet',
    body: { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 's', properties: { addressPrefix: '10.1.0.0/24' } }] } } },
  { operation: 'virtualNetworks.createOrUpdate', rule: 'subnets do not overlap', method: 'PUT', path: `${NETWORK}/virtualNetworks/overlap`, api: 'network', status: 400, code: 'NetcfgSubnetRangesOverlap',
    body: { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'a', properties: { addressPrefix: '10.0.0.0/23' } }, { name: 'b', properties: { addressPrefix: '10.0.1.0/24' } }] } } },
  { operation: 'virtualNetworks.createOrUpdate', rule: 'referenced NSG exists in the region', method: 'PUT', path: `${NETWORK}/virtualNetworks/nonsg`, api: 'network', status: 400, code: 'InvalidResourceReference',
    body: { location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 's', properties: { addressPrefix: '10.0.0.0/24', networkSecurityGroup: { id: `${NETWORK}/networkSecurityGroups/missing` } } }] } } },
  { operation: 'virtualNetworks.createOrUpdate', rule: 'location must be a region', method: 'PUT', path: `${NETWORK}/virtualNetworks/mars`, api: 'network', status: 400, code: 'LocationNotAvailableForResourceType',
    body: { location: 'mars', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } } } },
  { operation: 'virtualNetworks.createOrUpdate', method: 'PUT', path: `${NETWORK}/virtualNetworks/weu`, api: 'network', settle: true, status: 201,
    body: { location: 'westeurope', properties: { addressSpace: { addressPrefixes: ['10.8.0.0/16'] }, subnets: [{ name: 'build', properties: { addressPrefix: '10.8.0.0/24' } }] } } },
  { operation: 'virtualNetworks.get', method: 'GET', path: `${NETWORK}/virtualNetworks/vnet`, api: 'network', status: 200, match: { location: 'eastus', properties: { subnets: [{ name: 'build' }] } } },
  { operation: 'subnets.get', method: 'GET', path: SUBNET, api: 'network', status: 200, match: { name: 'build', properties: { addressPrefix: '10.0.1.0/24', provisioningState: 'Succeeded' } } },
  { operation: 'subnets.createOrUpdate', rule: 'subnet inside its VNet', method: 'PUT', path: `${NETWORK}/virtualNetworks/vnet/subnets/far`, api: 'network', status: 400, code: 'NetcfgSubnetRangeOutsideVnet', body: { properties: { addressPrefix: '192.168.0.0/24' } } },
  { operation: 'subnets.createOrUpdate', rule: 'subnets do not overlap', method: 'PUT', path: `${NETWORK}/virtualNetworks/vnet/subnets/twin`, api: 'network', status: 400, code: 'NetcfgSubnetRangesOverlap', body: { properties: { addressPrefix: '10.0.1.0/25' } } },
  { operation: 'networkInterfaces.createOrUpdate', method: 'PUT', path: `${NIC}/freenic`, api: 'network', body: nicBody('eastus', SUBNET), status: 201, settle: true,
    match: { properties: { ipConfigurations: [{ name: 'ipconfig1', properties: { subnet: { id: SUBNET } } }] } } },
  { operation: 'networkInterfaces.createOrUpdate', rule: 'NIC subnet exists', method: 'PUT', path: `${NIC}/bad`, api: 'network', body: nicBody('eastus', `${NETWORK}/virtualNetworks/vnet/subnets/missing`), status: 400, code: 'InvalidResourceReference' },
  { operation: 'networkInterfaces.createOrUpdate', rule: 'NIC subnet in the NIC region', method: 'PUT', path: `${NIC}/bad`, api: 'network', body: nicBody('westeurope', SUBNET), status: 400, code: 'InvalidResourceReference' },
  { operation: 'networkInterfaces.createOrUpdate', rule: 'NIC has an IP configuration', method: 'PUT', path: `${NIC}/bad`, api: 'network', body: nicBody('eastus', undefined), status: 400, code: 'InvalidParameter',
    match: { error: { target: 'properties.ipConfigurations' } } },
  { operation: 'networkInterfaces.createOrUpdate', rule: 'each NIC IP configuration names a subnet', method: 'PUT', path: `${NIC}/bad`, api: 'network', status: 400, code: 'InvalidParameter',
    body: { location: 'eastus', properties: { ipConfigurations: [{ name: 'ipconfig1', properties: { subnet: { id: SUBNET } } }, { name: 'ipconfig2', properties: {} }] } },
    match: { error: { target: 'properties.ipConfigurations[1].properties.subnet' } } },
  { operation: 'networkInterfaces.createOrUpdate', rule: 'an existing resource keeps its region', method: 'PUT', path: `${NIC}/freenic`, api: 'network', body: nicBody('westeurope', SUBNET), status: 409, code: 'InvalidResourceLocation',
    match: { error: { message: "The resource 'freenic' already exists in location 'eastus' in resource group 'conformance'. A resource with the same name cannot be created in location 'westeurope'. Please select a new resource name." } } },
  // Linked access checks: ARM's, on what the body references, after the request's own action (grants narrowed here).
  { operation: 'networkInterfaces.createOrUpdate', rule: 'a NIC needs join on its subnet', method: 'PUT', path: `${NIC}/bad`, api: 'network', body: nicBody('eastus', SUBNET), status: 403, code: 'LinkedAuthorizationFailed',
    grants: [{ scope: SUB, actions: ['*'], notActions: ['Microsoft.Network/*/join/action'] }],
    match: { error: { message: expect.stringContaining(`perform action(s) 'Microsoft.Network/virtualNetworks/subnets/join/action' on the linked scope(s) '${SUBNET}' (respectively)`) } } },
  { operation: 'subnets.createOrUpdate', rule: 'a subnet needs join on its NSG', method: 'PUT', path: `${NETWORK}/virtualNetworks/vnet/subnets/guarded`, api: 'network', status: 403, code: 'LinkedAuthorizationFailed',
    body: { properties: { addressPrefix: '10.0.9.0/24', networkSecurityGroup: { id: `${NETWORK}/networkSecurityGroups/nsg` } } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'a VM needs join on its inline NIC\'s subnet', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm(), status: 403, code: 'LinkedAuthorizationFailed' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'a VM needs join on the NIC it names', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ nics: [{ id: `${NIC}/freenic` }] }), status: 403, code: 'LinkedAuthorizationFailed',
    match: { error: { message: expect.stringContaining(`'Microsoft.Network/networkInterfaces/join/action' on the linked scope(s) '${NIC}/freenic'`) } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'a VM needs read on its gallery image', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', status: 403, code: 'LinkedAuthorizationFailed',
    grants: [{ scope: SUB, actions: ['*'], notActions: ['Microsoft.Compute/galleries/images/versions/read'] }], body: vm({ image: { id: `${GALLERY}/images/none-such/versions/1.0.0` } }) },
  { operation: 'virtualMachines.createOrUpdate', rule: 'its own action is checked before the linked ones', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm(), status: 403, code: 'AuthorizationFailed',
    grants: [{ scope: SUB, actions: ['*'], notActions: ['Microsoft.Network/*/join/action', 'Microsoft.Compute/virtualMachines/write'] }] },
  { operation: 'permissions.list', method: 'GET', path: `${SUB}/${PERMISSIONS}`, api: 'authorization', status: 200, grants: [{ scope: SUB, actions: ['*'] }] },
  { operation: 'networkInterfaces.get', method: 'GET', path: `${NIC}/freenic`, api: 'network', status: 200, match: { location: 'eastus', properties: { provisioningState: 'Succeeded' } } },
  { operation: 'networkInterfaces.get', rule: 'NIC exists', method: 'GET', path: `${NIC}/bad`, api: 'network', status: 404, code: 'ResourceNotFound' },
  // An NSG a subnet or a NIC names cannot be deleted; the error names each of them.
  { operation: 'networkSecurityGroups.delete', rule: 'an NSG in use cannot be deleted', method: 'DELETE', path: `${NETWORK}/networkSecurityGroups/nsg`, api: 'network', status: 400, code: 'InUseNetworkSecurityGroupCannotBeDeleted',
    match: { error: { message: `Network security group ${NETWORK}/networkSecurityGroups/nsg cannot be deleted because it is in use by the following resources: ${SUBNET}. In order to delete the Network security group, remove the association with the resource(s).` } } },
  { operation: 'networkSecurityGroups.createOrUpdate', method: 'PUT', path: `${NETWORK}/networkSecurityGroups/nicnsg`, api: 'network', settle: true, status: 201, body: { location: 'eastus', properties: { securityRules: [] } } },
  { operation: 'networkInterfaces.createOrUpdate', method: 'PUT', path: `${NIC}/nsgnic`, api: 'network', settle: true, status: 201,
    body: { ...nicBody('eastus', SUBNET), properties: { ...nicBody('eastus', SUBNET).properties, networkSecurityGroup: { id: `${NETWORK}/networkSecurityGroups/nicnsg` } } } },
  { operation: 'networkSecurityGroups.delete', rule: 'an NSG in use cannot be deleted', method: 'DELETE', path: `${NETWORK}/networkSecurityGroups/nicnsg`, api: 'network', status: 400, code: 'InUseNetworkSecurityGroupCannotBeDeleted',
    match: { error: { message: `Network security group ${NETWORK}/networkSecurityGroups/nicnsg cannot be deleted because it is in use by the following resources: ${NIC}/nsgnic. In order to delete the Network security group, remove the association with the resource(s).` } } },
  { operation: 'networkSecurityGroups.get', method: 'GET', path: `${NETWORK}/networkSecurityGroups/nicnsg`, api: 'network', status: 200, match: { properties: { provisioningState: 'Succeeded' } } },
  { operation: 'networkInterfaces.delete', method: 'DELETE', path: `${NIC}/nsgnic`, api: 'network', status: 202, settle: true },
  { operation: 'networkSecurityGroups.delete', method: 'DELETE', path: `${NETWORK}/networkSecurityGroups/nicnsg`, api: 'network', status: 202, settle: true },
  { operation: 'networkSecurityGroups.get', rule: 'NSG exists', method: 'GET', path: `${NETWORK}/networkSecurityGroups/nicnsg`, api: 'network', status: 404, code: 'ResourceNotFound' },

  // ---- catalogues ----
  { operation: 'virtualMachineImages.listPublishers', method: 'GET', path: MARKETPLACE, api: 'compute', status: 200 },
  { operation: 'virtualMachineImages.listOffers', method: 'GET', path: `${MARKETPLACE}/Canonical/artifacttypes/vmimage/offers`, api: 'compute', status: 200 },
  { operation: 'virtualMachineImages.listSkus', method: 'GET', path: `${MARKETPLACE}/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus`, api: 'compute', status: 200 },
  { operation: 'virtualMachineImages.list', method: 'GET', path: `${MARKETPLACE}/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/server/versions`, api: 'compute', status: 200 },
  { operation: 'virtualMachineImages.list', rule: 'unknown marketplace image', method: 'GET', path: `${MARKETPLACE}/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/banana/versions`, api: 'compute', status: 404, code: 'NotFound' },
  { operation: 'virtualMachineImages.get', method: 'GET', path: `${MARKETPLACE}/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/server/versions/24.04.202411010`, api: 'compute', status: 200,
    match: { name: '24.04.202411010', properties: { osDiskImage: { operatingSystem: 'Linux' }, hyperVGeneration: 'V2' } } },
  { operation: 'virtualMachineImages.get', rule: 'unknown marketplace version', method: 'GET', path: `${MARKETPLACE}/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/server/versions/1.0.0`, api: 'compute', status: 404, code: 'NotFound' },
  { operation: 'resourceSkus.list', method: 'GET', path: `${SUB}/providers/Microsoft.Compute/skus?$filter=${encodeURIComponent("location eq 'eastus'")}`, api: 'skus', status: 200 },
  { operation: 'resourceSkus.list', rule: 'only the location filter', method: 'GET', path: `${SUB}/providers/Microsoft.Compute/skus?$filter=${encodeURIComponent("name eq 'x'")}`, api: 'skus', status: 400, code: 'InvalidFilter' },
  { operation: 'usage.list', method: 'GET', path: `${SUB}/providers/Microsoft.Compute/locations/eastus/usages`, api: 'compute', status: 200 },
  { operation: 'usage.list', rule: 'location must be a region', method: 'GET', path: `${SUB}/providers/Microsoft.Compute/locations/mars/usages`, api: 'compute', status: 400, code: 'LocationNotAvailableForResourceType' },

  // ---- virtual machines ----
  { operation: 'virtualMachines.createOrUpdate', rule: 'location must be a region', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ location: 'mars' }), status: 400, code: 'LocationNotAvailableForResourceType' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'vmSize from the catalogue', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ vmSize: 'Standard_Bogus_v9' }), status: 400, code: 'InvalidParameter' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'vmSize not restricted in the region', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ vmSize: 'Standard_NC6s_v3' }), status: 409, code: 'SkuNotAvailable' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'vmSize boots the image generation', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ vmSize: 'Standard_A1_v2' }), status: 400, code: 'BadRequest' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'marketplace image exists', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ image: { ...UBUNTU, sku: 'banana' } }), status: 404, code: 'PlatformImageNotFound' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'marketplace version exists', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ image: { ...UBUNTU, version: '1.0.0' } }), status: 404, code: 'PlatformImageNotFound' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'plan images need the plan', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute',
    body: vm({ image: { publisher: 'center-for-internet-security-inc', offer: 'cis-ubuntu-linux-2204-l1', sku: 'cis-ubuntu2204-l1-gen2', version: 'latest' } }), status: 400, code: 'VMMarketplaceInvalidInput' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'Windows computer name ≤ 15 characters', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ image: WINDOWS, computerName: 'a-windows-computer-name-29chr' }), status: 400, code: 'InvalidParameter' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'Linux needs SSH keys when passwords are disabled', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute',
    body: vm({ osProfile: { computerName: 'x', adminUsername: 'azureuser', linuxConfiguration: { disablePasswordAuthentication: true } } }), status: 400, code: 'InvalidParameter' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'OS disk not smaller than the image', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ osDisk: { diskSizeGB: 8 } }), status: 400, code: 'InvalidParameter' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'subnet exists', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ subnet: `${NETWORK}/virtualNetworks/vnet/subnets/missing` }), status: 400, code: 'InvalidResourceReference' },
  // Named by the VM request's own field (its inline configuration), not by the NIC it would make.
  { operation: 'virtualMachines.createOrUpdate', rule: 'each inline NIC IP configuration names a subnet', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', status: 400, code: 'InvalidParameter',
    body: { ...vm(), properties: { ...vm().properties, networkProfile: { networkApiVersion: '2022-11-01', networkInterfaceConfigurations: [{ name: 'nosubnet', properties: { primary: true, ipConfigurations: [{ name: 'ip', properties: {} }] } }] } } },
    match: { error: { target: 'properties.networkProfile.networkInterfaceConfigurations[0].properties.ipConfigurations[0].properties.subnet' } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'subnet in the VM region', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ subnet: `${NETWORK}/virtualNetworks/weu/subnets/build`, nicName: 'farnic' }), status: 400, code: 'InvalidResourceReference',
    // Named by the NIC the inline configuration makes, as a NIC create would be.
    match: { error: { message: `Resource ${NETWORK}/virtualNetworks/weu/subnets/build referenced by resource ${NIC}/farnic was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.` } } },
  { operation: 'virtualMachines.createOrUpdate', method: 'PUT', path: `${COMPUTE}/virtualMachines/confvm`, api: 'compute', body: vm({ osDisk: { name: 'confvm-os' }, nicName: 'confvm-nic' }), status: 201, settle: true,
    match: { properties: { storageProfile: { imageReference: { exactVersion: '24.04.202411010' }, osDisk: { name: 'confvm-os' } }, networkProfile: { networkInterfaces: [{ id: `${NIC}/confvm-nic`, properties: { deleteOption: 'Detach' } }] } } } },
  // ---- NICs and OS disks a VM holds ----
  { operation: 'networkInterfaces.get', method: 'GET', path: `${NIC}/confvm-nic`, api: 'network', status: 200, match: { properties: { virtualMachine: { id: `${COMPUTE}/virtualMachines/confvm` } } } },
  { operation: 'networkInterfaces.delete', rule: 'a NIC a VM holds cannot be deleted', method: 'DELETE', path: `${NIC}/confvm-nic`, api: 'network', status: 400, code: 'NicInUse' },
  { operation: 'subnets.delete', rule: 'a subnet with NICs cannot be deleted', method: 'DELETE', path: SUBNET, api: 'network', status: 400, code: 'InUseSubnetCannotBeDeleted' },
  { operation: 'virtualNetworks.delete', rule: 'a subnet with NICs cannot be deleted', method: 'DELETE', path: `${NETWORK}/virtualNetworks/vnet`, api: 'network', status: 400, code: 'InUseSubnetCannotBeDeleted' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'a NIC another VM holds cannot be used', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ nics: [{ id: `${NIC}/confvm-nic` }] }), status: 400, code: 'NicInUse' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'a referenced NIC exists in the VM region', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ nics: [{ id: `${NIC}/none-such` }] }), status: 400, code: 'InvalidResourceReference' },
  { operation: 'virtualMachines.createOrUpdate', rule: 'a referenced NIC exists in the VM region', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ location: 'westeurope', nics: [{ id: `${NIC}/freenic` }] }), status: 400, code: 'InvalidResourceReference' },
  { operation: 'virtualMachines.createOrUpdate', method: 'PUT', path: `${COMPUTE}/virtualMachines/confnicvm`, api: 'compute', status: 201, settle: true,
    body: vm({ computerName: 'confnicvm', osDisk: { name: 'confnicvm-os', deleteOption: 'Delete' }, nics: [{ id: `${NIC}/freenic`, properties: { deleteOption: 'Delete' } }] }) },
  { operation: 'disks.get', method: 'GET', path: `${COMPUTE}/disks/confnicvm-os`, api: 'disk', status: 200,
    match: { managedBy: `${COMPUTE}/virtualMachines/confnicvm`, properties: { diskState: 'Attached', osType: 'Linux', hyperVGeneration: 'V2', creationData: { createOption: 'FromImage' } } } },
  { operation: 'disks.delete', rule: 'an attached disk cannot be deleted', method: 'DELETE', path: `${COMPUTE}/disks/confnicvm-os`, api: 'disk', status: 409, code: 'OperationNotAllowed' },
  { operation: 'disks.listByResourceGroup', method: 'GET', path: `${COMPUTE}/disks`, api: 'disk', status: 200 },
  { operation: 'networkInterfaces.list', method: 'GET', path: NIC, api: 'network', status: 200 },
  { operation: 'virtualMachines.delete', method: 'DELETE', path: `${COMPUTE}/virtualMachines/confnicvm`, api: 'compute', status: 202, settle: true },
  { operation: 'networkInterfaces.get', rule: 'deleteOption Delete: the NIC goes with its VM', method: 'GET', path: `${NIC}/freenic`, api: 'network', status: 404, code: 'ResourceNotFound' },
  { operation: 'disks.get', rule: 'deleteOption Delete: the OS disk goes with its VM', method: 'GET', path: `${COMPUTE}/disks/confnicvm-os`, api: 'disk', status: 404, code: 'ResourceNotFound' },
  { operation: 'virtualMachines.createOrUpdate', method: 'PUT', path: `${COMPUTE}/virtualMachines/confwin`, api: 'compute', body: vm({ image: WINDOWS, computerName: 'confwin' }), status: 201, settle: true },
  { operation: 'virtualMachines.start', method: 'POST', path: `${COMPUTE}/virtualMachines/confwin/start`, api: 'compute', status: 202, settle: true },
  { operation: 'virtualMachines.get', method: 'GET', path: `${COMPUTE}/virtualMachines/confvm`, api: 'compute', status: 200, match: { properties: { provisioningState: 'Succeeded' } } },
  { operation: 'virtualMachines.instanceView', method: 'GET', path: `${COMPUTE}/virtualMachines/confvm/instanceView`, api: 'compute', status: 200, match: { hyperVGeneration: 'V2' } },
  { operation: 'virtualMachines.restart', method: 'POST', path: `${COMPUTE}/virtualMachines/confvm/restart`, api: 'compute', status: 202 },
  { operation: 'virtualMachines.powerOff', method: 'POST', path: `${COMPUTE}/virtualMachines/confvm/powerOff`, api: 'compute', status: 202 },
  { operation: 'virtualMachines.deallocate', method: 'POST', path: `${COMPUTE}/virtualMachines/confvm/deallocate`, api: 'compute', status: 202, settle: true },
  { operation: 'virtualMachines.generalize', method: 'POST', path: `${COMPUTE}/virtualMachines/confvm/generalize`, api: 'compute', status: 200 },
  { operation: 'virtualMachines.start', rule: 'no start of a generalized VM', method: 'POST', path: `${COMPUTE}/virtualMachines/confvm/start`, api: 'compute', status: 409, code: 'OperationNotAllowed' },
  { operation: 'virtualMachines.generalize', rule: 'generalize needs a stopped VM', method: 'POST', path: `${COMPUTE}/virtualMachines/confwin/generalize`, api: 'compute', status: 409, code: 'OperationNotAllowed' },
  { operation: 'virtualMachines.powerOff', method: 'POST', path: `${COMPUTE}/virtualMachines/confwin/powerOff`, api: 'compute', status: 202, settle: true },
  { operation: 'virtualMachines.generalize', method: 'POST', path: `${COMPUTE}/virtualMachines/confwin/generalize`, api: 'compute', status: 200 },

  // ---- disks (access itself: azure-adapters.test.ts, with Azurite) ----
  { operation: 'disks.get', rule: 'disk exists', method: 'GET', path: `${COMPUTE}/disks/none-such`, api: 'disk', status: 404, code: 'ResourceNotFound' },
  { operation: 'disks.grantAccess', rule: 'disk exists', method: 'POST', path: `${COMPUTE}/disks/none-such/beginGetAccess`, api: 'disk', body: { access: 'Read', durationInSeconds: 60 }, status: 404, code: 'ResourceNotFound' },

  // ---- managed images ----
  { operation: 'images.createOrUpdate', rule: 'image in its source VM region', method: 'PUT', path: `${COMPUTE}/images/far`, api: 'compute', body: { location: 'westus', properties: { sourceVirtualMachine: { id: `${COMPUTE}/virtualMachines/confvm` } } }, status: 400, code: 'InvalidParameter' },
  { operation: 'images.createOrUpdate', rule: 'image generation is the VM generation', method: 'PUT', path: `${COMPUTE}/images/gen1`, api: 'compute', body: { location: 'eastus', properties: { sourceVirtualMachine: { id: `${COMPUTE}/virtualMachines/confvm` }, hyperVGeneration: 'V1' } }, status: 400, code: 'InvalidParameter' },
  { operation: 'images.createOrUpdate', method: 'PUT', path: `${COMPUTE}/images/confimage`, api: 'compute', body: { location: 'eastus', properties: { sourceVirtualMachine: { id: `${COMPUTE}/virtualMachines/confvm` }, hyperVGeneration: 'V2' } }, status: 201, settle: true },
  { operation: 'images.get', method: 'GET', path: `${COMPUTE}/images/confimage`, api: 'compute', status: 200, match: { properties: { hyperVGeneration: 'V2', storageProfile: { osDisk: { osType: 'Linux' } } } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'managed image only in its region', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ location: 'westeurope', image: { id: `${COMPUTE}/images/confimage` }, subnet: `${NETWORK}/virtualNetworks/weu/subnets/build` }), status: 404, code: 'NotFound' },

  // ---- galleries ----
  { operation: 'galleries.createOrUpdate', method: 'PUT', path: GALLERY, api: 'gallery', body: { location: 'eastus', properties: {} }, status: 201, settle: true },
  { operation: 'galleryImages.createOrUpdate', rule: 'definition in its gallery region', method: 'PUT', path: `${GALLERY}/images/far`, api: 'gallery', status: 400, code: 'InvalidParameter',
    body: { location: 'westus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'k', offer: 'o', sku: 's' } } } },
  { operation: 'galleryImages.createOrUpdate', method: 'PUT', path: `${GALLERY}/images/linux`, api: 'gallery', status: 201, settle: true,
    body: { location: 'eastus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'k', offer: 'linux', sku: 's' } } } },
  { operation: 'galleryImages.createOrUpdate', method: 'PUT', path: `${GALLERY}/images/linux-gen1`, api: 'gallery', status: 201, settle: true,
    body: { location: 'eastus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V1', identifier: { publisher: 'k', offer: 'linux1', sku: 's' } } } },
  { operation: 'galleryImages.get', method: 'GET', path: `${GALLERY}/images/linux`, api: 'gallery', status: 200, match: { location: 'eastus', properties: { osType: 'Linux' } } },
  { operation: 'galleryImageVersions.createOrUpdate', rule: 'source OS type is the definition OS type', method: 'PUT', path: `${GALLERY}/images/linux/versions/1.0.0`, api: 'gallery', status: 400, code: 'InvalidParameter',
    body: { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/confwin` } } } } },
  { operation: 'galleryImageVersions.createOrUpdate', rule: 'source generation is the definition generation', method: 'PUT', path: `${GALLERY}/images/linux-gen1/versions/1.0.0`, api: 'gallery', status: 400, code: 'InvalidParameter',
    body: { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/confvm` } } } } },
  { operation: 'galleryImageVersions.createOrUpdate', rule: 'version in its gallery region', method: 'PUT', path: `${GALLERY}/images/linux/versions/1.0.0`, api: 'gallery', status: 400, code: 'InvalidParameter',
    body: { location: 'westus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/confvm` } }, publishingProfile: { targetRegions: [{ name: 'westus' }] } } } },
  { operation: 'galleryImageVersions.createOrUpdate', rule: 'target regions are regions', method: 'PUT', path: `${GALLERY}/images/linux/versions/1.0.0`, api: 'gallery', status: 400, code: 'LocationNotAvailableForResourceType',
    body: { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/confvm` } }, publishingProfile: { targetRegions: [{ name: 'eastus' }, { name: 'Mars Central' }] } } } },
  { operation: 'galleryImageVersions.createOrUpdate', method: 'PUT', path: `${GALLERY}/images/linux/versions/1.0.0`, api: 'gallery', status: 201, settle: true,
    body: { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/confvm` } }, publishingProfile: { targetRegions: [{ name: 'East US' }, { name: 'westeurope' }] } } } },
  { operation: 'galleryImageVersions.get', method: 'GET', path: `${GALLERY}/images/linux/versions/1.0.0?$expand=ReplicationStatus`, api: 'gallery', status: 200,
    match: { properties: { publishingProfile: { targetRegions: [{ name: 'East US' }, { name: 'West Europe' }] }, replicationStatus: { aggregatedState: 'Completed' } } } },
  { operation: 'galleryImageVersions.listByGalleryImage', method: 'GET', path: `${GALLERY}/images/linux/versions`, api: 'gallery', status: 200 },

  // ---- security types (Trusted Launch) ----
  { operation: 'galleryImages.createOrUpdate', rule: 'SecurityType feature is a known value', method: 'PUT', path: `${GALLERY}/images/bad-sec`, api: 'gallery', status: 400, code: 'InvalidParameter', body: { location: 'eastus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'k', offer: 'badsec', sku: 's' }, features: [{ name: 'SecurityType', value: 'Banana' }] } } },
  { operation: 'galleryImages.createOrUpdate', rule: 'security types need a V2 definition', method: 'PUT', path: `${GALLERY}/images/gen1-tl`, api: 'gallery', status: 400, code: 'InvalidParameter', body: { location: 'eastus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V1', identifier: { publisher: 'k', offer: 'gen1tl', sku: 's' }, features: [{ name: 'SecurityType', value: 'TrustedLaunch' }] } } },
  { operation: 'galleryImages.createOrUpdate', method: 'PUT', path: `${GALLERY}/images/linux-tl`, api: 'gallery', status: 201, settle: true, body: { location: 'eastus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'k', offer: 'linuxtl', sku: 's' }, features: [{ name: 'SecurityType', value: 'TrustedLaunchSupported' }] } } },
  { operation: 'galleryImages.createOrUpdate', method: 'PUT', path: `${GALLERY}/images/linux-tlonly`, api: 'gallery', status: 201, settle: true, body: { location: 'eastus', properties: { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2', identifier: { publisher: 'k', offer: 'linuxtlonly', sku: 's' }, features: [{ name: 'SecurityType', value: 'TrustedLaunch' }] } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'securityType is a known value', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ securityType: 'Banana' }), status: 400, code: 'InvalidParameter', match: { error: { target: 'securityProfile.securityType' } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'Trusted Launch needs a V2 image', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ securityType: 'TrustedLaunch', vmSize: 'Standard_D2s_v3', image: { ...UBUNTU, sku: 'server-gen1' } }), status: 400, code: 'InvalidParameter', match: { error: { target: 'securityProfile.securityType' } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'no Trusted Launch VM from a managed image', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ securityType: 'TrustedLaunch', image: { id: `${COMPUTE}/images/confimage` } }), status: 400, code: 'InvalidParameter', match: { error: { target: 'securityProfile.securityType' } } },
  { operation: 'virtualMachines.createOrUpdate', method: 'PUT', path: `${COMPUTE}/virtualMachines/conftl`, api: 'compute', body: vm({ securityType: 'TrustedLaunch', computerName: 'conftl' }), status: 201, settle: true,
    match: { properties: { securityProfile: { securityType: 'TrustedLaunch' } } } },
  { operation: 'virtualMachines.powerOff', method: 'POST', path: `${COMPUTE}/virtualMachines/conftl/powerOff`, api: 'compute', status: 202, settle: true },
  { operation: 'virtualMachines.generalize', method: 'POST', path: `${COMPUTE}/virtualMachines/conftl/generalize`, api: 'compute', status: 200 },
  { operation: 'images.createOrUpdate', rule: 'no managed image from a Trusted Launch VM', method: 'PUT', path: `${COMPUTE}/images/tlimage`, api: 'compute', status: 400, code: 'InvalidParameter',
    body: { location: 'eastus', properties: { sourceVirtualMachine: { id: `${COMPUTE}/virtualMachines/conftl` } } } },
  { operation: 'galleryImageVersions.createOrUpdate', rule: 'a Trusted Launch VM is captured only into a definition that takes it', method: 'PUT', path: `${GALLERY}/images/linux/versions/2.0.0`, api: 'gallery', status: 400, code: 'InvalidParameter', body: { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/conftl` } }, publishingProfile: { targetRegions: [{ name: 'eastus' }] } } } },
  { operation: 'galleryImageVersions.createOrUpdate', method: 'PUT', path: `${GALLERY}/images/linux-tl/versions/1.0.0`, api: 'gallery', status: 201, settle: true, body: { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/conftl` } }, publishingProfile: { targetRegions: [{ name: 'eastus' }] } } } },
  { operation: 'galleryImageVersions.createOrUpdate', method: 'PUT', path: `${GALLERY}/images/linux-tlonly/versions/1.0.0`, api: 'gallery', status: 201, settle: true, body: { location: 'eastus', properties: { storageProfile: { source: { virtualMachineId: `${COMPUTE}/virtualMachines/conftl` } }, publishingProfile: { targetRegions: [{ name: 'eastus' }] } } } },
  { operation: 'virtualMachines.createOrUpdate', rule: 'a TrustedLaunch definition boots only Trusted Launch VMs', method: 'PUT', path: `${COMPUTE}/virtualMachines/x`, api: 'compute', body: vm({ image: { id: `${GALLERY}/images/linux-tlonly/versions/1.0.0` } }), status: 400, code: 'InvalidParameter', match: { error: { target: 'securityProfile.securityType' } } },
  { operation: 'virtualMachines.createOrUpdate', method: 'PUT', path: `${COMPUTE}/virtualMachines/conftl2`, api: 'compute', status: 201, settle: true,
    body: vm({ securityType: 'TrustedLaunch', computerName: 'conftl2', image: { id: `${GALLERY}/images/linux-tl/versions/1.0.0` } }) },
  { operation: 'galleryImageVersions.delete', method: 'DELETE', path: `${GALLERY}/images/linux/versions/1.0.0`, api: 'gallery', status: 202, settle: true },
  { operation: 'images.delete', method: 'DELETE', path: `${COMPUTE}/images/confimage`, api: 'compute', status: 202, settle: true },
  { operation: 'virtualMachines.delete', method: 'DELETE', path: `${COMPUTE}/virtualMachines/confvm`, api: 'compute', status: 202, settle: true },
  // deleteOption Detach (the default): the NIC and the disk stay, free, and can then be deleted.
  { operation: 'disks.get', method: 'GET', path: `${COMPUTE}/disks/confvm-os`, api: 'disk', status: 200, match: { properties: { diskState: 'Unattached' } } },
  { operation: 'disks.delete', method: 'DELETE', path: `${COMPUTE}/disks/confvm-os`, api: 'disk', status: 202, settle: true },
  { operation: 'networkInterfaces.delete', method: 'DELETE', path: `${NIC}/confvm-nic`, api: 'network', status: 202, settle: true },
  { operation: 'virtualNetworks.delete', method: 'DELETE', path: `${NETWORK}/virtualNetworks/weu`, api: 'network', status: 202, settle: true },
  { operation: 'resourceGroups.delete', method: 'DELETE', path: RG, api: 'resources', status: 202 },
];

/** The SDK calls Kiln makes (infra/permissions.json, checked against src/azure by deploy-permissions.test.ts). */
const KILN_CALLS = Object.keys((JSON.parse(readFileSync('infra/permissions.json', 'utf8')) as { operations: Record<string, unknown> }).operations);
/** Generic by-id calls reach the network routes the emulator names by resource type. */
const BY_ID: Record<string, string[]> = {
  'resources.createOrUpdateById': ['virtualNetworks.createOrUpdate', 'networkSecurityGroups.createOrUpdate'],
  'resources.getById': ['virtualNetworks.get', 'subnets.get'],
};
/** Scale sets and run commands have their own suites (emulator-scaleset, emulator-runcommand). */
const OWN_SUITES = /^(virtualMachineScaleSets|virtualMachineScaleSetVMs|virtualMachineScaleSetRollingUpgrades|virtualMachineRunCommands)\./;
/** Disk access needs Azurite beside the emulator: its happy path is azure-adapters.test.ts's "a VHD output". */
const NEEDS_STORAGE = ['disks.grantAccess', 'disks.revokeAccess'];

function operationsToCover(): string[] {
  return KILN_CALLS.map((call) => call.replace(/^(compute|resources|authorization)\./, ''))
    .flatMap((op) => BY_ID[op] ?? [op])
    .filter((op) => !OWN_SUITES.test(op) && !NEEDS_STORAGE.includes(op));
}

let home: string;
let emulator: AzureEmulator;

type Response = { status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> };

/** Raw ARM calls to one emulator: a request, and waiting for the operation a 201/202 started. */
function armClient(target: AzureEmulator) {
  const send = (method: string, path: string, apiVersion: string, body?: unknown): Promise<Response> => {
    const url = new URL(`${target.armEndpoint}${path}`);
    url.searchParams.set('api-version', apiVersion);
    return new Promise((resolve, reject) => {
      const req = request(url, { method, ca: target.caPem, headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  };
  const poll = async (headers: Response['headers']): Promise<Response> => {
    const url = new URL(String(headers['azure-asyncoperation'] ?? headers.location));
    return send('GET', url.pathname, url.searchParams.get('api-version') ?? API.compute);
  };
  const monitor = async (headers: Response['headers']) => (await poll(headers)).body;
  /** An Azure-AsyncOperation monitor ends when its status does; a Location monitor when it stops answering 202. */
  const settle = async (headers: Response['headers']): Promise<void> => {
    if (typeof (headers['azure-asyncoperation'] ?? headers.location) !== 'string') return;
    for (let i = 0; i < 500; i++) {
      const { status, body } = await poll(headers);
      if (headers['azure-asyncoperation'] ? body.status !== 'InProgress' : status !== 202) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the operation did not end');
  };
  return { send, monitor, settle };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kiln-conformance-'));
  emulator = await startAzureEmulator({ home, profile: 'zero', seedFile: 'local/environment.json', log: () => {} });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('conformance', () => {
  it('covers every operation Kiln calls with a happy path, and every rule with a rejection', () => {
    const happy = new Set(PAIRS.filter((p) => p.status < 300).map((p) => p.operation));
    expect(operationsToCover().length).toBeGreaterThan(20);
    expect(operationsToCover().filter((op) => !happy.has(op))).toEqual([]);
    const rules = new Set(PAIRS.filter((p) => p.rule && p.status >= 400).map((p) => p.rule));
    console.log(`conformance: ${PAIRS.length} pairs, ${new Set(PAIRS.map((p) => p.operation)).size} operations, ${rules.size} rules`);
    expect(rules.size).toBeGreaterThanOrEqual(30);
  });

  it('answers each request as Azure does, in order', async () => {
    const { send, settle } = armClient(emulator);
    for (const pair of PAIRS) {
      if (pair.grants) emulator.permissions.set(pair.grants);
      const apiVersion = API[pair.api];
      const response = await send(pair.method, pair.path, apiVersion, pair.body);
      const label = `${pair.operation}${pair.rule ? ` (${pair.rule})` : ''}: ${pair.method} ${pair.path}`;
      expect({ label, status: response.status, code: (response.body.error as { code?: string } | undefined)?.code }).toEqual({ label, status: pair.status, code: pair.code });
      if (pair.code) {
        // Azure's CloudError shape: code and a message of some length.
        expect(response.body.error, label).toMatchObject({ code: pair.code, message: expect.stringMatching(/.{20,}/) });
      }
      if (pair.match) expect(response.body, label).toMatchObject(pair.match);
      if (pair.settle) await settle(response.headers);
    }
  });

  it('reports a raised vCPU quota (option coreLimits, as after a quota increase) and refuses one that makes no sense', async () => {
    const raisedHome = mkdtempSync(join(tmpdir(), 'kiln-conformance-quota-'));
    const raised = await startAzureEmulator({ home: raisedHome, profile: 'zero', coreLimits: { family: 200, total: 400 }, log: () => {} });
    try {
      const { body } = await armClient(raised).send('GET', `${SUB}/providers/Microsoft.Compute/locations/eastus/usages`, API.compute);
      const limits = (body.value as { name: { value: string }; limit: number }[]).map((u) => [u.name.value, u.limit]);
      expect(limits).toContainEqual(['cores', 400]);
      expect(limits).toContainEqual(['standardDSv5Family', 200]);
    } finally {
      await raised.close();
      rmSync(raisedHome, { recursive: true, force: true });
    }
    await expect(startAzureEmulator({ home: raisedHome, coreLimits: { family: 10, total: 5 }, log: () => {} })).rejects.toThrow('coreLimits.family: expected at most coreLimits.total (5), found 10');
    await expect(startAzureEmulator({ home: raisedHome, coreLimits: { family: 1.5, total: 5 }, log: () => {} })).rejects.toThrow('coreLimits.family: expected a positive whole number of vCPUs, found 1.5');
  });

  it('preempts a power action with a newer one (OperationPreempted)', async () => {
    // Operations must take time to overlap: the `fast` profile, slowed so that three requests land inside one.
    const slowHome = mkdtempSync(join(tmpdir(), 'kiln-conformance-slow-'));
    const slow = await startAzureEmulator({ home: slowHome, profile: 'fast', scale: 4, log: () => {} });
    try {
      const { send, monitor, settle } = armClient(slow);
      const group = `${SUB}/resourceGroups/preempt`;
      expect((await send('PUT', group, API.resources, { location: 'eastus' })).status).toBe(201);
      const vnet = await send('PUT', `${group}/providers/Microsoft.Network/virtualNetworks/vnet`, API.network, {
        location: 'eastus', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [{ name: 'build', properties: { addressPrefix: '10.0.0.0/24' } }] },
      });
      await settle(vnet.headers);
      const id = `${group}/providers/Microsoft.Compute/virtualMachines/preempt`;
      const created = await send('PUT', id, API.compute, vm({ computerName: 'preempt', subnet: `${group}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/build` }));
      expect(created.status).toBe(201);
      await settle(created.headers);
      const restart = await send('POST', `${id}/restart`, API.compute);
      const powerOff = await send('POST', `${id}/powerOff`, API.compute);
      const deallocate = await send('POST', `${id}/deallocate`, API.compute);
      expect([restart.status, powerOff.status, deallocate.status]).toEqual([202, 202, 202]);
      expect(await monitor(restart.headers)).toMatchObject({ status: 'Failed', error: { code: 'OperationPreempted' } });
      expect(await monitor(powerOff.headers)).toMatchObject({ status: 'Failed', error: { code: 'OperationPreempted' } });
      await settle(deallocate.headers);
      expect(await monitor(deallocate.headers)).toMatchObject({ status: 'Succeeded' });

    } finally {
      await slow.close();
      rmSync(slowHome, { recursive: true, force: true });
    }
  });
});
