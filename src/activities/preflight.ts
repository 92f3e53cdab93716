/**
 * Preflight: everything a bake would meet later, checked through Azure's read APIs before anything is created, and
 * every problem listed at once with the template path it comes from (the plan step and `kiln preflight` run it).
 */

import { coreUsage, resourceTypeRegions, vmSizeIn } from '../azure/capacity.ts';
import type { AzureClients } from '../azure/clients.ts';
import { permanentError, type KilnStepError } from '../azure/errors.ts';
import { galleryImageVersionId } from '../azure/ids.ts';
import { getPlatformImage } from '../azure/marketplace.ts';
import { getResourceById } from '../azure/network.ts';
import { normalizeRegion, sameRegion } from '../azure/regions.ts';
import { secretUnreadable } from '../azure/keyVault.ts';
import { PlanReads } from './plan-reads.ts';
import { checkPermissions } from './preflight-permissions.ts';
import { ANY_BUILD, chooseBuildSecurity, definitionConstraint, STANDARD_ONLY, type SecurityConstraint } from './security-type.ts';
import type { BakeSpec } from '../template/spec.ts';

export interface PreflightProblem {
  /** Where in the template the problem comes from (`properties.vmProfile.vmSize`). */
  path: string;
  /** A short stable name for the kind of problem (`VmSizeNotOffered`). */
  code: string;
  message: string;
}

/** What the source says about the build VM, as far as Azure could tell. */
interface SourceFacts {
  osType?: 'Linux' | 'Windows';
  hyperVGeneration?: 'V1' | 'V2';
  /** What the source allows of the build VM's security type. */
  security?: SecurityConstraint;
}

const SOURCE = 'properties.source';
const VM_SIZE = 'properties.vmProfile.vmSize';
const SUBNET = 'properties.vmProfile.vnetConfig.subnetId';

const osTypeOf = (value: string | undefined): SourceFacts['osType'] =>
  value === undefined ? undefined : /windows/i.test(value) ? 'Windows' : 'Linux';
const generationOf = (value: string | undefined): SourceFacts['hyperVGeneration'] =>
  value === 'V1' || value === 'V2' ? value : undefined;

/** Collects problems; a non-404 Azure failure (throttling, outage) still fails the check so that plan retries it. */
class Problems {
  readonly list: PreflightProblem[] = [];
  add(path: string, code: string, message: string): void {
    this.list.push({ path, code, message });
  }
}

async function checkSource(reads: PlanReads, spec: BakeSpec, problems: Problems): Promise<SourceFacts> {
  const { clients } = reads;
  const source = spec.source;
  const location = normalizeRegion(spec.location);
  switch (source.type) {
    case 'PlatformImage': {
      const urn = `${source.publisher}:${source.offer}:${source.sku}`;
      const ref = { location, publisher: source.publisher, offer: source.offer, sku: source.sku };
      const version = source.version === 'latest'
        ? await reads.latestPlatformImageVersion(ref).catch((err: KilnStepError) => {
          if (err.statusCode === 404) return undefined;
          throw err;
        })
        : source.version;
      const image = version ? await getPlatformImage(clients, ref, version) : undefined;
      if (!image) {
        problems.add(SOURCE, 'SourceImageNotFound', `marketplace image ${urn}:${source.version} is not offered in ${location}`);
        // Marketplace publishers name their OS (MicrosoftWindowsServer): enough to check the target definitions too.
        return { osType: osTypeOf(`${source.publisher} ${source.offer}`) };
      }
      return { osType: osTypeOf(image.osType), hyperVGeneration: generationOf(image.hyperVGeneration), security: ANY_BUILD(SOURCE, `marketplace image ${urn}`, image.hyperVGeneration) };
    }
    case 'ManagedImage': {
      const image = await reads.managedImage(source.imageId);
      if (!image) {
        problems.add(`${SOURCE}.imageId`, 'SourceImageNotFound', `managed image ${source.imageId} does not exist`);
        return {};
      }
      if (!sameRegion(image.location, location)) {
        problems.add(`${SOURCE}.imageId`, 'SourceImageInOtherRegion', `managed image ${source.imageId} is in ${image.location}; a VM can use it only in its own region, and the build VM is in ${location}`);
      }
      return { osType: osTypeOf(image.storageProfile?.osDisk?.osType), hyperVGeneration: generationOf(image.hyperVGeneration), security: STANDARD_ONLY(`${SOURCE}.imageId`, 'a managed image source (Trusted Launch VMs are not made from managed images)') };
    }
    case 'SharedImageVersion': {
      const definition = await reads.imageDefinition(source.image.id);
      if (!definition) {
        problems.add(`${SOURCE}.imageVersionId`, 'SourceImageNotFound', `gallery image definition ${source.image.id} does not exist`);
        return {};
      }
      const facts = {
        osType: osTypeOf(definition.osType),
        hyperVGeneration: generationOf(definition.hyperVGeneration ?? 'V1'),
        security: definitionConstraint(`${SOURCE}.imageVersionId`, source.image.image, definition.features, definition.hyperVGeneration ?? 'V1'),
      };
      const name = source.version ?? (await reads.latestVersion(source.image.id));
      const version = name ? await reads.imageVersion(galleryImageVersionId(source.image.id, name)) : undefined;
      if (!version) {
        problems.add(`${SOURCE}.imageVersionId`, 'SourceImageNotFound', name ? `gallery image version ${galleryImageVersionId(source.image.id, name)} does not exist` : `gallery image ${source.image.id} has no version to build from`);
        return facts;
      }
      const regions = (version.publishingProfile?.targetRegions ?? []).map((r) => r.name);
      if (!regions.some((r) => sameRegion(r, location))) {
        problems.add(`${SOURCE}.imageVersionId`, 'SourceImageNotInRegion', `gallery image version ${version.id ?? name} is not replicated to ${location} (its regions: ${regions.map(normalizeRegion).join(', ') || 'none'})`);
      }
      return facts;
    }
  }
}

