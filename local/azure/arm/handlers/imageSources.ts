/** Resolves an `imageReference` (marketplace, managed image, gallery version or definition) to a disk source. */
import type { DiskSource, HandlerContext } from '../context.ts';
import { armError } from '../errors.ts';
import { parseId, type StoredResource } from '../resources.ts';
import { compareVersions, type Json } from '../validate.ts';
import { resolveMarketplace } from './marketplace.ts';
import { replicationSummary } from './replication.ts';

export interface ResolvedImage {
  source: DiskSource;
  osType: 'Linux' | 'Windows';
  osState: 'Generalized' | 'Specialized';
  hyperVGeneration: 'V1' | 'V2';
  /** The smallest OS disk the image fits on. */
  osDiskSizeGB: number;
  /** Gallery versions: the version a definition id resolved to. */
  exactVersion?: string;
}

const generationOf = (value: unknown): 'V1' | 'V2' => (value === 'V2' ? 'V2' : 'V1');

const invalidImage = (message: string) => armError('InvalidParameter', message, 400, { target: 'imageReference' });

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
    throw armError('GalleryImageVersionNotAvailableInRegion', `The gallery image version '${version.id}' is not available in region '${location}' (replication state: ${region?.state ?? 'not a target region'}).`, 409);
  }
  const props = definition.properties;
  return {
    source: { kind: 'snapshot', snapshot: String(version.state.snapshot) },
    osType: props.osType === 'Windows' ? 'Windows' : 'Linux',
    osState: props.osState === 'Specialized' ? 'Specialized' : 'Generalized',
    hyperVGeneration: generationOf(props.hyperVGeneration),
    osDiskSizeGB: Number(((version.properties.storageProfile as Json | undefined)?.osDiskImage as Json | undefined)?.sizeInGB ?? 30),
    exactVersion: version.name,
  };
}

export function resolveImage(ctx: HandlerContext, reference: Json | undefined, location: string, plan?: unknown): ResolvedImage {
  if (!reference) throw armError('InvalidParameter', "Required parameter 'storageProfile.imageReference' is missing (null).", 400, { target: 'imageReference' });
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
    if (!found || found.location !== location) throw armError('NotFound', `The Image '${id}' cannot be found in '${location}' region.`, 404);
    const osDisk = ((found.properties.storageProfile as Json).osDisk ?? {}) as Json;
    return {
      source: { kind: 'snapshot', snapshot: String(found.state.snapshot) },
      osType: osDisk.osType === 'Windows' ? 'Windows' : 'Linux',
      osState: 'Generalized',
      hyperVGeneration: generationOf(found.properties.hyperVGeneration),
      osDiskSizeGB: Number(osDisk.diskSizeGB ?? 30),
    };
  }
  // Microsoft.Compute/galleries/{g}/images/{def}[/versions/{v}]
  if ((types.length === 5 || types.length === 7) && /^galleries$/i.test(types[1]!)) {
    const definitionId = id.split('/').slice(0, types.length === 7 ? -2 : undefined).join('/');
    const definition = ctx.resources.find(definitionId);
    if (!definition) throw armError('GalleryImageNotFound', `The gallery image '${definitionId}' is not found.`, 404);
    const version = types.length === 7 ? found : latestVersion(ctx, definitionId);
    if (!version || version.properties.provisioningState === 'Failed') {
      throw armError('ImageVersionNotFound', types.length === 7 ? `The gallery image version '${id}' is not found.` : `The gallery image '${definitionId}' has no version that can be used as latest.`, 404);
    }
    return fromGalleryVersion(version, definition, location);
  }
  throw invalidImage(`The image reference id '${id}' is not a managed image, a gallery image or a gallery image version id.`);
}
