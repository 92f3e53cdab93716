/** The emulator's RBAC: the action each ARM request performs, and the 403 a caller without it gets. */

import { describe, expect, it } from 'vitest';
import { ArmError } from '../../local/azure/arm/errors.ts';
import { authorizeRequest, requestAction } from '../../local/azure/arm/handlers/authorization-actions.ts';
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
