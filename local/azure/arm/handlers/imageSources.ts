/** Resolves an `imageReference` (marketplace, managed image, gallery version or definition) to a disk source. */
import type { DiskSource, HandlerContext } from '../context.ts';
import { errors } from '../errors.ts';
import { parseId, type StoredResource } from '../resources.ts';
import { compareVersions, type Json } from '../validate.ts';
import { resolveMarketplace } from './marketplace.ts';
import { replicationSummary } from './replication.ts';
import { definitionSecurityType } from './securityTypes.ts';

export interface ResolvedImage {
  source: DiskSource;
  osType: 'Linux' | 'Windows';
  osState: 'Generalized' | 'Specialized';
  hyperVGeneration: 'V1' | 'V2';
  /** The smallest OS disk the image fits on. */
  osDiskSizeGB: number;
  /** Gallery versions: the version a definition id resolved to. */
  exactVersion?: string;
  /** Gallery images: the definition's security type (its SecurityType feature, Standard without one). */
  securityType?: string;
  /** Made from a managed image (which Trusted Launch does not take). */
  managedImage?: boolean;
}

const generationOf = (value: unknown): 'V1' | 'V2' => (value === 'V2' ? 'V2' : 'V1');

const invalidImage = (message: string) => errors.invalidParameter('imageReference', message);

/** The newest version by numeric comparison, skipping excludeFromLatest (Azure's "latest"). */
export function latestVersion(ctx: HandlerContext, definitionId: string): StoredResource | undefined {
  return ctx.resources
    .below(definitionId)
    .filter((v) => v.type === 'Microsoft.Compute/galleries/images/versions' && v.properties.provisioningState !== 'Failed')
    .filter((v) => (v.properties.publishingProfile as Json | undefined)?.excludeFromLatest !== true)
    .sort((a, b) => compareVersions(b.name, a.name))[0];
}

function fromGalleryVersion(version: StoredResource, definition: StoredResource, location: string): ResolvedImage {
  const replication = replicationSummary(version, Date.now());
  const region = replication.summary.find((r) => r.region === location);
  if (!region || region.state !== 'Completed') {
    throw errors.galleryImageVersionNotInRegion(version.id, location, region?.state ?? 'not a target region');
  }
  const props = definition.properties;
  return {
    source: { kind: 'snapshot', snapshot: String(version.state.snapshot) },
    osType: props.osType === 'Windows' ? 'Windows' : 'Linux',
    osState: props.osState === 'Specialized' ? 'Specialized' : 'Generalized',
    hyperVGeneration: generationOf(props.hyperVGeneration),
    osDiskSizeGB: Number(((version.properties.storageProfile as Json | undefined)?.osDiskImage as Json | undefined)?.sizeInGB ?? 30),
    exactVersion: version.name,
    securityType: definitionSecurityType(props),
  };
}

export function resolveImage(ctx: HandlerContext, reference: Json | undefined, location: string, plan?: unknown): ResolvedImage {
  if (!reference) throw errors.requiredParameterMissing('storageProfile.imageReference', 'imageReference');
  const id = typeof reference.id === 'string' ? reference.id : undefined;
  if (!id) {
    const { publisher, offer, sku, version } = reference;
    if (![publisher, offer, sku].every((v) => typeof v === 'string' && v !== '')) {
      throw invalidImage('The image reference must have either an id or publisher, offer and sku (found neither).');
    }
    const image = resolveMarketplace(ctx.marketplace, { publisher: String(publisher), offer: String(offer), sku: String(sku), ...(typeof version === 'string' ? { version } : {}) }, plan);
    return {
      source: { kind: 'marketplace', osType: image.osType, image: `${image.publisher}:${image.offer}:${image.sku}:${image.version}` },
      osType: image.osType,
      osState: 'Generalized',
      hyperVGeneration: image.hyperVGeneration,
      osDiskSizeGB: image.osDiskSizeGB,
      exactVersion: image.version,
    };
  }
  const parsed = parseId(id);
  const types = parsed?.segments ?? [];
  const found = ctx.resources.find(id);
  // Microsoft.Compute/images/{img}
  if (types.length === 3 && /^images$/i.test(types[1]!)) {
    // A managed image serves only its own region: elsewhere Azure does not find it.
    if (!found || found.location !== location) throw errors.imageNotFoundInRegion(id, location);
    const osDisk = ((found.properties.storageProfile as Json).osDisk ?? {}) as Json;
    return {
      source: { kind: 'snapshot', snapshot: String(found.state.snapshot) },
      osType: osDisk.osType === 'Windows' ? 'Windows' : 'Linux',
      osState: 'Generalized',
      hyperVGeneration: generationOf(found.properties.hyperVGeneration),
      osDiskSizeGB: Number(osDisk.diskSizeGB ?? 30),
      managedImage: true,
    };
  }
  // Microsoft.Compute/galleries/{g}/images/{def}[/versions/{v}]
  if ((types.length === 5 || types.length === 7) && /^galleries$/i.test(types[1]!)) {
    const definitionId = id.split('/').slice(0, types.length === 7 ? -2 : undefined).join('/');
    const definition = ctx.resources.find(definitionId);
    if (!definition) throw errors.galleryImageNotFound(definitionId);
    const version = types.length === 7 ? found : latestVersion(ctx, definitionId);
    if (!version || version.properties.provisioningState === 'Failed') {
      throw types.length === 7 ? errors.imageVersionNotFound(id) : errors.noLatestImageVersion(definitionId);
    }
    return fromGalleryVersion(version, definition, location);
  }
  throw invalidImage(`The image reference id '${id}' is not a managed image, a gallery image or a gallery image version id.`);
}
