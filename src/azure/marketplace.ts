/** Marketplace (platform) image versions: what a PlatformImage source's `latest` is right now. */

import type { AzureClients } from './clients.ts';
import { callAzure, getIfExists } from './errors.ts';
import { compareVersions } from './galleries.ts';

export interface PlatformImageRef {
  location: string;
  publisher: string;
  offer: string;
  sku: string;
}

/** The highest published version of a marketplace image in a region, or undefined when none is listed. */
export async function latestPlatformImageVersion(clients: AzureClients, image: PlatformImageRef): Promise<string | undefined> {
  const id = `/subscriptions/${clients.subscriptionId}/providers/Microsoft.Compute/locations/${image.location}` +
    `/publishers/${image.publisher}/artifacttypes/vmimage/offers/${image.offer}/skus/${image.sku}/versions`;
  const versions = await callAzure('list marketplace image versions', id, () =>
    clients.compute.virtualMachineImages.list(image.location, image.publisher, image.offer, image.sku));
  return versions.map((v) => v.name).sort(compareVersions).at(-1);
}

export interface PlatformImageFacts {
  version: string;
  osType?: string;
  hyperVGeneration?: string;
}

/** One marketplace image version as Azure describes it, or undefined when the region does not list it. */
export async function getPlatformImage(clients: AzureClients, image: PlatformImageRef, version: string): Promise<PlatformImageFacts | undefined> {
  const id = `/subscriptions/${clients.subscriptionId}/providers/Microsoft.Compute/locations/${image.location}` +
    `/publishers/${image.publisher}/artifacttypes/vmimage/offers/${image.offer}/skus/${image.sku}/versions/${version}`;
  const found = await getIfExists('read marketplace image', id, () =>
    clients.compute.virtualMachineImages.get(image.location, image.publisher, image.offer, image.sku, version));
  if (!found) return undefined;
  return {
    version,
    ...(found.osDiskImage?.operatingSystem ? { osType: found.osDiskImage.operatingSystem } : {}),
    ...(found.hyperVGeneration ? { hyperVGeneration: found.hyperVGeneration } : {}),
  };
}