/** The size and usage reads go out with preflight's first reads; each is only looked at (its failure only counts) when needed. */
function startVmSizeReads(clients: AzureClients, spec: BakeSpec): { size: ReturnType<typeof vmSizeIn>; usage: ReturnType<typeof coreUsage> } {
  const location = normalizeRegion(spec.location);
  const reads = { size: vmSizeIn(clients, location, spec.vmProfile.vmSize), usage: coreUsage(clients, location) };
  for (const read of Object.values(reads)) read.catch(() => undefined);
  return reads;
}

async function checkVmSize(spec: BakeSpec, facts: SourceFacts, problems: Problems, notes: string[], reads: ReturnType<typeof startVmSizeReads>): Promise<void> {
  const { vmSize } = spec.vmProfile;
  const location = normalizeRegion(spec.location);
  const usageRead = reads.usage;
  const size = await reads.size;
  if (!size) {
    problems.add(VM_SIZE, 'VmSizeNotOffered', `VM size ${vmSize} is not offered in ${location}`);
    return;
  }
  if (size.restriction) problems.add(VM_SIZE, 'VmSizeRestricted', `VM size ${vmSize} is restricted for this subscription in ${location} (${size.restriction})`);
  if (facts.hyperVGeneration && !size.hyperVGenerations.includes(facts.hyperVGeneration)) {
    problems.add(VM_SIZE, 'VmSizeGeneration', `VM size ${vmSize} cannot boot a Hyper-V ${facts.hyperVGeneration} source (it supports ${size.hyperVGenerations.join(', ')})`);
  }
  if (size.vCPUs === undefined) return;
  const usage = await usageRead;
  for (const key of [size.family, 'cores']) {
    const quota = key ? usage.get(key.toLowerCase()) : undefined;
    if (!quota) continue;
    if (size.vCPUs > quota.limit) {
      problems.add(VM_SIZE, 'QuotaExceeded', `${quota.name} in ${location}: the limit is ${quota.limit}, the build VM alone needs ${size.vCPUs}`);
    } else if (quota.current + size.vCPUs > quota.limit) {
      // Used up by other VMs (other bakes' build VMs): stage waits for it to free up rather than failing now.
      notes.push(`${quota.name} in ${location}: ${quota.current} of ${quota.limit} in use now, the build VM needs ${size.vCPUs}; stage will wait for quota (KILN_QUOTA_WAIT_MINUTES)`);
    }
  }
}

