/** Step 1, plan: name everything the bake creates, read the gallery, and choose the version it publishes. */

import type { AzureClients } from '../azure/clients.ts';
import { KilnStepError, permanentError } from '../azure/errors.ts';
import { listVersionNames } from '../azure/galleries.ts';
import { galleryImageVersionId, resourceGroupId, subnetResourceId, virtualMachineId } from '../azure/ids.ts';
import type { OsType } from '../azure/virtualMachines.ts';
import type { BakeSpec } from '../template/spec.ts';
import type { BakePlan, PlanBakeInput, PlanBakeOutput, PlannedDistribution } from './contracts.ts';
import { readRolloutTargets, rolloutNotes } from './rollout-preflight.ts';
import { activityEnvironment } from './environment.ts';
import { nextVersion, stagingNames } from './naming.ts';
import { outcome } from './outcomes.ts';
import { PlanReads } from './plan-reads.ts';
import { requirePreflight } from './preflight.ts';
import { ANY_BUILD, chooseBuildSecurity, definitionConstraint, STANDARD_ONLY, type SecurityConstraint } from './security-type.ts';

/** What the source and targets say about the build VM. */
interface ImageFacts {
  osType?: OsType;
  sourceIsSpecialized: boolean;
  /** What the source allows of the build VM's security type. */
  security: SecurityConstraint;
  hyperVGeneration?: 'V1' | 'V2';
  sourceVersion?: string;
}

const WINDOWS_STEPS = new Set(['PowerShell', 'WindowsRestart', 'WindowsUpdate']);

/** Without a gallery or image to ask, the steps and the marketplace publisher tell the OS. */
function guessOsType(spec: BakeSpec): OsType {
  if ([...spec.customizers, ...spec.validation.inVMValidations].some((c) => WINDOWS_STEPS.has(c.type))) return 'Windows';
  if (spec.source.type === 'PlatformImage' && /windows/i.test(`${spec.source.publisher} ${spec.source.offer}`)) return 'Windows';
  return 'Linux';
}

async function sourceFacts(reads: PlanReads, spec: BakeSpec): Promise<ImageFacts> {
  const source = spec.source;
  switch (source.type) {
    case 'PlatformImage': {
      const sourceVersion =
        source.version === 'latest'
          ? await reads.latestPlatformImageVersion({ location: spec.location, publisher: source.publisher, offer: source.offer, sku: source.sku }).catch(
              // An unlisted marketplace image still deploys as `latest`; only versioning scheme Source needs the number.
              (err: unknown) => {
                if (err instanceof KilnStepError && err.statusCode === 404) return undefined;
                throw err;
              },
            )
          : source.version;
      return { sourceIsSpecialized: false, security: ANY_BUILD('properties.source', 'the marketplace image'), ...(sourceVersion ? { sourceVersion } : {}) };
    }
    case 'ManagedImage': {
      const image = await reads.managedImage(source.imageId);
      if (!image) throw permanentError(`source managed image ${source.imageId} does not exist`, { code: 'NotFound', resourceId: source.imageId });
      const osDisk = image.storageProfile?.osDisk;
      return {
        osType: osDisk?.osType === 'Windows' ? 'Windows' : osDisk?.osType === 'Linux' ? 'Linux' : undefined,
        sourceIsSpecialized: osDisk?.osState === 'Specialized',
        security: STANDARD_ONLY('properties.source.imageId', 'a managed image source'),
        hyperVGeneration: image.hyperVGeneration === 'V1' ? 'V1' : 'V2',
      };
    }
    case 'SharedImageVersion': {
      const definition = await reads.imageDefinition(source.image.id);
      if (!definition) throw permanentError(`source gallery image definition ${source.image.id} does not exist`, { code: 'NotFound', resourceId: source.image.id });
      // "Latest" is resolved once here, and the build VM is pinned to it, so the record says what was built.
      const sourceVersion = source.version ?? (await reads.latestVersion(source.image.id));
      if (!sourceVersion) throw permanentError(`source gallery image ${source.image.id} has no version to build from (none provisioned and in latest)`, { code: 'NotFound', resourceId: source.image.id });
      if (source.version && !(await reads.imageVersion(galleryImageVersionId(source.image.id, source.version)))) {
        const id = galleryImageVersionId(source.image.id, source.version);
        throw permanentError(`source gallery image version ${id} does not exist`, { code: 'NotFound', resourceId: id });
      }
      return {
        osType: definition.osType === 'Windows' ? 'Windows' : 'Linux',
        sourceIsSpecialized: definition.osState === 'Specialized',
        security: definitionConstraint('properties.source.imageVersionId', source.image.image, definition.features, definition.hyperVGeneration ?? 'V1'),
        hyperVGeneration: definition.hyperVGeneration === 'V1' ? 'V1' : 'V2',
        sourceVersion,
      };
    }
  }
}

