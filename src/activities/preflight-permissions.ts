/**
 * Preflight's permission check: for every scope a bake touches, the actions its calls need there (infra/permissions.json,
 * carried as src/azure/required-actions.ts) against what ARM says Kiln's identity holds (Microsoft.Authorization/
 * permissions), with ARM's wildcards and notActions. Where ARM will not say (403), the scope is reported as not checked.
 */

import type { AzureClients } from '../azure/clients.ts';
import type { KilnStepError } from '../azure/errors.ts';
import { allows, listPermissions, type Permission } from '../azure/permissions.ts';
import { REQUIRED_ACTIONS } from '../azure/required-actions.ts';
import type { BakeSpec } from '../template/spec.ts';

/** A place the bake acts on: its ARM id and the template path that makes Kiln act there. */
interface Target {
  scope: string;
  path: string;
}

export interface PermissionFindings {
  problems: Array<{ path: string; code: string; message: string }>;
  /** Scopes whose permissions ARM would not list: nothing there was checked. */
  skipped: string[];
}

/** The calls a bake makes only for some templates (the rest follow from their scope's targets). */
const ONLY_WHEN: Record<string, (spec: BakeSpec) => boolean> = {
  'compute.disks.grantAccess': (spec) => spec.distributions.some((d) => d.type === 'VHD'),
  'compute.disks.revokeAccess': (spec) => spec.distributions.some((d) => d.type === 'VHD'),
  'compute.virtualMachineImages.list': (spec) => spec.source.type === 'PlatformImage',
  'compute.virtualMachineImages.get': (spec) => spec.source.type === 'PlatformImage',
  'resources.resources.listByResourceGroup': (spec) => spec.stagingResourceGroup !== undefined,
  'resources.resources.createOrUpdateById': (spec) => spec.vmProfile.subnetId === undefined,
  // The janitor's, not a bake's.
  'resources.resourceGroups.list': () => false,
};

const groupOf = (id: string): string => id.split('/').slice(0, 5).join('/');
const galleryOf = (definitionId: string): string => definitionId.replace(/\/images\/[^/]+(\/versions\/[^/]+)?$/i, '');

/** Where each of permissions.json's scopes is for this template (a scope with no target is not touched). */
function targets(spec: BakeSpec, subscriptionId: string): Record<string, Target[]> {
  const subscription = `/subscriptions/${subscriptionId}`;
  const galleries = spec.distributions.flatMap((d, i) => (d.type === 'SharedImage' ? [{ scope: galleryOf(d.image.id), path: `properties.distribute[${i}].galleryImageId` }] : []));
  const scaleSets = spec.rollout.map((r, i) => ({ scope: r.scaleSetId, path: `properties.rollout[${i}].scaleSetId` }));
  return {
    subscription: [{ scope: subscription, path: 'location' }],
    staging: [spec.stagingResourceGroup ? { scope: spec.stagingResourceGroup, path: 'properties.stagingResourceGroup' } : { scope: subscription, path: 'location' }],
    gallery: galleries,
    scaleSet: scaleSets,
    scaleSetGroup: scaleSets.map((t) => ({ scope: groupOf(t.scope), path: t.path })),
    managedImageGroup: spec.distributions.flatMap((d, i) => (d.type === 'ManagedImage' ? [{ scope: groupOf(d.imageId), path: `properties.distribute[${i}].imageId` }] : [])),
    buildIdentity: spec.vmProfile.userAssignedIdentities.map((id, i) => ({ scope: id, path: `properties.vmProfile.userAssignedIdentities[${i}]` })),
    buildSubnet: spec.vmProfile.subnetId ? [{ scope: spec.vmProfile.subnetId.replace(/\/subnets\/[^/]+$/i, ''), path: 'properties.vmProfile.vnetConfig.subnetId' }] : [],
    sourceGallery: spec.source.type === 'SharedImageVersion' ? [{ scope: galleryOf(spec.source.image.id), path: 'properties.source.imageVersionId' }] : [],
    // The networks a scale set's model joins are known only from the model: not checked here.
    scaleSetNetwork: [],
  };
}

/** A required action written with a wildcard (`…/userAssignedIdentities/*\/assign/action`) as the action ARM checks. */
const concrete = (action: string): string => action.replace(/\/\*\//g, '/');

/** The permissions at a scope; a scope that does not exist (yet) has what its parent has. Undefined: ARM would not say. */
async function permissionsAt(clients: AzureClients, scope: string): Promise<Permission[] | undefined> {
  try {
    return await listPermissions(clients, scope);
  } catch (err) {
    // A resource inherits its group's grants, a group its subscription's.
    const parent = /\/providers\//i.test(scope) ? groupOf(scope) : `/subscriptions/${clients.subscriptionId}`;
    if ((err as KilnStepError).statusCode === 404 && parent.toLowerCase() !== scope.toLowerCase()) return permissionsAt(clients, parent);
    throw err;
  }
}

export async function checkPermissions(clients: AzureClients, spec: BakeSpec): Promise<PermissionFindings> {
  const where = targets(spec, clients.subscriptionId);
  const rows = [
    ...Object.entries(REQUIRED_ACTIONS.operations).filter(([call]) => ONLY_WHEN[call]?.(spec) ?? call !== 'authorization.permissions.list').map(([call, op]) => ({ call, ...op })),
    ...REQUIRED_ACTIONS.linkedActions.map((linked) => ({ call: 'linked access check', ...linked })),
  ];
  // One read per scope, all at once.
  const scopes = [...new Set(rows.flatMap((row) => (where[row.scope] ?? []).map((t) => t.scope.toLowerCase())))];
  const originals = new Map(rows.flatMap((row) => (where[row.scope] ?? []).map((t) => [t.scope.toLowerCase(), t.scope] as const)));
  const read = new Map(await Promise.all(scopes.map(async (s) => [s, await permissionsAt(clients, originals.get(s)!)] as const)));

  // Missing actions, each once per template path and scope, with every call that needs it.
  const missing = new Map<string, { path: string; scope: string; action: string; whys: string[] }>();
  const skipped = new Map<string, Set<string>>();
  for (const row of rows) {
    for (const target of where[row.scope] ?? []) {
      const held = read.get(target.scope.toLowerCase());
      if (!held) {
        skipped.set(target.scope, (skipped.get(target.scope) ?? new Set()).add(row.call));
        continue;
      }
      for (const action of row.actions.filter((a) => !allows(held, concrete(a)))) {
        const key = `${target.path}|${target.scope}|${action}`.toLowerCase();
        const entry = missing.get(key) ?? { path: target.path, scope: target.scope, action: concrete(action), whys: [] };
        entry.whys.push(`${row.call} (${row.why})`);
        missing.set(key, entry);
      }
    }
  }
  return {
    problems: [...missing.values()].map((m) => ({
      path: m.path,
      code: 'PermissionMissing',
      message: `Kiln's identity does not hold ${m.action} at ${m.scope}; needed by ${m.whys.join('; ')}`,
    })),
    skipped: [...skipped.entries()].map(([scope, calls]) => `permissions at ${scope} were not checked: ARM refused to list them (403), so ${calls.size} call${calls.size === 1 ? '' : 's'} there may still be refused`),
  };
}
