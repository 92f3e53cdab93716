/** The emulator's RBAC: the action each ARM request performs, and the 403 a caller without it gets. */

import { describe, expect, it } from 'vitest';
import { ArmError } from '../../local/azure/arm/errors.ts';
import { authorizeRequest, requestAction } from '../../local/azure/arm/handlers/authorization-actions.ts';
import { authorizeLinked, linkedActions } from '../../local/azure/arm/handlers/authorization-linked.ts';
import { PermissionGrants } from '../../local/azure/arm/handlers/authorization.ts';

const SUB = '/subscriptions/00000000-0000-0000-0000-000000000000';
const RG = `${SUB}/resourceGroups/kiln-staging`;
const VM = `${RG}/providers/Microsoft.Compute/virtualMachines/build`;
const GALLERY = `${SUB}/resourceGroups/kiln-images/providers/Microsoft.Compute/galleries/kilnGallery`;
const SCALE_SET = `${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/web-vmss`;

describe('the action a request performs', () => {
  // Actions as Azure's RBAC names them (the ones src/azure/required-actions.ts lists, where Kiln calls them).
  const rows: [method: string, path: string, action: string, scope: string][] = [
    ['PUT', RG, 'Microsoft.Resources/subscriptions/resourceGroups/write', RG],
    ['HEAD', RG, 'Microsoft.Resources/subscriptions/resourceGroups/read', RG],
    ['GET', `${SUB}/resourcegroups`, 'Microsoft.Resources/subscriptions/resourcegroups/read', `${SUB}/resourcegroups`],
    ['GET', `${RG}/resources`, 'Microsoft.Resources/subscriptions/resourceGroups/resources/read', `${RG}/resources`],
    ['GET', `${SUB}/providers/Microsoft.Compute`, 'Microsoft.Resources/subscriptions/providers/read', `${SUB}/providers/Microsoft.Compute`],
    ['PUT', VM, 'Microsoft.Compute/virtualMachines/write', VM],
    ['DELETE', VM, 'Microsoft.Compute/virtualMachines/delete', VM],
    ['POST', `${VM}/deallocate`, 'Microsoft.Compute/virtualMachines/deallocate/action', VM],
    ['PUT', `${VM}/runCommands/customize`, 'Microsoft.Compute/virtualMachines/runCommands/write', `${VM}/runCommands/customize`],
    ['POST', `${RG}/providers/Microsoft.Compute/disks/build-os/beginGetAccess`, 'Microsoft.Compute/disks/beginGetAccess/action', `${RG}/providers/Microsoft.Compute/disks/build-os`],
    ['PUT', `${GALLERY}/images/ubuntu-web/versions/1.0.1`, 'Microsoft.Compute/galleries/images/versions/write', `${GALLERY}/images/ubuntu-web/versions/1.0.1`],
    ['GET', `${SCALE_SET}/virtualMachines`, 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read', `${SCALE_SET}/virtualMachines`],
    ['POST', `${SCALE_SET}/rollingUpgrades/cancel`, 'Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades/cancel/action', `${SCALE_SET}/rollingUpgrades`],
    ['GET', `${SUB}/providers/Microsoft.Compute/locations/eastus/publishers/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/server/versions`,
      'Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read', `${SUB}/providers/Microsoft.Compute/locations/eastus/publishers/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/server/versions`],
    ['GET', `${SUB}/providers/Microsoft.Compute/locations/eastus/usages`, 'Microsoft.Compute/locations/usages/read', `${SUB}/providers/Microsoft.Compute/locations/eastus/usages`],
    ['PUT', `${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/build`, 'Microsoft.Network/virtualNetworks/subnets/write', `${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/build`],
    // An extension resource belongs to the last provider on its path.
    ['GET', `${VM}/providers/Microsoft.Authorization/permissions`, 'Microsoft.Authorization/permissions/read', `${VM}/providers/Microsoft.Authorization/permissions`],
  ];
  it.each(rows)('%s %s', (method, path, action, scope) => {
    expect(requestAction(method, path)).toEqual({ action, scope });
  });

  it('has none outside a subscription or for a method without a verb', () => {
    expect(requestAction('GET', '/providers/Microsoft.Compute/operations')).toBeUndefined();
    expect(requestAction('OPTIONS', VM)).toBeUndefined();
    expect(requestAction('POST', SUB)).toBeUndefined();
  });
});

describe('authorizeRequest', () => {
  const grants = new PermissionGrants([
    { scope: SUB, actions: ['*'], notActions: ['Microsoft.Compute/galleries/images/versions/write', 'Microsoft.Compute/virtualMachineScaleSets/*'] },
    { scope: `${SCALE_SET}`, actions: ['Microsoft.Compute/virtualMachineScaleSets/read'], notActions: [] },
  ]);
  const refusal = (method: string, path: string, operation = 'x.y'): ArmError | undefined => {
    try {
      authorizeRequest(grants, { method, path, operation });
      return undefined;
    } catch (error) {
      return error as ArmError;
    }
  };

  it('refuses an action no grant allows, with ARM\'s 403 naming the action and the scope', () => {
    const version = `${GALLERY}/images/ubuntu-web/versions/1.0.1`;
    const refused = refusal('PUT', version);
    expect(refused).toBeInstanceOf(ArmError);
    expect(refused).toMatchObject({ status: 403, code: 'AuthorizationFailed' });
    expect(refused!.message).toBe(
      `The client '00000000-0000-0000-0000-00000000c0de' with object id '00000000-0000-0000-0000-00000000c0de' does not have authorization to perform action 'Microsoft.Compute/galleries/images/versions/write' over scope '${version}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
    expect(refusal('GET', version)).toBeUndefined();
  });

  it('lets another grant at a lower scope give back what one grant\'s notActions took away, there only', () => {
    expect(refusal('GET', SCALE_SET)).toBeUndefined();
    expect(refusal('GET', `${SUB}/resourceGroups/web-prod/providers/Microsoft.Compute/virtualMachineScaleSets/other`)).toMatchObject({ status: 403 });
    expect(refusal('POST', `${SCALE_SET}/manualupgrade`)).toMatchObject({ status: 403 });
  });

  it('leaves the permissions list and operation monitors to themselves', () => {
    const none = new PermissionGrants([]);
    expect(() => authorizeRequest(none, { method: 'GET', path: `${SUB}/providers/Microsoft.Compute/locations/eastus/operations/1`, operation: 'operations.get' })).not.toThrow();
    expect(() => authorizeRequest(none, { method: 'GET', path: `${SUB}/providers/Microsoft.Authorization/permissions`, operation: 'permissions.list' })).not.toThrow();
    expect(() => authorizeRequest(none, { method: 'GET', path: RG, operation: 'resourceGroups.get' })).toThrow(ArmError);
  });
});

describe('wildcards', () => {
  it('lets a whole-segment wildcard stand for no segment, as Managed Identity Operator\'s assign grant needs', () => {
    const grants = new PermissionGrants([{ scope: SUB, actions: ['Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action', 'Microsoft.Compute/*'], notActions: [] }]);
    expect(grants.allows('Microsoft.ManagedIdentity/userAssignedIdentities/assign/action', RG)).toBe(true);
    expect(grants.allows('Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/assign/action', RG)).toBe(true);
    expect(grants.allows('Microsoft.ManagedIdentity/userAssignedIdentitiesassign/action', RG)).toBe(false);
    expect(grants.allows('Microsoft.ManagedIdentity/userAssignedIdentities/write', RG)).toBe(false);
    expect(grants.allows('Microsoft.Compute/disks/read', RG)).toBe(true);
    expect(grants.allows('Microsoft.Compute', RG)).toBe(false);
  });
});

describe('linked access checks', () => {
  const NET = `${RG}/providers/Microsoft.Network`;
  const SUBNET = `${NET}/virtualNetworks/vnet/subnets/build`;
  const NSG = `${NET}/networkSecurityGroups/nsg`;
  const NIC = `${NET}/networkInterfaces/build-nic`;
  const POOL = `${SUB}/resourceGroups/web-prod/providers/Microsoft.Network/loadBalancers/lb/backendAddressPools/web`;
  const PROBE = `${SUB}/resourceGroups/web-prod/providers/Microsoft.Network/loadBalancers/lb/probes/http`;
  const IDENTITY = `${SUB}/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/builder`;
  const VERSION = `${GALLERY}/images/ubuntu-web/versions/1.0.1`;
  const MANAGED = `${RG}/providers/Microsoft.Compute/images/base`;
  const ipConfig = { name: 'ip', properties: { subnet: { id: SUBNET }, loadBalancerBackendAddressPools: [{ id: POOL }] } };

  const rows: [what: string, method: string, path: string, body: unknown, expected: [string, string][]][] = [
    ['a NIC: its subnet, pool and NSG', 'PUT', NIC, { location: 'eastus', properties: { ipConfigurations: [ipConfig], networkSecurityGroup: { id: NSG } } },
      [['Microsoft.Network/virtualNetworks/subnets/join/action', SUBNET], ['Microsoft.Network/loadBalancers/backendAddressPools/join/action', POOL], ['Microsoft.Network/networkSecurityGroups/join/action', NSG]]],
    ['a subnet: its NSG', 'PUT', SUBNET, { properties: { addressPrefix: '10.0.1.0/24', networkSecurityGroup: { id: NSG } } }, [['Microsoft.Network/networkSecurityGroups/join/action', NSG]]],
    ['a VNet: its inline subnets\' NSGs', 'PUT', `${NET}/virtualNetworks/vnet`, { properties: { subnets: [{ name: 'a', properties: { networkSecurityGroup: { id: NSG } } }, { name: 'b', properties: {} }] } },
      [['Microsoft.Network/networkSecurityGroups/join/action', NSG]]],
    ['a VM: its NICs, identities and gallery version', 'PUT', VM, { identity: { type: 'UserAssigned', userAssignedIdentities: { [IDENTITY]: {} } }, properties: { storageProfile: { imageReference: { id: VERSION } }, networkProfile: { networkInterfaces: [{ id: NIC }] } } },
      [['Microsoft.Network/networkInterfaces/join/action', NIC], ['Microsoft.ManagedIdentity/userAssignedIdentities/assign/action', IDENTITY], ['Microsoft.Compute/galleries/images/versions/read', VERSION]]],
    ['a VM: its inline NIC\'s subnet (once), a managed image', 'PUT', VM, { properties: { storageProfile: { imageReference: { id: MANAGED } }, networkProfile: { networkInterfaceConfigurations: [{ name: 'n', properties: { ipConfigurations: [{ properties: { subnet: { id: SUBNET } } }, { properties: { subnet: { id: SUBNET.toUpperCase() } } }] } }] } } },
      [['Microsoft.Network/virtualNetworks/subnets/join/action', SUBNET], ['Microsoft.Compute/images/read', MANAGED]]],
    ['a VM from a marketplace image: nothing', 'PUT', VM, { properties: { storageProfile: { imageReference: { publisher: 'Canonical', offer: 'o', sku: 's', version: 'latest' } } } }, []],
    ['a scale set PATCH: what its body names (the gallery definition, as latest)', 'PATCH', SCALE_SET, { properties: { virtualMachineProfile: { storageProfile: { imageReference: { id: `${GALLERY}/images/ubuntu-web` } } } } },
      [['Microsoft.Compute/galleries/images/versions/read', `${GALLERY}/images/ubuntu-web`]]],
    ['a scale set PUT: subnet, pool, NSG and probe', 'PUT', SCALE_SET, { properties: { virtualMachineProfile: { networkProfile: { healthProbe: { id: PROBE }, networkInterfaceConfigurations: [{ name: 'n', properties: { ipConfigurations: [ipConfig], networkSecurityGroup: { id: NSG } } }] } } } },
      [['Microsoft.Network/virtualNetworks/subnets/join/action', SUBNET], ['Microsoft.Network/loadBalancers/backendAddressPools/join/action', POOL], ['Microsoft.Network/networkSecurityGroups/join/action', NSG], ['Microsoft.Network/loadBalancers/probes/join/action', PROBE]]],
    ['a body whose ids are not strings or not ARM ids: nothing', 'PUT', NIC, { properties: { ipConfigurations: [{ properties: { subnet: { id: 7 } } }, { properties: { subnet: 'x' } }], networkSecurityGroup: { id: 'nsg' } } }, []],
    ['a read: nothing', 'GET', NIC, undefined, []],
  ];
  it.each(rows)('%s', (_what, method, path, body, expected) => {
    expect(linkedActions(method, path, body).map((l) => [l.action, l.scope])).toEqual(expected);
  });

  it('refuses with 403 LinkedAuthorizationFailed naming every linked action missing and its scope, respectively', () => {
    const grants = new PermissionGrants([{ scope: RG, actions: ['Microsoft.Network/networkInterfaces/*', 'Microsoft.Network/networkSecurityGroups/join/action'] }].map((g) => ({ ...g, notActions: [] })));
    const body = { properties: { ipConfigurations: [ipConfig], networkSecurityGroup: { id: NSG } } };
    let refused: unknown;
    try {
      authorizeLinked(grants, { method: 'PUT', path: NIC, body });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ArmError);
    expect(refused).toMatchObject({ status: 403, code: 'LinkedAuthorizationFailed' });
    expect((refused as ArmError).message).toBe(
      `The client '00000000-0000-0000-0000-00000000c0de' with object id '00000000-0000-0000-0000-00000000c0de' has permission to perform action 'Microsoft.Network/networkInterfaces/write' on scope '${NIC}'; however, it does not have permission to perform action(s) 'Microsoft.Network/virtualNetworks/subnets/join/action,Microsoft.Network/loadBalancers/backendAddressPools/join/action' on the linked scope(s) '${SUBNET},${POOL}' (respectively) or the linked scope(s) are invalid.`,
    );
    // A grant at the VNet and one at the load balancer hold for the subnet and the pool below them.
    const more = new PermissionGrants([
      { scope: RG, actions: ['Microsoft.Network/networkInterfaces/*', 'Microsoft.Network/networkSecurityGroups/join/action'], notActions: [] },
      { scope: `${NET}/virtualNetworks/vnet`, actions: ['Microsoft.Network/virtualNetworks/subnets/join/action'], notActions: [] },
      { scope: `${SUB}/resourceGroups/web-prod/providers/Microsoft.Network/loadBalancers/lb`, actions: ['Microsoft.Network/loadBalancers/*/join/action'], notActions: [] },
    ]);
    expect(() => authorizeLinked(more, { method: 'PUT', path: NIC, body })).not.toThrow();
  });
});