export async function planBake(input: PlanBakeInput): Promise<PlanBakeOutput> {
  return outcome(() => makePlan(input));
}

/** Awaits every read at once and throws the first failure in list order, so the error a plan reports never depends on timing. */
async function allInOrder<T extends readonly unknown[]>(reads: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(reads);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** A SharedImage distribution's target definition and its existing versions, read together. */
async function readTarget(reads: PlanReads, dist: BakeSpec['distributions'][number]) {
  if (dist.type !== 'SharedImage') return undefined;
  const [definition, existing] = await Promise.allSettled([reads.imageDefinition(dist.image.id), listVersionNames(reads.clients, dist.image.id)]);
  if (definition.status === 'rejected') throw definition.reason;
  // A missing definition is the error to report, not the failed listing of its versions.
  if (!definition.value) return { definition: undefined, existing: [] };
  if (existing.status === 'rejected') throw existing.reason;
  return { definition: definition.value, existing: existing.value };
}

async function makePlan({ runId, spec, now, reuseVersion, preflighted }: PlanBakeInput): Promise<BakePlan> {
  const { clients, config } = activityEnvironment();
  // Independent reads go out at once, those preflight makes too only once (PlanReads); preflight's list of problems
  // comes first when there are any (every problem Azure would meet later, before anything is created), then the
  // plan's own reads in a fixed order.
  const reads = new PlanReads(clients);
  const [preflightNotes, facts, targets, scaleSets] = await allInOrder<[string[], ImageFacts, Awaited<ReturnType<typeof readTarget>>[], Awaited<ReturnType<typeof readRolloutTargets>>]>([
    preflighted ? Promise.resolve([]) : requirePreflight(reads, spec),
    sourceFacts(reads, spec),
    Promise.all(spec.distributions.map((dist) => readTarget(reads, dist))),
    readRolloutTargets(reads, spec.rollout),
  ]);
  let osType = facts.osType;
  const security = [facts.security];
  let hyperVGeneration = facts.hyperVGeneration;

  const distributions: PlannedDistribution[] = [];
  for (const [index, dist] of spec.distributions.entries()) {
    if (dist.type === 'SharedImage') {
      const { definition, existing } = targets[index]!; // read above for every SharedImage distribution
      if (!definition) {
        throw permanentError(`distribution ${dist.runOutputName}: gallery image definition ${dist.image.id} does not exist`, {
          code: 'NotFound',
          resourceId: dist.image.id,
        });
      }
      // The target definition is the authority on OS and generation: the version must match it.
      osType = definition.osType === 'Windows' ? 'Windows' : 'Linux';
      security.push(definitionConstraint(`properties.distribute[${index}].galleryImageId`, dist.image.image, definition.features, definition.hyperVGeneration ?? 'V1'));
      hyperVGeneration = definition.hyperVGeneration === 'V1' ? 'V1' : 'V2';
      let version: string;
      try {
        version = reuseVersion ?? nextVersion(dist, existing, facts.sourceVersion);
      } catch (err) {
        throw permanentError((err as Error).message, { code: 'InvalidVersion', resourceId: dist.image.id });
      }
      if (!reuseVersion && existing.includes(version)) {
        const id = galleryImageVersionId(dist.image.id, version);
        throw permanentError(`distribution ${dist.runOutputName}: version ${id} already exists; pin another version or let Kiln choose the next`, {
          code: 'VersionExists',
          resourceId: id,
        });
      }
      distributions.push({
        type: 'SharedImage',
        index,
        runOutputName: dist.runOutputName,
        galleryImageId: dist.image.id,
        version,
        imageVersionId: galleryImageVersionId(dist.image.id, version),
        regions: dist.regions,
        excludeFromLatest: dist.excludeFromLatest,
      });
    } else if (dist.type === 'ManagedImage') {
      security.push(STANDARD_ONLY(`properties.distribute[${index}]`, 'a managed image'));
      distributions.push({ type: 'ManagedImage', index, runOutputName: dist.runOutputName, imageId: dist.imageId, location: dist.location });
    } else {
      const uri = dist.uri ?? `${clients.blobs.url.replace(/\/+$/, '')}/vhds/${runId}.vhd`;
      distributions.push({ type: 'VHD', index, runOutputName: dist.runOutputName, uri });
    }
  }

  // Preflight lists a conflict with its paths; here it can only be one that appeared since.
  const chosen = chooseBuildSecurity(security);
  if ('conflict' in chosen) throw permanentError(`no security type fits ${chosen.conflict.map((c) => c.what).join(' and ')}`, { code: 'SecurityTypeMismatch' });
  const trustedLaunch = chosen.type === 'TrustedLaunch';
  const givenGroup = spec.stagingResourceGroup ? parseStagingGroup(spec.stagingResourceGroup) : undefined;
  const names = stagingNames(runId, givenGroup);
  const subscriptionId = config.subscriptionId;
  const createNetwork = spec.vmProfile.subnetId === undefined;
  // The group outlives the longest legitimate bake by an hour before the janitor may take it.
  const ttlMs = Math.max(config.stagingTtlHours * 3_600_000, (spec.buildTimeoutInMinutes + 60) * 60_000);
  return {
    runId,
    location: spec.location,
    osType: osType ?? guessOsType(spec),
    ...(facts.sourceVersion ? { sourceVersion: facts.sourceVersion } : {}),
    build: { sourceIsSpecialized: facts.sourceIsSpecialized, trustedLaunch, hyperVGeneration: hyperVGeneration ?? 'V2' },
    staging: {
      resourceGroupName: names.resourceGroup,
      resourceGroupId: resourceGroupId(subscriptionId, names.resourceGroup),
      createdByKiln: givenGroup === undefined,
      tags: { ...spec.tags, ...spec.managedResourceTags },
      expiresAt: new Date(Date.parse(now) + ttlMs).toISOString(),
      subnetId: spec.vmProfile.subnetId ?? subnetResourceId(subscriptionId, names.resourceGroup, names.vnet, names.subnet),
      createNetwork,
      vmName: names.vm,
      vmId: virtualMachineId(subscriptionId, names.resourceGroup, names.vm),
    },
    distributions,
    poll: { minMs: config.pollMinMs, maxMs: config.pollMaxMs, quickMs: config.pollQuickMs },
    quotaWaitMs: config.quotaWaitMinutes * 60_000,
    ...(preflightNotes.length ? { preflightNotes } : {}),
    rolloutNotes: rolloutNotes(scaleSets, distributions.find((d) => d.type === 'SharedImage')?.imageVersionId),
  };
}

/** stagingResourceGroup is a resource-group id (`/subscriptions/{s}/resourceGroups/{name}`). */
function parseStagingGroup(id: string): string {
  const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/?$/i.exec(id);
  if (!m?.[1]) throw permanentError(`stagingResourceGroup ${JSON.stringify(id)}: expected /subscriptions/{id}/resourceGroups/{name}`, { code: 'InvalidTemplate' });
  return m[1];
}

