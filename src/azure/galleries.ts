/** Compute Gallery image definitions and versions: read, create from a VM, replicate, promote, delete. */

import type { GalleryImage, GalleryImageVersion, TargetRegion } from '@azure/arm-compute';
import type { ReplicaRegion } from '../template/spec.ts';
import type { AzureClients } from './clients.ts';
import { callAzure, getIfExists, permanentError } from './errors.ts';
import { parseResourceId } from './ids.ts';
import { normalizeRegion, sameRegion } from './regions.ts';
import { startOperation, type OperationHandle } from './operations.ts';

export interface ImageVersionParts {
  resourceGroup: string;
  gallery: string;
  image: string;
  version: string;
}

/** `/…/galleries/{g}/images/{def}[/versions/{v}]` → its parts (version '' for a definition id). */
export function galleryParts(id: string): ImageVersionParts {
  const p = parseResourceId(id);
  const find = (type: string) => p.segments.find(([t]) => t.toLowerCase() === type)?.[1];
  const gallery = find('galleries');
  const image = find('images');
  if (p.provider.toLowerCase() !== 'microsoft.compute' || !gallery || !image) {
    throw new Error(`gallery image id ${JSON.stringify(id)}: expected …/providers/Microsoft.Compute/galleries/{gallery}/images/{image}[/versions/{version}]`);
  }
  return { resourceGroup: p.resourceGroup, gallery, image, version: find('versions') ?? '' };
}

/** Orders Major.Minor.Patch numerically (1.0.10 after 1.0.9), as the gallery's "latest" does. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export async function getImageDefinition(clients: AzureClients, imageDefinitionId: string): Promise<GalleryImage | undefined> {
  const { resourceGroup, gallery, image } = galleryParts(imageDefinitionId);
  return getIfExists('read gallery image definition', imageDefinitionId, () => clients.compute.galleryImages.get(resourceGroup, gallery, image));
}

/** Every version name of an image definition (any provisioning state, excluded from latest or not). */
export async function listVersionNames(clients: AzureClients, imageDefinitionId: string): Promise<string[]> {
  const { resourceGroup, gallery, image } = galleryParts(imageDefinitionId);
  return callAzure('list versions of', imageDefinitionId, async () => {
    const names: string[] = [];
    for await (const v of clients.compute.galleryImageVersions.listByGalleryImage(resourceGroup, gallery, image)) {
      if (v.name) names.push(v.name);
    }
    return names;
  });
}

/** What "latest" means to Azure: the highest version that is provisioned and not excluded from latest. */
export async function latestVersion(clients: AzureClients, imageDefinitionId: string): Promise<string | undefined> {
  const { resourceGroup, gallery, image } = galleryParts(imageDefinitionId);
  return callAzure('list versions of', imageDefinitionId, async () => {
    const names: string[] = [];
    for await (const v of clients.compute.galleryImageVersions.listByGalleryImage(resourceGroup, gallery, image)) {
      const usable = (v.provisioningState ?? 'Succeeded') === 'Succeeded' && v.publishingProfile?.excludeFromLatest !== true;
      if (v.name && usable) names.push(v.name);
    }
    return highestVersion(names);
  });
}

/** The highest version by numeric comparison, or undefined for a definition with no versions. */
export function highestVersion(names: string[]): string | undefined {
  return [...names].filter((n) => /^\d+\.\d+\.\d+$/.test(n)).sort(compareVersions).at(-1);
}

export async function getImageVersion(
  clients: AzureClients,
  imageVersionId: string,
  options: { replicationStatus?: boolean } = {},
): Promise<GalleryImageVersion | undefined> {
  const { resourceGroup, gallery, image, version } = galleryParts(imageVersionId);
  return getIfExists('read gallery image version', imageVersionId, () =>
    clients.compute.galleryImageVersions.get(resourceGroup, gallery, image, version, options.replicationStatus ? { expand: 'ReplicationStatus' } : {}),
  );
}

export function targetRegions(regions: ReplicaRegion[]): TargetRegion[] {
  return regions.map((r) => ({ name: r.name, regionalReplicaCount: r.replicaCount, storageAccountType: r.storageAccountType }));
}

/** The version created from the generalized build VM: source region only, hidden from "latest" until promoted. */
export function imageVersionModel(options: {
  location: string;
  sourceVirtualMachineId: string;
  region: ReplicaRegion;
  tags: Record<string, string>;
}): GalleryImageVersion {
  return {
    location: options.location,
    tags: options.tags,
    storageProfile: { source: { virtualMachineId: options.sourceVirtualMachineId } },
    publishingProfile: {
      targetRegions: targetRegions([options.region]),
      replicaCount: options.region.replicaCount,
      storageAccountType: options.region.storageAccountType,
      excludeFromLatest: true,
    },
    safetyProfile: { allowDeletionOfReplicatedLocations: true },
  };
}