async function checkDistributions(reads: PlanReads, spec: BakeSpec, facts: SourceFacts, regions: Set<string>, problems: Problems): Promise<void> {
  const location = normalizeRegion(spec.location);
  const security = facts.security ? [facts.security] : [];
  const definitions = await Promise.all(spec.distributions.map((d) => (d.type === 'SharedImage' ? reads.imageDefinition(d.image.id) : undefined)));
  for (const [i, dist] of spec.distributions.entries()) {
    const at = `properties.distribute[${i}]`;
    if (dist.type === 'ManagedImage') {
      security.push(STANDARD_ONLY(at, 'a managed image (captured only from a Standard VM)'));
      // A managed image is captured from the build VM, which Azure allows only in the VM's own region.
      if (!sameRegion(dist.location, location)) {
        problems.add(`${at}.location`, 'ManagedImageInOtherRegion', `a managed image is captured from the build VM and must be in its region ${location}, found ${normalizeRegion(dist.location)}; set the template's location to ${normalizeRegion(dist.location)}, or distribute to a gallery and replicate there`);
      }
      continue;
    }
    if (dist.type !== 'SharedImage') continue;
    dist.regions.forEach((r, j) => {
      if (!regions.has(normalizeRegion(r.name))) problems.add(`${at}.targetRegions[${j}].name`, 'RegionNotFound', `region ${r.name} does not exist or does not offer gallery images`);
    });
    const definition = definitions[i];
    if (!definition) {
      problems.add(`${at}.galleryImageId`, 'ImageDefinitionNotFound', `gallery image definition ${dist.image.id} does not exist`);
      continue;
    }
    if (!sameRegion(definition.location, location)) {
      problems.add(`${at}.galleryImageId`, 'GalleryInOtherRegion', `gallery image definition ${dist.image.id} is in ${definition.location}; its versions are captured from the build VM, which must be in the same region, and the build VM is in ${location}`);
    }
    const osType = osTypeOf(definition.osType);
    if (facts.osType && osType && facts.osType !== osType) {
      problems.add(`${at}.galleryImageId`, 'OsTypeMismatch', `the source is ${facts.osType}, the image definition ${dist.image.image} is ${osType}`);
    }
    const generation = generationOf(definition.hyperVGeneration ?? 'V1');
    if (facts.hyperVGeneration && generation && facts.hyperVGeneration !== generation) {
      problems.add(`${at}.galleryImageId`, 'HyperVGenerationMismatch', `the source is Hyper-V ${facts.hyperVGeneration}, the image definition ${dist.image.image} is ${generation}`);
    }
    security.push(definitionConstraint(`${at}.galleryImageId`, dist.image.image, definition.features, definition.hyperVGeneration ?? 'V1'));
  }
  checkSecurityTypes(security, problems);
}

/** One build VM serves the source and every target: some security type must suit them all (Compute refuses the rest). */
function checkSecurityTypes(constraints: SecurityConstraint[], problems: Problems): void {
  const chosen = chooseBuildSecurity(constraints);
  if (!('conflict' in chosen)) return;
  const kiln = (accepts: readonly string[]) => accepts.filter((t) => t !== 'ConfidentialVM');
  const summary = constraints.map((c) => `${c.what} takes ${kiln(c.accepts).join(' or ') || 'no VM Kiln builds (Kiln builds Standard or TrustedLaunch VMs)'}`).join('; ');
  for (const c of chosen.conflict) problems.add(c.path, 'SecurityTypeMismatch', `no build VM security type suits every part of the bake: ${summary}`);
}

async function checkSubnet(clients: AzureClients, spec: BakeSpec, problems: Problems): Promise<void> {
  const subnetId = spec.vmProfile.subnetId;
  if (!subnetId) return;
  const vnetId = subnetId.split('/').slice(0, -2).join('/');
  const [subnet, vnet] = await Promise.all([getResourceById(clients, subnetId), getResourceById(clients, vnetId)]);
  if (!subnet || !vnet) {
    problems.add(SUBNET, 'SubnetNotFound', `subnet ${subnetId} does not exist`);
    return;
  }
  if (vnet.location && !sameRegion(vnet.location, spec.location)) {
    problems.add(SUBNET, 'SubnetInOtherRegion', `subnet ${subnetId} is in ${normalizeRegion(vnet.location)}, the build VM is in ${normalizeRegion(spec.location)}; a VM's NIC must be in its subnet's region`);
  }
}

