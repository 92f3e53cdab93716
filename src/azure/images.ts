/** Managed images (Microsoft.Compute/images): read a source image, capture one from the generalized build VM. */

import type { Image } from '@azure/arm-compute';
import type { AzureClients } from './clients.ts';
import { getIfExists } from './errors.ts';
import { parseResourceId } from './ids.ts';
import { startOperation, type OperationHandle } from './operations.ts';

function imageParts(imageId: string): { resourceGroup: string; name: string } {
  const p = parseResourceId(imageId);
  const last = p.segments.at(-1);
  if (p.provider.toLowerCase() !== 'microsoft.compute' || p.segments.length !== 1 || last?.[0].toLowerCase() !== 'images') {
    throw new Error(`managed image id ${JSON.stringify(imageId)}: expected …/providers/Microsoft.Compute/images/{name}`);
  }
  return { resourceGroup: p.resourceGroup, name: last[1] };
}

export async function getManagedImage(clients: AzureClients, imageId: string): Promise<Image | undefined> {
  const { resourceGroup, name } = imageParts(imageId);
  return getIfExists('read managed image', imageId, () => clients.compute.images.get(resourceGroup, name));
}

export function managedImageModel(options: {
  location: string;
  sourceVirtualMachineId: string;
  hyperVGeneration: 'V1' | 'V2';
  tags: Record<string, string>;
}): Image {
  return {
    location: options.location,
    tags: options.tags,
    sourceVirtualMachine: { id: options.sourceVirtualMachineId },
    hyperVGeneration: options.hyperVGeneration,
  };
}

/** Starts capturing the image (the caller has checked it is absent). */
export async function startCreateManagedImage(clients: AzureClients, imageId: string, model: Image): Promise<OperationHandle | undefined> {
  const { resourceGroup, name } = imageParts(imageId);
  return startOperation(() => clients.compute.images.createOrUpdate(resourceGroup, name, model), {
    action: 'create managed image',
    resourceId: imageId,
    api: 'compute',
  });
}

export async function startDeleteManagedImage(clients: AzureClients, imageId: string): Promise<OperationHandle | undefined> {
  if (!(await getManagedImage(clients, imageId))) return undefined;
  const { resourceGroup, name } = imageParts(imageId);
  return startOperation(() => clients.compute.images.delete(resourceGroup, name), { action: 'delete managed image', resourceId: imageId, api: 'compute' });
}