/** Starts creating the version (the caller has checked it is absent: versions are immutable once made). */
export async function startCreateImageVersion(
  clients: AzureClients,
  imageVersionId: string,
  model: GalleryImageVersion,
): Promise<OperationHandle | undefined> {
  const { resourceGroup, gallery, image, version } = galleryParts(imageVersionId);
  return startOperation(() => clients.compute.galleryImageVersions.createOrUpdate(resourceGroup, gallery, image, version, model), {
    action: 'create gallery image version',
    resourceId: imageVersionId,
    api: 'compute',
  });
}

/**
 * Changes a version's publishing profile (PUT of the whole version, as read) and starts the update. `change`
 * returns false when nothing needs to change, so a repeated step sends nothing.
 */
async function startPublishingUpdate(
  clients: AzureClients,
  imageVersionId: string,
  action: string,
  change: (profile: NonNullable<GalleryImageVersion['publishingProfile']>, location: string) => boolean,
): Promise<OperationHandle | undefined> {
  const current = await getImageVersion(clients, imageVersionId);
  if (!current) {
    throw permanentError(`${action} ${imageVersionId} failed: the version does not exist`, { code: 'NotFound', resourceId: imageVersionId });
  }
  const profile = { ...(current.publishingProfile ?? {}) };
  if (!change(profile, current.location)) return undefined;
  const { resourceGroup, gallery, image, version } = galleryParts(imageVersionId);
  const model: GalleryImageVersion = {
    location: current.location,
    tags: current.tags,
    storageProfile: current.storageProfile,
    safetyProfile: current.safetyProfile,
    publishingProfile: profile,
  };
  return startOperation(() => clients.compute.galleryImageVersions.createOrUpdate(resourceGroup, gallery, image, version, model), {
    action,
    resourceId: imageVersionId,
    api: 'compute',
  });
}

/** Sets the version's target regions to the planned ones: one update starts every region's copy in parallel. */
export async function startReplication(clients: AzureClients, imageVersionId: string, regions: ReplicaRegion[]): Promise<OperationHandle | undefined> {
  const wanted = targetRegions(regions);
  // Azure answers with display names ("East US"): compared by normalised name, an unchanged state sends nothing.
  const key = (r: TargetRegion) => `${normalizeRegion(r.name)}|${r.regionalReplicaCount ?? 1}|${r.storageAccountType ?? ''}`;
  return startPublishingUpdate(clients, imageVersionId, 'replicate gallery image version', (profile, location) => {
    const current = profile.targetRegions ?? [];
    // The gallery's own region holds the source replica and must stay a target.
    const home = current.find((r) => sameRegion(r.name, location));
    const next = home && !wanted.some((r) => sameRegion(r.name, location)) ? [home, ...wanted] : wanted;
    const have = new Set(current.map(key));
    if (next.every((r) => have.has(key(r))) && current.length === next.length) return false;
    profile.targetRegions = next;
    return true;
  });
}

/** Sets excludeFromLatest (promote: false lets scale sets and `latest` see the version). */
export async function startSetExcludeFromLatest(clients: AzureClients, imageVersionId: string, excludeFromLatest: boolean): Promise<OperationHandle | undefined> {
  return startPublishingUpdate(clients, imageVersionId, 'promote gallery image version', (profile) => {
    if ((profile.excludeFromLatest ?? false) === excludeFromLatest) return false;
    profile.excludeFromLatest = excludeFromLatest;
    return true;
  });
}

export interface RegionReplication {
  state: 'Unknown' | 'Replicating' | 'Completed' | 'Failed';
  percent: number;
  details?: string;
}

/** One region's replication state, from GET with $expand=ReplicationStatus. */
export function regionReplication(version: GalleryImageVersion, region: string): RegionReplication {
  const entry = version.replicationStatus?.summary?.find((s) => s.region !== undefined && sameRegion(s.region, region));
  if (!entry) {
    // Azure reports no summary once a version has settled; its provisioningState then speaks for every region.
    if (version.provisioningState === 'Succeeded') return { state: 'Completed', percent: 100 };
    if (version.provisioningState === 'Failed') return { state: 'Failed', percent: 0, details: 'the version provisioning failed' };
    return { state: 'Unknown', percent: 0 };
  }
  const state = entry.state === 'Replicating' || entry.state === 'Completed' || entry.state === 'Failed' ? entry.state : 'Unknown';
  return { state, percent: entry.progress ?? (state === 'Completed' ? 100 : 0), ...(entry.details ? { details: entry.details } : {}) };
}

export async function startDeleteImageVersion(clients: AzureClients, imageVersionId: string): Promise<OperationHandle | undefined> {
  if (!(await getImageVersion(clients, imageVersionId))) return undefined;
  const { resourceGroup, gallery, image, version } = galleryParts(imageVersionId);
  return startOperation(() => clients.compute.galleryImageVersions.delete(resourceGroup, gallery, image, version), {
    action: 'delete gallery image version',
    resourceId: imageVersionId,
    api: 'compute',
  });
}