async function checkScaleSets(reads: PlanReads, spec: BakeSpec, problems: Problems): Promise<void> {
  const found = await Promise.all(
    spec.rollout.map((target) =>
      reads.scaleSet(target.scaleSetId).catch((err: KilnStepError) => {
        if (err.statusCode === 404) return undefined;
        // Refused (403): it may well exist; the permission check names the missing read, the plan warns it is unreadable.
        if (err.statusCode === 403) return 'unreadable';
        throw err;
      }),
    ),
  );
  spec.rollout.forEach((target, i) => {
    if (!found[i]) problems.add(`properties.rollout[${i}].scaleSetId`, 'ScaleSetNotFound', `scale set ${target.scaleSetId} does not exist`);
  });
}

/** Each secret is read (its value dropped at once): Kiln's identity must be able to, and the message names it only. */
async function checkSecrets(clients: AzureClients, spec: BakeSpec, problems: Problems): Promise<void> {
  const secrets = Object.entries(spec.secrets);
  const unreadable = await Promise.all(secrets.map(([, ref]) => secretUnreadable(clients, ref)));
  secrets.forEach(([variable, ref], i) => {
    const why = unreadable[i];
    if (why) problems.add(`properties.secrets.${variable}`, 'SecretUnreadable', `secret ${ref.name} in vault ${ref.vault}: ${why}`);
  });
}

/** What preflight found: the problems, and what it could not check (never reported as passed). */
export interface PreflightReport {
  problems: PreflightProblem[];
  /** Checks Azure would not let Kiln make (permissions it may not list), one line each. */
  skipped: string[];
  /** What is fine but worth knowing (a quota used up now, which the bake will wait for), one line each. */
  notes: string[];
}

/**
 * Every problem the template would meet on this subscription, in template order, and what was not checked. `reads`
 * shares the source, definition and scale set reads with the plan that runs beside it.
 */
export async function preflightReport(clients: AzureClients, spec: BakeSpec, reads = new PlanReads(clients)): Promise<PreflightReport> {
  const problems = new Problems();
  const notes: string[] = [];
  const location = normalizeRegion(spec.location);
  // Everything is read while the regions are: the findings (or failures) count only in a region that exists.
  const sourceChecked = checkSource(reads, spec, problems);
  const vmSizeReads = startVmSizeReads(clients, spec);
  const independent = Promise.all([checkSubnet(clients, spec, problems), checkScaleSets(reads, spec, problems), checkSecrets(clients, spec, problems), checkPermissions(clients, spec)]);
  for (const started of [sourceChecked, independent]) started.catch(() => undefined);
  const regions = await resourceTypeRegions(clients, 'Microsoft.Compute', 'virtualMachines');
  if (!regions.has(location)) {
    return { problems: [{ path: 'location', code: 'RegionNotFound', message: `region ${spec.location} does not exist or does not offer virtual machines` }], skipped: [], notes };
  }
  const facts = await sourceChecked;
  const [, , [, , , permissions]] = await Promise.all([
    checkVmSize(spec, facts, problems, notes, vmSizeReads),
    checkDistributions(reads, spec, facts, regions, problems),
    independent,
  ]);
  for (const p of permissions.problems) problems.add(p.path, p.code, p.message);
  const order = (p: PreflightProblem) => ['location', SOURCE, 'properties.vmProfile', 'properties.distribute', 'properties.rollout', 'properties.secrets'].findIndex((prefix) => p.path.startsWith(prefix));
  return { problems: problems.list.sort((a, b) => order(a) - order(b) || a.path.localeCompare(b.path)), skipped: permissions.skipped, notes };
}

/** Every problem the template would meet on this subscription, in template order; empty when the bake may start. */
export async function preflight(clients: AzureClients, spec: BakeSpec): Promise<PreflightProblem[]> {
  return (await preflightReport(clients, spec)).problems;
}

/** One line per problem: `path: message`. */
export function formatProblems(problems: PreflightProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}

/**
 * Fails the plan step at once (permanent: nothing was created, a retry would find the same) when preflight finds
 * problems; otherwise answers what it could not check, for the plan's message.
 */
export async function requirePreflight(reads: PlanReads, spec: BakeSpec): Promise<string[]> {
  const { problems, skipped, notes } = await preflightReport(reads.clients, spec, reads);
  if (problems.length === 0) return [...skipped, ...notes];
  const notChecked = skipped.length ? `\nnot checked:\n${skipped.join('\n')}` : '';
  throw permanentError(`preflight found ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was created:\n${formatProblems(problems)}${notChecked}`, { code: 'PreflightFailed' });
}
