/** Helpers the bake e2e tests share: Azure lookups through the real SDK clients, and a search of state for a value. */

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ResourceManagementClient } from '@azure/arm-resources';
import { staticTokenCredential } from '../../src/azure/clients.ts';
import type { LocalDefault } from '../../local/default.ts';

export function properties(template: Record<string, unknown>): Record<string, unknown> {
  return template.properties as Record<string, unknown>;
}

/** The real SDK clients, pointed at the emulator. */
export function azureClients(local: LocalDefault): { compute: ComputeManagementClient; resources: ResourceManagementClient } {
  const options = {
    endpoint: local.armEndpoint,
    credentials: { scopes: ['https://management.azure.com/.default'] },
    tlsOptions: { ca: local.emulator.caPem },
  };
  const credential = staticTokenCredential(local.emulator.token);
  return {
    compute: new ComputeManagementClient(credential, local.subscriptionId, options),
    resources: new ResourceManagementClient(credential, local.subscriptionId, options),
  };
}

/** Version names of a gallery image definition in the local environment's gallery. */
export async function imageVersions(local: LocalDefault, image: string): Promise<string[]> {
  const names: string[] = [];
  for await (const version of azureClients(local).compute.galleryImageVersions.listByGalleryImage('kiln-images', 'kilnGallery', image)) {
    names.push(version.name!);
  }
  return names.sort();
}

export async function resourceGroupExists(local: LocalDefault, name: string): Promise<boolean> {
  return (await azureClients(local).resources.resourceGroups.checkExistence(name)).body;
}

/** The staging group's name from a run record's staging id. */
export function stagingGroupName(resourceGroupId: string): string {
  return resourceGroupId.split('/').at(-1)!;
}

/** Every file under `dir` (recursively) whose bytes contain `needle`, skipping `except` subtrees. */
export async function filesContaining(dir: string, needle: string, except: string[] = []): Promise<string[]> {
  const found: string[] = [];
  const bytes = Buffer.from(needle, 'utf8');
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (except.some((skip) => path.startsWith(skip))) continue;
    const content = await readFile(path).catch(() => undefined);
    if (content?.includes(bytes)) found.push(path);
  }
  return found;
}
