// ARM's reading of a permissions answer, as preflight applies it: wildcards, and notActions that take away only
// within their own role.
import { describe, expect, it } from 'vitest';
import { actionMatches, allows } from '../../src/azure/permissions.ts';

describe('permissions as ARM reads them', () => {
  it('matches wildcards anywhere in an action, case-insensitively', () => {
    expect(actionMatches('*', 'Microsoft.Compute/disks/read')).toBe(true);
    expect(actionMatches('Microsoft.Compute/*/read', 'microsoft.compute/galleries/images/read')).toBe(true);
    expect(actionMatches('Microsoft.Compute/*/read', 'Microsoft.Compute/disks/write')).toBe(false);
    expect(actionMatches('Microsoft.Compute/disks/read', 'Microsoft.Compute/disks/beginGetAccess/action')).toBe(false);
    // Managed Identity Operator's grant covers the action ARM's linked check names.
    expect(actionMatches('Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action', 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action')).toBe(true);
    expect(actionMatches('Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action', 'Microsoft.ManagedIdentity/userAssignedIdentitiesassign/action')).toBe(false);
  });

  it('takes notActions away within the role that lists them, not from another role', () => {
    const owner = { actions: ['*'], notActions: ['Microsoft.Compute/virtualMachineScaleSets/*'] };
    expect(allows([owner], 'Microsoft.Compute/virtualMachines/write')).toBe(true);
    expect(allows([owner], 'Microsoft.Compute/virtualMachineScaleSets/write')).toBe(false);
    expect(allows([owner, { actions: ['Microsoft.Compute/virtualMachineScaleSets/write'], notActions: [] }], 'Microsoft.Compute/virtualMachineScaleSets/write')).toBe(true);
    expect(allows([], 'Microsoft.Compute/disks/read')).toBe(false);
  });
});
