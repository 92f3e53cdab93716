/**
 * The local environment's seed file (local/environment.json): what a subscription already holds before a
 * bake. Resources are created through the emulator's own handlers, as Azure would make them, and only when missing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { permissionGrantSchema } from './arm/handlers/authorization.ts';
import type { ArmResponse } from './arm/http.ts';

const API = { resources: '2025-04-01', compute: '2026-04-01', gallery: '2025-12-03', network: '2024-05-01' } as const;

const marketplaceImage = z.object({ publisher: z.string(), offer: z.string(), sku: z.string(), version: z.string().default('latest') }).strict();

export const seedSchema = z
  .object({
    $comment: z.string().optional(),
    subscriptionId: z.guid(),
    tenantId: z.guid(),
    resourceGroups: z.array(z.object({ name: z.string(), location: z.string(), tags: z.record(z.string(), z.string()).optional() }).strict()),
    galleries: z.array(
      z
        .object({
          resourceGroup: z.string(),
          name: z.string(),
          location: z.string(),
          images: z.array(
            z
              .object({
                name: z.string(),
                osType: z.enum(['Linux', 'Windows']),
                osState: z.enum(['Generalized', 'Specialized']),
                hyperVGeneration: z.enum(['V1', 'V2']).optional(),
                identifier: z.object({ publisher: z.string(), offer: z.string(), sku: z.string() }).strict(),
                versions: z.array(
                  z
                    .object({
                      name: z.string(),
                      /** Marketplace image the version is baked from (a build VM is made, generalized, captured, deleted). */
                      from: marketplaceImage,
                      targetRegions: z.array(z.string()).min(1),
                    })
                    .strict(),
                ),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
    scaleSets: z.array(
      z
        .object({
          resourceGroup: z.string(),
          name: z.string(),
          location: z.string(),
          capacity: z.number().int().min(0),
          /** The image the instances run: a gallery version or definition id or managed image id … */
          imageReferenceId: z.string().optional(),
          /** … or a marketplace image (where a fleet starts before its first golden image). */
          imageReference: marketplaceImage.optional(),
          adminUsername: z.string().default('azureuser'),
          orchestrationMode: z.enum(['Uniform', 'Flexible']).default('Uniform'),
          upgradeMode: z.enum(['Manual', 'Automatic', 'Rolling']).default('Manual'),
          /** Automatic OS image upgrade (with a definition id, a promoted version rolls out by itself). */
          automaticOSUpgrade: z.boolean().default(false),
          healthExtension: z.boolean().default(true),
          /** Uniform instance ids protected from scale set actions. */
          protectedInstances: z.array(z.string()).default([]),
        })
        .strict()
        .refine((set) => (set.imageReferenceId === undefined) !== (set.imageReference === undefined), { message: 'give exactly one of imageReferenceId and imageReference' }),
    ),
    /** Networks a template may name as its build subnet (vmProfile.vnetConfig.subnetId). */
    virtualNetworks: z.array(
      z
        .object({
          resourceGroup: z.string(),
          name: z.string(),
          location: z.string(),
          addressPrefix: z.string(),
          subnets: z.array(z.object({ name: z.string(), addressPrefix: z.string() }).strict()),
        })
        .strict(),
    ).default([]),
    secrets: z.record(z.string(), z.string()).default({}),
    /** What Kiln's identity holds, by scope (Microsoft.Authorization/permissions); absent: everything. */
    permissions: z.array(permissionGrantSchema).optional(),
  })
  .strict();

export type LocalEnvironmentSeed = z.output<typeof seedSchema>;

export class SeedError extends Error {
  override name = 'SeedError';
}

export async function readSeed(file: string): Promise<LocalEnvironmentSeed> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new SeedError(`seed file ${file}: cannot read it as JSON (${(error as Error).message})`);
  }
  const parsed = seedSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new SeedError(`seed file ${file}: ${issues}`);
  }
  return parsed.data;
}

/** Sends one ARM request in-process and waits for the operation it starts (the seed runs on zero latency). */
export type SeedDispatch = (method: string, path: string, apiVersion: string, body?: unknown) => Promise<ArmResponse>;

/** Creates every seeded resource that does not exist yet; an existing one is left as it is (restarts keep state). */
export async function applySeed(seed: LocalEnvironmentSeed, send: SeedDispatch, exists: (id: string) => boolean): Promise<void> {
  const sub = `/subscriptions/${seed.subscriptionId}`;
  const group = (name: string) => `${sub}/resourceGroups/${name}`;
  for (const rg of seed.resourceGroups) {
    if (!exists(group(rg.name))) await send('PUT', group(rg.name), API.resources, { location: rg.location, tags: rg.tags });
  }
  for (const vnet of seed.virtualNetworks) {
    const id = `${group(vnet.resourceGroup)}/providers/Microsoft.Network/virtualNetworks/${vnet.name}`;
    if (exists(id)) continue;
    await send('PUT', id, API.network, {
      location: vnet.location,
      properties: { addressSpace: { addressPrefixes: [vnet.addressPrefix] }, subnets: vnet.subnets.map((s) => ({ name: s.name, properties: { addressPrefix: s.addressPrefix } })) },
    });
  }
  for (const gallery of seed.galleries) {
    const galleryId = `${group(gallery.resourceGroup)}/providers/Microsoft.Compute/galleries/${gallery.name}`;
    if (!exists(galleryId)) await send('PUT', galleryId, API.gallery, { location: gallery.location, properties: { description: 'Kiln local gallery' } });
    for (const image of gallery.images) {
      const imageId = `${galleryId}/images/${image.name}`;
      if (!exists(imageId)) {
        const { versions: _versions, name: _name, ...properties } = image;
        await send('PUT', imageId, API.gallery, { location: gallery.location, properties });
      }
      for (const version of image.versions) {
        const versionId = `${imageId}/versions/${version.name}`;
        if (!exists(versionId)) await bakeSeedVersion(send, group(gallery.resourceGroup), gallery.location, image.name, versionId, version);
      }
    }
  }
  for (const set of seed.scaleSets) {
    const id = `${group(set.resourceGroup)}/providers/Microsoft.Compute/virtualMachineScaleSets/${set.name}`;
    if (exists(id)) continue;
    const extensions = set.healthExtension
      ? [{ name: 'HealthExtension', properties: { publisher: 'Microsoft.ManagedServices', type: 'ApplicationHealthLinux', typeHandlerVersion: '2.0', autoUpgradeMinorVersion: true, settings: { protocol: 'http', port: 80, requestPath: '/health' } } }]
      : [];
    await send('PUT', id, API.compute, {
      location: set.location,
      sku: { name: 'Standard_D2s_v5', tier: 'Standard', capacity: set.capacity },
      properties: {
        orchestrationMode: set.orchestrationMode,
        upgradePolicy: { mode: set.upgradeMode, ...(set.automaticOSUpgrade ? { automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true } } : {}) },
        virtualMachineProfile: {
          osProfile: { computerNamePrefix: set.name.replace(/[^a-zA-Z0-9]/g, '').slice(0, 9), adminUsername: set.adminUsername },
          storageProfile: { imageReference: set.imageReference ?? { id: set.imageReferenceId }, osDisk: { createOption: 'FromImage' } },
          extensionProfile: { extensions },
        },
      },
    });
    for (const instanceId of set.protectedInstances) {
      await send('PUT', `${id}/virtualMachines/${instanceId}`, API.compute, { properties: { protectionPolicy: { protectFromScaleSetActions: true } } });
    }
  }
}

/** A seeded version is made the way a bake makes one: build VM, deallocate, generalize, capture, delete. */
async function bakeSeedVersion(send: SeedDispatch, groupPath: string, location: string, imageName: string, versionId: string, version: LocalEnvironmentSeed['galleries'][number]['images'][number]['versions'][number]): Promise<void> {
  const vmName = `seed-${imageName}-${version.name}`.replace(/\./g, '-');
  const vmId = `${groupPath}/providers/Microsoft.Compute/virtualMachines/${vmName}`;
  // Its NIC needs a subnet in its region: a network of its own, deleted with it, as a bake's staging network is.
  const vnetId = `${groupPath}/providers/Microsoft.Network/virtualNetworks/${vmName}-vnet`;
  await send('PUT', vnetId, API.network, { location, properties: { addressSpace: { addressPrefixes: ['10.0.0.0/24'] }, subnets: [{ name: 'build', properties: { addressPrefix: '10.0.0.0/24' } }] } });
  await send('PUT', vmId, API.compute, {
    location,
    properties: {
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: { imageReference: version.from, osDisk: { createOption: 'FromImage', deleteOption: 'Delete' } },
      // Azure's profile rules hold for the seed too: a Windows computer name fits 15 characters, and a login is given.
      osProfile: { computerName: `seed${createHash('sha256').update(vmName).digest('hex').slice(0, 8)}`, adminUsername: 'azureuser', adminPassword: `Seed-${randomBytes(12).toString('base64url')}1!` },
      networkProfile: { networkApiVersion: '2022-11-01', networkInterfaceConfigurations: [{ name: `${vmName}-nic`, properties: { primary: true, deleteOption: 'Delete', ipConfigurations: [{ name: 'ip', properties: { subnet: { id: `${vnetId}/subnets/build` } } }] } }] },
    },
  });
  await send('POST', `${vmId}/deallocate`, API.compute);
  await send('POST', `${vmId}/generalize`, API.compute);
  await send('PUT', versionId, API.gallery, {
    location,
    properties: {
      storageProfile: { source: { virtualMachineId: vmId } },
      publishingProfile: { targetRegions: version.targetRegions.map((name) => ({ name, regionalReplicaCount: 1 })) },
    },
  });
  await send('DELETE', vmId, API.compute);
  await send('DELETE', vnetId, API.network);
}
